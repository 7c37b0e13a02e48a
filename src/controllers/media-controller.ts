/**
 * Local camera and microphone, as a Lit reactive controller.
 *
 * Acquires only when asked (`start`, called from a user gesture), stops every
 * track on `stop` and when the host leaves the DOM. Turning the camera off
 * stops its track so the camera light goes out; turning it on acquires a new
 * one. Observers hear of each track change through `onTrackChange` so the
 * peer layer can `replaceTrack` without renegotiating.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { CallError, mediaError } from '../call-error.ts';
import type { MediaStatus } from '../call-state.ts';
import type { MediaKind } from '../peer/peer-session.ts';

export type GetUserMedia = (constraints: MediaStreamConstraints) => Promise<MediaStream>;

export interface MediaControllerOptions {
  /** Injectable for tests and stories; defaults to `navigator.mediaDevices.getUserMedia`. */
  getUserMedia?: () => GetUserMedia | undefined;
  /** A local track was added, replaced or removed (null). */
  onTrackChange?: (kind: MediaKind, track: MediaStreamTrack | null) => void;
  /** The rung of {@link VIDEO_QUALITY} to ask the camera for, read at each request. */
  videoQuality?: () => string;
  /**
   * A device in use went away (unplugged: its track ended without us
   * stopping it) and the browser's default of that kind now stands in;
   * `label` is the lost device's label ('' when unknown).
   */
  onDeviceLost?: (kind: MediaKind, label: string) => void;
}

/**
 * Microphone constraints: the browser's echo cancellation, noise suppression
 * and automatic gain control on (Media Capture and Streams §"Constrainable
 * properties").
 */
export const AUDIO_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};

/**
 * Camera resolution ladder for the `video-quality` attribute, ideal values
 * (a camera that cannot do them gets its nearest mode, never an error):
 * `low` 320×240 at 15 frames/s (about 150–300 kbit/s in VP8), `medium`
 * 640×480 at 30 (the default), `high` 960×540 at 30, `hd` 1280×720 at 30.
 */
export const VIDEO_QUALITY = {
  low: { width: 320, height: 240, frameRate: 15 },
  medium: { width: 640, height: 480, frameRate: 30 },
  high: { width: 960, height: 540, frameRate: 30 },
  hd: { width: 1280, height: 720, frameRate: 30 },
} as const;

export type VideoQuality = keyof typeof VIDEO_QUALITY;

/** Camera constraints for a rung of {@link VIDEO_QUALITY} (`medium` for an unknown one). */
export function videoConstraints(quality: string): MediaTrackConstraints {
  const { width, height, frameRate } = VIDEO_QUALITY[quality as VideoQuality] ?? VIDEO_QUALITY.medium;
  return { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: frameRate, max: frameRate } };
}

export class MediaController implements ReactiveController {
  status: MediaStatus = 'idle';
  error: CallError | null = null;
  /** The local stream while media is up; its tracks change as the camera is toggled. */
  stream: MediaStream | null = null;
  audioEnabled = true;
  /** Whether the camera is captured at all; off stops its track (the light goes out). */
  videoEnabled = true;
  /**
   * Whether a microphone is captured at all (false: receive-only audio, as
   * after "join without camera or microphone"). Unlike `audioEnabled` (mute),
   * turning it back on asks for a microphone.
   */
  captureAudio = true;
  /**
   * The chosen microphone and camera (`MediaDeviceInfo.deviceId`), asked for
   * as `deviceId: {exact}`; '' is the browser's default.
   */
  readonly deviceIds: Record<MediaKind, string> = { audio: '', video: '' };
  /**
   * Which way the camera is asked to face (`MediaTrackConstraints.facingMode`,
   * as `{exact}`): `user` (front), `environment` (back); '' for whichever the
   * chosen device is. Set by {@link switchFacing}, cleared by choosing a camera.
   */
  facingMode: 'user' | 'environment' | '' = '';
  /** Cameras the browser lists (`enumerateDevices`), counted when media starts and on `devicechange`. */
  cameras = 0;
  readonly #host: ReactiveControllerHost;
  readonly #options: MediaControllerOptions;
  /** Bumped by `stop` so a getUserMedia that resolves afterwards is discarded. */
  #generation = 0;
  /** The request under way, shared by callers that ask while it runs (lobby → join). */
  #starting: Promise<MediaStream> | null = null;

