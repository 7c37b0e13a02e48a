/**
 * The peer layer, as a Lit reactive controller: one {@link PeerSession} per
 * remote peer, in a map (a 1:1 call holds one; a small mesh holds several).
 *
 * It knows no socket: outgoing signals go to `onSignal(to, data)`, incoming
 * ones come in through `handleSignal(from, data, polite)`. Over each session's
 * control data channel the peers tell each other whether their microphone and
 * camera are on, so a remote tile can show "camera off" instead of a frozen frame.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { SignalData } from '../protocol.ts';
import { PeerSession, type MediaKind } from '../peer/peer-session.ts';

/** What the element renders for one remote peer. */
export interface PeerLink {
  readonly id: string;
  readonly session: PeerSession;
  connectionState: RTCPeerConnectionState;
  /** The remote media, once a track has arrived. */
  stream: MediaStream | null;
  /** The remote side's microphone is on (as it last told us). */
  remoteAudio: boolean;
  /** The remote side's camera is on (as it last told us). */
  remoteVideo: boolean;
  /** When the control channel last delivered anything, ms (`Date.now()`); 0 before it opened. */
  lastHeard: number;
}

/** Why a recovery step ran (the `cause` of `call-reconnect`). */
export type ReconnectCause = 'connect-timeout' | 'ice-disconnected' | 'ice-failed' | 'network-change' | 'rebuild' | 'signaling';

/**
 * Media-path recovery schedule, ms.
 *
 * Measured on this kind of machine with Chromium: `disconnected` comes about
 * 6 s after UDP stops (ICE consent freshness, RFC 7675); without an ICE
 * restart a 40 s outage never recovers; with "restart after 3 s of
 * `disconnected`, or at once on `failed`" media came back 1.3–3.3 s after the
 * path returned.
 *
 * - `disconnectedGraceMs`: how long `disconnected` may last before an ICE restart.
 * - `retryMs`: while still not connected, the next step comes after this
 *   (±25 % jitter), so a path that returns is found again within about that
 *   (the target is media back within 5 s of the path).
 * - Steps are ICE restarts, except steps 3, 7 and 15 (doubling gaps:
 *   exponential backoff), which rebuild the peer connection from scratch
 *   (done by the impolite side; the polite side follows when an offer with a
 *   new DTLS fingerprint arrives). A link whose control channel was closed
 *   is rebuilt at its next step: an ICE restart does not reopen a channel.
 * - `maxSteps`: after this many steps (about 2 minutes) the link gives up
 *   (`onGiveUp`): a 1:1 call goes to `failed`, with a retry. In a group call
 *   the others go on, and this link keeps trying, a rebuild every
 *   `slowRetryMs`, for as long as it is there (the peer is in the call); if
 *   the others leave and only links that gave up are left, `onGiveUp` again.
 * - `connectMs`: a link we offered on whose first offer is still unanswered
 *   this long after it went sends it again (cause `connect-timeout`; see
 *   `PeerSession.restartIce`), and again every `connectMs`: the room drops a
 *   signal for a peer whose socket is down, so the offer or its answer may
 *   never have arrived; before, such a link sat in `new` and the call read
 *   "connecting" for good. An answered link is left to ICE meanwhile (an ICE
 *   restart would throw away a slow path's progress). Ten times a first
 *   connection's usual time on one machine (median ~150 ms offer to first
 *   frame, `npm run bench:ttff`).
 * - `connectLimitMs`: a link we offered on and still not connected this long
 *   after its first offer takes the steps above, as a failed one (so it
 *   connects, or a 1:1 call fails with a retry, instead of "connecting" for
 *   good, when neither an answer nor ICE's own `failed` ever comes).
 */
export const RECOVERY = {
  disconnectedGraceMs: 3000,
  retryMs: 3000,
  maxSteps: 30,
  slowRetryMs: 30_000,
  connectMs: 10_000,
  connectLimitMs: 30_000,
} as const;

/**
 * Application heartbeat on each link's control data channel, ms: a beat every
 * `intervalMs`; a link that was connected and has heard nothing for
 * `lostAfterMs` counts as `disconnected` (the tile says "connection lost" and
 * recovery starts) without waiting for ICE consent freshness (RFC 7675: about
 * 5–6 s in Chromium).
 */
export const HEARTBEAT = { intervalMs: 1000, lostAfterMs: 3500 } as const;

/** Step numbers (1-based) at which the connection is rebuilt instead of restarting ICE. */
const isRebuildStep = (step: number) => step >= 3 && ((step + 1) & step) === 0;

