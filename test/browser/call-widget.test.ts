/**
 * `<call-widget>` in a real browser, with in-page signaling (the real room
 * rules of party/room.ts behind `createSocket`) and canvas media behind
 * `getUserMedia`: no camera, network or server.
 */
import { expect, fixture, html } from '@open-wc/testing';
import '../../src/call-widget.ts';
import {
  CallErrorEvent,
  CallPeerJoinedEvent,
  CallPeerLeftEvent,
  type CallReconnectEvent,
  CallStateChangeEvent,
  type CallState,
  type CallWidget,
} from '../../src/call-widget.ts';
import { CALL_STATES } from '../../src/call-state.ts';
import { en } from '../../src/i18n/messages.ts';
import { PEER_ID_PATTERN, ROOM_ID_PATTERN } from '../../src/protocol.ts';
import { randomId } from '../../src/random-id.ts';
import { canvasGetUserMedia } from '../support/canvas-media.ts';
import { InMemoryRooms } from '../support/in-memory-room.ts';
import { stopAll, until, videoFrames } from './helpers.ts';

type GetUserMedia = (constraints: MediaStreamConstraints) => Promise<MediaStream>;

/** Every stream handed out by a {@link recordingMedia}, to check and to stop after each test. */
const handedOut: MediaStream[] = [];

/** Canvas `getUserMedia` that remembers its calls and the streams it returned. */
function recordingMedia(options: Parameters<typeof canvasGetUserMedia>[0] = {}) {
  const inner = canvasGetUserMedia(options);
  const calls: MediaStreamConstraints[] = [];
  const streams: MediaStream[] = [];
  const getUserMedia: GetUserMedia = async (constraints) => {
    calls.push(constraints);
    const stream = await inner(constraints);
    streams.push(stream);
    handedOut.push(stream);
    return stream;
  };
  return { getUserMedia, calls, streams, tracks: () => streams.flatMap((s) => s.getTracks()) };
}

function newRoomId(): string {
  const id = `wtr_${randomId(12)}`;
  expect(id).to.match(ROOM_ID_PATTERN);
  return id;
}

interface WidgetOptions {
  rooms: InMemoryRooms;
  room: string;
  name: string;
  getUserMedia?: GetUserMedia;
}

/** Every peer connection each widget made, in order. */
const peerConnections = new WeakMap<CallWidget, RTCPeerConnection[]>();

/** A widget with its platform injected, not yet connected to the document. */
function widget({ rooms, room, name, getUserMedia }: WidgetOptions): CallWidget {
  const el = document.createElement('call-widget');
  const made: RTCPeerConnection[] = [];
  peerConnections.set(el, made);
  el.createPeerConnection = (configuration) => {
    const pc = new RTCPeerConnection(configuration);
    made.push(pc);
    return pc;
  };
  el.createSocket = rooms.socketFactory;
  el.getUserMedia = getUserMedia ?? recordingMedia().getUserMedia;
  el.room = room;
  el.name = name;
  return el;
}

/** Everything a widget fired, in order. */
function record(el: HTMLElement) {
  const log = {
    states: [] as CallStateChangeEvent[],
    errors: [] as CallErrorEvent[],
    joined: [] as CallPeerJoinedEvent[],
    left: [] as CallPeerLeftEvent[],
  };
  el.addEventListener('call-state-change', (e) => log.states.push(e));
  el.addEventListener('call-error', (e) => log.errors.push(e));
  el.addEventListener('call-peer-joined', (e) => log.joined.push(e));
  el.addEventListener('call-peer-left', (e) => log.left.push(e));
  return log;
}

const transitions = (events: CallStateChangeEvent[]) => events.map((e) => `${e.previous}→${e.state}`);

function part<T extends HTMLElement = HTMLElement>(el: CallWidget, name: string): T | null {
  return el.shadowRoot!.querySelector<T>(`[part~="${name}"]`);
}

function button(el: CallWidget, name: string): HTMLButtonElement {
  const found = part<HTMLButtonElement>(el, name);
  if (!found) throw new Error(`no ${name} in state ${el.state}`);
  return found;
}

async function reach(el: CallWidget, state: CallState, timeoutMs = 10_000): Promise<void> {
  await until(() => el.state === state, `${el.name || 'widget'} to reach ${state} (is ${el.state})`, { timeoutMs });
  await el.updateComplete;
}

