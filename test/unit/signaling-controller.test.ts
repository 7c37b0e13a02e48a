/**
 * The widget's signaling controller, fed server frames by hand: which peers it
 * hands on as arrivals and which as known ones returning (a room-server
 * restart forgets everyone; they come back one by one), and which as gone
 * while we were away.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, mock, test } from 'node:test';
import { PACE, SignalingController, UNSAID_LEAVE_MS, type RoomAddress, type SignalingSocket } from '../../src/controllers/signaling-controller.ts';
import { CloseCode, PROTOCOL_VERSION, RATE_LIMIT, RESUME_GRACE_MS, RETRY_CLOSE_CODE, VERSION_PARAM, type PeerInfo, type ServerMessage } from '../../src/protocol.ts';
import { PEER_IDS } from './fake-socket.ts';

const [SELF, ANN, BEN, OTHER_SELF, CAL] = PEER_IDS;

/** A socket the test speaks for the server through. */
class ScriptedSocket implements SignalingSocket {
  readonly #listeners = new Map<string, Set<(event: Event) => void>>();
  /** What the client sent, with the (mocked) time it left, ms. */
  readonly sent: { at: number; frame: string }[] = [];
  send(frame: string): void {
    this.sent.push({ at: Date.now(), frame });
  }
  /** The client closed it. */
  closed = false;
  close(): void {
    this.closed = true;
  }
  addEventListener(type: string, listener: (event: Event) => void): void {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type)!.add(listener);
  }
  removeEventListener(type: string, listener: (event: Event) => void): void {
    this.#listeners.get(type)?.delete(listener);
  }
  deliver(message: object): void {
    const event = new MessageEvent('message', { data: JSON.stringify(message) });
    for (const listener of this.#listeners.get('message') ?? []) listener(event);
  }
  /** The server closes the socket with `code`. */
  closeWith(code: number, reason = ''): void {
    const event = Object.assign(new Event('close'), { code, reason });
    // Those listening now: a connection opened by a listener is another one.
    for (const listener of [...(this.#listeners.get('close') ?? [])]) listener(event);
  }
}

const controllers: SignalingController[] = [];
afterEach(() => {
  for (const controller of controllers.splice(0)) controller.disconnect(false);
});

/** A controller on a scripted socket, and what it handed on: each peer-joined's id and whether it came as known. */
function connect(onLeft?: (controller: SignalingController) => void) {
  const socket = new ScriptedSocket();
  const joined: ([string, boolean] | [string, boolean, true])[] = [];
  /** Each peer-updated: its id, and its entry before and after (`name`, in the call or not). */
  const updated: [string, string, string][] = [];
  /** Every message handed on, by type (peer-left with its id and what the roster still said of it). */
  const log: string[] = [];
  /** The roster's ids as each peer-left was handed on. */
  const rosters: string[][] = [];
  const host = { addController() {}, removeController() {}, requestUpdate() {}, updateComplete: Promise.resolve(true) };
  const addresses: RoomAddress[] = [];
  const controller = new SignalingController(host, {
    createSocket: () => (address) => {
      addresses.push(address);
      return socket;
    },
    onMessage: (message: ServerMessage, previous?: PeerInfo) => {
      const entry = (p?: PeerInfo) => (p ? `${p.name} ${p.inCall ? 'in' : 'out'}` : '?');
      if (message.type === 'peer-updated') updated.push([message.peer.id, entry(previous), entry(message.peer)]);
      if (message.type === 'peer-joined') joined.push(message.peer.inCall ? [message.peer.id, previous !== undefined, true] : [message.peer.id, previous !== undefined]);
      const who = previous?.name ?? controller.roster.get(message.type === 'peer-left' ? message.id : '')?.name;
      log.push(message.type === 'peer-left' ? `peer-left ${message.id} ${who} ${message.reason}` : message.type);
      if (message.type === 'peer-left') rosters.push([...controller.roster.keys()]);
      if (message.type === 'peer-left') onLeft?.(controller);
    },
  });
  controllers.push(controller);
  controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
  const welcome = (id: string, peers: string[], resumed?: true, hungUp?: string[], version = PROTOCOL_VERSION, replaces?: string) =>
    socket.deliver({
      type: 'welcome',
      version,
      id,
      capacity: 6,
      peers: peers.map((peer) => ({ id: peer, name: `name of ${peer}`, inCall: false })),
      iceServers: [],
      locked: false,
      resumed,
      hungUp,
      replaces,
    });
  const peerJoined = (id: string) => socket.deliver({ type: 'peer-joined', peer: { id, name: '', inCall: false } });
  /** The query the socket presents on its next (re)connection. */
  const params = () => addresses.at(-1)?.params?.() ?? {};
  return { socket, joined, updated, log, rosters, controller, welcome, peerJoined, params, addresses };
}

describe('SignalingController: close codes', () => {
  test('the room server\'s closes: every CloseCode is final, RETRY_CLOSE_CODE (replaced, silent, lobby-full) and the runtime\'s are not', () => {
    for (const code of Object.values(CloseCode)) {
      const { socket, controller, welcome } = connect();
      welcome(SELF, []);
      socket.closeWith(code);
      assert.deepEqual([controller.status, controller.closeCode], ['closed', code], `close code ${code}`);
    }
    for (const code of [RETRY_CLOSE_CODE, 1006, 1011]) {
      const { socket, controller, welcome } = connect();
      welcome(SELF, []);
      socket.closeWith(code, 'lobby-full');
      assert.deepEqual([controller.status, controller.closeCode], ['reconnecting', null], `close code ${code}`);
    }
  });
});

describe('SignalingController: the protocol version', () => {
  test('the socket opens with ours as `v`; a welcome of another version closes it for good with protocolMismatch, unread and unanswered', () => {
    const socket = new ScriptedSocket();
    const params: Record<string, string>[] = [];
    const closes: number[] = [];
    const host = { addController() {}, removeController() {}, requestUpdate() {}, updateComplete: Promise.resolve(true) };
    const controller = new SignalingController(host, {
      createSocket: () => (options) => {
        params.push(options.params?.() ?? {});
        return socket;
      },
      onMessage: () => assert.fail('nothing is handed on'),
      onTerminalClose: (code) => closes.push(code),
    });
    controllers.push(controller);
    controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    assert.deepEqual(params, [{ [VERSION_PARAM]: String(PROTOCOL_VERSION) }]);
    controller.join('Ann');
    // A server that predates the check: an older welcome, of whatever shape.
    socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION - 1, id: SELF, peers: 'not read' });
    assert.deepEqual([controller.status, controller.closeCode, controller.selfId], ['closed', CloseCode.protocolMismatch, null]);
    assert.deepEqual(closes, [CloseCode.protocolMismatch]);
    assert.deepEqual(socket.sent, [], 'no join, no ping, no bye');
  });
});

test('a welcome of another version met knocking in a lobby, or on a reopened socket, is not answered either (no bye)', () => {
  for (const before of ['knocking', 'open'] as const) {
    const { socket, controller, welcome } = connect();
    if (before === 'knocking') socket.deliver({ type: 'lobby' });
    else welcome(SELF, []);
    controller.join('Ann');
    const sent = socket.sent.length;
    assert.equal(controller.status, before);
    welcome(SELF, [], undefined, undefined, PROTOCOL_VERSION + 1);
    assert.deepEqual([controller.status, controller.closeCode], ['closed', CloseCode.protocolMismatch], before);
    assert.deepEqual(socket.sent.slice(sent), [], before);
  }
});

describe('SignalingController: arrivals and returns', () => {
  test('after a room-server restart, peers we knew come back as known, whether we met them on arrival or later', () => {
    const { joined, welcome, peerJoined } = connect();
    welcome(SELF, [ANN]); // Ann was there when we arrived
    peerJoined(BEN); // Ben came after us
    welcome(SELF, []); // the room restarted and welcomed us back first, under our id
    peerJoined(ANN);
    peerJoined(BEN);
    assert.deepEqual(joined, [
      [BEN, false],
      [ANN, true],
      [BEN, true],
    ]);
  });

  test('a peer that left, or any peer under a new identity of ours, arrives anew', () => {
    const { socket, joined, welcome, peerJoined } = connect();
    welcome(SELF, [ANN, BEN]);
    socket.deliver({ type: 'peer-left', id: BEN, reason: 'left' });
    peerJoined(BEN);
    welcome(OTHER_SELF, []); // the room did not know us any more: a new identity
    peerJoined(ANN);
    assert.deepEqual(joined, [
      [BEN, false],
      [ANN, false],
    ]);
  });
});

describe('SignalingController: roles in perfect negotiation', () => {
  test('polite toward the peers a first welcome lists, impolite toward later arrivals; a held resume keeps the roles it had, and is impolite toward those new to it', () => {
    const { socket, controller, welcome, peerJoined } = connect();
    welcome(SELF, [ANN]); // the room says nothing of roles (no `polite`)
    assert.equal(controller.status, 'open', 'the welcome is read');
    peerJoined(BEN);
    assert.deepEqual([controller.isPolite(ANN), controller.isPolite(BEN)], [true, false]);
    socket.closeWith(1006);
    welcome(SELF, [ANN, BEN, OTHER_SELF], true);
    assert.deepEqual([controller.isPolite(ANN), controller.isPolite(BEN), controller.isPolite(OTHER_SELF)], [true, false, false]);
  });
});

describe('SignalingController: session tokens', () => {
  test('the latest token the room gave, in welcome or in a session frame (tokens expire), is the one presented on reconnect', () => {
    const { socket, welcome, params } = connect();
    const token = (n: number) => `${SELF}.${n.toString(36)}.${'m'.repeat(43)}`;
    socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION, id: SELF, capacity: 2, peers: [], iceServers: [], locked: false, session: token(1) });
    assert.equal(params().session, token(1));
    socket.deliver({ type: 'session', session: token(2) });
    assert.equal(params().session, token(2), 'the fresh one');
    socket.closeWith(1006);
    assert.equal(params().session, token(2), 'presented on the way back');
    welcome(SELF, [], true); // a welcome without a token: none to present
    assert.equal(params().session, undefined);
  });
});

