/**
 * Whatever the room server sends, in whatever order, between whatever the
 * user does: the widget never throws, leaves no unhandled promise rejection,
 * and hanging up (or declining, or leaving the lobby) always brings it to a
 * resting state; removed, it has stopped every track it got and closed every
 * peer connection it made. Property-based (fast-check): frames that pass the
 * client's check (`parseServerFrame`) about a small pool of peers, so that
 * they refer to one another (a `signal` from a peer the roster lists, an
 * offer for a link that exists), garbage frames, socket closes with every
 * close code, and the widget's public actions, interleaved.
 *
 * The scripted socket stands in for the server, which never sends most of
 * these sequences: this is about the widget's own robustness (a reordered
 * frame after a reconnect, a server bug, a hostile proxy), not about the
 * room rules, which test/unit/room-fuzz.test.ts covers.
 */
import { expect } from '@open-wc/testing';
import fc from 'fast-check';
import '../../src/call-widget.ts';
import type { CallState, CallWidget } from '../../src/call-widget.ts';
import type { SignalingSocket } from '../../src/controllers/signaling-controller.ts';
import { en, format } from '../../src/i18n/messages.ts';
import { CloseCode, PROTOCOL_VERSION, RING_STATES } from '../../src/protocol.ts';
import { canvasGetUserMedia } from '../support/canvas-media.ts';
import { sleep, until } from './helpers.ts';

/** States the widget may be left in: nothing is under way in them. */
const RESTING: readonly CallState[] = ['idle', 'ended', 'declined', 'missed', 'busy', 'failed'];

/** The peer pool (ids of the server's form: base64url, 16–32 characters). */
const PEERS = ['peerAAAAAAAAAAAA', 'peerBBBBBBBBBBBB', 'peerCCCCCCCCCCCC'];
const SELF = 'selfSSSSSSSSSSSS';

/** A plain WebSocket-shaped socket that the test drives as the server would. */
class ScriptedSocket implements SignalingSocket {
  readonly sent: string[] = [];
  closed = false;
  readonly #target = new EventTarget();
  send(data: string): void {
    if (!this.closed) this.sent.push(data);
  }
  close(): void {
    this.closed = true;
  }
  addEventListener(type: string, listener: (event: Event) => void): void {
    this.#target.addEventListener(type, listener);
  }
  removeEventListener(type: string, listener: (event: Event) => void): void {
    this.#target.removeEventListener(type, listener);
  }
  emit(event: Event): void {
    if (!this.closed) this.#target.dispatchEvent(event);
  }
}

/** The ICE username fragment of an SDP, or of the SDP in a signal frame. */
const ufrag = (sdp: string) => /a=ice-ufrag:([^\s\\]+)/.exec(sdp)?.[1];

/** A real offer's SDP (the browser's own), so that some offers get as far as an answer. */
async function realOfferSdp(): Promise<string> {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio');
  pc.addTransceiver('video');
  const offer = await pc.createOffer();
  pc.close();
  return offer.sdp!;
}

type Action =
  | { kind: 'frame'; frame: string }
  | { kind: 'close'; code: number }
  | { kind: 'user'; action: 'join' | 'lobby' | 'hangup' | 'mic' | 'camera' | 'lock' | 'unlock' | 'accept' | 'decline' | 'dismiss' }
  | { kind: 'host'; action: 'admit' | 'reject'; id: string }
  | { kind: 'wait'; ms: number };

/** Stands for the real offer's SDP in a script (so a counterexample stays short); put in as the frame is sent. */
const OFFER = '<real offer SDP>';

