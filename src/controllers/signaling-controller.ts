/**
 * The room socket, as a Lit reactive controller: connects to the PartyKit room
 * as soon as the element knows its room (not on click, so joining costs no
 * WebSocket handshake), keeps the room roster, and hands every validated
 * server message to `onMessage`.
 *
 * Reconnection is deliberate: first retry after 250 ms plus up to 250 ms of
 * random jitter, growing ×1.5 to at most 2 s (so a room server that
 * comes back is found within about 2.25 s); nothing is queued while offline
 * (a stale offer or candidate replayed into a new session does harm); and
 * terminal close codes (room full, refused) end it for good.
 *
 * It also carries the room's host role (host key, lock, the lobby's knocks)
 * and keeps the ICE servers fresh: when they come with a credential lifetime
 * it asks for new ones before they expire.
 */
import ReconnectingWebSocket from 'partysocket/ws';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { SignalingStatus } from '../call-state.ts';
import {
  CloseCode,
  PROTOCOL_VERSION,
  RATE_LIMIT,
  RESUME_GRACE_MS,
  TERMINAL_CLOSE_CODES,
  VERSION_PARAM,
  encodeMessage,
  parseServerFrame,
  type ClientMessage,
  type IceServer,
  type PeerInfo,
  type RingState,
  type ServerMessage,
  type SignalData,
} from '../protocol.ts';

/** The part of a WebSocket (or PartySocket) this controller uses. */
export interface SignalingSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** Drop the connection and open a new one (PartySocket); absent on plain sockets. */
  reconnect?(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close', listener: (event: Event) => void): void;
  removeEventListener(type: 'open' | 'message' | 'close', listener: (event: Event) => void): void;
}

export interface RoomAddress {
  /** PartyKit host, `name:port`. */
  host: string;
  party: string;
  room: string;
  /**
   * Query parameters for each connection attempt, read afresh every time (the
   * host key is learnt after the first `welcome` and must be presented on
   * every reconnect).
   */
  params?: () => Record<string, string>;
}

/** `a` and `b` are the same room (null: none). */
const sameRoom = (a: RoomAddress | null, b: RoomAddress): boolean => a?.host === b.host && a.party === b.party && a.room === b.room;

/** Opens the room socket; injectable so stories and unit tests need no server. */
export type SocketFactory = (address: RoomAddress) => SignalingSocket;

/** Reconnect schedule, ms (see the module comment). */
export const RECONNECT = { minDelay: 250, jitter: 250, growFactor: 1.5, maxDelay: 2000 } as const;

export interface SignalingControllerOptions {
  createSocket?: () => SocketFactory | undefined;
  /**
   * Every server message, after the controller's own bookkeeping; for
   * `peer-updated`, `previous` is that peer's roster entry before it; for
   * `peer-joined`, the peer itself if we knew it already (the room came
   * back without it after a room-server restart): it is returning, not
   * arriving; for a `peer-left` that a resumed `welcome` implies (it is
   * handed on after that welcome, whose roster no longer has it), who it was.
   * A `peer-joined` such a welcome implies (a peer new to us: it arrived
   * while we were away) comes after its `peer-left`s, and says `inCall`
   * true if that peer is in the call already (a room's never does); so does
   * a `peer-updated` it implies (a peer we knew whose `inCall` changed
   * meanwhile: it joined the call, or a ring it made ended), with `previous`.
   */
  onMessage: (message: ServerMessage, previous?: PeerInfo) => void;
  /** The socket closed for good with a terminal close code. */
  onTerminalClose?: (code: number) => void;
  /** A fresh ICE server list arrived (`welcome` or `ice-servers`). */
  onIceServers?: (iceServers: IceServer[]) => void;
  /** The socket dropped and is being reopened; `attempt` counts from 1 until the next `welcome`. */
  onReconnecting?: (attempt: number) => void;
}

/**
 * When to ask for fresh ICE credentials: at this fraction of their lifetime,
 * so a slow answer or a short outage still leaves time before they expire.
 */
export const ICE_REFRESH_AT = 0.8;

/**
 * Heartbeat, ms: a `ping` every `intervalMs` while the room socket is open
 * (the server holds a member silent for 10 s as cut off); when nothing at all
 * has arrived for `deadAfterMs`, the socket is presumed half-open (a network
 * cut sends no FIN) and is reopened.
 */
