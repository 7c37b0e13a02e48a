// Like call.js (one <call-widget> from ?host=…&room=…&name=…, events on
// window.callEvents), but every RTCPeerConnection the widget makes is forced
// to relay-only ICE (iceTransportPolicy: 'relay'): only TURN relayed candidates
// are gathered, so the call connects through the TURN server or not at all.
// The connections and the configurations the widget asked for are kept on
// window.peerConnections / window.peerConfigurations for the test to inspect.
const params = new URLSearchParams(location.search);
const widget = document.createElement('call-widget');
widget.host = params.get('host') ?? '';
widget.room = params.get('room') ?? '';
widget.name = params.get('name') ?? '';
window.peerConnections = [];
window.peerConfigurations = [];
widget.createPeerConnection = (config) => {
  window.peerConfigurations.push(config);
  const pc = new RTCPeerConnection({ ...config, iceTransportPolicy: 'relay' });
  // Keep the policy if the widget applies a new configuration later (ICE restart).
  const setConfiguration = pc.setConfiguration.bind(pc);
  pc.setConfiguration = (next) => setConfiguration({ ...next, iceTransportPolicy: 'relay' });
  window.peerConnections.push(pc);
  return pc;
};
window.callEvents = [];
for (const type of ['call-state-change', 'call-error', 'call-peer-joined', 'call-peer-left']) {
  widget.addEventListener(type, (event) => {
    window.callEvents.push({ type, at: performance.now(), state: event.state, code: event.code, reason: event.reason });
  });
}
document.body.append(widget);
