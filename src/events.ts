/**
 * The element's public events: one typed `Event` subclass each, all
 * `bubbles: true, composed: true` so they cross the shadow boundary.
 */
import type { CallError } from './call-error.ts';
import type { CallState } from './call-state.ts';
import type { PeerInfo } from './protocol.ts';
import type { ReconnectCause } from './controllers/peer-controller.ts';

const init = { bubbles: true, composed: true } as const;

/** Fired when `state` changes. */
export class CallStateChangeEvent extends Event {
  static readonly eventName = 'call-state-change';
  constructor(
    readonly previous: CallState,
    readonly state: CallState,
  ) {
    super(CallStateChangeEvent.eventName, init);
  }
}

/** Fired when something fails; `code` is a {@link CallError} code. */
export class CallErrorEvent extends Event {
  static readonly eventName = 'call-error';
  readonly code: CallError['code'];
  readonly message: string;
  constructor(readonly error: CallError) {
    super(CallErrorEvent.eventName, init);
    this.code = error.code;
    this.message = error.message;
  }
}

/** Fired when another peer's page enters the room; `peer.name` is '' and `peer.inCall` false until it joins the call (unless it arrived while our socket was down: then it is told as it is now). */
export class CallPeerJoinedEvent extends Event {
  static readonly eventName = 'call-peer-joined';
  constructor(readonly peer: PeerInfo) {
    super(CallPeerJoinedEvent.eventName, init);
  }
}

/** Fired when another peer leaves the room: `hangup` (it hung up) or `left` (its connection closed). */
export class CallPeerLeftEvent extends Event {
  static readonly eventName = 'call-peer-left';
  constructor(
    readonly peer: PeerInfo,
    readonly reason: 'hangup' | 'left',
  ) {
    super(CallPeerLeftEvent.eventName, init);
  }
}

/**
 * Fired on the room's host when someone knocks at its locked room; answer with
 * `admit(event.peer.id)` or `reject(event.peer.id)`.
 */
export class CallKnockEvent extends Event {
  static readonly eventName = 'call-knock';
  constructor(readonly peer: PeerInfo) {
    super(CallKnockEvent.eventName, init);
  }
}

/**
 * Fired for every recovery step: `attempt` counts from 1 within one outage;
 * `cause` is `signaling` (the room socket is reopening, or a negotiation
 * step failed), `ice-disconnected`
 * (the media path was down for 3 s: ICE restart), `ice-failed` (ICE restart
 * at once), `network-change` (the browser went online or changed network:
 * ICE restart), `connect-timeout` (a link's first offer still unanswered
 * after 10 s: sent again, every 10 s; not connected after 30 s: the steps
 * start) or
 * `rebuild` (a new peer connection from scratch). A link's
 * scheduled steps after its first say `ice-failed` whatever started the
 * outage; a network change says `network-change` at any step, a rebuild
 * `rebuild`, and the step a link takes when the room socket is back under
 * the same identity `signaling`. `peerId` names the peer whose link recovers;
 * it is null only for the room socket's own steps (`signaling`, where
 * `attempt` counts the socket's reconnects).
 */
export class CallReconnectEvent extends Event {
  static readonly eventName = 'call-reconnect';
  constructor(
    readonly attempt: number,
    readonly cause: ReconnectCause,
    readonly peerId: string | null = null,
  ) {
    super(CallReconnectEvent.eventName, init);
  }
}

/**
 * Why a call ended (`CallEndedEvent.reason`): `hangup` (we hung up),
 * `remote-hangup` (the other side of a 1:1 call hung up), `failed` (an error:
 * see `call-error`), `room-full`; the ring flow adds `declined`, `missed`
 * and `busy`.
 */
export type CallEndReason = 'hangup' | 'remote-hangup' | 'declined' | 'missed' | 'busy' | 'failed' | 'room-full';

/**
 * Fired once when a call, or an attempt at one, is over (`state` became
 * `ended` or `failed`). `durationMs` is the time from the first moment media
 * flowed (`connected`) to the end, ms; 0 if it never did.
 */
export class CallEndedEvent extends Event {
  static readonly eventName = 'call-ended';
  constructor(
    readonly durationMs: number,
    readonly reason: CallEndReason,
  ) {
    super(CallEndedEvent.eventName, init);
  }
}

declare global {
  interface GlobalEventHandlersEventMap {
    'call-ended': CallEndedEvent;
    'call-state-change': CallStateChangeEvent;
    'call-error': CallErrorEvent;
    'call-peer-joined': CallPeerJoinedEvent;
    'call-peer-left': CallPeerLeftEvent;
    'call-knock': CallKnockEvent;
    'call-reconnect': CallReconnectEvent;
  }
}
