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
}

export interface PeerControllerOptions {
  /** Injectable for tests; defaults to `new RTCPeerConnection(configuration)`. */
  createPeerConnection?: () => ((configuration: RTCConfiguration) => RTCPeerConnection) | undefined;
  onSignal: (to: string, data: SignalData) => void;
  /** A negotiation step failed in a way perfect negotiation does not absorb. */
  onError?: (peerId: string, error: unknown) => void;
}

/** Control-channel message: the sender's microphone/camera state. */
interface MediaStateMessage {
  t: 'media';
  audio: boolean;
  video: boolean;
}

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
  }

  /** `connectionState` of every link, for the state derivation. */
  get states(): RTCPeerConnectionState[] {
    return [...this.links.values()].map((l) => l.connectionState);
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
    if (!link) {
      if (data.kind !== 'description' || data.description.type !== 'offer') return;
      link = this.#open(from, polite, false);
    }
    void link.session.handleSignal(data);
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

  /** Close the session to one peer. */
  remove(peerId: string): void {
    const link = this.links.get(peerId);
    if (!link) return;
    this.links.delete(peerId);
    link.session.close();
    this.#host.requestUpdate();
  }

  /** Close every session. */
  closeAll(): void {
    for (const id of [...this.links.keys()]) this.remove(id);
  }

  #open(peerId: string, polite: boolean, initiator: boolean): PeerLink {
    this.remove(peerId);
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
        this.#update(live(), { connectionState });
        // ICE failed (RFC 8445 §8.1.2 consent lost or no pair worked): try an
        // ICE restart through perfect negotiation rather than staying failed.
        if (connectionState === 'failed') live()?.session.restartIce();
      },
      onChannelOpen: () => live()?.session.send(JSON.stringify(this.#mediaState)),
      onData: (data) => {
        const state = parseMediaState(data);
        if (state) this.#update(live(), { remoteAudio: state.audio, remoteVideo: state.video });
      },
      onError: (error) => live() && this.#options.onError?.(peerId, error),
    });
    link = { id: peerId, session, connectionState: 'new', stream: null, remoteAudio: true, remoteVideo: true };
    this.links.set(peerId, link);
    this.#host.requestUpdate();
    return link;
  }

  #update(link: PeerLink | undefined, change: Partial<Omit<PeerLink, 'id' | 'session'>>): void {
    if (!link) return;
    Object.assign(link, change);
    this.#host.requestUpdate();
  }
}
