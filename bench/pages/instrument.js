// Timing instrumentation shared by the two bench pages (widget and minimal).
//
// Every timestamp is this page's performance.now() (ms since its time origin);
// the bench converts the other page's marks with performance.timeOrigin.
// Only the first occurrence of each mark is kept.
//
// What it records, page B (the one that clicks join at T0):
//   t0            the click on the join button (capture listener on window, so it
//                 runs before any handler of the page or the widget)
//   gumCalled     getUserMedia called
//   gumResolved   getUserMedia resolved
//   pcCreated     the RTCPeerConnection was constructed
//   offerSet      signalingState → have-local-offer (our offer is the local description)
//   answerApplied signalingState → stable after have-local-offer (remote answer applied)
//   offerReceived / answerSet   the same on the answering side (page A)
//   ice:<state>, conn:<state>   iceConnectionState / connectionState changes
//   firstCandidate, track       first local ICE candidate, first remote track
//   negotiationNeeded           the first negotiationneeded event
//   firstFrame    the first remote frame decoded: requestVideoFrameCallback's
//                 `presentationTime` (handed to the compositor)
//   firstFramePainted  that callback's `now` (the display frame it runs in)
const params = new URLSearchParams(location.search);
const limitMs = Number(params.get('limit') ?? 15000);

const marks = Object.create(null);
const mark = (name, at = performance.now()) => {
  if (!(name in marks)) marks[name] = at;
};

let settle;
const result = new Promise((resolve) => (settle = resolve));
const finish = (extra) =>
  settle({ marks: { ...marks }, timeOrigin: performance.timeOrigin, ...bench.meta, ...extra });

export const bench = {
  marks,
  mark,
  /** Resolves with every mark once the first remote frame is decoded, or `limit` ms after T0. */
  result,
  meta: { pcCount: 0, constraints: null, frame: null },
  /** Set by the page: true when its side is in the call and waiting for a peer. */
  isWaiting: () => false,
  /** Set by the page: true when the other side's presence is known (ready for T0). */
  isReady: () => false,
};
window.bench = bench;

addEventListener(
  'click',
  (event) => {
    if (!event.isTrusted || 't0' in marks) return;
    mark('t0');
    marks.t0EventTimeStamp = event.timeStamp;
    setTimeout(() => finish({ timedOut: true }), limitMs);
  },
  { capture: true },
);

/** getUserMedia that records when it was called and when it resolved. */
export async function timedGetUserMedia(constraints) {
  mark('gumCalled');
  bench.meta.constraints ??= JSON.stringify(constraints);
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  mark('gumResolved');
  return stream;
}

/** Attach state listeners (addEventListener only: the owner's on* handlers stay untouched). */
export function instrumentPc(pc) {
  mark('pcCreated');
  bench.meta.pcCount++;
  let localOffer = false;
  let remoteOffer = false;
  pc.addEventListener('signalingstatechange', () => {
    const state = pc.signalingState;
    mark(`sig:${state}`);
    if (state === 'have-local-offer') {
      localOffer = true;
      mark('offerSet');
    } else if (state === 'have-remote-offer') {
      remoteOffer = true;
      mark('offerReceived');
    } else if (state === 'stable') {
      if (localOffer) mark('answerApplied');
      if (remoteOffer) mark('answerSet');
    }
  });
  pc.addEventListener('iceconnectionstatechange', () => mark(`ice:${pc.iceConnectionState}`));
  pc.addEventListener('connectionstatechange', () => mark(`conn:${pc.connectionState}`));
  pc.addEventListener('icegatheringstatechange', () => mark(`gather:${pc.iceGatheringState}`));
  pc.addEventListener('icecandidate', (event) => event.candidate && mark('firstCandidate'));
  pc.addEventListener('track', () => mark('track'));
  pc.addEventListener('negotiationneeded', () => mark('negotiationNeeded'));
  // When the page asks for its local description (own property: the
  // prototype's method is untouched for every other connection).
  const setLocalDescription = pc.setLocalDescription;
  pc.setLocalDescription = function (...args) {
    mark('sldCalled');
    return setLocalDescription.apply(this, args);
  };
  return pc;
}

/** Record the first frame `video` presents (requestVideoFrameCallback). */
export function watchFirstFrame(video) {
  video.requestVideoFrameCallback((now, metadata) => {
    if ('firstFrame' in marks) return;
    // Decoded: `presentationTime`, when the decoded frame was handed to the
    // compositor (for a WebRTC frame: its `receiveTime` plus its decode,
    // `processingDuration`). The callback's `now` is the start of the display
    // frame it runs in: quantized to vsync (16.7 ms at 60 Hz) and measured
    // here up to 15 ms before the frame's own `receiveTime`; it is kept as
    // firstFramePainted.
    mark('firstFrame', metadata.presentationTime ?? now);
    mark('firstFramePainted', now);
    marks.firstFrameCallback = performance.now();
    bench.meta.frame = {
      width: metadata.width,
      height: metadata.height,
      presentedFrames: metadata.presentedFrames,
      receiveTime: metadata.receiveTime,
      processingDuration: metadata.processingDuration,
      presentationTime: metadata.presentationTime,
      expectedDisplayTime: metadata.expectedDisplayTime,
      now,
    };
    finish({ timedOut: false });
  });
}