export interface PeerControllerOptions {
  /** Injectable for tests; defaults to `new RTCPeerConnection(configuration)`. */
  createPeerConnection?: () => ((configuration: RTCConfiguration) => RTCPeerConnection) | undefined;
  onSignal: (to: string, data: SignalData) => void;
  /** A negotiation step failed in a way perfect negotiation does not absorb. */
  onError?: (peerId: string, error: unknown) => void;
  /** A recovery step started for the link to `peerId` (`attempt` counts from 1 per outage). */
  onReconnect?: (peerId: string, attempt: number, cause: ReconnectCause) => void;
  /** The link to `peerId` stayed down through every recovery step. */
  onGiveUp?: (peerId: string) => void;
  /** `peerId` said on its control channel that it hangs up (see {@link PeerController.bye}). */
  onBye?: (peerId: string) => void;
}

/** Recovery bookkeeping of one link. */
interface Recovery {
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Steps taken in this outage. */
  step: number;
  /** `onGiveUp` was called in this outage (once: steps past {@link RECOVERY.maxSteps} go on slowly). */
  gaveUp?: boolean;
}

/** Control-channel message: the sender's microphone/camera state. */
interface MediaStateMessage {
  t: 'media';
  audio: boolean;
  video: boolean;
}

const BEAT = '{"t":"hb"}';
/** Control-channel message: the sender hangs up (its room socket may be down; see {@link PeerController.bye}). */
const BYE = '{"t":"bye"}';

function parseMediaState(data: string): MediaStateMessage | null {
  try {
    const value: unknown = JSON.parse(data);
    const m = value as Partial<MediaStateMessage> | null;
    return m && m.t === 'media' && typeof m.audio === 'boolean' && typeof m.video === 'boolean'
      ? { t: 'media', audio: m.audio, video: m.video }
      : null;
  } catch {
    return null;
  }
}

export class PeerController implements ReactiveController {
  /** Links by remote peer id. */
  readonly links = new Map<string, PeerLink>();
  configuration: RTCConfiguration = {};
  #localStream: MediaStream | null = null;
  #mediaState: MediaStateMessage = { t: 'media', audio: true, video: true };
  /** Recovery state by peer id; survives rebuilding a link's session. */
  readonly #recovery = new Map<string, Recovery>();
  /** The {@link RECOVERY.connectMs} watch of each link we offered on, until it connects (it then ends at its next turn) or closes. */
  readonly #connectWatch = new Map<string, ReturnType<typeof setTimeout>>();
  /** Peers whose link has been connected (through its rebuilds), until they are removed. */
  readonly #reached = new Set<string>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #host: ReactiveControllerHost;
  readonly #options: PeerControllerOptions;

  constructor(host: ReactiveControllerHost, options: PeerControllerOptions) {
    this.#host = host;
    this.#options = options;
    host.addController(this);
  }

  hostConnected(): void {}

