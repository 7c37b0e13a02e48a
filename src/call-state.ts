/**
 * The widget's public `state`, decided in one place from the states of its
 * parts. Pure and DOM-free: the table of cases is unit-tested.
 */

/**
 * - `idle`: not joined; the join control is offered.
 * - `lobby`: the pre-join lobby: camera preview, device choice, microphone
 *   level, display name; nothing is sent to the room yet.
 * - `joining`: join pressed; waiting for camera/microphone and the room.
 * - `ringing`: (`mode="call"`) we rang; waiting for the other side to answer.
 * - `incoming`: someone rings us; accept or decline.
 * - `knocking`: the room is locked; waiting for its host to let us in.
 * - `waiting`: in the room and in the call, no other peer in the call yet.
 * - `connecting`: negotiating with a peer (SDP offer/answer, ICE, DTLS).
 * - `connected`: media flows with at least one peer.
 * - `reconnecting`: a link dropped and is being re-established.
 * - `ended`: the call is over (hang up, or the peer hung up).
 * - `declined`: the ring was declined (by the callee; both sides).
 * - `missed`: the ring went unanswered (timeout: both sides; a caller who hangs up first is `ended`, its callee `missed`).
 * - `busy`: the other side is ringing or talking with someone else.
 * - `failed`: the call cannot go on (an error; retry is offered).
 */
export type CallState =
  | 'idle'
  | 'lobby'
  | 'joining'
  | 'ringing'
  | 'incoming'
  | 'knocking'
  | 'waiting'
  | 'connecting'
  | 'connected'
  | 'reconnecting'
  | 'ended'
  | 'declined'
  | 'missed'
  | 'busy'
  | 'failed';

export const CALL_STATES: readonly CallState[] = [
  'idle',
  'lobby',
  'joining',
  'ringing',
  'incoming',
  'knocking',
  'waiting',
  'connecting',
  'connected',
  'reconnecting',
  'ended',
  'declined',
  'missed',
  'busy',
  'failed',
];

/** What the user asked for, and the terminal outcomes. */
export type CallIntent = 'idle' | 'lobby' | 'join' | 'ended' | 'declined' | 'missed' | 'busy' | 'failed';
/**
 * The states that end a call, or an attempt at one; as intents, they are the
 * state itself (`call-ended` fires on entering one).
 */
export const CALL_OUTCOMES: ReadonlySet<CallState> = new Set<CallState>(['ended', 'declined', 'missed', 'busy', 'failed']);
/**
 * Where the room's ring stands for us: `ringing` (we rang), `incoming` (we
 * are rung), `accepted` (it became the call), `none`.
 */
export type RingStatus = 'none' | 'ringing' | 'incoming' | 'accepted';
export type MediaStatus = 'idle' | 'acquiring' | 'ready' | 'failed';
/** `knocking`: the socket waits in a locked room's lobby (server frame `lobby`) for the host's decision. */
export type SignalingStatus = 'idle' | 'connecting' | 'open' | 'knocking' | 'reconnecting' | 'closed';

export interface CallStateInputs {
  intent: CallIntent;
  media: MediaStatus;
  signaling: SignalingStatus;
  /** The server acknowledged our `join` (we are in the call). */
  inCall: boolean;
  /** `RTCPeerConnection.connectionState` of the link to each remote peer in the call. */
  links: readonly RTCPeerConnectionState[];
  /** The ring flow (`mode="call"`); `none` in a plain room. */
  ring?: RingStatus;
}

export function deriveCallState({ intent, media, signaling, inCall, links, ring = 'none' }: CallStateInputs): CallState {
  // Rung while not in a call (idle, in the lobby, after one): answer it.
  if (ring === 'incoming' && intent !== 'join') return 'incoming';
  if (intent === 'idle' || CALL_OUTCOMES.has(intent as CallState)) return intent as CallState;
  if (media === 'failed') return 'failed';
  if (intent === 'lobby') return 'lobby';
  if (signaling === 'knocking') return 'knocking';
  if (media !== 'ready' || !inCall) return 'joining';
  if (ring === 'ringing') return 'ringing';
  const open = links.filter((s) => s !== 'closed');
  if (open.some((s) => s === 'connected')) return 'connected';
  if (open.some((s) => s === 'disconnected' || s === 'failed')) return 'reconnecting';
  if (open.length) return 'connecting';
  return signaling === 'open' ? 'waiting' : 'reconnecting';
}
