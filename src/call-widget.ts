import { LitElement, html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { CallError, type CallErrorCode } from './call-error.ts';
import { CALL_OUTCOMES, deriveCallState, type CallIntent, type CallState, type RingStatus } from './call-state.ts';
import { MediaController, type GetUserMedia } from './controllers/media-controller.ts';
import { PeerController, type PeerLink } from './controllers/peer-controller.ts';
import {
  SignalingController,
  type RoomAddress,
  type SocketFactory,
} from './controllers/signaling-controller.ts';
import {
  CallEndedEvent,
  type CallEndReason,
  CallErrorEvent,
  CallKnockEvent,
  CallPeerJoinedEvent,
  CallPeerLeftEvent,
  CallReconnectEvent,
  CallStateChangeEvent,
} from './events.ts';
import { directionOf, inheritedAttribute, languageOf, localeFor, LOCALES, type Locale } from './i18n/locale.ts';
import { en, format, type MessageKey, type Messages } from './i18n/messages.ts';
import {
  CloseCode,
  RESUME_GRACE_MS,
  RING_TIMEOUT_MS,
  cleanDisplayName,
  type PeerInfo,
  type ServerMessage,
} from './protocol.ts';
import type { ChunkContext } from './chunk.ts';
import type { KnockFocus } from './knocks.ts';
import type { Lobby } from './lobby.ts';
import type { MediaKind } from './peer/peer-session.ts';
import { randomId } from './random-id.ts';
import { styles } from './styles.ts';

export type { CallState } from './call-state.ts';
export type { CallErrorCode } from './call-error.ts';
export type { GetUserMedia } from './controllers/media-controller.ts';
export type { RoomAddress, SignalingSocket, SocketFactory } from './controllers/signaling-controller.ts';
export type { MessageKey, Messages } from './i18n/messages.ts';
export type { MediaKind } from './peer/peer-session.ts';
export type { PeerInfo } from './protocol.ts';
export { CallError } from './call-error.ts';
export * from './events.ts';

/** Close codes → error codes. */
const CLOSE_ERRORS: Record<number, CallErrorCode> = {
  [CloseCode.roomFull]: 'room-full',
  [CloseCode.busy]: 'room-full',
  [CloseCode.roomUnavailable]: 'room-unavailable',
  [CloseCode.forbiddenOrigin]: 'forbidden-origin',
  [CloseCode.protocolMismatch]: 'protocol-mismatch',
  [CloseCode.rateLimited]: 'rate-limited',
};

/**
 * How long `joining` may last before the widget gives up with
 * `room-unreachable`, ms. Covers several reconnect attempts (250 ms → 2 s,
 * see `RECONNECT`). It does not run while the browser's permission prompt is
 * open (the user may take their time).
 */
export const JOIN_TIMEOUT_MS = 15_000;

/**
 * How long the offering side waits for the camera before it builds the peer
 * connection anyway, ms. Building an RTCPeerConnection while capture starts
 * slows both on a small machine (measured with bench/ttff: getUserMedia 18 →
 * 51 ms); a camera that is not up within this grace (real cameras take
 * 200 ms or more, a permission prompt seconds) is overlapped with negotiation.
 */
export const NEGOTIATION_GRACE_MS = 60;

/**
 * The lazy chunks a widget loads with its first use of them, from next to
 * the script, through `#need` (the catalogs of other languages load
 * elsewhere). Each exports `MESSAGES`, the English of what it shows, and may
 * export `CSS`, added to the shadow root as it arrives.
 */
const CHUNKS = {
  /** The error view: its words, the ways out of a failure, the permission watch (src/failure.ts). */
  failure: () => import('./failure.ts'),
  /** The host's list of people knocking at a locked room (src/knocks.ts). */
  knocks: () => import('./knocks.ts'),
  /** The pre-join lobby and the call's device panel: device lists, level meter (src/lobby.ts). */
  lobby: () => import('./lobby.ts'),
};
type ChunkName = keyof typeof CHUNKS;
type LoadedChunks = { [K in ChunkName]?: Awaited<ReturnType<(typeof CHUNKS)[K]>> };

/**
 * Wait before a lazy chunk that did not load is asked for again, ms; it
 * doubles with each failure in a row, up to 32 × this (32 s). A guess sized
 * for a blip of the script's origin (a deploy, a flaky connection), not a
 * measured figure.
 */
export const CHUNK_RETRY_MS = 1_000;

/** How long the invite button says "Invite link copied" after a copy, ms. */
const INVITE_COPIED_MS = 3_000;

/**
 * An embeddable WebRTC video call. Drop it in a page, give it a room, and two
 * people who open the same room link can talk face to face.
 *
 * The room socket opens when the element connects; camera and microphone are
 * requested only when the user presses join (or the page calls `join()`).
 *
 * @summary A 1:1 WebRTC video call with a PartyKit room server.
 * @tag call-widget
 *
 * @fires {CallStateChangeEvent} call-state-change - `state` changed; `event.previous` and `event.state` are `CallState`s.
 * @fires {CallErrorEvent} call-error - something failed; `event.code` is a `CallErrorCode`, `event.message` a sentence.
 * @fires {CallPeerJoinedEvent} call-peer-joined - another peer's page entered the room (not yet the call: `event.peer` is `{id, name, inCall}` with `name` '' and `inCall` false; the widget says their name when they join the call). Not fired for those already in the room when we arrived, nor for one coming back after a room-server restart. Back from away (our socket dropped), it fires for each peer that arrived meanwhile, after the `call-peer-left` of those who went: that peer may have a name and be in the call already (`inCall` true).
 * @fires {CallPeerLeftEvent} call-peer-left - another peer left; `event.peer`, and `event.reason` is `hangup` or `left`. Also fired on coming back from a dropped room connection for a peer that left meanwhile (`hangup` if the room says it hung up).
 * @fires {CallReconnectEvent} call-reconnect - a recovery step started; `event.attempt` (from 1), `event.cause` (`signaling`, `ice-disconnected`, `ice-failed`, `network-change`, `connect-timeout`, `rebuild`), `event.peerId`.
 * @fires {CallEndedEvent} call-ended - the call (or the attempt) is over: `event.durationMs` (from the first `connected`, 0 if never) and `event.reason` (`hangup`, `remote-hangup`, `declined`, `missed`, `busy`, `failed`, `room-full`). Removing the element mid-call ends the call too (`hangup`). A room that refuses the page's socket before anyone joins (full, unavailable, origin not allowed, another protocol version, rate-limited), or a camera refused in the lobby, is an attempt that failed too: `failed` (or `room-full`) with `durationMs` 0; count calls by `durationMs > 0`.
 * @fires {CallKnockEvent} call-knock - (host only) someone knocks at the locked room; `event.peer` is `{id, name}`: call `admit(id)` or `reject(id)`.
 *
 * @slot brand - a logo or name, shown in the top corner (inline end) of the video area.
 * @slot controls - extra buttons, placed in the control bar before hang-up (in a call in a narrow widget, among the secondary controls that More shows; style them yourself; `--call-control-size` is a good height).
 *
 * @csspart base - the widget's single wrapper (grid of video area and controls; carries `dir` and `lang`).
 * @csspart brand - the box around the `brand` slot.
 * @csspart stage - the area holding the video tiles.
 * @csspart tile - each video tile (local and remote).
 * @csspart remote-tile - the tile of a remote peer.
 * @csspart remote-video - the `<video>` of a remote peer.
 * @csspart local-tile - the tile with the local preview: an inset over the video in a 1:1 call, a tile of the grid in a group.
 * @csspart local-video - the muted local preview `<video>`.
 * @csspart status-badge - the call-state badge (what it says is also announced, once, through the widget's live region).
 * @csspart lock-badge - "Locked", next to the badge, while the room is locked (everyone in the call sees it; the host's lock button is pressed).
 * @csspart call-timer - the call's length (`m:ss`) next to the badge, from when media first flowed; kept after it ends. Not a live region.
 * @csspart avatar - the initials shown on a tile whose camera is off (and in audio-only calls).
 * @csspart name-label - a tile's name badge (it adds "Microphone off" when that microphone is off).
 * @csspart placeholder - the tile shown while nobody else's video is (idle, waiting, ringing, an error): it holds the ring note and the error view.
 * @csspart error-message - the error's message (`role="alert"`), in the placeholder or the notice.
 * @csspart invite-input - the invite link to copy by hand, shown when the clipboard refused it.
 * @csspart controls - the control bar (`role="group"`).
 * @csspart button - every control button.
 * @csspart join-button - the join (or rejoin / try again) button.
 * @csspart mic-button - the microphone toggle.
 * @csspart camera-button - the camera toggle.
 * @csspart switch-camera-button - turns to the camera facing the other way (front ↔ back); shown only where the camera says which way it faces and there is another one.
 * @csspart devices-button - (in a call) opens and closes the device panel (`aria-expanded`).
 * @csspart more-button - (in a call, in a widget 420 px wide or less) shows and hides the secondary controls: devices, lock, the `controls` slot and invite (`aria-expanded`; Escape in them closes them). Wider, they are always in the row and this button is not shown.
 * @csspart devices - the call's device panel: the camera, microphone and speaker selectors and the level meter (Escape closes it).
 * @csspart lobby - the pre-join lobby form beside the preview.
 * @csspart name-input - (lobby) the display-name field.
 * @csspart camera-select - (lobby, device panel) the camera selector.
 * @csspart microphone-select - (lobby, device panel) the microphone selector.
 * @csspart speaker-select - (lobby, device panel) the speaker selector; only where `HTMLMediaElement.setSinkId` exists.
 * @csspart level-meter - (lobby, device panel) the live microphone level, a `<meter>` from 0 to 1.
 * @csspart cancel-button - (lobby) leaves the lobby, releasing the camera and microphone.
 * @csspart hangup-button - the hang-up button (while `ringing`: stop ringing).
 * @csspart accept-button - (state `incoming`) answers the call.
 * @csspart decline-button - (state `incoming`) turns the call down.
 * @csspart ring-note - who is calling (`incoming`) or being called (`ringing`).
 * @csspart end-note - (state `ended`) who ended the call by hanging up, when the other side did.
 * @csspart audio-only-button - after `device-not-found`: join without the camera.
 * @csspart receive-only-button - after `device-not-found`, `permission-denied` or `permission-policy-blocked`: join without camera or microphone, to see and hear the others.
 * @csspart dismiss-button - puts the error (and the invite link's note) away: leaves the `failed` state for `idle` without retrying; in a call, hides the message.
 * @csspart invite-button - the copy-invite-link button (it says "Invite link copied" for 3 s after a copy).
 * @csspart notice - (in a call, over the video) the message of a device action that failed, the invite link when the clipboard refused it, and the sound button.
 * @csspart sound-button - (in a call, in the notice) shown when the browser would not start the others' sound (its autoplay policy: no click or key press on the page yet, and no camera or microphone captured, e.g. a receive-only `join()` called on load) and a peer sends sound: their video plays muted until it, or anything else in the widget, is clicked.
 * @csspart connection-lost - the "connection lost" note over a remote tile whose media path is down.
 * @csspart signaling-hint - the discreet "reconnecting to the room" note shown while media still flows.
 * @csspart lock-button - (host only) the lock-room toggle.
 * @csspart knocks - (host only) the list of people waiting to be let in.
 * @csspart knock - one person waiting to be let in.
 * @csspart knock-note - (host only) why nobody came in: the room is full (`role="status"`).
 * @csspart admit-button - lets a knocking person in.
 * @csspart reject-button - turns a knocking person away.
 *
 * @cssprop [--call-background=light-dark(#f6f7f9, #101418)] - widget background (light scheme, dark scheme).
 * @cssprop [--call-foreground=light-dark(#14181c, #f4f6f8)] - text and icon colour.
 * @cssprop [--call-surface=light-dark(#e3e7ec, #1d242b)] - tiles and buttons.
 * @cssprop [--call-accent=#2563eb] - the join, accept and admit buttons (white text on it: keep a 4.5:1 contrast).
 * @cssprop [--call-danger=#c62828] - the hang-up and decline buttons (white text on it).
 * @cssprop [--call-focus-ring=light-dark(#1a56db, #8ab4ff)] - keyboard focus outline.
 * @cssprop [--call-radius=12px] - corner radius.
 * @cssprop [--call-control-size=44px] - minimum button size (WCAG 2.5.5 target size).
 * @cssprop [--call-font=14px/1.4 system-ui, sans-serif] - font shorthand.
 */
export class CallWidget extends LitElement {
  static override styles = styles;

  static override properties = {
    host: { type: String },
    party: { type: String },
    room: { type: String, reflect: true },
    name: { type: String },
    theme: { type: String, reflect: true },
    video: { type: String },
    videoQuality: { type: String, attribute: 'video-quality' },
    skipLobby: { type: Boolean, attribute: 'skip-lobby' },
    mode: { type: String },
    ringTimeout: { type: Number, attribute: 'ring-timeout' },
    speakerId: { type: String, attribute: false },
    messages: { attribute: false },
  };

  /** `lang` and `dir` are the element's own global attributes: watched, not declared. */
  static override get observedAttributes(): string[] {
    return [...super.observedAttributes, 'lang', 'dir'];
  }

  /** PartyKit host (`name:port`) of the room server; empty means the page's own host. */
  declare host: string;
  /** PartyKit party name. */
  declare party: string;
  /**
   * Room id (base64url, 8–64 characters). When absent the element reads `?room=`
   * from the page URL (every widget without one on that page: the same room),
   * or else creates a 128-bit random id and offers an invite link.
   * Changed mid-call (as `host` and `party`), the call in the old room ends as
   * a hang-up (`call-ended`, reason `hangup`); the next join is in the new one.
   */
  declare room: string;
  /** Display name shown to the other peers: controls, invisible characters and line separators are removed, and it is cut to 64 UTF-16 code units (`cleanDisplayName`); one with nothing visible left shows as "Guest". */
  declare name: string;
  /**
   * Colour scheme: `light`, `dark`, or `auto` (the default: the user's
   * `prefers-color-scheme`). CSS only, so the first paint is already right.
   */
  declare theme: 'auto' | 'light' | 'dark';
  /**
   * `off` makes calls audio-only: the camera is never asked for, and tiles
   * show initials. Read when joining.
   */
  declare video: 'on' | 'off';
  /**
   * The camera resolution to ask for: `low` (320×240, 15 frames/s), `medium`
   * (640×480, 30), `high` (960×540, 30) or `hd` (1280×720, 30). The size is
   * an ideal, so a camera that cannot do it gets its nearest mode; the frame
   * rate is a maximum (`low` sends at most 15 frames/s).
   */
  declare videoQuality: 'low' | 'medium' | 'high' | 'hd';
  /**
   * Join straight from the join button. Without it the button opens the
   * pre-join lobby first (state `lobby`): camera preview, camera, microphone
   * and speaker choice, a microphone level meter, the display name, and mic
   * and camera toggles that carry into the call.
   */
  declare skipLobby: boolean;
  /**
   * `room` (the default): join and connect with whoever is in the room.
   * `call`: a 1:1 call that rings. Joining rings the other peer in the room
   * (or the next to open the link) and shows `ringing`; the other side sees
   * `incoming` with the caller's name and answers with `accept()` or
   * `decline()`. Nothing of the callee (camera, microphone, network
   * addresses) reaches the caller before it accepts. Unanswered rings end as
   * `missed`, turned-down ones as `declined`, and a ring to someone ringing or
   * talking with another as `busy`. A widget in either mode answers rings.
   */
  declare mode: 'room' | 'call';
  /**
   * (`mode="call"`) How long a ring may go unanswered before it is `missed`,
   * s (1–120, the room server's bounds: `RING_TIMEOUT_MS`).
   * @default 30
   */
  declare ringTimeout: number;
  /**
   * The speaker the other side's audio plays on (`MediaDeviceInfo.deviceId`
   * of an `audiooutput`; '' for the default), applied at once through
   * `HTMLMediaElement.setSinkId` where the browser has it. One that cannot
   * be used (unplugged, or not allowed) goes back to '' and fires
   * `call-error` with `speaker-unavailable`; the call goes on.
   */
  declare speakerId: string;
  /**
   * Host-page overrides of any user-visible string, by key (see `Messages`
   * in `src/i18n/messages.ts`; `{name}` placeholders are filled in). They
   * win over the catalog of the widget's language.
   */
  declare messages: Partial<Messages> | undefined;

  /** Injectable `getUserMedia` (tests, stories, custom capture); defaults to the browser's. */
  getUserMedia: GetUserMedia | undefined = undefined;
  /** Injectable `RTCPeerConnection` factory; defaults to `new RTCPeerConnection(configuration)`. */
  createPeerConnection: ((configuration: RTCConfiguration) => RTCPeerConnection) | undefined = undefined;
  /** Injectable room-socket factory (in-memory signaling for stories); defaults to partysocket's ReconnectingWebSocket. */
  createSocket: SocketFactory | undefined = undefined;

  #state: CallState = 'idle';
  #intent: CallIntent = 'idle';
  #error: CallError | null = null;
  /** What the live region says: the announcements of the latest update that made any. */
  #announcements: string[] = [];
  /** The announcements have been rendered: the next one starts a new list. */
  #announced = false;
  /** The sound button was said (see `#soundHeldBack`): not again in this call until a video plays with sound. */
  #soundSaid = false;
  /**
   * Counts the lists of announcements: each is rendered afresh (see
   * `render`), so a sentence said again ("Guest wants to join" for a second
   * guest) is a new node, which a screen reader reads.
   */
  #batch = 0;
  /** The status badge shows the room-reconnecting hint (it was announced). */
  #hint = false;
  /**
   * Back in the room under a new identity mid-call (away past the room's
   * grace): the call is being put together again, and reads `reconnecting`
   * until it connects, or nobody is there to connect to (not `joining`, then
   * `connecting`, as for a call begun anew).
   */
  #rejoining = false;
  /** What changed while we were away, to say at the next update (see the `welcome` case of `#handleServerMessage`). */
  #backNews: (() => void) | undefined;
  /** The language the widget speaks (BCP 47), its catalog and writing direction. */
  #lang = 'en';
  #locale: Locale = 'en';
  #catalog: Partial<Messages> = en;
  /** English: the entry's `en` and that of each lazy chunk loaded so far (see src/i18n/messages.ts). */
  #english: Partial<Messages> = en;
  #dir: 'ltr' | 'rtl' = 'ltr';
  /** The digits of the language, for the call timer (`ar-EG`: ٠–٩). */
  #digits = digitsOf('en');
  /** The latest catalog load; settles once it is in or has failed (the first render waits for it). */
  #catalogLoad: Promise<void> | undefined;
  /** When media first flowed in this call (`Date.now()`, ms), for the timer and `call-ended`. */
  #connectedAt: number | null = null;
  /** The call's length once it ended, ms. */
  #duration = 0;
  #endReason: CallEndReason = 'hangup';
  /** Who ended the call by hanging up (`remote-hangup`), as shown in the ended view. */
  #hungUpBy = '';
  #ticker: ReturnType<typeof setInterval> | undefined;
  /** The room was locked, and we were its host, as of the last server message. */
  #was: [locked: boolean, host: boolean] = [false, false];
  /** Focus was inside the shadow root when this update began (see `updated`). */
  #hadFocus = false;
  /** The knock whose Admit or Reject had focus when this update began (see `updated`, src/knocks.ts). */
  #knockFocus: KnockFocus | null = null;
  #inviteFallback = false;
  /** While the invite button says the link was copied (see {@link INVITE_COPIED_MS}). */
  #copied: ReturnType<typeof setTimeout> | undefined;
  /** Our peer id in the room as of the last `welcome`. */
  #identity: string | null = null;
  /** Ids of the knockers already announced (`call-knock` fires once per knock). */
  #knownKnockers: string[] = [];
  /** (Host) the room refused our admit: it is full, until someone leaves. */
  #admitRefused = false;
  #joinTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Watches the page's `<html lang>` and `dir` while the widget is in the
   * page: a page that changes language after load (an i18n library's
   * switch) is followed. Ancestors in between are read, not watched.
   */
  #pageLanguage: MutationObserver | undefined;
  /** Aborts the watch on a refused camera/microphone permission (see `#retryWhenGranted`). */
  #permissionWatch: AbortController | null = null;
  /**
   * Counts `join()` and `openLobby()` calls: a camera request of an earlier
   * one that fails after a newer one began (cancelled, then tried again
   * while the prompt was open) is not the newer one's failure.
   */
  #attempt = 0;
  /** Settles when the camera is up or the negotiation grace is over. */
  #negotiationGate: Promise<void> = Promise.resolve();
  /** The room's ring, as it concerns us. */
  #ring: RingStatus = 'none';
  /** The last ring ended while it rang for us: we did not call, so nothing is "again". */
  #rungOnly = false;
  /** The other party of the ring: who calls us, or whom we ring (null until someone is there). */
  #ringPeer: PeerInfo | null = null;
  /** The lobby chunk's controller while the lobby or the call's device panel is open. */
  #lobby: Lobby | null = null;
  /** Whether the call's device panel is open (see `#handleDevices`). */
  #devicesOpen = false;
  /** In a narrow widget: the secondary controls (devices, lock, the page's, invite) are shown. */
  #moreOpen = false;
  /** The part that takes focus once it is rendered (the device panel just opened, or the button of what Escape closed). */
  #focusNext: 'devices' | 'devices-button' | 'more-button' | null = null;
  /** The lazy chunks loaded so far, and those on their way (see `#need`). */
  readonly #loaded: LoadedChunks = {};
  readonly #loading = new Set<ChunkName>();
  /** Lazy chunks that did not load, until their next try (see `#need`, `#hurry`). */
  readonly #retries = new Map<ChunkName, ReturnType<typeof setTimeout>>();
  /** Failed loads of each lazy chunk in a row (its next try waits longer). */
  readonly #chunkFailures = new Map<ChunkName | Locale, number>();
  /** What the lazy chunks render with (see src/chunk.ts). */
  readonly #chunk: ChunkContext = {
    html,
    nothing,
    t: (key, values) => format(this.#t(key), values),
  };
  /** Remote `<video>` elements by peer id (see `#remoteVideo`). */
  readonly #videos = new Map<string, HTMLVideoElement>();

  readonly #media = new MediaController(this, {
    getUserMedia: () => this.getUserMedia,
    videoQuality: () => this.videoQuality,
    onTrackChange: (kind, track) => {
      this.#peers.replaceTrack(kind, track);
      this.#peers.setMediaState(this.#media.audioEnabled, this.#media.videoEnabled);
    },
    onDeviceLost: (kind, label) => {
      const fallback = this.#media.stream?.getTracks().find((t) => t.kind === kind);
      const generic = this.#t(kind === 'audio' ? 'microphone' : 'camera');
      this.#announce(format(this.#t(fallback ? 'deviceLost' : 'deviceLostNone'), { device: label || generic, fallback: fallback?.label || generic }));
    },
  });

  readonly #signaling = new SignalingController(this, {
    createSocket: () => this.createSocket,
    onMessage: (message, previous) => this.#handleServerMessage(message, previous),
    onTerminalClose: (code) => {
      // A call-mode room that will not have us is a busy line: news only to
      // a caller; a widget that was just listening stays idle, and its next
      // ring tries again.
      if (this.mode === 'call' && (code === CloseCode.busy || code === CloseCode.roomFull)) {
        if (this.#intent === 'join') this.#ringEnded('busy');
        return;
      }
      this.#fail(new CallError(CLOSE_ERRORS[code] ?? 'room-unavailable', `room closed (${code})`));
    },
    onIceServers: (iceServers) => this.#peers.setConfiguration({ iceServers }),
    onReconnecting: (attempt) => {
      if (this.#intent !== 'join') return;
      this.dispatchEvent(new CallReconnectEvent(attempt, 'signaling'));
    },
  });

  readonly #peers = new PeerController(this, {
    createPeerConnection: () => this.createPeerConnection,
    onSignal: (to, data) => this.#signaling.signal(to, data),
    onReconnect: (peerId, attempt, cause) => this.dispatchEvent(new CallReconnectEvent(attempt, cause, peerId)),
    // Not a call-error (nothing the user or the page can do) and no log: the
    // link recovers, and the page sees that step as call-reconnect.
    onError: (peerId) => this.#peers.recover(peerId),
    onGiveUp: () => {
      if (this.#intent !== 'join' || this.#peers.states.includes('connected')) return;
      this.#fail(new CallError('connection-failed', 'the connection could not be re-established'));
    },
    // Heard before the room's peer-left, or instead of it (its room socket was down).
    onBye: (peerId) => this.#signaling.depart(peerId),
  });

  constructor() {
    super();
    this.host = '';
    this.party = 'main';
    this.room = '';
    this.name = '';
    this.theme = 'auto';
    this.video = 'on';
    this.videoQuality = 'medium';
    this.skipLobby = false;
    this.mode = 'room';
    this.ringTimeout = RING_TIMEOUT_MS.default / 1000;
    this.speakerId = '';
    this.messages = undefined;
    // The sound button's press, or any other click in the widget (see `#handleSound`).
    this.addEventListener('click', this.#handleSound);
  }

  /** The call's state (read-only, reflected to the `state` attribute). */
  get state(): CallState {
    return this.#state;
  }

  /**
   * The error reported last, until `dismiss()` or the next try: the one
   * behind the `failed` state, or that of a device action (`useDevice`,
   * `switchCamera`, `toggleMic`, `toggleCamera`) while the call goes on.
   */
  get error(): CallError | null {
    return this.#error;
  }

  /** The local camera/microphone stream: in the lobby's preview and in a call; null otherwise. */
  get localStream(): MediaStream | null {
    return this.#media.stream;
  }

  /**
   * The other party of the ring (`mode="call"`): who calls us (state
   * `incoming`), or whom we ring (`ringing`; null until someone is in the
   * room to ring). `{id, name, inCall}`; null when there is no ring.
   */
  get ringPeer(): PeerInfo | null {
    return this.#ring === 'none' ? null : this.#ringPeer;
  }

  /**
   * We hold the room's host key: we may lock it and admit or reject who
   * knocks. The first member of an empty room is host; when the host leaves
   * for good, another member becomes host: one present and in the call
   * first, else one present, else the longest in the room.
   */
  get isHost(): boolean {
    return this.#signaling.hostKey !== null;
  }

  /** The room is locked: new arrivals wait until the host lets them in. */
  get locked(): boolean {
    return this.#signaling.locked;
  }

  /** (Host) the people knocking at the locked room, in order of arrival. */
  get knocking(): readonly PeerInfo[] {
    return this.#signaling.knocking;
  }

  /**
   * (Host) lock the room: later arrivals knock and wait in a lobby until
   * `admit(id)` or `reject(id)`. The room unlocks by itself when it empties.
   * Ignored by the server unless this widget is the host.
   */
  lock(): void {
    this.#signaling.lock(true);
  }

  /**
   * (Host) unlock the room: whoever is knocking comes in while there is room;
   * the rest are turned away as from a full room (`room-full`).
   */
  unlock(): void {
    this.#signaling.lock(false);
  }

  /** (Host) let the knocking peer `peerId` in. */
  admit(peerId: string): void {
    this.#signaling.admit(peerId);
  }

  /**
   * (Host) turn the knocking peer `peerId` away. It is told the room is not
   * available, exactly as if the room did not exist.
   */
  reject(peerId: string): void {
    this.#signaling.reject(peerId);
  }

  /** The link to share: this page's URL with `?room=<id>`. */
  get inviteUrl(): string {
    const url = new URL(globalThis.location?.href ?? 'http://localhost/');
    url.searchParams.set('room', this.room);
    return url.href;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    globalThis.addEventListener?.('online', this.#handleNetworkChange);
    globalThis.addEventListener?.('pagehide', this.#handlePageHide);
    globalThis.addEventListener?.('pageshow', this.#handlePageShow);
    networkInformation()?.addEventListener('change', this.#handleNetworkChange);
    // The browser's preferred language, the last fallback, can change too.
    globalThis.addEventListener?.('languagechange', this.#resolveLanguage);
    (this.#pageLanguage ??= new MutationObserver(this.#resolveLanguage)).observe(document.documentElement, {
      attributeFilter: ['lang', 'dir'],
    });
    if (!this.room) {
      const fromPage = new URL(globalThis.location.href).searchParams.get('room');
      this.room = fromPage || randomId(16);
    }
    // Put back: it starts afresh, once the end of the call its removal made
    // has been shown (moved in one task, it has not: it shows it now, and
    // fires call-ended).
    if (this.#state === this.#intent || !CALL_OUTCOMES.has(this.#intent as CallState)) this.#intent = 'idle';
    this.#error = null;
    this.#resolveLanguage();
    // Put back: in the room again (the first time, the first update opens it).
    if (this.hasUpdated) this.#connectSignaling();
  }

  override attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    super.attributeChangedCallback(name, old, value);
    if ((name === 'lang' || name === 'dir') && this.isConnected) this.#resolveLanguage();
  }

  override disconnectedCallback(): void {
    globalThis.removeEventListener?.('online', this.#handleNetworkChange);
    globalThis.removeEventListener?.('pagehide', this.#handlePageHide);
    globalThis.removeEventListener?.('pageshow', this.#handlePageShow);
    networkInformation()?.removeEventListener('change', this.#handleNetworkChange);
    globalThis.removeEventListener?.('languagechange', this.#resolveLanguage);
    this.#pageLanguage?.disconnect();
    super.disconnectedCallback(); // controllers release camera, peer connections, socket and lobby
    this.#closeLobby();
    clearTimeout(this.#joinTimer);
    clearInterval(this.#ticker);
    this.#permissionWatch?.abort();
    // Removed mid-call (or mid-attempt): the call is over, as after hangup();
    // put back, the element starts afresh (connectedCallback).
    if (this.#intent === 'join') this.#endReason = 'hangup';
    this.#intent = this.#intent === 'join' ? 'ended' : 'idle';
    // A ring that was ringing here: nobody can answer it now.
    this.#ring = 'none';
    this.requestUpdate();
  }

  /**
   * Ask for camera and microphone, enter the room's call and negotiate with
   * whoever is there (negotiation runs while the camera starts). Resolves once
   * local media is up. It does not reject: failures set `state` to `failed`
   * and fire `call-error`. Does nothing while the element is not in a
   * document (nothing would release the camera it asked for).
   *
   * `options.video: false` joins without the camera (audio only);
   * `{audio: false, video: false}` joins without camera or microphone, to
   * see and hear the others only (the microphone button then asks for one).
   * What the pre-join lobby chose wins over both.
   */
  async join(options: { audio?: boolean; video?: boolean } = {}): Promise<void> {
    if (this.#intent === 'join' || !this.isConnected || !this.#supported()) return;
    this.#moreOpen = false;
    // From the lobby the camera is already up, with the user's toggles and devices.
    if (this.#intent !== 'lobby') {
      this.#media.videoEnabled = this.video !== 'off' && options.video !== false;
      this.#captureAudio(options.audio !== false);
    }
    this.#permissionWatch?.abort();
    this.#closeLobby();
    this.#intent = 'join';
    // A new call: its sound button is said anew, and until an outcome says
    // otherwise an end is a failure (a refused camera's state change comes
    // before `#fail`, and `call-ended` must not carry the last call's reason).
    this.#soundSaid = false;
    this.#endReason = 'failed';
    this.#error = null;
    this.#connectedAt = null;
    this.#connectSignaling();
    this.#startJoinTimer();
    const attempt = ++this.#attempt;
    // Ask for the camera first (its start-up is the longest step), then enter
    // the call at once: the offer/answer and ICE run while the camera starts,
    // and the tracks go onto the already negotiated senders when ready.
    const media = this.#media.start();
    this.#negotiationGate = Promise.race([
      media.then(
        () => undefined,
        () => undefined,
      ),
      new Promise<void>((resolve) => setTimeout(resolve, NEGOTIATION_GRACE_MS)),
    ]);
    const name = cleanDisplayName(this.name);
    if (this.#ring === 'incoming') {
      this.#ring = 'accepted';
      this.#signaling.accept(name);
    }
    else if (this.mode === 'call') {
      // Ringing from now (the room confirms, or says busy): never a flash of `waiting`.
      this.#ring = 'ringing';
      this.#ringPeer = null;
      const ms = Math.round(this.ringTimeout * 1000);
      const timeoutMs = Number.isFinite(ms) ? ms : RING_TIMEOUT_MS.default;
      this.#signaling.ring(name, Math.min(RING_TIMEOUT_MS.max, Math.max(RING_TIMEOUT_MS.min, timeoutMs)));
    } else this.#signaling.join(name);
    this.requestUpdate();
    let stream: MediaStream;
    try {
      stream = await media;
    } catch (error) {
      if (this.#intent === 'join' && attempt === this.#attempt) this.#fail(error as CallError);
      return;
    }
    if (this.#intent !== 'join') return;
    this.#peers.setLocalStream(stream);
    this.#peers.setMediaState(this.#media.audioEnabled, this.#media.videoEnabled);
  }

  /**
   * Answer the ring (state `incoming`): camera and microphone are asked for
   * now, not before, and the call is set up. Failures are as for `join()`;
   * a ring that ended meanwhile gives `missed`.
   */
  accept(): Promise<void> {
    return this.#ring === 'incoming' ? this.join() : Promise.resolve();
  }

  /** Turn the ring down (state `incoming`): both sides see `declined`. */
  decline(): void {
    if (this.#ring !== 'incoming' || this.#intent === 'join') return;
    this.#signaling.decline();
    this.#ringEnded('declined');
  }

  /**
   * Open the pre-join lobby (call it from a user gesture: it asks for camera
   * and microphone). Its code loads on demand, next to the script. Media
   * failures set `state` to `failed` and fire `call-error`; `join()` enters
   * the call from here, `leaveLobby()` goes back. Does nothing while the
   * element is not in a document.
   */
  async openLobby(): Promise<void> {
    if (this.#intent === 'join' || this.#intent === 'lobby' || !this.isConnected || !this.#supported()) return;
    this.#intent = 'lobby';
    this.#endReason = 'failed'; // as for join()
    this.#error = null;
    this.#hurry('lobby');
    this.#media.videoEnabled = this.video !== 'off';
    this.#captureAudio(true);
    const attempt = ++this.#attempt;
    try {
      await this.#media.start();
    } catch (error) {
      if (this.#intent === 'lobby' && attempt === this.#attempt) this.#fail(error as CallError);
    }
  }

  /**
   * Capture the microphone (`on`) or not in the next call or lobby. Mute
   * carries over from the last call; without a microphone it shows muted,
   * and with one again after that unmuted.
   */
  #captureAudio(on: boolean): void {
    if (on !== this.#media.captureAudio) this.#media.audioEnabled = on;
    this.#media.captureAudio = on;
  }

  /** Close the lobby without joining: the camera and microphone are released. */
  leaveLobby(): void {
    if (this.#intent !== 'lobby') return;
    this.#closeLobby();
    this.#media.stop();
    this.#intent = 'idle';
    this.requestUpdate();
  }

  /**
   * Use another microphone or camera (`deviceId` from `enumerateDevices`, ''
   * for the default), in the lobby or mid-call: the new track replaces the
   * old one on the existing sender (`RTCRtpSender.replaceTrack`, no
   * renegotiation). A failure fires `call-error` and keeps the old device.
   */
  useDevice(kind: MediaKind, deviceId: string): Promise<void> {
    return this.#deviceAction(this.#media.useDevice(kind, deviceId));
  }

  /**
   * Turn to the camera facing the other way (front ↔ back, `facingMode`
   * `user` ↔ `environment`), in the lobby or mid-call, on devices that have
   * both: the current camera is released first, the other one replaces it on
   * the existing sender (no renegotiation). A failure fires `call-error` and
   * brings the first camera back.
   */
  switchCamera(): Promise<void> {
    return this.#deviceAction(this.#media.switchFacing());
  }

  /**
   * A device action under way: it puts the last message away (a new try),
   * and its failure is reported (`call-error`, the notice) while the call
   * goes on. Resolves when it is over; never rejects.
   */
  #deviceAction(action: Promise<unknown>): Promise<void> {
    this.#error = null;
    return action.then(
      () => undefined,
      (error: CallError) => this.#report(error),
    );
  }

  /**
   * Put the reported error and the invite link's note away: after a
   * failure, leave the `failed` state without retrying (back to `idle`); in
   * a call, the message goes, and the call goes on.
   */
  dismiss(): void {
    this.#error = null;
    this.#inviteFallback = false;
    this.requestUpdate();
    if (this.#intent !== 'failed') return;
    this.#permissionWatch?.abort();
    this.#intent = 'idle';
    // Not back into a room that refused us for good (full, unavailable,
    // another version…): it would refuse again, and fail us again. The next
    // join() tries it.
    if (this.#signaling.closeCode === null) this.#connectSignaling();
  }

  /**
   * Leave the call: stop every local track, close the peer connections and
   * the room socket. In `mode="call"` a new socket opens at once, to hear
   * the next ring (under a new identity). Hung up while the room socket is
   * down, the room is told as soon as it is back (within its 20 s resume
   * grace): the others see a hang-up, not a dropped connection; a socket
   * wanted in another room meanwhile (`room` changed) opens after that.
   */
  hangup(): void {
    if (this.#intent !== 'join') return;
    this.#endReason = 'hangup';
    this.#peers.bye();
    this.#signaling.leave();
    this.#end();
    this.#listen();
  }

  /** Mute or unmute the microphone (after joining without one: ask for it). */
  toggleMic(): void {
    if (!this.#media.captureAudio && this.#media.stream) {
      this.#media.captureAudio = true;
      this.#media.audioEnabled = true;
      void this.#deviceAction(
        this.#media.useDevice('audio', this.#media.deviceIds.audio, true).catch((error: unknown) => {
          this.#media.captureAudio = this.#media.audioEnabled = false;
          throw error;
        }),
      );
      return; // the peer hears of it with the track (onTrackChange)
    }
    this.#media.setAudioEnabled(!this.#media.audioEnabled);
    this.#peers.setMediaState(this.#media.audioEnabled, this.#media.videoEnabled);
  }

  /** Turn the camera off (its light goes out) or on again. */
  toggleCamera(): void {
    // The peer hears at once, and again once it is settled: a camera that
    // could not be turned on is off.
    const tell = (): void => this.#peers.setMediaState(this.#media.audioEnabled, this.#media.videoEnabled);
    void this.#deviceAction(this.#media.setVideoEnabled(!this.#media.videoEnabled)).then(tell);
    tell();
  }

  /** Copy the invite link to the clipboard (or show it to copy by hand). */
  async copyInviteLink(): Promise<void> {
    try {
      await navigator.clipboard.writeText(this.inviteUrl);
      this.#announce(this.#t('inviteCopied'));
      // The button says so too, for a while.
      clearTimeout(this.#copied);
      this.#copied = setTimeout(() => {
        this.#copied = undefined;
        this.requestUpdate();
      }, INVITE_COPIED_MS);
    } catch {
      this.#inviteFallback = true;
      this.requestUpdate();
    }
  }

  /**
   * The first render waits for the catalog, so a translated widget never
   * shows English first. Later ones do not: after a language change the
   * widget speaks the old one until the new catalog is in. A `theme` set as
   * a property is the attribute at once, not at that render: the host's
   * colours show meanwhile, and must not be the other scheme's.
   */
  protected override async scheduleUpdate(): Promise<void> {
    if (!this.hasUpdated) {
      if (this.theme) this.setAttribute('theme', this.theme);
      await this.#catalogLoad;
    }
    super.scheduleUpdate();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    // The sound button, said once as it first appears, until sound plays.
    if (!this.#soundSaid && this.#soundHeldBack()) {
      this.#soundSaid = true;
      this.#announce(format(this.#t('soundBlocked'), { button: this.#t('playSound') }));
    }
    const news = this.#backNews;
    this.#backNews = undefined;
    if (this.#intent === 'join') news?.();
    // Another room: a call in another one is over, as if hung up; a socket
    // open elsewhere (waiting to be rung, in the lobby, after a call in
    // `mode="call"`) opens here instead, and a ring heard there is over (one
    // kept only for a hang-up the old room has not heard yet is no socket we
    // want: it tells that room, and closes). By the room the socket is in
    // (or wanted in next), not by what changed: a join() right after the change (or before the
    // first update) is in this room already.
    if ((changed.has('host') || changed.has('party') || changed.has('room')) && !this.#signaling.isAt(this.#address())) {
      if (this.#intent === 'join') this.hangup();
      else if (this.#intent === 'idle' || (this.#signaling.status !== 'idle' && !this.#signaling.leaving)) {
        this.#ring = 'none';
        this.#connectSignaling();
      }
    }
    // The lobby's controller (device lists, level meter) while its view is
    // wanted, from the update after its chunk is here: the pre-join lobby,
    // or the call's device panel. Closed by `#closeLobby`.
    const lobbyWanted = this.#intent === 'lobby' || (this.#devicesOpen && this.#intent === 'join');
    if (lobbyWanted && !this.#lobby && this.isConnected) {
      const chunk = this.#need('lobby');
      if (chunk) this.#lobby = new chunk.Lobby(this, this.#chunk);
      // The device panel has nothing to show without its chunk: it closes
      // (its button says so), and opening it again asks for the chunk at once.
      else if (chunk === null && this.#devicesOpen) this.#closeLobby();
    }
    let next = deriveCallState({
      intent: this.#intent,
      media: this.#media.status,
      signaling: this.#signaling.status,
      inCall: this.#signaling.inCall,
      links: this.#peers.states,
      ring: this.#ring,
    });
    if (this.#rejoining && (next === 'joining' || next === 'connecting')) next = 'reconnecting';
    else this.#rejoining = false;
    const active = this.shadowRoot?.activeElement;
    this.#hadFocus = active != null;
    this.#knockFocus = (active && this.#loaded.knocks?.focusedKnock(active)) || null;
    const previous = this.#state;
    this.#state = next;
    if (this.getAttribute('state') !== next) this.setAttribute('state', next);
    if (next !== previous) this.#entered(previous, next);
    // The badge's room-reconnecting hint, said when it appears: a drop of the
    // room socket in a call, or a call that connects again while it is down.
    const hint = next === 'connected' && this.#signaling.status === 'reconnecting';
    if (hint && !this.#hint) this.#announce(this.#t('roomReconnecting'));
    this.#hint = hint;
  }

  /** The state changed: timers, the call's duration, the announcement and the events. */
  #entered(previous: CallState, next: CallState): void {
    if (next !== 'joining') clearTimeout(this.#joinTimer);
    if (next === 'connected' && this.#connectedAt === null) {
      this.#connectedAt = Date.now();
      clearInterval(this.#ticker);
      this.#ticker = setInterval(() => this.requestUpdate(), 1000);
    }
    const over = CALL_OUTCOMES.has(next);
    if (over) {
      clearInterval(this.#ticker);
      this.#duration = this.#connectedAt === null ? 0 : Date.now() - this.#connectedAt;
      this.#connectedAt = null;
    }
    this.#announce(
      next === 'incoming'
        ? format(this.#t('callingYou'), { name: this.#displayName(this.#ringPeer?.name ?? '') })
        : this.#t(`state-${next}`),
    );
    this.dispatchEvent(new CallStateChangeEvent(previous, next));
    if (over && !CALL_OUTCOMES.has(previous)) {
      this.dispatchEvent(new CallEndedEvent(this.#duration, this.#endReason));
    }
  }

  #address(): RoomAddress {
    return { host: this.host || globalThis.location.host, party: this.party || 'main', room: this.room };
  }

  #connectSignaling(): void {
    if (this.isConnected && this.room) this.#signaling.connect(this.#address());
  }

  /** After a call in `mode="call"`: stay in the room (socket only), to hear the next ring. */
  #listen(): void {
    if (this.mode === 'call') this.#connectSignaling();
  }

  #startJoinTimer(): void {
    clearTimeout(this.#joinTimer);
    this.#joinTimer = setTimeout(() => {
      if (this.#state !== 'joining') return;
      // Not while the permission prompt is open (the user is not kept
      // waiting by the room then): it counts again from the next check.
      // Nor while the socket waits for the room we left to hear our hang-up
      // (its grace: 20 s at most) before it opens in this one.
      if (this.#media.status === 'acquiring' || this.#signaling.moving) this.#startJoinTimer();
      else this.#fail(new CallError('room-unreachable', `no answer from the room server in ${JOIN_TIMEOUT_MS} ms`));
    }, JOIN_TIMEOUT_MS);
  }

  #handleServerMessage(message: ServerMessage, previous?: PeerInfo): void {
    const [wasLocked, wasHost] = this.#was;
    this.#was = [this.locked, this.isHost];
    switch (message.type) {
      case 'welcome': {
        this.#peers.setConfiguration({ iceServers: message.iceServers });
        // Back under the same identity (resumed): links carry on, media never
        // stopped. After a room-server restart a peer may not be back yet:
        // its link is kept for the resume grace, and dropped only if it does
        // not reappear. A new identity starts over: the others saw our old
        // one leave.
        const sameIdentity = this.#signaling.selfId === this.#identity;
        // Back from away: under our id, or a new one that replaces it (we were away past the grace).
        const back = sameIdentity || (!!message.replaces && message.replaces === this.#identity);
        if (!sameIdentity) {
          this.#rejoining = this.#intent === 'join' && this.#peers.links.size > 0;
          this.#peers.closeAll();
          // Rung under the old one: the room dropped it from the ring, and
          // rings the new one again if the ring still stands.
          if (this.#ring === 'incoming') this.#ring = 'none';
        }
        for (const id of this.#peers.links.keys()) if (!this.#signaling.roster.has(id)) this.#expectBack(id);
        if (sameIdentity) this.#peers.resume();
        this.#identity = this.#signaling.selfId;
        // Our ring ended while we were away (declined, missed).
        if (message.ringEnded) this.#ringEnded(message.ringEnded);
        // Who is here, on arriving; back from away, who arrived meanwhile is
        // handed on after this welcome (peer-joined).
        const present = message.peers[0];
        if (present && !back && !this.#rejoining) this.#announce(format(this.#t('peerHere'), { name: this.#displayName(present.name) }));
        // Back from away (or under a new id mid-call): the lock changed
        // meanwhile (or a room server that restarted without its storage
        // forgot it), or the host left for good and the role is ours now.
        // Said at the next update, after who left meanwhile (handed on after
        // this welcome; which is why) and in the same batch; not if that
        // ended the call.
        const [locked, host] = this.#was;
        if (back || this.#rejoining)
          this.#backNews = () => {
            if (locked !== wasLocked) this.#announce(this.#t(locked ? 'roomLocked' : 'roomUnlocked'));
            if (host && !wasHost) this.#announce(this.#t('nowHost'));
          };
        return;
      }
      case 'joined':
        void this.#negotiationGate.then(() => {
          if (this.#intent !== 'join') return;
          for (const peer of message.peers) {
            if (this.#signaling.roster.has(peer.id) && !this.#peers.links.has(peer.id)) {
              this.#peers.connect(peer.id, this.#signaling.isPolite(peer.id));
            }
          }
        });
        return;
      case 'peer-joined':
        // Only the page is here: who it is, we hear when they join the call.
        // One coming back after a room-server restart never left. One in the
        // call already joined it while we were away.
        if (!previous) this.dispatchEvent(new CallPeerJoinedEvent(message.peer));
        if (message.peer.inCall) this.#announce(format(this.#t('peerJoined'), { name: this.#displayName(message.peer.name) }));
        return;
      case 'peer-updated':
        if (message.peer.inCall && !previous?.inCall && !this.#peers.links.has(message.peer.id)) {
          this.#announce(format(this.#t('peerJoined'), { name: this.#displayName(message.peer.name) }));
        }
        if (!message.peer.inCall) this.#peers.remove(message.peer.id);
        // The server acknowledged our join before this peer's, so it will send
        // the offer: get the answering side ready now. Only for a peer new to
        // the call: the room repeats one in it (a `join` sent again, a ring
        // answered), and one we heard of in `joined` is ours to offer to.
        else if (this.#intent === 'join' && this.#signaling.inCall && !previous?.inCall) {
          this.#peers.prepare(message.peer.id, this.#signaling.isPolite(message.peer.id));
        }
        // One in the call already: the room repeats it when it sends `join`
        // again, its socket back. Our first offer to it went to nobody while
        // it was away: it goes again now, not at the connect watch (10 s;
        // media came back 8.3 s after that peer's network did, when we were
        // the impolite side and ignored its offer: test/e2e/blackhole.test.ts).
        else if (this.#intent === 'join' && previous?.inCall) this.#peers.offerAgain(message.peer.id);
        return;
      case 'peer-left': {
        this.#admitRefused = false;
        const peer = previous ?? this.#signaling.roster.get(message.id) ?? { id: message.id, name: '', inCall: false };
        this.#peers.remove(message.id);
        const key = message.reason === 'hangup' ? 'peerHungUp' : 'peerLeft';
        this.#announce(format(this.#t(key), { name: this.#displayName(peer.name) }));
        this.dispatchEvent(new CallPeerLeftEvent(peer, message.reason));
        // The caller went while it rang us: the room says `missed` then, but
        // not when we learn it only from a resume (it went while we were away).
        if (this.#ring === 'incoming' && this.#ringPeer?.id === message.id) this.#ringEnded('missed');
        // In a 1:1 call the other side hanging up ends the call; a peer whose
        // connection dropped may come back, so we wait for it.
        const othersInCall = [...this.#signaling.roster.values()].some((p) => p.id !== message.id && p.inCall);
        if (message.reason === 'hangup' && this.#intent === 'join' && !othersInCall) {
          this.#endReason = 'remote-hangup';
          this.#hungUpBy = peer.name;
          this.#signaling.disconnect();
          this.#end();
          this.#listen();
        }
        return;
      }
      case 'signal':
        if (this.#intent === 'join') {
          this.#peers.handleSignal(message.from, message.data, this.#signaling.isPolite(message.from));
        }
        return;
      case 'knocks': {
        const known = new Set(this.#knownKnockers);
        this.#knownKnockers = message.peers.map((p) => p.id);
        for (const peer of message.peers) {
          if (known.has(peer.id)) continue;
          this.#announce(format(this.#t('knocking'), { name: this.#displayName(peer.name) }));
          this.dispatchEvent(new CallKnockEvent(peer));
        }
        return;
      }
      case 'lock-changed':
        this.#announce(this.#t(message.locked ? 'roomLocked' : 'roomUnlocked'));
        return;
      case 'host':
        // The host left for good: the lock and the door are ours now.
        if (this.#intent === 'join') this.#announce(this.#t('nowHost'));
        return;
      case 'call':
        switch (message.state) {
          case 'incoming':
            // Rung while we ring or talk ourselves: the room makes it one call
            // (crossing rings) or tells the other side we are busy.
            if (this.#intent === 'join') return;
            this.#ring = 'incoming';
            this.#ringPeer = message.peer ?? null;
            return;
          case 'ringing':
          case 'accepted':
            if (this.#intent !== 'join') return;
            this.#ring = message.state;
            this.#ringPeer = message.peer ?? null;
            return;
          default:
            this.#ringEnded(message.state);
        }
        return;
      case 'error':
        // The one refusal to show: an admit into a full room (the host sees
        // why nobody comes in). Others (a peer that just left, …) need no
        // action; the terminal ones arrive with a close code.
        if (message.code === 'room-full') this.#admitRefused = true;
        return;
    }
  }

  /**
   * Keep the link to `peerId` for the room's resume grace (within which that
   * peer can come back too); drop it if the peer is not back in the room by then.
   */
  #expectBack(peerId: string): void {
    setTimeout(() => {
      if (!this.#signaling.roster.has(peerId)) this.#peers.remove(peerId);
    }, RESUME_GRACE_MS);
  }

  #supported(): boolean {
    if (typeof RTCPeerConnection !== 'undefined' || this.createPeerConnection) return true;
    this.#fail(new CallError('unsupported-browser', 'RTCPeerConnection is not available'));
    return false;
  }

  /**
   * Lazy chunk `name` if it is here; else undefined (null while a failed
   * load waits for its next try), and it starts loading
   * (one load at a time), with a render once it is here, its English and
   * CSS added. Called from `render()` (and `willUpdate()`, for the lobby's
   * controller) for the views it holds, so a chunk loads when its view is
   * first shown. One that does not load (offline, a changed deployment)
   * leaves its view out (the state badge, the events and the rest of the
   * widget work without it: the lobby without its chunk still has the
   * preview, the toggles and Join) and is asked for again by a render after
   * {@link CHUNK_RETRY_MS} (doubling with each failure in a row, up to 32 s;
   * renders meanwhile do not ask; a user who opens the view ends the wait,
   * see `#hurry`), while the widget is in the page and the view still
   * wanted. Chromium fetches a failed dynamic import again; a browser that
   * remembers the failure shows the view after a reload.
   */
  #need<K extends ChunkName>(name: K): LoadedChunks[K] | null {
    const chunk = this.#loaded[name];
    if (this.#retries.has(name)) return null;
    if (chunk || this.#loading.has(name)) return chunk;
    this.#loading.add(name);
    const loaded = (module: NonNullable<LoadedChunks[K]>): void => {
      this.#loading.delete(name);
      this.#chunkFailures.delete(name);
      this.#loaded[name] = module;
      this.#english = { ...this.#english, ...module.MESSAGES };
      if ('CSS' in module) adopt(this.renderRoot, module.CSS);
      if (name === 'failure') this.#watchPermissions();
      this.requestUpdate();
    };
    const failed = (): void => {
      this.#loading.delete(name);
      this.#retries.set(
        name,
        this.#nextTry(name, () => {
          this.#retries.delete(name);
          if (this.isConnected) this.requestUpdate();
        }),
      );
      this.requestUpdate();
    };
    (CHUNKS[name] as () => Promise<unknown>)().then((module) => loaded(module as NonNullable<LoadedChunks[K]>), failed);
    return undefined;
  }

  /**
   * After a failed load of chunk or catalog `name`: run `retry` after
   * {@link CHUNK_RETRY_MS}, doubled with each failure in a row, up to 32 s.
   * A load that succeeds resets the count.
   */
  #nextTry(name: ChunkName | Locale, retry: () => void): ReturnType<typeof setTimeout> {
    const failures = Math.min((this.#chunkFailures.get(name) ?? 0) + 1, 6);
    this.#chunkFailures.set(name, failures);
    return setTimeout(retry, CHUNK_RETRY_MS << (failures - 1));
  }

  /** The user asked for chunk `name`'s view (opened the lobby, or the device panel): the wait before its next try is over. */
  #hurry(name: ChunkName): void {
    clearTimeout(this.#retries.get(name));
    this.#retries.delete(name);
  }

  /** Close the lobby's controller and the call's device panel (device listener, level meter). */
  #closeLobby(): void {
    this.#devicesOpen = false;
    this.#focusNext = null;
    this.#lobby?.dispose();
    this.#lobby = null;
  }

  /**
   * The ring we made or heard ended without a call (`declined`, `missed`,
   * `busy`): our camera and microphone (if any) stop at once, and the
   * outcome is the state.
   */
  #ringEnded(outcome: 'declined' | 'missed' | 'busy'): void {
    const rung = this.#ring === 'incoming';
    this.#ring = 'none';
    if (this.#intent !== 'join' && !rung) return;
    this.#rungOnly = rung;
    this.#endReason = outcome;
    this.#closeLobby();
    this.#peers.closeAll();
    this.#media.stop();
    this.#intent = outcome;
    this.requestUpdate();
  }

  #end(): void {
    // What a device action said during the call goes with it.
    this.#error = null;
    this.#ring = 'none';
    this.#rungOnly = false;
    this.#closeLobby();
    this.#peers.closeAll();
    this.#media.stop();
    this.#intent = 'ended';
    this.requestUpdate();
  }

  #fail(error: CallError): void {
    // Leave the room without "hanging up": the other side sees `peer-left`
    // (reason `left`) and waits for us to come back; retry reconnects.
    this.#endReason = error.code === 'room-full' ? 'room-full' : 'failed';
    this.#ring = 'none';
    this.#signaling.disconnect();
    this.#closeLobby();
    this.#peers.closeAll();
    this.#media.stop();
    this.#intent = 'failed';
    this.#report(error);
    if (error.code !== 'permission-denied') return;
    this.#permissionWatch?.abort();
    this.#permissionWatch = new AbortController();
    this.#watchPermissions();
  }

  /**
   * Watch the refused permissions (Permissions API, in the error chunk: now
   * if it is here, else from `#need` once it arrives, retries included):
   * once the user allows them in the browser's settings, join again by
   * itself. Browsers that cannot query them just keep the retry button.
   */
  #watchPermissions(): void {
    const watch = this.#permissionWatch;
    if (!watch || watch.signal.aborted || !this.#loaded.failure) return;
    const names: PermissionName[] = this.#media.videoEnabled ? ['microphone', 'camera'] : ['microphone'];
    this.#loaded.failure.retryWhenGranted(names, () => this.#error?.code === 'permission-denied', this.#handleJoin, watch);
  }

  #report(error: CallError): void {
    this.#error = error;
    this.requestUpdate();
    this.dispatchEvent(new CallErrorEvent(error));
  }

  /**
   * Say `text` through the live region. What is said within one update is
   * said together, each in its own line ("Bob hung up", "Call ended"): a
   * polite region read after the update would otherwise only give the last.
   */
  #announce(text: string): void {
    if (this.#announced) {
      this.#announcements = [];
      this.#batch++;
    }
    this.#announced = false;
    this.#announcements.push(text);
    this.requestUpdate();
  }

  /** The string `key` in the host page's overrides, else the catalog, else English ('' if no chunk loaded it yet). */
  #t(key: MessageKey): string {
    return this.messages?.[key] ?? this.#catalog[key] ?? this.#english[key] ?? '';
  }

  /**
   * Pick the language (`lang` here or on an ancestor, else the page's) and
   * the direction (`dir` here or on an ancestor, else the language's), and
   * load the catalog when it changed; one that fails to load leaves English.
   */
  #resolveLanguage = (): void => {
    const lang = languageOf(this);
    const dirAttribute = inheritedAttribute(this, 'dir');
    this.#dir = dirAttribute === 'rtl' || dirAttribute === 'ltr' ? dirAttribute : directionOf(lang);
    this.#lang = lang;
    this.#digits = digitsOf(lang);
    const locale = localeFor(lang);
    if (locale !== this.#locale) {
      this.#locale = locale;
      this.#catalogLoad = this.#loadCatalog(locale);
    }
    this.requestUpdate();
  };

  /**
   * Load the catalog of `locale` and speak it, if it is still the one
   * wanted. One that does not load leaves English (`#locale` says so) and is
   * asked for again like a chunk (see `#nextTry`), or when the widget is put
   * back in the page.
   */
  #loadCatalog(locale: Locale): Promise<void> {
    return LOCALES[locale]().then(
      (catalog) => {
        if (this.#locale !== locale) return;
        this.#chunkFailures.delete(locale);
        this.#catalog = catalog;
        this.requestUpdate();
      },
      () => {
        if (this.#locale !== locale) return;
        this.#locale = 'en';
        this.#catalog = en;
        this.#nextTry(locale, () => this.isConnected && this.#resolveLanguage());
        this.requestUpdate();
      },
    );
  }

  #displayName(name: string): string {
    return name || this.#t('guest');
  }

  #handleJoin = (): void => void (this.skipLobby || this.#intent === 'lobby' ? this.join() : this.openLobby());
  #handleAccept = (): void => void this.accept();
  #handleDecline = (): void => this.decline();
  #handleLeaveLobby = (): void => this.leaveLobby();
  #handleHangup = (): void => this.hangup();
  #handleMic = (): void => this.toggleMic();
  #handleCamera = (): void => this.toggleCamera();
  #handleSwitchCamera = (): void => void this.switchCamera();
  /** More shows or hides the secondary controls; hiding them closes the device panel that one of them opened. */
  #handleMore = (): void => {
    this.#moreOpen = !this.#moreOpen;
    if (!this.#moreOpen && this.#devicesOpen) this.#closeLobby();
    this.requestUpdate();
  };
  /**
   * Open or close the call's device panel: the lobby's camera, microphone and
   * speaker selectors (its chunk loads on first use), which follow
   * `devicechange`; a choice applies at once (see `useDevice`).
   */
  #handleDevices = (): void => {
    if (this.#devicesOpen) this.#closeLobby();
    else {
      this.#devicesOpen = true;
      this.#focusNext = 'devices';
      this.#hurry('lobby');
    }
    this.requestUpdate();
  };
  /**
   * Escape closes what is open under focus, innermost first: the device
   * panel (from it or its button; focus back on the button), then More's
   * group (from it or More, when More is shown: a narrow widget; focus back
   * on More). The page does not see that key; Escape in page content slotted
   * into the widget, or with nothing to close, is the page's.
   */
  #handleKeydown = (event: KeyboardEvent): void => {
    if (event.key !== 'Escape') return;
    const from = (selector: string): boolean => event.composedPath().some((node) => (node as Element).matches?.(selector));
    const panel = this.#devicesOpen && from('[part~=devices],[part~=devices-button]');
    if (!panel && !(this.#moreOpen && from('#more>button,[part~=more-button]') && this.renderRoot.querySelector('[part~=more-button]')?.getClientRects().length)) return;
    event.stopPropagation();
    event.preventDefault();
    // (Closing More closes the device panel opened from it.)
    if (panel) this.#closeLobby();
    else this.#handleMore();
    this.#focusNext = panel ? 'devices-button' : 'more-button';
    this.requestUpdate();
  };
  #handleInvite = (): void => void this.copyInviteLink();
  #handleDismiss = (): void => this.dismiss();
  #handleLock = (): void => (this.locked ? this.unlock() : this.lock());
  /** The network came back or changed: restart ICE now instead of waiting for consent timeouts. */
  #handleNetworkChange = (): void => {
    if (this.#intent === 'join') this.#peers.restartAll('network-change');
  };
  /** The page is going away: tell the room at once (`bye`), stop the camera. */
  #handlePageHide = (): void => {
    // Out of a call too: our place in the room is freed at once, or a reload
    // would find it held for the resume grace (and a 1:1 room full).
    this.#signaling.disconnect();
    if (this.#intent !== 'join') return;
    this.#endReason = 'hangup';
    this.#end();
  };
  /** Back from the back/forward cache: in the room again, to be found (and rung). */
  #handlePageShow = (event: PageTransitionEvent): void => {
    if (event.persisted && (this.#intent === 'idle' || this.mode === 'call')) this.#connectSignaling();
  };

  override render(): TemplateResult {
    const state = this.#state;
    const inCall = this.#intent === 'join';
    const inLobby = this.#intent === 'lobby';
    const links = [...this.#peers.links.values()];
    // Two templates (two plain boxes: a minifier would merge identical
    // ones), taken in turn by each list of announcements: Lit renders
    // another template afresh, so a sentence said again is a new node,
    // which a screen reader reads (the same template would keep the old
    // node, its text unchanged).
    const said = this.#announcements.map((text) => html`<p>${text}</p>`);
    for (const [id, video] of this.#videos) {
      if (!this.#peers.links.has(id)) {
        video.srcObject = null;
        this.#videos.delete(id);
      }
    }
    const devices = this.#devicesOpen ? this.#lobby : null;
    const soundHeldBack = this.#soundHeldBack();
    const invite = html`<button part="button invite-button" @click=${this.#handleInvite}>
      ${this.#t(this.#copied ? 'inviteCopied' : 'copyInvite')}
    </button>`;
    // A group (two or more others): the local preview is a tile of the grid,
    // not an inset over someone's video. Tiles: 2 columns up to 4, 3 above
    // (2 in a narrow widget), so that each stays near the 4:3 of a camera at
    // the default size; a short last row (three or five people) sits at the middle.
    const group = links.length > 1;
    const tiles = links.length + (this.#media.stream ? 1 : 0);
    const columns = group ? (tiles > 4 ? 3 : 2) : 1;
    return html`<div part="base" class="base" dir=${this.#dir} lang=${this.#lang} @keydown=${this.#handleKeydown}>
      <div class=${inLobby ? 'view in-lobby' : 'view'}>
        <div part="stage" class="stage columns-${columns}${tiles % 2 ? ' odd' : ''}">
          ${links.length
            ? links.map((link) => this.#renderRemote(link))
            : inLobby && this.#lobby
              ? this.#lobby.render()
              : this.#renderPlaceholder()}
          <div part="tile local-tile" class=${group ? 'tile' : 'tile local'} ?hidden=${!this.#media.stream}>
            <video
              part="local-video"
              aria-label=${this.#t('localVideo')}
              .muted=${true}
              muted
              autoplay
              playsinline
            ></video>
            ${this.#media.videoEnabled
              ? nothing
              : html`<div class="camera-off"><span part="avatar" aria-hidden="true">${initials(cleanDisplayName(this.name))}</span></div>`}
            ${group ? this.#label(this.#t('you'), this.#media.audioEnabled) : nothing}
          </div>
        </div>
        <div class="top">
          <div part="status-badge">
            ${this.#t(`state-${state}`)}${inCall && state === 'connected' && this.#signaling.status === 'reconnecting'
              ? html`<span part="signaling-hint">${this.#t('separator') + this.#t('roomReconnecting')}</span>`
              : nothing}
          </div>
          ${inCall && this.locked ? html`<span part="lock-badge">${this.#t('locked')}</span>` : nothing}
          ${this.#connectedAt !== null || (state === 'ended' && this.#duration)
            ? html`<time part="call-timer">${clock(this.#connectedAt === null ? this.#duration : Date.now() - this.#connectedAt, this.#digits)}</time>`
            : nothing}
        </div>
        <div part="brand" class="brand"><slot name="brand"></slot></div>
        ${links.length && (this.#error || this.#inviteFallback || soundHeldBack)
          ? html`<div part="notice" class="notice">
              ${soundHeldBack ? html`<button part="button sound-button">${this.#t('playSound')}</button>` : nothing}
              ${this.#renderNotes()}
            </div>`
          : nothing}
        ${devices ? devices.renderDevices() : nothing}
      </div>
      <div part="controls" role="group" aria-label=${this.#t('controls')}>
        ${state === 'incoming'
          ? html`<button part="button accept-button" @click=${this.#handleAccept}>${this.#t('accept')}</button>
              <button part="button decline-button" @click=${this.#handleDecline}>${this.#t('decline')}</button>
              <slot name="controls"></slot>
              ${invite}`
          : inCall || inLobby
          ? html`
              <button
                part="button mic-button"
                aria-pressed=${String(!this.#media.audioEnabled)}
                @click=${this.#handleMic}
              >
                ${this.#t('mute')}
              </button>
              ${this.video === 'off' && !this.#media.videoEnabled
                ? nothing
                : html`<button
                    part="button camera-button"
                    aria-pressed=${String(!this.#media.videoEnabled)}
                    @click=${this.#handleCamera}
                  >
                    ${this.#t('cameraOff')}
                  </button>`}
              ${this.#media.videoEnabled && this.#media.canSwitchFacing
                ? html`<button part="button switch-camera-button" @click=${this.#handleSwitchCamera}>
                    ${this.#t('switchCamera')}
                  </button>`
                : nothing}
              ${inLobby
                ? html`<button part="button join-button" @click=${this.#handleJoin}>
                      ${this.#t(this.mode === 'call' ? 'call' : 'joinNow')}
                    </button>
                    <button part="button cancel-button" @click=${this.#handleLeaveLobby}>${this.#t('cancel')}</button>
                    <slot name="controls"></slot>
                    ${invite}`
                : html`<button
                      part="button more-button"
                      aria-expanded=${String(this.#moreOpen)}
                      aria-controls="more"
                      @click=${this.#handleMore}
                    >
                      ${this.#t('more')}
                    </button>
                    <div id="more" class=${this.#moreOpen ? 'more open' : 'more'}>
                      <button
                        part="button devices-button"
                        aria-expanded=${String(this.#devicesOpen)}
                        aria-controls=${devices ? 'devices' : nothing}
                        @click=${this.#handleDevices}
                      >
                        ${this.#t('devices')}
                      </button>
                      ${this.isHost
                        ? html`<button
                            part="button lock-button"
                            aria-pressed=${String(this.locked)}
                            @click=${this.#handleLock}
                          >
                            ${this.#t('lockRoom')}
                          </button>`
                        : nothing}
                      <slot name="controls"></slot>
                      ${invite}
                    </div>
                    <button part="button hangup-button" @click=${this.#handleHangup}>${this.#t('hangup')}</button>`}
            `
          : html`<button part="button join-button" @click=${this.#handleJoin}>
                ${this.#t(this.#joinLabel(state))}
              </button>
              <slot name="controls"></slot>
              ${invite}`}
      </div>
      ${this.knocking.length
        ? this.#need('knocks')?.renderKnocks(this.#chunk, this, (name) => this.#displayName(name), this.#admitRefused)
        : nothing}
      <div class="sr-only" aria-live="polite">${this.#batch % 2 ? html`<div>${said}</div>` : html`<section>${said}</section>`}</div>
    </div>`;
  }

  /** The join button's words: join, call, try again, join or call again (not to one who was only rung). */
  #joinLabel(state: CallState): MessageKey {
    if (state === 'failed') return 'retry';
    const again = state !== 'idle' && !this.#rungOnly;
    if (this.mode === 'call') return again ? 'callAgain' : 'call';
    return again ? 'rejoin' : 'join';
  }

  /**
   * After each render: the local preview gets its stream, and keyboard focus
   * never falls out of the widget: when the control that had it is replaced
   * (join → in-call controls, hang-up or an error → join again), it moves to
   * the control that now leads: the microphone toggle in a call, accept when
   * rung, the join (retry) button out of one; from a knock admitted or
   * rejected, the next knock's Admit, else the last one's, else the lock.
   */
  protected override updated(): void {
    this.#announced = true;
    // The stream only when it changed: Lit commits an object bound to a
    // property on every render, and each `srcObject` assignment runs the
    // media element load algorithm again (HTML §4.8.11.5), which restarted
    // the preview and cost up to 7 ms of main thread per render (bench/ttff).
    // A stream with no track (joined with neither camera nor microphone) is
    // none: a media element given one never gets data, and holds back its
    // document's load event for good (Chromium, measured).
    const preview = this.renderRoot.querySelector<HTMLVideoElement>('[part=local-video]');
    const stream = this.#media.stream?.getTracks().length ? this.#media.stream : null;
    if (preview && preview.srcObject !== stream) preview.srcObject = stream;
    const target = this.#focusNext;
    const wanted = target && this.renderRoot.querySelector<HTMLElement>(`[part~="${target}"]`);
    if (wanted) {
      this.#focusNext = null;
      // Into the panel only if focus is still on its button (a slow chunk must
      // not pull focus from wherever the user went meanwhile).
      if (target !== 'devices' || this.shadowRoot?.activeElement?.matches('[part~=devices-button]')) wanted.focus();
    }
    // A knock admitted, rejected or given up under the user's focus.
    const knock = this.#knockFocus;
    if (knock && this.#loaded.knocks?.refocus(this.renderRoot, knock)) return;
    if (!this.#hadFocus || this.shadowRoot?.activeElement) return;
    const next = this.#state === 'incoming' ? 'accept-button' : this.#intent === 'join' ? 'mic-button' : 'join-button';
    this.renderRoot.querySelector<HTMLElement>(`[part~="${next}"]`)?.focus();
  }

  #renderRemote(link: PeerLink): TemplateResult {
    const name = this.#displayName(this.#signaling.roster.get(link.id)?.name ?? '');
    return html`<div part="tile remote-tile" class="tile">
      ${this.#remoteVideo(link, format(this.#t('remoteVideo'), { name }))}
      ${link.connectionState === 'disconnected' || link.connectionState === 'failed'
        ? html`<div class="camera-off" part="connection-lost">${this.#t('connectionLost')}</div>`
        : link.remoteVideo
          ? nothing
          : html`<div class="camera-off">
              <span part="avatar" aria-hidden="true">${initials(name)}</span>
              <span class="sr-only">${this.#t('cameraIsOff')}</span>
            </div>`}
      ${this.#label(name, link.remoteAudio)}
    </div>`;
  }

  /** A tile's name badge, which says when that microphone is off; the name keeps its own direction (`<bdi>`). */
  #label(name: string, audio: boolean): TemplateResult {
    return html`<span part="name-label" class="label"><bdi>${name}</bdi>${audio ? nothing : this.#t('separator') + this.#t('micIsOff')}</span>`;
  }

  /**
   * The `<video>` of `link`, one element per peer for as long as its link
   * lives: tiles render by position, and a peer's video keeps playing when a
   * tile before it goes away (a new element would restart playback).
   */
  #remoteVideo(link: PeerLink, label: string): HTMLVideoElement {
    let video = this.#videos.get(link.id);
    if (!video) {
      video = document.createElement('video');
      video.setAttribute('part', 'remote-video');
      video.autoplay = video.playsInline = true;
      this.#videos.set(link.id, video);
    }
    if (video.srcObject !== link.stream) {
      video.srcObject = link.stream;
      if (link.stream) this.#play(video);
    }
    // The chosen speaker, at once (Audio Output Devices API). One that cannot
    // be used (gone, or not allowed) falls back to the default, once: not
    // retried on every render, and said once, not by every tile.
    const sink = this.speakerId;
    if ('setSinkId' in video && video.sinkId !== sink) {
      video.setSinkId(sink).catch((error: unknown) => {
        if (this.speakerId !== sink) return;
        this.speakerId = '';
        this.#report(new CallError('speaker-unavailable', `speaker ${sink} cannot be used`, { cause: error }));
      });
    }
    video.setAttribute('aria-label', label);
    return video;
  }

  /**
   * Play a remote video. Where the browser will not start it with sound
   * (its autoplay policy: no user activation on the page yet, HTML
   * §6.4.1 "sticky activation", and, in Chromium, no camera or microphone
   * captured; `play()` rejects with `NotAllowedError`), it
   * plays muted, so the picture shows, and the sound button asks for the
   * click the browser wants; said once.
   */
  #play(video: HTMLVideoElement): void {
    const played = (): void => {
      if (!video.muted) this.#soundSaid = false;
    };
    video.play().then(played, (error: unknown) => {
      if (video.muted || (error as Error).name !== 'NotAllowedError') return;
      video.muted = true;
      void video.play().catch(() => {});
      this.requestUpdate();
    });
  }

  /**
   * Some remote video plays muted (see `#play`) while its peer sends sound:
   * a remote audio track is `muted` until its first RTP packet, and stays so
   * for a peer that sends none (W3C Media Capture and Streams §4.3.1). Not
   * a video whose link is gone (the render drops it; `willUpdate` comes first).
   */
  #soundHeldBack(): boolean {
    return [...this.#videos].some(
      ([id, video]) =>
        this.#peers.links.has(id) && video.muted && (video.srcObject as MediaStream | null)?.getAudioTracks().some((track) => !track.muted),
    );
  }

  /**
   * The sound button was pressed, or anything else in the widget clicked:
   * the user activation the browser wanted (HTML §6.4.1). Without one (a
   * click the page's script made outside a user's), the videos are muted
   * again (see `#play`).
   */
  #handleSound = (): void => {
    if (![...this.#videos.values()].some((video) => video.muted)) return;
    for (const video of this.#videos.values()) {
      video.muted = false;
      this.#play(video);
    }
    this.requestUpdate();
  };

  #renderPlaceholder(): TemplateResult {
    const ring = this.#state === 'incoming' || this.#state === 'ringing';
    const peerName = this.#displayName(this.#ringPeer?.name ?? '');
    return html`<div part="placeholder" class="tile placeholder">
      ${ring
        ? html`<p part="ring-note" class="ring">
            ${this.#state === 'incoming'
              ? format(this.#t('callingYou'), { name: peerName })
              : this.#ringPeer?.name
                ? format(this.#t('ringingPeer'), { name: peerName })
                : this.#t(this.#ringPeer ? 'ringingAnonymous' : 'ringingNobody')}
          </p>`
        : this.#state === 'ended' && this.#endReason === 'remote-hangup'
          ? html`<p part="end-note" class="ring">${format(this.#t('peerHungUp'), { name: this.#displayName(this.#hungUpBy) })}</p>`
          : nothing}
      ${this.#renderNotes()}
    </div>`;
  }

  /**
   * The error reported last, in words (with the ways out of a failure), and
   * the invite link to copy by hand when the clipboard refused it: in the
   * placeholder, or over the video in a call (`part="notice"`).
   */
  #renderNotes(): TemplateResult {
    const error = this.#error;
    return html`${error
      ? this.#need('failure')?.renderFailure(this.#chunk, {
          error,
          failed: this.#intent === 'failed',
          video: this.video,
          join: (options) => void this.join(options),
          dismiss: this.#handleDismiss,
        })
      : nothing}${this.#inviteFallback
      ? html`<label
            >${this.#t('inviteManual')}
            <input part="invite-input" class="invite" readonly .value=${this.inviteUrl} @focus=${selectAll} />
          </label>
          ${error ? nothing : html`<button part="button dismiss-button" @click=${this.#handleDismiss}>${this.#t('dismiss')}</button>`}`
      : nothing}`;
  }
}

/** `navigator.connection` (Network Information API), where the browser has it. */
function networkInformation(): EventTarget | undefined {
  return (globalThis.navigator as { connection?: EventTarget } | undefined)?.connection;
}

/**
 * A call's length as `m:ss` or `h:mm:ss`, in the digits `digits` writes
 * (CLDR's for the language and region: Latin for `ar` and `ar-MA`,
 * Arabic-Indic for `ar-EG` and `ar-SA`, Persian for `fa`).
 */
function clock(ms: number, digits: Intl.NumberFormat): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const n = (value: number, pad?: unknown) => (pad && value < 10 ? digits.format(0) : '') + digits.format(value);
  const h = Math.floor(s / 3600);
  const mmss = `${n(Math.floor(s / 60) % 60, h)}:${n(s % 60, 1)}`;
  return h ? `${n(h)}:${mmss}` : mmss;
}

/** Integers in the digits of language `lang` (BCP 47); a tag Intl rejects (a page's `lang="x_y!"`) gets the browser's own. */
function digitsOf(lang: string): Intl.NumberFormat {
  try {
    return new Intl.NumberFormat(lang, { useGrouping: false });
  } catch {
    return new Intl.NumberFormat(undefined, { useGrouping: false });
  }
}

/** Up to two initials of a display name (whole code points), for a tile without video. */
function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  return words.length ? words.slice(0, 2).map((w) => [...w][0]!.toUpperCase()).join('') : '?';
}

/** Constructed sheets of the chunks' CSS, by text: one per page, shared by every widget (like Lit's own). */
const sheets = new Map<string, CSSStyleSheet>();

/** Add `cssText` to `root` (a shadow root) once, as a constructed sheet (which a strict `style-src` allows). */
function adopt(root: HTMLElement | DocumentFragment, cssText: string): void {
  let sheet = sheets.get(cssText);
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(cssText);
    sheets.set(cssText, sheet);
  }
  if (root instanceof ShadowRoot && !root.adoptedStyleSheets.includes(sheet)) {
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  }
}

function selectAll(event: FocusEvent): void {
  (event.target as HTMLInputElement).select();
}

if (!customElements.get('call-widget')) customElements.define('call-widget', CallWidget);

declare global {
  interface HTMLElementTagNameMap {
    'call-widget': CallWidget;
  }
}