  constructor(host: ReactiveControllerHost, options: MediaControllerOptions = {}) {
    this.#host = host;
    this.#options = options;
    host.addController(this);
  }

  hostConnected(): void {
    globalThis.navigator?.mediaDevices?.addEventListener?.('devicechange', this.#countCameras);
  }

  hostDisconnected(): void {
    globalThis.navigator?.mediaDevices?.removeEventListener?.('devicechange', this.#countCameras);
    this.stop();
  }

  /**
   * The camera faces a known way (`MediaTrackSettings.facingMode`) and there
   * is another camera: a front/back switch makes sense (phones, tablets).
   */
  get canSwitchFacing(): boolean {
    const facing = this.stream?.getVideoTracks()[0]?.getSettings().facingMode;
    return this.cameras > 1 && (facing === 'user' || facing === 'environment');
  }

  /**
   * Turn to the camera facing the other way (`user` ↔ `environment`). The
   * current camera is released first (phones seldom open two at once), then
   * the other one replaces it on the stream and the sender (no
   * renegotiation). If it cannot be had, the first camera comes back and
   * this rejects with a {@link CallError}.
   */
  async switchFacing(): Promise<void> {
    const track = this.stream?.getVideoTracks()[0];
    const facing = this.facingMode || track?.getSettings().facingMode;
    const before = { facingMode: this.facingMode, deviceId: this.deviceIds.video };
    this.facingMode = facing === 'environment' ? 'user' : 'environment';
    this.deviceIds.video = '';
    if (!track || !this.videoEnabled) return;
    track.stop();
    try {
      await this.#acquireTrack('video');
    } catch (error) {
      this.facingMode = before.facingMode;
      this.deviceIds.video = before.deviceId;
      await this.#acquireTrack('video').catch(() => undefined);
      throw error;
    }
  }

  #countCameras = (): void => {
    globalThis.navigator?.mediaDevices?.enumerateDevices?.().then(
      (devices) => {
        this.cameras = devices.filter((d) => d.kind === 'videoinput').length;
        this.#host.requestUpdate();
      },
      () => undefined,
    );
  };

  /**
   * Ask for camera and microphone (call it from a user gesture).
   * Resolves with the local stream; rejects with a {@link CallError}.
   */
  start(): Promise<MediaStream> {
    if (this.stream && this.status === 'ready') return Promise.resolve(this.stream);
    if (this.status !== 'acquiring' || !this.#starting) {
      const starting = this.#acquire().finally(() => {
        if (this.#starting === starting) this.#starting = null;
      });
      this.#starting = starting;
    }
    return this.#starting;
  }