describe('SignalingController: departures while we were away', () => {
  test('a held resume that leaves out a peer we knew: it left meanwhile, handed on as peer-left (with who it was) after the welcome', () => {
    const { log, rosters, welcome, peerJoined } = connect();
    welcome(SELF, [ANN]);
    peerJoined(BEN);
    log.length = 0;
    welcome(SELF, [BEN], true);
    assert.deepEqual(log, ['welcome', `peer-left ${ANN} name of ${ANN} left`]);
    assert.deepEqual(rosters, [[BEN]], 'the roster says who is still here');
  });

  test('one the resumed welcome names in hungUp hung up: peer-left with reason hangup', () => {
    const { log, welcome } = connect();
    welcome(SELF, [ANN, BEN]);
    log.length = 0;
    welcome(SELF, [], true, [BEN, OTHER_SELF]);
    assert.deepEqual(log, ['welcome', `peer-left ${ANN} name of ${ANN} left`, `peer-left ${BEN} name of ${BEN} hangup`]);
  });

  test('a welcome under our id that is not a held resume (a room server restarted without its storage) hands on no departure: the others may still come back', () => {
    const { log, welcome } = connect();
    welcome(SELF, [ANN, BEN]);
    welcome(SELF, []);
    assert.deepEqual(log, ['welcome', 'welcome']);
  });

  test('back under a new id (away past the grace): a peer we knew that the welcome leaves out left meanwhile, hanging up if hungUp says so', () => {
    const { log, rosters, welcome } = connect();
    welcome(SELF, [ANN, BEN, CAL]);
    log.length = 0;
    welcome(OTHER_SELF, [CAL], undefined, [BEN, 'gone-0123456789abcdefg'], PROTOCOL_VERSION, SELF);
    assert.deepEqual(log, ['welcome', `peer-left ${ANN} name of ${ANN} left`, `peer-left ${BEN} name of ${BEN} hangup`]);
    assert.deepEqual(rosters, [[CAL], [CAL]], 'the roster says who is here now');
  });

  test('a new id that replaces none of ours (the room could not read our token: it expired, or the server restarted under a new secret) is no return: the others may be coming back too, and none is handed on as gone', () => {
    const { log, welcome } = connect();
    welcome(SELF, [ANN, BEN]);
    log.length = 0;
    welcome(OTHER_SELF, [], undefined, [BEN]);
    assert.deepEqual(log, ['welcome']);
  });
});

