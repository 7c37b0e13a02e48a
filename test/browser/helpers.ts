/**
 * Helpers shared by the browser tests: waiting for conditions, and proving
 * that a stream's video is decoded (`HTMLVideoElement.requestVideoFrameCallback`).
 */

/** Wait until `predicate` is true, polling every `intervalMs`; rejects after `timeoutMs` with `message`. */
export async function until(
  predicate: () => boolean,
  message: string,
  { timeoutMs = 10_000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${message}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface DecodedFrame {
  mediaTime: number;
  presentedFrames: number;
  width: number;
  height: number;
}

/**
 * Wait for `count` distinct video frames presented by `video` (which must be
 * playing a stream): frames whose `mediaTime`s increase. A frame presented
 * again with the same `mediaTime` (the compositor re-presents the current
 * frame, e.g. when a loaded machine misses a decode deadline) is not counted
 * as a new one; a `mediaTime` that goes backwards rejects. Resolves with the
 * distinct frames' metadata; rejects after `timeoutMs`.
 */
export function videoFrames(video: HTMLVideoElement, count = 5, timeoutMs = 10_000): Promise<DecodedFrame[]> {
  return new Promise((resolve, reject) => {
    const frames: DecodedFrame[] = [];
    let handle = 0;
    const timer = setTimeout(() => {
      video.cancelVideoFrameCallback(handle);
      reject(new Error(`only ${frames.length} of ${count} distinct video frames in ${timeoutMs} ms`));
    }, timeoutMs);
    const onFrame: VideoFrameRequestCallback = (_now, metadata) => {
      const last = frames.at(-1);
      if (last && metadata.mediaTime < last.mediaTime) {
        clearTimeout(timer);
        reject(new Error(`mediaTime went backwards: ${[...frames.map((f) => f.mediaTime), metadata.mediaTime].join(', ')}`));
        return;
      }
      if (!last || metadata.mediaTime > last.mediaTime) {
        frames.push({
          mediaTime: metadata.mediaTime,
          presentedFrames: metadata.presentedFrames,
          width: metadata.width,
          height: metadata.height,
        });
      }
      if (frames.length < count) {
        handle = video.requestVideoFrameCallback(onFrame);
        return;
      }
      clearTimeout(timer);
      resolve(frames);
    };
    handle = video.requestVideoFrameCallback(onFrame);
  });
}

/** Count the frames `video` presents during `ms`. */
export function countFrames(video: HTMLVideoElement, ms: number): Promise<number> {
  return new Promise((resolve) => {
    let count = 0;
    let handle = 0;
    const onFrame = () => {
      count++;
      handle = video.requestVideoFrameCallback(onFrame);
    };
    handle = video.requestVideoFrameCallback(onFrame);
    setTimeout(() => {
      video.cancelVideoFrameCallback(handle);
      resolve(count);
    }, ms);
  });
}

/**
 * A visible, muted, autoplaying `<video>` fed `stream`, appended to the
 * document (frames are only presented for rendered videos). Remove it after use.
 */
export function attachVideo(stream: MediaStream): HTMLVideoElement {
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.width = 160;
  video.height = 120;
  video.srcObject = stream;
  document.body.append(video);
  void video.play().catch(() => {});
  return video;
}

/** Wait for `count` decoded frames of `stream`'s video, through a temporary `<video>`. */
export async function streamFrames(stream: MediaStream, count = 5, timeoutMs = 10_000): Promise<DecodedFrame[]> {
  const video = attachVideo(stream);
  try {
    return await videoFrames(video, count, timeoutMs);
  } finally {
    video.srcObject = null;
    video.remove();
  }
}

/** Stop every live track of every stream (tracks already ended are left alone). */
export function stopAll(streams: Iterable<MediaStream | null | undefined>): void {
  for (const stream of streams) {
    for (const track of stream?.getTracks() ?? []) if (track.readyState === 'live') track.stop();
  }
}
