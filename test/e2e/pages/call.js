// Creates one <call-widget> from the query string: ?host=…&room=…&name=…
// (and optionally &mode=call&ring-timeout=s, &join=receive-only) and records its events on
// window.callEvents for the test to read.
const params = new URLSearchParams(location.search);
const widget = document.createElement('call-widget');
widget.host = params.get('host') ?? '';
widget.room = params.get('room') ?? '';
widget.name = params.get('name') ?? '';
if (params.has('mode')) widget.mode = params.get('mode');
if (params.has('ring-timeout')) widget.ringTimeout = Number(params.get('ring-timeout'));
window.callEvents = [];
// Every peer connection the widget makes, for tests that inspect or restart it.
window.peerConnections = [];
widget.createPeerConnection = (configuration) => {
  const pc = new RTCPeerConnection(configuration);
  window.peerConnections.push(pc);
  return pc;
};
for (const type of ['call-state-change', 'call-error', 'call-peer-joined', 'call-peer-left', 'call-knock', 'call-reconnect', 'call-ended']) {
  widget.addEventListener(type, (event) => {
    window.callEvents.push({
      type,
      at: performance.now(),
      state: event.state,
      previous: event.previous,
      code: event.code,
      reason: event.reason,
      peer: event.peer && { id: event.peer.id, name: event.peer.name },
      attempt: event.attempt,
      cause: event.cause,
      durationMs: event.durationMs,
    });
  });
}
document.body.append(widget);
// &join=receive-only: join at once from the page's own script, with neither
// camera nor microphone (no click: the page has no user activation, and
// captures nothing), saying each state on the console: a test that read the
// page would give it an activation (Playwright evaluates as a user gesture).
if (params.get('join') === 'receive-only') {
  widget.addEventListener('call-state-change', (event) => console.log(`call-state ${event.state}`));
  widget.join({ audio: false, video: false });
}