function actions(): fc.Arbitrary<Action[]> {
  const id = fc.constantFrom(...PEERS);
  const name = fc.constantFrom('', 'Bob', '<img src=x onerror=alert(1)>', 'אבג', ' Carol ');
  const peer = fc.record({ id, name, inCall: fc.boolean() });
  const peers = fc.uniqueArray(peer, { selector: (p) => p.id, maxLength: 3 });
  const iceServers = fc.constantFrom([], [{ urls: 'stun:127.0.0.1:3478' }], [{ urls: ['turn:127.0.0.1:3478'], username: 'u', credential: 'c' }]);
  const sdp = fc.constantFrom(OFFER, 'v=0\r\ngarbage\r\n', '');
  const description = fc.oneof(
    fc.record({ type: fc.constantFrom('offer', 'answer', 'pranswer'), sdp }),
    fc.constant({ type: 'rollback', sdp: '' }),
  );
  const candidate = fc.record({
    candidate: fc.constantFrom('', 'candidate:1 1 udp 2122260223 127.0.0.1 54400 typ host', 'garbage'),
    sdpMid: fc.constantFrom(null, '0', '1', '9'),
    sdpMLineIndex: fc.constantFrom(null, 0, 1, 9),
    usernameFragment: fc.constantFrom(null, 'abcd'),
  });
  const welcome = fc.record({
      type: fc.constant('welcome'),
      version: fc.constant(PROTOCOL_VERSION),
      id: fc.constantFrom(SELF, SELF, 'selfTTTTTTTTTTTT'),
      capacity: fc.constantFrom(2, 6),
      peers,
      iceServers,
      iceTtl: fc.constantFrom(undefined, 1, 3600),
      locked: fc.boolean(),
      hostKey: fc.constantFrom(undefined, 'hostkeyhostkeyhostkey01'),
      resumed: fc.constantFrom(undefined, true),
      hungUp: fc.constantFrom(undefined, [], [PEERS[0]!], PEERS),
    });
  const message = fc.oneof(
    welcome,
    fc.constant({ type: 'pong' }),
    fc.constant({ type: 'lobby' }),
    fc.record({ type: fc.constant('knocks'), peers }),
    fc.record({ type: fc.constant('lock-changed'), locked: fc.boolean() }),
    fc.constant({ type: 'host', hostKey: 'hostkeyhostkeyhostkey02' }),
    fc.record({ type: fc.constant('ice-servers'), iceServers, iceTtl: fc.constantFrom(undefined, 1) }),
    fc.record({ type: fc.constant('joined'), peers }),
    fc.record({ type: fc.constantFrom('peer-joined', 'peer-updated'), peer }),
    fc.record({ type: fc.constant('peer-left'), id, reason: fc.constantFrom('hangup', 'left') }),
    fc.record({
      type: fc.constant('signal'),
      from: id,
      data: fc.oneof(fc.record({ kind: fc.constant('description'), description }), fc.record({ kind: fc.constant('candidates'), candidates: fc.array(candidate, { minLength: 1, maxLength: 3 }) })),
    }),
    fc.record({ type: fc.constant('call'), state: fc.constantFrom(...RING_STATES), peer: fc.option(peer, { nil: undefined }) }),
    fc.record({ type: fc.constant('error'), code: fc.constantFrom('room-full', 'not-host', 'knocking', 'bad-message', 'x'), message: fc.string() }),
  );
  const action: fc.Arbitrary<Action> = fc.oneof(
    { weight: 12, arbitrary: message.map((m) => ({ kind: 'frame' as const, frame: JSON.stringify(m) })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((frame) => ({ kind: 'frame' as const, frame })) },
    { weight: 1, arbitrary: fc.constantFrom(1000, 1006, 1011, ...Object.values(CloseCode), 4999).map((code) => ({ kind: 'close' as const, code })) },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom('join', 'lobby', 'hangup', 'mic', 'camera', 'lock', 'unlock', 'accept', 'decline', 'dismiss' as const)
        .map((a) => ({ kind: 'user' as const, action: a })),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('host' as const), action: fc.constantFrom('admit' as const, 'reject' as const), id }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }).map((ms) => ({ kind: 'wait' as const, ms })) },
  );
  const frame = (m: unknown): Action => ({ kind: 'frame', frame: JSON.stringify(m) });
  // Most runs start as a call does (welcome, join, joined with the others in
  // it, an offer from one of them), so that the rest finds links and
  // negotiations under way.
  const start = fc.oneof(
    fc.constant([] as Action[]),
    fc.tuple(welcome, peers, fc.constantFrom(0, 30)).map(([w, others, ms]): Action[] => [
      frame({ ...w, id: SELF, peers: others }),
      { kind: 'user', action: 'join' },
      { kind: 'wait', ms },
      frame({ type: 'joined', peers: others.map((p) => ({ ...p, inCall: true })) }),
      { kind: 'wait', ms },
    ]),
    fc.tuple(welcome, id).map(([w, from]): Action[] => [
      frame({ ...w, id: SELF, peers: [] }),
      { kind: 'user', action: 'join' },
      { kind: 'wait', ms: 30 },
      frame({ type: 'joined', peers: [] }),
      frame({ type: 'peer-joined', peer: { id: from, name: 'Bob', inCall: false } }),
      frame({ type: 'peer-updated', peer: { id: from, name: 'Bob', inCall: true } }),
      frame({ type: 'signal', from, data: { kind: 'description', description: { type: 'offer', sdp: OFFER } } }),
      { kind: 'wait', ms: 30 },
    ]),
  );
  return fc.tuple(start, fc.array(action, { maxLength: 30 })).map(([head, tail]) => [...head, ...tail]);
}

