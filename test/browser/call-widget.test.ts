/**
 * `<call-widget>` in a real browser, with in-page signaling (the real room
 * rules of party/room.ts behind `createSocket`) and canvas media behind
 * `getUserMedia`: no camera, network or server.
 *
 * Absent elements are asserted as `?.outerHTML ?? null`, and elements are
 * compared with `===`, never passed to chai as such: a failing assertion on
 * an element hung the page (its failure report walks the element's object
 * graph), so the run timed out instead of naming the assertion.
 */
import { expect, fixture, html } from '@open-wc/testing';
import '../../src/call-widget.ts';
import {
  type CallEndedEvent,
  CallErrorEvent,
  CallPeerJoinedEvent,
  CallPeerLeftEvent,
  type CallReconnectEvent,
  CallStateChangeEvent,
  type CallState,
  type CallWidget,
  JOIN_TIMEOUT_MS,
} from '../../src/call-widget.ts';
import { CALL_STATES } from '../../src/call-state.ts';
import ar from '../../src/i18n/ar.ts';
import es from '../../src/i18n/es.ts';
import { MESSAGES as failureMessages } from '../../src/failure.ts';
import { en as entryMessages, format } from '../../src/i18n/messages.ts';
import { MESSAGES as knockMessages } from '../../src/knocks.ts';
import { MESSAGES as lobbyMessages } from '../../src/lobby.ts';
import { emulateMedia, executeServerCommand, sendKeys } from '@web/test-runner-commands';
import { PEER_ID_PATTERN, ROOM_ID_PATTERN } from '../../src/protocol.ts';
import { randomId } from '../../src/random-id.ts';
import { canvasGetUserMedia } from '../support/canvas-media.ts';
import { InMemoryRooms } from '../support/in-memory-room.ts';
import { sleep, stopAll, until, videoFrames } from './helpers.ts';

/** The widget's English: the entry's and that of its lazy chunks. */
const en = { ...entryMessages, ...failureMessages, ...knockMessages, ...lobbyMessages };

/** The text of `el`'s error alert, once its error view (a lazy chunk) shows it. */
async function alertText(el: Element): Promise<string | undefined> {
  const alert = (): Element | null | undefined => el.shadowRoot?.querySelector('[role="alert"]');
  await until(() => !!alert()?.textContent?.trim(), 'the error alert is shown');
  return alert()?.textContent?.trim();
}

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

/**
 * Canvas media of a browser without device `deviceId` (unplugged): a request
 * for it exactly cannot be met (`OverconstrainedError`); the others are
 * recorded as by {@link recordingMedia}.
 */
function withoutDevice(deviceId: string) {
  const media = recordingMedia();
  const getUserMedia: GetUserMedia = (constraints) =>
    JSON.stringify(constraints).includes(deviceId)
      ? Promise.reject(new DOMException('Constraints could not be satisfied', 'OverconstrainedError'))
      : media.getUserMedia(constraints);
  return { ...media, getUserMedia };
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
  /** Open the pre-join lobby from the join button (default: join at once, `skip-lobby`). */
  lobby?: boolean;
}

/** Every peer connection each widget made, in order. */
const peerConnections = new WeakMap<CallWidget, RTCPeerConnection[]>();

/** A widget with its platform injected, not yet connected to the document. */
function widget({ rooms, room, name, getUserMedia, lobby = false }: WidgetOptions): CallWidget {
  const el = document.createElement('call-widget');
  // The join button joins at once unless a test is about the lobby.
  el.skipLobby = !lobby;
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
/** Alice alone in a fresh in-memory room, her camera and microphone refused (NotAllowedError). */
function deniedWidget(): CallWidget {
  const denied = recordingMedia({ error: new DOMException('Permission denied', 'NotAllowedError') });
  return widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice', getUserMedia: denied.getUserMedia });
}

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

/**
 * Give `el` in-memory room sockets whose server side the test can cut: `drop()`
 * closes the current one (1006) and the room takes it as a drop. The socket
 * does not come back by itself: the room stays out of reach.
 */
function droppableSocket(el: CallWidget, rooms: InMemoryRooms, room: string): { drop: () => void } {
  let serverSide: Parameters<ReturnType<typeof rooms.room>['drop']>[0] | undefined;
  el.createSocket = (address) => {
    const socket = rooms.socketFactory(address);
    serverSide = (socket as unknown as { serverSide: typeof serverSide }).serverSide;
    return socket;
  };
  return {
    drop: () => {
      serverSide!.close(1006, '');
      rooms.room({ host: '', party: 'main', room }).drop(serverSide!);
    },
  };
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
  const root = await connectBoth(alice, bob);
  return { root, room, alice, bob, aliceLog, bobLog, aliceMedia, bobMedia };
}

/** Alice's and Bob's idle widgets in one room, mounted; `region` is Alice's live region. */
async function idlePair() {
  const rooms = new InMemoryRooms();
  const room = newRoomId();
  const alice = widget({ rooms, room, name: 'Alice', getUserMedia: recordingMedia().getUserMedia });
  const bob = widget({ rooms, room, name: 'Bob', getUserMedia: recordingMedia().getUserMedia });
  await mount(alice, bob);
  return { alice, bob, region: alice.shadowRoot!.querySelector('[aria-live]')! };
}

/**
 * The browser's answer to `play()` with sound, as its autoplay policy gives
 * it before a click: refused (`NotAllowedError`) until `allowed`; muted play
 * is never refused. `restore()` puts the real `play()` back.
 */
function refuseSoundUntilAllowed() {
  const play = HTMLMediaElement.prototype.play;
  const policy = { allowed: false, restore: () => void (HTMLMediaElement.prototype.play = play) };
  HTMLMediaElement.prototype.play = function (this: HTMLMediaElement) {
    return policy.allowed || this.muted ? play.call(this) : Promise.reject(new DOMException('not allowed to play', 'NotAllowedError'));
  };
  return policy;
}

/** Alice joins and waits, then Bob joins; resolves once Alice is connected. */
async function callIn(alice: CallWidget, bob: CallWidget): Promise<void> {
  button(alice, 'join-button').click();
  await reach(alice, 'waiting');
  button(bob, 'join-button').click();
  await reach(alice, 'connected');
}

/** {@link idlePair}, and every text Alice's live region has held, in order. */
async function soundPair() {
  const pair = await idlePair();
  const said: string[] = [];
  new MutationObserver(() => said.push(pair.region.textContent!)).observe(pair.region, { childList: true, subtree: true, characterData: true });
  return { ...pair, said };
}

/** A 1:1 room that Alice's and Bob's idle widgets fill (a third gets room-full). */
async function fullRoom() {
  const rooms = new InMemoryRooms();
  const room = newRoomId();
  const alice = widget({ rooms, room, name: 'Alice' });
  const bob = widget({ rooms, room, name: 'Bob' });
  const aliceLog = record(alice);
  const root = await mount(alice, bob);
  await until(() => aliceLog.joined.length === 1, 'Bob is in the room');
  return { rooms, room, root, alice, bob };
}

/** Mount two widgets; the first joins and waits, the second joins; both reach `connected`. */
async function connectBoth(alice: CallWidget, bob: CallWidget): Promise<HTMLElement> {
  const root = await mount(alice, bob);
  button(alice, 'join-button').click();
  await reach(alice, 'waiting');
  button(bob, 'join-button').click();
  await reach(alice, 'connected');
  await reach(bob, 'connected');
  return root;
}

/**
 * A room of `names.length` places, everyone in its call, joined in turn;
 * resolves once each is connected to all the others. `style` applies to
 * the first widget before it is mounted; `lastMedia` is the last one's
 * camera and microphone.
 */
async function groupCall(names: string[], { style = '', lastMedia }: { style?: string; lastMedia?: GetUserMedia } = {}): Promise<CallWidget[]> {
  const rooms = new InMemoryRooms({ capacity: names.length });
  const room = newRoomId();
  const people = names.map((name, i) => widget({ rooms, room, name, getUserMedia: i === names.length - 1 ? lastMedia : undefined }));
  people[0]!.style.cssText = style;
  await mount(...people);
  // One whose camera is still starting is `joining` (its links connect all the same).
  const starting = lastMedia ? people.at(-1) : undefined;
  for (const [i, person] of people.entries()) {
    button(person, 'join-button').click();
    await reach(person, person === starting ? 'joining' : i ? 'connected' : 'waiting');
  }
  const others = names.length - 1;
  await until(
    () =>
      people.every(
        (p) =>
          (p === starting || p.state === 'connected') &&
          p.shadowRoot!.querySelectorAll('[part~="remote-tile"]').length === others,
      ),
    `a full mesh of ${names.length}`,
  );
  await Promise.all(people.map((p) => p.updateComplete));
  return people;
}

function remoteVideo(el: CallWidget): HTMLVideoElement {
  const video = part<HTMLVideoElement>(el, 'remote-video');
  if (!video) throw new Error(`no remote video in state ${el.state}`);
  return video;
}

// axe reads colours as they are at that instant: no colour fade may be half-way
// through (the one test of the fades turns them back on).
before(() => emulateMedia({ reducedMotion: 'reduce' }));

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
    expect(part(el, 'mic-button')?.outerHTML ?? null, 'no mic button before joining').to.equal(null);
    expect(part(el, 'hangup-button')?.outerHTML ?? null, 'no hang-up button before joining').to.equal(null);
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
    expect(part(el, 'join-button')?.outerHTML ?? null).to.equal(null);
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
    expect(remoteVideo(alice).getAttribute('aria-label')).to.equal('Video of \u2068Bob\u2069');
    expect(remoteVideo(bob).getAttribute('aria-label')).to.equal('Video of \u2068Alice\u2069');
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

  it('an offer that adds an m-section (same certificate, one more fingerprint line) renegotiates the link; it is no rebuild', async () => {
    const { alice, bob } = await call();
    const [alicePc] = peerConnections.get(alice)!;
    alicePc!.addTransceiver('audio', { direction: 'recvonly' }); // negotiationneeded: an offer with one more section
    await until(
      () => peerConnections.get(bob)![0]!.getTransceivers().length === alicePc!.getTransceivers().length,
      'Bob answered the new section',
    );
    await until(() => alicePc!.signalingState === 'stable', 'the offer answered');
    expect(peerConnections.get(bob), 'Bob kept his peer connection').to.have.length(1);
    expect(peerConnections.get(alice)).to.have.length(1);
    expect([alice.state, bob.state]).to.deep.equal(['connected', 'connected']);
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

  it('a first offer the room never delivered is sent again after 10 s (connect-timeout), and the call connects', async function () {
    this.timeout(30_000);
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const alice = widget({ rooms, room, name: 'Alice' });
    const bob = widget({ rooms, room, name: 'Bob' });
    // Bob joins second, so he offers: his first offer is lost on the way.
    let dropped = 0;
    bob.createSocket = (address) => {
      const socket = rooms.socketFactory(address);
      const send = socket.send.bind(socket);
      socket.send = (frame: string) => {
        if (!dropped && frame.includes('"type":"offer"')) dropped++;
        else send(frame);
      };
      return socket;
    };
    const reconnects: CallReconnectEvent[] = [];
    bob.addEventListener('call-reconnect', (e) => reconnects.push(e));
    await mount(alice, bob);
    button(alice, 'join-button').click();
    await reach(alice, 'waiting');
    button(bob, 'join-button').click();
    await until(() => dropped === 1, 'the first offer is dropped');
    const lost = Date.now();
    await sleep(2000);
    expect([alice.state, bob.state], 'nothing can connect yet').to.deep.equal(['connecting', 'connecting']);
    await reach(bob, 'connected', 15_000);
    await reach(alice, 'connected');
    expect(Date.now() - lost, 'after RECOVERY.connectMs').to.be.greaterThan(9_000);
    expect(reconnects.map((e) => [e.attempt, e.cause])).to.deep.equal([[1, 'connect-timeout']]);
    expect(await videoFrames(remoteVideo(alice), 3)).to.have.length.of.at.least(3);
    expect(await videoFrames(remoteVideo(bob), 3)).to.have.length.of.at.least(3);
  });

  it('a negotiation step that fails (the first answer cannot be applied) takes a recovery step at once, quietly: the first offer goes again, the call connects', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const alice = widget({ rooms, room, name: 'Alice' });
    const bob = widget({ rooms, room, name: 'Bob' });
    // Bob joins second, so he offers; the first answer he is given fails.
    const create = bob.createPeerConnection!;
    let failed = 0;
    bob.createPeerConnection = (configuration) => {
      const pc = create(configuration);
      const setRemoteDescription = pc.setRemoteDescription.bind(pc);
      pc.setRemoteDescription = (description: RTCSessionDescriptionInit) =>
        description.type === 'answer' && !failed++
          ? Promise.reject(new DOMException('Failed to set remote answer sdp', 'OperationError'))
          : setRemoteDescription(description);
      return pc;
    };
    const reconnects: CallReconnectEvent[] = [];
    bob.addEventListener('call-reconnect', (e) => reconnects.push(e));
    const errors: CallErrorEvent[] = [];
    bob.addEventListener('call-error', (e) => errors.push(e));
    await mount(alice, bob);
    button(alice, 'join-button').click();
    await reach(alice, 'waiting');
    button(bob, 'join-button').click();
    // (Polled: the recovery step's answer may follow within the poll's 20 ms, and count too.)
    await until(() => failed > 0, 'the first answer failed');
    const at = Date.now();
    await reach(bob, 'connected');
    await reach(alice, 'connected');
    expect(Date.now() - at, 'not after the connect watch (10 s)').to.be.lessThan(5_000);
    expect(reconnects.map((e) => [e.attempt, e.cause])).to.deep.equal([[1, 'signaling']]);
    expect(errors, 'no call-error').to.have.length(0);
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
    // Who ended it, shown (not only said): the one who hung up has nothing to be told.
    await bob.updateComplete;
    expect(part(bob, 'end-note')?.textContent).to.equal(format(en.peerHungUp, { name: 'Alice' }));
    expect(part(alice, 'end-note')).to.equal(null);
    await expect(alice).to.be.accessible();
    await expect(bob).to.be.accessible();
    // A new call: the note goes.
    button(bob, 'join-button').click();
    await reach(bob, 'waiting');
    expect(part(bob, 'end-note')).to.equal(null);
  });

  it('the ended view\'s note follows lang; a next attempt that fails ends as failed, not as the last call did', async () => {
    const { alice, bob } = await call();
    button(alice, 'hangup-button').click();
    await reach(bob, 'ended');
    bob.setAttribute('lang', 'es');
    await until(() => part(bob, 'end-note')?.textContent === format(es.peerHungUp, { name: 'Alice' }), 'in Spanish');
    const reasons: string[] = [];
    bob.addEventListener('call-ended', (e) => reasons.push(e.reason));
    bob.getUserMedia = recordingMedia({ error: new DOMException('Permission denied', 'NotAllowedError') }).getUserMedia;
    button(bob, 'join-button').click();
    await reach(bob, 'failed');
    await sleep(50);
    // The refused camera's state change comes before the failure is reported.
    expect(reasons).to.deep.equal(['failed']);
    expect(part(bob, 'end-note')).to.equal(null);
  });

  it('a hang-up while the room socket is down reaches the other side at once over the data channel, as a hang-up', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const alice = widget({ rooms, room, name: 'Alice', getUserMedia: recordingMedia().getUserMedia });
    const bob = widget({ rooms, room, name: 'Bob', getUserMedia: recordingMedia().getUserMedia });
    const bobLog = record(bob);
    const ended: CallEndedEvent[] = [];
    bob.addEventListener('call-ended', (e) => ended.push(e));
    const aliceSocket = droppableSocket(alice, rooms, room);
    await connectBoth(alice, bob);
    aliceSocket.drop();
    await until(() => alice.shadowRoot!.querySelector('[part~="signaling-hint"]') !== null, 'Alice’s room socket is down');

    alice.hangup();
    // The room holds Alice's place for its grace (20 s) and would then say she left.
    await reach(bob, 'ended', 3000);
    expect(ended.map((e) => e.reason)).to.deep.equal(['remote-hangup']);
    expect(bobLog.left.map((e) => [e.peer.name, e.reason])).to.deep.equal([['Alice', 'hangup']]);
  });

  it('in a group call, a hang-up heard on the data channel is reported once: the room’s later peer-left is no news', async () => {
    // A grace past the widgets' 3 s heartbeat (a member silent longer is dropped), short enough to wait out.
    const rooms = new InMemoryRooms({ capacity: 3, graceMs: 4000 });
    const room = newRoomId();
    const [alice, bob, carol] = ['Alice', 'Bob', 'Carol'].map((name) => widget({ rooms, room, name, getUserMedia: recordingMedia().getUserMedia })) as [
      CallWidget,
      CallWidget,
      CallWidget,
    ];
    const aliceSocket = droppableSocket(alice, rooms, room);
    await mount(alice, bob, carol);
    for (const [i, person] of [alice, bob, carol].entries()) {
      button(person, 'join-button').click();
      await reach(person, i ? 'connected' : 'waiting');
    }
    await until(() => [alice, bob, carol].every((p) => p.shadowRoot!.querySelectorAll('[part~="remote-tile"]').length === 2), 'a full mesh of 3');
    const bobLog = record(bob);
    aliceSocket.drop();
    await until(() => alice.shadowRoot!.querySelector('[part~="signaling-hint"]') !== null, 'Alice’s room socket is down');

    alice.hangup();
    await until(() => bobLog.left.length === 1, 'Bob hears Alice hang up');
    expect(bobLog.left.map((e) => [e.peer.name, e.reason])).to.deep.equal([['Alice', 'hangup']]);
    // Past the room's grace it drops Alice's place and says she left: nothing more for Bob.
    await until(() => rooms.room({ host: '', party: 'main', room }).size === 2, 'the room drops Alice', { timeoutMs: 8000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bobLog.left.map((e) => [e.peer.name, e.reason])).to.deep.equal([['Alice', 'hangup']]);
    expect(bob.state).to.equal('connected');
    expect(bob.shadowRoot!.querySelectorAll('[part~="remote-tile"]')).to.have.length(1);
    bob.hangup();
    carol.hangup();
  });

  it('removing the element ends its call (call-ended), stops its tracks and the other side gets call-peer-left', async () => {
    const { root, alice, bob, aliceLog, bobLog, bobMedia } = await call();
    const bobId = aliceLog.joined[0]!.peer.id;
    const ended: CallEndedEvent[] = [];
    bob.addEventListener('call-ended', (e) => ended.push(e));
    await new Promise((resolve) => setTimeout(resolve, 20));

    bob.remove();
    await until(() => ended.length > 0, 'Bob’s call-ended');
    expect(ended[0]!.reason).to.equal('hangup');
    expect(ended[0]!.durationMs, 'counted from connected').to.be.greaterThan(0);
    expect(transitions(bobLog.states).at(-1)).to.equal('connected→ended');
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
    expect(part(alice, 'remote-video')?.outerHTML ?? null).to.equal(null);
    expect(bobLog.errors).to.have.length(0);

    // Put back, it starts afresh.
    root.append(bob);
    await reach(bob, 'idle');
    expect(ended, 'no second call-ended').to.have.length(1);
  });

  it('join() and openLobby() on an element not in a document ask for no camera; mounted later it is idle', async () => {
    const media = recordingMedia();
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice', getUserMedia: media.getUserMedia });
    await el.join();
    await el.openLobby();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(media.calls, 'no camera asked for').to.have.length(0);
    await mount(el);
    await reach(el, 'idle');
    expect(el.localStream).to.equal(null);
    // In the page, the same calls work.
    await el.join();
    await reach(el, 'waiting');
    expect(media.calls).to.have.length(1);
    el.hangup();
    expect(media.tracks().every((t) => t.readyState === 'ended')).to.equal(true);
  });

  it('a third widget in a full room fails with room-full', async () => {
    const { rooms, room, root, alice, bob } = await fullRoom();

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
    expect(await alertText(carol)).to.equal(en['error-room-full']);
    expect(carolMedia.calls, 'no camera for a full room').to.have.length(0);
    expect(alice.state).to.equal('idle');
    expect(bob.state).to.equal('idle');
    await expect(carol).to.be.accessible();
  });

  it('permission denied fails with call-error permission-denied and a visible, accessible message', async () => {
    const el = deniedWidget();
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
    expect(await alertText(el)).to.equal(en['error-permission-denied']);
    const alert = el.shadowRoot!.querySelector<HTMLElement>('[role="alert"]');
    expect(alert!.getBoundingClientRect().height, 'the message is visible').to.be.greaterThan(0);
    expect(part(el, 'status-badge')?.textContent?.trim()).to.equal(en['state-failed']);
    expect(button(el, 'join-button').textContent?.trim()).to.equal(en.retry);
    await expect(el).to.be.accessible();
  });

  it('retry after permission denied reaches waiting with working media', async () => {
    const el = deniedWidget();
    const log = record(el);
    await mount(el);
    button(el, 'join-button').click();
    await reach(el, 'failed');
    await alertText(el);

    const working = recordingMedia();
    el.getUserMedia = working.getUserMedia;
    button(el, 'join-button').click(); // the "Try again" button
    await reach(el, 'waiting');
    expect(working.calls).to.have.length(1);
    expect(el.localStream).to.equal(working.streams[0]);
    expect(el.error).to.equal(null);
    expect(el.shadowRoot!.querySelector('[role="alert"]')?.outerHTML ?? null, 'the error message is gone').to.equal(null);
    expect(transitions(log.states)).to.deep.equal([
      'idle→joining',
      'joining→failed',
      'failed→joining',
      'joining→waiting',
    ]);
    expect(log.errors, 'no further errors').to.have.length(1);
  });

  it('re-renders never reload the local preview: its srcObject is assigned once per stream', async () => {
    const { alice } = await call();
    const preview = part<HTMLVideoElement>(alice, 'local-video')!;
    expect(preview.srcObject).to.equal(alice.localStream);
    // Assigning srcObject, even the same stream, runs the load algorithm: loadstart (and emptied) again.
    const reloads: string[] = [];
    for (const type of ['loadstart', 'emptied']) preview.addEventListener(type, () => reloads.push(type));
    for (let i = 0; i < 5; i++) {
      alice.requestUpdate();
      await alice.updateComplete;
    }
    alice.toggleMic();
    await alice.updateComplete;
    alice.toggleMic();
    await alice.updateComplete;
    await new Promise((resolve) => setTimeout(resolve, 50)); // those events are queued as tasks
    expect(reloads).to.deep.equal([]);
    alice.hangup();
    await reach(alice, 'ended');
    expect(preview.srcObject, 'no stream kept after hang-up').to.equal(null);
  });

  it('the preview shows the camera again after it is turned off and on, switched, or a new call, with or without a microphone', async () => {
    // The stream object stays; its video track is removed and a new one added.
    // With no microphone, turning the camera off leaves the stream inactive.
    for (const audio of [true, false]) {
      const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'A' });
      await mount(el);
      await el.join({ audio });
      await reach(el, 'waiting');
      const preview = part<HTMLVideoElement>(el, 'local-video')!;
      await videoFrames(preview, 3);
      el.toggleCamera();
      await until(() => el.localStream!.getVideoTracks().length === 0, 'camera off');
      el.toggleCamera();
      await until(() => el.localStream!.getVideoTracks().length === 1, 'camera on');
      await videoFrames(preview, 3);
      const before = el.localStream!.getVideoTracks()[0];
      await el.useDevice('video', '');
      expect(el.localStream!.getVideoTracks()[0], 'a new camera track').to.not.equal(before);
      await videoFrames(preview, 3);
      expect(preview.srcObject, `audio: ${audio}`).to.equal(el.localStream);
      // A new call, a new stream.
      el.hangup();
      await reach(el, 'ended');
      await el.join({ audio });
      await reach(el, 'waiting');
      await videoFrames(preview, 3);
      expect(preview.srcObject, `audio: ${audio}, joined again`).to.equal(el.localStream);
      el.remove();
    }
  });

  it('an idle widget answers its welcome at once with a ping, so the room holds its slot through a drop', async () => {
    // The room holds a dropped member for its resume only once it has heard
    // from it (party/room.ts, `heard`): a widget that stayed silent until its
    // first heartbeat would lose its slot, and its id, to a drop meanwhile.
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const el = widget({ rooms, room, name: 'A' });
    const sent: string[] = [];
    let serverSide: unknown;
    el.createSocket = (address) => {
      const socket = rooms.socketFactory(address);
      serverSide = (socket as unknown as { serverSide: unknown }).serverSide;
      const send = socket.send.bind(socket);
      socket.send = (data) => {
        sent.push(data);
        send(data);
      };
      return socket;
    };
    const server = rooms.room({ host: '', party: 'main', room });
    await mount(el);
    await until(() => server.size === 1, 'the room admitted us');
    // The welcome and its answer cross the in-memory socket (1 ms each way);
    // the first heartbeat is HEARTBEAT.intervalMs (3 s) away.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(el.state).to.equal('idle');
    expect(sent.map((f) => (JSON.parse(f) as { type: string }).type)).to.deep.equal(['ping']);
    server.drop(serverSide as Parameters<typeof server.drop>[0]);
    expect(server.size, 'held through the drop').to.equal(1);
    el.remove();
  });
});