describe('SignalingController: arrivals while we were away', () => {
  /** A welcome whose `peers` are in the call. */
  const inCall = (socket: ScriptedSocket, id: string, peers: string[], extra: object) =>
    socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION, id, capacity: 6, peers: peers.map((p) => ({ id: p, name: `name of ${p}`, inCall: true })), iceServers: [], locked: false, ...extra });

  test('a peer a held resume lists that we did not know arrived meanwhile: a peer-joined after the welcome and its departures, in the call if it joined it', () => {
    const { log, joined, socket, welcome } = connect();
    welcome(SELF, [ANN]);
    log.length = 0;
    inCall(socket, SELF, [BEN], { resumed: true });
    assert.deepEqual(log, ['welcome', `peer-left ${ANN} name of ${ANN} left`, 'peer-joined']);
    assert.deepEqual(joined, [[BEN, false, true]], 'new to us (not returning), and in the call');
  });

  test('back under a new id: those new to us arrived; those we knew are no arrival', () => {
    const { log, joined, socket, welcome } = connect();
    welcome(SELF, [ANN]);
    log.length = 0;
    inCall(socket, OTHER_SELF, [ANN, CAL], { replaces: SELF });
    assert.deepEqual(log, ['welcome', 'peer-updated', 'peer-joined'], 'Ann joined the call meanwhile');
    assert.deepEqual(joined, [[CAL, false, true]]);
  });

  test('a first welcome, or one after a restart that forgot us (our id not held, or a new id replacing none), hands on no arrival', () => {
    const { log, socket } = connect();
    inCall(socket, SELF, [ANN], {});
    inCall(socket, SELF, [ANN, BEN], {});
    inCall(socket, OTHER_SELF, [ANN, BEN, CAL], {});
    assert.deepEqual(log, ['welcome', 'welcome', 'welcome']);
  });

  test('one we knew but the roster lost (a room-server restart that forgot it: its link is kept for it) is no arrival when a held resume lists it', () => {
    const { joined, welcome } = connect();
    welcome(SELF, [ANN]);
    welcome(SELF, []);
    welcome(SELF, [ANN], true);
    assert.deepEqual(joined, []);
  });

  test('a peer we knew that joined the call meanwhile: a peer-updated with its old entry, after the departures, in the welcome\'s order; one still out of the call is no news', () => {
    const { log, joined, updated, socket, welcome } = connect();
    welcome(SELF, [ANN, BEN, CAL]);
    log.length = 0;
    const sameAgain = {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      id: SELF,
      capacity: 6,
      peers: [
        { id: CAL, name: `name of ${CAL}`, inCall: false },
        { id: OTHER_SELF, name: 'Dee', inCall: true },
        { id: BEN, name: `name of ${BEN}`, inCall: true },
      ],
      iceServers: [],
      locked: false,
      resumed: true,
    };
    socket.deliver(sameAgain);
    assert.deepEqual(log, ['welcome', `peer-left ${ANN} name of ${ANN} left`, 'peer-joined', 'peer-updated']);
    assert.deepEqual(joined, [[OTHER_SELF, false, true]]);
    assert.deepEqual(updated, [[BEN, `name of ${BEN} out`, `name of ${BEN} in`]]);
    log.length = 0;
    socket.deliver(sameAgain);
    assert.deepEqual(log, ['welcome'], 'the same entries again: no news');
  });

  test('a page that hangs up on a departure hears of no arrival', () => {
    const { log, socket, welcome } = connect((c) => c.disconnect());
    welcome(SELF, [ANN]);
    log.length = 0;
    inCall(socket, SELF, [BEN], { resumed: true });
    assert.deepEqual(log, ['welcome', `peer-left ${ANN} name of ${ANN} left`]);
  });
});