describe('<call-widget> against any sequence of server frames', () => {
  it('never throws, always comes to rest, and leaves no track or peer connection behind', async function () {
    this.timeout(180_000);
    const offerSdp = await realOfferSdp();
    const failures: string[] = [];
    const onError = (event: ErrorEvent) => failures.push(`error: ${event.message}`);
    const onRejection = (event: PromiseRejectionEvent) => failures.push(`unhandled rejection: ${String(event.reason)}`);
    window.addEventListener('error', onError);
    window.addEventListener('unhandledrejection', onRejection);
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('room' as const, 'call' as const), fc.boolean(), actions(), async (mode, opens, script) => {
          failures.length = 0;
          const sockets: ScriptedSocket[] = [];
          const tracks: MediaStreamTrack[] = [];
          const connections: RTCPeerConnection[] = [];
          const media = canvasGetUserMedia({ width: 64, height: 48 });
          const el = document.createElement('call-widget');
          Object.assign(el, { room: 'fuzzroom1', name: 'Fuzz', mode, skipLobby: true, host: 'fuzz.invalid' });
          el.createSocket = () => {
            const socket = new ScriptedSocket();
            sockets.push(socket);
            // Most sockets connect; some never do (an unreachable server).
            if (opens) setTimeout(() => socket.emit(new Event('open')));
            return socket;
          };
          el.getUserMedia = async (constraints) => {
            const stream = await media(constraints);
            tracks.push(...stream.getTracks());
            return stream;
          };
          el.createPeerConnection = (configuration) => {
            const pc = new RTCPeerConnection(configuration);
            connections.push(pc);
            return pc;
          };
          document.body.append(el);
          try {
            await el.updateComplete;
            for (const step of script) {
              const socket = sockets.at(-1);
              switch (step.kind) {
                case 'frame':
                  socket?.emit(new MessageEvent('message', { data: step.frame.replace(JSON.stringify(OFFER), JSON.stringify(offerSdp)) }));
                  break;
                case 'close':
                  socket?.emit(new CloseEvent('close', { code: step.code }));
                  if (socket) socket.closed = true;
                  break;
                case 'user': {
                  const w = el as CallWidget & Record<string, () => unknown>;
                  const method = { mic: 'toggleMic', camera: 'toggleCamera', lobby: 'openLobby' }[step.action as string] ?? step.action;
                  void w[method]!();
                  break;
                }
                case 'host':
                  el[step.action](step.id);
                  break;
                case 'wait':
                  await sleep(step.ms);
                  break;
              }
              await el.updateComplete;
            }
            // Whatever is under way, the user can end it.
            el.hangup();
            el.decline();
            el.leaveLobby();
            await el.updateComplete;
            expect(RESTING, `came to rest (is ${el.state})`).to.include(el.state);
          } finally {
            el.remove();
          }
          // Media asked for before the removal may arrive after it: it is stopped too.
          await sleep(50);
          expect(tracks.filter((t) => t.readyState !== 'ended').map((t) => t.kind), 'live tracks').to.deep.equal([]);
          expect(connections.filter((pc) => pc.signalingState !== 'closed').length, 'open peer connections').to.equal(0);
          expect(failures).to.deep.equal([]);
        }),
        { numRuns: 60 },
      );
    } finally {
      window.removeEventListener('error', onError);
      window.removeEventListener('unhandledrejection', onRejection);
    }
  });
});