/** Put `widgets` in the document in one fixture (properties are set before they connect). */
async function mount(...widgets: CallWidget[]): Promise<HTMLElement> {
  const root = await fixture<HTMLElement>(html`<div class="call-fixture">${widgets}</div>`);
  await Promise.all(widgets.map((w) => w.updateComplete));
  return root;
}

/** Two widgets in one room, both joined; resolves when both are connected. */
async function call(rooms = new InMemoryRooms()) {
  const room = newRoomId();
  const aliceMedia = recordingMedia({ label: 'Alice', hue: 210 });
  const bobMedia = recordingMedia({ label: 'Bob', hue: 30 });
  const alice = widget({ rooms, room, name: 'Alice', getUserMedia: aliceMedia.getUserMedia });
  const bob = widget({ rooms, room, name: 'Bob', getUserMedia: bobMedia.getUserMedia });
  const aliceLog = record(alice);
  const bobLog = record(bob);
  const root = await mount(alice, bob);
  button(alice, 'join-button').click();
  await reach(alice, 'waiting');
  button(bob, 'join-button').click();
  await reach(alice, 'connected');
  await reach(bob, 'connected');
  return { root, room, alice, bob, aliceLog, bobLog, aliceMedia, bobMedia };
}

function remoteVideo(el: CallWidget): HTMLVideoElement {
  const video = part<HTMLVideoElement>(el, 'remote-video');
  if (!video) throw new Error(`no remote video in state ${el.state}`);
  return video;
}

afterEach(() => {
  // fixtureCleanup (registered by @open-wc/testing) removes the widgets; stop
  // whatever they failed to stop so one test's media cannot leak into the next.
  stopAll(handedOut.splice(0));
});

