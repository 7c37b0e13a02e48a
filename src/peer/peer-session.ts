/**
 * One RTCPeerConnection to one remote peer, negotiated with the "perfect
 * negotiation" pattern (W3C WebRTC 1.0, §10.7 "Perfect Negotiation Example"):
 * either side may renegotiate at any time; on an offer collision the polite
 * peer rolls back and answers, the impolite peer ignores the incoming offer.
 *
 * It knows no transport and no DOM: signals come in through
 * {@link PeerSession.handleSignal} and go out through `onSignal`, so two
 * sessions can be wired back to back in one page.
 *
 * Media is carried on two `sendrecv` transceivers in a fixed order (audio,
 * then video), created before any track exists if need be, so that a track
 * can be attached, swapped or removed with `RTCRtpSender.replaceTrack`
 * without renegotiating: negotiation can run while the camera starts. The
 * remote stream is assembled from `track` events, not from msid stream ids. A negotiated data channel (id 0, "control") carries
 * small peer-to-peer messages.
 */
import { LIMITS, type IceCandidateData, type SignalData } from '../protocol.ts';

export type MediaKind = 'audio' | 'video';

export interface PeerSessionOptions {
  /** This side's role in perfect negotiation (assigned by the room server). */
  polite: boolean;
  /**
   * Make the first offer. The other side sets up its transceivers from that
   * offer, so only one offer/answer round trip is needed to connect.
   */
  initiator: boolean;
  /** ICE servers and policy; applied again on {@link PeerSession.setConfiguration}. */
  configuration?: RTCConfiguration;
  /** Local tracks to send; a missing kind is received only. */
  localStream?: MediaStream | null;
  /** Injectable for tests; defaults to `new RTCPeerConnection(configuration)`. */
  createPeerConnection?: (configuration: RTCConfiguration) => RTCPeerConnection;
  /** Called with each outgoing SDP description or batch of trickle-ICE candidates. */
  onSignal: (data: SignalData) => void;
  /** Called when the remote stream gains a track. */
  onRemoteStream?: (stream: MediaStream) => void;
  /** Called on every `connectionstatechange`. */
  onStateChange?: (state: RTCPeerConnectionState) => void;
  /** Called with each message received on the control data channel. */
  onData?: (data: string) => void;
  /** Called when the control data channel opens. */
  onChannelOpen?: () => void;
  /** Called on a negotiation failure that the pattern does not absorb. */
  onError?: (error: unknown) => void;
}

const KINDS: readonly MediaKind[] = ['audio', 'video'];

/**
 * Outgoing trickle-ICE candidates go in batches, ms: the first after a quiet
 * spell at the next task (with the rest of its burst: Chromium gathers a
 * host candidate per interface and transport in the same millisecond), later
 * ones at most one batch per this many ms, and all at once when gathering
 * ends. Measured in a six-way mesh with STUN and TURN (udp, tcp): 26 frames
 * per link one by one, about a third as many batched; the room's rate limit
 * (20 frames/s, burst 50: `RATE_LIMIT` in protocol.ts) had refused the sixth joiner's
 * candidates and then closed its socket.
 */
export const CANDIDATE_BATCH_MS = 50;

export class PeerSession {
  readonly pc: RTCPeerConnection;
  readonly polite: boolean;
  /** The remote peer's media, one stream for both kinds; its video track from its first frame on. */
  readonly remoteStream: MediaStream;
  #channel: RTCDataChannel | null = null;
  #options: PeerSessionOptions;
  #localStream: MediaStream | null;
  #transceivers = new Map<MediaKind, RTCRtpTransceiver>();
  #makingOffer = false;
  #ignoreOffer = false;
  #settingRemoteAnswer = false;
  #pendingCandidates: RTCIceCandidateInit[] = [];
  /** Gathered candidates waiting for their batch. */
  #outgoing: IceCandidateData[] = [];
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the last batch went, ms (`Date.now()`). */
  #lastBatch = -Infinity;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: PeerSessionOptions) {
    this.#options = options;
    this.polite = options.polite;
    this.#localStream = options.localStream ?? null;
    const create = options.createPeerConnection ?? ((c: RTCConfiguration) => new RTCPeerConnection(c));
    this.pc = create(options.configuration ?? {});
    this.remoteStream = new MediaStream();