export const HEARTBEAT = { intervalMs: 3000, deadAfterMs: 8000 } as const;

/**
 * The pace of our frames: the room's {@link RATE_LIMIT}, with 10 frames of its
 * burst kept back for frames that arrive closer together than they left (a
 * network that delays and then delivers at once: 500 ms of 20 frames/s).
 * Frames past it wait, in order, rather than be refused: a refused ICE
 * candidate or offer is lost, and a joiner of a six-way mesh once sent ~130
 * frames in a second.
 */
export const PACE = { perSecond: RATE_LIMIT.perSecond, burst: RATE_LIMIT.burst - 10 } as const;

/**
 * The default factory: partysocket's ReconnectingWebSocket (the class
 * PartySocket builds on; PartySocket's own URL building costs the bundle
 * 1.3 KiB gzipped) to `ws(s)://<host>/parties/<party>/<room>`, the route
 * PartyKit serves rooms on, configured as described above.
 */
export const partySocketFactory: SocketFactory = ({ host, party, room, params }) => {
  let attempt = 0;
  const base = `${socketProtocol(host)}://${host}/parties/${encodeURIComponent(party)}/${encodeURIComponent(room)}`;
  // Resolved before every connection attempt: jitter all but the first, so
  // that both ends of a call do not retry in lockstep after a server restart.
  const url = async (): Promise<string> => {
    if (attempt++ > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * RECONNECT.jitter));
    const query = new URLSearchParams(params?.()).toString();
    return query ? `${base}?${query}` : base;
  };
  const socket = new ReconnectingWebSocket(url, [], {
    minReconnectionDelay: RECONNECT.minDelay,
    maxReconnectionDelay: RECONNECT.maxDelay,
    reconnectionDelayGrowFactor: RECONNECT.growFactor,
    maxEnqueuedMessages: 0,
    shouldReconnectOnClose: (event: CloseEvent) => !TERMINAL_CLOSE_CODES.has(event.code),
  });
  socket.addEventListener('open', () => (attempt = 1));
  return socket;
};

/**
 * `wss` on an https page, or for a host other than the page's own that is not
 * local (PartyKit's rule: `localhost`, `127.0.0.1`, private addresses and the
 * page's own host over http use `ws`).
 */
function socketProtocol(host: string): 'ws' | 'wss' {
  const page = globalThis.location;
  if (page?.protocol === 'https:') return 'wss';
  if (host === page?.host) return 'ws';
  return /^(localhost|127\.0\.0\.1|\[::1\]|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host) ? 'ws' : 'wss';
}

/** The messages that put a peer in the call. */
type EnterMessage = Extract<ClientMessage, { type: 'join' | 'ring' | 'accept' }>;

/**
 * A hang-up the room has not heard (see `SignalingController.leave`): the id
 * it is for, whether the socket is wanted after it (`connect()` to this room
 * was called since), and when it is moot (the room's grace is over).
 */
