/**
 * Every user-visible string of the widget, as a typed catalog. English is the
 * source; other languages and host-page overrides are partial catalogs
 * merged over it, so a missing key falls back to English.
 */
import type { CallErrorCode } from '../call-error.ts';
import type { CallState } from '../call-state.ts';

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
  controls: 'Call controls',
  you: 'You',
  remoteVideo: 'Video of {name}',
  localVideo: 'Your camera',
  guest: 'Guest',
  cameraIsOff: 'Camera off',
  micIsOff: 'Microphone off',
  peerHere: '{name} is here',
  peerJoined: '{name} joined',
  peerLeft: '{name} left',
  peerHungUp: '{name} hung up',
  roomReconnecting: 'reconnecting to the room',
  connectionLost: 'Connection lost, reconnecting…',
  lockRoom: 'Lock room',
  roomLocked: 'Room locked: new arrivals must knock',
  roomUnlocked: 'Room unlocked',
  knocks: 'Waiting to join',
  knocking: '{name} wants to join',
  admit: 'Admit',
  reject: 'Reject',
  admitName: 'Admit {name}',
  rejectName: 'Reject {name}',
  lobby: 'Camera and microphone',
  camera: 'Camera',
  microphone: 'Microphone',
  speaker: 'Speaker',
  yourName: 'Your name',
  micLevel: 'Microphone level',
  deviceLost: '{device} was disconnected; using {fallback}',
  joinAudioOnly: 'Join with audio only',
  joinReceiveOnly: 'Join without camera or microphone',
  dismiss: 'Dismiss',
  devices: 'Devices',
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
  'error-permission-denied':
    'Camera and microphone access was denied. Allow it from the camera icon in the address bar, then try again.',
  'error-device-not-found': 'No camera or microphone was found. Connect one, then try again.',
  'error-device-in-use': 'Your camera or microphone is in use by another app. Close it, then try again.',
  'error-constraints-unsatisfied': 'Your camera does not support the requested settings.',
  'error-insecure-context': 'Calls need a secure page (HTTPS).',
  'error-permission-policy-blocked': 'This page does not allow camera and microphone use (iframe "allow" attribute).',
  'error-unsupported-browser': 'This browser cannot make video calls.',
  'error-media-failed': 'The camera or microphone could not be started.',
  'error-room-full': 'This call is full.',
  'error-room-unavailable': 'This call is not available.',
  'error-forbidden-origin': 'This page is not allowed to use the call server.',
  'error-rate-limited': 'Too many requests; the call server disconnected you.',
  'error-room-unreachable': 'The call server cannot be reached. Check your connection.',
  'error-connection-failed': 'The connection to the other person failed.',
} satisfies Record<string, string> &
  Record<`state-${CallState}`, string> &
  Record<`error-${CallErrorCode}`, string>;

export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;

/** Fill `{name}`-style placeholders; values are plain text (rendered as text by Lit). */
export function format(template: string, values: Record<string, string> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}