  hostDisconnected(): void {
    this.closeAll();
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  /** `connectionState` of every link, for the state derivation. */
  get states(): RTCPeerConnectionState[] {
    // A link being recovered (ICE restarts, a rebuilt connection still
    // negotiating) counts as `disconnected` until it connects again, so the
    // call reads `reconnecting` throughout; one that never connected yet
    // (its first offer lost, ICE failed at once) counts as `connecting`:
    // nothing was lost to reconnect.
    return [...this.links.values()].map((l) =>
      this.#recovery.has(l.id) && l.connectionState !== 'connected' && l.connectionState !== 'closed'
        ? this.#reached.has(l.id)
          ? 'disconnected'
          : 'connecting'
        : l.connectionState,
    );
  }

  /** The local media every new session sends; existing sessions switch tracks. */
  setLocalStream(stream: MediaStream | null): void {
    this.#localStream = stream;
    for (const link of this.links.values()) void link.session.setLocalStream(stream);
  }

  /**
   * Use `configuration` for new sessions and apply it to every open one
   * (`RTCPeerConnection.setConfiguration`): fresh TURN credentials take effect
   * at the next ICE gathering, so an ICE restart after the old ones expired
   * still reaches the relay.
   */
  setConfiguration(configuration: RTCConfiguration): void {
    this.configuration = { ...this.configuration, ...configuration };
    for (const link of this.links.values()) link.session.setConfiguration(this.configuration);
  }

  /** Start a session to `peerId` and send it the first offer. */
  connect(peerId: string, polite: boolean): void {
    this.#open(peerId, polite, true);
  }

  /**
   * Create the session to `peerId` ahead of its offer (we know it will offer:
   * it entered the call after us), so the offer is applied the moment it
   * arrives instead of after building an RTCPeerConnection.
   */
  prepare(peerId: string, polite: boolean): void {
    if (!this.links.has(peerId)) this.#open(peerId, polite, false);
  }

  /**
   * Apply a signal from `from`. An offer from a peer we have no session with
   * starts one (we answer); other signals for unknown peers are stale and dropped.
   */
  handleSignal(from: string, data: SignalData, polite: boolean): void {
    let link = this.links.get(from);
    const offer = data.kind === 'description' && data.description.type === 'offer' ? data.description.sdp : null;
    if (!link) {
      if (offer === null) return;
      link = this.#open(from, polite, false);
    } else if (offer !== null && rebuiltBy(link.session.pc, offer)) {
      // The other side rebuilt its connection (a new DTLS certificate): ours
      // cannot take that offer; start over as the answering side.
      link = this.#open(from, link.session.polite, false);
    }
    void link.session.handleSignal(data);
  }

  /**
   * Restart ICE on every link now (the network changed: an `online` event or
   * a `navigator.connection` change), rather than waiting for timeouts. On a
   * connected link that restart is step 1 every time, never one toward a
   * rebuild or giving up: a network flapping every second had counted 30
   * steps on a working link in 30 s and failed a 1:1 call.
   */
  restartAll(cause: ReconnectCause): void {
    for (const link of [...this.links.values()]) {
      const recovery = this.#recoveryOf(link.id);
      if (link.connectionState === 'connected') recovery.step = 0;
      // Out of quick steps: this is the step it takes (it gives up, in a 1:1
      // call; else a rebuild), not one that pushes its next step back.
      if (recovery.step >= RECOVERY.maxSteps) {
        this.#step(link.id, cause);
        continue;
      }
      recovery.step++;
      this.#options.onReconnect?.(link.id, recovery.step, cause);
      link.session.restartIce();
      this.#schedule(link.id, RECOVERY.retryMs);
    }
  }

  /**
   * The room socket is back under the same identity. Whatever the links sent,
   * or were sent, while it was down is lost (an offer, its answer, ICE
   * candidates), so each link not connected takes its next recovery step now
   * rather than at its timer: its ICE restart offers anew.
   */
  resume(): void {
    // Over a copy: a step that rebuilds puts a new link under the same key,
    // which a live iteration would visit (and step) again.
    for (const link of [...this.links.values()]) if (link.connectionState !== 'connected') this.#step(link.id, 'signaling');
  }

  /**
   * A negotiation step of the link to `peerId` failed (its `onError`): unless
   * the link is connected or a recovery step is due, it takes one now (cause
   * `signaling`; a first offer or answer is sent again) rather than sitting
   * until the connect watch (10 s) or ICE gives up.
   */
  recover(peerId: string): void {
    if (this.links.get(peerId)?.connectionState !== 'connected' && this.#recovery.get(peerId)?.timer === undefined) this.#step(peerId, 'signaling');
  }

  /**
   * `peerId` is back in the room (the room repeated its join: its socket
   * came back). A first offer of ours still unanswered went to nobody while
   * it was away (the room refused it, or it was lost with the old socket):
   * it goes again now, not at the connect watch ({@link RECOVERY.connectMs}).
   * Nothing else: an answered link is left to ICE, and no recovery step is
   * taken or counted (the returning side steps its own links, see `resume`).
   */
  offerAgain(peerId: string): void {
    this.links.get(peerId)?.session.offerAgain();
  }

  /** Send `track` (or nothing) on every session, without renegotiating. */
  replaceTrack(kind: MediaKind, track: MediaStreamTrack | null): void {
    for (const link of this.links.values()) void link.session.replaceTrack(kind, track);
  }

  /** Tell every peer whether our microphone and camera are on. */
  setMediaState(audio: boolean, video: boolean): void {
    this.#mediaState = { t: 'media', audio, video };
    const frame = JSON.stringify(this.#mediaState);
    for (const link of this.links.values()) link.session.send(frame);
  }

  /**
   * Close the session to one peer (it left the call). If every link left has
   * given up, the call has nobody it can still reach: `onGiveUp` again for
   * one of them (a group call that shrank to a link past its quick steps
   * ends as a 1:1 call would, not in `reconnecting` for good).
   */
  remove(peerId: string): void {
    this.#reached.delete(peerId);
    this.#close(peerId);
    const left = [...this.links.keys()];
    if (left.length && left.every((id) => this.#recovery.get(id)?.gaveUp)) this.#options.onGiveUp?.(left[0]!);
  }

  /**
   * Tell every peer on its control channel that we hang up: it hears it
   * at once even when our room socket is down (the room, which we cannot
   * tell then, would hold our place for its resume grace, 20 s, and report
   * a drop, not a hang-up). Send it before closing the links.
   */
  bye(): void {
    for (const link of this.links.values()) link.session.send(BYE);
  }

  /** Close every session. */
  closeAll(): void {
    this.#reached.clear();
    for (const id of [...this.links.keys()]) this.#close(id);
  }

  #close(peerId: string): void {
    this.#stopRecovery(peerId);
    clearTimeout(this.#connectWatch.get(peerId));
    this.#connectWatch.delete(peerId);
    const link = this.links.get(peerId);
    if (!link) return;
    this.links.delete(peerId);
    link.session.close();
    this.#host.requestUpdate();
  }

  #open(peerId: string, polite: boolean, initiator: boolean): PeerLink {
    const recovery = this.#recovery.get(peerId);
    this.#close(peerId);
    // A rebuild keeps counting, and keeps stepping: a session that follows
    // the other side's rebuild may hang in `connecting` too.
    if (recovery) {
      this.#recovery.set(peerId, recovery);
      this.#schedule(peerId, RECOVERY.retryMs);
    } else if (initiator) {
      this.#watchConnect(peerId, 1);
    }
    // The callbacks run only after construction, when `link` is set; they
    // ignore a session that has since been replaced or removed.
    // eslint-disable-next-line prefer-const -- a const would be in its TDZ if a callback ran early
    let link: PeerLink | undefined;
    const live = (): PeerLink | undefined => (link && this.links.get(peerId) === link ? link : undefined);
    const session = new PeerSession({
      polite,
      initiator,
      configuration: this.configuration,
      localStream: this.#localStream,
      createPeerConnection: this.#options.createPeerConnection?.(),
      onSignal: (data) => live() && this.#options.onSignal(peerId, data),
      onRemoteStream: (stream) => this.#update(live(), { stream }),
      onStateChange: (connectionState) => {
        const current = live();
        if (!current) return;
        // ICE says connected, but the heartbeat says nothing arrives: keep it lost.
        if (connectionState === 'connected' && current.lastHeard && Date.now() - current.lastHeard > HEARTBEAT.lostAfterMs) return;
        this.#update(current, { connectionState });
        this.#onStateChange(peerId, connectionState);
      },
      onChannelOpen: () => {
        live()?.session.send(JSON.stringify(this.#mediaState));
        this.#heard(live());
        this.#startHeartbeat();
      },
      onData: (data) => {
        this.#heard(live());
        if (data === BYE && live()) this.#options.onBye?.(peerId);
        const state = parseMediaState(data);
        if (state) this.#update(live(), { remoteAudio: state.audio, remoteVideo: state.video });
      },
      onError: (error) => live() && this.#options.onError?.(peerId, error),
    });
    link = { id: peerId, session, connectionState: 'new', stream: null, remoteAudio: true, remoteVideo: true, lastHeard: 0 };
    this.links.set(peerId, link);
    this.#host.requestUpdate();
    return link;
  }

  /** The link's control channel delivered something: it is alive. */
  #heard(link: PeerLink | undefined): void {
    if (!link) return;
    link.lastHeard = Date.now();
    // A link we had marked lost by heartbeat comes back as what ICE says.
    if (link.connectionState !== link.session.connectionState) {
      this.#update(link, { connectionState: link.session.connectionState });
      this.#onStateChange(link.id, link.session.connectionState);
    }
  }

  /**
   * Beat on every open control channel; mark silent links `disconnected`. A
   * channel that opened and was closed since (by the other side) is silent
   * too: skipped, it had left a dead link `connected` while ICE still was.
   */
  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) return;
    this.#heartbeat = setInterval(() => {
      if (!this.links.size) {
        clearInterval(this.#heartbeat);
        this.#heartbeat = undefined;
        return;
      }
      const now = Date.now();
      for (const link of this.links.values()) {
        link.session.send(BEAT);
        if (link.lastHeard && link.connectionState === 'connected' && now - link.lastHeard > HEARTBEAT.lostAfterMs) {
          this.#update(link, { connectionState: 'disconnected' });
          this.#onStateChange(link.id, 'disconnected');
        }
      }
    }, HEARTBEAT.intervalMs);
  }

  /** Drive recovery from a link's `connectionState`. */
  #onStateChange(peerId: string, state: RTCPeerConnectionState): void {
    if (state === 'connected') {
      this.#reached.add(peerId);
      this.#stopRecovery(peerId);
      return;
    }
    if (this.#recovery.get(peerId)?.timer !== undefined) return; // a step is already scheduled
    // ICE failed (RFC 8445 §8.1.2: consent lost or no pair worked): restart at
    // once; `disconnected` may heal by itself, so give it a moment first.
    if (state === 'failed') this.#step(peerId, 'ice-failed');
    else if (state === 'disconnected') this.#schedule(peerId, RECOVERY.disconnectedGraceMs, 'ice-disconnected');
  }

  #recoveryOf(peerId: string): Recovery {
    let recovery = this.#recovery.get(peerId);
    if (!recovery) this.#recovery.set(peerId, (recovery = { timer: undefined, step: 0 }));
    return recovery;
  }

  #stopRecovery(peerId: string): void {
    const recovery = this.#recovery.get(peerId);
    if (recovery) clearTimeout(recovery.timer);
    this.#recovery.delete(peerId);
  }