interface UnsaidLeave {
  id: string;
  stay: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * How long a hang-up the room has not heard waits for it (see
 * `SignalingController.leave`), ms: the room's grace ({@link RESUME_GRACE_MS}),
 * and a second, as the room frees a held id only at its next housekeeping
 * tick after the grace (250 ms, party/index.ts). A token presented after
 * that only gets a new id that `replaces` ours; one dropped before it meets
 * our id still held (a 1:1 room: `room-full`).
 */
export const UNSAID_LEAVE_MS = RESUME_GRACE_MS + 1000;

/** Ring states that end a ring without a call. */
const RING_ENDS: ReadonlySet<RingState> = new Set<RingState>(['declined', 'missed', 'busy']);

export class SignalingController implements ReactiveController {
  status: SignalingStatus = 'idle';
  /** Our peer id, assigned by the server in `welcome`. */
  selfId: string | null = null;
  iceServers: IceServer[] = [];
  /** Other peers in the room, by id, in order of arrival. */
  readonly roster = new Map<string, PeerInfo>();
  /** The server acknowledged our `join`. */
  inCall = false;
  /** The close code that ended the socket for good, if any. */
  closeCode: number | null = null;
  /**
   * The room's host key, when we are its host (kept in memory only, and sent
   * as `?hostKey=` on reconnects so we can re-enter our locked room).
   */
  hostKey: string | null = null;
  /** The host locked the room. */
  locked = false;
  /** Peers waiting in the lobby of our locked room (we are the host). */
  knocking: PeerInfo[] = [];
  readonly #host: ReactiveControllerHost;
  readonly #options: SignalingControllerOptions;
  #socket: SignalingSocket | null = null;
  #address: RoomAddress | null = null;
  #politeToward = new Set<string>();
  /** Ids of the peers we have known in the room under our identity (left ones leave it). */
  #known = new Set<string>();
  /**
   * The message that puts us in the call (`join`, `ring` or `accept`), sent
   * when the room welcomes us and again after every reconnect; null when we
   * are not entering or in the call.
   */
  #enter: EnterMessage | null = null;
  /** Who rings us, as the room last said. */
  #caller: string | undefined;
  /** The caller whose ring we turned down, until the room says that ring is over (see `decline`). */
  #declining: string | undefined;
  /**
   * Peers that told us themselves that they hung up (see `depart`): the
   * room may hold them a while yet; what it says of them is no news.
   */
  readonly #departed = new Set<string>();
  #iceRefreshTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastHeard = 0;
  #reconnectAttempt = 0;
  /** This identity's latest session token (memory only; from `welcome` or `session`: tokens expire), presented as `?session=` on reconnects. */
  #session: string | null = null;
  /** Encoded frames waiting for their turn ({@link PACE}), oldest first; for this connection only. */
  #outbox: string[] = [];
  #pacer: ReturnType<typeof setTimeout> | undefined;
  #tokens = 0;
  /** When `#tokens` was last refilled, ms (`Date.now()`); 0: a full bucket (a new connection). */
  #refilledAt = 0;
  /** When the last connection ended (dropped, reopened, closed), ms (`Date.now()`); 0 before any. */
  #droppedAt = 0;
  /** A hang-up the room has not heard (see `leave`), until it has (its close of that socket), or it is moot. */
  #unsaidLeave: UnsaidLeave | null = null;
  /** Another room the socket is wanted in once that hang-up is told (or moot): `connect()` to it meanwhile. */
  #next: RoomAddress | null = null;
  /** The room is closing the socket of the id we just left: what it still says is not for us. */
  #leftOpen = false;

  constructor(host: ReactiveControllerHost, options: SignalingControllerOptions) {
    this.#host = host;
    this.#options = options;
    host.addController(this);
  }

  hostConnected(): void {}

  hostDisconnected(): void {
    this.disconnect();
  }