/** The widget's visible text of `partName`, trimmed. */
const textOf = (el: CallWidget, partName: string) => part(el, partName)?.textContent?.trim();

/** Wait until the widget has rendered with its catalog loaded (renders wait for it). */
async function settled(el: CallWidget): Promise<void> {
  await el.updateComplete;
  await until(() => !!part(el, 'base'), 'first render');
}

describe('<call-widget> embedding: languages, direction, theme, slots, accessibility', () => {
  afterEach(async () => {
    await emulateMedia({ colorScheme: 'dark', reducedMotion: 'reduce' });
  });

  it('a peer’s name keeps its own direction in an Arabic widget, and arrives without the invisible characters typed into it', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const alice = widget({ rooms, room, name: 'Alice', getUserMedia: recordingMedia().getUserMedia });
    // Typed (or pasted) with a zero-width space and a soft hyphen in it.
    const bob = widget({ rooms, room, name: 'Bo\u200bb\u00ad 2!', getUserMedia: recordingMedia().getUserMedia });
    alice.setAttribute('lang', 'ar');
    await connectBoth(alice, bob);
    await settled(alice);
    const bdi = alice.shadowRoot!.querySelector('[part~=remote-tile] [part~=name-label] bdi')!;
    expect(bdi.parentElement!.textContent).to.equal('Bob 2!');
    expect(remoteVideo(alice).getAttribute('aria-label')).to.equal(format(ar.remoteVideo, { name: 'Bob 2!' }));
    expect(remoteVideo(alice).getAttribute('aria-label')).to.contain('\u2068Bob 2!\u2069');
    // Isolated, the Latin name reads left to right inside the right-to-left
    // badge: its "!" after "Bob", not before it as the badge's direction
    // would put it.
    const text = [...bdi.childNodes].find((node) => node.nodeType === Node.TEXT_NODE)!;
    const x = (i: number) => {
      const range = document.createRange();
      range.setStart(text, i);
      range.setEnd(text, i + 1);
      return range.getBoundingClientRect().left;
    };
    expect(text.textContent).to.equal('Bob 2!');
    expect(x(5), '"!" to the right of "B"').to.be.greaterThan(x(0));
  });

  it('follows the page: a change of <html lang> or dir after load switches the widget\'s language and direction; its own lang wins, and a removed widget stops watching', async () => {
    const root = document.documentElement;
    const [lang, dir] = [root.getAttribute('lang'), root.getAttribute('dir')];
    const restore = (name: string, value: string | null) => (value === null ? root.removeAttribute(name) : root.setAttribute(name, value));
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    const own = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Bob' });
    own.setAttribute('lang', 'en');
    try {
      root.setAttribute('lang', 'en');
      await mount(el);
      await mount(own);
      await settled(el);
      expect(textOf(el, 'join-button')).to.equal(entryMessages.join);
      root.setAttribute('lang', 'es');
      await until(() => textOf(el, 'join-button') === es.join, 'Spanish after <html lang="es">');
      root.setAttribute('lang', 'ar-EG');
      await until(() => textOf(el, 'join-button') === ar.join, 'Arabic after <html lang="ar-EG">');
      expect(part(el, 'base')!.getAttribute('dir')).to.equal('rtl');
      expect(part(el, 'base')!.getAttribute('lang')).to.equal('ar-EG');
      root.setAttribute('dir', 'ltr');
      await until(() => part(el, 'base')!.getAttribute('dir') === 'ltr', 'an explicit dir on <html> wins');
      expect(textOf(own, 'join-button'), 'its own lang wins').to.equal(entryMessages.join);
      el.remove();
      root.setAttribute('lang', 'es');
      await sleep(50);
      expect(part(el, 'base')!.getAttribute('lang'), 'removed: no longer watching').to.equal('ar-EG');
    } finally {
      restore('lang', lang);
      restore('dir', dir);
      own.remove();
    }
  });

  it('lang="ar" speaks Arabic, lays out right to left and mirrors the local inset', async () => {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    el.setAttribute('lang', 'ar');
    await mount(el);
    await settled(el);
    expect(textOf(el, 'join-button')).to.equal(ar.join);
    expect(textOf(el, 'status-badge')).to.equal(ar['state-idle']);
    const base = part(el, 'base')!;
    expect(base.getAttribute('dir')).to.equal('rtl');
    expect(base.getAttribute('lang')).to.equal('ar');
    expect(getComputedStyle(base).direction).to.equal('rtl');

    button(el, 'join-button').click();
    await reach(el, 'waiting');
    const view = el.shadowRoot!.querySelector('.view')!.getBoundingClientRect();
    const inset = part(el, 'local-tile')!.getBoundingClientRect();
    const badge = part(el, 'status-badge')!.getBoundingClientRect();
    expect(inset.left - view.left, 'the local inset sits at the left (inline end) in RTL').to.be.lessThan(view.width / 3);
    expect(view.right - badge.right, 'the status badge sits at the right (inline start)').to.be.lessThan(view.width / 3);
    expect(el.shadowRoot!.querySelector('[aria-live]')!.textContent?.trim()).to.equal(ar['state-waiting']);
    await expect(el).to.be.accessible();
  });

  it('takes the language of an ancestor, switches when lang changes, and falls back to English', async () => {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    const root = await fixture<HTMLElement>(html`<div lang="es-MX"></div>`);
    root.append(el);
    await settled(el);
    expect(textOf(el, 'join-button')).to.equal(es.join);
    expect(part(el, 'base')!.getAttribute('dir')).to.equal('ltr');

    el.setAttribute('lang', 'ar-EG');
    await until(() => textOf(el, 'join-button') === ar.join, 'switch to Arabic');
    expect(part(el, 'base')!.getAttribute('dir')).to.equal('rtl');

    el.setAttribute('lang', 'de');
    await until(() => textOf(el, 'join-button') === en.join, 'no German catalog: English');
    expect(part(el, 'base')!.getAttribute('dir')).to.equal('ltr');
  });

  it('an ancestor dir wins over the language direction', async () => {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    const root = await fixture<HTMLElement>(html`<div dir="ltr" lang="ar"></div>`);
    root.append(el);
    await settled(el);
    expect(textOf(el, 'join-button')).to.equal(ar.join);
    expect(part(el, 'base')!.getAttribute('dir')).to.equal('ltr');
  });

  it('inside another component’s shadow DOM: lang and dir come from across the shadow boundary', async () => {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    const page = await fixture<HTMLElement>(html`<div dir="rtl" lang="es"><section></section></div>`);
    const shadow = page.querySelector('section')!.attachShadow({ mode: 'open' });
    shadow.append(el);
    await settled(el);
    expect(textOf(el, 'join-button')).to.equal(es.join);
    expect(part(el, 'base')!.getAttribute('dir'), 'Spanish, but the page says rtl').to.equal('rtl');
  });

  it('the host page overrides any string through the messages property', async () => {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    el.setAttribute('lang', 'es');
    el.messages = { join: 'Entrar a la consulta', 'state-idle': 'Lista' };
    await mount(el);
    await settled(el);
    expect(textOf(el, 'join-button')).to.equal('Entrar a la consulta');
    expect(textOf(el, 'status-badge')).to.equal('Lista');
    expect(textOf(el, 'invite-button'), 'the rest from the catalog').to.equal(es.copyInvite);
    el.messages = undefined;
    await el.updateComplete;
    expect(textOf(el, 'join-button')).to.equal(es.join);
  });

  it('the strings of a lazy chunk (the error view) come in the widget’s language, and the host page overrides them too', async () => {
    const el = deniedWidget();
    el.setAttribute('lang', 'ar');
    await mount(el);
    await settled(el);
    button(el, 'join-button').click();
    await reach(el, 'failed');
    expect(await alertText(el)).to.equal(ar['error-permission-denied']);
    expect(textOf(el, 'dismiss-button')).to.equal(ar.dismiss);

    el.messages = { 'error-permission-denied': 'Allow the camera, please', dismiss: 'Close' };
    await el.updateComplete;
    expect(await alertText(el)).to.equal('Allow the camera, please');
    expect(textOf(el, 'dismiss-button')).to.equal('Close');
    expect(textOf(el, 'join-button'), 'the rest from the catalog').to.equal(ar.retry);
  });

  it('theme follows prefers-color-scheme; the theme attribute and --call-* properties override it', async () => {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    await mount(el);
    await settled(el);
    const background = () => getComputedStyle(el).backgroundColor;
    await emulateMedia({ colorScheme: 'light' });
    expect(background()).to.equal('rgb(246, 247, 249)');
    await emulateMedia({ colorScheme: 'dark' });
    expect(background()).to.equal('rgb(16, 20, 24)');
    el.theme = 'light';
    await el.updateComplete;
    expect(el.getAttribute('theme')).to.equal('light');
    expect(background()).to.equal('rgb(246, 247, 249)');
    await expect(el).to.be.accessible();
    el.theme = 'dark';
    await el.updateComplete;
    await emulateMedia({ colorScheme: 'light' });
    expect(background()).to.equal('rgb(16, 20, 24)');
    await expect(el).to.be.accessible();
    el.style.setProperty('--call-background', 'rgb(1, 2, 3)');
    expect(background()).to.equal('rgb(1, 2, 3)');
  });

  it('colour fades only without prefers-reduced-motion', async () => {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    await mount(el);
    await settled(el);
    const duration = () => getComputedStyle(button(el, 'join-button')).transitionDuration;
    await emulateMedia({ reducedMotion: 'no-preference' });
    expect(duration()).to.not.equal('0s');
    await emulateMedia({ reducedMotion: 'reduce' });
    expect(duration()).to.equal('0s');
  });

  it('fills a page-given box, 320×240 to 760×300, with every control in view and on top', async () => {
    // Every control shown (in a narrow widget's call, More shows the secondary ones).
    const visibleControls = (el: CallWidget, size = ''): void => {
      const host = el.getBoundingClientRect();
      const buttons = [...el.shadowRoot!.querySelectorAll<HTMLButtonElement>('[part~="controls"] button')].filter((b) => b.checkVisibility());
      expect(buttons.length).to.be.greaterThan(0);
      for (const control of buttons) {
        const box = control.getBoundingClientRect();
        const name = `${control.getAttribute('part')} at ${size}`;
        expect(box.bottom, `${name} inside the widget`).to.be.at.most(host.bottom + 0.5);
        const x = box.left + box.width / 2;
        const y = box.top + box.height / 2;
        const hit = el.shadowRoot!.elementFromPoint(x, y);
        const what = hit ? `${hit.localName}.${hit.className} [part=${hit.getAttribute('part')}]` : 'nothing';
        expect(hit === control, `${name} is what a click at its centre hits, not ${what}`).to.equal(true);
      }
    };
    for (const [width, height] of [
      [320, 240],
      [640, 480],
      [760, 300],
    ]) {
      const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
      el.style.cssText = `display:block;width:${width}px;height:${height}px`;
      await mount(el);
      await settled(el);
      const box = el.getBoundingClientRect();
      expect([box.width, box.height], 'the page-given size wins').to.deep.equal([width, height]);
      visibleControls(el, `${width}×${height}`);
      button(el, 'join-button').click();
      await reach(el, 'waiting');
      visibleControls(el, `${width}×${height} in the call`);
      const more = button(el, 'more-button');
      if (width <= 420) {
        more.click();
        await el.updateComplete;
        visibleControls(el, `${width}×${height} in the call, More open`);
      } else expect(more.checkVisibility(), 'no More in a wide widget').to.equal(false);
      el.remove();
    }
    // No height from the page: 4:3 of the given width, controls included.
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    el.style.cssText = 'display:block;width:480px';
    await mount(el);
    await settled(el);
    expect(el.getBoundingClientRect().height).to.be.closeTo(360, 1);
    visibleControls(el);
    el.remove();

    // A height from the page and no width: the container's width, not one
    // derived from the height through the 4:3 ratio.
    const tall = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    tall.style.cssText = 'display:block;height:300px';
    const container = await fixture<HTMLElement>(html`<div style="width: 700px"></div>`);
    container.append(tall);
    await settled(tall);
    expect([tall.getBoundingClientRect().width, tall.getBoundingClientRect().height]).to.deep.equal([700, 300]);
    visibleControls(tall, 'height only');
    tall.remove();
  });

  it('at phone width with no height from the page: 3:4, and the error view shows its words and ways out in full, told apart from the tile', async () => {
    const el = deniedWidget();
    el.style.cssText = 'display:block;width:320px';
    await mount(el);
    await settled(el);
    expect(el.getBoundingClientRect().height).to.be.closeTo((320 * 4) / 3, 1);
    button(el, 'join-button').click();
    await reach(el, 'failed');
    await alertText(el);
    await until(() => !!part(el, 'dismiss-button'), 'the error view’s buttons');
    const tile = el.shadowRoot!.querySelector<HTMLElement>('.placeholder')!;
    const view = tile.getBoundingClientRect();
    const badge = part(el, 'status-badge')!.getBoundingClientRect();
    const shown = [el.shadowRoot!.querySelector('[role="alert"]')!, ...tile.querySelectorAll('button')];
    expect(shown.length).to.be.greaterThan(2);
    for (const item of shown) {
      const box = item.getBoundingClientRect();
      const name = item.getAttribute('part') ?? 'the message';
      expect(box.top >= view.top && box.bottom <= view.bottom, `${name} within the view`).to.equal(true);
      expect(box.top >= badge.bottom, `${name} clear of the state badge`).to.equal(true);
      if (item instanceof HTMLButtonElement) {
        expect(getComputedStyle(item).backgroundColor, `${name} stands out`).to.not.equal(getComputedStyle(tile).backgroundColor);
      }
    }
    expect(tile.scrollTop, 'nothing scrolled out of sight').to.equal(0);
  });

  it('slots: a brand in the corner and extra controls in the control bar', async () => {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    el.innerHTML = '<img slot="brand" alt="Acme clinic" src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button slot="controls">Share notes</button>';
    await mount(el);
    await settled(el);
    const brand = el.shadowRoot!.querySelector<HTMLSlotElement>('slot[name="brand"]')!;
    expect(brand.assignedElements()).to.have.length(1);
    expect(part(el, 'brand')!.contains(brand)).to.equal(true);
    const controls = () => el.shadowRoot!.querySelector<HTMLSlotElement>('slot[name="controls"]')!;
    expect(part(el, 'controls')!.contains(controls())).to.equal(true);
    expect(controls().assignedElements().map((e) => e.textContent)).to.deep.equal(['Share notes']);
    button(el, 'join-button').click();
    await reach(el, 'waiting');
    expect(controls().assignedElements(), 'still there in the call').to.have.length(1);
    await expect(el).to.be.accessible();
  });

  /** Alice's widget (through the lobby or not) in the page, and Tab from the page into it: on Join. What has focus, by part. */
  async function tabbedInto(lobby: boolean) {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice', lobby });
    await mount(el);
    await settled(el);
    const focused = () => el.shadowRoot!.activeElement?.getAttribute('part') ?? '(outside)';
    (document.activeElement as HTMLElement | null)?.blur();
    await sendKeys({ press: 'Tab' });
    expect(focused()).to.equal('button join-button');
    return { el, focused };
  }

  it('keyboard only: Tab to join, Enter, Space mutes, Tab on to hang up, Enter; focus never falls out', async () => {
    const { el, focused } = await tabbedInto(false);
    const outline = getComputedStyle(el.shadowRoot!.activeElement!);
    expect(outline.outlineStyle, 'visible focus').to.equal('solid');
    expect(parseFloat(outline.outlineWidth)).to.be.at.least(2);

    await sendKeys({ press: 'Enter' });
    await reach(el, 'waiting');
    expect(focused(), 'focus moves to the first in-call control').to.equal('button mic-button');
    await sendKeys({ press: 'Space' });
    await until(() => button(el, 'mic-button').getAttribute('aria-pressed') === 'true', 'muted');
    expect(el.localStream!.getAudioTracks()[0]!.enabled).to.equal(false);

    await sendKeys({ press: 'Tab' });
    expect(focused()).to.equal('button camera-button');
    await sendKeys({ press: 'Tab' });
    expect(focused()).to.equal('button devices-button');
    await sendKeys({ press: 'Tab' });
    expect(focused()).to.equal('button lock-button');
    await sendKeys({ press: 'Tab' });
    expect(focused()).to.equal('button invite-button');
    await sendKeys({ press: 'Tab' });
    expect(focused()).to.equal('button hangup-button');
    await sendKeys({ press: 'Enter' });
    await reach(el, 'ended');
    expect(focused(), 'focus moves to join again').to.equal('button join-button');
    expect(el.shadowRoot!.querySelector('[aria-live]')!.textContent?.trim()).to.equal(en['state-ended']);
  });

  it('keyboard only through the pre-join lobby (the default path): Enter opens it, its name field and device choices take focus, Join now joins', async () => {
    const { el, focused } = await tabbedInto(true);
    await sendKeys({ press: 'Enter' });
    await reach(el, 'lobby');
    await until(() => !!part(el, 'name-input') && !!part(el, 'camera-select'), 'the lobby form');
    expect(focused(), 'focus stays on the lead control: Join now').to.equal('button join-button');
    expect(textOf(el, 'join-button')).to.equal(en.joinNow);
    const seen = new Set<string>();
    for (let i = 0; i < 10 && focused() !== '(outside)'; i++) {
      await sendKeys({ down: 'Shift' });
      await sendKeys({ press: 'Tab' });
      await sendKeys({ up: 'Shift' });
      seen.add(focused());
    }
    for (const name of ['name-input', 'camera-select', 'microphone-select']) expect([...seen], name).to.include(name);
    for (let i = 0; i < 20 && focused() !== 'button join-button'; i++) await sendKeys({ press: 'Tab' });
    expect(focused()).to.equal('button join-button');
    await sendKeys({ press: 'Enter' });
    await reach(el, 'waiting');
    expect(focused(), 'focus moves to the first in-call control').to.equal('button mic-button');
  });

  it('removed, widgets leave no listener behind on the window, the media devices or the network information', async () => {
    const targets = [window, navigator.mediaDevices, (navigator as { connection?: EventTarget }).connection].filter(
      (t): t is EventTarget => !!t,
    );
    const live = new Set<string>();
    const ids = new WeakMap<object, number>();
    let next = 0;
    const key = (target: EventTarget, type: string, listener: unknown) => {
      const fn = listener as object;
      if (!ids.has(fn)) ids.set(fn, next++);
      return `${targets.indexOf(target)}:${type}:${ids.get(fn)}`;
    };
    const originals = targets.map((t) => [t.addEventListener, t.removeEventListener] as const);
    targets.forEach((target, i) => {
      const [add, remove] = originals[i]!;
      target.addEventListener = function (type: string, listener: EventListenerOrEventListenerObject | null, options?: unknown) {
        if (listener) live.add(key(target, type, listener));
        return add.call(this, type, listener, options as AddEventListenerOptions);
      };
      target.removeEventListener = function (type: string, listener: EventListenerOrEventListenerObject | null, options?: unknown) {
        if (listener) live.delete(key(target, type, listener));
        return remove.call(this, type, listener, options as EventListenerOptions);
      };
    });
    try {
      const { root, alice, bob } = await call();
      button(alice, 'devices-button').click();
      await until(() => !!part(alice, 'devices'), 'the device panel (a devicechange listener)');
      expect(live.size, 'the widgets listen while in the page').to.be.greaterThan(0);
      alice.remove();
      bob.remove();
      root.remove();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect([...live], 'listeners left').to.deep.equal([]);
    } finally {
      targets.forEach((target, i) => {
        Reflect.deleteProperty(target, 'addEventListener');
        Reflect.deleteProperty(target, 'removeEventListener');
        if (target.addEventListener !== originals[i]![0]) {
          target.addEventListener = originals[i]![0];
          target.removeEventListener = originals[i]![1];
        }
      });
    }
  });

  /** Alice alone in a call, in a 320 px widget (a phone held upright). */
  async function phoneWidthCall(): Promise<CallWidget> {
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    el.style.cssText = 'display:block;width:320px';
    await mount(el);
    await settled(el);
    button(el, 'join-button').click();
    await reach(el, 'waiting');
    return el;
  }

  it('a phone-width call keeps its controls to two rows: More shows the secondary ones, by keyboard too', async () => {
    const el = await phoneWidthCall();
    const focused = () => el.shadowRoot!.activeElement?.getAttribute('part') ?? '(outside)';
    const shown = () =>
      [...el.shadowRoot!.querySelectorAll<HTMLElement>('[part~="controls"] button')].filter((b) => b.checkVisibility()).map((b) => b.getAttribute('part'));
    const rows = () =>
      new Set([...el.shadowRoot!.querySelectorAll<HTMLElement>('[part~="controls"] button')].filter((b) => b.checkVisibility()).map((b) => Math.round(b.getBoundingClientRect().top))).size;
    expect(shown()).to.deep.equal(['button mic-button', 'button camera-button', 'button more-button', 'button hangup-button']);
    expect(rows(), 'two rows at most').to.be.at.most(2);
    const more = button(el, 'more-button');
    expect(more.getAttribute('aria-expanded')).to.equal('false');
    await expect(el).to.be.accessible();

    button(el, 'mic-button').focus();
    await sendKeys({ press: 'Tab' });
    await sendKeys({ press: 'Tab' });
    expect(focused()).to.equal('button more-button');
    await sendKeys({ press: 'Enter' });
    await el.updateComplete;
    expect(more.getAttribute('aria-expanded')).to.equal('true');
    expect(el.shadowRoot!.getElementById(more.getAttribute('aria-controls')!)!.contains(button(el, 'devices-button')), 'aria-controls names the group').to.equal(true);
    for (const next of ['devices-button', 'lock-button', 'invite-button', 'hangup-button']) {
      await sendKeys({ press: 'Tab' });
      expect(focused()).to.equal(`button ${next}`);
    }
    await expect(el).to.be.accessible();
    // The device panel opened from More closes with it.
    button(el, 'devices-button').click();
    await until(() => !!el.shadowRoot!.getElementById('devices'), 'the device panel');
    more.click();
    await el.updateComplete;
    expect(shown()).to.not.include('button devices-button');
    expect(el.shadowRoot!.getElementById('devices') === null, 'the panel closed with More').to.equal(true);

    // Wider, there is no More: everything is in the row.
    el.style.width = '640px';
    await until(() => !more.checkVisibility(), 'More goes');
    expect(shown()).to.include.members(['button devices-button', 'button lock-button', 'button invite-button']);

    // A control focused in the wide row keeps focus (and shows) when the widget narrows.
    button(el, 'invite-button').focus();
    el.style.width = '320px';
    await until(() => more.checkVisibility(), 'More is back');
    expect(focused()).to.equal('button invite-button');
    expect(button(el, 'invite-button').checkVisibility(), 'the focused control stays shown').to.equal(true);
    button(el, 'mic-button').focus();
    expect(button(el, 'invite-button').checkVisibility(), 'hidden once focus leaves').to.equal(false);

    // The next call starts with More closed.
    more.click();
    await el.updateComplete;
    button(el, 'hangup-button').click();
    await reach(el, 'ended');
    button(el, 'join-button').click();
    await reach(el, 'waiting');
    expect(button(el, 'more-button').getAttribute('aria-expanded')).to.equal('false');
  });

  it('a phone-width call: Escape closes what is open, innermost first (the device panel, then More), focus back on its button; the page sees no such Escape', async () => {
    const el = await phoneWidthCall();
    const escapes: KeyboardEvent[] = [];
    const onPage = (event: KeyboardEvent) => {
      if (event.key === 'Escape') escapes.push(event);
    };
    document.addEventListener('keydown', onPage);
    try {
      const focused = () => el.shadowRoot!.activeElement?.getAttribute('part') ?? '(outside)';
      const more = button(el, 'more-button');
      more.focus();
      await sendKeys({ press: 'Enter' });
      await el.updateComplete;
      await sendKeys({ press: 'Tab' });
      expect(focused()).to.equal('button devices-button');
      await sendKeys({ press: 'Enter' });
      await until(() => !!el.shadowRoot!.getElementById('devices'), 'the device panel');
      await until(() => focused() !== 'button devices-button', 'focus into the panel');

      await sendKeys({ press: 'Escape' });
      await until(() => el.shadowRoot!.getElementById('devices') === null, 'the first Escape closes the panel');
      await until(() => focused() === 'button devices-button', 'focus back on Devices');
      expect(more.getAttribute('aria-expanded'), 'More stays open').to.equal('true');

      await sendKeys({ press: 'Escape' });
      await until(() => more.getAttribute('aria-expanded') === 'false', 'the second Escape closes More');
      await until(() => focused() === 'button more-button', 'focus back on More');
      expect(button(el, 'devices-button').checkVisibility(), 'the group is hidden').to.equal(false);
      expect(escapes, 'the page saw neither Escape').to.have.length(0);

      // From More itself, once open: the same.
      await sendKeys({ press: 'Enter' });
      await until(() => more.getAttribute('aria-expanded') === 'true', 'More open');
      await sendKeys({ press: 'Escape' });
      await until(() => more.getAttribute('aria-expanded') === 'false', 'Escape on More closes it');
      expect(focused()).to.equal('button more-button');

      // Escape from elsewhere in More's group while the device panel is open:
      // both close (the panel's button is in the group).
      await sendKeys({ press: 'Enter' });
      await until(() => more.getAttribute('aria-expanded') === 'true', 'More open');
      button(el, 'devices-button').click();
      await until(() => !!el.shadowRoot!.getElementById('devices'), 'the device panel');
      button(el, 'invite-button').focus();
      await sendKeys({ press: 'Escape' });
      await until(() => more.getAttribute('aria-expanded') === 'false', 'More closes');
      expect(el.shadowRoot!.getElementById('devices') === null, 'and the panel with it').to.equal(true);
      await until(() => focused() === 'button more-button', 'focus back on More');

      // Nothing open: Escape is the page's.
      await sendKeys({ press: 'Escape' });
      expect(escapes, 'with nothing open, the page sees Escape').to.have.length(1);

      // Wide, More is not shown: a group left open from a narrow widget is
      // not closed by Escape (nothing to see close, and focus must not go to
      // a hidden More); the page sees the key.
      await sendKeys({ press: 'Enter' });
      await until(() => more.getAttribute('aria-expanded') === 'true', 'More open');
      el.style.width = '640px';
      await until(() => !more.checkVisibility(), 'More goes');
      button(el, 'invite-button').focus();
      await sendKeys({ press: 'Escape' });
      await el.updateComplete;
      expect(focused()).to.equal('button invite-button');
      expect(escapes, 'the page sees Escape in a wide widget').to.have.length(2);
    } finally {
      document.removeEventListener('keydown', onPage);
    }
  });

  it('the live region says who joined the call and who hung up, together with the state that follows', async () => {
    const { alice, bob, region } = await idlePair();
    const said: string[][] = [];
    const lines = () => [...region.querySelectorAll('p')].map((p) => p.textContent!.trim());
    new MutationObserver(() => said.push(lines())).observe(region, { childList: true, subtree: true, characterData: true });

    button(alice, 'join-button').click();
    await reach(alice, 'waiting');
    for (const name of ['Bob', en.guest]) {
      const joined = format(en.peerJoined, { name });
      expect([...said.flat(), ...lines()], 'Bob’s page in the room is not Bob in the call').to.not.include(joined);
    }
    button(bob, 'join-button').click();
    await reach(alice, 'connected');
    expect(said.flat()).to.include(format(en.peerJoined, { name: 'Bob' }));

    bob.hangup();
    await reach(alice, 'ended');
    await alice.updateComplete;
    expect(lines()).to.deep.equal([format(en.peerHungUp, { name: 'Bob' }), en['state-ended']]);
    expect(alice.shadowRoot!.querySelector('[aria-live]') === region, 'one region throughout').to.equal(true);
    // The only live region: the state badge says the same words, and a second
    // region would have them read out twice.
    const live = [...alice.shadowRoot!.querySelectorAll('[aria-live],[role=status],[role=log],[role=alert]')];
    expect(live.length === 1 && live[0] === region, 'one live region').to.equal(true);
  });

  it('where the browser will not start the others\' sound (autoplay policy: no click on the page yet), their video plays muted, the sound button says so, and pressing it turns the sound on', async () => {
    const policy = refuseSoundUntilAllowed();
    try {
      const { alice, bob, said } = await soundPair();
      await callIn(alice, bob);
      await until(() => part(alice, 'sound-button') !== null, 'the sound button');
      const told = format(en.soundBlocked, { button: en.playSound });
      expect(said.filter((text) => text.includes(told)).length, said.join(' | ')).to.be.greaterThan(0);
      expect(remoteVideo(alice).muted).to.equal(true);
      expect(await videoFrames(remoteVideo(alice), 3), 'the picture shows').to.have.length(3);
      await expect(alice).to.be.accessible();
      // Still refused (no activation after all): muted still, the button stays.
      button(alice, 'sound-button').click();
      await sleep(50);
      await alice.updateComplete;
      expect([remoteVideo(alice).muted, part(alice, 'sound-button') !== null]).to.deep.equal([true, true]);
      policy.allowed = true;
      button(alice, 'sound-button').focus();
      button(alice, 'sound-button').click();
      await alice.updateComplete;
      expect(part(alice, 'sound-button')).to.equal(null);
      expect([remoteVideo(alice).muted, remoteVideo(alice).paused]).to.deep.equal([false, false]);
      expect(alice.shadowRoot!.activeElement?.getAttribute('part'), 'focus stays in the widget').to.include('mic-button');
      // Bob's widget is another: its sound is still off until pressed there.
      expect([part(bob, 'sound-button') !== null, remoteVideo(bob).muted]).to.deep.equal([true, true]);
    } finally {
      policy.restore();
    }
  });

  it('the sound button is said again in a later call where the browser still holds the sound back', async () => {
    const policy = refuseSoundUntilAllowed();
    try {
      const { alice, bob, said } = await soundPair();
      const told = format(en.soundBlocked, { button: en.playSound });
      for (const call of ['first', 'second']) {
        const before = said.length;
        await callIn(alice, bob);
        await until(() => part(alice, 'sound-button') !== null, `the sound button, ${call} call`);
        await until(() => said.slice(before).some((text) => text.includes(told)), `said, ${call} call`);
        bob.hangup();
        await reach(alice, 'ended');
        await sleep(100);
        await alice.updateComplete;
        expect(said.at(-1), 'not said once the call is over').not.to.include(told);
      }
    } finally {
      policy.restore();
    }
  });

  it('moved in the page mid-call (the call ends), the next call\'s sound button is said too', async () => {
    const policy = refuseSoundUntilAllowed();
    try {
      const { alice, bob, said } = await soundPair();
      const told = format(en.soundBlocked, { button: en.playSound });
      await callIn(alice, bob);
      await until(() => said.some((text) => text.includes(told)), 'said, first call');
      const parent = alice.parentElement!;
      alice.remove();
      parent.append(alice);
      await reach(alice, 'ended');
      const region = alice.shadowRoot!.querySelector('[aria-live]')!;
      const saidNext: string[] = [];
      new MutationObserver(() => saidNext.push(region.textContent!)).observe(region, { childList: true, subtree: true, characterData: true });
      button(alice, 'join-button').click();
      await reach(alice, 'connected');
      await until(() => saidNext.some((text) => text.includes(told)), 'said, next call');
    } finally {
      policy.restore();
    }
  });

  it('a peer that sends no sound brings no sound button (its video plays muted all the same) until its first sound; then a click anywhere in the widget turns the sound on', async () => {
    const policy = refuseSoundUntilAllowed();
    try {
      const { alice, bob, said } = await soundPair();
      const told = format(en.soundBlocked, { button: en.playSound });
      button(alice, 'join-button').click();
      await reach(alice, 'waiting');
      await bob.join({ audio: false }); // the camera only
      await reach(alice, 'connected');
      await until(() => part<HTMLVideoElement>(alice, 'remote-video')?.muted === true, 'the video muted');
      expect(await videoFrames(remoteVideo(alice), 3), 'the picture shows').to.have.length(3);
      await sleep(300);
      await alice.updateComplete;
      expect([part(alice, 'sound-button'), said.some((text) => text.includes(told))], 'nothing to hear: no button').to.deep.equal([null, false]);
      // Bob turns his microphone on: his first sound brings the button, said.
      button(bob, 'mic-button').click();
      await until(() => part(alice, 'sound-button') !== null, 'the sound button');
      await until(() => said.some((text) => text.includes(told)), 'said');
      policy.allowed = true;
      remoteVideo(alice).click();
      await until(() => !remoteVideo(alice).muted, 'the sound on');
      await alice.updateComplete;
      expect([part(alice, 'sound-button'), remoteVideo(alice).paused]).to.deep.equal([null, false]);
    } finally {
      policy.restore();
    }
  });

  it('the room-reconnecting hint is said when it appears: the room socket dropped while the call was reconnecting, and the call came back', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const alice = widget({ rooms, room, name: 'Alice', getUserMedia: recordingMedia().getUserMedia });
    const bob = widget({ rooms, room, name: 'Bob', getUserMedia: recordingMedia().getUserMedia });
    const aliceSocket = droppableSocket(alice, rooms, room);
    await connectBoth(alice, bob);
    const region = alice.shadowRoot!.querySelector('[aria-live]')!;
    const said: string[] = [];
    new MutationObserver(() => said.push(...[...region.querySelectorAll('p')].map((p) => p.textContent!.trim()))).observe(region, {
      childList: true,
      subtree: true,
      characterData: true,
    });
    // Alice's link reads disconnected (within its grace: no ICE restart yet).
    const pc = peerConnections.get(alice)!.at(-1)!;
    Object.defineProperty(pc, 'connectionState', { configurable: true, get: () => 'disconnected' });
    pc.dispatchEvent(new Event('connectionstatechange'));
    await reach(alice, 'reconnecting');
    // The room drops her socket meanwhile: no hint while the call reconnects.
    aliceSocket.drop();
    await until(() => said.includes(en['state-reconnecting']), 'reconnecting said');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(part(alice, 'signaling-hint')).to.equal(null);
    expect(said).to.not.include(en.roomReconnecting);
    // The link heals by itself; the room is still out of reach.
    delete (pc as unknown as Record<string, unknown>).connectionState;
    pc.dispatchEvent(new Event('connectionstatechange'));
    await reach(alice, 'connected');
    expect(part(alice, 'signaling-hint')).to.not.equal(null);
    await until(() => said.includes(en.roomReconnecting), `the hint said (said: ${said.join(' | ')})`);
    expect(said.indexOf(en.roomReconnecting), 'after the state').to.be.greaterThan(said.lastIndexOf(en['state-connected']));
    alice.hangup();
    bob.hangup();
  });

  it('the page styles the visible pieces through ::part: the placeholder, the error message, a tile\'s name label, the badge', async () => {
    const style = document.createElement('style');
    style.textContent = ['placeholder', 'error-message', 'name-label', 'status-badge']
      .map((name) => `call-widget::part(${name}) { outline: 3px solid rgb(1, 2, 3); }`)
      .join('\n');
    document.head.append(style);
    try {
      const styled = (el: Element | null) => !!el && getComputedStyle(el).outlineColor === 'rgb(1, 2, 3)';
      const denied = deniedWidget();
      await mount(denied);
      button(denied, 'join-button').click();
      await reach(denied, 'failed');
      await alertText(denied);
      expect(styled(part(denied, 'placeholder')), 'placeholder').to.equal(true);
      expect(styled(part(denied, 'error-message')), 'error-message').to.equal(true);
      expect(part(denied, 'error-message') === denied.shadowRoot!.querySelector('[role="alert"]'), 'the message itself').to.equal(true);
      expect(styled(part(denied, 'status-badge')), 'status-badge').to.equal(true);
      const { alice } = await call();
      expect(styled(part(alice, 'name-label')), 'name-label').to.equal(true);
      expect(part(alice, 'name-label')!.textContent).to.equal('Bob');
    } finally {
      style.remove();
    }
  });

  it('an error moves focus to the retry button, and the message is an alert', async () => {
    const el = deniedWidget();
    await mount(el);
    await settled(el);
    button(el, 'join-button').focus();
    await sendKeys({ press: 'Enter' });
    await reach(el, 'failed');
    expect(el.shadowRoot!.activeElement?.getAttribute('part')).to.equal('button join-button');
    expect(textOf(el, 'join-button')).to.equal(en.retry);
    expect(await alertText(el)).to.equal(en['error-permission-denied']);
  });

  it('axe passes in every state it can reach here: joining, connected, reconnecting, knocking, ended', async () => {
    // Joining: the camera prompt is never answered.
    const pending = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'P', getUserMedia: () => new Promise(() => {}) });
    await mount(pending);
    button(pending, 'join-button').click();
    await reach(pending, 'joining');
    await expect(pending).to.be.accessible();

    const { alice, bob } = await call();
    await expect(alice).to.be.accessible();
    // Bob's side goes silent (its peer connection closes without a word): Alice reconnects.
    for (const pc of peerConnections.get(bob)!) pc.close();
    await reach(alice, 'reconnecting', 15_000);
    expect(part(alice, 'connection-lost'), 'the tile says the connection is lost').to.not.equal(null);
    await expect(alice).to.be.accessible();
    alice.hangup();
    await reach(alice, 'ended');
    await expect(alice).to.be.accessible();

    // Knocking at a locked room, and the host's list of knocks.
    const { host, guest } = await knockingAtLockedRoom('Guest');
    await expect(guest).to.be.accessible();
    await expect(host).to.be.accessible();
  });
});

