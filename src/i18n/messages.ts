/**
 * Every user-visible string of the widget, as a typed catalog. English is the
 * source: `en` here holds what the initial script shows, and each lazy chunk
 * carries the English of its own views as `MESSAGES` (src/failure.ts,
 * src/lobby.ts, src/knocks.ts), so the entry does not ship words for views
 * most calls never show. Other languages are whole catalogs ({@link Messages},
 * every key); host-page overrides are partial and win over both. A key
 * missing from a catalog falls back to English.
 */
import type { CallState } from '../call-state.ts';
import type { MESSAGES as FAILURE_MESSAGES } from '../failure.ts';
import type { MESSAGES as KNOCKS_MESSAGES } from '../knocks.ts';
import type { MESSAGES as LOBBY_MESSAGES } from '../lobby.ts';

export const en = {
  join: 'Join call',
  joinNow: 'Join now',
  cancel: 'Cancel',
  rejoin: 'Join again',
  retry: 'Try again',
  hangup: 'Hang up',
  mute: 'Mute microphone',
  cameraOff: 'Turn off camera',
  copyInvite: 'Copy invite link',
  inviteCopied: 'Invite link copied',
  inviteManual: 'Copy this link to invite someone',
  dismiss: 'Dismiss',
  controls: 'Call controls',
  you: 'You',
  remoteVideo: 'Video of {name}',
  localVideo: 'Your camera',
  guest: 'Guest',
  cameraIsOff: 'Camera off',
  micIsOff: 'Microphone off',
  /** Between a name and its status, or a state and a hint (`Bob · Microphone off`). */
  separator: ' · ',
  peerHere: '{name} is here',
  peerJoined: '{name} joined',
  peerLeft: '{name} left',
  peerHungUp: '{name} hung up',
  roomReconnecting: 'reconnecting to the room',
  connectionLost: 'Connection lost, reconnecting…',
  /** Shown while the browser keeps the others' sound off (its autoplay policy). */
  playSound: 'Turn on sound',
  /** Said when it appears; `{button}` is `playSound`. */
  soundBlocked: 'Sound is off until you press {button}',
  lockRoom: 'Lock room',
  locked: 'Locked',
  nowHost: 'You are the host now',
  roomLocked: 'Room locked: new arrivals must knock',
  roomUnlocked: 'Room unlocked',
  knocking: '{name} wants to join',
  camera: 'Camera',
  microphone: 'Microphone',
  deviceLost: '{device} was disconnected; using {fallback}',
  /** No other device of that kind to fall back on. */
  deviceLostNone: '{device} was disconnected',
  devices: 'Devices',
  /** The button that shows the secondary controls in a narrow widget. */
  more: 'More',
  switchCamera: 'Switch camera',
  call: 'Call',
  callAgain: 'Call again',
  accept: 'Accept',
  decline: 'Decline',
  callingYou: '{name} is calling',
  ringingPeer: 'Calling {name}…',
  ringingAnonymous: 'Calling…',
  ringingNobody: 'Calling… they will hear it when they open the link',
  'state-idle': 'Ready to join',
  'state-lobby': 'Getting ready',
  'state-joining': 'Joining…',
  'state-ringing': 'Ringing…',
  'state-incoming': 'Incoming call',
  'state-knocking': 'Waiting for the host to let you in',
  'state-waiting': 'Waiting for someone to join',
  'state-connecting': 'Connecting…',
  'state-connected': 'Connected',
  'state-reconnecting': 'Reconnecting…',
  'state-ended': 'Call ended',
  'state-declined': 'Call declined',
  'state-missed': 'Missed call: no answer',
  'state-busy': 'Busy: on another call',
  'state-failed': 'Call failed',
} satisfies Record<string, string> & Record<`state-${CallState}`, string>;

/** Every string's key: the entry's and the lazy chunks'. */
export type MessageKey =
  | keyof typeof en
  | keyof typeof FAILURE_MESSAGES
  | keyof typeof LOBBY_MESSAGES
  | keyof typeof KNOCKS_MESSAGES;
export type Messages = Record<MessageKey, string>;

/**
 * Fill `{name}`-style placeholders; values are plain text (rendered as text
 * by Lit), each isolated between U+2068 FIRST STRONG ISOLATE and U+2069 POP
 * DIRECTIONAL ISOLATE (UAX #9 §2.7; what `<bdi>` does in markup): an Arabic
 * name in an English sentence, or a Latin one ending in digits or
 * punctuation in an Arabic sentence, keeps its own direction and leaves the
 * sentence's order alone. Names cannot hold these characters themselves
 * (see `cleanDisplayName` in src/protocol.ts), so every isolate is closed.
 */
export function format(template: string, values: Record<string, string> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (Object.hasOwn(values, key) ? `\u2068${values[key]}\u2069` : whole));
}
