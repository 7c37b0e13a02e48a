// The baseline: a hand-written 1:1 call with a plain RTCPeerConnection and a
// plain WebSocket to a bare relay (it forwards every frame to the other
// sockets of the same path). ?relay=ws://host:port&room=…
//
// Both sides run this page. Presence: on open a page says `hello`; a page in
// the call answers `ready` (and says `ready` when it joins). On join a page
// gets camera+mic; if the other side is already in the call it creates the
// peer connection, adds its tracks and sends the offer; the other side
// answers. Trickle ICE both ways. Same constraints as the widget. With
// ?dc=1 it also negotiates the widget's data channel (bench --baseline-dc).
import { bench, instrumentPc, timedGetUserMedia, watchFirstFrame } from './instrument.js';

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30, max: 30 } };

const params = new URLSearchParams(location.search);
const remoteVideo = document.getElementById('remote');
const localVideo = document.getElementById('local');
watchFirstFrame(remoteVideo);

const ws = new WebSocket(`${params.get('relay')}/${params.get('room')}`);
const send = (message) => ws.send(JSON.stringify(message));
let stream = null;
let pc = null;
let peerInCall = false;
let pending = [];
let queue = Promise.resolve();

function createPc() {
  const connection = instrumentPc(new RTCPeerConnection());
  for (const track of stream.getTracks()) connection.addTrack(track, stream);
  // ?dc=1: the widget's control channel too (negotiated, id 0), in the first offer.
  if (params.get('dc') === '1') connection.createDataChannel('control', { negotiated: true, id: 0 });
  connection.onicecandidate = ({ candidate }) => candidate && send({ type: 'candidate', candidate });
  connection.ontrack = ({ streams }) => {
    if (remoteVideo.srcObject !== streams[0]) remoteVideo.srcObject = streams[0];
  };
  return connection;
}

async function flushCandidates() {
  for (const candidate of pending) await pc.addIceCandidate(candidate);
  pending = [];
}

async function handle(message) {
  switch (message.type) {
    case 'hello':
      if (stream) send({ type: 'ready' });
      return;
    case 'ready':
      peerInCall = true;
      return;
    case 'offer':
      if (!stream) return;
      pc = createPc();
      await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
      await flushCandidates();
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: 'answer', sdp: pc.localDescription.sdp });
      return;
    case 'answer':
      await pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
      await flushCandidates();
      return;
    case 'candidate':
      if (pc?.remoteDescription) await pc.addIceCandidate(message.candidate);
      else pending.push(message.candidate);
      return;
  }
}

ws.onopen = () => send({ type: 'hello' });
ws.onmessage = ({ data }) => {
  const message = JSON.parse(data);
  queue = queue.then(() => handle(message)).catch((error) => console.error(error));
};

document.getElementById('join').addEventListener('click', async () => {
  stream = await timedGetUserMedia({ audio: AUDIO, video: VIDEO });
  localVideo.srcObject = stream;
  if (!peerInCall) {
    send({ type: 'ready' });
    return;
  }
  pc = createPc();
  await pc.setLocalDescription(await pc.createOffer());
  send({ type: 'offer', sdp: pc.localDescription.sdp });
});

bench.isWaiting = () => stream !== null && ws.readyState === WebSocket.OPEN;
bench.isReady = () => peerInCall;
bench.state = () => (pc ? pc.connectionState : stream ? 'waiting' : 'idle');
bench.loaded = true;