describe('<call-widget>', () => {
  it('renders idle with a join button and an accessible shadow DOM', async () => {
    const media = recordingMedia();
    const el = widget({
      rooms: new InMemoryRooms(),
      room: newRoomId(),
      name: 'Alice',
      getUserMedia: media.getUserMedia,
    });
    await mount(el);

    expect(el.state).to.equal('idle');
    expect(button(el, 'join-button').textContent?.trim()).to.equal(en.join);
    expect(part(el, 'status-badge')?.textContent?.trim()).to.equal(en['state-idle']);
    expect(part(el, 'mic-button'), 'no mic button before joining').to.equal(null);
    expect(part(el, 'hangup-button'), 'no hang-up button before joining').to.equal(null);
    expect(media.calls, 'camera is not requested before join').to.have.length(0);
    await expect(el).to.be.accessible();
  });

  it('reflects state to the state attribute, from idle on', async () => {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    await mount(el);
    expect(el.getAttribute('state'), 'idle is reflected').to.equal('idle');
    button(el, 'join-button').click();
    await reach(el, 'waiting');
    expect(el.getAttribute('state')).to.equal('waiting');
  });

  it('join button: idle → joining → waiting, with local media and call controls', async () => {
    const media = recordingMedia();
    const el = widget({
      rooms: new InMemoryRooms(),
      room: newRoomId(),
      name: 'Alice',
      getUserMedia: media.getUserMedia,
    });
    const log = record(el);
    await mount(el);

    button(el, 'join-button').click();
    await reach(el, 'waiting');

    expect(transitions(log.states)).to.deep.equal(['idle→joining', 'joining→waiting']);
    expect(media.calls).to.have.length(1);
    expect(Boolean(media.calls[0]!.audio), 'asks for audio').to.equal(true);
    expect(Boolean(media.calls[0]!.video), 'asks for video').to.equal(true);
    expect(el.localStream).to.equal(media.streams[0]);
    expect(part<HTMLVideoElement>(el, 'local-video')?.srcObject).to.equal(media.streams[0]);
    expect(part(el, 'local-tile')?.hidden).to.equal(false);
    expect(part(el, 'join-button')).to.equal(null);
    expect(button(el, 'mic-button').getAttribute('aria-pressed')).to.equal('false');
    expect(button(el, 'camera-button').getAttribute('aria-pressed')).to.equal('false');
    expect(part(el, 'status-badge')?.textContent?.trim()).to.equal(en['state-waiting']);
    expect(log.errors).to.have.length(0);
    await expect(el).to.be.accessible();
  });

  it('two widgets in one room connect and each decodes the other one’s video', async () => {
    const { alice, bob, aliceLog, bobLog } = await call();

    const [aliceSees, bobSees] = await Promise.all([
      videoFrames(remoteVideo(alice), 5),
      videoFrames(remoteVideo(bob), 5),
    ]);
    expect(aliceSees).to.have.length(5);
    expect(bobSees).to.have.length(5);
    expect(alice.getAttribute('state')).to.equal('connected');
    expect(bob.getAttribute('state')).to.equal('connected');
    expect(remoteVideo(alice).getAttribute('aria-label')).to.equal('Video of Bob');
    expect(remoteVideo(bob).getAttribute('aria-label')).to.equal('Video of Alice');
    expect(aliceLog.errors).to.have.length(0);
    expect(bobLog.errors).to.have.length(0);
    await expect(alice).to.be.accessible();
    await expect(bob).to.be.accessible();
  });

  it('fires call-state-change and call-peer-joined with the documented fields', async () => {
    const { root, alice, bob, aliceLog, bobLog } = await call();

    // Alice was alone and waited; Bob joined a call that had someone in it.
    expect(transitions(aliceLog.states)).to.deep.equal([
      'idle→joining',
      'joining→waiting',
      'waiting→connecting',
      'connecting→connected',
    ]);
    expect(transitions(bobLog.states)).to.deep.equal(['idle→joining', 'joining→connecting', 'connecting→connected']);
    for (const event of [...aliceLog.states, ...bobLog.states]) {
      expect(event).to.be.instanceOf(CallStateChangeEvent);
      expect(event.type).to.equal('call-state-change');
      expect(CALL_STATES).to.include(event.previous);
      expect(CALL_STATES).to.include(event.state);
      expect(event.bubbles && event.composed, 'bubbles and composed').to.equal(true);
    }

    // Bob's socket entered the room after Alice's: only Alice hears of a new peer.
    expect(aliceLog.joined).to.have.length(1);
    expect(bobLog.joined).to.have.length(0);
    const [joined] = aliceLog.joined;
    expect(joined).to.be.instanceOf(CallPeerJoinedEvent);
    expect(joined!.bubbles && joined!.composed).to.equal(true);
    expect(joined!.peer.id).to.match(PEER_ID_PATTERN);
    expect(joined!.peer.name).to.be.a('string');
    expect(joined!.peer.inCall, 'Bob had not pressed join when his socket arrived').to.equal(false);

    // The events bubble out of the widget.
    const bubbled: string[] = [];
    root.addEventListener('call-state-change', (e) => bubbled.push(`${e.previous}→${e.state}`));
    alice.hangup();
    await reach(alice, 'ended');
    await reach(bob, 'ended');
    expect(bubbled).to.deep.equal(['connected→ended', 'connected→ended']);
  });

  it('mic toggle flips aria-pressed and the local audio track, and the peer is told', async () => {
    const { alice, bob } = await call();
    const mic = button(alice, 'mic-button');
    const audio = alice.localStream!.getAudioTracks()[0]!;
    expect(audio.enabled).to.equal(true);
    expect(mic.getAttribute('aria-pressed')).to.equal('false');

    mic.click();
    await alice.updateComplete;
    expect(mic.getAttribute('aria-pressed')).to.equal('true');
    expect(audio.enabled).to.equal(false);
    expect(audio.readyState, 'muting does not stop the track').to.equal('live');
    await until(
      () => (bob.shadowRoot!.querySelector('.label')?.textContent ?? '').includes(en.micIsOff),
      'Bob sees Alice muted',
    );

    mic.click();
    await alice.updateComplete;
    expect(mic.getAttribute('aria-pressed')).to.equal('false');
    expect(audio.enabled).to.equal(true);
    await until(
      () => !(bob.shadowRoot!.querySelector('.label')?.textContent ?? '').includes(en.micIsOff),
      'Bob sees Alice unmuted',
    );
  });

  it('camera toggle flips aria-pressed, stops the camera track, and a new one reaches the peer', async () => {
    const { alice, bob, aliceMedia } = await call();
    const camera = button(alice, 'camera-button');
    const video = alice.localStream!.getVideoTracks()[0]!;
    await videoFrames(remoteVideo(bob), 3);

    camera.click();
    await alice.updateComplete;
    expect(camera.getAttribute('aria-pressed')).to.equal('true');
    expect(video.readyState, 'the camera track is stopped (its light goes out)').to.equal('ended');
    expect(alice.localStream!.getVideoTracks()).to.have.length(0);
    expect(alice.localStream!.getAudioTracks()[0]!.readyState, 'audio goes on').to.equal('live');
    await until(() => bob.shadowRoot!.querySelector('.camera-off') !== null, 'Bob sees Alice’s camera off');

    camera.click();
    await until(() => alice.localStream!.getVideoTracks().length === 1, 'a new camera track');
    await alice.updateComplete;
    expect(camera.getAttribute('aria-pressed')).to.equal('false');
    const next = alice.localStream!.getVideoTracks()[0]!;
    expect(next).to.not.equal(video);
    expect(next.readyState).to.equal('live');
    expect(aliceMedia.calls.at(-1), 'the new request is for video only').to.deep.include({
      video: aliceMedia.calls[0]!.video,
    });
    await until(() => bob.shadowRoot!.querySelector('.camera-off') === null, 'Bob sees Alice’s camera on');
    const frames = await videoFrames(remoteVideo(bob), 3);
    expect(frames).to.have.length(3);
    expect(alice.state).to.equal('connected');
  });

  it('the browser coming back online restarts ICE at once and fires call-reconnect', async () => {
    const { alice, bob } = await call();
    const reconnects: CallReconnectEvent[] = [];
    alice.addEventListener('call-reconnect', (e) => reconnects.push(e));
    const pc = () => peerConnections.get(alice)!.at(-1)!;
    const ufrag = () => /a=ice-ufrag:(\S+)/.exec(pc().localDescription?.sdp ?? '')?.[1];
    const before = ufrag();
    expect(before).to.be.a('string');
    window.dispatchEvent(new Event('online'));
    expect(reconnects.map((e) => [e.attempt, e.cause])).to.deep.equal([[1, 'network-change']]);
    expect(reconnects[0]!.peerId).to.match(PEER_ID_PATTERN);
    expect(reconnects[0]!.bubbles && reconnects[0]!.composed).to.equal(true);
    // The restart is a real one: a new ICE ufrag is negotiated, and the call stays up.
    await until(() => ufrag() !== before && pc().signalingState === 'stable', 'a new ICE ufrag after the restart');
    expect(peerConnections.get(alice)).to.have.length(1, 'restarted, not rebuilt');
    await reach(alice, 'connected');
    await reach(bob, 'connected');
    expect(await videoFrames(remoteVideo(alice), 3)).to.have.length.of.at.least(3);
  });

  it('hang-up ends the call on both sides and stops every local track', async () => {
    const { alice, bob, aliceLog, bobLog, aliceMedia, bobMedia } = await call();
    expect(bobLog.left, 'nobody left yet').to.have.length(0);

    button(alice, 'hangup-button').click();
    await reach(alice, 'ended');
    expect(aliceMedia.tracks().length).to.be.greaterThan(0);
    expect(aliceMedia.tracks().map((t) => t.readyState)).to.deep.equal(aliceMedia.tracks().map(() => 'ended'));
    expect(alice.localStream).to.equal(null);
    expect(button(alice, 'join-button').textContent?.trim()).to.equal(en.rejoin);
    expect(aliceLog.errors).to.have.length(0);

    // In a 1:1 call the other side's call ends too.
    await reach(bob, 'ended');
    expect(bobLog.left).to.have.length(1);
    const [left] = bobLog.left;
    expect(left).to.be.instanceOf(CallPeerLeftEvent);
    expect(left!.reason).to.equal('hangup');
    expect(left!.peer.id).to.match(PEER_ID_PATTERN);
    expect(left!.peer.name).to.equal('Alice');
    expect(left!.bubbles && left!.composed).to.equal(true);
    expect(
      bobMedia.tracks().every((t) => t.readyState === 'ended'),
      'Bob’s tracks stopped',
    ).to.equal(true);
    expect(transitions(bobLog.states).at(-1)).to.equal('connected→ended');
    await expect(alice).to.be.accessible();
    await expect(bob).to.be.accessible();
  });

  it('removing the element stops its tracks and the other side gets call-peer-left', async () => {
    const { alice, bob, aliceLog, bobLog, bobMedia } = await call();
    const bobId = aliceLog.joined[0]!.peer.id;

    bob.remove();
    expect(bobMedia.tracks().length).to.be.greaterThan(0);
    expect(
      bobMedia.tracks().every((t) => t.readyState === 'ended'),
      'all of Bob’s tracks stopped',
    ).to.equal(true);

    await until(() => aliceLog.left.length === 1, 'Alice hears that Bob left');
    const [left] = aliceLog.left;
    expect(left!.peer.id).to.equal(bobId);
    expect(left!.peer.name).to.equal('Bob');
    expect(left!.reason).to.equal('left');
    // A peer whose connection dropped may come back: Alice waits for it.
    await reach(alice, 'waiting');
    expect(part(alice, 'remote-video')).to.equal(null);
    expect(bobLog.errors).to.have.length(0);
  });

  it('a third widget in a full room fails with room-full', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const alice = widget({ rooms, room, name: 'Alice' });
    const bob = widget({ rooms, room, name: 'Bob' });
    const aliceLog = record(alice);
    const root = await mount(alice, bob);
    await until(() => aliceLog.joined.length === 1, 'Bob is in the room');

    const carolMedia = recordingMedia();
    const carol = widget({ rooms, room, name: 'Carol', getUserMedia: carolMedia.getUserMedia });
    const carolLog = record(carol);
    root.append(carol);
    await reach(carol, 'failed');

    expect(carolLog.errors).to.have.length(1);
    expect(carolLog.errors[0]!.code).to.equal('room-full');
    expect(carolLog.errors[0]!.bubbles && carolLog.errors[0]!.composed).to.equal(true);
    expect(carol.error?.code).to.equal('room-full');
    expect(carol.getAttribute('state')).to.equal('failed');
    expect(carol.shadowRoot!.querySelector('[role="alert"]')?.textContent?.trim()).to.equal(en['error-room-full']);
    expect(carolMedia.calls, 'no camera for a full room').to.have.length(0);
    expect(alice.state).to.equal('idle');
    expect(bob.state).to.equal('idle');
    await expect(carol).to.be.accessible();
  });

  it('permission denied fails with call-error permission-denied and a visible, accessible message', async () => {
    const denied = recordingMedia({ error: new DOMException('Permission denied', 'NotAllowedError') });
    const el = widget({
      rooms: new InMemoryRooms(),
      room: newRoomId(),
      name: 'Alice',
      getUserMedia: denied.getUserMedia,
    });
    const log = record(el);
    await mount(el);

    button(el, 'join-button').click();
    await reach(el, 'failed');
    expect(transitions(log.states)).to.deep.equal(['idle→joining', 'joining→failed']);
    expect(log.errors).to.have.length(1);
    expect(log.errors[0]).to.be.instanceOf(CallErrorEvent);
    expect(log.errors[0]!.code).to.equal('permission-denied');
    expect(log.errors[0]!.message).to.be.a('string').and.not.equal('');
    expect(el.error?.code).to.equal('permission-denied');
    expect(el.getAttribute('state')).to.equal('failed');
    const alert = el.shadowRoot!.querySelector<HTMLElement>('[role="alert"]');
    expect(alert?.textContent?.trim()).to.equal(en['error-permission-denied']);
    expect(alert!.getBoundingClientRect().height, 'the message is visible').to.be.greaterThan(0);
    expect(part(el, 'status-badge')?.textContent?.trim()).to.equal(en['state-failed']);
    expect(button(el, 'join-button').textContent?.trim()).to.equal(en.retry);
    await expect(el).to.be.accessible();
  });

  it('retry after permission denied reaches waiting with working media', async () => {
    const denied = recordingMedia({ error: new DOMException('Permission denied', 'NotAllowedError') });
    const el = widget({
      rooms: new InMemoryRooms(),
      room: newRoomId(),
      name: 'Alice',
      getUserMedia: denied.getUserMedia,
    });
    const log = record(el);
    await mount(el);
    button(el, 'join-button').click();
    await reach(el, 'failed');

    const working = recordingMedia();
    el.getUserMedia = working.getUserMedia;
    button(el, 'join-button').click(); // the "Try again" button
    await reach(el, 'waiting');
    expect(working.calls).to.have.length(1);
    expect(el.localStream).to.equal(working.streams[0]);
    expect(el.error).to.equal(null);
    expect(el.shadowRoot!.querySelector('[role="alert"]'), 'the error message is gone').to.equal(null);
    expect(transitions(log.states)).to.deep.equal([
      'idle→joining',
      'joining→failed',
      'failed→joining',
      'joining→waiting',
    ]);
    expect(log.errors, 'no further errors').to.have.length(1);
  });
});
