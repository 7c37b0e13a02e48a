/**
 * One error type for everything the widget reports through `call-error`.
 *
 * `code` is one of {@link CallErrorCode}; `message` is a human sentence in
 * English for logs (the widget shows its own localized text for the code).
 */
export type CallErrorCode =
  /** Camera/microphone permission refused (`NotAllowedError`). */
  | 'permission-denied'
  /** No camera or microphone (`NotFoundError`). */
  | 'device-not-found'
  /** The device is used by another program or failed to start (`NotReadableError`, `AbortError`). */
  | 'device-in-use'
  /** No device satisfies the constraints (`OverconstrainedError`). */
  | 'constraints-unsatisfied'
  /** `navigator.mediaDevices` is missing: the page is not HTTPS or localhost. */
  | 'insecure-context'
  /** The page (or its iframe `allow` attribute) forbids camera/microphone (`SecurityError`). */
  | 'permission-policy-blocked'
  /** The browser has no `RTCPeerConnection`. */
  | 'unsupported-browser'
  /** Another getUserMedia failure. */
  | 'media-failed'
  /**
   * The chosen speaker (`speakerId`) cannot be used: unplugged, or not allowed
   * (`HTMLMediaElement.setSinkId` rejected). Sound plays on the default output.
   */
  | 'speaker-unavailable'
  /** The room already holds its capacity of peers (server close code 4001). */
  | 'room-full'
  /** The room id is malformed, or the room is not open to this client (4002). */
  | 'room-unavailable'
  /** The room server refuses this page's origin (4003). */
  | 'forbidden-origin'
  /**
   * The widget and the room server speak different protocol versions (4005):
   * one of them is out of date, a cached script say. Reloading the page may
   * fetch a matching one.
   */
  | 'protocol-mismatch'
  /** The room server closed the connection for flooding (4008). */
  | 'rate-limited'
  /** The room server could not be reached in time. */
  | 'room-unreachable'
  /** The peer connection failed and could not be re-established. */
  | 'connection-failed';

export class CallError extends Error {
  override readonly name = 'CallError';
  constructor(
    readonly code: CallErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Map a getUserMedia failure to a {@link CallError}; `blockedByPolicy`: the
 * page's permissions policy forbids a requested device, which turns a
 * `NotAllowedError` into `permission-policy-blocked`. This is the one place
 * where `DOMException` names become codes (names from the Media Capture and
 * Streams spec, §"MediaDevices.getUserMedia").
 */
export function mediaError(error: unknown, blockedByPolicy = false): CallError {
  if (error instanceof CallError) return error;
  const name = (error as { name?: unknown } | null)?.name;
  const detail = (error as { message?: unknown } | null)?.message;
  const text = typeof detail === 'string' && detail ? `: ${detail}` : '';
  switch (name) {
    case 'NotAllowedError':
      if (blockedByPolicy) {
        return new CallError('permission-policy-blocked', `camera/microphone blocked by permissions policy${text}`, {
          cause: error,
        });
      }
      return new CallError('permission-denied', `camera/microphone permission denied${text}`, { cause: error });
    case 'SecurityError':
      return new CallError('permission-policy-blocked', `camera/microphone blocked by permissions policy${text}`, {
        cause: error,
      });
    case 'NotFoundError':
      return new CallError('device-not-found', `no camera or microphone found${text}`, { cause: error });
    case 'NotReadableError':
    case 'AbortError':
      return new CallError('device-in-use', `camera or microphone could not be started${text}`, { cause: error });
    case 'OverconstrainedError':
      return new CallError('constraints-unsatisfied', `no device satisfies the constraints${text}`, { cause: error });
    default:
      return new CallError('media-failed', `getUserMedia failed${text}`, { cause: error });
  }
}