describe('<call-widget> back in the room after a socket drop (a resumed welcome)', () => {
  const BOB = { id: PEERS[0]!, name: 'Bob', inCall: true };
  const welcome = (extra: Record<string, unknown>) =>
    JSON.stringify({ type: 'welcome', version: PROTOCOL_VERSION, id: SELF, capacity: 6, peers: [BOB], iceServers: [], locked: false, ...extra });

  /**
   * A widget on a scripted room socket that is open: `receive` hands it a
   * frame, `drop` closes the socket as a network loss does (partysocket
   * reconnects the same object) and opens it again; `sent` is what it sent.
   * Removed after `body`.
   */
  async function scripted<T>(
    props: Partial<CallWidget>,
    body: (el: CallWidget, room: { receive(data: string): Promise<void>; drop(): Promise<void>; sent: string[] }) => Promise<T>,
  ): Promise<T> {
    const socket = new ScriptedSocket();
    const el = document.createElement('call-widget');
    Object.assign(el, { name: 'Ann', host: 'fuzz.invalid', ...props });
    el.createSocket = () => socket;
    el.getUserMedia = canvasGetUserMedia({ width: 64, height: 48 });
    document.body.append(el);
    try {
      await el.updateComplete;
      socket.emit(new Event('open'));
      return await body(el, {
        async receive(data) {
          socket.emit(new MessageEvent('message', { data }));
          await el.updateComplete;
        },
        async drop() {
          socket.emit(new CloseEvent('close', { code: 1006 }));
          await el.updateComplete;
          socket.emit(new Event('open'));
        },
        sent: socket.sent,
      });
    } finally {
      el.remove();
    }
  }

  /**
   * A call with Bob; our socket drops and the room takes us back with a
   * resumed `welcome` with `back` in it. What the live region said meanwhile,
   * the events fired and the peer connections made.
   */
  function resume(back: Record<string, unknown>, others = [BOB]) {
    const connections: RTCPeerConnection[] = [];
    const left: string[] = [];
    const createPeerConnection = (configuration: RTCConfiguration) => {
      const pc = new RTCPeerConnection(configuration);
      connections.push(pc);
      return pc;
    };
    const joined: string[] = [];
    return scripted({ room: 'resumeroom1', skipLobby: true, createPeerConnection }, async (el, room) => {
      el.addEventListener('call-peer-left', (event) => left.push(event.peer.name));
      el.addEventListener('call-peer-joined', (event) => joined.push(event.peer.name));
      await room.receive(welcome({ peers: others }));
      await el.join();
      await room.receive(JSON.stringify({ type: 'joined', peers: others }));
      const lines: string[] = [];
      const region = el.shadowRoot!.querySelector('[aria-live]')!;
      new MutationObserver(() => lines.push(region.textContent!.trim())).observe(region, { subtree: true, childList: true, characterData: true });
      await room.drop();
      await room.receive(welcome({ resumed: true, ...back }));
      await sleep(0);
      return { said: lines, left, joined, connections: connections.map((pc) => pc.signalingState), state: el.state };
    });
  }

  it('a room server of another protocol version: its welcome fails the join with protocol-mismatch, and nothing is sent to it', async () => {
    await scripted({ room: 'resumeroom9', skipLobby: true }, async (el, room) => {
      const codes: string[] = [];
      el.addEventListener('call-error', (event) => codes.push(event.code));
      await el.join();
      await room.receive(JSON.stringify({ type: 'welcome', version: PROTOCOL_VERSION - 1, id: SELF, peers: 'another shape' }));
      expect(el.state).to.equal('failed');
      expect(codes).to.deep.equal(['protocol-mismatch']);
      expect(room.sent, 'no join, no ping, no bye').to.deep.equal([]);
      expect(el.localStream, 'the camera is released').to.equal(null);
    });
  });

  it('is told that the host role became ours, or that the lock changed, while we were away', async () => {
    const { said } = await resume({ hostKey: 'hostkeyhostkeyhostkey01', locked: true });
    expect(said.some((text) => text.includes(en.nowHost)), said.join(' | ')).to.equal(true);
    expect(said.some((text) => text.includes(en.roomLocked)), said.join(' | ')).to.equal(true);
  });

  it('hears nothing of the kind when nothing changed', async () => {
    const { said, left, connections } = await resume({});
    for (const key of ['nowHost', 'roomLocked', 'roomUnlocked', 'peerLeft'] as const) {
      expect(said.some((text) => text.includes(format(en[key], { name: 'Bob' }))), said.join(' | ')).to.equal(false);
    }
    expect(left).to.deep.equal([]);
    expect(connections.length, 'one link, to Bob').to.equal(1);
    expect(connections[0], 'the link to Bob carries on').to.not.equal('closed');
  });

  it('rung, then back under a new identity (away past the grace: the room dropped us from the ring): the ring is over, and rung again if it still stands', async () => {
    await scripted({ room: 'resumeroom10', mode: 'call' }, async (el, room) => {
      await room.receive(welcome({}));
      await room.receive(JSON.stringify({ type: 'call', state: 'incoming', peer: BOB }));
      expect(el.state).to.equal('incoming');
      await room.drop();
      await room.receive(welcome({ id: 'selfTTTTTTTTTTTT', peers: [{ ...BOB, inCall: false }] }));
      expect(el.state).to.equal('idle');
      expect(el.ringPeer).to.equal(null);
      await room.receive(JSON.stringify({ type: 'call', state: 'incoming', peer: BOB }));
      expect(el.state).to.equal('incoming');
    });
  });

  it('rung by a caller who went while our socket was down: the resumed welcome ends the ring as missed', async () => {
    await scripted({ room: 'resumeroom2', mode: 'call' }, async (el, room) => {
      await room.receive(welcome({}));
      await room.receive(JSON.stringify({ type: 'call', state: 'incoming', peer: BOB }));
      expect(el.state).to.equal('incoming');
      await room.drop();
      expect(el.state, 'still rung while the room is away').to.equal('incoming');
      await room.receive(welcome({ resumed: true, peers: [] }));
      expect(el.state).to.equal('missed');
    });
  });

  it('our ring was declined while we were away (ringEnded): the attempt ends as declined, the camera is released, and the ring is not sent again', async () => {
    await scripted({ room: 'resumeroom7', mode: 'call', skipLobby: true }, async (el, room) => {
      await room.receive(welcome({ peers: [{ ...BOB, inCall: false }] }));
      await el.join();
      await room.receive(JSON.stringify({ type: 'joined', peers: [] }));
      await room.receive(JSON.stringify({ type: 'call', state: 'ringing', peer: BOB }));
      expect(el.state).to.equal('ringing');
      const tracks = el.localStream!.getTracks();
      await room.drop();
      const before = room.sent.length;
      await room.receive(welcome({ resumed: true, peers: [{ ...BOB, inCall: false }], ringEnded: 'declined' }));
      expect(el.state).to.equal('declined');
      expect(tracks.every((t) => t.readyState === 'ended'), 'camera and microphone released').to.equal(true);
      // Back the instant it dropped: the answer waits for its turn (the room's
      // bucket is as it was), a frame's worth at the pace; then only a ping.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(room.sent.slice(before).map((frame) => (JSON.parse(frame) as { type: string }).type)).to.deep.equal(['ping']);
    });
  });

  it('rung, and the ring ran out while we were away (the caller still here): the resumed welcome ends it as missed', async () => {
    await scripted({ room: 'resumeroom8', mode: 'call' }, async (el, room) => {
      await room.receive(welcome({}));
      await room.receive(JSON.stringify({ type: 'call', state: 'incoming', peer: BOB }));
      expect(el.state).to.equal('incoming');
      await room.drop();
      await room.receive(welcome({ resumed: true, ringEnded: 'missed' }));
      expect(el.state).to.equal('missed');
    });
  });

  it('the other of a 1:1 call hung up while we were away (hungUp): the call ends as a remote hang-up', async () => {
    const { said, left, connections, state } = await resume({ peers: [], hungUp: [BOB.id] });
    expect(said.some((text) => text.includes(format(en.peerHungUp, { name: 'Bob' }))), said.join(' | ')).to.equal(true);
    expect(left).to.deep.equal(['Bob']);
    expect(connections).to.deep.equal(['closed']);
    expect(state).to.equal('ended');
  });

  it('a group call: it ends on hang-ups learnt on coming back only if nobody the welcome lists is still in it', async () => {
    const CAROL = { id: PEERS[1]!, name: 'Carol', inCall: true };
    const DAN = { id: PEERS[2]!, name: 'Dan', inCall: true };
    // Bob and Carol hung up; Dan joined meanwhile and is in the call.
    const withDan = await resume({ peers: [DAN], hungUp: [BOB.id, CAROL.id] }, [BOB, CAROL]);
    expect(withDan.left).to.deep.equal(['Bob', 'Carol']);
    expect(withDan.state, 'Dan is still in the call').to.not.equal('ended');
    // Bob hung up and Carol just went (either order): nobody is left.
    for (const others of [
      [BOB, CAROL],
      [CAROL, BOB],
    ]) {
      const alone = await resume({ peers: [], hungUp: [BOB.id] }, others);
      expect(alone.state, others.map((p) => p.name).join(', ')).to.equal('ended');
    }
  });

  it('a peer hung up and the lock changed while we were away (held, or past the grace under a new id): said in that order, together, and the lock not at all once the hang-up ended the call', async () => {
    const CAROL = { id: PEERS[1]!, name: 'Carol', inCall: true };
    for (const how of [{}, { resumed: undefined, id: 'selfTTTTTTTTTTTT', replaces: SELF }]) {
      const group = await resume({ peers: [CAROL], hungUp: [BOB.id], locked: true, ...how }, [BOB, CAROL]);
      // What the live region shows last: one batch (a screen reader may read only the last text).
      const shown = group.said.at(-1) ?? '';
      const [hungUp, locked] = [shown.indexOf(format(en.peerHungUp, { name: 'Bob' })), shown.indexOf(en.roomLocked)];
      expect(hungUp >= 0 && locked > hungUp, group.said.join(' | ')).to.equal(true);
    }
    const alone = await resume({ peers: [], hungUp: [BOB.id], locked: true });
    expect(alone.state).to.equal('ended');
    expect(alone.said.some((line) => line.includes(en.roomLocked)), alone.said.join(' | ')).to.equal(false);
  });

  it('one the resumed welcome lists that we did not know joined the call while we were away: said after who left, as joined (not "is here"), and call-peer-joined fires', async () => {
    const CAROL = { id: PEERS[1]!, name: 'Carol', inCall: true };
    const { said, left, joined } = await resume({ peers: [CAROL] });
    const shown = said.join('\n');
    const [bobLeft, carolJoined] = [shown.indexOf(format(en.peerLeft, { name: 'Bob' })), shown.indexOf(format(en.peerJoined, { name: 'Carol' }))];
    expect(bobLeft >= 0 && carolJoined > bobLeft, shown).to.equal(true);
    expect(shown.includes(format(en.peerHere, { name: 'Carol' })), shown).to.equal(false);
    expect([left, joined]).to.deep.equal([['Bob'], ['Carol']]);
    const nobodyNew = await resume({ peers: [BOB] });
    expect(nobodyNew.joined).to.deep.equal([]);
    // Alone in the call (no link to rejoin), back past the grace under a new id: once, as joined.
    const alone = await resume({ resumed: undefined, id: 'selfTTTTTTTTTTTT', replaces: SELF, peers: [CAROL] }, []);
    const heard = alone.said.join('\n');
    expect(heard.includes(format(en.peerJoined, { name: 'Carol' })) && !heard.includes(format(en.peerHere, { name: 'Carol' })), heard).to.equal(true);
    expect(alone.joined).to.deep.equal(['Carol']);
  });

  it('one we knew that joined the call while we were away: said as joined (call-peer-joined fired when it came into the room, not again)', async () => {
    await scripted({ room: 'resumeroom12', skipLobby: true }, async (el, room) => {
      const joined: string[] = [];
      el.addEventListener('call-peer-joined', (event) => joined.push(event.peer.name));
      await room.receive(welcome({ peers: [{ ...BOB, inCall: false }] }));
      await el.join();
      await room.receive(JSON.stringify({ type: 'joined', peers: [] }));
      const region = el.shadowRoot!.querySelector('[aria-live]')!;
      await room.drop();
      await room.receive(welcome({ resumed: true }));
      expect(region.textContent).to.include(format(en.peerJoined, { name: 'Bob' }));
      expect(joined).to.deep.equal([]);
    });
  });

  it('a peer in the call that the room repeats (its join sent again: its socket came back) while our offer to it is unanswered: the offer goes again at once, not at the 10 s connect watch (it went to nobody while that peer was away)', async () => {
    await scripted({ room: 'resumeroom11', skipLobby: true }, async (el, room) => {
      const causes: string[] = [];
      el.addEventListener('call-reconnect', (event) => causes.push(event.cause));
      const offers = () => room.sent.filter((frame) => frame.includes('"type":"offer"')).length;
      await room.receive(welcome({}));
      await el.join();
      await room.receive(JSON.stringify({ type: 'joined', peers: [BOB] }));
      await until(() => offers() === 1, 'our first offer to Bob');
      await room.receive(JSON.stringify({ type: 'peer-updated', peer: BOB }));
      await until(() => offers() === 2, 'the offer again', { timeoutMs: 2000 });
      expect(room.sent.filter((frame) => frame.includes('"type":"offer"')).map((frame) => ufrag(frame)), 'the same offer').to.satisfy((u: string[]) => u[0] === u[1]);
      expect(causes, 'no recovery step').to.deep.equal([]);
    });
  });

  it('the same repeat while our first offer is answered and ICE is still checking (a slow path): left to ICE, no ICE restart, no recovery step', async () => {
    const connections: RTCPeerConnection[] = [];
    await scripted(
      {
        room: 'resumeroom14',
        skipLobby: true,
        createPeerConnection: (configuration) => {
          const pc = new RTCPeerConnection(configuration);
          connections.push(pc);
          return pc;
        },
      },
      async (el, room) => {
        const causes: string[] = [];
        el.addEventListener('call-reconnect', (event) => causes.push(event.cause));
        const offers = () => room.sent.filter((frame) => frame.includes('"type":"offer"'));
        await room.receive(welcome({}));
        await el.join();
        await room.receive(JSON.stringify({ type: 'joined', peers: [BOB] }));
        await until(() => offers().length === 1, 'our first offer to Bob');
        const offer = (JSON.parse(offers()[0]!) as { data: { description: RTCSessionDescriptionInit } }).data.description;
        const bob = new RTCPeerConnection();
        try {
          await bob.setRemoteDescription(offer);
          await bob.setLocalDescription();
          await room.receive(JSON.stringify({ type: 'signal', from: BOB.id, data: { kind: 'description', description: { type: 'answer', sdp: bob.localDescription!.sdp } } }));
          // One candidate of Bob's that never answers (TEST-NET-1): ICE checks on, as over a poor path.
          const candidate = { candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null };
          await room.receive(JSON.stringify({ type: 'signal', from: BOB.id, data: { kind: 'candidates', candidates: [candidate] } }));
          await until(() => connections[0]!.connectionState === 'connecting', 'ICE checking');
          const before = ufrag(connections[0]!.localDescription!.sdp);
          await room.receive(JSON.stringify({ type: 'peer-updated', peer: BOB }));
          await sleep(300);
          expect([offers().length, ufrag(connections[0]!.localDescription!.sdp), causes]).to.deep.equal([1, before, []]);
        } finally {
          bob.close();
        }
      },
    );
  });

  it('hung up with the room socket down, then moved to another room (mode="room"): no socket opens there; the one kept for the hang-up tells the old room once it holds us again, and closes', async () => {
    await scripted({ room: 'resumeroom13', skipLobby: true }, async (el, room) => {
      const token = `${SELF}.1.${'a'.repeat(22)}`;
      const opened: string[] = [];
      const factory = el.createSocket!;
      el.createSocket = (address) => {
        opened.push(address.room);
        return factory(address);
      };
      await room.receive(welcome({ session: token }));
      await el.join();
      await room.receive(JSON.stringify({ type: 'joined', peers: [BOB] }));
      await room.drop();
      el.hangup();
      await el.updateComplete;
      expect(el.state).to.equal('ended');
      el.room = 'elsewhere01';
      await el.updateComplete;
      expect(opened, 'no socket in the new room').to.deep.equal([]);
      const before = room.sent.length;
      await room.receive(welcome({ resumed: true, session: token }));
      expect(room.sent.slice(before).map((frame) => (JSON.parse(frame) as { type: string }).type)).to.deep.equal(['leave']);
      expect(opened).to.deep.equal([]);
      expect(el.state).to.equal('ended');
    });
  });

  it('a peer the resumed welcome leaves out left while we were away: we are told, call-peer-left fires and its link closes at once', async () => {
    const { said, left, connections, state } = await resume({ peers: [] });
    expect(said.some((text) => text.includes(format(en.peerLeft, { name: 'Bob' }))), said.join(' | ')).to.equal(true);
    expect(left).to.deep.equal(['Bob']);
    expect(connections).to.deep.equal(['closed']);
    expect(state).to.equal('waiting');
  });
});

