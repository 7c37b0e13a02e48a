// Creates one <call-widget> from the query string: ?host=…&room=…&name=…
// and records its events on window.callEvents for the test to read.
const params = new URLSearchParams(location.search);
const widget = document.createElement('call-widget');
widget.host = params.get('host') ?? '';
widget.room = params.get('room') ?? '';
widget.name = params.get('name') ?? '';
window.callEvents = [];
// Every peer connection the widget makes, for tests that inspect or restart it.
window.peerConnections = [];
widget.createPeerConnection = (configuration) => {
  const pc = new RTCPeerConnection(configuration);
  window.peerConnections.push(pc);
  return pc;
};
for (const type of ['call-state-change', 'call-error', 'call-peer-joined', 'call-peer-left', 'call-knock', 'call-reconnect']) {
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
    });
  });
}
document.body.append(widget);
