// Two <call-widget>s side by side, from the query string:
// ?host=…&x=<room>&y=<room>&tag=<page name>. Widget `#x` joins room x as
// "<tag>-x", widget `#y` room y as "<tag>-y". For each widget, by id:
// window.callEvents records its events, window.capturedTracks every track its
// getUserMedia handed out, window.peerConnections every RTCPeerConnection it
// made (the real browser ones, wrapped only to be recorded).
const params = new URLSearchParams(location.search);
const tag = params.get('tag') ?? 'page';
window.callEvents = {};
window.capturedTracks = {};
window.peerConnections = {};
for (const id of ['x', 'y']) {
  const widget = document.createElement('call-widget');
  widget.id = id;
  widget.host = params.get('host') ?? '';
  widget.room = params.get(id) ?? '';
  widget.name = `${tag}-${id}`;
  const events = (window.callEvents[id] = []);
  const tracks = (window.capturedTracks[id] = []);
  const connections = (window.peerConnections[id] = []);
  widget.getUserMedia = async (constraints) => {
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    tracks.push(...stream.getTracks());
    return stream;
  };
  widget.createPeerConnection = (configuration) => {
    const connection = new RTCPeerConnection(configuration);
    connections.push(connection);
    return connection;
  };
  for (const type of ['call-state-change', 'call-error', 'call-peer-joined', 'call-peer-left']) {
    widget.addEventListener(type, (event) => {
      events.push({ type, state: event.state, code: event.code, reason: event.reason, peer: event.peer?.name });
    });
  }
  document.body.append(widget);
}