describe('<call-widget> moved to another room while the old one has not heard its hang-up', () => {
  const BOB = { id: PEERS[0]!, name: 'Bob', inCall: true };
  const TOKEN = `${SELF}.1.${'a'.repeat(22)}`;
  const frame = (message: object) => new MessageEvent('message', { data: JSON.stringify(message) });
  const welcome = (extra: Record<string, unknown>) => frame({ type: 'welcome', version: PROTOCOL_VERSION, id: SELF, capacity: 2, peers: [BOB], iceServers: [], locked: false, session: TOKEN, ...extra });
  const types = (socket: ScriptedSocket) => socket.sent.map((sent) => (JSON.parse(sent) as { type: string }).type);

  /** A widget in a call in `oldroom0001` whose socket dropped, hung up, then moved to `newroom0001`; the sockets it opened, by room. */
  async function hungUpAndMoved(mode: 'room' | 'call', whileWaiting?: (el: CallWidget) => Promise<void>) {
    const sockets: [string, ScriptedSocket][] = [];
    const el = document.createElement('call-widget');
    Object.assign(el, { name: 'Ann', host: 'fuzz.invalid', room: 'oldroom0001', mode, skipLobby: true });
    el.createSocket = (address) => {
      const socket = new ScriptedSocket();
      sockets.push([address.room, socket]);
      return socket;
    };
    el.getUserMedia = canvasGetUserMedia({ width: 64, height: 48 });
    document.body.append(el);
    await el.updateComplete;
    const old = sockets[0]![1];
    old.emit(new Event('open'));
    old.emit(welcome({}));
    await el.join();
    old.emit(frame({ type: 'joined', peers: [BOB] }));
    if (mode === 'call') old.emit(frame({ type: 'call', state: 'accepted', peer: BOB }));
    await el.updateComplete;
    old.emit(new CloseEvent('close', { code: 1006 }));
    await el.updateComplete;
    el.hangup();
    await el.updateComplete;
    el.room = 'newroom0001';
    await el.updateComplete;
    await whileWaiting?.(el);
    const opened = sockets.map(([room]) => room);
    // The old room is back and holds us: it hears the hang-up, and then the new room's socket opens.
    old.emit(new Event('open'));
    old.emit(welcome({ resumed: true }));
    await el.updateComplete;
    return { el, old, opened, sockets };
  }

  for (const mode of ['call', 'room'] as const) {
    it(`mode="${mode}"${mode === 'room' ? ', joining there meanwhile' : ' (listening for rings)'}: the old room hears the hang-up first, then the new room's socket opens${mode === 'room' ? ' and joins' : ''}`, async () => {
      const { el, old, opened, sockets } = await hungUpAndMoved(mode, mode === 'room' ? (widget) => widget.join() : undefined);
      try {
        expect(opened, 'nothing opened in the new room while the hang-up waited').to.deep.equal(['oldroom0001']);
        expect(types(old).at(-1)).to.equal('leave');
        expect(old.closed).to.equal(true);
        expect(sockets.map(([room]) => room)).to.deep.equal(['oldroom0001', 'newroom0001']);
        const fresh = sockets[1]![1];
        fresh.emit(new Event('open'));
        fresh.emit(welcome({ id: 'selfTTTTTTTTTTTT', peers: [], session: undefined }));
        await el.updateComplete;
        await sleep(50);
        expect(types(fresh)).to.deep.equal([mode === 'room' ? 'join' : 'ping']);
      } finally {
        el.remove();
      }
    });
  }
});