  /** Take the next step after `delayMs` (jittered ±25 % unless it is the first grace). */
  #schedule(peerId: string, delayMs: number, cause: ReconnectCause = 'ice-failed'): void {
    const recovery = this.#recoveryOf(peerId);
    clearTimeout(recovery.timer);
    if (recovery.step > RECOVERY.maxSteps) delayMs = RECOVERY.slowRetryMs;
    const jittered = cause === 'ice-disconnected' ? delayMs : delayMs * (0.75 + Math.random() * 0.5);
    recovery.timer = setTimeout(() => {
      recovery.timer = undefined;
      const link = this.links.get(peerId);
      // Connected by now (or never dropped: a restart on a network change): the outage is over.
      if (link?.connectionState === 'connected') this.#stopRecovery(peerId);
      else if (link) this.#step(peerId, cause);
    }, jittered);
  }

  /** One recovery step: an ICE restart, or on the backoff steps a rebuild; then schedule the next. */
  #step(peerId: string, cause: ReconnectCause): void {
    const link = this.links.get(peerId);
    if (!link) return;
    const recovery = this.#recoveryOf(peerId);
    recovery.step++;
    if (recovery.step > RECOVERY.maxSteps && !recovery.gaveUp) {
      recovery.gaveUp = true;
      this.#options.onGiveUp?.(peerId);
      // Closed by that (a 1:1 call failed), or gone meanwhile.
      if (this.links.get(peerId) !== link) return;
    }
    if ((isRebuildStep(recovery.step) || recovery.step > RECOVERY.maxSteps || link.session.channelClosed) && !link.session.polite) {
      this.#options.onReconnect?.(peerId, recovery.step, 'rebuild');
      this.#open(peerId, false, true); // schedules the next step itself
    } else {
      this.#options.onReconnect?.(peerId, recovery.step, cause);
      link.session.restartIce();
      this.#schedule(peerId, RECOVERY.retryMs);
    }
  }

  /** Watch a first connection for {@link RECOVERY.connectMs}; `attempt`: the watch's turn, from 1. */
  #watchConnect(peerId: string, attempt: number): void {
    this.#connectWatch.set(
      peerId,
      setTimeout(() => {
        this.#connectWatch.delete(peerId);
        const link = this.links.get(peerId);
        if (!link || link.connectionState === 'connected' || this.#recovery.has(peerId)) return;
        if (attempt * RECOVERY.connectMs >= RECOVERY.connectLimitMs) {
          // The steps go on counting from here.
          this.#recoveryOf(peerId).step = attempt - 1;
          this.#step(peerId, 'connect-timeout');
          return;
        }
        const { pc } = link.session;
        if (pc.signalingState === 'have-local-offer' && !pc.currentRemoteDescription) {
          this.#options.onReconnect?.(peerId, attempt, 'connect-timeout');
          link.session.restartIce(); // sends that first offer again
        }
        this.#watchConnect(peerId, attempt + 1);
      }, RECOVERY.connectMs),
    );
  }

  #update(link: PeerLink | undefined, change: Partial<Omit<PeerLink, 'id' | 'session'>>): void {
    if (!link) return;
    Object.assign(link, change);
    this.#host.requestUpdate();
  }
}

/**
 * The distinct `a=fingerprint` lines of an SDP (RFC 8122 §5), sorted: one
 * certificate repeats its line in every m-section, so an offer that adds a
 * section (a data channel) is no new certificate.
 */
function fingerprints(sdp: string | undefined): string {
  const lines = (sdp ?? '').split(/\r?\n/).filter((line) => line.startsWith('a=fingerprint:'));
  return [...new Set(lines)].sort().join('\n');
}

/**
 * True when `offer` comes from a new RTCPeerConnection on the other side: its
 * DTLS fingerprint differs from the one this connection negotiated.
 */
function rebuiltBy(pc: RTCPeerConnection, offer: string): boolean {
  const current = fingerprints(pc.currentRemoteDescription?.sdp);
  return current !== '' && current !== fingerprints(offer);
}