/**
 * A host in the call locks its room; a guest called `guestName` arrives after
 * the lock and knocks; resolves once the host lists the knock (its chunk loaded).
 */
/** A host alone in the call of a room of `capacity`, which it has locked. */
async function lockedRoom(capacity = 2) {
  const rooms = new InMemoryRooms({ capacity });
  const room = newRoomId();
  const host = widget({ rooms, room, name: 'Host' });
  const root = await mount(host);
  button(host, 'join-button').click();
  await reach(host, 'waiting');
  button(host, 'lock-button').click();
  await until(() => host.locked, 'locked');
  return { root, rooms, room, host };
}

async function knockingAtLockedRoom(guestName: string) {
  const { root, rooms, room, host } = await lockedRoom();
  const guest = await knock(root, widget({ rooms, room, name: guestName }), host);
  return { root, rooms, room, host, guest };
}

/** `guest` arrives at `host`'s locked room and knocks; resolves once the host lists it. */
async function knock(root: HTMLElement, guest: CallWidget, host: CallWidget): Promise<CallWidget> {
  root.append(guest);
  await guest.updateComplete;
  button(guest, 'join-button').click();
  await reach(guest, 'knocking');
  await until(() => host.knocking.some((p) => p.name === guest.name), 'the knock is listed');
  await until(() => !!part(host, 'admit-button'), 'the list is shown');
  return guest;
}