    this.pc.onnegotiationneeded = () => void this.#negotiate();
    this.pc.onicecandidate = ({ candidate }) => {
      // A null candidate marks the end of gathering: what is gathered goes now
      // (trickle ICE needs no signal for the end itself).
      if (!candidate) return this.#sendCandidates();
      this.#outgoing.push(candidateInit(candidate));
      // (Never longer than a batch's wait, if the clock was set back.)
      this.#batchTimer ??= setTimeout(() => this.#sendCandidates(), Math.min(CANDIDATE_BATCH_MS, this.#lastBatch + CANDIDATE_BATCH_MS - Date.now()));
    };
    this.pc.ontrack = ({ track }) => {
      const add = () => {
        if (this.#closed) return;
        if (!this.remoteStream.getTracks().includes(track)) this.remoteStream.addTrack(track);
        this.#options.onRemoteStream?.(this.remoteStream);
      };
      // A video track joins the stream with its first frame (`unmute`): a
      // media element given one that never gets a frame (the other side's
      // camera off from the start) stays at HAVE_NOTHING and holds back its
      // document's load event for good (Chromium, measured); audio alone
      // does not.
      if (track.kind === 'video' && track.muted) track.addEventListener('unmute', add, { once: true });
      else add();
      // An audio track's first sound (`unmute`) is news too: a video the
      // browser started muted asks for a click only for a peer heard.
      if (track.kind === 'audio' && track.muted) track.addEventListener('unmute', add, { once: true });
    };
    this.pc.onconnectionstatechange = () => this.#options.onStateChange?.(this.pc.connectionState);

    if (options.initiator) {
      this.#openChannel();
      for (const kind of KINDS) {
        const track = this.#track(kind);
        this.#transceivers.set(kind, this.pc.addTransceiver(track ?? kind, { direction: 'sendrecv' }));
      }
      // Offer now rather than from the queued `negotiationneeded` task, which
      // runs only after whatever else the page has queued (measured: ~13 ms).
      void this.#negotiate();
    }
  }

  /** `RTCPeerConnection.connectionState`. */
  get connectionState(): RTCPeerConnectionState {
    return this.pc.connectionState;
  }

  /**
   * Apply one signal from the remote peer. Signals are applied in order;
   * ICE candidates that arrive before the remote description are queued.
   * Resolves when this signal has been applied; never rejects (failures go
   * to `onError`).
   */
  handleSignal(data: SignalData): Promise<void> {
    this.#queue = this.#queue.then(() => this.#apply(data)).catch((error) => this.#fail(error));
    return this.#queue;
  }

