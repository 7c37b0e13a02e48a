/**
 * Camera-free media for unit tests and Storybook: a canvas animation as the
 * video track and an oscillator as the audio track, shaped like
 * `getUserMedia`'s result.
 */
export interface CanvasMediaOptions {
  width?: number;
  height?: number;
  /** Frames per second of the canvas capture. */
  fps?: number;
  label?: string;
  hue?: number;
}

export function createCanvasMedia(options: CanvasMediaOptions = {}): MediaStream {
  const { width = 320, height = 240, fps = 15, label = '', hue = 210 } = options;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  let frame = 0;
  const draw = () => {
    frame++;
    ctx.fillStyle = `hsl(${hue} 40% 25%)`;
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = `hsl(${hue} 70% 65%)`;
    const r = Math.min(width, height) / 4;
    ctx.beginPath();
    ctx.arc(width / 2 + Math.cos(frame / 10) * r, height / 2 + Math.sin(frame / 10) * r, r / 2, 0, Math.PI * 2);
    ctx.fill();
    ctx.fillStyle = '#fff';
    ctx.font = `${Math.round(height / 10)}px sans-serif`;
    ctx.fillText(label, 12, height - 12);
  };
  draw();
  const timer = setInterval(draw, 1000 / fps);
  const stream = canvas.captureStream(fps);
  const audio = new AudioContext();
  const oscillator = audio.createOscillator();
  oscillator.frequency.value = 440;
  const gain = audio.createGain();
  gain.gain.value = 0.05;
  const destination = audio.createMediaStreamDestination();
  oscillator.connect(gain).connect(destination);
  oscillator.start();
  for (const track of destination.stream.getAudioTracks()) stream.addTrack(track);
  // Stop drawing when the consumer stops the tracks.
  let stopped = false;
  const stopAll = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    oscillator.stop();
    void audio.close();
  };
  for (const track of stream.getTracks()) {
    const stop = track.stop.bind(track);
    track.stop = () => {
      stop();
      if (stream.getTracks().every((t) => t.readyState === 'ended')) stopAll();
    };
  }
  return stream;
}

/** A `getUserMedia` stand-in that returns canvas media (or fails with `error`). */
export function canvasGetUserMedia(options: CanvasMediaOptions & { error?: DOMException } = {}) {
  return async (constraints: MediaStreamConstraints): Promise<MediaStream> => {
    if (options.error) throw options.error;
    const stream = createCanvasMedia(options);
    for (const track of stream.getTracks()) {
      if (constraints[track.kind as 'audio' | 'video']) continue;
      track.stop();
      stream.removeTrack(track);
    }
    return stream;
  };
}
