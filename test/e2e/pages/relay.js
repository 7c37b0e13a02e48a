// Loaded after call.js (which makes the widget from the query string): every
// RTCPeerConnection the widget makes is forced to relay-only ICE
// (iceTransportPolicy: 'relay'), so the call connects through TURN or not at
// all. The connections and the configurations the widget asked for are kept on
// window.peerConnections / window.peerConfigurations for the test to inspect,
// and every configuration applied later (fresh TURN credentials) on
// window.appliedConfigurations, with the time it was applied.
const widget = document.querySelector('call-widget');
window.peerConnections = [];
window.peerConfigurations = [];
window.appliedConfigurations = [];
widget.createPeerConnection = (config) => {
  window.peerConfigurations.push(config);
  const pc = new RTCPeerConnection({ ...config, iceTransportPolicy: 'relay' });
  // Keep the policy if the widget applies a new configuration later (ICE restart).
  const setConfiguration = pc.setConfiguration.bind(pc);
  pc.setConfiguration = (next) => {
    window.appliedConfigurations.push({ at: Date.now(), iceServers: next.iceServers });
    setConfiguration({ ...next, iceTransportPolicy: 'relay' });
  };
  window.peerConnections.push(pc);
  return pc;
};