  /**
   * Send `track` (or nothing, with null) on the sender of its kind without
   * renegotiating (`RTCRtpSender.replaceTrack`).
   */
  async replaceTrack(kind: MediaKind, track: MediaStreamTrack | null): Promise<void> {
    const transceiver = this.#transceivers.get(kind);
    if (!transceiver || this.#closed) return;
    await transceiver.sender.replaceTrack(track);
  }

  /** Swap the local stream (for example when media is acquired after the session started). */
  async setLocalStream(stream: MediaStream | null): Promise<void> {
    this.#localStream = stream;
    await Promise.all(KINDS.map((kind) => this.replaceTrack(kind, this.#track(kind))));
  }

  /**
   * Apply new ICE servers (fresh TURN credentials) before any ICE restart.
   * A configuration the connection cannot take (a changed certificate or
   * bundle policy: `InvalidModificationError`) leaves the old one in place.
   */
  setConfiguration(configuration: RTCConfiguration): boolean {
    if (this.#closed) return false;
    try {
      this.pc.setConfiguration(configuration);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Start an ICE restart; the offer goes out through perfect negotiation.
   * An offer of ours still unanswered is withdrawn first (rollback, JSEP
   * RFC 8829 §4.1.10): restarts are recovery steps, and that offer, or its
   * answer, may have been lost with the room socket; `restartIce()` alone
   * would wait for that answer for good (it offers only from `stable`).
   * The first offer of a connection (nothing negotiated yet: a rebuilt one
   * whose offer was lost) is sent again instead, with the candidates
   * gathered since: rolled back, Chromium leaves the data channel's
   * m-section out of every later offer (measured), so the control channel
   * never opens and the answering side, whose negotiated channel needs that
   * section, offers at once, colliding with our next offer. Likewise the
   * answer of a connection that never connected is sent again.
   */
  restartIce(): void {
    this.#queue = this.#queue
      .then(async () => {
        // Nothing negotiated yet on the answering side (prepared for an
        // offer that has not come): there is no ICE to restart, and an offer
        // from here would carry no media section; the offering side's
        // connect watch sends its first offer again.
        if (this.#closed || !this.pc.localDescription) return;
        // An answer on a connection that never connected (its control
        // channel never opened) may have been lost: it is sent again (the
        // offering side drops it if it has one). An ICE restart offer from
        // here instead made a polite offering side roll its first offer back
        // and answer as DTLS client, the role our lost answer took: "Failed
        // to set SSL role", mended only by a rebuild (measured, Chromium).
        if (this.pc.localDescription.type === 'answer' && this.#channel?.readyState === 'connecting') return this.#sendLocalDescription();
        const withdraw = this.pc.signalingState === 'have-local-offer' && !this.#makingOffer;
        if (withdraw && !this.pc.currentRemoteDescription) return this.#sendLocalDescription();
        if (withdraw) await this.pc.setLocalDescription({ type: 'rollback' });
        this.pc.restartIce();
        // Measured: after a rollback Chromium fires no `negotiationneeded`
        // (the link then sat in `stable` until the next rebuild), so offer here.
        if (withdraw) await this.#negotiate();
      })
      .catch((error) => this.#fail(error));
  }

  /**
   * Send our first offer again if it is still unanswered (the other side
   * was away when it went: see `PeerController.offerAgain`); anything else
   * (answered, an offer being made, none of ours) is left as it is.
   */
  offerAgain(): void {
    this.#queue = this.#queue
      .then(() => {
        const pc = this.pc;
        if (!this.#closed && pc.signalingState === 'have-local-offer' && !this.#makingOffer && !pc.currentRemoteDescription) this.#sendLocalDescription();
      })
      .catch((error) => this.#fail(error));
  }

  /** Send a message on the control data channel; false when it is not open. */
  send(data: string): boolean {
    if (this.#channel?.readyState !== 'open') return false;
    this.#channel.send(data);
    return true;
  }

  /** Close the connection and drop every handler. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#batchTimer);
    this.#channel?.close();
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    this.#options.onStateChange?.('closed');
  }

  #track(kind: MediaKind): MediaStreamTrack | null {
    return this.#localStream?.getTracks().find((t) => t.kind === kind && t.readyState === 'live') ?? null;
  }

  #openChannel(): void {
    if (this.#channel) return;
    const channel = this.pc.createDataChannel('control', { negotiated: true, id: 0 });
    channel.onmessage = ({ data }) => {
      if (typeof data === 'string') this.#options.onData?.(data);
    };
    channel.onopen = () => this.#options.onChannelOpen?.();
    this.#channel = channel;
  }

  /**
   * True once the control data channel was closed (by the other side, or its
   * SCTP association lost): nothing reopens it but a new connection.
   */
  get channelClosed(): boolean {
    const state = this.#channel?.readyState;
    return state === 'closed' || state === 'closing';
  }

  /** True once the control data channel is open. */
  get channelOpen(): boolean {
    return this.#channel?.readyState === 'open';
  }

  async #negotiate(): Promise<void> {
    // Outside `stable` an offer is already under way; `negotiationneeded`
    // fires again once stable if anything is still to negotiate (WebRTC 1.0 §4.7.3).
    // The answering side offers nothing of its own before the first offer
    // (an offer without media sections would be answered, and the other
    // side's rollback of its first offer costs it the data channel).
    if (this.#closed || this.#makingOffer || this.pc.signalingState !== 'stable' || !this.#channel) return;
    try {
      this.#makingOffer = true;
      await this.pc.setLocalDescription();
      this.#sendLocalDescription();
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#makingOffer = false;
    }
  }

  async #apply(data: SignalData): Promise<void> {
    if (this.#closed) return;
    if (data.kind === 'candidates') {
      if (!this.pc.remoteDescription) {
        this.#pendingCandidates.push(...data.candidates);
        return;
      }
      for (const candidate of data.candidates) await this.#addCandidate(candidate);
      return;
    }
    const { description } = data;
    const ours = ufrag(this.pc.localDescription?.sdp);
    // An answer is for the offer of ours that awaits one: a second answer (to
    // a first offer sent again whose first answer was only late) comes in
    // `stable`, where applying it throws InvalidStateError; one to an ICE
    // restart offer withdrawn since has another ICE ufrag, and its ICE
    // credentials are ones the other side no longer uses. Both are dropped.
    if (description.type === 'answer' && this.pc.signalingState !== 'have-local-offer') {
      // The answer to our offer again, and no ICE candidate of the other
      // side ever came (ICE `new`): its candidates, not its answer, were lost
      // (it sends the answer again on an ICE restart, not knowing which; see
      // `restartIce`). Restart ICE from here, where the DTLS role is settled.
      if (data.ufrag === ours && this.pc.iceConnectionState === 'new') this.restartIce();
      return;
    }
    if (description.type === 'answer' ? data.ufrag && data.ufrag !== ours : description.type !== 'offer') return;
    const readyForOffer =
      !this.#makingOffer && (this.pc.signalingState === 'stable' || this.#settingRemoteAnswer);
    const offerCollision = description.type === 'offer' && !readyForOffer;
    this.#ignoreOffer = !this.polite && offerCollision;
    if (this.#ignoreOffer) return;
    this.#settingRemoteAnswer = description.type === 'answer';
    try {
      await this.pc.setRemoteDescription(description); // rolls back our offer on collision (polite side)
    } finally {
      this.#settingRemoteAnswer = false;
    }
    if (description.type === 'offer') {
      this.#adoptOfferedTransceivers();
      await this.pc.setLocalDescription();
      this.#sendLocalDescription();
    }
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const candidate of pending) await this.#addCandidate(candidate);
  }

  /**
   * On the answering side, take the audio and video transceivers the first
   * offer created, attach local tracks and send on them: the answer then
   * carries our media and no second round trip is needed.
   */
  #adoptOfferedTransceivers(): void {
    this.#openChannel();
    for (const kind of KINDS) {
      if (this.#transceivers.has(kind)) continue;
      const transceiver = this.pc
        .getTransceivers()
        .find((t) => t.receiver.track.kind === kind && t.currentDirection !== 'stopped' && ![...this.#transceivers.values()].includes(t));
      if (!transceiver) continue;
      this.#transceivers.set(kind, transceiver);
      transceiver.direction = 'sendrecv';
      const track = this.#track(kind);
      if (track) void transceiver.sender.replaceTrack(track);
    }
  }

  /**
   * Add a remote ICE candidate. A refusal is no error to report: candidates
   * of an offer we ignored (impolite side) or rolled back do not match the
   * current description, and a browser may refuse those of an older ICE
   * generation; one that mattered shows as ICE `failed`, which recovery handles.
   */
  #addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    return this.pc.addIceCandidate(candidate).catch(() => undefined);
  }

  #sendLocalDescription(): void {
    const description = this.pc.localDescription;
    if (!description || this.#closed) return;
    // Candidates of the description before this one go first, as gathered.
    this.#sendCandidates();
    const { type, sdp } = description;
    this.#signal({ kind: 'description', description: { type, sdp }, ufrag: type === 'answer' ? ufrag(this.pc.remoteDescription?.sdp) : undefined });
  }

  /**
   * Send the gathered candidates now, as one batch, in frames of at most
   * {@link LIMITS.candidatesPerNegotiation} (the room refuses a bigger frame
   * whole; a host with many interfaces and addresses gathers more at once).
   */
  #sendCandidates(): void {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    if (!this.#outgoing.length) return;
    this.#lastBatch = Date.now();
    while (this.#outgoing.length) this.#signal({ kind: 'candidates', candidates: this.#outgoing.splice(0, LIMITS.candidatesPerNegotiation) });
  }

  #signal(data: SignalData): void {
    if (!this.#closed) this.#options.onSignal(data);
  }

  #fail(error: unknown): void {
    if (!this.#closed) this.#options.onError?.(error);
  }
}

/** The ICE ufrag of an SDP (RFC 8839 §5.4; Chromium bundles every m-section on one). */
const ufrag = (sdp = ''): string | undefined => /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];

function candidateInit(candidate: RTCIceCandidate): IceCandidateData {
  return {
    candidate: candidate.candidate,
    sdpMid: candidate.sdpMid,
    sdpMLineIndex: candidate.sdpMLineIndex,
    usernameFragment: candidate.usernameFragment,
  };
}