describe('<call-widget> group calls: the grid', () => {
  /** The tiles of `el`'s stage that show, with their boxes. */
  const tiles = (el: CallWidget) =>
    [...el.shadowRoot!.querySelectorAll<HTMLElement>('[part~="stage"] > [part~="tile"]')]
      .filter((tile) => !tile.hidden)
      .map((tile) => ({ tile, box: tile.getBoundingClientRect() }));
  const remotes = (el: CallWidget) => el.shadowRoot!.querySelectorAll('[part~="remote-tile"]').length;
  const overlap = (a: DOMRect, b: DOMRect) =>
    a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;

  it('four people: a 2×2 grid of near-4:3 tiles, the local preview one of them, named "You"; three: the last tile at the middle; two: the inset again', async () => {
    const people = await groupCall(['Alice', 'Bob', 'Carol', 'Dan'], { style: 'display:block;width:640px' });
    const [alice, , carol, dan] = people as [CallWidget, CallWidget, CallWidget, CallWidget];

    const four = tiles(alice);
    expect(four.map(({ tile }) => tile.getAttribute('part'))).to.deep.equal([
      ...Array(3).fill('tile remote-tile'),
      'tile local-tile',
    ]);
    expect(new Set(four.map(({ box }) => Math.round(box.left))).size, 'two columns').to.equal(2);
    expect(new Set(four.map(({ box }) => Math.round(box.top))).size, 'two rows').to.equal(2);
    for (const { tile, box } of four) {
      const ratio = box.width / box.height;
      expect(ratio, `${tile.getAttribute('part')} is ${box.width}×${box.height}`).to.be.within(1.1, 1.8);
      for (const other of four) if (other.tile !== tile) expect(overlap(box, other.box)).to.equal(false);
    }
    const local = part(alice, 'local-tile')!;
    expect(local.querySelector('.label')!.textContent).to.equal(en.you);
    button(alice, 'mic-button').click();
    await alice.updateComplete;
    expect(local.querySelector('.label')!.textContent).to.equal(`${en.you}${en.separator}${en.micIsOff}`);
    expect(getComputedStyle(part(alice, 'local-video')!).transform, 'the preview stays mirrored').to.not.equal('none');
    await expect(alice).to.be.accessible();

    button(dan, 'hangup-button').click();
    await until(() => remotes(alice) === 2 && tiles(alice).length === 3, 'Dan has gone');
    const three = tiles(alice);
    const stage = part(alice, 'stage')!.getBoundingClientRect();
    const last = three[2]!.box;
    expect(last.left + last.width / 2, 'the last tile at the middle').to.be.closeTo(stage.left + stage.width / 2, 2);
    expect(last.width).to.be.closeTo(three[0]!.box.width, 4);

    button(carol, 'hangup-button').click();
    await until(() => remotes(alice) === 1 && tiles(alice).length === 2, 'Carol has gone');
    const inset = local.getBoundingClientRect();
    expect(overlap(inset, tiles(alice)[0]!.box), 'over the other’s video').to.equal(true);
    expect(local.classList.contains('local'), 'the inset again').to.equal(true);
    expect(inset.width, 'an inset, not a tile').to.be.at.most(stage.width * 0.31);
    expect(local.querySelector('.label')?.textContent ?? null, 'no name on the inset').to.equal(null);
  });

  it('five people: three columns, the last row of two at the middle; two columns in a narrow widget, the last tile at the middle', async () => {
    const people = await groupCall(['Alice', 'Bob', 'Carol', 'Dan', 'Eve'], { style: 'display:block;width:720px' });
    const alice = people[0]!;
    const five = tiles(alice);
    expect(five.length).to.equal(5);
    const rows = [...new Set(five.map(({ box }) => Math.round(box.top)))];
    expect(rows.length, 'two rows').to.equal(2);
    const [first, second] = [five.slice(0, 3), five.slice(3)];
    expect(first.every(({ box }) => Math.round(box.top) === rows[0]), 'three in the first row').to.equal(true);
    expect(second.every(({ box }) => Math.round(box.top) === rows[1]), 'two in the second').to.equal(true);
    const stage = part(alice, 'stage')!.getBoundingClientRect();
    const middle = (boxes: DOMRect[]) => (Math.min(...boxes.map((b) => b.left)) + Math.max(...boxes.map((b) => b.right))) / 2;
    expect(middle(second.map(({ box }) => box)), 'the last row at the middle').to.be.closeTo(stage.left + stage.width / 2, 2);
    for (const { tile, box } of five) {
      expect(box.width, 'tiles of one width').to.be.closeTo(five[0]!.box.width, 2);
      for (const other of five) if (other.tile !== tile) expect(overlap(box, other.box)).to.equal(false);
    }
    await expect(alice).to.be.accessible();

    // Narrow: two columns, three rows, the fifth tile alone at the middle.
    alice.style.width = '400px';
    await until(() => new Set(tiles(alice).map(({ box }) => Math.round(box.left))).size === 3, 'two columns and a centred tile');
    const narrow = tiles(alice);
    const narrowStage = part(alice, 'stage')!.getBoundingClientRect();
    expect(new Set(narrow.map(({ box }) => Math.round(box.top))).size, 'three rows').to.equal(3);
    const lone = narrow[4]!.box;
    expect(lone.left + lone.width / 2, 'the last tile at the middle').to.be.closeTo(narrowStage.left + narrowStage.width / 2, 2);
    for (const { tile, box } of narrow) {
      for (const other of narrow) if (other.tile !== tile) expect(overlap(box, other.box)).to.equal(false);
    }
  });

  it('a member whose camera is still starting: its hidden preview takes no place; three tiles in 2 columns, the last at the middle', async () => {
    const people = await groupCall(['Alice', 'Bob', 'Carol', 'Dan'], { lastMedia: () => new Promise<MediaStream>(() => {}) });
    const dan = people[3]!;
    expect(part(dan, 'local-tile')!.hidden, 'no preview yet').to.equal(true);
    const shown = tiles(dan);
    expect(shown.map(({ tile }) => tile.getAttribute('part'))).to.deep.equal(Array(3).fill('tile remote-tile'));
    const stage = part(dan, 'stage')!.getBoundingClientRect();
    const last = shown[2]!.box;
    expect(last.width, 'tiles of one width').to.be.closeTo(shown[0]!.box.width, 4);
    expect(last.left + last.width / 2, 'the last tile at the middle').to.be.closeTo(stage.left + stage.width / 2, 2);
  });
});

