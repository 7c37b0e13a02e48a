// One <call-widget> from ?host=&room=&name=, instrumented only through its
// injectable properties: `getUserMedia` (timed wrapper around the browser's)
// and `createPeerConnection` (a real RTCPeerConnection with state listeners).
// The first remote frame is watched with requestVideoFrameCallback on the
// remote <video> in the widget's open shadow root.
import { bench, instrumentPc, timedGetUserMedia, watchFirstFrame } from './instrument.js';

const params = new URLSearchParams(location.search);
const widget = document.createElement('call-widget');
// TTFF is click on join → first frame: the pre-join lobby is not part of it.
widget.skipLobby = true;
widget.host = params.get('host') ?? '';
widget.room = params.get('room') ?? '';
widget.name = params.get('name') ?? '';
widget.getUserMedia = timedGetUserMedia;
widget.createPeerConnection = (configuration) => instrumentPc(new RTCPeerConnection(configuration));
document.body.append(widget);

// Lit updates (render + commit) on this page's main thread, [start, duration]
// ms: the bench reports how much of the click → frame window they take.
bench.meta.updates = [];
const performUpdate = widget.performUpdate;
widget.performUpdate = function () {
  const start = performance.now();
  try {
    return performUpdate.call(this);
  } finally {
    if (bench.meta.updates.length < 500) bench.meta.updates.push([start, performance.now() - start]);
  }
};

const watched = new WeakSet();
const scan = () => {
  for (const video of widget.shadowRoot.querySelectorAll('video[part~="remote-video"]')) {
    if (watched.has(video)) continue;
    watched.add(video);
    watchFirstFrame(video);
  }
};
new MutationObserver(scan).observe(widget.shadowRoot, { childList: true, subtree: true });
scan();

bench.isWaiting = () => widget.getAttribute('state') === 'waiting';
// The widget announces "<name> is here" once the room's `welcome` listed the other peer.
bench.isReady = () => /is here/.test(widget.shadowRoot.querySelector('[aria-live]')?.textContent ?? '');
bench.state = () => widget.getAttribute('state');
bench.loaded = true;
