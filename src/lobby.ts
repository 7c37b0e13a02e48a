/**
 * The pre-join lobby ("green room") and the device choice: camera,
 * microphone and speaker selectors and a live microphone level meter. A
 * separate chunk, loaded when a user opens the lobby (a click: camera and
 * microphone are never asked for on page load) or the device panel of a
 * call, so embeds that use neither do not download it.
 *
 * Device lists come from `enumerateDevices` (labels appear once the page has
 * camera/microphone permission) and refresh on `devicechange`, so a device
 * plugged in shows up at once. The speaker list is shown only where
 * `HTMLMediaElement.setSinkId` exists (Audio Output Devices API).
 *
 * The chunk imports nothing at run time: it renders with the widget's own Lit,
 * from the {@link ChunkContext} handed to it; the widget adds its `CSS` when
 * the chunk arrives.
 */
import type { nothing, ReactiveController, ReactiveControllerHost, TemplateResult } from 'lit';
import type { ChunkContext } from './chunk.ts';
import type { MediaKind } from './peer/peer-session.ts';
import type { MessageKey } from './i18n/messages.ts';

/** The widget, as the lobby sees it. */
export interface LobbyHost extends ReactiveControllerHost {
  /** The widget's shadow root (the level meter is updated in place there). */
  readonly renderRoot: ParentNode;
  /** The local stream (null until the camera and microphone are up). */
  readonly localStream: MediaStream | null;
  /** The display name, edited in the lobby. */
  name: string;
  /** The chosen speaker (`deviceId`, '' for the default). */
  speakerId: string;
  /** Switch a microphone or camera (see `CallWidget.useDevice`). */
  useDevice(kind: MediaKind, deviceId: string): Promise<void>;
  /** Leave the lobby for the call (see `CallWidget.join`): Enter in the name field, like the join button. */
  join(): Promise<void>;
}

/** English for the lobby and the device panel (see src/i18n/messages.ts). */
export const MESSAGES = {
  lobby: 'Camera and microphone',
  speaker: 'Speaker',
  yourName: 'Your name',
  micLevel: 'Microphone level',
};

/**
 * Level-meter refresh period, ms: 50 ms is the 20 Hz of a VU meter's
 * ballistics (IEC 60268-17 integrates over 300 ms; 20 Hz redraws are smooth).
 */
export const LEVEL_INTERVAL_MS = 50;

/** Whether this browser can route audio to a chosen output (`setSinkId`). */
export const canChooseSpeaker = (): boolean =>
  typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

/**
 * Root mean square of a block of samples in [-1, 1], scaled so that a
 * full-scale sine (RMS 1/√2) reads 1: `min(1, √2 · rms)`.
 */
export function level(samples: Float32Array): number {
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  return samples.length ? Math.min(1, Math.SQRT2 * Math.sqrt(sum / samples.length)) : 0;
}

/** Tags CSS text, so that the build minifies it like Lit's `css` (minify-literals). */
const css = String.raw;

/** The lobby's and the device panel's styles, in this chunk with them, added to the widget when the chunk arrives. */
export const CSS = css`
  /* The lobby form fills the view beside the preview inset. */
  .stage > .lobby {
    margin-inline-end: calc(min(30%, 200px) + 12px);
  }
  @container (max-width: 420px) {
    .stage > .lobby {
      margin-inline-end: calc(32% + 16px);
    }
  }
  .lobby {
    display: grid;
    align-content: start;
    gap: 8px;
    padding: 44px 12px 12px;
    overflow: auto;
  }
  .lobby label {
    display: grid;
    gap: 2px;
  }
  .lobby input,
  .lobby select,
  .lobby meter {
    box-sizing: border-box;
    width: 100%;
    min-height: 32px;
    font: inherit;
  }
  /* The call's device panel opens over the videos, at the inline end above
     the control bar, and never taller than the video area (it scrolls). */
  .devices {
    position: absolute;
    bottom: 8px;
    inset-inline-end: 8px;
    z-index: 1;
    width: min(320px, calc(100% - 16px));
    max-height: calc(100% - 16px);
    box-sizing: border-box;
    padding: 12px;
    border-radius: var(--_radius);
    background: var(--_bg);
    box-shadow: 0 2px 12px rgb(0 0 0 / 40%);
  }
  .lobby select:focus-visible,
  .devices:focus-visible {
    outline: 3px solid var(--_focus);
    outline-offset: 2px;
  }
`;

export class Lobby implements ReactiveController {
  /** Known devices, by kind, in the browser's order. */
  devices: MediaDeviceInfo[] = [];
  /** The latest microphone level, 0–1 (see {@link level}). */
  level = 0;
  readonly #host: LobbyHost;
  readonly #lit: ChunkContext;
  /** A string of the widget's catalog. */
  readonly #t: ChunkContext['t'];
  #audio: { context: AudioContext; analyser: AnalyserNode; track: MediaStreamTrack; samples: Float32Array<ArrayBuffer> } | null =
    null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #disposed = false;