test('a page that hangs up on such a departure hears of no more: the controller stays closed', () => {
  const { log, controller, welcome } = connect((c) => c.disconnect());
  welcome(SELF, [ANN, BEN]);
  log.length = 0;
  welcome(SELF, [], true);
  assert.deepEqual(log, ['welcome', `peer-left ${ANN} name of ${ANN} left`], 'no more departures');
  assert.deepEqual([controller.status, controller.selfId], ['idle', null]);
});

describe('SignalingController: pacing to the room\'s rate limit', () => {
  afterEach(() => mock.timers.reset());

  /** The room's token bucket (party/room.ts) over frames arriving at `times` (ms): how many it refuses. */
  function refusedBy(times: number[]): number {
    const arrivals = times.toSorted((a, b) => a - b);
    let tokens: number = RATE_LIMIT.burst;
    let at = arrivals[0] ?? 0;
    let refused = 0;
    for (const t of arrivals) {
      tokens = Math.min(RATE_LIMIT.burst, tokens + ((t - at) / 1000) * RATE_LIMIT.perSecond);
      at = t;
      if (tokens >= 1) tokens--;
      else refused++;
    }
    return refused;
  }

  test('a burst of 130 signals (a six-way mesh joiner, one candidate a frame) leaves in order, at the pace, none refused even when the first frames arrive 500 ms late', () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
    const { socket, controller, welcome } = connect();
    welcome(SELF, [ANN]); // answered with a ping at once: one frame of the burst
    const start = Date.now();
    for (let i = 0; i < 130; i++) {
      controller.signal(ANN, { kind: 'candidates', candidates: [{ candidate: `candidate:${i}`, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null }] });
    }
    assert.equal(socket.sent.length, PACE.burst, 'the burst goes at once');
    for (let t = 0; t < 10_000; t += 10) mock.timers.tick(10);
    const signals = socket.sent.filter(({ frame }) => frame.includes('"signal"'));
    assert.deepEqual(
      signals.map(({ frame }) => (JSON.parse(frame) as { data: { candidates: { candidate: string }[] } }).data.candidates[0]!.candidate),
      Array.from({ length: 130 }, (_, i) => `candidate:${i}`),
      'all of them, in order',
    );
    const lastAt = signals.at(-1)!.at - start;
    const expected = ((130 - PACE.burst) / PACE.perSecond) * 1000;
    assert.ok(lastAt >= expected - 100 && lastAt <= expected + 600, `the last left after ${lastAt} ms (${expected} ms at the pace)`);
    const times = socket.sent.map(({ at }) => at);
    assert.equal(refusedBy(times), 0, 'the room refuses none');
    // The network holds back what was sent in the first 500 ms, and delivers it all at once.
    assert.equal(refusedBy(times.map((t) => Math.max(t, start + 500))), 0, 'none when bunched by the network');
    // Sent as they came, the room would have refused most.
    assert.ok(refusedBy(times.map(() => start)) >= 70);
  });

  test('frames waiting when the socket drops are dropped with it (the links step again on resume); a held resume paces from a bucket empty at the drop, a new member from a full one', () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
    const { socket, controller, welcome } = connect();
    welcome(SELF, [ANN]);
    for (let i = 0; i < 100; i++) controller.signal(ANN, { kind: 'description', description: { type: 'offer', sdp: `v=${i}` } });
    socket.closeWith(1006);
    socket.sent.length = 0;
    for (let t = 0; t < 5000; t += 10) mock.timers.tick(10);
    assert.ok(socket.sent.length === 0, 'nothing after the drop');
    // A held resume 5 s after the drop: the room's bucket is as it was (spent
    // here), refilled at the pace for those 5 s, up to the burst.
    welcome(SELF, [ANN], true);
    for (let i = 0; i < 100; i++) controller.signal(ANN, { kind: 'description', description: { type: 'offer', sdp: `v=${i}` } });
    assert.equal(socket.sent.length, PACE.burst, 'its ping, then the signals: what 5 s refilled');
    assert.equal(JSON.parse(socket.sent[0]!.frame).type, 'ping');
    socket.closeWith(1006);
    socket.sent.length = 0;
    mock.timers.tick(500);
    welcome(SELF, [ANN], true); // back after 500 ms
    for (let i = 0; i < 100; i++) controller.signal(ANN, { kind: 'description', description: { type: 'offer', sdp: `v=${i}` } });
    assert.equal(socket.sent.length, (PACE.perSecond * 500) / 1000, 'what 500 ms refilled');
    // A new identity (the room did not hold us): a new member, a full bucket.
    socket.closeWith(1006);
    socket.sent.length = 0;
    welcome(OTHER_SELF, [ANN]);
    for (let i = 0; i < 100; i++) controller.signal(ANN, { kind: 'description', description: { type: 'offer', sdp: `v=${i}` } });
    assert.equal(socket.sent.length, PACE.burst);
  });
});