  async #acquire(): Promise<MediaStream> {
    const generation = ++this.#generation;
    this.status = 'acquiring';
    this.error = null;
    this.#host.requestUpdate();
    try {
      const stream = await this.#request();
      if (generation !== this.#generation) {
        stopTracks(stream);
        throw new CallError('media-failed', 'media was released while it was being acquired');
      }
      // The camera turned off while the prompt was open: its track is not
      // wanted (sent, it would show the peer a camera the user turned off).
      // Turned on meanwhile, it stays off (an audio-only request): the
      // button says so, and one more press asks for it.
      for (const track of stream.getVideoTracks()) {
        if (this.videoEnabled) continue;
        track.stop();
        stream.removeTrack(track);
      }
      this.videoEnabled &&= stream.getVideoTracks().length > 0;
      for (const track of stream.getTracks()) this.#watch(track);
      for (const track of stream.getAudioTracks()) track.enabled = this.audioEnabled;
      this.stream = stream;
      this.status = 'ready';
      this.#countCameras();
      return stream;
    } catch (cause) {
      const error = mediaError(cause);
      if (generation === this.#generation) {
        this.status = 'failed';
        this.error = error;
      }
      throw error;
    } finally {
      this.#host.requestUpdate();
    }
  }

  /**
   * One getUserMedia for what is wanted (nothing asked for, with neither:
   * an empty stream, to receive only). A device that cannot meet the
   * constraints (`OverconstrainedError`: a chosen device gone, a frame rate
   * it cannot do) gets one more try with the browser's default devices and
   * no resolution or frame rate; the choice of devices is then forgotten.
   * A refusal where the page's permissions policy blocks the device (an
   * iframe without `allow="camera; microphone"`) is `permission-policy-blocked`.
   */
  async #request(): Promise<MediaStream> {
    const audio = this.captureAudio;
    const video = this.videoEnabled;
    if (!audio && !video) return new MediaStream();
    try {
      return await this.#getUserMedia({
        audio: audio && this.#constraints('audio'),
        video: video && this.#constraints('video'),
      });
    } catch (cause) {
      const error = mediaError(cause, blockedByPolicy(audio, video));
      if (error.code !== 'constraints-unsatisfied') throw error;
      this.deviceIds.audio = this.deviceIds.video = '';
      return this.#getUserMedia({ audio: audio && AUDIO_CONSTRAINTS, video });
    }
  }

  /** Mute or unmute the microphone (`track.enabled`; no renegotiation). */
  setAudioEnabled(enabled: boolean): void {
    this.audioEnabled = enabled;
    for (const track of this.stream?.getAudioTracks() ?? []) track.enabled = enabled;
    this.#host.requestUpdate();
  }

  /**
   * Turn the camera off (its track is stopped: the camera light goes out) or
   * on again (a new track is acquired). Rejects with a {@link CallError}.
   */
  async setVideoEnabled(enabled: boolean): Promise<void> {
    if (enabled === this.videoEnabled) return;
    this.videoEnabled = enabled;
    this.#host.requestUpdate();
    const stream = this.stream;
    if (!stream) return;
    if (!enabled) {
      for (const track of stream.getVideoTracks()) {
        track.stop();
        stream.removeTrack(track);
      }
      this.#options.onTrackChange?.('video', null);
      return;
    }
    try {
      await this.#acquireTrack('video', true);
    } catch (error) {
      this.videoEnabled = false;
      throw error;
    } finally {
      this.#host.requestUpdate();
    }
  }

  /**
   * Use another microphone or camera (`deviceId` from `enumerateDevices`; ''
   * for the default). With media up, the new device's track is acquired
   * first, then replaces the old one, which is stopped; the peer layer swaps
   * it on the existing sender (`replaceTrack`: no renegotiation). A camera
   * that is off, or a microphone not captured (a receive-only call), is
   * switched when it is next turned on. Rejects with a {@link CallError};
   * the old track then stays, and stays the choice (a device in use by
   * another app must not be asked for again when the camera comes back on,
   * or by the next call). `fallback`: the device may be gone (a choice made
   * earlier, turned on now): then the default one (see `#acquireTrack`).
   */
  async useDevice(kind: MediaKind, deviceId: string, fallback = false): Promise<void> {
    const [previous, facing] = [this.deviceIds[kind], this.facingMode];
    this.deviceIds[kind] = deviceId;
    if (kind === 'video') this.facingMode = '';
    if (!(kind === 'video' ? this.videoEnabled : this.captureAudio)) return;
    try {
      await this.#acquireTrack(kind, fallback);
    } catch (error) {
      if (this.deviceIds[kind] === deviceId) {
        this.deviceIds[kind] = previous;
        if (kind === 'video') this.facingMode = facing;
      }
      throw error;
    }
  }

  /**
   * Acquire a track of `kind` with the current constraints and put it in
   * the stream in place of the old one of that kind (stopped), then tell the
   * peer layer (`onTrackChange`). Nothing happens without media up; a track
   * that arrives after media was stopped, or after the camera was turned off
   * meanwhile, is stopped at once. Rejects with a {@link CallError}.
   * With `fallback` (turning on a device chosen earlier, which may be gone:
   * unplugged while the camera was off), a request the chosen device cannot
   * meet is made once more with the default one, as when media starts (see
   * #request); not for a choice made now (`useDevice`), which must fail
   * visibly and keep the old device.
   */
  async #acquireTrack(kind: MediaKind, fallback = false): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    const generation = this.#generation;
    const chosen = [this.deviceIds[kind], kind === 'video' ? this.facingMode : ''] as const;
    let fresh: MediaStream;
    try {
      fresh = await this.#getUserMedia({ [kind]: this.#constraints(kind) });
    } catch (cause) {
      const error = mediaError(cause);
      // Only if that choice still stands (no other made meanwhile).
      const same = this.deviceIds[kind] === chosen[0] && (kind !== 'video' || this.facingMode === chosen[1]);
      if (!fallback || error.code !== 'constraints-unsatisfied' || !(chosen[0] || chosen[1]) || !same) throw error;
      this.#forgetChoice(kind);
      return this.#acquireTrack(kind);
    }
    const track = fresh.getTracks()[0];
    if (generation !== this.#generation || this.stream !== stream || !track || (kind === 'video' && !this.videoEnabled)) {
      stopTracks(fresh);
      return;
    }
    for (const old of stream.getTracks()) {
      if (old.kind !== kind) continue;
      old.stop();
      stream.removeTrack(old);
    }
    if (kind === 'audio') track.enabled = this.audioEnabled;
    this.#watch(track);
    stream.addTrack(track);
    this.#options.onTrackChange?.(kind, track);
    this.#host.requestUpdate();
  }

  /**
   * A track that ends without our `stop()` lost its device (unplugged, or
   * taken by the system): fall back to the default device of that kind, or
   * to whichever the browser offers next.
   */
  #watch(track: MediaStreamTrack): void {
    track.addEventListener('ended', () => {
      const stream = this.stream;
      if (!stream?.getTracks().includes(track)) return; // stopped by us, or already replaced
      const kind = track.kind as MediaKind;
      const generation = this.#generation;
      stream.removeTrack(track);
      track.stop();
      this.#forgetChoice(kind);
      this.#acquireTrack(kind).then(
        () => this.#options.onDeviceLost?.(kind, track.label),
        () => {
          this.#options.onDeviceLost?.(kind, track.label);
          // Meanwhile media stopped or started again, or that kind came back
          // (camera off and on): not ours to turn off.
          if (generation !== this.#generation || this.stream !== stream || stream.getTracks().some((t) => t.kind === kind)) return;
          // No other device of that kind: it is off (the button says so, and
          // the peer is told), and nothing of it is sent; a microphone is asked
          // for again by the next press, as after joining without one.
          if (kind === 'video') this.videoEnabled = false;
          else this.captureAudio = this.audioEnabled = false;
          this.#options.onTrackChange?.(kind, null);
        },
      );
    });
  }

  /** The chosen device of `kind` (and for a camera, the way it faces) is no choice any more: the default next. */
  #forgetChoice(kind: MediaKind): void {
    this.deviceIds[kind] = '';
    if (kind === 'video') this.facingMode = '';
  }

  /** Stop every local track and forget the stream. */
  stop(): void {
    this.#generation++;
    this.#starting = null;
    if (this.stream) stopTracks(this.stream);
    this.stream = null;
    this.status = 'idle';
    this.#host.requestUpdate();
  }

  #constraints(kind: MediaKind): MediaTrackConstraints {
    const id = this.deviceIds[kind];
    return {
      ...(kind === 'audio' ? AUDIO_CONSTRAINTS : videoConstraints(this.#options.videoQuality?.() ?? 'medium')),
      ...(id && { deviceId: { exact: id } }),
      ...(kind === 'video' && !id && this.facingMode && { facingMode: { exact: this.facingMode } }),
    };
  }

  #getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream> {
    const injected = this.#options.getUserMedia?.();
    if (injected) return injected(constraints);
    if (!globalThis.navigator?.mediaDevices?.getUserMedia) {
      return Promise.reject(
        new CallError('insecure-context', 'navigator.mediaDevices is unavailable: serve the page over HTTPS'),
      );
    }
    return navigator.mediaDevices.getUserMedia(constraints);
  }
}

/**
 * The page's permissions policy forbids a wanted device here: a cross-origin
 * iframe whose `allow` attribute lacks `camera` or `microphone` (Permissions
 * Policy §"allowsFeature", Chromium's `document.featurePolicy`). False where
 * the browser cannot tell.
 */
function blockedByPolicy(audio: boolean, video: boolean): boolean {
  const policy = (globalThis.document as { featurePolicy?: { allowsFeature(feature: string): boolean } } | undefined)
    ?.featurePolicy;
  if (!policy) return false;
  return (audio && !policy.allowsFeature('microphone')) || (video && !policy.allowsFeature('camera'));
}

export function stopTracks(stream: MediaStream): void {
  for (const track of stream.getTracks()) track.stop();
}