describe('<call-widget> locked rooms: the host’s knock list', () => {
  it('a guest with no name knocks: the host lists “Guest”, admits, and its widget keeps rendering', async () => {
    const { host, guest } = await knockingAtLockedRoom('');
    expect(host.shadowRoot!.querySelector('.knock-name')!.textContent!.trim()).to.equal(format(en.knocking, { name: en.guest }));
    expect(button(host, 'admit-button').getAttribute('aria-label')).to.equal(format(en.admitName, { name: en.guest }));
    expect(getComputedStyle(part(host, 'knocks')!).display, 'its stylesheet applies').to.equal('grid');
    const row = getComputedStyle(part(host, 'knock')!).backgroundColor;
    for (const name of ['admit-button', 'reject-button']) {
      expect(getComputedStyle(button(host, name)).backgroundColor, `${name} stands out from its row`).to.not.equal(row);
    }
    await expect(host).to.be.accessible();
    button(host, 'admit-button').click();
    await reach(host, 'connected');
    await reach(guest, 'connected');
    await until(() => !part(host, 'knock'), 'the list empties');
    // Everyone in the call sees that the room is locked, not the host alone.
    for (const el of [host, guest]) expect(textOf(el, 'lock-badge')).to.equal(en.locked);
    button(host, 'lock-button').click();
    await until(() => !part(guest, 'lock-badge') && !part(host, 'lock-badge'), 'unlocked: the badges go');
  });

  it('by keyboard: focus follows the knock list as it changes, to the next knock’s Admit, the last one’s, the lock, and out', async () => {
    const { root, rooms, room, host } = await lockedRoom(3);
    const knockers: CallWidget[] = [];
    for (const name of ['Ann', 'Ben', 'Cal', 'Dan']) knockers.push(await knock(root, widget({ rooms, room, name }), host));
    const [ann, ben, cal, dan] = knockers as [CallWidget, CallWidget, CallWidget, CallWidget];
    await host.updateComplete;
    const focused = () => host.shadowRoot!.activeElement;
    const label = () => focused()?.getAttribute('aria-label');
    const buttons = (name: string) => [...host.shadowRoot!.querySelectorAll<HTMLButtonElement>(`[part~="${name}"]`)];
    const settle = async (what: string, knocks: number, expected: string) => {
      await until(() => host.knocking.length === knocks && label() === expected, `${what}: focus on “${expected}” (is on “${label()}”)`);
    };

    // Ann gives up while her Admit has focus: Lit reuses the row for Ben, so
    // focus is given again (blur, focus) and his name is read out.
    buttons('admit-button')[0]!.focus();
    const admit = focused()!;
    let focusEvents = 0;
    admit.addEventListener('focus', () => focusEvents++);
    ann.remove();
    await settle('Ann left', 3, format(en.admitName, { name: 'Ben' }));
    expect(focused() === admit, 'the same button, now Ben’s').to.equal(true);
    expect(focusEvents, 'focused again').to.equal(1);

    // Reject the first knock: the next one's Admit.
    buttons('reject-button')[0]!.focus();
    await sendKeys({ press: 'Enter' });
    await reach(ben, 'failed');
    await settle('Ben rejected', 2, format(en.admitName, { name: 'Cal' }));

    // Reject the last knock: there is no next, so the one before it.
    buttons('reject-button')[1]!.focus();
    expect(label()).to.equal(format(en.rejectName, { name: 'Dan' }));
    await sendKeys({ press: 'Enter' });
    await reach(dan, 'failed');
    await settle('Dan rejected', 1, format(en.admitName, { name: 'Cal' }));

    // Admit the last one: the list goes, focus goes to the lock.
    await sendKeys({ press: 'Enter' });
    await reach(cal, 'connected');
    await until(() => !part(host, 'knock') && focused()?.getAttribute('part') === 'button lock-button', 'focus on the lock');

    // A knock focused when the call ends: focus goes where it would from any control, the join button.
    await knock(root, widget({ rooms, room, name: 'Eve' }), host);
    await host.updateComplete;
    buttons('admit-button')[0]!.focus();
    host.hangup();
    await reach(host, 'ended');
    await until(() => focused()?.getAttribute('part') === 'button join-button', `focus on join (is on ${focused()?.getAttribute('part')})`);
  });

  it('a phone-width host admits the last knock: focus goes to More when the lock is among the hidden controls', async () => {
    const { root, rooms, room, host } = await lockedRoom(3);
    host.style.cssText = 'display:block;width:320px';
    await knock(root, widget({ rooms, room, name: 'Guest' }), host);
    await host.updateComplete;
    expect(button(host, 'lock-button').checkVisibility(), 'the lock is hidden').to.equal(false);
    button(host, 'admit-button').focus();
    await sendKeys({ press: 'Enter' });
    await until(() => !part(host, 'knock'), 'the list goes');
    await until(() => host.shadowRoot!.activeElement?.getAttribute('part') === 'button more-button', 'focus on More');
  });

  it('the host hangs up a call of three: the member who takes over is told, and gets the lock', async () => {
    const [host, ...others] = (await groupCall(['Host', 'Bob', 'Carol'])) as [CallWidget, CallWidget, CallWidget];
    expect(host.isHost).to.equal(true);
    // Everything each live region says from now on (Lit reuses its paragraphs).
    const said = others.map((el) => {
      const lines: string[] = [];
      const region = el.shadowRoot!.querySelector('[aria-live]')!;
      new MutationObserver(() => lines.push(region.textContent!.trim())).observe(region, {
        subtree: true,
        childList: true,
        characterData: true,
      });
      return lines;
    });
    button(host, 'hangup-button').click();
    await until(() => others.some((el) => el.isHost), 'a new host');
    await Promise.all(others.map((el) => el.updateComplete));
    const heir = others.findIndex((el) => el.isHost);
    expect(said[heir]!.some((text) => text.includes(en.nowHost)), said[heir]!.join(' | ')).to.equal(true);
    expect(said[1 - heir]!.some((text) => text.includes(en.nowHost)), 'the other is not told').to.equal(false);
    expect(!!part(others[heir]!, 'lock-button'), 'the heir has the lock').to.equal(true);
    expect(!!part(others[1 - heir]!, 'lock-button'), 'the other has not').to.equal(false);
  });

  it('a member not in the call who becomes host of a locked room sees the knocks and can admit: nobody waits for good', async () => {
    const rooms = new InMemoryRooms({ capacity: 3 });
    const room = newRoomId();
    const host = widget({ rooms, room, name: 'Host' });
    const bob = widget({ rooms, room, name: 'Bob' });
    const root = await mount(host, bob);
    button(host, 'join-button').click();
    await reach(host, 'waiting');
    button(host, 'lock-button').click();
    await until(() => host.locked && bob.locked, 'locked');
    button(host, 'hangup-button').click();
    await until(() => bob.isHost, 'Bob, idle, is host now');
    const guest = widget({ rooms, room, name: 'Guest' });
    root.append(guest);
    await guest.updateComplete;
    button(guest, 'join-button').click();
    await reach(guest, 'knocking');
    await until(() => !!part(bob, 'admit-button'), 'Bob is shown the knock');
    expect(bob.state).to.equal('idle');
    await expect(bob).to.be.accessible();
    part(bob, 'admit-button')!.click();
    await reach(guest, 'waiting');
    await until(() => !part(bob, 'admit-button'), 'the list is gone');
  });

  it('an admit into a full room is refused: the host is told why, and can admit once someone leaves', async () => {
    const { root, rooms, room, host, guest } = await knockingAtLockedRoom('Guest');
    const note = () => part(host, 'knock-note');
    expect(note()!.textContent, 'nothing to say yet').to.equal('');
    button(host, 'admit-button').click();
    await reach(guest, 'connected'); // the 1:1 room is full now
    const late = await knock(root, widget({ rooms, room, name: 'Late' }), host);

    button(host, 'admit-button').click();
    await until(() => !!note()?.textContent, 'the refusal is shown');
    expect(note()!.textContent).to.equal(en.admitRefused);
    expect(note()!.getAttribute('role')).to.equal('status');
    expect(late.state, 'still waiting at the door').to.equal('knocking');
    expect(host.knocking.map((p) => p.name)).to.deep.equal(['Late']);
    await expect(host).to.be.accessible();

    guest.remove(); // leaves the room (a hang-up would end the host's 1:1 call too)
    await until(() => note()?.textContent === '', 'a place is free: the note goes');
    button(host, 'admit-button').click();
    await reach(late, 'connected');
  });
});

describe('<call-widget> call lifecycle: timer, call-ended, audio-only, video quality', () => {
  it('a timer runs while connected; hang-up fires call-ended with the duration on both sides', async () => {
    const { alice, bob } = await call();
    const ended = new Map<CallWidget, CallEndedEvent>();
    for (const w of [alice, bob]) w.addEventListener('call-ended', (e) => ended.set(w, e));
    expect(textOf(alice, 'call-timer')).to.match(/^0:0\d$/);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await alice.updateComplete;
    expect(textOf(alice, 'call-timer'), 'the timer ticks').to.match(/^0:0[1-9]$/);
    expect(part(alice, 'status-badge')!.contains(part(alice, 'call-timer')), 'the timer is outside the live region').to.equal(false);

    alice.hangup();
    await reach(alice, 'ended');
    await reach(bob, 'ended');
    await until(() => ended.size === 2, 'call-ended on both sides');
    expect(ended.get(alice)!.reason).to.equal('hangup');
    expect(ended.get(bob)!.reason).to.equal('remote-hangup');
    for (const e of ended.values()) {
      expect(e.durationMs).to.be.within(1000, 10_000);
      expect(e.bubbles && e.composed).to.equal(true);
    }
    expect(Math.abs(ended.get(alice)!.durationMs - ended.get(bob)!.durationMs), 'both sides agree').to.be.below(1000);
    expect(textOf(alice, 'call-timer'), 'the ended view shows the length').to.match(/^0:0[1-9]$/);
    expect(textOf(bob, 'call-timer')).to.match(/^0:0[1-9]$/);
  });

  it('the timer writes the digits of the language and region (CLDR): Arabic-Indic for ar-EG, Latin for ar; a tag Intl rejects gets the browser\'s', async () => {
    const { alice, bob } = await call();
    const timer = () => textOf(alice, 'call-timer') ?? '';
    alice.setAttribute('lang', 'ar-EG');
    await until(() => /^٠:٠[٠-٩]$/.test(timer()), `Arabic-Indic digits (${timer()})`);
    alice.setAttribute('lang', 'ar');
    await until(() => /^0:0\d$/.test(timer()), `Latin digits (${timer()})`);
    alice.setAttribute('lang', 'fa');
    await until(() => /^۰:۰[۰-۹]$/.test(timer()), `Persian digits (${timer()})`);
    alice.setAttribute('lang', 'x_y!');
    await until(() => /^0:0\d$/.test(timer()), `the browser's digits (${timer()})`);
    expect(alice.state).to.equal('connected');
    alice.hangup();
    bob.hangup();
  });

  it('a call that never connected ends with durationMs 0; a full room ends with reason room-full', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const alice = widget({ rooms, room, name: 'Alice' });
    const bob = widget({ rooms, room, name: 'Bob' });
    const root = await mount(alice, bob);
    const aliceEnded: CallEndedEvent[] = [];
    alice.addEventListener('call-ended', (e) => aliceEnded.push(e));
    button(alice, 'join-button').click();
    await reach(alice, 'waiting');

    const carol = widget({ rooms, room, name: 'Carol' });
    const carolEnded: CallEndedEvent[] = [];
    carol.addEventListener('call-ended', (e) => carolEnded.push(e));
    root.append(carol);
    await reach(carol, 'failed');
    expect(carolEnded.map((e) => [e.reason, e.durationMs])).to.deep.equal([['room-full', 0]]);

    alice.hangup();
    await reach(alice, 'ended');
    expect(aliceEnded.map((e) => [e.reason, e.durationMs])).to.deep.equal([['hangup', 0]]);
    expect(part(alice, 'call-timer')?.outerHTML ?? null, 'no timer for a call that never connected').to.equal(null);
  });

  it('video="off": no camera asked for, no camera button, initials on both tiles', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const aliceMedia = recordingMedia({ label: 'Alice' });
    const alice = widget({ rooms, room, name: 'Ada Lovelace', getUserMedia: aliceMedia.getUserMedia });
    const bob = widget({ rooms, room, name: 'Bob' });
    alice.video = 'off';
    await connectBoth(alice, bob);
    expect(aliceMedia.calls.map((c) => c.video)).to.deep.equal([false]);
    expect(aliceMedia.calls[0]!.audio).to.include({ echoCancellation: true, noiseSuppression: true, autoGainControl: true });
    expect(alice.localStream!.getVideoTracks()).to.have.length(0);
    expect(part(alice, 'camera-button')?.outerHTML ?? null).to.equal(null);
    expect(part(alice, 'mic-button')).to.not.equal(null);
    expect(alice.shadowRoot!.querySelector('.local [part~="avatar"]')?.textContent).to.equal('AL');
    await until(() => part(bob, 'avatar')?.textContent === 'AL', 'Bob sees Ada’s initials instead of video');
    await expect(alice).to.be.accessible();
    await expect(bob).to.be.accessible();
  });

  it('video-quality picks a rung of the resolution ladder', async () => {
    for (const [quality, width, frameRate] of [
      ['low', 320, 15],
      ['hd', 1280, 30],
    ] as const) {
      const media = recordingMedia();
      const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Q', getUserMedia: media.getUserMedia });
      el.setAttribute('video-quality', quality);
      await mount(el);
      button(el, 'join-button').click();
      await reach(el, 'waiting');
      const video = media.calls[0]!.video as MediaTrackConstraints;
      expect(video.width).to.deep.equal({ ideal: width });
      expect(video.frameRate).to.deep.equal({ ideal: frameRate, max: frameRate });
      el.hangup();
    }
  });
});