  /** True while our socket is open (or reopening) to `address`, or wanted there next (see `connect`). */
  isAt(address: RoomAddress): boolean {
    return sameRoom(this.#next ?? (this.#socket ? this.#address : null), address);
  }

  /** A hang-up waits for the room we are in to hear it; then the socket opens in another room (see `connect`). */
  get moving(): boolean {
    return !!this.#next;
  }

  /** The socket is kept only for a hang-up the room has not heard yet (see `leave`): nothing else wants it. */
  get leaving(): boolean {
    return this.#unsaidLeave?.stay === false && !this.#next;
  }

  /**
   * Open the room socket (no-op if already open to the same room). While a
   * hang-up waits for the room we are in to hear it (see `leave`), another
   * room's socket opens once it has (or the room's grace is over): its
   * people would otherwise hear a drop, and wait out the grace.
   */
  connect(address: RoomAddress): void {
    if (this.#socket && sameRoom(this.#address, address)) {
      if (this.#unsaidLeave) this.#unsaidLeave.stay = true;
      this.#next = null;
      return;
    }
    if (this.#unsaidLeave) {
      this.#unsaidLeave.stay = false;
      this.#next = address;
      return;
    }
    this.disconnect();
    this.#address = address;
    this.closeCode = null;
    this.status = 'connecting';
    const factory = this.#options.createSocket?.() ?? partySocketFactory;
    const socket = factory({
      ...address,
      params: (): Record<string, string> => ({
        [VERSION_PARAM]: String(PROTOCOL_VERSION),
        ...(this.hostKey ? { hostKey: this.hostKey } : {}),
        ...(this.#session ? { session: this.#session } : {}),
      }),
    });
    socket.addEventListener('message', this.#handleMessage);
    socket.addEventListener('close', this.#handleClose);
    this.#socket = socket;
    this.#startHeartbeat();
    this.#host.requestUpdate();
  }

  /**
   * Enter the call as `name` now, or as soon as the room welcomes us. In a
   * locked room's lobby this is the knock: the host sees `name` and decides.
   */
  join(name: string): void {
    this.#enterCall({ type: 'join', name });
  }

  /**
   * Enter the call as `name` and ring the other peer in the room (the ring
   * flow, `mode="call"`); unanswered for `timeoutMs` it is `missed`. The
   * room's `call` messages tell how it goes.
   */
  ring(name: string, timeoutMs: number): void {
    this.#enterCall({ type: 'ring', name, timeoutMs });
  }

  /** Answer the ring we are hearing, entering the call as `name`. */
  accept(name: string): void {
    this.#enterCall({ type: 'accept', name });
  }

  /**
   * Turn down the ring we are hearing: now, and again whenever the room
   * rings us from the same caller before it says that ring is over (a
   * decline sent while the socket was down, or lost with it, left the ring
   * ringing; the room rings a member again when it comes back).
   */
  decline(): void {
    this.#declining = this.#caller;
    this.#send({ type: 'decline' });
  }

  #enterCall(message: EnterMessage): void {
    this.#enter = message;
    this.#sendEnter();
  }

  /**
   * (Re)send our way into the call; a locked room's lobby takes only `join`
   * (the knock). In the room with no way in to send, a `ping`: the room holds
   * our slot through a drop only once it has heard from us (party/room.ts, `heard`).
   */
  #sendEnter(): void {
    const enter = this.#enter;
    if (this.status === 'open') this.#send(enter ?? { type: 'ping' });
    else if (this.status === 'knocking' && enter) this.#send({ type: 'join', name: enter.name });
  }

  /** Lock or unlock the room (host only; the server refuses others). */
  lock(locked: boolean): void {
    this.#send({ type: 'lock', locked });
  }

  /** Let a knocking peer in (host only). */
  admit(peerId: string): void {
    this.#send({ type: 'admit', id: peerId });
  }

  /** Turn a knocking peer away (host only). */
  reject(peerId: string): void {
    this.#send({ type: 'reject', id: peerId });
  }

  /** Ask the room server for fresh ICE servers (new TURN credentials). */
  refreshIceServers(): void {
    this.#send({ type: 'ice-refresh' });
  }

  /**
   * Hang up: tell the room, then close the socket. With the socket down (a
   * drop the room holds us through), the room would take the hang-up for a
   * drop: the others would wait out the grace and hear that we left, and in
   * a 1:1 call-mode room our held id would keep a listening socket out
   * (`room-full`). So the socket stays, with our session token, until the
   * room is back and holds us again: then `leave` goes (the others hear we
   * hung up), and the socket closes, or, if `connect()` to that room was
   * called since (listening for rings, or a new join), carries on under a
   * new identity once the room has closed the old one's (the token is kept
   * until then: a drop first says it again); `connect()` to another room
   * opens a socket there then.
   * Once the room's grace is over ({@link UNSAID_LEAVE_MS}) there is nothing
   * to tell it.
   */
  leave(): void {
    // Hung up again before the room heard the first time (a join meanwhile): that one still goes.
    if (this.#unsaidLeave) {
      this.#enter = null;
      this.#unsaidLeave.stay = false;
      this.#next = null;
      return;
    }
    const entering = this.inCall || this.#enter;
    // At once, ahead of what waits for its turn (signals to peers we leave):
    // queued, it went with the queue when the socket closed, and the room took
    // a hang-up for a drop. The burst's spare frames (see PACE) cover it.
    if (this.status === 'open' && entering) this.#socket?.send(encodeMessage({ type: 'leave' }));
    else if (this.status === 'reconnecting' && entering && this.#session && this.selfId) {
      const { selfId: id, hostKey } = this;
      this.#forgetRoom();
      // A held resume needs only the token; the host key stays for it all the same.
      this.hostKey = hostKey;
      this.#awaitHeard((this.#unsaidLeave = { id, stay: false }));
      return;
    }
    this.disconnect(false);
  }

  /**
   * `peerId` told us itself that it hangs up (on its control channel): a
   * `peer-left` as the room would say it, at once. The room may hold its
   * place a while yet (its socket was down): what the room says of it
   * (listed again, its signals, its own `peer-left`) is then no news.
   */
  depart(peerId: string): void {
    if (!this.#known.has(peerId) || this.#departed.has(peerId)) return;
    this.#departed.add(peerId);
    this.#receive({ type: 'peer-left', id: peerId, reason: 'hangup' }, this.roster.get(peerId) ?? { id: peerId, name: '', inCall: true });
  }

  /** Send negotiation data to one peer; dropped while the socket is down. */
  signal(to: string, data: SignalData): void {
    this.#send({ type: 'signal', to, data });
  }

  /**
   * Our role toward `peerId` in perfect negotiation: polite toward the peers
   * that were in the room when we arrived (a first `welcome`'s `peers`),
   * impolite toward later arrivals.
   */
  isPolite(peerId: string): boolean {
    return this.#politeToward.has(peerId);
  }

  /**
   * Close the socket and forget the room. With `bye` (the default) the room is
   * told we are gone for good, so the others see us leave at once instead of
   * after the resume grace period.
   */
  disconnect(bye = true): void {
    const socket = this.#socket;
    this.#next = null;
    if (bye && (this.status === 'open' || this.status === 'knocking')) socket?.send(encodeMessage({ type: 'bye' }));
    this.#socket = null;
    this.#address = null;
    this.#session = null;
    this.#leftOpen = false;
    clearInterval(this.#heartbeat);
    if (socket) {
      socket.removeEventListener('message', this.#handleMessage);
      socket.removeEventListener('close', this.#handleClose);
      socket.close(1000, 'bye');
    }
    this.status = this.closeCode === null ? 'idle' : 'closed';
    this.#forgetRoom();
  }

  /** Forget what we were in the room (the socket, its address and token aside). */
  #forgetRoom(): void {
    clearTimeout(this.#unsaidLeave?.timer);
    this.#unsaidLeave = null;
    this.#enter = null;
    this.#declining = undefined;
    this.#departed.clear();
    this.#resetPace();
    this.#reconnectAttempt = 0;
    clearTimeout(this.#iceRefreshTimer);
    this.selfId = null;
    this.inCall = false;
    this.hostKey = null;
    this.locked = false;
    this.knocking = [];
    this.roster.clear();
    this.#politeToward.clear();
    this.#known.clear();
    this.#host.requestUpdate();
  }

  #send(message: ClientMessage): void {
    // In a locked room's lobby the server takes `join` (the knock), `ping` and `leave`.
    if (this.status !== 'open' && this.status !== 'knocking') return;
    this.#outbox.push(encodeMessage(message));
    if (this.#pacer === undefined) this.#drain();
  }

  /** Send what the pace allows now; come back for the rest when a frame's worth has refilled. */
  #drain = (): void => {
    this.#pacer = undefined;
    const now = Date.now();
    // A clock set back refills nothing, and takes nothing away.
    this.#tokens = Math.min(PACE.burst, this.#tokens + (Math.max(0, now - this.#refilledAt) / 1000) * PACE.perSecond);
    this.#refilledAt = now;
    for (; this.#outbox.length && this.#tokens >= 1; this.#tokens--) this.#socket?.send(this.#outbox.shift()!);
    if (this.#outbox.length) this.#pacer = setTimeout(this.#drain, 1000 / PACE.perSecond);
  };

  /** A new connection (or none): what waited for the old one is void; a full bucket until its welcome says otherwise. */
  #resetPace(): void {
    clearTimeout(this.#pacer);
    this.#pacer = undefined;
    this.#outbox = [];
    this.#refilledAt = 0;
    this.#droppedAt = Date.now();
  }

  /** Ask for fresh ICE servers at {@link ICE_REFRESH_AT} of `ttl` (s); none when there is no TTL. */
  #scheduleIceRefresh(ttl: number | undefined): void {
    clearTimeout(this.#iceRefreshTimer);
    if (ttl === undefined) return;
    this.#iceRefreshTimer = setTimeout(() => this.refreshIceServers(), ttl * ICE_REFRESH_AT * 1000);
  }

  #startHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#lastHeard = Date.now();
    this.#heartbeat = setInterval(() => {
      // Waiting for the room to close the socket of the id we left: it may never, if the network went again.
      if (this.status !== 'open' && this.status !== 'knocking' && !this.#leftOpen) return;
      if (Date.now() - this.#lastHeard > HEARTBEAT.deadAfterMs) {
        this.#leftOpen = false;
        this.#lastHeard = Date.now();
        // What waits is for this connection (the reopened one starts anew),
        // even if the socket was closing and no `close` event follows.
        this.#resetPace();
        this.#socket?.reconnect?.(4000, 'no heartbeat');
        return;
      }
      this.#send({ type: 'ping' }); // in the lobby too: a long wait is no dead socket
    }, HEARTBEAT.intervalMs);
  }

  #handleMessage = (event: Event): void => {
    this.#lastHeard = Date.now();
    if (this.#leftOpen) return;
    const message = parseServerFrame((event as MessageEvent).data);
    if (message) this.#receive(message); // else a frame we do not understand: ignore it
  };

  /** `gone`: for a `peer-left`, who it was (when the roster no longer says). */
  #receive(message: ServerMessage, gone?: PeerInfo): void {
    // A server of another protocol version (one that predates its check of
    // ours): nothing else it says is read.
    if (message.type === 'welcome' && message.version !== PROTOCOL_VERSION) return this.#closeFor(CloseCode.protocolMismatch, false);
    // Back after a hang-up the room did not hear (see `leave`): it holds us
    // again, and hears it now; it closes that socket, and the one we reopen
    // is a new identity's. A room that forgot us (past its grace, or a
    // restart) has nothing to hear: this is a new identity's welcome already.
    const unsaid = this.#unsaidLeave;
    if (unsaid && (message.type === 'welcome' || message.type === 'lobby')) {
      // Our id (held, or let in again by a room that restarted without its
      // storage) hears the hang-up. Anything else, if the socket is not
      // wanted, hears that we go: a member let in under a new id would be
      // held for the grace (a place taken), a knock kept in the lobby.
      const held = message.type === 'welcome' && message.id === unsaid.id;
      if (held || !unsaid.stay) this.#socket?.send(encodeMessage({ type: held || message.type === 'lobby' ? 'leave' : 'bye' }));
      // Wanted after it: the room closes this socket once it has heard (see
      // `#handleClose`). Until then the token stays ours: a drop first may
      // have lost the hang-up, and the socket reopened without it would be
      // a new member while our id is held (a 1:1 room: `room-full`).
      // The room counts its grace anew from that welcome (party/room.ts,
      // `lastSeen`): so do we.
      if (held && unsaid.stay) {
        this.#awaitHeard(unsaid);
        return void (this.#leftOpen = true);
      }
      this.#heard(unsaid);
      if (!unsaid.stay) return this.#moveOn();
      // We left: a new id that replaces our old one is no return.
      if (message.type === 'welcome') delete message.replaces;
    }
    // Gone already (it said so itself, see `depart`): the room's word on it
    // is no news, its own departure the last.
    const saidBye = this.#departed;
    if (message.type === 'peer-left' && !gone && saidBye.has(message.id)) return void saidBye.delete(message.id);
    if (
      (message.type === 'signal' && saidBye.has(message.from)) ||
      ((message.type === 'peer-joined' || message.type === 'peer-updated') && saidBye.has(message.peer.id))
    )
      return;
    if (message.type === 'welcome' || message.type === 'joined') message.peers = message.peers.filter((p) => !saidBye.has(p.id));
    // The ring we turned down, heard again (we came back) before the room had
    // our decline: declined again; its answer, `declined`, follows.
    if (message.type === 'call' && message.state === 'incoming') {
      if (this.#declining && message.peer?.id === this.#declining) return this.#send({ type: 'decline' });
      this.#caller = message.peer?.id;
    }
    if (message.type === 'call' || (message.type === 'error' && message.code === 'no-call')) this.#declining = undefined;
    // Back from away, a welcome lists who is here: everyone the room kept
    // for us (a held resume), or everyone there now (a new id that
    // `replaces` ours: we were away past the grace). A peer we knew that it
    // leaves out left while we were away (the others heard `peer-left`
    // then), hanging up if `hungUp` says so. Handed on after the welcome, so
    // that the roster says who is still here (a 1:1 call ends on a hang-up
    // only if nobody is); the page may hang up on hearing it: then no more.
    // Not after a restart that forgot us (our id, or a new one replacing
    // none): who is not back yet may still come. A peer it lists that we
    // did not know arrived meanwhile: a `peer-joined` (already in the call,
    // if it joined it); one we knew whose `inCall` changed meanwhile (it
    // joined the call, or a ring it made ended: the others heard
    // `peer-updated` then), a `peer-updated`; after the departures, in the
    // welcome's order. (A name comes with a join.)
    const back = message.type === 'welcome' && this.selfId !== null && (message.resumed || message.replaces === this.selfId) ? message : null;
    const departed = back ? [...this.roster.values()].filter((peer) => !back.peers.some((p) => p.id === peer.id)) : [];
    const news = (back?.peers ?? []).flatMap((peer): [PeerInfo, PeerInfo?][] => {
      const was = this.roster.get(peer.id);
      if (!was) return this.#known.has(peer.id) ? [] : [[peer]];
      return was.inCall !== peer.inCall ? [[peer, was]] : [];
    });
    const previous =
      message.type === 'peer-updated'
        ? this.roster.get(message.peer.id)
        : message.type === 'peer-joined' && this.#known.has(message.peer.id)
          ? message.peer
          : gone;
    switch (message.type) {
      case 'lobby':
        this.status = 'knocking';
        this.#sendEnter();
        break;
      case 'knocks':
        this.knocking = message.peers;
        break;
      case 'lock-changed':
        this.locked = message.locked;
        break;
      case 'host':
        this.hostKey = message.hostKey;
        break;
      case 'session':
        this.#session = message.session;
        break;
      case 'ice-servers':
        this.iceServers = message.iceServers;
        this.#scheduleIceRefresh(message.iceTtl);
        this.#options.onIceServers?.(message.iceServers);
        break;
      case 'welcome': {
        // The same identity back (a resume, or re-admission under our old id
        // after the server forgot us): the roles toward peers we knew stand.
        // Peers new to us follow the usual rule, except after a held resume,
        // where they arrived while we were away, after us: impolite.
        const sameIdentity = message.id === this.selfId;
        const heldResume = sameIdentity && message.resumed === true;
        // A held resume keeps the room's rate-limit bucket as it was (maybe
        // spent then), refilled since: pace from empty at the drop. A new
        // member's bucket is full.
        if (heldResume) {
          this.#tokens = 0;
          this.#refilledAt = this.#droppedAt || Date.now();
        }
        const known = new Set(sameIdentity ? this.roster.keys() : []);
        const wasPolite = new Set(sameIdentity ? this.#politeToward : []);
        this.status = 'open';
        this.selfId = message.id;
        this.#session = message.session ?? null;
        this.#reconnectAttempt = 0;
        this.iceServers = message.iceServers;
        this.#scheduleIceRefresh(message.iceTtl);
        this.hostKey = message.hostKey ?? null;
        this.locked = message.locked;
        this.knocking = [];
        // Under the same identity we stay in the call (join is re-sent at once).
        this.inCall = sameIdentity && this.inCall;
        this.roster.clear();
        this.#politeToward.clear();
        if (!sameIdentity) this.#known.clear();
        for (const peer of message.peers) {
          this.roster.set(peer.id, peer);
          this.#known.add(peer.id);
          const polite = known.has(peer.id) ? wasPolite.has(peer.id) : !heldResume;
          if (polite) this.#politeToward.add(peer.id);
        }
        // Known peers not back yet (the room server restarted) keep their roles for when they are.
        for (const id of wasPolite) if (!this.roster.has(id)) this.#politeToward.add(id);
        // The ring we made or answered ended while we were away: not sent again.
        if (message.ringEnded) {
          this.inCall = false;
          this.#enter = null;
          this.#declining = undefined;
        }
        this.#sendEnter(); // at once, a ping if nothing else
        break;
      }
      case 'joined':
        this.inCall = true;
        for (const peer of message.peers) this.roster.set(peer.id, peer);
        break;
      case 'peer-joined':
      case 'peer-updated':
        this.roster.set(message.peer.id, message.peer);
        this.#known.add(message.peer.id);
        break;
      case 'peer-left':
        // Keep the entry until the handler has read it; it is removed below.
        break;
      case 'call':
        if (message.state === 'accepted' && this.#enter) {
          // The ring is the call now: after a reconnect we simply re-enter it.
          this.#enter = { type: 'join', name: this.#enter.name };
        } else if (RING_ENDS.has(message.state)) {
          // The ring we made or answered is over: we are out of the call.
          this.inCall = false;
          this.#enter = null;
        }
        break;
    }
    this.#options.onMessage(message, previous);
    if (message.type === 'peer-left') {
      this.roster.delete(message.id);
      this.#politeToward.delete(message.id);
      this.#known.delete(message.id);
    }
    // Relayed SDP and ICE candidates and heartbeat replies change nothing on
    // screen: a render per frame would sit between an answer's arrival and its
    // application (what the peer layer makes of a signal updates on its own).
    if (message.type !== 'signal' && message.type !== 'pong') this.#host.requestUpdate();
    const socket = this.#socket;
    for (const peer of departed) {
      if (this.#socket !== socket) return;
      this.#receive({ type: 'peer-left', id: peer.id, reason: back?.hungUp?.includes(peer.id) ? 'hangup' : 'left' }, peer);
    }
    for (const [peer, was] of news) {
      if (this.#socket !== socket || !this.roster.has(peer.id)) return;
      this.#options.onMessage({ type: was ? 'peer-updated' : 'peer-joined', peer }, was);
    }
  }

  #handleClose = (event: Event): void => {
    const code = (event as CloseEvent).code;
    // The room closing the socket of the id we left (see `leave`): the next is a new identity's, and no drop.
    if (this.#leftOpen && !TERMINAL_CLOSE_CODES.has(code)) {
      this.#leftOpen = false;
      this.status = 'reconnecting';
      // It heard the hang-up: the room closes that socket with 1000 'left'
      // (party/room.ts). Anything else is a drop that may have lost it (a
      // partysocket error close is no 1000 'left' either: in a browser its
      // code is the string 'close', in Node its reason 'unknown reason'):
      // the token stays, and the socket reopened is held again, to say it
      // again, or gets a new id (it was heard).
      const unsaid = this.#unsaidLeave;
      if (code !== 1000 || (event as CloseEvent).reason !== 'left' || !unsaid) return;
      this.#heard(unsaid);
      if (!unsaid.stay) this.#moveOn();
      return;
    }
    // `inCall` stands while the socket reopens: media may still be flowing,
    // and the resumed identity is still in the call.
    if (TERMINAL_CLOSE_CODES.has(code)) this.#closeFor(code);
    else {
      this.status = 'reconnecting';
      this.#resetPace();
      this.knocking = [];
      // (Not the old room's, which only a hang-up still wants, on the way to another.)
      if (!this.#next) this.#options.onReconnecting?.(++this.#reconnectAttempt);
    }
    this.#host.requestUpdate();
  };

  /** (Re)start the wait of `unsaid` for the room to hear it: past {@link UNSAID_LEAVE_MS}, there is nothing to tell it. */
  #awaitHeard(unsaid: UnsaidLeave): void {
    clearTimeout(unsaid.timer);
    unsaid.timer = setTimeout(() => {
      this.#heard(unsaid);
      if (!unsaid.stay) this.#moveOn();
    }, UNSAID_LEAVE_MS);
  }

  /** The room heard the hang-up `unsaid` (or has nothing to hear): the token that held our id is spent. */
  #heard(unsaid: UnsaidLeave): void {
    clearTimeout(unsaid.timer);
    if (this.#unsaidLeave === unsaid) this.#unsaidLeave = null;
    this.#session = this.hostKey = null;
  }

  /** The room said (or showed) we must not come back: stop (saying `bye` if `bye`), and report `code`. */
  #closeFor(code: number, bye = true): void {
    // Nobody wants this socket any more (a hang-up waiting to be heard, see
    // `leave`): a room that will not have us is no news, and no failure.
    const news = !this.#unsaidLeave || this.#unsaidLeave.stay;
    if (!news) return this.#moveOn(bye);
    this.closeCode = code;
    this.disconnect(bye);
    this.#options.onTerminalClose?.(code);
  }

  /** The hang-up is told, or moot: close the socket, and open the one wanted in another room, if any. */
  #moveOn(bye = false): void {
    const [next, enter] = [this.#next, this.#enter];
    this.disconnect(bye);
    if (!next) return;
    this.connect(next);
    // A join (or ring) made meanwhile is for that room.
    this.#enter = enter;
  }
}
