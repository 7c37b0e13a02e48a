/**
 * The widget's public `state`, decided in one place from the states of its
 * parts. Pure and DOM-free: the table of cases is unit-tested.
 */

/**
 * - `idle`: not joined; the join control is offered.
 * - `lobby`: the pre-join lobby: camera preview, device choice, microphone
 *   level, display name; nothing is sent to the room yet.
 * - `joining`: join pressed; waiting for camera/microphone and the room.
 * - `knocking`: the room is locked; waiting for its host to let us in.
 * - `waiting`: in the room and in the call, no other peer in the call yet.
 * - `connecting`: negotiating with a peer (SDP offer/answer, ICE, DTLS).
 * - `connected`: media flows with at least one peer.
 * - `reconnecting`: a link dropped and is being re-established.
 * - `ended`: the call is over (hang up, or the peer hung up).
 * - `failed`: the call cannot go on (an error; retry is offered).
 */
export type CallState =
  | 'idle'
  | 'lobby'
  | 'joining'
  | 'knocking'
  | 'waiting'
  | 'connecting'
  | 'connected'
  | 'reconnecting'
  | 'ended'
  | 'failed';

export const CALL_STATES: readonly CallState[] = [
  'idle',
  'lobby',
  'joining',
  'knocking',
  'waiting',
  'connecting',
  'connected',
  'reconnecting',
  'ended',
  'failed',
];

/** What the user asked for, and the terminal outcomes. */
export type CallIntent = 'idle' | 'lobby' | 'join' | 'ended' | 'failed';
export type MediaStatus = 'idle' | 'acquiring' | 'ready' | 'failed';
/** `lobby`: the socket waits in a locked room's lobby for the host's decision. */
export type SignalingStatus = 'idle' | 'connecting' | 'open' | 'lobby' | 'reconnecting' | 'closed';

export interface CallStateInputs {
  intent: CallIntent;
  media: MediaStatus;
  signaling: SignalingStatus;
  /** The server acknowledged our `join` (we are in the call). */
  inCall: boolean;
  /** `RTCPeerConnection.connectionState` of the link to each remote peer in the call. */
  links: readonly RTCPeerConnectionState[];
}

export function deriveCallState({ intent, media, signaling, inCall, links }: CallStateInputs): CallState {
  if (intent === 'idle' || intent === 'ended' || intent === 'failed') return intent;
  if (media === 'failed') return 'failed';
  if (intent === 'lobby') return 'lobby';
  if (signaling === 'lobby') return 'knocking';
  if (media !== 'ready' || !inCall) return 'joining';
  const open = links.filter((s) => s !== 'closed');
  if (open.some((s) => s === 'connected')) return 'connected';
  if (open.some((s) => s === 'disconnected' || s === 'failed')) return 'reconnecting';
  if (open.length) return 'connecting';
  return signaling === 'open' ? 'waiting' : 'reconnecting';
}