test('leave() goes at once, ahead of frames waiting for their turn (queued, it went with the queue and the room took a hang-up for a drop)', () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  try {
    const { socket, controller, welcome } = connect();
    welcome(SELF, [ANN]);
    controller.join('Me');
    for (let i = 0; i < 100; i++) controller.signal(ANN, { kind: 'description', description: { type: 'offer', sdp: `v=${i}` } });
    controller.leave();
    assert.equal(JSON.parse(socket.sent.at(-1)!.frame).type, 'leave');
  } finally {
    mock.timers.reset();
  }
});

describe('SignalingController: what the room did not hear from us', () => {
  afterEach(() => mock.timers.reset());
  /** The socket drops; 5 s later (a held resume paces from the drop), it is back. */
  const dropFor5s = (socket: ScriptedSocket) => {
    socket.closeWith(1006);
    socket.sent.length = 0;
    mock.timers.tick(5000);
  };
  test('depart(): a peer that said itself it hangs up is a peer-left (hangup) at once; the room\'s own later is no news', () => {
    const { log, rosters, controller, welcome, socket } = connect();
    welcome(SELF, [ANN, BEN]);
    log.length = 0;
    controller.depart(ANN);
    assert.deepEqual(log, [`peer-left ${ANN} name of ${ANN} hangup`]);
    assert.deepEqual(rosters, [[ANN, BEN]], 'who it was, while the handler reads it');
    assert.deepEqual([...controller.roster.keys()], [BEN]);
    socket.deliver({ type: 'peer-left', id: ANN, reason: 'left' });
    controller.depart(ANN);
    controller.depart(OTHER_SELF); // never here
    assert.deepEqual(log, [`peer-left ${ANN} name of ${ANN} hangup`], 'nothing more');
    socket.deliver({ type: 'peer-left', id: BEN, reason: 'hangup' });
    assert.equal(log.at(-1), `peer-left ${BEN} name of ${BEN} hangup`, 'the room\'s word on the others still counts');
  });

  const ring = (socket: ScriptedSocket, state: string, id: string) => socket.deliver({ type: 'call', state, peer: { id, name: 'Ann', inCall: true } });
  /** Ann rings us; our socket drops; we decline meanwhile. `sent()`: the types of what left since the drop. */
  const declinedWhileDown = () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
    const connection = connect();
    const { controller, welcome, socket } = connection;
    welcome(SELF, [ANN]);
    ring(socket, 'incoming', ANN);
    dropFor5s(socket);
    controller.decline();
    return { ...connection, sent: () => socket.sent.map(({ frame }) => (JSON.parse(frame) as { type: string }).type) };
  };

  test('a decline while the socket is down is sent again when the room rings us again from that caller, which is not handed on; its end is', () => {
    const { log, welcome, socket, sent } = declinedWhileDown();
    assert.deepEqual(sent(), [], 'nothing goes while the socket is down');
    log.length = 0;
    welcome(SELF, [ANN], true);
    // The room rings us again on resuming: we decline it again.
    ring(socket, 'incoming', ANN);
    assert.deepEqual(sent(), ['ping', 'decline']);
    ring(socket, 'declined', ANN);
    assert.deepEqual(log, ['welcome', 'call']);
    // Over: the next ring is heard, and declines nothing.
    ring(socket, 'incoming', ANN);
    assert.deepEqual(log, ['welcome', 'call', 'call']);
    assert.deepEqual(sent(), ['ping', 'decline']);
  });

  test('a decline waiting for its caller does not decline another caller\'s ring (the caller hung up and rang again under a new id)', () => {
    const { log, welcome, socket, sent } = declinedWhileDown();
    log.length = 0;
    welcome(SELF, [BEN], true);
    ring(socket, 'incoming', BEN);
    assert.deepEqual(sent(), ['ping'], 'no decline');
    assert.deepEqual(log.filter((type) => type === 'call'), ['call'], 'the new ring is heard');
    // And the old caller's id, should it ring again, is no longer declined.
    ring(socket, 'missed', BEN);
    ring(socket, 'incoming', ANN);
    assert.deepEqual(sent(), ['ping']);
  });

  test('a ring that names no caller is heard, and declines nothing, when no decline waits', () => {
    const { log, welcome, socket } = connect();
    welcome(SELF, [ANN]);
    log.length = 0;
    socket.sent.length = 0;
    socket.deliver({ type: 'call', state: 'incoming' });
    assert.deepEqual(log, ['call']);
    assert.deepEqual(socket.sent, []);
  });

  test('a decline the room had no ring for (it ended meanwhile) is not sent again, and the next ring is heard', () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
    const { log, controller, welcome, socket } = connect();
    const sent = () => socket.sent.map(({ frame }) => (JSON.parse(frame) as { type: string }).type);
    welcome(SELF, [ANN]);
    ring(socket, 'incoming', ANN);
    controller.decline();
    socket.deliver({ type: 'error', code: 'no-call', message: 'no call is ringing for you' });
    log.length = 0;
    socket.sent.length = 0;
    ring(socket, 'incoming', ANN);
    assert.deepEqual(log, ['call']);
    assert.deepEqual(sent(), []);
  });

  test('a peer that said bye and is still held by the room (our socket resumed meanwhile) is not listed again, its signals go nowhere, and the room\'s peer-left for it is no news', () => {
    const { log, controller, welcome, socket } = connect();
    welcome(SELF, [ANN, BEN]);
    controller.join('Me');
    socket.deliver({ type: 'joined', peers: [] });
    controller.depart(ANN);
    log.length = 0;
    welcome(SELF, [ANN, BEN], true);
    socket.deliver({ type: 'joined', peers: [{ id: ANN, name: 'Ann', inCall: true }, { id: BEN, name: 'Ben', inCall: true }] });
    socket.deliver({ type: 'signal', from: ANN, data: { kind: 'description', description: { type: 'offer', sdp: 'v=0' } } });
    socket.deliver({ type: 'peer-updated', peer: { id: ANN, name: 'Ann', inCall: true } });
    assert.deepEqual([...controller.roster.keys()], [BEN]);
    socket.deliver({ type: 'peer-left', id: ANN, reason: 'left' });
    assert.deepEqual(log, ['welcome', 'joined'], 'nothing of Ann');
    // Once the room has said so too, Ann is forgotten: a later peer of that id (it cannot be) would be news again.
    socket.deliver({ type: 'peer-joined', peer: { id: ANN, name: 'Ann', inCall: false } });
    assert.deepEqual(log.at(-1), 'peer-joined');
  });

  test('depart() in the window after a room-server restart (the roster not back yet, the link kept): still a peer-left', () => {
    const { log, controller, welcome } = connect();
    welcome(SELF, [ANN]);
    welcome(SELF, []); // restarted without its storage: Ann not back yet
    log.length = 0;
    controller.depart(ANN);
    assert.deepEqual(log, [`peer-left ${ANN}  hangup`], "its name unknown by now");
  });
});