describe('<call-widget> pre-join lobby and devices', () => {
  /** Chromium's own fake camera and microphone (its --use-fake-device-for-media-stream flag), counted. */
  function fakeDevices() {
    const calls: MediaStreamConstraints[] = [];
    const getUserMedia: GetUserMedia = async (constraints) => {
      calls.push(constraints);
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      handedOut.push(stream);
      return stream;
    };
    return { calls, getUserMedia };
  }

  /** Offers and answers applied from now on, over every peer connection of `widgets`. */
  function countNegotiations(...widgets: CallWidget[]): () => number {
    let count = 0;
    for (const w of widgets) {
      for (const pc of peerConnections.get(w)!) {
        pc.addEventListener('signalingstatechange', () => {
          if (pc.signalingState !== 'stable') count++;
        });
      }
    }
    return () => count;
  }

  it('join opens the lobby: preview, the fake devices, a moving level meter; toggles and name carry into the call', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const devices = fakeDevices();
    const alice = widget({ rooms, room, name: 'Alice', getUserMedia: devices.getUserMedia, lobby: true });
    const bob = widget({ rooms, room, name: 'Bob' });
    await mount(alice, bob);
    await settled(alice);
    expect(devices.calls, 'nothing is asked for before a click').to.have.length(0);

    button(alice, 'join-button').click();
    await reach(alice, 'lobby');
    await until(() => !!part(alice, 'camera-select') && !!part(alice, 'microphone-select'), 'device selectors');
    await alice.updateComplete;
    const labels = (name: string) =>
      [...part<HTMLSelectElement>(alice, name)!.options].map((o) => o.textContent!.trim());
    await until(() => labels('camera-select').some((l) => /fake/i.test(l)), 'labels once permission is granted');
    expect(labels('camera-select').join(', ')).to.match(/fake/i);
    expect(labels('microphone-select').join(', ')).to.match(/fake/i);
    expect(!!part(alice, 'speaker-select'), 'a speaker list where setSinkId exists').to.equal(
      'setSinkId' in HTMLMediaElement.prototype,
    );
    expect(part<HTMLInputElement>(alice, 'name-input')!.value).to.equal('Alice');
    await until(() => !!alice.localStream, 'the preview');
    expect(alice.localStream!.getVideoTracks()[0]!.readyState).to.equal('live');
    const meter = part<HTMLMeterElement>(alice, 'level-meter')!;
    await until(() => meter.value > 0, 'the level meter moves with the fake microphone', { timeoutMs: 8000 });
    expect(devices.calls, 'the lobby asked once').to.have.length(1);
    await expect(alice).to.be.accessible();

    // Toggles and name set in the lobby…
    button(alice, 'mic-button').click();
    button(alice, 'camera-button').click();
    const name = part<HTMLInputElement>(alice, 'name-input')!;
    name.value = 'Alice Liddell';
    name.dispatchEvent(new Event('input'));
    await alice.updateComplete;
    expect(alice.localStream!.getVideoTracks(), 'camera off in the lobby: its track is stopped').to.have.length(0);
    const form = part(alice, 'lobby')!.getBoundingClientRect();
    const preview = part(alice, 'local-tile')!.getBoundingClientRect();
    expect(form.right, 'the form beside the preview, not under it').to.be.at.most(preview.left);
    // Enter in the name field joins, as the join button does.
    name.focus();
    await sendKeys({ press: 'Enter' });
    await reach(alice, 'waiting');
    expect(devices.calls, 'joining reuses the preview').to.have.length(1);
    // …carry into the call.
    expect(button(alice, 'mic-button').getAttribute('aria-pressed')).to.equal('true');
    expect(button(alice, 'camera-button').getAttribute('aria-pressed')).to.equal('true');
    button(bob, 'join-button').click();
    await reach(alice, 'connected');
    await reach(bob, 'connected');
    await until(() => /Alice Liddell/.test(bob.shadowRoot!.querySelector('.label')?.textContent ?? ''), 'the new name');
    await until(() => part(bob, 'avatar')?.textContent === 'AL', 'Bob sees no video from Alice');
    expect(bob.shadowRoot!.querySelector('.label')!.textContent).to.contain(en.micIsOff);
  });

  it('leaving the lobby stops every track within 500 ms and returns to idle', async () => {
    const devices = fakeDevices();
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'A', getUserMedia: devices.getUserMedia, lobby: true });
    await mount(el);
    button(el, 'join-button').click();
    await reach(el, 'lobby');
    await until(() => !!el.localStream, 'the preview');
    const tracks = el.localStream!.getTracks();
    button(el, 'cancel-button').click();
    await reach(el, 'idle');
    await until(() => tracks.every((t) => t.readyState === 'ended'), 'tracks ended', { timeoutMs: 500 });
    expect(el.localStream).to.equal(null);
  });

  it('a camera switched mid-call replaces the sender track without a new offer/answer; the peer keeps decoding', async () => {
    const { alice, bob, aliceMedia } = await call();
    const negotiations = countNegotiations(alice, bob);
    const sender = peerConnections.get(alice)!.at(-1)!.getSenders().find((s) => s.track?.kind === 'video')!;
    const before = sender.track!;
    await alice.useDevice('video', 'another-camera');
    const after = alice.localStream!.getVideoTracks()[0]!;
    expect(after).to.not.equal(before);
    expect(before.readyState, 'the old camera is released').to.equal('ended');
    await until(() => sender.track === after, 'same sender, new track (replaceTrack)');
    expect((aliceMedia.calls.at(-1)!.video as MediaTrackConstraints).deviceId).to.deep.equal({ exact: 'another-camera' });
    await videoFrames(remoteVideo(bob), 10);
    expect(negotiations(), 'no offer or answer').to.equal(0);
    expect(alice.state).to.equal('connected');
  });

  it('in a call, Devices opens the selectors: a camera chosen there goes onto the same sender, a plugged-in microphone appears, Escape and hang-up close it', async () => {
    const enumerateDevices = navigator.mediaDevices.enumerateDevices;
    const device = (kind: MediaDeviceKind, deviceId: string) => ({ kind, deviceId, label: deviceId, groupId: '', toJSON: () => ({}) });
    let listed = [device('videoinput', 'desk-camera'), device('videoinput', 'usb-camera'), device('audioinput', 'desk-mic')];
    navigator.mediaDevices.enumerateDevices = async () => listed as MediaDeviceInfo[];
    try {
      const { alice, bob, aliceMedia } = await call();
      const options = (name: string) => [...(part<HTMLSelectElement>(alice, name)?.options ?? [])].map((o) => o.value);
      const toggle = button(alice, 'devices-button');
      expect(part(alice, 'devices')?.outerHTML ?? null, 'closed to start with').to.equal(null);
      expect(toggle.getAttribute('aria-expanded')).to.equal('false');
      toggle.focus();
      toggle.click();
      await until(() => options('camera-select').length > 0, 'the panel and its selectors (the lobby chunk)');
      expect(toggle.getAttribute('aria-expanded')).to.equal('true');
      expect(toggle.getAttribute('aria-controls')).to.equal(part(alice, 'devices')!.id);
      expect(alice.shadowRoot!.activeElement, 'focus moves into the panel').to.equal(part(alice, 'devices'));
      const panel = part(alice, 'devices')!.getBoundingClientRect();
      const view = alice.shadowRoot!.querySelector('.view')!.getBoundingClientRect();
      expect(panel.top >= view.top && panel.bottom <= view.bottom, 'the panel fits in the video area').to.equal(true);
      expect(options('camera-select')).to.deep.equal(['desk-camera', 'usb-camera']);
      expect(options('microphone-select')).to.deep.equal(['desk-mic']);
      expect(!!part(alice, 'level-meter')).to.equal(true);
      await expect(alice).to.be.accessible();

      const negotiations = countNegotiations(alice, bob);
      const sender = peerConnections.get(alice)!.at(-1)!.getSenders().find((s) => s.track?.kind === 'video')!;
      const before = sender.track!;
      const select = part<HTMLSelectElement>(alice, 'camera-select')!;
      select.value = 'usb-camera';
      select.dispatchEvent(new Event('change'));
      await until(() => sender.track !== before && sender.track === alice.localStream!.getVideoTracks()[0], 'replaceTrack');
      expect((aliceMedia.calls.at(-1)!.video as MediaTrackConstraints).deviceId).to.deep.equal({ exact: 'usb-camera' });
      expect(before.readyState, 'the old camera is released').to.equal('ended');
      await videoFrames(remoteVideo(bob), 10);
      expect(negotiations(), 'no offer or answer').to.equal(0);
      expect(alice.state).to.equal('connected');

      // A headset plugged in mid-call shows up at once.
      listed = [...listed, device('audioinput', 'headset-mic')];
      navigator.mediaDevices.dispatchEvent(new Event('devicechange'));
      await until(() => options('microphone-select').includes('headset-mic'), 'the new microphone listed');

      const escapes: Event[] = [];
      const onPage = (e: Event) => escapes.push(e);
      document.addEventListener('keydown', onPage);
      const escape = new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, composed: true, cancelable: true });
      part<HTMLSelectElement>(alice, 'camera-select')!.dispatchEvent(escape);
      document.removeEventListener('keydown', onPage);
      await until(() => !part(alice, 'devices'), 'Escape closes the panel');
      expect(toggle.getAttribute('aria-expanded')).to.equal('false');
      expect(toggle.hasAttribute('aria-controls'), 'no reference to a panel that is not there').to.equal(false);
      expect(escapes, 'the page (a dialog around the widget, say) does not see that Escape').to.have.length(0);
      expect(escape.defaultPrevented).to.equal(true);
      await until(() => alice.shadowRoot!.activeElement === toggle, 'focus back on Devices');

      // Opened while focus is elsewhere (a field of the page): the panel does not take it.
      const field = document.createElement('input');
      field.setAttribute('aria-label', 'page field');
      document.body.append(field);
      field.focus();
      toggle.click();
      await until(() => !!part(alice, 'devices'), 'open again');
      await alice.updateComplete;
      expect(document.activeElement, 'focus stays in the page').to.equal(field);
      field.remove();

      // Escape from page content slotted into the widget is the page's: the panel stays open.
      const extra = document.createElement('button');
      extra.slot = 'controls';
      extra.textContent = 'Raise hand';
      alice.append(extra);
      const heard: Event[] = [];
      const listen = (e: Event) => heard.push(e);
      document.addEventListener('keydown', listen);
      extra.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, composed: true }));
      document.removeEventListener('keydown', listen);
      extra.remove();
      expect(heard, 'the page hears it').to.have.length(1);
      expect(!!part(alice, 'devices'), 'still open').to.equal(true);

      // Escape on the button itself closes it.
      toggle.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, composed: true }));
      await until(() => !part(alice, 'devices'), 'closed from its button');

      toggle.click();
      await until(() => !!part(alice, 'devices'), 'open again');
      // The meter's audio graph: the one context that makes an analyser.
      const meters: BaseAudioContext[] = [];
      const createAnalyser = BaseAudioContext.prototype.createAnalyser;
      BaseAudioContext.prototype.createAnalyser = function (this: BaseAudioContext) {
        meters.push(this);
        return createAnalyser.call(this);
      };
      try {
        await until(() => part<HTMLMeterElement>(alice, 'level-meter')!.value > 0, 'the meter runs on the call microphone');
      } finally {
        BaseAudioContext.prototype.createAnalyser = createAnalyser;
      }
      expect(meters).to.have.length(1);
      button(alice, 'hangup-button').click();
      await reach(alice, 'ended');
      await until(() => meters[0]!.state === 'closed', 'the hang-up closes the meter', { timeoutMs: 500 });
      expect(part(alice, 'devices-button')?.outerHTML ?? null, 'no Devices out of a call').to.equal(null);
    } finally {
      navigator.mediaDevices.enumerateDevices = enumerateDevices;
    }
  });

  it('the widget removed just after Devices is pressed: the panel never starts (no device listener, no meter left behind)', async () => {
    const { alice, bob } = await call();
    bob.remove(); // its own device listener would count too
    let listed = 0;
    const enumerateDevices = navigator.mediaDevices.enumerateDevices;
    navigator.mediaDevices.enumerateDevices = async () => {
      listed++;
      return [];
    };
    try {
      button(alice, 'devices-button').click();
      alice.remove(); // before the lobby chunk's import() settles
      await new Promise((resolve) => setTimeout(resolve, 200));
      navigator.mediaDevices.dispatchEvent(new Event('devicechange'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(listed, 'nothing lists devices for a widget that is gone').to.equal(0);
    } finally {
      navigator.mediaDevices.enumerateDevices = enumerateDevices;
    }
  });

  it('a speaker chosen in the device panel plays the remote side at once (setSinkId on the remote media element); one that fails falls back to the default', async () => {
    const enumerateDevices = navigator.mediaDevices.enumerateDevices;
    const device = (kind: MediaDeviceKind, deviceId: string) => ({ kind, deviceId, label: deviceId, groupId: '', toJSON: () => ({}) });
    navigator.mediaDevices.enumerateDevices = async () =>
      [device('videoinput', 'cam'), device('audiooutput', 'default'), device('audiooutput', 'headphones'), device('audiooutput', 'gone')] as MediaDeviceInfo[];
    // The Audio Output Devices API, recorded: which element was sent where.
    const setSinkId = HTMLMediaElement.prototype.setSinkId;
    const sinkIdGetter = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'sinkId')!;
    const sinks = new WeakMap<HTMLMediaElement, string>();
    const calls: [HTMLMediaElement, string][] = [];
    HTMLMediaElement.prototype.setSinkId = async function (this: HTMLMediaElement, id: string) {
      calls.push([this, id]);
      if (id === 'gone') throw new DOMException('Requested device not found', 'NotFoundError');
      sinks.set(this, id);
    };
    Object.defineProperty(HTMLMediaElement.prototype, 'sinkId', { configurable: true, get() { return sinks.get(this) ?? ''; } });
    try {
      // A group: two remote elements, each sent to the speaker.
      const [alice] = (await groupCall(['Alice', 'Bob', 'Carol'])) as [CallWidget];
      const log = record(alice);
      button(alice, 'devices-button').click();
      await until(() => !!part(alice, 'speaker-select'), 'the speaker list');
      const speakers = part<HTMLSelectElement>(alice, 'speaker-select')!;
      expect([...speakers.options].map((o) => o.value)).to.deep.equal(['default', 'headphones', 'gone']);
      const remotes = [...alice.shadowRoot!.querySelectorAll<HTMLVideoElement>('[part~="remote-video"]')];
      expect(remotes).to.have.length(2);
      speakers.value = 'headphones';
      speakers.dispatchEvent(new Event('change'));
      expect(alice.speakerId).to.equal('headphones');
      await alice.updateComplete;
      expect(calls.slice(-2), 'the remote elements, in the same update').to.deep.equal(remotes.map((r) => [r, 'headphones']));
      await until(() => remotes.every((r) => r.sinkId === 'headphones'), 'playing on the headphones');

      speakers.value = 'gone';
      speakers.dispatchEvent(new Event('change'));
      await until(() => alice.speakerId === '', 'a speaker that cannot be used: back to the default');
      await until(() => remotes.every((r) => r.sinkId === ''), 'the remote side on the default output');
      // Said once (not by each element), and the call goes on.
      expect(log.errors.map((e) => e.code)).to.deep.equal(['speaker-unavailable']);
      expect(await alertText(alice)).to.equal(failureMessages['error-speaker-unavailable']);
      expect(alice.state).to.equal('connected');
      // The notice was about that call: it goes with it.
      alice.hangup();
      await reach(alice, 'ended');
      expect(alice.shadowRoot!.querySelector('[role="alert"]')?.textContent ?? null, 'no notice after the call').to.equal(null);
    } finally {
      HTMLMediaElement.prototype.setSinkId = setSinkId;
      Object.defineProperty(HTMLMediaElement.prototype, 'sinkId', sinkIdGetter);
      navigator.mediaDevices.enumerateDevices = enumerateDevices;
    }
  });

  it('front/back: a camera that says which way it faces, with another camera, gets Switch camera; it turns facingMode around on the same sender', async () => {
    // A phone: two cameras, and tracks that report the facingMode they were asked for.
    const enumerateDevices = navigator.mediaDevices.enumerateDevices;
    const camera = (deviceId: string) => ({ kind: 'videoinput', deviceId, label: deviceId, groupId: '', toJSON: () => ({}) });
    navigator.mediaDevices.enumerateDevices = async () => [camera('front'), camera('back')] as MediaDeviceInfo[];
    try {
      const phone = recordingMedia({ label: 'phone', hue: 120 });
      const facing: GetUserMedia = async (constraints) => {
        const stream = await phone.getUserMedia(constraints);
        const asked = (constraints.video as MediaTrackConstraints | undefined)?.facingMode as { exact?: string } | undefined;
        for (const track of stream.getVideoTracks()) {
          const settings = track.getSettings();
          track.getSettings = () => ({ ...settings, facingMode: asked?.exact ?? 'user' });
        }
        return stream;
      };
      const rooms = new InMemoryRooms();
      const room = newRoomId();
      const alice = widget({ rooms, room, name: 'Alice', getUserMedia: facing });
      const bob = widget({ rooms, room, name: 'Bob' });
      await connectBoth(alice, bob);
      await until(() => !!part(alice, 'switch-camera-button'), 'the switch is offered');
      expect(part(bob, 'switch-camera-button')?.outerHTML ?? null, 'not for a camera that does not say which way it faces').to.equal(null);

      const negotiations = countNegotiations(alice, bob);
      const sender = peerConnections.get(alice)!.at(-1)!.getSenders().find((s) => s.track?.kind === 'video')!;
      const front = sender.track!;
      button(alice, 'switch-camera-button').click();
      await until(() => alice.localStream!.getVideoTracks()[0] !== front, 'the back camera');
      const back = alice.localStream!.getVideoTracks()[0]!;
      expect(front.readyState, 'the front camera released').to.equal('ended');
      expect((phone.calls.at(-1)!.video as MediaTrackConstraints).facingMode).to.deep.equal({ exact: 'environment' });
      await until(() => sender.track === back, 'same sender, new track (replaceTrack)');
      await videoFrames(remoteVideo(bob), 10);

      await alice.switchCamera();
      expect((phone.calls.at(-1)!.video as MediaTrackConstraints).facingMode, 'and back').to.deep.equal({ exact: 'user' });
      expect(back.readyState).to.equal('ended');
      expect(negotiations(), 'no offer or answer').to.equal(0);
      expect(alice.state).to.equal('connected');
    } finally {
      navigator.mediaDevices.enumerateDevices = enumerateDevices;
    }
  });

  it('a device action that fails in a call shows its message over the video until dismissed; the call goes on', async () => {
    const { alice } = await call();
    alice.getUserMedia = () => Promise.reject(new DOMException('Could not start video source', 'NotReadableError'));
    await alice.useDevice('video', 'another-camera');
    expect(alice.error?.code).to.equal('device-in-use');
    await until(() => !!part(alice, 'notice')?.querySelector('[role="alert"]'), 'the message shows in the call');
    const notice = part(alice, 'notice')!;
    expect(notice.querySelector('[role="alert"]')!.textContent!.trim()).to.equal(en['error-device-in-use']);
    const box = notice.getBoundingClientRect();
    const host = alice.getBoundingClientRect();
    expect(box.height).to.be.greaterThan(0);
    expect(box.top >= host.top && box.bottom <= host.bottom, 'inside the widget').to.equal(true);
    expect(notice.contains(alice.shadowRoot!.elementFromPoint(box.left + box.width / 2, box.top + 4)), 'on top of the video').to.equal(true);
    expect(part(alice, 'receive-only-button')?.outerHTML ?? null, 'no ways out of a failure: the call goes on').to.equal(null);
    await expect(alice).to.be.accessible();

    button(alice, 'dismiss-button').click();
    await alice.updateComplete;
    expect(part(alice, 'notice')?.outerHTML ?? null).to.equal(null);
    expect(alice.error).to.equal(null);
    expect(alice.state).to.equal('connected');

    // The failed choice is not kept: turned off and on, the camera comes back
    // as it was, not on the one another app holds.
    const asked = recordingMedia();
    alice.getUserMedia = asked.getUserMedia;
    button(alice, 'camera-button').click();
    await alice.updateComplete;
    button(alice, 'camera-button').click();
    await until(() => alice.localStream!.getVideoTracks().length === 1, 'the camera back on');
    expect(JSON.stringify(asked.calls), 'not the failed camera').to.not.include('another-camera');
  });

  it('a chosen camera unplugged while the camera was off: turned on, it comes back on the default camera', async () => {
    const { alice } = await call();
    await alice.useDevice('video', 'usb-camera');
    button(alice, 'camera-button').click();
    await until(() => alice.localStream!.getVideoTracks().length === 0, 'camera off');
    const asked = withoutDevice('usb-camera');
    alice.getUserMedia = asked.getUserMedia;
    button(alice, 'camera-button').click();
    await until(() => alice.localStream!.getVideoTracks().length === 1, 'the default camera');
    expect(alice.error).to.equal(null);
    expect(button(alice, 'camera-button').getAttribute('aria-pressed')).to.equal('false');
  });

  it('a camera chosen now that cannot be had fails visibly and keeps the camera in use (no silent switch to the default)', async () => {
    const { alice } = await call();
    const before = alice.localStream!.getVideoTracks()[0]!;
    const asked = withoutDevice('gone-camera');
    alice.getUserMedia = asked.getUserMedia;
    await alice.useDevice('video', 'gone-camera');
    expect(alice.error?.code).to.equal('constraints-unsatisfied');
    expect(alice.localStream!.getVideoTracks()[0] === before && before.readyState === 'live', 'the same camera').to.equal(true);
    expect(asked.calls, 'no other camera asked for').to.have.length(0);
  });

  it('a camera lost with nothing to fall back to is no choice any more: the next call asks for the default camera and still for the chosen microphone', async () => {
    const { alice } = await call();
    await alice.useDevice('audio', 'usb-mic');
    await alice.useDevice('video', 'usb-camera');
    alice.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
    alice.localStream!.getVideoTracks()[0]!.dispatchEvent(new Event('ended'));
    await until(() => button(alice, 'camera-button').getAttribute('aria-pressed') === 'true', 'the camera shows off');
    button(alice, 'hangup-button').click();
    await reach(alice, 'ended');
    const asked = withoutDevice('usb-camera');
    alice.getUserMedia = asked.getUserMedia;
    button(alice, 'join-button').click();
    await until(() => asked.calls.length > 0, 'a camera asked for');
    expect(JSON.stringify(asked.calls[0]), 'the chosen microphone').to.include('usb-mic');
  });

  it('a camera that cannot be turned on again: the peer is told it is off (not left with its last frame), and so does the button', async () => {
    const { alice, bob } = await call();
    button(alice, 'camera-button').click();
    await until(() => !!part(bob, 'avatar'), 'Bob sees her camera off');
    alice.getUserMedia = () => Promise.reject(new DOMException('Could not start video source', 'NotReadableError'));
    button(alice, 'camera-button').click();
    await until(() => alice.error?.code === 'device-in-use', 'the failure');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(!!part(bob, 'avatar'), 'Bob still sees her camera off').to.equal(true);
    expect(button(alice, 'camera-button').getAttribute('aria-pressed')).to.equal('true');
  });

  it('copy invite link: the button says it was copied for a while; refused by the clipboard, the link shows to copy by hand, in a call too', async () => {
    const { alice } = await call();
    const clipboard = navigator.clipboard;
    const written: string[] = [];
    let refuse = false;
    Object.defineProperty(clipboard, 'writeText', {
      configurable: true,
      value: async (text: string) => {
        if (refuse) throw new DOMException('Write permission denied.', 'NotAllowedError');
        written.push(text);
      },
    });
    try {
      button(alice, 'invite-button').click();
      await until(() => textOf(alice, 'invite-button') === en.inviteCopied, 'the button says so');
      expect(written).to.deep.equal([alice.inviteUrl]);
      expect(alice.shadowRoot!.querySelector('[aria-live]')!.textContent).to.contain(en.inviteCopied);
      await until(() => textOf(alice, 'invite-button') === en.copyInvite, 'and then its own words again', { timeoutMs: 5000 });

      refuse = true;
      button(alice, 'invite-button').click();
      await until(() => !!part(alice, 'notice')?.querySelector('input'), 'the link to copy by hand, over the video');
      expect(part(alice, 'notice')!.querySelector('input')!.value).to.equal(alice.inviteUrl);
      expect(part(alice, 'notice')!.querySelector('input') === part(alice, 'invite-input'), 'part="invite-input"').to.equal(true);
      expect(textOf(alice, 'invite-button')).to.equal(en.copyInvite);
      await expect(alice).to.be.accessible();
      button(alice, 'dismiss-button').click();
      await alice.updateComplete;
      expect(part(alice, 'notice')?.outerHTML ?? null, 'put away').to.equal(null);
      expect(alice.state).to.equal('connected');
    } finally {
      delete (clipboard as unknown as Record<string, unknown>).writeText;
    }
  });

  it('a device that goes away falls back to the default and says so; the call goes on', async () => {
    const { alice, bob } = await call();
    const negotiations = countNegotiations(alice, bob);
    await alice.useDevice('audio', 'usb-headset');
    const lost = alice.localStream!.getAudioTracks()[0]!;
    // What the browser does when a device is unplugged: the track ends by itself.
    lost.dispatchEvent(new Event('ended'));
    await until(() => (alice.localStream!.getAudioTracks()[0] ?? lost) !== lost, 'a default microphone instead');
    const fallback = alice.localStream!.getAudioTracks()[0]!;
    expect(fallback.readyState).to.equal('live');
    const sender = peerConnections.get(alice)!.at(-1)!.getTransceivers()[0]!.sender;
    await until(() => sender.track === fallback, 'the fallback on the same sender');
    await until(() => /disconnected/.test(alice.shadowRoot!.querySelector('[aria-live]')!.textContent ?? ''), 'told');
    expect(negotiations()).to.equal(0);
    expect(alice.state).to.equal('connected');
  });

  it('the only microphone unplugged (nothing to fall back to): it is off, the peer is told, nothing is sent, and the mic button asks for one again', async () => {
    const { alice, bob } = await call();
    alice.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
    const lost = alice.localStream!.getAudioTracks()[0]!;
    lost.dispatchEvent(new Event('ended'));
    await until(() => button(alice, 'mic-button').getAttribute('aria-pressed') === 'true', 'the mic shows off');
    // Said as a sentence of the catalog, with no fallback to name.
    const said = format(en.deviceLostNone, { device: lost.label || en.microphone });
    const region = alice.shadowRoot!.querySelector('[aria-live]')!;
    await until(() => region.textContent!.includes(said), `told: ${said}`);
    expect(region.textContent, 'no fallback named').to.not.match(/using|—/);
    const sender = peerConnections.get(alice)!.at(-1)!.getTransceivers()[0]!.sender;
    await until(() => sender.track === null, 'nothing sent');
    await until(() => !!bob.shadowRoot!.querySelector('.label')?.textContent?.includes(en.micIsOff), 'Bob sees her mic off');
    const asked = recordingMedia();
    alice.getUserMedia = asked.getUserMedia;
    button(alice, 'mic-button').click();
    await until(() => alice.localStream!.getAudioTracks().length === 1, 'a microphone again');
    expect(asked.calls.length).to.equal(1);
  });
});


