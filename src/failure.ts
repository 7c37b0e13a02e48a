/**
 * What a widget shows once it reports an error: the error in words and, after
 * a failure, the ways out (join with audio only, join without camera or
 * microphone, dismiss), plus the watch that rejoins by itself once a refused
 * permission is allowed. A separate chunk, loaded with the first error a
 * widget reports: most calls never fail. It carries the English of what it
 * shows (other languages have it in their catalogs). Like the lobby it
 * imports nothing at run time (see {@link ChunkContext}).
 */
import type { TemplateResult } from 'lit';
import type { CallError, CallErrorCode } from './call-error.ts';
import type { ChunkContext } from './chunk.ts';

/** English for every error code and for the ways out of a failure (`dismiss` is the entry's: the invite link's note has it too). */
export const MESSAGES = {
  joinAudioOnly: 'Join with audio only',
  joinReceiveOnly: 'Join without camera or microphone',
  'error-permission-denied':
    'Camera and microphone access was denied. Allow it from the camera icon in the address bar, then try again.',
  'error-device-not-found': 'No camera or microphone was found. Connect one, then try again.',
  'error-device-in-use': 'Your camera or microphone is in use by another app. Close it, then try again.',
  'error-constraints-unsatisfied': 'Your camera does not support the requested settings.',
  'error-insecure-context': 'Calls need a secure page (HTTPS).',
  'error-permission-policy-blocked': 'This page does not allow camera and microphone use (iframe "allow" attribute).',
  'error-unsupported-browser': 'This browser cannot make video calls.',
  'error-media-failed': 'The camera or microphone could not be started.',
  'error-speaker-unavailable': 'The chosen speaker cannot be used; sound plays on the default one.',
  'error-room-full': 'This call is full.',
  'error-room-unavailable': 'This call is not available.',
  'error-forbidden-origin': 'This page is not allowed to use the call server.',
  'error-protocol-mismatch':
    "This page's call widget does not match the call server's version. Reload the page, or try again later.",
  'error-rate-limited': 'Too many requests; the call server disconnected you.',
  'error-room-unreachable': 'The call server cannot be reached. Check your connection.',
  'error-connection-failed': 'The connection to the other person failed.',
} satisfies Record<string, string> & Record<`error-${CallErrorCode}`, string>;

/** The widget, as the error view sees it. */
export interface FailureView {
  /** The error reported last. */
  error: CallError;
  /** True once the call failed (state `failed`): the ways out are offered. */
  failed: boolean;
  /** The widget's `video` attribute: `off` offers no audio-only join (it is one already). */
  video: 'on' | 'off';
  join(options: { audio?: boolean; video?: boolean }): void;
  dismiss(): void;
}

/**
 * The error in words (`role="alert"`, announced when it appears) and, after
 * a failure, the ways out that fit its code: without a device, join with
 * audio only or with neither; without permission, join receiving only; and
 * always dismiss (after a failure back to idle; in a call the message goes).
 */
export function renderFailure({ html, nothing, t }: ChunkContext, view: FailureView): TemplateResult {
  const { error, failed } = view;
  const code = failed ? error.code : undefined;
  return html`<p part="error-message" class="error" role="alert">${t(`error-${error.code}`)}</p>
    ${code === 'device-not-found' && view.video !== 'off'
      ? html`<button part="button audio-only-button" @click=${() => view.join({ video: false })}>
          ${t('joinAudioOnly')}
        </button>`
      : nothing}
    ${code === 'device-not-found' || code === 'permission-denied' || code === 'permission-policy-blocked'
      ? html`<button part="button receive-only-button" @click=${() => view.join({ audio: false, video: false })}>
          ${t('joinReceiveOnly')}
        </button>`
      : nothing}
    <button part="button dismiss-button" @click=${() => view.dismiss()}>${t('dismiss')}</button>`;
}

/**
 * After a refused permission, watch `names` (Permissions API): once one is
 * allowed and none is still refused, call `retry` (once), provided
 * `stillRefused()` holds; a user who allows the camera, then the microphone,
 * sees one retry, not a second refusal. Aborting `signal` stops the watch.
 * Browsers that cannot query a name just keep the retry button.
 */
export function retryWhenGranted(
  names: readonly PermissionName[],
  stillRefused: () => boolean,
  retry: () => void,
  watch: AbortController,
): void {
  const statuses: PermissionStatus[] = [];
  const check = (): void => {
    if (!stillRefused()) return;
    if (!statuses.some((s) => s.state === 'granted') || statuses.some((s) => s.state === 'denied')) return;
    watch.abort();
    retry();
  };
  for (const name of names) {
    navigator.permissions?.query({ name }).then(
      (status) => {
        statuses.push(status);
        status.addEventListener('change', check, { signal: watch.signal });
      },
      () => undefined, // a permission name this browser cannot query
    );
  }
}