describe('SignalingController: a hang-up with the socket down', () => {
  afterEach(() => mock.timers.reset());
  const token = (id: string) => `${id}.${'1'.repeat(6)}.${'m'.repeat(43)}`;
  /** In the call with Ann under SELF (token in hand); the socket drops, and we hang up. */
  const hangUpWhileDown = () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_800_000_000_000 });
    const c = connect();
    c.socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION, id: SELF, capacity: 2, peers: [{ id: ANN, name: 'Ann', inCall: true }], iceServers: [], locked: false, session: token(SELF) });
    c.controller.join('Me');
    c.socket.deliver({ type: 'joined', peers: [{ id: ANN, name: 'Ann', inCall: true }] });
    c.socket.closeWith(1006);
    c.socket.sent.length = 0;
    c.log.length = 0;
    c.controller.leave();
    return c;
  };
  const sentTypes = (socket: ScriptedSocket) => socket.sent.map(({ frame }) => JSON.parse(frame).type as string);
  const resumed = (socket: ScriptedSocket, id = SELF) =>
    socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION, id, capacity: 2, peers: [{ id: ANN, name: 'Ann', inCall: true }], iceServers: [], locked: false, resumed: true, session: token(id) });

  test('the socket stays, presenting our token, and nothing of the room is ours any more; once the room holds us again, it hears the hang-up, and the socket closes', () => {
    const { socket, controller, log, params } = hangUpWhileDown();
    assert.equal(socket.closed, false, 'kept to say it');
    assert.equal(params().session, token(SELF), 'the held id is ours to resume');
    assert.equal(controller.selfId, null);
    assert.equal(controller.inCall, false);
    assert.equal(controller.roster.size, 0);
    resumed(socket);
    assert.deepEqual(sentTypes(socket), ['leave'], 'only the hang-up (no join sent again, no ping)');
    assert.equal(socket.closed, true);
    assert.equal(controller.status, 'idle');
    assert.deepEqual(log, [], 'the welcome is not handed on');
  });

  test('wanted in another room meanwhile (connect() to it): that socket opens once the old room has heard the hang-up, or once its grace is over, or at once on a final close of the old socket; wanted back in the old room, none opens', () => {
    const elsewhere = { host: 'rooms.invalid', party: 'main', room: 'room-elsewhere01' };
    const rooms = (addresses: RoomAddress[]) => addresses.map((a) => a.room);
    // The old room never comes back: the grace ends it.
    const quiet = hangUpWhileDown();
    quiet.controller.connect(elsewhere);
    assert.deepEqual([rooms(quiet.addresses), quiet.socket.closed, quiet.controller.leaving], [['room-0123456789'], false, false]);
    mock.timers.tick(UNSAID_LEAVE_MS);
    assert.deepEqual(rooms(quiet.addresses), ['room-0123456789', 'room-elsewhere01']);
    assert.equal(quiet.controller.status, 'connecting');
    mock.timers.reset();
    // A final close of the old socket: no news (the call is over), and the other room's socket opens.
    const refused = hangUpWhileDown();
    refused.controller.connect(elsewhere);
    refused.socket.closeWith(CloseCode.roomUnavailable);
    assert.deepEqual(rooms(refused.addresses), ['room-0123456789', 'room-elsewhere01']);
    assert.equal(refused.controller.closeCode, null);
    mock.timers.reset();
    // Back to the old room before it heard: it stays there, and hears the hang-up.
    const back = hangUpWhileDown();
    back.controller.connect(elsewhere);
    back.controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    resumed(back.socket);
    assert.deepEqual(sentTypes(back.socket), ['leave']);
    assert.deepEqual(rooms(back.addresses), ['room-0123456789']);
  });

  test('listening after it (mode="call"), moved to another room and back before the old room heard: wanted in the old room again, listening there once it has, and nothing opens elsewhere', () => {
    const old = { host: 'rooms.invalid', party: 'main', room: 'room-0123456789' };
    const elsewhere = { host: 'rooms.invalid', party: 'main', room: 'room-elsewhere01' };
    const { socket, controller, addresses } = hangUpWhileDown();
    controller.connect(old);
    controller.connect(elsewhere);
    assert.deepEqual([controller.isAt(old), controller.isAt(elsewhere), controller.moving], [false, true, true], 'wanted elsewhere next');
    controller.connect(old);
    assert.deepEqual([controller.isAt(old), controller.isAt(elsewhere), controller.moving], [true, false, false]);
    resumed(socket);
    assert.deepEqual(sentTypes(socket), ['leave']);
    assert.equal(socket.closed, false, 'kept: listening here');
    assert.deepEqual(addresses.map((a) => a.room), ['room-0123456789']);
  });

  test('listening after it (connect() again: mode="call"): the hang-up goes, what the room still says to that id is not ours, and the socket reopened after its close is a new identity\'s', () => {
    const { socket, controller, log, params } = hangUpWhileDown();
    controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    resumed(socket);
    assert.deepEqual(sentTypes(socket), ['leave']);
    assert.equal(socket.closed, false);
    socket.deliver({ type: 'peer-left', id: ANN, reason: 'hangup' });
    socket.deliver({ type: 'peer-joined', peer: { id: BEN, name: 'Ben', inCall: false } });
    assert.deepEqual(log, [], 'nothing handed on until the room closes that socket');
    socket.closeWith(1000, 'left');
    assert.equal(controller.status, 'reconnecting');
    assert.equal(params().session, undefined, 'no token: a new identity');
    socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION, id: OTHER_SELF, capacity: 2, peers: [{ id: ANN, name: 'Ann', inCall: false }], iceServers: [], locked: false, session: token(OTHER_SELF) });
    assert.deepEqual(log, ['welcome']);
    assert.equal(controller.selfId, OTHER_SELF);
    assert.equal(controller.status, 'open');
    assert.deepEqual(sentTypes(socket), ['leave', 'ping'], 'a listener answers its welcome with a ping');
  });

  test('listening after it, the socket drops before the room closed the id we left (the hang-up may be lost with it): the socket reopens with our token; held again, the room hears it again; under a new id replacing ours (it had heard), a listener carries on', () => {
    for (const heard of [false, true]) {
      const { socket, controller, log, params } = hangUpWhileDown();
      controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
      resumed(socket);
      socket.closeWith(1006);
      assert.equal(params().session, token(SELF), 'still ours: the room may hold our id yet');
      if (!heard) {
        resumed(socket);
        assert.deepEqual(sentTypes(socket), ['leave', 'leave'], 'said again');
        socket.closeWith(1000, 'left');
        assert.equal(params().session, undefined, 'heard: no token');
      }
      socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION, id: OTHER_SELF, capacity: 2, peers: [{ id: ANN, name: 'Ann', inCall: false }], iceServers: [], locked: false, session: token(OTHER_SELF), ...(heard ? { replaces: SELF, hungUp: [] } : {}) });
      assert.deepEqual(log, ['welcome'], 'no departure handed on: we left');
      assert.deepEqual([controller.selfId, controller.status, params().session], [OTHER_SELF, 'open', token(OTHER_SELF)]);
      assert.deepEqual(sentTypes(socket).slice(-1), ['ping'], 'a listener answers its welcome with a ping');
      mock.timers.reset();
    }
  });

  test('hung up again (or moved to another room) while the room closes the id we left: its close ends the socket (or opens the other room\'s); a drop first, the room hears the hang-up on our return, and the socket closes', () => {
    const elsewhere = { host: 'rooms.invalid', party: 'main', room: 'room-elsewhere01' };
    const again = hangUpWhileDown();
    again.controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    resumed(again.socket);
    again.controller.leave();
    again.socket.closeWith(1000, 'left');
    assert.deepEqual([again.socket.closed, again.controller.status], [true, 'idle']);
    mock.timers.reset();
    const moved = hangUpWhileDown();
    moved.controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    resumed(moved.socket);
    moved.controller.connect(elsewhere);
    moved.socket.closeWith(1000, 'left');
    assert.deepEqual(moved.addresses.map((a) => a.room), ['room-0123456789', 'room-elsewhere01']);
    assert.equal(moved.params().session, undefined, 'a new member there');
    mock.timers.reset();
    const dropped = hangUpWhileDown();
    dropped.controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    resumed(dropped.socket);
    dropped.controller.leave();
    dropped.socket.closeWith(1006);
    resumed(dropped.socket);
    assert.deepEqual(sentTypes(dropped.socket), ['leave', 'leave']);
    assert.equal(dropped.socket.closed, true);
  });

  test('listening after it, held again late in the grace, the socket drops before the room closed the id we left: the room holds that id for a grace counted from its held welcome, and so keeps the token; a close of partysocket\'s own is a drop too', () => {
    const late = hangUpWhileDown();
    late.controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    mock.timers.tick(15_000);
    resumed(late.socket); // the room holds SELF again: its grace restarts (party/room.ts, lastSeen)
    late.socket.closeWith(1006);
    mock.timers.tick(RESUME_GRACE_MS - 15_000);
    assert.equal(late.params().session, token(SELF), 'the room holds SELF for 15 s yet: without the token, a 1:1 room says room-full');
    mock.timers.tick(UNSAID_LEAVE_MS - RESUME_GRACE_MS + 15_000 - 1);
    assert.equal(late.params().session, token(SELF), 'until the room\'s tick after its grace');
    mock.timers.tick(1);
    assert.equal(late.params().session, undefined, 'its grace over: nothing to say');
    mock.timers.reset();
    const errored = hangUpWhileDown();
    errored.controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    resumed(errored.socket);
    errored.socket.closeWith(1000, 'unknown reason'); // partysocket's error close in Node
    assert.equal(errored.params().session, token(SELF));
  });

  test('a room that forgot us meanwhile (a new id: past its grace, or restarted) has no hang-up to hear: the new member says bye at once (else it would be held, a place taken), or a listener carries on under the new id', () => {
    const alone = hangUpWhileDown();
    alone.socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION, id: OTHER_SELF, capacity: 2, peers: [], iceServers: [], locked: false, replaces: SELF, hungUp: [] });
    assert.deepEqual(sentTypes(alone.socket), ['bye']);
    assert.equal(alone.socket.closed, true);
    assert.deepEqual(alone.log, []);
    mock.timers.reset();
    const listening = hangUpWhileDown();
    listening.controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    listening.socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION, id: OTHER_SELF, capacity: 2, peers: [{ id: ANN, name: 'Ann', inCall: false }], iceServers: [], locked: false, replaces: SELF, hungUp: [] });
    assert.deepEqual(sentTypes(listening.socket), ['ping']);
    assert.deepEqual(listening.log, ['welcome'], 'no departure handed on: we left');
    assert.equal(listening.controller.selfId, OTHER_SELF);
  });

  test('past the room\'s grace there is nothing to say: the socket closes, or a listener presents no token any more', () => {
    const alone = hangUpWhileDown();
    mock.timers.tick(UNSAID_LEAVE_MS);
    assert.equal(alone.socket.closed, true);
    assert.equal(alone.controller.status, 'idle');
    mock.timers.reset();
    const listening = hangUpWhileDown();
    listening.controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    mock.timers.tick(UNSAID_LEAVE_MS - 1);
    assert.equal(listening.params().session, token(SELF));
    mock.timers.tick(1);
    assert.equal(listening.params().session, undefined);
    assert.equal(listening.socket.closed, false);
  });

  test('our id let in again by a room that restarted without its storage (no resume) hears the hang-up too; a lobby that holds us instead hears us go', () => {
    const restarted = hangUpWhileDown();
    restarted.socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION, id: SELF, capacity: 2, peers: [], iceServers: [], locked: false });
    assert.deepEqual(sentTypes(restarted.socket), ['leave']);
    assert.equal(restarted.socket.closed, true);
    mock.timers.reset();
    const locked = hangUpWhileDown();
    locked.socket.deliver({ type: 'lobby' });
    assert.deepEqual(sentTypes(locked.socket), ['leave']);
    assert.equal(locked.socket.closed, true);
  });

  test('a room that will not have us back (a final close, another protocol version) is no failure of a call already hung up: nothing reported, the controller idle', () => {
    const refused = hangUpWhileDown();
    refused.socket.closeWith(CloseCode.roomFull);
    assert.deepEqual([refused.controller.status, refused.controller.closeCode], ['idle', null]);
    mock.timers.reset();
    const newer = hangUpWhileDown();
    newer.socket.deliver({ type: 'welcome', version: PROTOCOL_VERSION + 1, id: SELF });
    assert.deepEqual([newer.controller.status, newer.controller.closeCode], ['idle', null]);
    mock.timers.reset();
    // A listener (the socket wanted) hears of it, as any listener would.
    const listening = hangUpWhileDown();
    listening.controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    listening.socket.closeWith(CloseCode.roomFull);
    assert.deepEqual([listening.controller.status, listening.controller.closeCode], ['closed', CloseCode.roomFull]);
  });

  test('a final close while the room closes the id we left is final, not a reconnect that never comes', () => {
    const { socket, controller } = hangUpWhileDown();
    controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    resumed(socket);
    socket.closeWith(CloseCode.roomUnavailable);
    assert.deepEqual([controller.status, controller.closeCode], ['closed', CloseCode.roomUnavailable]);
  });

  test('hung up again (after joining meanwhile) before the room is back: the first hang-up still goes, and the socket then closes', () => {
    const { socket, controller } = hangUpWhileDown();
    controller.connect({ host: 'rooms.invalid', party: 'main', room: 'room-0123456789' });
    controller.join('Me');
    controller.leave();
    resumed(socket);
    assert.deepEqual(sentTypes(socket), ['leave']);
    assert.equal(socket.closed, true);
  });

  test('hung up while the socket was open, or gone (removed from the page) before the room was back: no socket kept, nothing more sent', () => {
    const gone = hangUpWhileDown();
    const open = connect();
    open.welcome(SELF, [ANN]);
    open.controller.join('Me');
    open.controller.leave();
    assert.equal(open.socket.closed, true);
    gone.controller.disconnect();
    assert.equal(gone.socket.closed, true);
    resumed(gone.socket);
    mock.timers.tick(UNSAID_LEAVE_MS);
    assert.deepEqual(sentTypes(gone.socket), []);
  });
});