describe('<call-widget> media errors and their ways out', () => {
  /** getUserMedia that fails with `name` whenever `fails(constraints)` (default: always), else canvas media. */
  function failingMedia(name: string, fails: (c: MediaStreamConstraints) => boolean = () => true) {
    const working = recordingMedia();
    const calls: MediaStreamConstraints[] = [];
    const getUserMedia: GetUserMedia = (constraints) => {
      calls.push(constraints);
      return fails(constraints) ? Promise.reject(new DOMException(`fake ${name}`, name)) : working.getUserMedia(constraints);
    };
    return { getUserMedia, calls, working };
  }

  async function failedWidget(getUserMedia: GetUserMedia, rooms = new InMemoryRooms(), room = newRoomId()) {
    const el = widget({ rooms, room, name: 'Alice', getUserMedia });
    const log = record(el);
    await mount(el);
    button(el, 'join-button').click();
    await reach(el, 'failed');
    await alertText(el);
    return { el, log };
  }

  const CASES: [string, string][] = [
    ['NotAllowedError', 'permission-denied'],
    ['NotFoundError', 'device-not-found'],
    ['NotReadableError', 'device-in-use'],
    ['AbortError', 'device-in-use'],
    ['OverconstrainedError', 'constraints-unsatisfied'],
    ['SecurityError', 'permission-policy-blocked'],
    ['UnknownError', 'media-failed'],
  ];
  for (const [name, code] of CASES) {
    it(`${name} → ${code}: its message, a retry button, and dismiss goes back to idle`, async () => {
      const media = failingMedia(name);
      const { el, log } = await failedWidget(media.getUserMedia);
      expect(log.errors.map((e) => e.code)).to.deep.equal([code]);
      expect(await alertText(el)).to.equal(en[`error-${code}` as keyof typeof en]);
      expect(textOf(el, 'join-button')).to.equal(en.retry);
      await expect(el).to.be.accessible();

      button(el, 'dismiss-button').click();
      await reach(el, 'idle');
      expect(el.error).to.equal(null);
      expect(el.shadowRoot!.querySelector('[role="alert"]')?.outerHTML ?? null).to.equal(null);
      expect(textOf(el, 'join-button')).to.equal(en.join);
      expect(media.working.tracks().every((t) => t.readyState === 'ended')).to.equal(true);
    });
  }

  it('OverconstrainedError: one more try with the default devices and no resolution, which joins', async () => {
    const media = failingMedia('OverconstrainedError', (c) => typeof c.video === 'object' && 'deviceId' in c.video);
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice', getUserMedia: media.getUserMedia });
    const log = record(el);
    await mount(el);
    await el.useDevice('video', 'a-camera-that-is-gone'); // no media yet: only remembered
    button(el, 'join-button').click();
    await reach(el, 'waiting');
    expect(media.calls).to.have.length(2);
    expect((media.calls[0]!.video as MediaTrackConstraints).deviceId).to.deep.equal({ exact: 'a-camera-that-is-gone' });
    expect(media.calls[1]!.video, 'relaxed: any camera, any mode').to.equal(true);
    expect(media.calls[1]!.audio).to.deep.include({ echoCancellation: true }).and.not.have.property('deviceId');
    expect(el.localStream?.getVideoTracks()).to.have.length(1);
    expect(log.errors).to.have.length(0);
  });

  it('device-not-found: "audio only" joins with the microphone alone', async () => {
    const media = failingMedia('NotFoundError', (c) => !!c.video);
    const { el, log } = await failedWidget(media.getUserMedia);
    expect(log.errors.map((e) => e.code)).to.deep.equal(['device-not-found']);
    button(el, 'audio-only-button').click();
    await reach(el, 'waiting');
    expect(media.calls.at(-1)!.video).to.equal(false);
    expect(el.localStream?.getAudioTracks()).to.have.length(1);
    expect(el.localStream?.getVideoTracks()).to.have.length(0);
    expect(button(el, 'camera-button').getAttribute('aria-pressed'), 'camera shown as off').to.equal('true');
  });

  it('device-not-found: "without camera or microphone" asks for nothing, still sees and hears the peer, and the mic button asks for a microphone', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const alice = widget({ rooms, room, name: 'Alice', getUserMedia: recordingMedia({ label: 'Alice' }).getUserMedia });
    await mount(alice);
    button(alice, 'join-button').click();
    await reach(alice, 'waiting');

    const media = failingMedia('NotFoundError');
    const { el: bob } = await failedWidget(media.getUserMedia, rooms, room);
    button(bob, 'receive-only-button').click();
    await reach(bob, 'connected');
    await reach(alice, 'connected');
    expect(media.calls, 'no further getUserMedia').to.have.length(1);
    expect(bob.localStream?.getTracks()).to.have.length(0);
    const frames = await videoFrames(remoteVideo(bob), 3);
    expect(frames.at(-1)!.width).to.be.greaterThan(0);
    expect(button(bob, 'mic-button').getAttribute('aria-pressed')).to.equal('true');

    // A microphone chosen (Devices) while the mic is off is not captured: it
    // is the one the mic button asks for.
    const asked = recordingMedia();
    bob.getUserMedia = asked.getUserMedia;
    await bob.useDevice('audio', 'usb-mic');
    expect(asked.calls, 'nothing captured').to.have.length(0);
    expect(bob.localStream?.getTracks()).to.have.length(0);

    // A microphone turns up: the mic button asks for it, and it goes out on the existing sender.
    button(bob, 'mic-button').click();
    await until(() => bob.localStream?.getAudioTracks().length === 1, 'a microphone track');
    await bob.updateComplete;
    expect(JSON.stringify(asked.calls[0]?.audio), 'the chosen one').to.include('usb-mic');
    expect(button(bob, 'mic-button').getAttribute('aria-pressed')).to.equal('false');
    const sender = peerConnections
      .get(bob)!
      .at(-1)!
      .getSenders()
      .find((s) => s.track?.kind === 'audio');
    expect(sender?.track).to.equal(bob.localStream!.getAudioTracks()[0]);
  });

  it('insecure-context when navigator.mediaDevices is missing; unsupported-browser without RTCPeerConnection', async () => {
    Object.defineProperty(navigator, 'mediaDevices', { value: undefined, configurable: true });
    try {
      const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
      el.getUserMedia = undefined;
      const log = record(el);
      await mount(el);
      button(el, 'join-button').click();
      await reach(el, 'failed');
      expect(log.errors.map((e) => e.code)).to.deep.equal(['insecure-context']);
      expect(await alertText(el)).to.equal(en['error-insecure-context']);
    } finally {
      delete (navigator as { mediaDevices?: unknown }).mediaDevices;
    }
    expect(navigator.mediaDevices, 'restored').to.be.instanceOf(MediaDevices);

    const saved = globalThis.RTCPeerConnection;
    (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection = undefined;
    try {
      const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
      el.createPeerConnection = undefined;
      const log = record(el);
      await mount(el);
      button(el, 'join-button').click();
      await reach(el, 'failed');
      expect(log.errors.map((e) => e.code)).to.deep.equal(['unsupported-browser']);
      expect(el.localStream, 'no camera asked for').to.equal(null);
    } finally {
      globalThis.RTCPeerConnection = saved;
    }
  });
});

describe('<call-widget> in a cross-origin iframe', () => {
  /** The fixture page on the other one of localhost / 127.0.0.1, in an iframe with `allow`. */
  async function inIframe(allow: string | null) {
    const url = new URL('/test/browser/fixtures/iframe-widget.html', location.href);
    url.hostname = url.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
    const frame = document.createElement('iframe');
    if (allow !== null) frame.allow = allow;
    const ready = new Promise<void>((resolve) => {
      const onReady = (event: MessageEvent) => {
        if (event.source !== frame.contentWindow || event.data !== 'ready') return;
        removeEventListener('message', onReady);
        resolve();
      };
      addEventListener('message', onReady);
    });
    frame.src = url.href;
    document.body.append(frame);
    try {
      await ready;
      const answer = new Promise<{ state: string; code: string | null; tracks: string[] }>((resolve) => {
        const onAnswer = (event: MessageEvent) => {
          if (event.source !== frame.contentWindow) return;
          removeEventListener('message', onAnswer);
          resolve(event.data);
        };
        addEventListener('message', onAnswer);
      });
      frame.contentWindow!.postMessage('join', url.origin);
      return await answer;
    } finally {
      frame.remove();
    }
  }

  it('without allow="camera; microphone" fails with permission-policy-blocked; with it, gets media', async () => {
    expect(await inIframe(null)).to.deep.equal({ state: 'failed', code: 'permission-policy-blocked', tracks: [] });
    const allowed = await inIframe('camera; microphone');
    expect(allowed.code).to.equal(null);
    expect(allowed.tracks.sort()).to.deep.equal(['audio', 'video']);
  });
});