  constructor(host: LobbyHost, chunk: ChunkContext) {
    this.#host = host;
    this.#t = chunk.t;
    this.#lit = chunk;
    host.addController(this);
    navigator.mediaDevices?.addEventListener('devicechange', this.#refresh);
    void this.#refresh();
    this.#timer = setInterval(() => this.#measure(), LEVEL_INTERVAL_MS);
  }

  hostConnected(): void {}

  /** Leaving the page (or the widget removed): release everything. */
  hostDisconnected(): void {
    this.dispose();
  }

  /** Stop metering, close the audio graph and stop listening for device changes. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    clearInterval(this.#timer);
    navigator.mediaDevices?.removeEventListener('devicechange', this.#refresh);
    void this.#audio?.context.close();
    this.#audio = null;
    this.#host.removeController(this);
  }

  /** Re-read the device list (after permission is granted labels appear). */
  #refresh = async (): Promise<void> => {
    const devices = (await navigator.mediaDevices?.enumerateDevices()) ?? [];
    if (this.#disposed) return;
    this.devices = devices.filter((d) => d.deviceId !== '');
    this.#host.requestUpdate();
  };

  #measure(): void {
    const track = this.#host.localStream?.getAudioTracks()[0];
    if (track && this.#audio?.track !== track) {
      void this.#audio?.context.close();
      const context = new AudioContext();
      const analyser = context.createAnalyser();
      analyser.fftSize = 1024;
      context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
      this.#audio = { context, analyser, track, samples: new Float32Array(analyser.fftSize) };
      // Labels of a just-granted permission, and the device actually opened.
      void this.#refresh();
    }
    if (!this.#audio) return;
    this.#audio.analyser.getFloatTimeDomainData(this.#audio.samples);
    // A muted track carries silence: the meter reads what the call would send.
    this.level = track?.enabled ? level(this.#audio.samples) : 0;
    // Straight to the element: a render of the whole widget 20 times a second is not needed.
    const meter = this.#host.renderRoot.querySelector<HTMLMeterElement>('[part~="level-meter"]');
    if (meter) meter.value = this.level;
  }

  /** The lobby panel: name field, device selectors, level meter. */
  render(): TemplateResult {
    const { html } = this.#lit;
    const host = this.#host;
    const submit = (e: Event) => {
      e.preventDefault();
      void host.join();
    };
    return html`<form part="lobby" class="lobby" aria-label=${this.#t('lobby')} @submit=${submit}>
      <label
        >${this.#t('yourName')}
        <input
          part="name-input"
          autocomplete="nickname"
          maxlength="64"
          .value=${host.name}
          @input=${(e: Event) => (host.name = (e.target as HTMLInputElement).value)}
      /></label>
      ${this.#devices()}
    </form>`;
  }

  /**
   * The device panel of a call (`id="devices"`, part `devices`, focusable so
   * that opening it can move focus there): the lobby's selectors and level
   * meter, without the name.
   */
  renderDevices(): TemplateResult {
    const { html } = this.#lit;
    return html`<form
      id="devices"
      part="devices"
      class="lobby devices"
      tabindex="-1"
      aria-label=${this.#t('lobby')}
      @submit=${(e: Event) => e.preventDefault()}
    >
      ${this.#devices()}
    </form>`;
  }

  /** Camera, microphone and speaker selectors (the devices in use selected) and the level meter. */
  #devices(): TemplateResult {
    const { html, nothing } = this.#lit;
    const host = this.#host;
    const stream = host.localStream;
    const current = (kind: MediaKind) =>
      stream?.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId ?? '';
    return html`${this.#select('camera-select', 'camera', 'videoinput', current('video'), (id) =>
        void host.useDevice('video', id),
      )}
      ${this.#select('microphone-select', 'microphone', 'audioinput', current('audio'), (id) =>
        void host.useDevice('audio', id),
      )}
      ${canChooseSpeaker()
        ? this.#select('speaker-select', 'speaker', 'audiooutput', host.speakerId, (id) => (host.speakerId = id))
        : nothing}
      <label
        >${this.#t('micLevel')}
        <meter part="level-meter" min="0" max="1" low="0.05" high="0.9" optimum="0.3" .value=${this.level}></meter>
      </label>`;
  }

  #select(
    part: string,
    label: MessageKey,
    kind: MediaDeviceKind,
    selected: string,
    choose: (deviceId: string) => void,
  ): TemplateResult | typeof nothing {
    const { html } = this.#lit;
    const devices = this.devices.filter((d) => d.kind === kind);
    if (!devices.length) return this.#lit.nothing;
    return html`<label
      >${this.#t(label)}
      <select part=${part} @change=${(e: Event) => choose((e.target as HTMLSelectElement).value)}>
        ${devices.map(
          (d, i) =>
            html`<option value=${d.deviceId} ?selected=${d.deviceId === selected}>
              ${d.label || `${this.#t(label)} ${i + 1}`}
            </option>`,
        )}
      </select>
    </label>`;
  }
}