describe('<call-widget> while the permission prompt is open, and when the page moves or re-inserts it', () => {
  /** Canvas media behind a permission prompt that the test answers: `allow()` lets the oldest request waiting through. */
  function promptMedia() {
    const inner = recordingMedia();
    const waiting: (() => void)[] = [];
    /** Every track handed out, as handed out (the widget may take some out of their stream). */
    const handed: MediaStreamTrack[] = [];
    const getUserMedia: GetUserMedia = async (constraints) => {
      await new Promise<void>((resolve) => waiting.push(resolve));
      const stream = await inner.getUserMedia(constraints);
      handed.push(...stream.getTracks());
      return stream;
    };
    return { ...inner, getUserMedia, waiting, handed, allow: () => waiting.shift()?.() };
  }

  it('the camera turned off while the prompt is open stays off: its track is stopped and never sent', async () => {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const prompt = promptMedia();
    const bob = widget({ rooms, room, name: 'Bob' });
    const alice = widget({ rooms, room, name: 'Alice', getUserMedia: prompt.getUserMedia });
    await mount(bob, alice);
    button(bob, 'join-button').click();
    await reach(bob, 'waiting');
    button(alice, 'join-button').click();
    await until(() => prompt.waiting.length === 1, 'the prompt');
    await alice.updateComplete;
    button(alice, 'camera-button').click();
    await alice.updateComplete;
    prompt.allow();
    await reach(alice, 'connected');
    await reach(bob, 'connected');
    expect(prompt.handed.filter((t) => t.kind === 'video').map((t) => t.readyState), 'the camera light goes out').to.deep.equal(['ended']);
    expect(alice.localStream!.getTracks().map((t) => t.kind)).to.deep.equal(['audio']);
    const sent = peerConnections.get(alice)!.flatMap((pc) => pc.getSenders().map((sender) => sender.track?.kind ?? null));
    expect(sent.includes('video'), 'no camera track on the link').to.equal(false);
    expect(button(alice, 'camera-button').getAttribute('aria-pressed')).to.equal('true');
    await until(() => !!part(bob, 'avatar'), 'Bob sees her camera off');
  });

  it('a camera request given up (lobby cancelled, call hung up) and answered after a new try began is not the new try\'s failure', async () => {
    // The lobby: open, cancel, open again; both prompts answered.
    const lobbyPrompt = promptMedia();
    const lobby = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice', getUserMedia: lobbyPrompt.getUserMedia, lobby: true });
    const lobbyLog = record(lobby);
    await mount(lobby);
    button(lobby, 'join-button').click();
    await until(() => lobbyPrompt.waiting.length === 1, 'the prompt');
    await lobby.updateComplete;
    button(lobby, 'cancel-button').click();
    await reach(lobby, 'idle');
    button(lobby, 'join-button').click();
    await until(() => lobbyPrompt.waiting.length === 2, 'the second prompt');
    lobbyPrompt.allow();
    lobbyPrompt.allow();
    await until(() => lobbyPrompt.streams.length === 2 && !!lobby.localStream, 'the preview');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lobby.state).to.equal('lobby');
    expect(lobbyLog.errors.map((e) => e.code)).to.deep.equal([]);
    expect(lobbyPrompt.streams[0]!.getTracks().every((t) => t.readyState === 'ended'), 'the first camera released').to.equal(true);
    expect(lobby.localStream === lobbyPrompt.streams[1], 'the preview is the second').to.equal(true);

    // A call: join, hang up, join again; both prompts answered.
    const callPrompt = promptMedia();
    const call = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Bob', getUserMedia: callPrompt.getUserMedia });
    const callLog = record(call);
    await mount(call);
    button(call, 'join-button').click();
    await until(() => callPrompt.waiting.length === 1, 'the prompt');
    await call.updateComplete;
    button(call, 'hangup-button').click();
    await reach(call, 'ended');
    button(call, 'join-button').click();
    await until(() => callPrompt.waiting.length === 2, 'the second prompt');
    callPrompt.allow();
    callPrompt.allow();
    await reach(call, 'waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(call.state).to.equal('waiting');
    expect(callLog.errors.map((e) => e.code)).to.deep.equal([]);
  });

  it('the room server unreachable while the prompt is open past the join timeout: it fails once the prompt is answered, not never', async () => {
    // The join timeout, shortened for the test (the widget's own constant).
    const realSetTimeout = window.setTimeout;
    window.setTimeout = ((handler: TimerHandler, ms?: number, ...rest: unknown[]) =>
      realSetTimeout(handler, ms === JOIN_TIMEOUT_MS ? 100 : ms, ...rest)) as typeof window.setTimeout;
    try {
      const prompt = promptMedia();
      const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice', getUserMedia: prompt.getUserMedia });
      // A room server that never answers.
      el.createSocket = () => ({ send() {}, close() {}, addEventListener() {}, removeEventListener() {} });
      const log = record(el);
      await mount(el);
      button(el, 'join-button').click();
      await until(() => prompt.waiting.length === 1, 'the prompt');
      await new Promise((resolve) => realSetTimeout(resolve, 300)); // past the timeout, the prompt still open
      expect(el.state, 'no failure while the prompt is open').to.equal('joining');
      prompt.allow();
      await reach(el, 'failed');
      expect(log.errors.map((e) => e.code)).to.deep.equal(['room-unreachable']);
    } finally {
      window.setTimeout = realSetTimeout;
    }
  });

  it('a page that sets another room and joins in the same task joins there (no hang-up of the call it just started)', async () => {
    const rooms = new InMemoryRooms();
    const first = newRoomId();
    const el = widget({ rooms, room: first, name: 'Alice' });
    const log = record(el);
    await mount(el);
    await until(() => (rooms.rooms.get(`main/${first}`)?.size ?? 0) === 1, 'in the first room');
    const other = newRoomId();
    el.room = other;
    void el.join();
    await reach(el, 'waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(el.state).to.equal('waiting');
    expect(transitions(log.states)).to.deep.equal(['idle→joining', 'joining→waiting']);
    expect(rooms.rooms.get(`main/${other}`)?.peers().map((p) => p.name)).to.deep.equal(['Alice']);
    await until(() => (rooms.rooms.get(`main/${first}`)?.size ?? 0) === 0, 'gone from the first room');
  });

  it('moved to another room mid-call: that call ends as a hang-up, the camera is released, and the next join is in the new room', async () => {
    const rooms = new InMemoryRooms();
    const { alice, bob, aliceMedia, bobLog } = await call(rooms);
    const ended = new Promise<string>((resolve) => alice.addEventListener('call-ended', (e) => resolve(e.reason), { once: true }));
    const other = newRoomId();
    alice.room = other;
    expect(await ended).to.equal('hangup');
    await reach(alice, 'ended');
    await reach(bob, 'ended');
    expect(bobLog.left.map((e) => e.reason)).to.deep.equal(['hangup']);
    expect(aliceMedia.tracks().every((t) => t.readyState === 'ended'), 'her camera and microphone released').to.equal(true);
    button(alice, 'join-button').click();
    await reach(alice, 'waiting');
    expect(rooms.rooms.get(`main/${other}`)?.peers().map((p) => p.name)).to.deep.equal(['Alice']);
  });
});

describe('<call-widget> and the browser’s permission settings', () => {
  const setPermission = (setting: 'granted' | 'denied', names = ['camera', 'microphone']) =>
    executeServerCommand('set-permission', { names, setting });
  afterEach(() => setPermission('granted'));

  /**
   * The browser's getUserMedia behind the browser's permission rule: this
   * Chromium runs with --use-fake-ui-for-media-stream, which grants every
   * request whatever the site setting says, so the rule (a denied camera or
   * microphone refuses with NotAllowedError) is put back here. The setting
   * itself, and its change events, are the browser's own.
   */
  const gatedGetUserMedia = async (constraints: MediaStreamConstraints) => {
    for (const name of ['camera', 'microphone']) {
      const status = await navigator.permissions.query({ name: name as PermissionName });
      if (status.state === 'denied') throw new DOMException('Permission denied', 'NotAllowedError');
    }
    return navigator.mediaDevices.getUserMedia(constraints);
  };

  it('refused, then allowed in the browser’s settings: it joins by itself (Permissions API change event)', async () => {
    await setPermission('denied');
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    el.getUserMedia = gatedGetUserMedia;
    const log = record(el);
    await mount(el);
    button(el, 'join-button').click();
    await reach(el, 'failed');
    expect(log.errors.map((e) => e.code)).to.deep.equal(['permission-denied']);
    await alertText(el); // what the user reads before going to the settings

    // The camera allowed first: with the microphone still refused, a retry would only fail again.
    await setPermission('granted', ['camera']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(transitions(log.states), 'no retry while the microphone is refused').to.deep.equal(['idle→joining', 'joining→failed']);
    await setPermission('granted', ['microphone']);
    await reach(el, 'waiting');
    const tracks = el.localStream!.getTracks();
    expect(tracks.map((t) => t.kind).sort()).to.deep.equal(['audio', 'video']);
    expect(transitions(log.states)).to.deep.equal(['idle→joining', 'joining→failed', 'failed→joining', 'joining→waiting']);
    el.remove();
    expect(tracks.every((t) => t.readyState === 'ended')).to.equal(true);
  });

  it('dismissed meanwhile: allowing it later does not join', async () => {
    await setPermission('denied');
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Alice' });
    el.getUserMedia = gatedGetUserMedia;
    await mount(el);
    button(el, 'join-button').click();
    await reach(el, 'failed');
    await alertText(el);
    button(el, 'dismiss-button').click();
    await reach(el, 'idle');
    await setPermission('granted');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(el.state).to.equal('idle');
    expect(el.localStream).to.equal(null);
  });
});

describe('<call-widget> ring flow (mode="call")', () => {
  /** Caller and callee in one room, both in call mode; resolves when both sockets are welcomed. */
  async function ringPair(options: { callerName?: string; ringTimeout?: number } = {}) {
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const callerMedia = recordingMedia({ label: 'caller', hue: 210 });
    const calleeMedia = recordingMedia({ label: 'callee', hue: 30 });
    const caller = widget({ rooms, room, name: options.callerName ?? 'Alice', getUserMedia: callerMedia.getUserMedia });
    const callee = widget({ rooms, room, name: 'Bob', getUserMedia: calleeMedia.getUserMedia });
    for (const w of [caller, callee]) {
      w.mode = 'call';
      if (options.ringTimeout !== undefined) w.ringTimeout = options.ringTimeout;
    }
    const calleeLog = record(callee);
    const joined = new Promise((resolve) => caller.addEventListener('call-peer-joined', resolve, { once: true }));
    const root = await mount(caller, callee);
    await joined;
    return { rooms, room, root, caller, callee, callerMedia, calleeMedia, calleeLog };
  }

  it('the caller’s name is shown as text; focus moves to Accept; the live region says who calls; axe passes', async () => {
    const name = '<img src=x onerror="window.__pwned=1">';
    const { caller, callee } = await ringPair({ callerName: name });
    const extra = Object.assign(document.createElement('button'), { slot: 'controls', textContent: 'Extra' });
    callee.append(extra);
    button(callee, 'join-button').focus();
    button(caller, 'join-button').click();
    await reach(callee, 'incoming');
    await reach(caller, 'ringing');
    expect(textOf(callee, 'ring-note')).to.equal(`\u2068${name}\u2069 is calling`);
    expect(callee.shadowRoot!.querySelector('img')?.outerHTML ?? null, 'no element made from the name').to.equal(null);
    expect((window as { __pwned?: number }).__pwned).to.equal(undefined);
    expect(callee.ringPeer?.name).to.equal(name);
    expect(callee.shadowRoot!.activeElement?.getAttribute('part'), 'focus follows the controls').to.equal('button accept-button');
    expect(callee.shadowRoot!.querySelector('[aria-live]')?.textContent).to.equal(`\u2068${name}\u2069 is calling`);
    expect(part(callee, 'join-button')?.outerHTML ?? null, 'no join button while rung').to.equal(null);
    expect(textOf(callee, 'status-badge')).to.equal(en['state-incoming']);
    expect(textOf(caller, 'status-badge')).to.equal(en['state-ringing']);
    expect(extra.assignedSlot !== null && extra.checkVisibility(), 'the page\'s controls are there while rung').to.equal(true);
    await expect(callee).to.be.accessible();
    await expect(caller).to.be.accessible();
  });

  it('ringing someone who already waits in the call: both connect (neither side is left waiting for the other to offer)', async () => {
    // The caller's camera is slow, so its negotiation gate waits its grace;
    // meanwhile the room repeats the callee as in the call (peer-updated),
    // which used to make the caller the answering side as well.
    const rooms = new InMemoryRooms();
    const room = newRoomId();
    const alice = widget({ rooms, room, name: 'Alice' });
    const media = recordingMedia({ label: 'Bob' });
    const bob = widget({
      rooms,
      room,
      name: 'Bob',
      getUserMedia: (constraints) => new Promise((resolve) => setTimeout(resolve, 300)).then(() => media.getUserMedia(constraints)),
    });
    bob.mode = 'call';
    await mount(alice, bob);
    button(alice, 'join-button').click();
    await reach(alice, 'waiting');
    button(bob, 'join-button').click();
    await reach(bob, 'connected', 15_000);
    await reach(alice, 'connected', 15_000);
  });

  it('removed while rung, it is not left ringing; put back, it is in the room again and rung again (the ring waits for the next to arrive)', async () => {
    const { caller, callee } = await ringPair();
    button(caller, 'join-button').click();
    await reach(callee, 'incoming');
    const parent = callee.parentElement!;
    callee.remove();
    await callee.updateComplete;
    expect(callee.state).to.equal('idle');
    expect(callee.ringPeer, 'nobody rings a widget out of the page').to.equal(null);
    parent.append(callee);
    await reach(callee, 'incoming');
    button(callee, 'accept-button').click();
    await reach(callee, 'connected');
    await reach(caller, 'connected');
  });

  it('moved to another room while rung: that ring is over for it, and it listens in the new room', async () => {
    const { rooms, caller, callee } = await ringPair();
    button(caller, 'join-button').click();
    await reach(callee, 'incoming');
    const other = newRoomId();
    callee.room = other;
    await reach(callee, 'idle');
    expect(callee.ringPeer).to.equal(null);
    await until(() => (rooms.rooms.get(`main/${other}`)?.size ?? 0) === 1, 'the callee listens in the new room');
  });

  it('moved to another room after a call, a call-mode widget listens there, and no longer in the old room', async () => {
    const { rooms, room, caller, callee } = await ringPair();
    button(caller, 'join-button').click();
    await reach(callee, 'incoming');
    button(callee, 'accept-button').click();
    await reach(caller, 'connected');
    button(caller, 'hangup-button').click();
    await reach(callee, 'ended');
    const size = (id: string) => rooms.rooms.get(`main/${id}`)?.size ?? 0;
    await until(() => size(room) === 2, 'both listen in the room after the call');
    const other = newRoomId();
    callee.room = other;
    await until(() => size(other) === 1 && size(room) === 1, 'the callee listens in the new room only');
  });

  it('Enter on Accept answers: camera asked for only then; call-state-change covers incoming', async () => {
    const { caller, callee, calleeMedia, calleeLog } = await ringPair();
    button(caller, 'join-button').click();
    await reach(callee, 'incoming');
    expect(calleeMedia.calls, 'nothing captured while rung').to.deep.equal([]);
    expect(peerConnections.get(callee), 'no peer connection while rung').to.deep.equal([]);
    button(callee, 'accept-button').focus();
    await sendKeys({ press: 'Enter' });
    await reach(callee, 'connected');
    await reach(caller, 'connected');
    expect(calleeMedia.calls.length).to.equal(1);
    expect(transitions(calleeLog.states)[0]).to.equal('idle→incoming');
    expect(calleeLog.states.at(-1)!.state).to.equal('connected');
    await videoFrames(remoteVideo(caller), 3);
  });

  it('declined, missed and busy end the attempt with call-ended; the join button then reads "Call again" (the callee’s "Call")', async () => {
    const { root, rooms, room, caller, callee, callerMedia } = await ringPair({ ringTimeout: 1 });
    const ended: [string, string, number][] = [];
    for (const w of [caller, callee]) w.addEventListener('call-ended', (e) => ended.push([w.name, e.reason, e.durationMs]));

    button(caller, 'join-button').click();
    await reach(callee, 'incoming');
    button(callee, 'decline-button').click();
    await reach(caller, 'declined');
    await reach(callee, 'declined');
    expect(callerMedia.tracks().map((t) => t.readyState), 'the caller’s camera released').to.deep.equal(['ended', 'ended']);
    expect(textOf(caller, 'join-button')).to.equal(en.callAgain);
    expect(textOf(callee, 'join-button'), 'Bob never called').to.equal(en.call);

    // Ring again and let it go unanswered (ring-timeout 1 s).
    button(caller, 'join-button').click();
    await reach(callee, 'incoming');
    await reach(caller, 'missed', 4000);
    await reach(callee, 'missed', 1000);
    expect(callerMedia.tracks().every((t) => t.readyState === 'ended')).to.equal(true);
    expect(textOf(callee, 'join-button')).to.equal(en.call);

    // Bob calls back and Alice takes it; then Carol rings and hears busy.
    button(callee, 'join-button').click();
    await reach(caller, 'incoming');
    button(caller, 'accept-button').click();
    await reach(caller, 'connected');
    const carol = widget({ rooms, room, name: 'Carol' });
    carol.mode = 'call';
    carol.addEventListener('call-ended', (e) => ended.push([carol.name, e.reason, e.durationMs]));
    root.append(carol);
    await carol.updateComplete;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(carol.state, 'a full line is not an error before ringing').to.equal('idle');
    button(carol, 'join-button').click();
    await reach(carol, 'busy');
    expect(carol.localStream).to.equal(null);
    expect([...ended].sort()).to.deep.equal(
      [
        ['Alice', 'declined', 0],
        ['Bob', 'declined', 0],
        ['Alice', 'missed', 0],
        ['Bob', 'missed', 0],
        ['Carol', 'busy', 0],
      ].sort(),
    );
    expect(caller.state).to.equal('connected');
  });

  it('removing the ringing caller ends its tracks within 500 ms; the callee sees missed', async () => {
    const { caller, callee, callerMedia } = await ringPair();
    button(caller, 'join-button').click();
    await reach(caller, 'ringing');
    await reach(callee, 'incoming');
    caller.remove();
    await until(() => callerMedia.tracks().every((t) => t.readyState === 'ended'), 'tracks ended', { timeoutMs: 500 });
    await reach(callee, 'missed', 2000);
  });

  it('ring-timeout out of the server’s range is clamped (1–120 s), not refused', async () => {
    const sent: string[] = [];
    for (const [timeout, expected] of [
      [500, 120_000],
      [0.2, 1000],
      [Number.NaN, 30_000],
      [7.5, 7500],
    ] as const) {
      const rooms = new InMemoryRooms();
      const el = widget({ rooms, room: newRoomId(), name: 'A' });
      el.mode = 'call';
      el.ringTimeout = timeout;
      el.createSocket = (address) => {
        const socket = rooms.socketFactory(address);
        const send = socket.send.bind(socket);
        socket.send = (data) => {
          sent.push(data);
          send(data);
        };
        return socket;
      };
      await mount(el);
      await settled(el);
      sent.length = 0;
      button(el, 'join-button').click();
      await reach(el, 'ringing');
      const ring = sent.map((f) => JSON.parse(f) as { type: string; timeoutMs?: number }).find((m) => m.type === 'ring');
      expect(ring?.timeoutMs, `ring-timeout ${timeout}`).to.equal(expected);
      el.remove();
    }
  });
});

describe('<call-widget> found by a bug hunt: moves, dismissals, repeats, device attributes', () => {
  it('moved in the page mid-call (removed and put back in one task): the call ends as a removal does, with call-ended, and the timer stops', async () => {
    const { root, bob, bobLog } = await call();
    const ended: CallEndedEvent[] = [];
    bob.addEventListener('call-ended', (e) => ended.push(e));
    root.append(bob);
    await reach(bob, 'ended');
    expect(ended.map((e) => e.reason)).to.deep.equal(['hangup']);
    expect(transitions(bobLog.states).at(-1)).to.equal('connected→ended');
    const timer = part(bob, 'call-timer')?.textContent;
    await sleep(1100);
    expect(part(bob, 'call-timer')?.textContent, 'stopped').to.equal(timer);
    button(bob, 'join-button').click();
    await reach(bob, 'connected');
  });

  it('Dismiss after the room refused us for good (room-full) stays idle: no new refusal, no second call-error or call-ended; Join tries again, and gets in once there is room', async () => {
    const { rooms, room, root, bob } = await fullRoom();
    const carol = widget({ rooms, room, name: 'Carol' });
    const carolLog = record(carol);
    const ended: CallEndedEvent[] = [];
    carol.addEventListener('call-ended', (e) => ended.push(e));
    root.append(carol);
    await reach(carol, 'failed');
    await alertText(carol);
    button(carol, 'dismiss-button').click();
    await sleep(300);
    expect(carol.state).to.equal('idle');
    expect([carolLog.errors.length, ended.length]).to.deep.equal([1, 1]);
    bob.remove();
    button(carol, 'join-button').click();
    await reach(carol, 'waiting');
    expect(carolLog.errors.length).to.equal(1);
  });

  it('the same sentence said twice (two guests with no name knock) is a new node in the live region each time', async () => {
    const { root, rooms, room, host } = await lockedRoom(3);
    const region = host.shadowRoot!.querySelector('[aria-live]')!;
    await knock(root, widget({ rooms, room, name: '' }), host);
    await host.updateComplete;
    const added: string[] = [];
    new MutationObserver((records) => {
      for (const r of records) for (const node of r.addedNodes) if (node.textContent) added.push(node.textContent);
    }).observe(region, { childList: true, subtree: true });
    const second = widget({ rooms, room, name: '' });
    root.append(second);
    await second.updateComplete;
    button(second, 'join-button').click();
    await until(() => host.knocking.length === 2, 'the second knock is listed');
    await until(() => added.length > 0, 'something said');
    expect(added).to.deep.equal([format(en.knocking, { name: en.guest })]);
  });

  it('after a call without a microphone, the lobby (the default way in) captures the microphone again', async () => {
    const media = recordingMedia();
    const el = widget({ rooms: new InMemoryRooms(), room: newRoomId(), name: 'Ann', getUserMedia: media.getUserMedia, lobby: true });
    await mount(el);
    await el.join({ audio: false, video: false });
    await reach(el, 'waiting');
    el.hangup();
    await reach(el, 'ended');
    button(el, 'join-button').click();
    await reach(el, 'lobby');
    await until(() => !!el.localStream, 'lobby media');
    await el.updateComplete;
    expect(button(el, 'mic-button').getAttribute('aria-pressed'), 'unmuted').to.equal('false');
    button(el, 'join-button').click();
    await reach(el, 'waiting');
    expect(el.localStream!.getAudioTracks().length).to.equal(1);
  });

  it('video="off" set mid-call keeps the camera button while the camera is on, so it can be turned off', async () => {
    const { alice, aliceMedia } = await call();
    alice.setAttribute('video', 'off');
    await alice.updateComplete;
    button(alice, 'camera-button').click();
    await until(() => aliceMedia.tracks().every((t) => t.kind !== 'video' || t.readyState === 'ended'), 'the camera is off');
    await alice.updateComplete;
    expect(part(alice, 'camera-button')?.outerHTML ?? null, 'off now, and video="off": no button').to.equal(null);
  });
});
