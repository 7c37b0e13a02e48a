import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HEARTBEAT_TIMEOUT_MS, Room, SESSION_REISSUE_MS, networkOf, SNAPSHOT_REFRESH_MS, type RoomOptions, type RoomSnapshot } from '../../party/room.ts';
import { SESSION_CLOCK_SKEW_S, SESSION_TTL_S } from '../../party/session.ts';
import {
  CloseCode,
  RETRY_CLOSE_CODE,
  LIMITS,
  PROTOCOL_VERSION,
  SECRET_PATTERN,
  decodeServerMessage,
  type IceServer,
  type ServerMessage,
} from '../../src/protocol.ts';
import { FakeSocket, PEER_IDS } from './fake-socket.ts';

const [ALICE, BOB, CAROL, DAVE, ERIN] = PEER_IDS;
const UNKNOWN_ID = 'zzzz-0123456789abcdefg';
const ICE: IceServer[] = [{ urls: ['stun:stun.example.org'] }];
const NO_RATE_LIMIT = { perSecond: 1e9, burst: 1e9, closeAfter: 1e9 };

// Every socket any test creates; after each test, everything the room sent must
// be a valid server message.
let sockets: FakeSocket[] = [];
function socket(label: string): FakeSocket {
  const s = new FakeSocket(label);
  sockets.push(s);
  return s;
}
afterEach(() => {
  for (const s of sockets) {
    for (const frame of s.frames) {
      const decoded = decodeServerMessage(frame);
      assert.ok(decoded.ok, `${s.label} received an invalid server frame ${frame.slice(0, 200)}`);
    }
  }
  sockets = [];
});

/** A room with `ids.length` admitted peers (capacity at least that), their inboxes emptied. */
function roomOf(ids: readonly string[], options: RoomOptions = {}) {
  const room = new Room({ capacity: Math.max(2, ids.length), rateLimit: NO_RATE_LIMIT, ...options });
  const peers = ids.map((id) => {
    const s = socket(id);
    assert.equal(room.admit(s, id, ICE), true);
    return s;
  });
  for (const s of peers) s.take();
  return { room, peers };
}

/** `frames` end with the host role handed over (`host` with a key): the frames before it. */
function handedHost(frames: ServerMessage[]): ServerMessage[] {
  const last = frames.at(-1);
  assert.ok(last?.type === 'host' && SECRET_PATTERN.test(last.hostKey), `no host hand-over at the end of ${JSON.stringify(frames)}`);
  return frames.slice(0, -1);
}

const send = (room: Room, from: FakeSocket, message: unknown) => room.receive(from, JSON.stringify(message));
const join = (room: Room, from: FakeSocket, name = from.label) => send(room, from, { type: 'join', name });
const offer = (to: string, sdp = 'v=0\r\n') => ({
  type: 'signal',
  to,
  data: { kind: 'description', description: { type: 'offer', sdp } },
});
const candidate = (to: string, n = 0) => ({
  type: 'signal',
  to,
  data: { kind: 'candidates', candidates: [{ candidate: `candidate:${n} 1 udp 1 192.0.2.1 ${n} typ host`, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null }] },
});
const errorCodes = (messages: ServerMessage[]) =>
  messages.map((m) => (m.type === 'error' ? m.code : `not an error: ${m.type}`));

// ------------------------------------------------------------------ admission

describe('admit', () => {
  test('the first peer gets welcome with its server id, no peers, capacity, ICE servers and the host key (no `polite`: the client knows its role)', () => {
    const room = new Room({ capacity: 2 });
    const a = socket('a');
    assert.equal(room.admit(a, ALICE, ICE, { iceTtl: 600 }), true);
    const [welcome, ...rest] = a.take();
    assert.deepEqual(rest, []);
    assert.ok(welcome?.type === 'welcome');
    assert.match(welcome.hostKey ?? '', SECRET_PATTERN);
    assert.deepEqual(welcome, {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      id: ALICE,
      capacity: 2,
      peers: [],
      iceServers: ICE,
      iceTtl: 600,
      locked: false,
      hostKey: welcome.hostKey,
    });
    assert.equal(room.size, 1);
    assert.equal(room.full, false);
  });

  test('the second peer gets the first in welcome.peers; the first gets peer-joined', () => {
    const room = new Room({ capacity: 2 });
    const a = socket('a');
    const b = socket('b');
    room.admit(a, ALICE, ICE);
    a.take();
    room.admit(b, BOB, []);
    assert.deepEqual(b.take(), [
      {
        type: 'welcome',
        version: PROTOCOL_VERSION,
        id: BOB,
        capacity: 2,
        peers: [{ id: ALICE, name: '', inCall: false }],
        iceServers: [],
        locked: false,
      },
    ]);
    assert.deepEqual(a.take(), [{ type: 'peer-joined', peer: { id: BOB, name: '', inCall: false } }]);
    assert.deepEqual(room.peers(), [
      { id: ALICE, name: '', inCall: false },
      { id: BOB, name: '', inCall: false },
    ]);
    assert.equal(room.full, true);
  });

  test('welcome.peers shows names and call state of those already there', () => {
    const { room, peers: [a] } = roomOf([ALICE], { capacity: 3 });
    join(room, a, 'Alice');
    const b = socket('b');
    room.admit(b, BOB, ICE);
    const [welcome] = b.take();
    assert.equal(welcome?.type, 'welcome');
    assert.deepEqual(welcome?.type === 'welcome' && welcome.peers, [{ id: ALICE, name: 'Alice', inCall: true }]);
  });

  test('a third socket gets room-full, is closed with 4001 and is not a member', () => {
    const { room, peers: [a, b] } = roomOf([ALICE, BOB]);
    const c = socket('c');
    assert.equal(room.admit(c, CAROL, ICE), false);
    assert.deepEqual(errorCodes(c.take()), ['room-full']);
    assert.deepEqual(c.closes, [{ code: CloseCode.roomFull, reason: 'room-full' }]);
    assert.equal(room.size, 2);
    assert.deepEqual(room.peers().map((p) => p.id), [ALICE, BOB]);
    assert.deepEqual(a.take(), []);
    assert.deepEqual(b.take(), []);
    // Its frames are ignored, and others cannot address it.
    join(room, c);
    join(room, a);
    a.take();
    b.take();
    send(room, a, offer(CAROL));
    assert.deepEqual(errorCodes(a.take()), ['no-peer']);
    assert.deepEqual(c.take(), []);
  });

  test('capacity is honoured: capacity 3 admits a third, refuses a fourth', () => {
    const { room } = roomOf([ALICE, BOB, CAROL]);
    assert.equal(room.capacity, 3);
    const d = socket('d');
    assert.equal(room.admit(d, DAVE, ICE), false);
    assert.deepEqual(d.closes.map((c) => c.code), [CloseCode.roomFull]);
  });

  test('a place freed by a departure can be taken', () => {
    const { room, peers: [a, b] } = roomOf([ALICE, BOB]);
    room.remove(a);
    b.take();
    const c = socket('c');
    assert.equal(room.admit(c, CAROL, ICE), true);
    assert.deepEqual(b.take(), [{ type: 'peer-joined', peer: { id: CAROL, name: '', inCall: false } }]);
  });

  test('admitting the same socket twice does nothing the second time', () => {
    const { room, peers: [a, b] } = roomOf([ALICE, BOB], { capacity: 3 });
    assert.equal(room.admit(a, ALICE, ICE), true);
    assert.equal(room.size, 2);
    assert.deepEqual(a.take(), []);
    assert.deepEqual(b.take(), []);
  });
});

// ------------------------------------------------------------------ join

describe('join', () => {
  test('joined lists only in-call peers; the others get peer-updated with the trimmed name', () => {
    const { room, peers: [a, b, c] } = roomOf([ALICE, BOB, CAROL]);
    join(room, a, '  Alice  ');
    assert.deepEqual(a.take(), [{ type: 'joined', peers: [] }]);
    const update = { type: 'peer-updated', peer: { id: ALICE, name: 'Alice', inCall: true } };
    assert.deepEqual(b.take(), [update]);
    assert.deepEqual(c.take(), [update]);

    join(room, b, 'Bob');
    assert.deepEqual(b.take(), [{ type: 'joined', peers: [{ id: ALICE, name: 'Alice', inCall: true }] }]);
    assert.deepEqual(a.take(), [{ type: 'peer-updated', peer: { id: BOB, name: 'Bob', inCall: true } }]);
    assert.deepEqual(c.take(), [{ type: 'peer-updated', peer: { id: BOB, name: 'Bob', inCall: true } }]);
    assert.deepEqual(room.peers(), [
      { id: ALICE, name: 'Alice', inCall: true },
      { id: BOB, name: 'Bob', inCall: true },
      { id: CAROL, name: '', inCall: false },
    ]);
  });

  for (const order of [
    [0, 1],
    [1, 0],
  ]) {
    test(`when both join (order ${order.join(',')}), only the second sees the other in joined.peers`, () => {
      const { room, peers } = roomOf([ALICE, BOB]);
      const [first, second] = [peers[order[0]!]!, peers[order[1]!]!];
      join(room, first);
      join(room, second);
      const joinedPeers = (s: FakeSocket) => s.ofType('joined').flatMap((m) => m.peers.map((p) => p.id));
      assert.deepEqual(joinedPeers(first), []);
      assert.deepEqual(joinedPeers(second), [first.label]);
    });
  }
});

// ------------------------------------------------------------------ signal

describe('signal', () => {
  function inCall(ids: readonly string[] = [ALICE, BOB]) {
    const r = roomOf(ids);
    for (const s of r.peers) join(r.room, s);
    for (const s of r.peers) s.take();
    return r;
  }

  test('is relayed only to the addressed peer, with `from` stamped by the server', () => {
    const { room, peers: [a, b, c] } = inCall([ALICE, BOB, CAROL]);
    const message = { ...offer(BOB, 'v=0\r\nsdp'), from: CAROL, extra: 'dropped' };
    send(room, a, message);
    assert.deepEqual(b.take(), [
      { type: 'signal', from: ALICE, data: { kind: 'description', description: { type: 'offer', sdp: 'v=0\r\nsdp' } } },
    ]);
    assert.deepEqual(a.take(), []);
    assert.deepEqual(c.take(), []);
    // The relayed frame carries nothing the sender added.
    assert.equal(b.frames.at(-1), JSON.stringify({ type: 'signal', from: ALICE, data: message.data }));
  });

  test('candidates are relayed with their fields, nulls filled in', () => {
    const { room, peers: [a, b] } = inCall();
    send(room, b, { type: 'signal', to: ALICE, data: { kind: 'candidates', candidates: [{ candidate: 'candidate:1' }] } });
    assert.deepEqual(a.take(), [
      {
        type: 'signal',
        from: BOB,
        data: { kind: 'candidates', candidates: [{ candidate: 'candidate:1', sdpMid: null, sdpMLineIndex: null, usernameFragment: null }] },
      },
    ]);
    assert.deepEqual(b.take(), []);
  });

  const noPeer: [string, string][] = [
    ['to itself', ALICE],
    ['to an unknown id', UNKNOWN_ID],
    ['to a peer not in the call', CAROL],
  ];
  for (const [name, to] of noPeer) {
    test(`${name} → no-peer, nothing delivered`, () => {
      const { room, peers: [a, b, c] } = roomOf([ALICE, BOB, CAROL]);
      join(room, a);
      join(room, b);
      for (const s of [a, b, c]) s.take();
      send(room, a, offer(to));
      send(room, a, candidate(to));
      assert.deepEqual(errorCodes(a.take()), ['no-peer', 'no-peer']);
      assert.deepEqual(b.take(), []);
      assert.deepEqual(c.take(), []);
    });
  }

  test('before join → not-in-call, nothing delivered', () => {
    const { room, peers: [a, b] } = roomOf([ALICE, BOB]);
    join(room, b);
    a.take();
    b.take();
    send(room, a, offer(BOB));
    assert.deepEqual(errorCodes(a.take()), ['not-in-call']);
    assert.deepEqual(b.take(), []);
  });

  test(`candidate cap: the ${LIMITS.candidatesPerNegotiation + 1}st candidate between two descriptions → too-many-candidates`, () => {
    const { room, peers: [a, b] } = inCall();
    const cap = LIMITS.candidatesPerNegotiation;
    send(room, a, offer(BOB));
    for (let i = 0; i < cap; i++) send(room, a, candidate(BOB, i));
    assert.equal(b.take().length, cap + 1);
    send(room, a, candidate(BOB, cap));
    assert.deepEqual(errorCodes(a.take()), ['too-many-candidates']);
    assert.deepEqual(b.take(), []);

    // The other direction has its own count.
    send(room, b, candidate(ALICE));
    assert.equal(a.ofType('signal').length, 1);
    assert.deepEqual(b.take(), []);
    a.take();

    // A new description resets the count.
    send(room, a, offer(BOB, 'v=0\r\nrenegotiate'));
    for (let i = 0; i < cap; i++) send(room, a, candidate(BOB, i));
    assert.equal(b.ofType('signal').length, cap + 1);
    assert.deepEqual(a.take(), []);
    send(room, a, candidate(BOB));
    assert.deepEqual(errorCodes(a.take()), ['too-many-candidates']);
  });

  test('a frame of several candidates counts each of them toward the cap, and is refused whole past it', () => {
    const { room, peers: [a, b] } = inCall();
    const cap = LIMITS.candidatesPerNegotiation;
    const batch = (from: number, count: number) => ({
      type: 'signal',
      to: BOB,
      data: { kind: 'candidates', candidates: Array.from({ length: count }, (_, i) => candidate(BOB, from + i).data.candidates[0]) },
    });
    send(room, a, offer(BOB));
    send(room, a, batch(0, cap - 1));
    const relayed = b.take();
    assert.equal(relayed.length, 2);
    const data = (relayed[1] as Extract<ServerMessage, { type: 'signal' }>).data;
    assert.equal(data.kind === 'candidates' && data.candidates.length, cap - 1);
    send(room, a, batch(cap - 1, 2));
    assert.deepEqual(errorCodes(a.take()), ['too-many-candidates']);
    assert.deepEqual(b.take(), [], 'none of the batch');
    send(room, a, batch(cap - 1, 1));
    assert.equal(b.take().length, 1, 'the last one that fits');
    assert.deepEqual(a.take(), []);
  });

  test('the candidate count is per addressed peer', () => {
    const { room, peers: [a, b, c] } = inCall([ALICE, BOB, CAROL]);
    for (let i = 0; i < LIMITS.candidatesPerNegotiation; i++) send(room, a, candidate(BOB, i));
    send(room, a, candidate(CAROL));
    assert.equal(c.ofType('signal').length, 1);
    assert.equal(b.ofType('signal').length, LIMITS.candidatesPerNegotiation);
    assert.deepEqual(a.take(), []);
  });

  // Documents the intended behaviour; the room re-encodes `to` as `from`
  // (2 bytes longer), so a client frame of 65 535–65 536 bytes is relayed as a
  // frame over LIMITS.messageBytes that the receiver's decodeServerMessage
  // refuses (see the report). Fails against the current code.
  test('a signal at the 64 KiB frame limit is relayed in a frame the receiver accepts, or refused', () => {
    const { room, peers: [a, b] } = inCall();
    const shell = JSON.stringify(offer(BOB, '')).length;
    for (const size of [LIMITS.messageBytes - 2, LIMITS.messageBytes - 1, LIMITS.messageBytes]) {
      const frame = JSON.stringify(offer(BOB, 's'.repeat(size - shell)));
      assert.equal(Buffer.byteLength(frame), size);
      room.receive(a, frame);
      const relayed = b.frames.splice(0);
      b.take();
      const answered = errorCodes(a.take());
      if (relayed.length === 0) {
        assert.equal(answered.length, 1, `a ${size}-byte signal was neither relayed nor refused`);
        continue;
      }
      assert.deepEqual(answered, []);
      const decoded = decodeServerMessage(relayed[0]!);
      assert.ok(decoded.ok, `a ${size}-byte client frame was relayed as ${Buffer.byteLength(relayed[0]!)} bytes: ${decoded.ok || decoded.code}`);
    }
  });

  test('refused frames are answered with an error and relay nothing', () => {
    const { room, peers: [a, b] } = inCall();
    const frames: [unknown, string][] = [
      [new Uint8Array([1, 2, 3]), 'binary-unsupported'],
      ['{', 'bad-json'],
      ['[]', 'bad-message'],
      ['{"type":"welcome"}', 'unknown-type'],
      [JSON.stringify({ type: 'signal', to: BOB, data: { kind: 'description' } }), 'bad-message'],
      [JSON.stringify(offer(BOB, 'x'.repeat(LIMITS.messageBytes))), 'too-large'],
    ];
    for (const [frame, code] of frames) {
      room.receive(a, frame);
      assert.deepEqual(errorCodes(a.take()), [code]);
    }
    assert.deepEqual(b.take(), []);
  });
});

// ------------------------------------------------------------------ leave / remove

describe('leave and remove', () => {
  test('leave: others get peer-left hangup, the socket is closed with 1000 and forgotten', () => {
    const { room, peers: [a, b, c] } = roomOf([ALICE, BOB, CAROL]);
    join(room, a);
    join(room, b);
    for (const s of [a, b, c]) s.take();
    send(room, a, { type: 'leave' });
    // Alice, the first, was the host: Bob, next in, is now.
    assert.deepEqual(handedHost(b.take()), [{ type: 'peer-left', id: ALICE, reason: 'hangup' }]);
    assert.deepEqual(c.take(), [{ type: 'peer-left', id: ALICE, reason: 'hangup' }]);
    assert.deepEqual(a.take(), []);
    assert.deepEqual(a.closes, [{ code: 1000, reason: 'left' }]);
    assert.equal(room.size, 2);
    // The runtime's close event follows: no second announcement.
    room.remove(a);
    assert.deepEqual(b.take(), []);
    // Later frames from it are ignored, and it cannot be addressed.
    join(room, a);
    send(room, a, offer(BOB));
    assert.deepEqual(a.take(), []);
    assert.deepEqual(b.take(), []);
    send(room, b, offer(ALICE));
    assert.deepEqual(errorCodes(b.take()), ['no-peer']);
  });

  test('remove: others get peer-left with reason left, exactly once', () => {
    const { room, peers: [a, b] } = roomOf([ALICE, BOB]);
    room.remove(a);
    room.remove(a);
    assert.deepEqual(handedHost(b.take()), [{ type: 'peer-left', id: ALICE, reason: 'left' }]);
    assert.deepEqual(a.take(), []);
    assert.deepEqual(a.closes, []);
    assert.equal(room.size, 1);
  });

  test('removing a socket that was never admitted does nothing', () => {
    const { room, peers: [a, b] } = roomOf([ALICE, BOB]);
    room.remove(socket('stranger'));
    assert.deepEqual(a.take(), []);
    assert.deepEqual(b.take(), []);
    assert.equal(room.size, 2);
  });

  test('frames from a socket never admitted are ignored', () => {
    const { room, peers: [a, b] } = roomOf([ALICE, BOB]);
    join(room, b);
    a.take();
    b.take();
    const stranger = socket('stranger');
    for (const frame of [JSON.stringify({ type: 'join', name: 'x' }), JSON.stringify(offer(BOB)), '{"type":"leave"}', '{', new Uint8Array(4)]) {
      assert.doesNotThrow(() => room.receive(stranger, frame));
    }
    assert.deepEqual(stranger.take(), []);
    assert.deepEqual(stranger.closes, []);
    assert.deepEqual(a.take(), []);
    assert.deepEqual(b.take(), []);
    assert.equal(room.size, 2);
  });

  test('a socket whose send throws does not break the room', () => {
    const { room, peers: [a] } = roomOf([ALICE]);
    const broken = socket('broken');
    broken.send = () => {
      throw new Error('socket closed');
    };
    assert.doesNotThrow(() => room.admit(broken, BOB, ICE));
    a.take();
    assert.doesNotThrow(() => join(room, a));
    assert.doesNotThrow(() => room.receive(broken, '{'));
    assert.doesNotThrow(() => room.remove(broken));
    assert.deepEqual(a.take().map((m) => m.type), ['joined', 'peer-left']);
  });
});

// ------------------------------------------------------------------ rate limit

describe('rate limit (default 20/s, burst 50, close after 50 refused)', () => {
  /** A room with the default rate limit and a hand-driven clock. */
  function limited() {
    const clock = { t: 1_000_000 };
    const room = new Room({ capacity: 2, now: () => clock.t });
    const a = socket('a');
    const b = socket('b');
    room.admit(a, ALICE, ICE);
    room.admit(b, BOB, ICE);
    a.take();
    b.take();
    // '{}' is always answered (unknown-type) when it gets past the limiter.
    const poke = (n: number) => {
      for (let i = 0; i < n; i++) room.receive(a, '{}');
      const codes = errorCodes(a.take());
      return {
        accepted: codes.filter((c) => c === 'unknown-type').length,
        rateLimited: codes.filter((c) => c === 'rate-limited').length,
        other: codes.filter((c) => c !== 'unknown-type' && c !== 'rate-limited'),
      };
    };
    return { room, clock, a, b, poke };
  }

  test('a burst of 50 is accepted; the 51st gets rate-limited; more in the same second get nothing', () => {
    const { poke, b } = limited();
    assert.deepEqual(poke(50), { accepted: 50, rateLimited: 0, other: [] });
    assert.deepEqual(poke(1), { accepted: 0, rateLimited: 1, other: [] });
    assert.deepEqual(poke(10), { accepted: 0, rateLimited: 0, other: [] });
    assert.deepEqual(b.take(), []);
  });

  test('a member back on a new socket (a resume) keeps its bucket: resuming over and over gets round no limit', async () => {
    const { room, clock, b } = limited();
    const flood = (s: ReturnType<typeof socket>, n: number) => {
      for (let i = 0; i < n; i++) room.receive(s, '{}');
      return errorCodes(s.take()).filter((c) => c === 'unknown-type').length;
    };
    let current = socket('a resumed');
    await room.arrive(current, UNKNOWN_ID, { resumeId: ALICE });
    current.take();
    assert.equal(flood(current, 49), 49);
    for (let i = 0; i < 5; i++) {
      room.drop(current);
      current = socket(`a resumed ${i}`);
      await room.arrive(current, UNKNOWN_ID, { resumeId: ALICE });
      current.take();
      assert.equal(flood(current, 10), i === 0 ? 1 : 0, 'what was left, and no more');
    }
    clock.t += 1000;
    assert.equal(flood(current, 30), 20, 'refilled at 20/s');
    b.take();
  });

  test('refills at 20/s, up to the burst size', () => {
    const { poke, clock } = limited();
    poke(51);
    clock.t += 1000;
    assert.deepEqual(poke(21), { accepted: 20, rateLimited: 1, other: [] });
    clock.t += 500;
    assert.deepEqual(poke(11), { accepted: 10, rateLimited: 0, other: [] }, 'no second rate-limited error within 1 s');
    clock.t += 60_000;
    assert.deepEqual(poke(51), { accepted: 50, rateLimited: 1, other: [] });
  });

  test('rate-limited errors are sent at most once per second', () => {
    const { room, clock, a, poke } = limited();
    poke(50);
    const errorTimes: number[] = [];
    // Every 50 ms one token comes back: send two frames, one is refused.
    for (let step = 0; step < 60; step++) {
      clock.t += 50;
      room.receive(a, '{}');
      room.receive(a, '{}');
      const codes = errorCodes(a.take());
      assert.equal(codes.filter((c) => c === 'unknown-type').length, 1);
      for (const c of codes) if (c === 'rate-limited') errorTimes.push(clock.t);
    }
    assert.equal(errorTimes.length, 3);
    for (let i = 1; i < errorTimes.length; i++) assert.ok(errorTimes[i]! - errorTimes[i - 1]! >= 1000);
    assert.deepEqual(a.closes, [], 'accepted frames in between reset the refusal streak');
  });

  test('a rate-limited frame is not acted on', () => {
    const { room, a, b, poke } = limited();
    poke(50);
    join(room, a);
    assert.deepEqual(errorCodes(a.take()), ['rate-limited']);
    assert.deepEqual(b.take(), []);
    assert.equal(room.peers()[0]?.inCall, false);
  });

  test('50 refused in a row: closed with 4008, removed, announced once', () => {
    const { room, a, b, poke } = limited();
    poke(50);
    assert.deepEqual(poke(49), { accepted: 0, rateLimited: 1, other: [] });
    assert.deepEqual(a.closes, []);
    assert.equal(room.size, 2);
    room.receive(a, '{}'); // the 50th refused in a row
    assert.deepEqual(errorCodes(a.take()), ['rate-limited']);
    assert.deepEqual(a.closes, [{ code: CloseCode.rateLimited, reason: 'rate-limited' }]);
    assert.equal(room.size, 1);
    assert.deepEqual(handedHost(b.take()), [{ type: 'peer-left', id: ALICE, reason: 'left' }]);
    // Further frames and the runtime's close event change nothing.
    room.receive(a, '{}');
    room.remove(a);
    assert.deepEqual(a.take(), []);
    assert.deepEqual(b.take(), []);
    assert.equal(a.closes.length, 1);
  });

  test('an accepted frame resets the refusal streak', () => {
    const { room, clock, a, poke } = limited();
    poke(50);
    poke(49);
    clock.t += 50; // one token
    assert.deepEqual(poke(1), { accepted: 1, rateLimited: 0, other: [] });
    poke(49);
    assert.deepEqual(a.closes, []);
    assert.equal(room.size, 2);
  });

  test("one peer's flood does not limit another", () => {
    const { room, b, poke } = limited();
    poke(80);
    room.receive(b, '{}');
    assert.deepEqual(errorCodes(b.take()), ['unknown-type']);
  });
});

// ------------------------------------------------------------------ isolation

describe('two rooms', () => {
  test('nothing is ever delivered across rooms', () => {
    const one = roomOf([ALICE, BOB]);
    const two = roomOf([CAROL, DAVE]);
    const [a, b] = one.peers;
    const [c, d] = two.peers;

    for (const s of [a!, b!]) join(one.room, s);
    send(one.room, a!, offer(BOB));
    send(one.room, a!, offer(CAROL)); // an id from the other room
    send(one.room, b!, candidate(DAVE));
    one.room.receive(a!, '{');
    send(one.room, a!, { type: 'leave' });
    one.room.remove(b!);
    // A socket of room two used against room one is a stranger there.
    join(one.room, c!);
    send(one.room, c!, offer(BOB));
    assert.deepEqual(c!.take(), []);
    assert.deepEqual(d!.take(), []);

    // And the other way round.
    a!.take();
    b!.take();
    const e = socket('e');
    one.room.admit(e, PEER_IDS[4], ICE);
    join(one.room, e);
    e.take();
    for (const s of [c!, d!]) join(two.room, s);
    send(two.room, c!, offer(DAVE));
    send(two.room, c!, offer(PEER_IDS[4]));
    send(two.room, d!, { type: 'leave' });
    assert.deepEqual(e.take(), []);
    assert.deepEqual(a!.take(), []);
    assert.deepEqual(b!.take(), []);
    assert.deepEqual(errorCodes(c!.ofType('error')), ['no-peer']);
  });

  test('the same peer id in two rooms is two different peers', () => {
    const one = roomOf([ALICE, BOB]);
    const two = roomOf([ALICE, BOB]);
    for (const r of [one, two]) for (const s of r.peers) join(r.room, s);
    for (const r of [one, two]) for (const s of r.peers) s.take();
    send(one.room, one.peers[0]!, offer(BOB));
    assert.equal(one.peers[1]!.take().length, 1);
    assert.deepEqual(two.peers[0]!.take(), []);
    assert.deepEqual(two.peers[1]!.take(), []);
  });
});

// ------------------------------------------------------------------ locked rooms

/** Let the room's asynchronous steps (minting ICE servers) finish. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A room whose first member, the host, has joined; returns its host key. */
async function hostedRoom(options: RoomOptions = {}) {
  const room = new Room({ capacity: 3, rateLimit: NO_RATE_LIMIT, ...options });
  const host = socket('host');
  await room.arrive(host, ALICE);
  const [welcome] = host.take();
  assert.ok(welcome?.type === 'welcome' && welcome.hostKey);
  join(room, host, 'Host');
  host.take();
  return { room, host, hostKey: welcome.hostKey };
}

/** A hosted room, locked, with Bob knocking (`k`); nothing left unread. */
async function bobKnocking(options: RoomOptions = {}) {
  const { room, host } = await hostedRoom(options);
  send(room, host, { type: 'lock', locked: true });
  const k = socket('knocker');
  await room.arrive(k, BOB);
  join(room, k, 'Bob');
  host.take();
  k.take();
  return { room, host, k };
}

describe('locked rooms', () => {
  test('only the host may lock; every member hears lock-changed', async () => {
    const { room, host } = await hostedRoom();
    const b = socket('b');
    await room.arrive(b, BOB);
    const [welcome] = b.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.hostKey, undefined, 'only the first member is the host');
    host.take();
    send(room, b, { type: 'lock', locked: true });
    assert.deepEqual(errorCodes(b.take()), ['not-host']);
    assert.equal(room.locked, false);
    send(room, host, { type: 'lock', locked: true });
    assert.equal(room.locked, true);
    assert.deepEqual(host.take(), [{ type: 'lock-changed', locked: true }]);
    assert.deepEqual(b.take(), [{ type: 'lock-changed', locked: true }]);
  });

  test('an arrival at a locked room waits in the lobby, learns nothing, and knocks with join', async () => {
    const { room, host } = await hostedRoom();
    send(room, host, { type: 'lock', locked: true });
    host.take();
    const k = socket('knocker');
    await room.arrive(k, BOB);
    assert.deepEqual(k.take(), [{ type: 'lobby' }]);
    assert.equal(room.size, 1);
    assert.deepEqual(host.take(), [], 'nothing is announced before the knock');
    // In the lobby nothing but join, leave and ping is accepted.
    send(room, k, offer(ALICE));
    send(room, k, { type: 'lock', locked: false });
    assert.deepEqual(errorCodes(k.take()), ['knocking', 'knocking']);
    // Its heartbeat is answered: a client that hears nothing reconnects,
    // and would knock again under a new id at the end of the list.
    send(room, k, { type: 'ping' });
    assert.deepEqual(k.take(), [{ type: 'pong' }]);
    assert.deepEqual(host.take(), []);
    join(room, k, 'Bob <img src=x onerror=alert(1)>');
    assert.deepEqual(host.take(), [
      { type: 'knocks', peers: [{ id: BOB, name: 'Bob <img src=x onerror=alert(1)>', inCall: false }] },
    ]);
    assert.deepEqual(k.take(), []);
  });

  test('the host leaves a locked room: the next member in becomes host with a new key, hears the knocks and admits; the old key is void', async () => {
    const { room, host, hostKey } = await hostedRoom({ capacity: 4 });
    const b = socket('b');
    const c = socket('c');
    await room.arrive(b, BOB);
    await room.arrive(c, CAROL);
    send(room, host, { type: 'lock', locked: true });
    const k = socket('knocker');
    await room.arrive(k, DAVE);
    join(room, k, 'Dave');
    for (const s of [host, b, c, k]) s.take();

    send(room, host, { type: 'leave' });
    const handed = b.take();
    const newKey = handed[1]?.type === 'host' ? handed[1].hostKey : '';
    assert.match(newKey, SECRET_PATTERN);
    assert.notEqual(newKey, hostKey, 'a new key: the one who left cannot take the room back');
    assert.deepEqual(handed, [
      { type: 'peer-left', id: ALICE, reason: 'hangup' },
      { type: 'host', hostKey: newKey },
      { type: 'knocks', peers: [{ id: DAVE, name: 'Dave', inCall: false }] },
    ]);
    assert.deepEqual(c.take(), [{ type: 'peer-left', id: ALICE, reason: 'hangup' }], 'one new host only');
    assert.equal(room.locked, true, 'still locked');
    send(room, c, { type: 'admit', id: DAVE });
    assert.deepEqual(errorCodes(c.take()), ['not-host']);
    send(room, b, { type: 'admit', id: DAVE });
    await settle();
    assert.equal(k.take()[0]?.type, 'welcome');

    // The old host, back with its old key, waits in the lobby like anyone;
    // with the new one it would be host (a second tab of the new host).
    b.take();
    c.take();
    const back = socket('back');
    await room.arrive(back, ALICE, { hostKey });
    assert.deepEqual(back.take(), [{ type: 'lobby' }]);
    const second = socket('second');
    await room.arrive(second, ERIN, { hostKey: newKey });
    const [welcome] = second.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.hostKey, newKey);
  });

  test('a host cut off past its grace leaves its key good (it may come back with it); one that left, or flooded, does not', async () => {
    const clock = { t: 1_000_000 };
    const { room, host, hostKey } = await hostedRoom({ capacity: 4, now: () => clock.t, graceMs: 20_000 });
    const b = socket('b');
    await room.arrive(b, BOB);
    room.drop(host); // heard (it joined): held for its grace
    b.take();
    clock.t += 21_000;
    send(room, b, { type: 'ping' });
    room.tick();
    assert.deepEqual(b.take(), [{ type: 'pong' }, { type: 'peer-left', id: ALICE, reason: 'left' }, { type: 'host', hostKey }]);
    const back = socket('back');
    await room.arrive(back, CAROL, { hostKey });
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome' && welcome.hostKey === hostKey, 'host again with its key');
  });

  test('the role goes to a member in the call before an idle one, and to one who is here before one who is away', async () => {
    const clock = { t: 1_000_000 };
    const session = async (id: string) => `${id}.0.${'s'.repeat(43)}`;
    const room = new Room({ capacity: 4, rateLimit: NO_RATE_LIMIT, now: () => clock.t });
    const [a, b, c, d] = [socket('a'), socket('b'), socket('c'), socket('d')];
    await room.arrive(a, ALICE);
    const [welcome] = a.take();
    assert.ok(welcome?.type === 'welcome' && welcome.hostKey);
    await room.arrive(b, BOB, { session }); // idle: the socket is open, no join
    await room.arrive(c, CAROL, { session });
    await room.arrive(d, DAVE);
    join(room, a, 'Alice');
    join(room, c, 'Carol');
    join(room, d, 'Dave');
    room.drop(c); // Carol is away (her socket dropped), within the grace
    for (const s of [a, b, c, d]) s.take();

    send(room, a, { type: 'leave' });
    assert.deepEqual(handedHost(d.take()), [{ type: 'peer-left', id: ALICE, reason: 'hangup' }], 'Dave: here and in the call');
    assert.deepEqual(b.take(), [{ type: 'peer-left', id: ALICE, reason: 'hangup' }], 'not idle Bob, though in before Dave');

    // With nobody else in the call, the one here comes before the one away.
    send(room, d, { type: 'leave' });
    assert.deepEqual(handedHost(b.take()), [{ type: 'peer-left', id: DAVE, reason: 'hangup' }]);
  });

  test('a host away within the resume grace keeps the role: nobody is handed it', async () => {
    const clock = { t: 1_000_000 };
    const { room, host } = await hostedRoom({ now: () => clock.t });
    const b = socket('b');
    await room.arrive(b, BOB);
    b.take();
    room.drop(host);
    clock.t += 5_000;
    send(room, b, { type: 'ping' });
    room.tick();
    assert.deepEqual(b.take(), [{ type: 'pong' }]);
  });

  test('admit: the knocker is welcomed into the room; the host hears the lobby emptied', async () => {
    const { room, host, k } = await bobKnocking({ mintIceServers: async (id) => ({ iceServers: [{ urls: 'turn:t', username: id, credential: 'c' }], iceTtl: 60 }) });
    send(room, host, { type: 'admit', id: BOB });
    await settle();
    const [welcome, ...rest] = k.take();
    assert.deepEqual(rest, []);
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.id, BOB);
    assert.equal(welcome.locked, true);
    assert.equal(welcome.iceTtl, 60);
    assert.deepEqual(welcome.iceServers, [{ urls: 'turn:t', username: BOB, credential: 'c' }]);
    assert.deepEqual(welcome.peers, [{ id: ALICE, name: 'Host', inCall: true }]);
    assert.deepEqual(host.take(), [
      { type: 'knocks', peers: [] },
      { type: 'peer-joined', peer: { id: BOB, name: '', inCall: false } },
    ]);
    assert.equal(room.size, 2);
    // Once admitted it joins like anyone else.
    join(room, k, 'Bob');
    assert.deepEqual(k.take(), [{ type: 'joined', peers: [{ id: ALICE, name: 'Host', inCall: true }] }]);
  });

  test('unlock: the knockers come in and the host hears the lobby emptied', async () => {
    const { room, host, k } = await bobKnocking();
    send(room, host, { type: 'lock', locked: false });
    await settle();
    assert.equal(k.take()[0]?.type, 'welcome');
    assert.deepEqual(host.take(), [
      { type: 'lock-changed', locked: false },
      { type: 'knocks', peers: [] },
      { type: 'peer-joined', peer: { id: BOB, name: '', inCall: false } },
    ]);
  });

  test('reject: the knocker gets the same answer as a room that does not exist', async () => {
    const { room, host, k } = await bobKnocking();
    send(room, host, { type: 'reject', id: BOB });
    assert.deepEqual(errorCodes(k.take()), ['room-unavailable']);
    assert.deepEqual(k.closes, [{ code: CloseCode.roomUnavailable, reason: 'room-unavailable' }]);
    assert.deepEqual(host.take(), [{ type: 'knocks', peers: [] }]);
    // Its frames are ignored from now on; a second reject finds nobody.
    join(room, k, 'again');
    assert.deepEqual(k.take(), []);
    send(room, host, { type: 'reject', id: BOB });
    assert.deepEqual(errorCodes(host.take()), ['no-peer']);
  });

  test('admit and reject are for the host only, and for peers that knocked', async () => {
    const { room, host } = await hostedRoom();
    const b = socket('b');
    await room.arrive(b, BOB);
    send(room, host, { type: 'lock', locked: true });
    const k = socket('knocker');
    await room.arrive(k, CAROL);
    host.take();
    b.take();
    send(room, host, { type: 'admit', id: CAROL }); // has not knocked yet
    assert.deepEqual(errorCodes(host.take()), ['no-peer']);
    join(room, k, 'Carol');
    host.take();
    send(room, b, { type: 'admit', id: CAROL });
    send(room, b, { type: 'reject', id: CAROL });
    assert.deepEqual(errorCodes(b.take()), ['not-host', 'not-host']);
    assert.deepEqual(k.closes, []);
  });

  test('the host key re-enters the locked room directly and is host again', async () => {
    const { room, host, hostKey } = await hostedRoom({ capacity: 4 });
    const b = socket('b');
    await room.arrive(b, BOB);
    send(room, host, { type: 'lock', locked: true });
    room.drop(host); // cut off: its key stays good
    b.take();
    const wrong = socket('wrong-key');
    await room.arrive(wrong, CAROL, { hostKey: 'x'.repeat(22) });
    assert.deepEqual(wrong.take(), [{ type: 'lobby' }]);
    const back = socket('host-again');
    await room.arrive(back, DAVE, { hostKey: hostKey });
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.hostKey, hostKey);
    assert.equal(welcome.locked, true);
    send(room, back, { type: 'lock', locked: false });
    // Unlocking lets the lobby in.
    await settle();
    const [admitted] = wrong.take();
    assert.equal(admitted?.type, 'welcome');
    assert.equal(room.size, 4, 'the old socket held for its grace, Bob, the host again, the one let in');
  });

  test('a room that empties unlocks, voids its key and turns its knocks away; a page that never knocked comes back', async () => {
    const { room, host, hostKey } = await hostedRoom();
    send(room, host, { type: 'lock', locked: true });
    const k = socket('knocker');
    await room.arrive(k, BOB);
    join(room, k, 'Bob');
    const idle = socket('idle');
    await room.arrive(idle, DAVE);
    room.remove(host);
    assert.equal(room.locked, false);
    assert.deepEqual(k.closes, [{ code: CloseCode.roomUnavailable, reason: 'room-unavailable' }]);
    assert.deepEqual(idle.closes, [{ code: RETRY_CLOSE_CODE, reason: 'room-empty' }], 'not final: it comes back to an open room');
    const next = socket('next');
    await room.arrive(next, CAROL, { hostKey: hostKey });
    const [welcome] = next.take();
    assert.ok(welcome?.type === 'welcome');
    assert.ok(welcome.hostKey && welcome.hostKey !== hostKey, 'a new key for the new first member');
  });

  /** A lobby id for the `i`th socket (16–32 characters, like the server's). */
  const lobbyId = (i: number) => `k${i}-0123456789abcdefghij`;

  test('the lobby holds at most maxKnocking knocks; one more is refused like a missing room, and the host sees the ones it holds', async () => {
    const { room, host } = await hostedRoom({ maxKnocking: 2 });
    send(room, host, { type: 'lock', locked: true });
    const lobby = [socket('k1'), socket('k2'), socket('k3')];
    for (const [i, s] of lobby.entries()) {
      await room.arrive(s, lobbyId(i));
      join(room, s, `K${i}`);
    }
    assert.deepEqual(lobby.map((s) => s.closes.length), [0, 0, 1]);
    assert.deepEqual(lobby[2]!.closes, [{ code: CloseCode.roomUnavailable, reason: 'room-unavailable' }]);
    assert.deepEqual(room.knocking().map((p) => p.name), ['K0', 'K1']);
    // A knock repeated (a new name) is no new knock.
    join(room, lobby[1]!, 'K1 again');
    assert.deepEqual(room.knocking().map((p) => p.name), ['K0', 'K1 again']);
  });

  test('one client address cannot fill the lobby: past its places, a knock from an address holding two fewer takes the oldest place of the one holding most; one that would make the shares more uneven is refused', async () => {
    const { room, host } = await hostedRoom();
    send(room, host, { type: 'lock', locked: true });
    let n = 0;
    const knock = async (address: string | null) => {
      const s = socket(`k${n}`);
      await room.arrive(s, lobbyId(n), { address });
      join(room, s, `K${n++}`);
      return s;
    };
    const flood: FakeSocket[] = [];
    for (let i = 0; i < 8; i++) flood.push(await knock('198.51.100.7')); // one outsider, 8 sockets
    const guest = await knock('203.0.113.5');
    assert.deepEqual(guest.closes, [], 'the guest knocks');
    assert.deepEqual(flood[0]!.closes, [{ code: CloseCode.roomUnavailable, reason: 'room-unavailable' }], "the flood's oldest knock goes");
    assert.deepEqual(room.knocking().map((p) => p.name), ['K1', 'K2', 'K3', 'K4', 'K5', 'K6', 'K7', 'K8']);
    assert.deepEqual(host.ofType('knocks').at(-1)?.peers.map((p) => p.name), ['K1', 'K2', 'K3', 'K4', 'K5', 'K6', 'K7', 'K8']);
    const again = await knock('198.51.100.7');
    assert.deepEqual(again.closes, [{ code: CloseCode.roomUnavailable, reason: 'room-unavailable' }], 'the flood cannot take it back');
    assert.deepEqual(guest.closes, []);
    // Guests from elsewhere take the flood's places one by one, down to one;
    // then the lobby is full of one knock per address, and the next is refused as before.
    const guests = [guest];
    for (let i = 0; i < 6; i++) guests.push(await knock(`203.0.113.${10 + i}`));
    assert.deepEqual(guests.map((s) => s.closes.length), [0, 0, 0, 0, 0, 0, 0]);
    assert.equal(room.knocking().length, 8);
    const late = await knock('192.0.2.1');
    assert.deepEqual(late.closes, [{ code: CloseCode.roomUnavailable, reason: 'room-unavailable' }]);
    assert.deepEqual(guests.map((s) => s.closes.length), [0, 0, 0, 0, 0, 0, 0], 'no guest pushed out');
    assert.equal(flood.filter((s) => !s.closes.length).length, 1, 'the flood keeps one knock, like any address');
    host.take();
  });

  test('unknown addresses (partykit dev sets none) each count as their own: the lobby holds 8 knocks and refuses the ninth, as before', async () => {
    const { room, host } = await hostedRoom();
    send(room, host, { type: 'lock', locked: true });
    const lobby = Array.from({ length: 9 }, (_, i) => socket(`k${i}`));
    for (const [i, s] of lobby.entries()) {
      await room.arrive(s, lobbyId(i), { address: null });
      join(room, s, `K${i}`);
    }
    assert.deepEqual(lobby.map((s) => s.closes.length), [0, 0, 0, 0, 0, 0, 0, 0, 1]);
    host.take();
  });

  test('sockets waiting without a knock: a newcomer takes the oldest place of the address holding most, its own if that is its own', async () => {
    const { room, host } = await hostedRoom({ maxKnocking: 3 });
    send(room, host, { type: 'lock', locked: true });
    const [page, f1, f2, g, f3] = [socket('page'), socket('f1'), socket('f2'), socket('g'), socket('f3')];
    await room.arrive(page, lobbyId(0), { address: '203.0.113.5' });
    await room.arrive(f1, lobbyId(1), { address: '198.51.100.7' });
    await room.arrive(f2, lobbyId(2), { address: '198.51.100.7' });
    await room.arrive(g, lobbyId(3), { address: '192.0.2.1' });
    assert.deepEqual([page, f1, f2].map((s) => s.closes.length), [0, 1, 0], 'not the longest waiting, but the flood\'s oldest');
    await room.arrive(f3, lobbyId(4), { address: '198.51.100.7' });
    assert.deepEqual([page, f2, g, f3].map((s) => s.closes.length), [0, 1, 0, 0], 'a flood that holds as many as any takes its own');
    host.take();
  });

  test('networkOf: an IPv4 address itself, an IPv6 address its /64 (a host picks addresses in it at will), never a throw', () => {
    assert.equal(networkOf('198.51.100.7'), '198.51.100.7');
    assert.equal(networkOf('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(networkOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(networkOf('2001:DB8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(networkOf('2001:0db8::1'), '2001:db8:0:0::/64');
    assert.equal(networkOf('::1'), '0:0:0:0::/64');
    assert.equal(networkOf(null), null);
    assert.equal(networkOf(''), null);
    for (const junk of ['::::', 'zz::1', '1::2::3', ':', 'not an address']) assert.equal(typeof networkOf(junk), 'string', junk);
  });

  test('pages waiting in the lobby without a knock (the host cannot see them) cannot keep a guest from knocking: a newcomer takes the place of the one waiting longest', async () => {
    const { room, host } = await hostedRoom({ maxKnocking: 2 });
    send(room, host, { type: 'lock', locked: true });
    const idle = [socket('idle-0'), socket('idle-1')];
    for (const [i, s] of idle.entries()) await room.arrive(s, lobbyId(i));
    const knocked = socket('knocked');
    await room.arrive(knocked, lobbyId(2));
    join(room, knocked, 'Kim');
    assert.deepEqual(idle[0]!.closes, [{ code: 4000, reason: 'lobby-full' }], 'the longest idle one goes (4000: its page comes back)');
    assert.deepEqual(idle[1]!.closes, []);
    assert.deepEqual(knocked.closes, []);
    assert.deepEqual(room.knocking().map((p) => p.name), ['Kim']);
    // A knocker is never pushed out by newcomers.
    for (let i = 3; i < 8; i++) await room.arrive(socket(`idle-${i}`), lobbyId(i));
    assert.deepEqual(knocked.closes, []);
    assert.deepEqual(room.knocking().map((p) => p.name), ['Kim']);
    host.take();
  });

  test('a lobby socket silent for the heartbeat timeout is closed and forgotten (a knock leaves the host\'s list); one that pings waits on', async () => {
    const clock = { t: 1_000_000 };
    const { room, host } = await hostedRoom({ now: () => clock.t });
    send(room, host, { type: 'lock', locked: true });
    const silent = socket('silent');
    const pinging = socket('pinging');
    await room.arrive(silent, BOB);
    await room.arrive(pinging, CAROL);
    join(room, silent, 'Bob');
    join(room, pinging, 'Carol');
    host.take();
    for (let t = 0; t <= HEARTBEAT_TIMEOUT_MS + 1_000; t += 1_000) {
      clock.t += 1_000;
      send(room, host, { type: 'ping' });
      send(room, pinging, { type: 'ping' });
      room.tick();
    }
    assert.deepEqual(silent.closes, [{ code: 4000, reason: 'silent' }]);
    assert.deepEqual(pinging.closes, []);
    assert.deepEqual(room.knocking().map((p) => p.id), [CAROL]);
    assert.deepEqual(
      host.take().filter((m) => m.type === 'knocks'),
      [{ type: 'knocks', peers: [{ id: CAROL, name: 'Carol', inCall: false }] }],
    );
    // Its place is free: the host's list holds a new knock.
    room.drop(silent);
    const next = socket('next');
    await room.arrive(next, DAVE);
    join(room, next, 'Dave');
    assert.deepEqual(room.knocking().map((p) => p.id), [CAROL, DAVE]);
  });

  test('unlocking lets in those who knocked first, in the order the host saw them, then the pages waiting without a knock', async () => {
    const { room, host } = await hostedRoom({ capacity: 4 });
    send(room, host, { type: 'lock', locked: true });
    const idle = socket('idle');
    await room.arrive(idle, BOB);
    const [carol, dave] = [socket('carol'), socket('dave')];
    await room.arrive(carol, CAROL);
    await room.arrive(dave, DAVE);
    join(room, carol, 'Carol');
    join(room, dave, 'Dave');
    send(room, host, { type: 'lock', locked: false });
    await settle();
    assert.deepEqual(room.peers().map((p) => p.id), [ALICE, CAROL, DAVE, BOB], 'knocks in the host\'s order, then the idle page');
  });

  test('with one place left, unlocking gives it to the guest the host saw, not to a page that never knocked', async () => {
    const { room, host } = await hostedRoom({ capacity: 2 });
    send(room, host, { type: 'lock', locked: true });
    const idle = socket('idle');
    await room.arrive(idle, BOB);
    const guest = socket('guest');
    await room.arrive(guest, CAROL);
    join(room, guest, 'Carol');
    guest.take();
    send(room, host, { type: 'lock', locked: false });
    await settle();
    assert.equal(guest.take()[0]?.type, 'welcome', 'the guest the host saw comes in');
    assert.deepEqual(idle.closes, [{ code: CloseCode.roomFull, reason: 'room-full' }], 'the idle page finds the room full');
  });

  test('a repeated lock is answered to its sender only, and not saved again', async () => {
    const saved: unknown[] = [];
    const { room, host } = await hostedRoom({ save: (s) => saved.push(s) });
    const b = socket('b');
    await room.arrive(b, BOB);
    send(room, host, { type: 'lock', locked: true });
    host.take();
    b.take();
    const writes = saved.length;
    send(room, host, { type: 'lock', locked: true });
    assert.deepEqual(host.take(), [{ type: 'lock-changed', locked: true }]);
    assert.deepEqual(b.take(), [], 'the others hear nothing new');
    assert.equal(saved.length, writes);
  });

  test('a knocker admitted is refused if its id came back on another socket while its ICE servers were minted (one id, one member)', async () => {
    let release: () => void = () => {};
    let gate = Promise.resolve();
    const { room, host } = await hostedRoom({ mintIceServers: async () => (await gate, { iceServers: [] }) });
    send(room, host, { type: 'lock', locked: true });
    const session = async (id: string) => `${id}.0.${'s'.repeat(43)}`;
    const first = socket('first');
    await room.arrive(first, lobbyId(0), { resumeId: DAVE, session });
    join(room, first, 'Mallory');
    gate = new Promise((resolve) => (release = resolve));
    send(room, host, { type: 'admit', id: DAVE });
    // The same session token on a second socket while the first is minted.
    const second = socket('second');
    await room.arrive(second, lobbyId(1), { resumeId: DAVE, session });
    assert.equal(second.take()[0]?.type, 'lobby');
    join(room, second, 'Mallory');
    send(room, host, { type: 'admit', id: DAVE });
    release();
    gate = Promise.resolve();
    await settle();
    const welcomed = [first, second].filter((s) => s.frames.some((f) => f.includes('"welcome"')));
    assert.equal(welcomed.length, 1, 'one of the two is welcomed');
    assert.deepEqual(room.peers().map((p) => p.id), [ALICE, DAVE]);
    const other = welcomed[0] === first ? second : first;
    assert.deepEqual(other.closes, [{ code: CloseCode.roomUnavailable, reason: 'room-unavailable' }]);
  });

  test('a knocker admitted is refused if the room emptied while its ICE servers were minted (the room turned its lobby away)', async () => {
    let release: () => void = () => {};
    let gate = Promise.resolve();
    const { room, host } = await hostedRoom({ mintIceServers: async () => (await gate, { iceServers: [] }) });
    send(room, host, { type: 'lock', locked: true });
    const k = socket('k');
    await room.arrive(k, BOB);
    join(room, k, 'Bob');
    gate = new Promise((resolve) => (release = resolve));
    send(room, host, { type: 'admit', id: BOB });
    send(room, host, { type: 'leave' });
    release();
    await settle();
    assert.deepEqual(k.closes, [{ code: CloseCode.roomUnavailable, reason: 'room-unavailable' }]);
    assert.equal(room.size, 0);
  });

  test('admitting into a full room is refused to the host; the knocker keeps waiting', async () => {
    const { room, host } = await hostedRoom({ capacity: 2 });
    const b = socket('b');
    await room.arrive(b, BOB);
    send(room, host, { type: 'lock', locked: true });
    const k = socket('knocker');
    await room.arrive(k, CAROL);
    join(room, k, 'Carol');
    host.take();
    send(room, host, { type: 'admit', id: CAROL });
    assert.deepEqual(errorCodes(host.take()), ['room-full']);
    assert.deepEqual(k.closes, []);
    assert.deepEqual(room.knocking().map((p) => p.id), [CAROL]);
  });

  test('a knocker that leaves is dropped from the host\'s list', async () => {
    const { room, host } = await hostedRoom();
    send(room, host, { type: 'lock', locked: true });
    const k = socket('knocker');
    await room.arrive(k, BOB);
    join(room, k, 'Bob');
    host.take();
    room.remove(k);
    assert.deepEqual(host.take(), [{ type: 'knocks', peers: [] }]);
  });

  test('a socket that closes while its ICE servers are minted is never admitted', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const room = new Room({ mintIceServers: async () => (await gate, { iceServers: [] }) });
    const a = socket('a');
    const arrival = room.arrive(a, ALICE);
    assert.equal(room.full, false);
    room.remove(a);
    release();
    await arrival;
    assert.deepEqual(a.take(), []);
    assert.equal(room.size, 0);
  });

  test('two arrivals racing for the last place: one welcome, one room-full', async () => {
    const room = new Room({ capacity: 1, mintIceServers: async () => ({ iceServers: [] }) });
    const [a, b] = [socket('a'), socket('b')];
    await Promise.all([room.arrive(a, ALICE), room.arrive(b, BOB)]);
    assert.deepEqual([a, b].map((s) => s.take().map((m) => m.type)), [['welcome'], ['error']]);
    assert.equal(room.size, 1);
  });
});

describe('ice-refresh', () => {
  test('answers with a freshly minted list for the asking peer only', async () => {
    let minted = 0;
    const { room, peers: [a, b] } = roomOf([ALICE, BOB], {
      mintIceServers: async (id) => ({ iceServers: [{ urls: 'turn:t', username: `${++minted}:${id}`, credential: 'c' }], iceTtl: 30 }),
    });
    send(room, a, { type: 'ice-refresh' });
    await settle();
    assert.deepEqual(a.take(), [
      { type: 'ice-servers', iceServers: [{ urls: 'turn:t', username: `1:${ALICE}`, credential: 'c' }], iceTtl: 30 },
    ]);
    assert.deepEqual(b.take(), []);
  });

  test('a failing minter answers with an empty list, never an exception', async () => {
    const { room, peers: [a] } = roomOf([ALICE, BOB], { mintIceServers: () => Promise.reject(new Error('boom')) });
    send(room, a, { type: 'ice-refresh' });
    await settle();
    assert.deepEqual(a.take(), [{ type: 'ice-servers', iceServers: [] }]);
  });
});

// ------------------------------------------------------------------ drops, resume and heartbeats

/** A room of two in-call peers on a fake clock, Alice (host) and Bob, who arrived with session tokens. */
async function callOfTwo(options: RoomOptions = {}) {
  const clock = { t: 1_000_000 };
  const room = new Room({ rateLimit: NO_RATE_LIMIT, now: () => clock.t, ...options });
  const [a, b] = [socket('a'), socket('b')];
  const session = async (id: string) => `${id}.0.${'s'.repeat(43)}`;
  await room.arrive(a, ALICE, { session });
  await room.arrive(b, BOB, { session });
  join(room, a, 'Alice');
  join(room, b, 'Bob');
  a.take();
  b.take();
  return { room, clock, a, b, session };
}

describe('drops, resume and heartbeats', () => {

  test('welcome carries the session token from the arrival', async () => {
    const room = new Room();
    const a = socket('a');
    await room.arrive(a, ALICE, { session: async (id) => `${id}.0.${'t'.repeat(43)}` });
    const [welcome] = a.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.session, `${ALICE}.0.${'t'.repeat(43)}`);
    assert.equal(welcome.resumed, undefined);
  });

  test('a member whose socket stays open is handed a fresh session token every SESSION_REISSUE_MS (tokens expire); one away, or never given one, is not', async () => {
    assert.ok(SESSION_REISSUE_MS + 20_000 + SNAPSHOT_REFRESH_MS < (SESSION_TTL_S * 1000) / 2, 'a token a member holds is far from its expiry');
    const clock = { t: 1_000_000 };
    const room = new Room({ capacity: 3, rateLimit: NO_RATE_LIMIT, now: () => clock.t });
    let signed = 0;
    const sign = async (id: string) => `${id}.${(++signed).toString(36)}.${'s'.repeat(43)}`;
    const [c, d, e] = [socket('c'), socket('d'), socket('e')];
    await room.arrive(c, CAROL, { session: sign });
    await room.arrive(d, DAVE); // no signer: no tokens
    await room.arrive(e, ERIN, { session: sign });
    send(room, e, { type: 'ping' });
    room.drop(e); // away: its next token comes with its resume's welcome
    for (const s of [c, d, e]) s.take();
    const pass = async (ms: number) => {
      for (let t = 0; t < ms; t += 5_000) {
        clock.t += 5_000;
        for (const s of [c, d]) send(room, s, { type: 'ping' });
        room.tick();
      }
      await settle();
    };
    await pass(SESSION_REISSUE_MS - 5_000);
    assert.deepEqual(c.ofType('session'), [], 'not before the period is over');
    await pass(5_000);
    assert.deepEqual(c.ofType('session'), [{ type: 'session', session: `${CAROL}.3.${'s'.repeat(43)}` }]);
    assert.deepEqual(d.ofType('session'), []);
    assert.deepEqual(e.received, []);
    await pass(SESSION_REISSUE_MS);
    assert.deepEqual(c.ofType('session').map((m) => m.session), [`${CAROL}.3.${'s'.repeat(43)}`, `${CAROL}.4.${'s'.repeat(43)}`]);
  });

  test('a dropped socket is held: nobody is told, and the slot stays taken', async () => {
    const { room, a, b } = await callOfTwo();
    room.drop(a);
    assert.deepEqual(b.take(), []);
    assert.equal(room.size, 2);
    assert.equal(room.full, true);
    // Signals to an away peer go nowhere and say so.
    send(room, b, offer(ALICE));
    assert.deepEqual(errorCodes(b.take()), ['no-peer']);
  });

  test('a member never heard from is removed when its socket drops: peer-left, and its slot is free at once', async () => {
    // A page that gave up while connecting (its socket closed before it read
    // the welcome) has no session token: held, it could never come back, and
    // its next try would find a 1:1 room full of its own ghost.
    const room = new Room({ rateLimit: NO_RATE_LIMIT });
    const [a, b] = [socket('a'), socket('b')];
    await room.arrive(a, ALICE);
    join(room, a, 'Alice');
    await room.arrive(b, BOB);
    a.take();
    room.drop(b);
    assert.deepEqual(a.take(), [{ type: 'peer-left', id: BOB, reason: 'left' }]);
    assert.equal(room.size, 1);
    const again = socket('b-again');
    await room.arrive(again, CAROL);
    assert.equal(again.take()[0]?.type, 'welcome');
  });

  test('a member never heard from and silent past the heartbeat timeout is removed, not held', async () => {
    const clock = { t: 1_000_000 };
    const room = new Room({ rateLimit: NO_RATE_LIMIT, now: () => clock.t });
    const [a, b] = [socket('a'), socket('b')];
    await room.arrive(a, ALICE);
    await room.arrive(b, BOB);
    a.take();
    clock.t += HEARTBEAT_TIMEOUT_MS - 1_000;
    send(room, a, { type: 'ping' });
    clock.t += 2_000;
    room.tick();
    assert.deepEqual(a.take(), [{ type: 'pong' }, { type: 'peer-left', id: BOB, reason: 'left' }]);
    assert.deepEqual(b.closes, [{ code: 4000, reason: 'silent' }]);
    assert.equal(room.size, 1);
  });

  test('a resume that arrives while its old, never-heard socket times out still gets its place back', async () => {
    // The ping answering the welcome was lost on a half-open socket; the
    // client comes back with its token just as the heartbeat timeout fires.
    const clock = { t: 1_000_000 };
    let release = () => {};
    const slow = new Promise<void>((resolve) => (release = resolve));
    let mints = 0;
    const room = new Room({
      rateLimit: NO_RATE_LIMIT,
      now: () => clock.t,
      mintIceServers: async () => {
        if (mints++ === 1) await slow; // the resume's grant is slow
        return { iceServers: [] };
      },
    });
    const [a, back] = [socket('a'), socket('back')];
    await room.arrive(a, ALICE);
    const arriving = room.arrive(back, BOB, { resumeId: ALICE });
    clock.t += HEARTBEAT_TIMEOUT_MS + 1_000;
    room.tick();
    release();
    await arriving;
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.id, ALICE);
    assert.equal(welcome.resumed, true);
  });

  test('a resume whose grace runs out while its ICE servers are minted gets a new id, like any late token (not room-unavailable, which is final)', async () => {
    let release = () => {};
    const slow = new Promise<void>((resolve) => (release = resolve));
    let mints = 0;
    const { room, clock, a, b, session } = await callOfTwo({
      mintIceServers: async () => {
        if (mints++ === 2) await slow; // the resume's grant (after Alice's and Bob's)
        return { iceServers: [] };
      },
    });
    room.drop(a);
    clock.t += 19_000;
    const back = socket('a-again');
    const arriving = room.arrive(back, CAROL, { resumeId: ALICE, session });
    // Meanwhile her grace runs out: Bob sees her leave.
    clock.t += 2_000;
    send(room, b, { type: 'ping' });
    room.tick();
    assert.deepEqual(handedHost(b.take()), [{ type: 'pong' }, { type: 'peer-left', id: ALICE, reason: 'left' }]);
    release();
    await arriving;
    await settle();
    assert.deepEqual(back.closes, [], 'not turned away');
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome', `a welcome, not ${JSON.stringify(welcome)}`);
    assert.equal(welcome.id, CAROL, 'a new id: Bob saw Alice leave');
    assert.equal(welcome.session, `${CAROL}.0.${'s'.repeat(43)}`);
    assert.equal(welcome.resumed, undefined);
    assert.deepEqual(b.take(), [{ type: 'peer-joined', peer: { id: CAROL, name: '', inCall: false } }]);
  });

  test('a knocker who arrived with a session token is held through a drop once admitted', async () => {
    const { room, host } = await hostedRoom();
    send(room, host, { type: 'lock', locked: true });
    const [k, fresh] = [socket('k'), socket('fresh')];
    await room.arrive(k, BOB, { resumeId: CAROL });
    await room.arrive(fresh, DAVE);
    join(room, k, 'Carol');
    join(room, fresh, 'Dave');
    send(room, host, { type: 'admit', id: CAROL });
    send(room, host, { type: 'admit', id: DAVE });
    await settle();
    host.take();
    room.drop(k);
    room.drop(fresh);
    assert.deepEqual(host.take(), [{ type: 'peer-left', id: DAVE, reason: 'left' }], 'Carol held, Dave (no token, never heard) gone');
  });

  test('one frame (the ping a client answers its welcome with), or a session token on arrival, is enough to be held', async () => {
    const room = new Room({ rateLimit: NO_RATE_LIMIT });
    const [a, b, c] = [socket('a'), socket('b'), socket('c')];
    await room.arrive(a, ALICE);
    await room.arrive(b, BOB);
    send(room, b, { type: 'ping' });
    a.take();
    room.drop(b);
    assert.deepEqual(a.take(), [], 'Bob is away, not gone');
    assert.equal(room.size, 2);
    room.remove(a);
    // Dave's token names an id the room forgot (a restart): he gets it back, and has his token.
    await room.arrive(c, CAROL, { resumeId: DAVE });
    room.drop(c);
    assert.equal(room.size, 2, 'Dave is held too');
    // A new socket with Dave's token replaces his silent one: it has his token.
    const other = new Room({ rateLimit: NO_RATE_LIMIT });
    const [d, d2] = [socket('d'), socket('d2')];
    await other.arrive(d, DAVE);
    await other.arrive(d2, ALICE, { resumeId: DAVE });
    other.drop(d2);
    assert.equal(other.size, 1, 'Dave is held');
  });

  test('resume within the grace: same id and slot, all others listed, resumed, nothing announced', async () => {
    const { room, clock, a, b, session } = await callOfTwo();
    room.drop(a);
    clock.t += 8_000;
    send(room, b, { type: 'ping' }); // b stays alive
    clock.t += 7_000;
    room.tick();
    b.take();
    const back = socket('a-again');
    await room.arrive(back, CAROL, { resumeId: ALICE, session });
    const [welcome, ...rest] = back.take();
    assert.deepEqual(rest, []);
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.id, ALICE);
    assert.equal(welcome.resumed, true);
    assert.deepEqual(welcome.peers, [{ id: BOB, name: 'Bob', inCall: true }]);
    assert.equal(welcome.session, `${ALICE}.0.${'s'.repeat(43)}`);
    assert.deepEqual(b.take(), [], 'no peer-left, no peer-joined');
    assert.equal(room.size, 2);
    // It is in the call as before: signals flow both ways.
    send(room, b, offer(ALICE, 'v=1'));
    assert.equal(back.take()[0]?.type, 'signal');
    send(room, back, offer(BOB, 'v=2'));
    assert.deepEqual(b.take().map((m) => m.type === 'signal' && m.from), [ALICE]);
    // The old socket is dead to the room.
    send(room, a, offer(BOB));
    assert.deepEqual(b.take(), []);
  });

  test('resume: who hung up within the grace is named (hungUp); who just went is not', async () => {
    const { room, clock, a, b, session } = await callOfTwo({ capacity: 4 });
    const [c, d] = [socket('c'), socket('d')];
    await room.arrive(c, CAROL, { session });
    await room.arrive(d, DAVE, { session });
    join(room, c, 'Carol');
    join(room, d, 'Dave');
    send(room, d, { type: 'leave' }); // Dave hangs up while Alice is still here
    clock.t += 1_000;
    send(room, a, { type: 'ping' });
    room.drop(a);
    clock.t += 1_000;
    send(room, b, { type: 'leave' }); // Bob hangs up while Alice is away
    send(room, c, { type: 'bye' }); // Carol closes her tab
    const back = socket('a-again');
    await room.arrive(back, 'erin-0123456789abcdefg', { resumeId: ALICE, session });
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome' && welcome.resumed);
    assert.deepEqual(welcome.peers, []);
    assert.deepEqual(welcome.hungUp, [DAVE, BOB]);
    // Past the grace a hang-up is forgotten.
    clock.t += 20_001;
    room.drop(back);
    const later = socket('a-later');
    send(room, back, { type: 'ping' });
    await room.arrive(later, 'erin-0123456789abcdefg', { resumeId: ALICE, session });
    const [again] = later.take();
    assert.ok(again?.type === 'welcome');
    assert.equal(again.hungUp, undefined);
  });

  test(`hungUp holds the latest ${LIMITS.hungUpIds} hang-ups, so a busy room's welcome stays bounded`, async () => {
    const { room, a, b, session } = await callOfTwo();
    room.drop(a);
    send(room, b, { type: 'leave' });
    const ids: string[] = [BOB];
    for (let i = 0; i < LIMITS.hungUpIds; i++) {
      const id = `visitor-${String(i).padStart(14, '0')}`;
      const s = socket(id);
      room.admit(s, id, ICE);
      send(room, s, { type: 'leave' });
      ids.push(id);
    }
    const back = socket('a-again');
    await room.arrive(back, CAROL, { resumeId: ALICE, session });
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome');
    assert.deepEqual(welcome.hungUp, ids.slice(-LIMITS.hungUpIds), 'the latest, oldest first; Bob dropped off');
  });

  test('resume while the old socket still looks alive replaces it', async () => {
    const { room, a, b, session } = await callOfTwo();
    const back = socket('a-again');
    await room.arrive(back, CAROL, { resumeId: ALICE, session });
    assert.deepEqual(a.closes, [{ code: 4000, reason: 'replaced' }]);
    assert.equal(back.take()[0]?.type, 'welcome');
    room.drop(a); // its close event arrives later: it must not unseat the new socket
    send(room, b, offer(ALICE));
    assert.equal(back.take()[0]?.type, 'signal');
  });

  test('past the grace the others get peer-left; a late token gets a fresh place under a new id', async () => {
    const { room, clock, a, b, session } = await callOfTwo();
    clock.t += 5_000;
    send(room, a, { type: 'ping' });
    assert.deepEqual(a.take(), [{ type: 'pong' }]);
    room.drop(a);
    clock.t += 9_000;
    send(room, b, { type: 'ping' });
    clock.t += 9_000;
    send(room, b, { type: 'ping' });
    clock.t += 1_000;
    room.tick();
    assert.deepEqual(b.take(), [{ type: 'pong' }, { type: 'pong' }], '19 s after its last frame: still held');
    clock.t += 1_500;
    room.tick();
    assert.deepEqual(handedHost(b.take()), [{ type: 'peer-left', id: ALICE, reason: 'left' }]);
    assert.equal(room.size, 1);
    const late = socket('late');
    await room.arrive(late, CAROL, { resumeId: ALICE, session });
    const [welcome] = late.take();
    assert.ok(welcome?.type === 'welcome');
    // Bob saw Alice leave and closed his link: under her old id her page
    // would keep its own (and its role), as if nothing had happened.
    assert.equal(welcome.id, CAROL, 'a new id: the page starts its links over');
    assert.equal(welcome.session, `${CAROL}.0.${'s'.repeat(43)}`);
    assert.equal(welcome.resumed, undefined, 'a new arrival, announced as one');
    assert.deepEqual(b.take(), [{ type: 'peer-joined', peer: { id: CAROL, name: '', inCall: false } }]);
  });

  test('a removed member\'s token gets a new id after the room emptied too, and after a hang-up; the room remembers the last 256 removals', async () => {
    const { room, a, b, session } = await callOfTwo();
    send(room, a, { type: 'leave' });
    send(room, b, { type: 'leave' });
    assert.equal(room.size, 0, 'the room emptied');
    for (const [old, fresh] of [
      [ALICE, CAROL],
      [BOB, DAVE],
    ] as const) {
      const back = socket(`back-${old}`);
      await room.arrive(back, fresh, { resumeId: old, session });
      const [welcome] = back.take();
      assert.ok(welcome?.type === 'welcome');
      assert.equal(welcome.id, fresh, `${old}'s token`);
      send(room, back, { type: 'leave' });
    }
    // 256 removals in all (Alice's the first, Bob's the second): Alice's is
    // still remembered, and her token let in anew makes hers the newest
    // entry. At 257 the oldest, Bob's, is forgotten: his token names an id
    // the room never saw leave, as after a restart, and he gets it back.
    const churn = async (i: number) => {
      const s = socket(`churn-${i}`);
      await room.arrive(s, `churn${String(i).padStart(11, '0')}`);
      send(room, s, { type: 'leave' });
    };
    for (let i = 0; i < 252; i++) await churn(i);
    const at256 = socket('at-256');
    await room.arrive(at256, ERIN, { resumeId: ALICE, session });
    const [first] = at256.take();
    assert.ok(first?.type === 'welcome');
    assert.equal(first.id, ERIN, 'the 256th removal: still remembered');
    send(room, at256, { type: 'leave' }); // the 257th
    for (const [id, expected] of [
      [ALICE, 'fresh2-0123456789abc'],
      [BOB, BOB],
    ] as const) {
      const again = socket(`again-${id}`);
      await room.arrive(again, 'fresh2-0123456789abc', { resumeId: id, session });
      const [welcome] = again.take();
      assert.ok(welcome?.type === 'welcome');
      assert.equal(welcome.id, expected, id === ALICE ? 'let in anew: still remembered' : 'past the 256 removals remembered');
      send(room, again, { type: 'leave' });
    }
  });

  test('a removed member let in under a new id whose page lost that welcome: its old token again gets the new member back, not a third id (the room would be full of its ghost)', async () => {
    const { room, clock, a, b, session } = await callOfTwo();
    room.drop(a);
    clock.t += 21_000;
    send(room, b, { type: 'ping' });
    room.tick();
    assert.ok(b.take().some((m) => m.type === 'peer-left'));
    const first = socket('first');
    await room.arrive(first, CAROL, { resumeId: ALICE, session });
    assert.equal(first.take()[0]?.type, 'welcome');
    send(room, first, { type: 'ping' }); // heard from, then gone before the page read its welcome
    room.drop(first);
    const retry = socket('retry');
    await room.arrive(retry, DAVE, { resumeId: ALICE, session });
    const [welcome] = retry.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.id, CAROL);
    assert.equal(welcome.resumed, true);
    assert.deepEqual(retry.closes, []);
    assert.equal(room.size, 2);
  });

  test('in a locked room the removed member knocks under a new id; once admitted, its old token gets that member back', async () => {
    const { room, clock, a, b, session } = await callOfTwo();
    send(room, a, { type: 'lock', locked: true });
    room.drop(a);
    clock.t += 21_000;
    send(room, b, { type: 'ping' });
    room.tick();
    b.take();
    const knocker = socket('knocker');
    await room.arrive(knocker, CAROL, { resumeId: ALICE, session });
    assert.deepEqual(knocker.take(), [{ type: 'lobby' }]);
    send(room, knocker, { type: 'join', name: 'Alice' });
    assert.deepEqual(b.take().filter((m) => m.type === 'knocks'), [{ type: 'knocks', peers: [{ id: CAROL, name: 'Alice', inCall: false }] }]);
    send(room, b, { type: 'admit', id: CAROL });
    await settle();
    assert.equal(knocker.take()[0]?.type, 'welcome');
    send(room, knocker, { type: 'ping' });
    room.drop(knocker);
    const retry = socket('retry');
    await room.arrive(retry, DAVE, { resumeId: ALICE, session });
    const [welcome] = retry.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.id, CAROL);
  });


  test('back under a new id past the grace: the welcome names who hung up while it was away, even once the room emptied (its 1:1 call must end, not wait)', async () => {
    const { room, clock, a, b, session } = await callOfTwo();
    room.drop(a);
    clock.t += 1_000;
    send(room, b, { type: 'leave' }); // Bob hangs up while Alice is away
    clock.t += 21_000;
    room.tick(); // Alice's grace runs out: the room empties
    assert.equal(room.size, 0);
    clock.t += 10 * 60_000; // her page comes back ten minutes on
    const back = socket('back');
    await room.arrive(back, CAROL, { resumeId: ALICE, session });
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.id, CAROL);
    assert.equal(welcome.replaces, ALICE);
    assert.deepEqual(welcome.peers, []);
    assert.deepEqual(welcome.hungUp, [BOB]);
    // A newcomer with no token is told nothing of who hung up.
    const fresh = socket('fresh');
    await room.arrive(fresh, DAVE, { session });
    const [other] = fresh.take();
    assert.ok(other?.type === 'welcome');
    assert.deepEqual([other.hungUp, other.replaces], [undefined, undefined]);
  });

  test('a page that lost the welcome of its new id, back with its old token, resumes that id and is told all it would have been told then (not only the grace\'s hang-ups)', async () => {
    const { room, clock, a, b, session } = await callOfTwo();
    room.drop(a);
    clock.t += 1_000;
    send(room, b, { type: 'leave' });
    clock.t += 21_000;
    room.tick();
    clock.t += 60_000;
    const first = socket('first');
    await room.arrive(first, CAROL, { resumeId: ALICE, session });
    assert.equal(first.take()[0]?.type, 'welcome'); // lost with its socket
    send(room, first, { type: 'ping' });
    room.drop(first);
    clock.t += 2_000;
    const second = socket('second');
    await room.arrive(second, DAVE, { resumeId: ALICE, session });
    const [welcome] = second.take();
    assert.ok(welcome?.type === 'welcome');
    assert.deepEqual([welcome.id, welcome.resumed, welcome.replaces], [CAROL, true, ALICE]);
    assert.deepEqual(welcome.hungUp, [BOB], 'a minute before: past the grace, still told');
  });

  test('a hang-up is remembered as long as a token verifies (65 min), no longer; one just gone is no hang-up', async () => {
    const { room, clock, a, b, session } = await callOfTwo({ capacity: 3 });
    const c = socket('c');
    await room.arrive(c, CAROL, { session });
    join(room, c, 'Carol');
    room.drop(a);
    send(room, b, { type: 'leave' });
    send(room, c, { type: 'bye' }); // Carol closes her tab: not a hang-up
    clock.t += (SESSION_TTL_S + SESSION_CLOCK_SKEW_S) * 1000;
    room.tick();
    const back = socket('back');
    await room.arrive(back, DAVE, { resumeId: ALICE, session });
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome');
    assert.deepEqual(welcome.hungUp, [BOB], 'at 65 min: still told');
    send(room, back, { type: 'leave' });
    clock.t += 1;
    const late = socket('late');
    await room.arrive(late, ERIN, { resumeId: DAVE, session });
    const [again] = late.take();
    assert.ok(again?.type === 'welcome');
    assert.deepEqual(again.hungUp, [DAVE], "past 65 min Bob's hang-up is forgotten; Dave's own (his token's) is there");
  });

  test('in a locked room the removed member admitted under a new id is told who hung up meanwhile', async () => {
    const { room, clock, a, b, session } = await callOfTwo({ capacity: 3 });
    const c = socket('c');
    await room.arrive(c, CAROL, { session });
    join(room, c, 'Carol');
    send(room, a, { type: 'lock', locked: true });
    room.drop(a);
    send(room, c, { type: 'leave' });
    clock.t += 21_000;
    send(room, b, { type: 'ping' });
    room.tick();
    b.take();
    const knocker = socket('knocker');
    await room.arrive(knocker, DAVE, { resumeId: ALICE, session });
    assert.deepEqual(knocker.take(), [{ type: 'lobby' }]);
    send(room, knocker, { type: 'join', name: 'Alice' });
    send(room, b, { type: 'admit', id: DAVE });
    await settle();
    const [welcome] = knocker.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.id, DAVE);
    assert.deepEqual(welcome.hungUp, [CAROL]);
  });

  test('a socket silent past the heartbeat timeout is closed and held; peer-left follows at the grace', async () => {
    const { room, clock, a, b } = await callOfTwo();
    clock.t += 9_000;
    send(room, b, { type: 'ping' });
    b.take();
    clock.t += 1_500; // a: 10.5 s of silence
    room.tick();
    assert.deepEqual(a.closes, [{ code: 4000, reason: 'silent' }]);
    assert.deepEqual(b.closes, []);
    assert.deepEqual(b.take(), []);
    clock.t += 9_000; // a: 19.5 s
    send(room, b, { type: 'ping' });
    room.tick();
    assert.deepEqual(b.take(), [{ type: 'pong' }]);
    clock.t += 1_000; // a: 20.5 s
    send(room, b, { type: 'ping' });
    b.take();
    room.tick();
    assert.deepEqual(handedHost(b.take()), [{ type: 'peer-left', id: ALICE, reason: 'left' }]);
  });

  test('bye: the others get peer-left (left) at once; leave says hangup', async () => {
    const { room, a, b } = await callOfTwo();
    send(room, a, { type: 'bye' });
    assert.deepEqual(handedHost(b.take()), [{ type: 'peer-left', id: ALICE, reason: 'left' }]);
    assert.deepEqual(a.closes, [{ code: 1000, reason: 'left' }]);
    assert.equal(room.size, 1);
  });

  test('a resumed host keeps its host role and key', async () => {
    const { room, a, session } = await callOfTwo();
    room.drop(a);
    const back = socket('a-again');
    await room.arrive(back, CAROL, { resumeId: ALICE, session });
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome' && welcome.hostKey);
    send(room, back, { type: 'lock', locked: true });
    assert.deepEqual(back.take(), [{ type: 'lock-changed', locked: true }]);
  });

  test('tick reports whether the room still has members', async () => {
    const { room, a, b } = await callOfTwo();
    assert.equal(room.tick(), true);
    room.remove(a);
    room.remove(b);
    assert.equal(room.tick(), false);
  });
});

// ------------------------------------------------------------------ restarts

describe('a restart of the room server (snapshot in room storage)', () => {
  /**
   * A locked room of Alice (host) and Bob in a call, on a fake clock, whose
   * snapshots are collected as room storage would keep them.
   */
  async function lockedCall(options: RoomOptions = {}) {
    const saved: (RoomSnapshot | null)[] = [];
    const call = await callOfTwo({ save: (s) => saved.push(structuredClone(s)), ...options });
    send(call.room, call.a, { type: 'lock', locked: true });
    call.a.take();
    call.b.take();
    const hostKey = saved.at(-1)?.hostKey;
    assert.ok(hostKey);
    return { ...call, saved, hostKey };
  }

  /** The server restarts: a new room on the same clock, fed the last snapshot saved. */
  function restart(clock: { t: number }, saved: (RoomSnapshot | null)[], options: RoomOptions = {}) {
    const again: (RoomSnapshot | null)[] = [];
    const room = new Room({ rateLimit: NO_RATE_LIMIT, now: () => clock.t, save: (s) => again.push(structuredClone(s)), ...options });
    return { room, restored: room.restore(structuredClone(saved.at(-1))), saved: again };
  }

  /** `socket` arrives with the session token of `id`: resumes if the room holds it. */
  async function comeBack(room: Room, id: string, label: string, extra: { hostKey?: string } = {}) {
    const s = socket(label);
    await room.arrive(s, `${label.replace(/\W/g, '')}-0123456789abcdefghij`.slice(0, 22), {
      resumeId: id,
      session: async (peer) => `${peer}.0.${'s'.repeat(43)}`,
      ...extra,
    });
    return s;
  }

  test('every change is saved: members with name, call state and host role, the lock and the key', async () => {
    const { room, saved, a, hostKey } = await lockedCall();
    assert.deepEqual(saved.at(-1), {
      savedAt: 1_000_000,
      locked: true,
      hostKey,
      members: [
        { id: ALICE, name: 'Alice', inCall: true, host: true, heard: true, lastSeen: 1_000_000 },
        { id: BOB, name: 'Bob', inCall: true, host: false, heard: true, lastSeen: 1_000_000 },
      ],
      hungUp: [],
      ring: null,
      removed: [],
    });
    send(room, a, { type: 'leave' });
    assert.deepEqual(
      saved.at(-1)?.members.map((m) => [m.id, m.host]),
      [[BOB, true]],
      'the hand-over is saved',
    );
  });

  test('a member removed before a restart, or left out by it, comes back under a new id: the others saw it leave', async () => {
    // Removed (its grace ran out), then a deploy: the snapshot names it.
    {
      const saved: (RoomSnapshot | null)[] = [];
      const { room, clock, a, b } = await callOfTwo({ save: (s) => saved.push(structuredClone(s)) });
      room.drop(a);
      clock.t += 21_000;
      send(room, b, { type: 'ping' });
      room.tick();
      assert.ok(b.take().some((m) => m.type === 'peer-left'));
      assert.deepEqual(saved.at(-1)?.removed, [ALICE]);
      clock.t += 2000;
      const { room: again, restored } = restart(clock, saved);
      assert.equal(restored, true);
      await comeBack(again, BOB, 'bob');
      const alice = await comeBack(again, ALICE, 'back');
      const [welcome] = alice.take();
      assert.ok(welcome?.type === 'welcome');
      assert.equal(welcome.id, 'back-0123456789abcdefg', 'a new id');
    }
    // Its grace ran out while the server was down: the restart leaves it out,
    // and Bob, resuming, finds it gone.
    {
      const saved: (RoomSnapshot | null)[] = [];
      const { room, clock, a, b } = await callOfTwo({ save: (s) => saved.push(structuredClone(s)) });
      room.drop(a);
      clock.t += 15_000;
      send(room, b, { type: 'ping' });
      room.tick(); // saved again, with Alice away
      assert.deepEqual(saved.at(-1)?.removed, []);
      clock.t += 8000;
      const { room: again, restored } = restart(clock, saved);
      assert.equal(restored, true);
      const bob = await comeBack(again, BOB, 'bob');
      const [resumed] = bob.take();
      assert.ok(resumed?.type === 'welcome' && resumed.resumed);
      assert.deepEqual(resumed.peers, [], 'Alice is gone for Bob');
      const alice = await comeBack(again, ALICE, 'back');
      const [welcome] = alice.take();
      assert.ok(welcome?.type === 'welcome');
      assert.equal(welcome.id, 'back-0123456789abcdefg', 'a new id');
    }
  });

  test('the room is saved again every SNAPSHOT_REFRESH_MS while it has members, and forgotten when it empties', async () => {
    const { room, clock, saved, a, b } = await lockedCall();
    const count = saved.length;
    clock.t += SNAPSHOT_REFRESH_MS - 1;
    send(room, a, { type: 'ping' });
    send(room, b, { type: 'ping' });
    room.tick();
    assert.equal(saved.length, count, 'nothing changed, and the last save is recent');
    clock.t += 1;
    room.tick();
    assert.equal(saved.length, count + 1);
    assert.equal(saved.at(-1)?.savedAt, clock.t);
    room.remove(a);
    room.remove(b);
    assert.equal(saved.at(-1), null);
    clock.t += SNAPSHOT_REFRESH_MS;
    room.tick();
    assert.equal(saved.at(-1), null, 'an empty room saves nothing more');
  });

  test('members coming back with their tokens find the room locked, their roles and names as they were, and hear of no arrival', async () => {
    const { clock, saved, session, hostKey } = await lockedCall({ capacity: 3 });
    clock.t += 4_000; // the server died 4 s after its last save; the clients reconnect
    const { room, restored } = restart(clock, saved, { capacity: 3 });
    assert.equal(restored, true);
    assert.equal(room.locked, true);
    const bob = socket('bob-again');
    await room.arrive(bob, CAROL, { resumeId: BOB, session });
    const [welcome, ...rest] = bob.take();
    assert.deepEqual(rest, []);
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.id, BOB);
    assert.equal(welcome.resumed, true, 'a resume, not an admission: the lock does not send it to the lobby');
    assert.equal(welcome.locked, true);
    assert.equal(welcome.hostKey, undefined, 'Bob, back first, is not made host');
    assert.deepEqual(welcome.peers, [{ id: ALICE, name: 'Alice', inCall: true }]);
    const alice = socket('alice-again');
    await room.arrive(alice, DAVE, { resumeId: ALICE, session, hostKey });
    const [aliceWelcome] = alice.take();
    assert.ok(aliceWelcome?.type === 'welcome');
    assert.equal(aliceWelcome.resumed, true);
    assert.equal(aliceWelcome.hostKey, hostKey, 'the host is the host again, with the same key');
    assert.deepEqual(bob.take(), [], 'no peer-joined');
    // Both in the call as before: signals flow.
    send(room, alice, offer(BOB));
    assert.equal(bob.take()[0]?.type, 'signal');
    // A newcomer waits in the lobby, and the host admits it.
    const carol = socket('carol');
    await room.arrive(carol, 'carol-0123456789abcd', { session });
    assert.deepEqual(carol.take(), [{ type: 'lobby' }]);
    join(room, carol, 'Carol');
    assert.deepEqual(alice.take(), [{ type: 'knocks', peers: [{ id: 'carol-0123456789abcd', name: 'Carol', inCall: false }] }]);
    send(room, alice, { type: 'admit', id: 'carol-0123456789abcd' });
    await settle();
    assert.equal(carol.take()[0]?.type, 'welcome');
  });

  test('a member not back within the grace is gone: peer-left, and the host role passes on', async () => {
    const { clock, saved, session } = await lockedCall();
    const { room } = restart(clock, saved);
    const bob = socket('bob-again');
    await room.arrive(bob, CAROL, { resumeId: BOB, session });
    bob.take();
    clock.t += 19_000;
    send(room, bob, { type: 'ping' });
    room.tick();
    assert.deepEqual(bob.take(), [{ type: 'pong' }]);
    clock.t += 1_500;
    send(room, bob, { type: 'ping' });
    room.tick();
    const frames = bob.take();
    assert.deepEqual(frames.slice(0, 2), [{ type: 'pong' }, { type: 'peer-left', id: ALICE, reason: 'left' }]);
    assert.deepEqual(handedHost(frames.slice(2)), []);
    assert.equal(room.locked, true, 'the new host decides about the lock');
  });

  test('nobody back within the grace: the room empties, unlocks and forgets its snapshot', async () => {
    const { clock, saved } = await lockedCall();
    const { room, saved: again } = restart(clock, saved);
    clock.t += 20_001;
    assert.equal(room.tick(), false);
    assert.equal(room.locked, false);
    assert.equal(again.at(-1), null);
    const newcomer = socket('newcomer');
    await room.arrive(newcomer, CAROL);
    const [welcome] = newcomer.take();
    assert.ok(welcome?.type === 'welcome' && welcome.hostKey, 'an empty room: the first in is host');
  });

  test('an emptied room whose server is evicted still tells a page back past the grace who hung up meanwhile: the memory is saved while it has a hang-up (65 min), no longer', async () => {
    const { clock, saved } = await lockedCall();
    const { room, saved: afterRestart } = restart(clock, saved); // the members are held, away
    const back = await comeBack(room, BOB, 'bob-back');
    back.take();
    send(room, back, { type: 'join', name: 'Bob' });
    send(room, back, { type: 'leave' }); // Bob hangs up while Alice is away
    clock.t += 21_000;
    room.tick(); // Alice's grace is over: the room empties
    assert.equal(room.size, 0);
    clock.t += 10 * 60_000; // ten minutes on, the idle server was evicted: a new one, fed what storage holds
    const { room: evicted, restored, saved: later } = restart(clock, afterRestart);
    assert.equal(restored, true, 'the memory of who left is taken back');
    assert.equal(evicted.size, 0);
    const alice = await comeBack(evicted, ALICE, 'alice-back');
    const [welcome] = alice.take();
    assert.ok(welcome?.type === 'welcome');
    assert.notEqual(welcome.id, ALICE, 'removed: a new id');
    assert.equal(welcome.replaces, ALICE);
    assert.deepEqual(welcome.hungUp, [BOB]);
    assert.equal(later.at(-1)?.members.length, 1);
  });

  test('an emptied room with no hang-up to tell saves nothing; a memory past 65 min is not taken back', async () => {
    const saves: (RoomSnapshot | null)[] = [];
    const clock = { t: 1_000_000 };
    const room = new Room({ rateLimit: NO_RATE_LIMIT, now: () => clock.t, save: (s) => saves.push(structuredClone(s)) });
    const [a, b] = [socket('a'), socket('b')];
    await room.arrive(a, ALICE);
    await room.arrive(b, BOB);
    send(room, a, { type: 'bye' });
    send(room, b, { type: 'bye' });
    assert.equal(saves.at(-1), null, 'gone, nobody hung up: nothing kept');
    const c = socket('c');
    await room.arrive(c, CAROL);
    send(room, c, { type: 'leave' });
    const memory = saves.at(-1);
    assert.deepEqual(memory?.hungUp.map((d) => d.id), [CAROL]);
    assert.deepEqual(memory?.members, []);
    clock.t += (SESSION_TTL_S + SESSION_CLOCK_SKEW_S) * 1000 + 1;
    const { restored } = restart(clock, [memory!]);
    assert.equal(restored, false, 'past 65 min: nothing to tell (the caller deletes it)');
  });

  test('a snapshot older than the grace plus the refresh period is of a room long gone: ignored', async () => {
    const { clock, saved } = await lockedCall();
    clock.t += 20_000 + SNAPSHOT_REFRESH_MS + 1;
    const { room, restored } = restart(clock, saved);
    assert.equal(restored, false);
    assert.equal(room.locked, false);
    assert.equal(room.size, 0);
  });

  test('what storage hands back is checked: anything malformed is ignored, never thrown on', async () => {
    const { clock, saved } = await lockedCall();
    const good = saved.at(-1)!;
    const bad: unknown[] = [
      undefined,
      null,
      'room',
      {},
      { ...good, savedAt: 'now' },
      { ...good, locked: 'yes' },
      { ...good, hostKey: 'short' },
      { ...good, members: [] },
      { ...good, members: [{ ...good.members[0], id: 'bad id!' }] },
      { ...good, members: [{ ...good.members[0], name: 42 }] },
      { ...good, members: [{ ...good.members[0], name: 'n'.repeat(1000) }] },
      { ...good, members: [{ ...good.members[0], host: 1 }] },
      { ...good, savedAt: clock.t + 60_000 },
    ];
    for (const snapshot of bad) {
      const room = new Room({ now: () => clock.t });
      assert.equal(room.restore(snapshot), false, JSON.stringify(snapshot));
      assert.equal(room.size, 0);
      assert.equal(room.locked, false);
    }
    // A name the rules have narrowed since it was saved is cleaned, not a
    // reason to lose the room (a deploy would unlock it, its host and ring gone).
    const { room, restored } = restart(clock, [{ ...good, members: [{ ...good.members[0]!, name: '\u202EAl\u200bice' }, ...good.members.slice(1)] }]);
    assert.equal(restored, true);
    assert.equal(room.locked, true);
    const back = await comeBack(room, good.members[0]!.id, 'back');
    const [welcome] = back.take();
    assert.ok(welcome?.type === 'welcome' && welcome.resumed, JSON.stringify(welcome));
    const other = await comeBack(room, good.members[1]!.id, 'other');
    const [seen] = other.take();
    assert.ok(seen?.type === 'welcome');
    assert.deepEqual(seen.peers.map((p) => p.name), ['Alice']);
  });

  test('only an empty room is restored; a smaller capacity keeps the first members and the host', async () => {
    const { clock, saved } = await lockedCall();
    const snapshot = structuredClone(saved.at(-1)!);
    const member = { inCall: true, heard: true, lastSeen: clock.t };
    snapshot.members = [
      { id: BOB, name: 'Bob', host: false, ...member },
      { id: CAROL, name: 'Carol', host: false, ...member },
      { id: ALICE, name: 'Alice', host: true, ...member },
    ];
    const room = new Room({ capacity: 2, now: () => clock.t });
    assert.equal(room.restore(snapshot), true);
    assert.deepEqual(room.peers().map((p) => p.id), [BOB, ALICE]);
    assert.equal(room.restore(snapshot), false, 'not over members already there');
  });

  test("each member's grace runs from its last frame, not from the restart; one never heard from is not taken back", async () => {
    const { room: first, clock, saved, a, b } = await lockedCall({ capacity: 3 });
    first.drop(b); // Bob's socket drops at t0
    clock.t += 12_000;
    first.admit(socket('never'), CAROL, ICE); // welcomed, never heard from: no token to come back with
    send(first, a, { type: 'ping' });
    first.tick(); // the 5 s refresh: Bob away since t0, Alice here
    clock.t += 2_000; // the server dies; the clients reconnect
    const { room } = restart(clock, saved, { capacity: 3 });
    assert.deepEqual(room.peers().map((p) => p.id), [ALICE, BOB], 'Carol, never heard from, is not held');
    const alice = await comeBack(room, ALICE, 'alice-again');
    alice.take();
    clock.t += 6_001; // Bob: 20 s since his last frame
    send(room, alice, { type: 'ping' });
    room.tick();
    assert.deepEqual(alice.take(), [{ type: 'pong' }, { type: 'peer-left', id: BOB, reason: 'left' }]);
  });

  test('a ring goes on across the restart: the callee is rung again on coming back, and hears missed if the caller never does', async () => {
    const clock = { t: 1_000_000 };
    const saved: (RoomSnapshot | null)[] = [];
    const first = new Room({ rateLimit: NO_RATE_LIMIT, now: () => clock.t, save: (s) => saved.push(structuredClone(s)) });
    const session = async (id: string) => `${id}.0.${'s'.repeat(43)}`;
    const [a, b] = [socket('a'), socket('b')];
    await first.arrive(a, ALICE, { session });
    await first.arrive(b, BOB, { session });
    send(first, a, { type: 'ring', name: 'Alice', timeoutMs: 30_000 });
    send(first, b, { type: 'ping' });
    assert.deepEqual(saved.at(-1)?.ring, { caller: ALICE, callee: BOB, since: 1_000_000, timeoutMs: 30_000, accepted: false });
    clock.t += 3_000;
    const { room } = restart(clock, saved);
    const bob = await comeBack(room, BOB, 'bob-again');
    assert.deepEqual(
      bob.take().map((m) => (m.type === 'call' ? `${m.state} ${m.peer?.id}` : m.type)),
      ['welcome', `incoming ${ALICE}`],
    );
    clock.t += 17_001; // Alice: 20 s since her last frame
    send(room, bob, { type: 'ping' });
    room.tick();
    assert.deepEqual(
      bob.take().map((m) => (m.type === 'call' ? `${m.state} ${m.peer?.id}` : m.type)),
      ['pong', `missed ${ALICE}`, 'peer-left', 'host'],
    );
  });

  test('who hung up is kept across the restart: a member away meanwhile still learns it', async () => {
    const { room: first, clock, saved, b } = await lockedCall({ capacity: 3 });
    const c = socket('c');
    first.admit(c, CAROL, ICE); // admitted by the host
    join(first, c, 'Carol');
    first.drop(b); // Bob is away
    send(first, c, { type: 'leave' }); // Carol hangs up meanwhile
    assert.deepEqual(saved.at(-1)?.hungUp.map((d) => d.id), [CAROL]);
    clock.t += 3_000;
    const { room } = restart(clock, saved, { capacity: 3 });
    const bob = await comeBack(room, BOB, 'bob-again');
    const [welcome] = bob.take();
    assert.ok(welcome?.type === 'welcome' && welcome.resumed);
    assert.deepEqual(welcome.hungUp, [CAROL]);
  });

  test('a host whose grace ran out while the server was down: the role passes on at the restart, so the locked room has someone to open it', async () => {
    const { room: first, clock, saved, a, b } = await lockedCall();
    first.drop(a); // the host's socket drops; Bob stays
    for (let t = 0; t < 16_000; t += 1_000) {
      clock.t += 1_000;
      send(first, b, { type: 'ping' });
      first.tick();
    }
    assert.equal(first.size, 2, 'Alice is held when the server goes');
    clock.t += 5_000; // back 21 s after Alice's last frame: past her grace
    const { room, restored } = restart(clock, saved);
    assert.equal(restored, true);
    assert.equal(room.locked, true);
    const bob = await comeBack(room, BOB, 'bob-again');
    const [welcome] = bob.take();
    assert.ok(welcome?.type === 'welcome');
    assert.deepEqual(welcome.peers, [], 'Alice is gone');
    assert.ok(welcome.hostKey, 'Bob is host now, with the room\'s key');
    const k = socket('knocker');
    await room.arrive(k, CAROL);
    join(room, k, 'Carol');
    assert.deepEqual(bob.take(), [{ type: 'knocks', peers: [{ id: CAROL, name: 'Carol', inCall: false }] }]);
    send(room, bob, { type: 'admit', id: CAROL });
    await settle();
    assert.equal(k.take().at(-1)?.type, 'welcome');
  });

  test('only a change is saved: a repeated join or ring is not (each save is a storage write that holds the room\'s frames)', async () => {
    const { room, saved, a, b } = await lockedCall();
    const writes = saved.length;
    for (let i = 0; i < 20; i++) join(room, a, 'Alice');
    assert.equal(saved.length, writes, 'a repeated join');
    join(room, a, 'Alice B.');
    assert.equal(saved.length, writes + 1, 'a new name');
    assert.equal(saved.at(-1)?.members[0]?.name, 'Alice B.');
    // A ring from one already in the call, under the same name, is a change (the ring).
    send(room, a, { type: 'leave' });
    send(room, b, { type: 'ring', name: 'Bob', timeoutMs: 30_000 });
    assert.equal(saved.at(-1)?.ring?.caller, BOB);
    const ringWrites = saved.length;
    for (let i = 0; i < 5; i++) send(room, b, { type: 'ring', name: 'Bob', timeoutMs: 30_000 });
    assert.equal(saved.length, ringWrites, 'a repeated ring');
  });

  test('the callee of a ring into an empty room is saved when it arrives (a restart then still rings it)', async () => {
    const saved: (RoomSnapshot | null)[] = [];
    const clock = { t: 1_000_000 };
    const room = new Room({ rateLimit: NO_RATE_LIMIT, now: () => clock.t, save: (snapshot) => saved.push(structuredClone(snapshot)) });
    const a = socket('a');
    await room.arrive(a, ALICE);
    send(room, a, { type: 'ring', name: 'Alice', timeoutMs: 30_000 });
    assert.equal(saved.at(-1)?.ring?.callee, null);
    await room.arrive(socket('b'), BOB);
    assert.equal(saved.at(-1)?.ring?.callee, BOB);
  });

  test('a ring answered at once by a callee already in the call is saved as accepted', async () => {
    const { room, saved, a, b } = await lockedCall();
    b.take();
    send(room, a, { type: 'ring', name: 'Alice', timeoutMs: 30_000 });
    assert.deepEqual(
      [saved.at(-1)?.ring?.caller, saved.at(-1)?.ring?.callee, saved.at(-1)?.ring?.accepted],
      [ALICE, BOB, true],
    );
  });

  test('a ring whose caller is not taken back is over', async () => {
    const { room: first, clock, saved, a, b } = await lockedCall();
    send(first, b, { type: 'ping' });
    send(first, a, { type: 'leave' }); // Alice goes; Bob rings into the room
    send(first, b, { type: 'ring', name: 'Bob', timeoutMs: 30_000 });
    assert.equal(saved.at(-1)?.ring?.caller, BOB);
    const snapshot = structuredClone(saved.at(-1)!);
    snapshot.members.push({ id: CAROL, name: 'Carol', inCall: false, host: false, heard: true, lastSeen: clock.t });
    snapshot.members = snapshot.members.filter((m) => m.id !== BOB);
    const room = new Room({ now: () => clock.t, capacity: 3 });
    assert.equal(room.restore(snapshot), true);
    const carol = await comeBack(room, CAROL, 'carol-again');
    assert.deepEqual(carol.take().map((m) => m.type), ['welcome'], 'nobody rings Carol');
  });

  test('a newcomer to a restored unlocked room is admitted beside the away members, and is not host', async () => {
    const { room: first, clock, saved, a, session } = await lockedCall({ capacity: 3 });
    send(first, a, { type: 'lock', locked: false });
    const { room } = restart(clock, saved, { capacity: 3 });
    const carol = socket('carol');
    await room.arrive(carol, CAROL, { session });
    const [welcome] = carol.take();
    assert.ok(welcome?.type === 'welcome');
    assert.equal(welcome.hostKey, undefined);
    assert.deepEqual(welcome.peers.map((p) => p.id), [ALICE, BOB]);
  });
});

// ------------------------------------------------------------------ ring flow

describe('ring flow (mode="call")', () => {
  const RING = 30_000;
  const ring = (room: Room, from: FakeSocket, name = from.label, timeoutMs = RING) =>
    send(room, from, { type: 'ring', name, timeoutMs });
  const accept = (room: Room, from: FakeSocket, name = from.label) => send(room, from, { type: 'accept', name });
  const decline = (room: Room, from: FakeSocket) => send(room, from, { type: 'decline' });
  const calls = (s: FakeSocket) => s.take().filter((m) => m.type === 'call').map((m) => m.type === 'call' && m.state);

  /** Two present peers on a fake clock; nobody in the call yet. */
  function pair(options: RoomOptions = {}) {
    const clock = { t: 1_000_000 };
    const { room, peers } = roomOf([ALICE, BOB], { now: () => clock.t, ...options });
    const [a, b] = peers as [FakeSocket, FakeSocket];
    return { room, clock, a, b };
  }

  test('ring: the caller enters the call and hears ringing; the callee hears who calls, and nothing else', () => {
    const { room, a, b } = pair();
    ring(room, a, 'Alice');
    assert.deepEqual(a.take(), [
      { type: 'joined', peers: [] },
      { type: 'call', state: 'ringing', peer: { id: BOB, name: '', inCall: false } },
    ]);
    assert.deepEqual(b.take(), [
      { type: 'peer-updated', peer: { id: ALICE, name: 'Alice', inCall: true } },
      { type: 'call', state: 'incoming', peer: { id: ALICE, name: 'Alice', inCall: true } },
    ]);
  });

  test('a ring to one in the call already, accepted at once: the caller hears no peer-updated for it (nothing of it changed or came back: a repeat makes the caller send its first offer again); a join sent again is told to the others', () => {
    const { room, a, b } = pair();
    join(room, b, 'Bob');
    a.take();
    b.take();
    ring(room, a, 'Alice');
    assert.deepEqual(
      a.take().map((m) => (m.type === 'call' ? `call ${m.state}` : m.type)),
      ['joined', 'call ringing', 'call accepted'],
    );
    assert.deepEqual(b.take().map((m) => (m.type === 'call' ? `call ${m.state}` : m.type)), ['peer-updated', 'joined', 'call accepted']);
    // Bob's socket came back: his join again is a repeat that Alice hears.
    join(room, b, 'Bob');
    assert.deepEqual(a.take(), [{ type: 'peer-updated', peer: { id: BOB, name: 'Bob', inCall: true } }]);
  });

  test('before accept nothing is relayed either way: no SDP, no ICE candidate reaches the caller', () => {
    const { room, a, b } = pair();
    ring(room, a);
    a.take();
    b.take();
    send(room, b, candidate(ALICE));
    send(room, b, offer(ALICE));
    assert.deepEqual(errorCodes(b.take()), ['not-in-call', 'not-in-call']);
    send(room, a, offer(BOB));
    assert.deepEqual(errorCodes(a.take()), ['no-peer']);
    assert.deepEqual(a.take(), []);
  });

  test('accept: the callee enters the call with the caller to offer to; both hear accepted; signals flow', () => {
    const { room, a, b } = pair();
    ring(room, a, 'Alice');
    a.take();
    b.take();
    accept(room, b, 'Bob');
    assert.deepEqual(b.take(), [
      { type: 'joined', peers: [{ id: ALICE, name: 'Alice', inCall: true }] },
      { type: 'call', state: 'accepted', peer: { id: ALICE, name: 'Alice', inCall: true } },
    ]);
    assert.deepEqual(a.take(), [
      { type: 'peer-updated', peer: { id: BOB, name: 'Bob', inCall: true } },
      { type: 'call', state: 'accepted', peer: { id: BOB, name: 'Bob', inCall: true } },
    ]);
    send(room, b, offer(ALICE));
    assert.deepEqual(a.take().map((m) => m.type), ['signal']);
    // Accepting again (a resend after a reconnect) just re-enters.
    accept(room, b, 'Bob');
    assert.deepEqual(b.take().map((m) => m.type), ['joined']);
  });

  test('decline: both hear declined, the caller is out of the call, and the ring is over', () => {
    const { room, a, b } = pair();
    ring(room, a, 'Alice');
    a.take();
    b.take();
    decline(room, b);
    assert.deepEqual(a.take(), [{ type: 'call', state: 'declined', peer: { id: BOB, name: '', inCall: false } }]);
    assert.deepEqual(b.take(), [
      { type: 'call', state: 'declined', peer: { id: ALICE, name: 'Alice', inCall: false } },
      { type: 'peer-updated', peer: { id: ALICE, name: 'Alice', inCall: false } },
    ]);
    send(room, a, offer(BOB));
    assert.deepEqual(errorCodes(a.take()), ['not-in-call']);
    decline(room, b);
    assert.deepEqual(errorCodes(b.take()), ['no-call']);
    // A late accept of the finished ring: it was missed.
    accept(room, b);
    assert.deepEqual(b.take(), [{ type: 'call', state: 'missed' }]);
    // The room can ring again, either way.
    ring(room, b, 'Bob');
    assert.deepEqual(calls(b), ['ringing']);
    assert.deepEqual(calls(a), ['incoming']);
  });

  test('only the callee may decline or accept', () => {
    const { room, a, b } = pair();
    ring(room, a);
    a.take();
    b.take();
    decline(room, a);
    assert.deepEqual(errorCodes(a.take()), ['no-call']);
    accept(room, a);
    assert.deepEqual(calls(a), ['missed']);
    assert.deepEqual(b.take(), [], 'the callee still rings');
  });

  test('no answer within timeoutMs: both hear missed (the housekeeping tick ends it)', () => {
    const { room, clock, a, b } = pair();
    ring(room, a, 'Alice', 2000);
    a.take();
    b.take();
    clock.t += 1999;
    room.tick();
    assert.deepEqual([a.take(), b.take()], [[], []]);
    clock.t += 1;
    room.tick();
    assert.deepEqual(calls(a), ['missed']);
    assert.deepEqual(calls(b), ['missed']);
    room.tick();
    assert.deepEqual([a.take(), b.take()], [[], []], 'once');
    send(room, b, offer(ALICE));
    assert.deepEqual(errorCodes(b.take()), ['not-in-call']);
  });

  test('the caller hangs up (or leaves) before an answer: the callee missed the call', () => {
    const { room, a, b } = pair();
    ring(room, a, 'Alice');
    a.take();
    b.take();
    send(room, a, { type: 'leave' });
    assert.deepEqual(handedHost(b.take()), [
      { type: 'call', state: 'missed', peer: { id: ALICE, name: 'Alice', inCall: false } },
      { type: 'peer-left', id: ALICE, reason: 'hangup' },
    ]);
    assert.deepEqual(a.take(), [], 'nothing more to the caller, who is gone');
  });

  test('the callee reloads while it rings: the ring waits and rings it again when it is back', () => {
    const { room, clock, a, b } = pair();
    ring(room, a, 'Alice', 10_000);
    a.take();
    b.take();
    send(room, b, { type: 'bye' });
    assert.deepEqual(a.take(), [{ type: 'call', state: 'ringing' }, { type: 'peer-left', id: BOB, reason: 'left' }]);
    clock.t += 3000;
    const b2 = socket('b2');
    room.admit(b2, CAROL, ICE);
    assert.deepEqual(b2.take().slice(1), [{ type: 'call', state: 'incoming', peer: { id: ALICE, name: 'Alice', inCall: true } }]);
    assert.deepEqual(a.take(), [
      { type: 'peer-joined', peer: { id: CAROL, name: '', inCall: false } },
      { type: 'call', state: 'ringing', peer: { id: CAROL, name: '', inCall: false } },
    ]);
    // The timeout still counts from the ring.
    clock.t += 7000;
    room.tick();
    assert.deepEqual(calls(b2), ['missed']);
  });

  test('a ring into an empty room rings the first to arrive', () => {
    const { room, peers } = roomOf([ALICE]);
    const [a] = peers as [FakeSocket];
    ring(room, a, 'Alice');
    assert.deepEqual(a.take(), [{ type: 'joined', peers: [] }, { type: 'call', state: 'ringing' }]);
    const b = socket('b');
    room.admit(b, BOB, ICE);
    assert.deepEqual(b.take().map((m) => (m.type === 'call' ? m.state : m.type)), ['welcome', 'incoming']);
    assert.deepEqual(calls(a), ['ringing']);
  });

  test('glare: two rings crossing make exactly one call, whichever the room hears first', () => {
    for (const first of [0, 1]) {
      const { room, a, b } = pair();
      const [x, y] = first ? [b, a] : [a, b];
      ring(room, x, x.label);
      ring(room, y, y.label);
      const [xs, ys] = [x.take(), y.take()];
      // The second ring is an accept: the second ringer offers to the first.
      assert.deepEqual(
        ys.filter((m) => m.type === 'joined' || m.type === 'call').map((m) => (m.type === 'call' ? m.state : m.type)),
        ['incoming', 'joined', 'accepted'],
      );
      assert.deepEqual(
        xs.filter((m) => m.type === 'joined' || m.type === 'call').map((m) => (m.type === 'call' ? m.state : m.type)),
        ['joined', 'ringing', 'accepted'],
      );
      assert.deepEqual(room.peers().map((p) => p.inCall), [true, true]);
      send(room, y, offer(x === a ? ALICE : BOB));
      assert.deepEqual(x.take().map((m) => m.type), ['signal']);
    }
  });

  test('a ring to a peer already waiting in the call (join) connects at once', () => {
    const { room, a, b } = pair();
    join(room, b, 'Bob');
    a.take();
    b.take();
    ring(room, a, 'Alice');
    assert.deepEqual(calls(a), ['ringing', 'accepted']);
    assert.deepEqual(calls(b), ['accepted']);
  });

  test('busy: a third arrival while two ring or talk is refused with busy; a full room without a ring stays room-full', async () => {
    const { room, a, b } = pair();
    const early = socket('early');
    await room.arrive(early, CAROL);
    assert.deepEqual(errorCodes(early.take()), ['room-full']);
    assert.deepEqual(early.closes, [{ code: CloseCode.roomFull, reason: 'room-full' }]);
    ring(room, a);
    const third = socket('third');
    await room.arrive(third, CAROL);
    assert.deepEqual(errorCodes(third.take()), ['busy']);
    assert.deepEqual(third.closes, [{ code: CloseCode.busy, reason: 'busy' }]);
    accept(room, b);
    const fourth = socket('fourth');
    await room.arrive(fourth, DAVE);
    assert.deepEqual(errorCodes(fourth.take()), ['busy']);
  });

  test('busy: with room for three, a third member who rings or joins while two ring or talk hears busy and stays out', () => {
    const { room, peers } = roomOf([ALICE, BOB, CAROL]);
    const [a, b, c] = peers as [FakeSocket, FakeSocket, FakeSocket];
    ring(room, a);
    a.take();
    b.take();
    c.take();
    ring(room, c);
    assert.deepEqual(c.take(), [{ type: 'call', state: 'busy' }]);
    join(room, c);
    assert.deepEqual(c.take(), [{ type: 'call', state: 'busy' }]);
    accept(room, b);
    c.take();
    ring(room, c);
    assert.deepEqual(c.take(), [{ type: 'call', state: 'busy' }]);
    assert.deepEqual(room.peers().map((p) => p.inCall), [true, true, false]);
  });

  test('a resumed callee hears incoming again; a resumed caller hears ringing', async () => {
    const clock = { t: 1_000_000 };
    const room = new Room({ rateLimit: NO_RATE_LIMIT, now: () => clock.t });
    const [a, b] = [socket('a'), socket('b')];
    await room.arrive(a, ALICE);
    await room.arrive(b, BOB);
    send(room, b, { type: 'ping' }); // what the client answers its welcome with
    ring(room, a, 'Alice');
    a.take();
    b.take();
    room.drop(b);
    const b2 = socket('b2');
    await room.arrive(b2, CAROL, { resumeId: BOB });
    assert.deepEqual(b2.take().map((m) => (m.type === 'call' ? m.state : m.type)), ['welcome', 'incoming']);
    room.drop(a);
    const a2 = socket('a2');
    await room.arrive(a2, DAVE, { resumeId: ALICE });
    assert.deepEqual(a2.take().map((m) => (m.type === 'call' ? m.state : m.type)), ['welcome', 'ringing']);
    assert.deepEqual([a.take(), b.take()], [[], []]);
  });

  /** Alice rang Bob, both heard; both have sent a frame (so a drop holds them). On a fake clock. */
  async function rung(timeoutMs = RING) {
    const clock = { t: 1_000_000 };
    const room = new Room({ rateLimit: NO_RATE_LIMIT, now: () => clock.t });
    const [a, b] = [socket('a'), socket('b')];
    await room.arrive(a, ALICE);
    await room.arrive(b, BOB);
    send(room, b, { type: 'ping' });
    ring(room, a, 'Alice', timeoutMs);
    a.take();
    b.take();
    /** `id` comes back on a new socket; what it hears, a call frame as its state, a welcome with its ringEnded. */
    const back = async (id: string) => {
      const s = socket(`${id}-again`);
      await room.arrive(s, DAVE, { resumeId: id });
      const frames = s.take().map((m) => (m.type === 'call' ? m.state : m.type === 'welcome' ? `welcome ${m.ringEnded ?? '-'}` : m.type));
      return { s, frames };
    };
    return { room, clock, a, b, back };
  }

  test('a caller away when its ring is declined hears it in its resumed welcome (ringEnded), so it does not ring again', async () => {
    const { room, a, b, back } = await rung();
    room.drop(a);
    decline(room, b);
    assert.deepEqual((await back(ALICE)).frames, ['welcome declined']);
  });

  test('a caller away when its ring times out, and a callee away then, hear missed in their resumed welcome', async () => {
    const { room, clock, a, b, back } = await rung(5_000); // within the 20 s grace
    room.drop(a);
    room.drop(b);
    clock.t += 5_000;
    room.tick();
    assert.deepEqual((await back(ALICE)).frames, ['welcome missed']);
    assert.deepEqual((await back(BOB)).frames, ['welcome missed']);
  });

  test('a caller away when its ring is accepted hears accepted when it is back (it would ring on for good)', async () => {
    const { room, a, b, back } = await rung();
    room.drop(a);
    accept(room, b, 'Bob');
    assert.deepEqual((await back(ALICE)).frames, ['welcome -', 'accepted']);
    // And again after a later drop, while the call lasts; so does the callee.
    assert.deepEqual((await back(BOB)).frames, ['welcome -', 'accepted']);
  });

  test('a party here when the ring ends is told at once, and not again on a later return (a new ring it makes meanwhile stands)', async () => {
    const { room, a, b, back } = await rung();
    decline(room, b); // both here: both hear declined
    assert.deepEqual(calls(a), ['declined']);
    room.drop(a);
    assert.deepEqual((await back(ALICE)).frames, ['welcome -']);
  });

  test('rung again by the other party, a callee away then hears the new ring, not how the old one ended', async () => {
    const { room, a, b, back } = await rung();
    room.drop(b);
    decline(room, a); // not the callee: refused; the ring goes on
    a.take();
    send(room, a, { type: 'leave' }); // the caller goes: Bob, away, missed it
    const alice = socket('alice-again');
    await room.arrive(alice, ALICE);
    send(room, alice, { type: 'ping' });
    ring(room, alice, 'Alice'); // and rings again while Bob is still away
    assert.deepEqual((await back(BOB)).frames, ['welcome -', 'incoming']);
  });

  test('how an earlier ring ended is not told once the member rang, answered or joined again', async () => {
    const { room, a, b, back } = await rung();
    decline(room, b); // Alice is here and hears it
    ring(room, a, 'Alice'); // and rings again
    room.drop(a);
    assert.deepEqual((await back(ALICE)).frames, ['welcome -', 'ringing']);
  });

  test('after the call, either party leaving ends it: the room can ring again', () => {
    const { room, a, b } = pair();
    ring(room, a);
    accept(room, b);
    a.take();
    b.take();
    send(room, b, { type: 'leave' });
    assert.deepEqual(a.take(), [{ type: 'peer-left', id: BOB, reason: 'hangup' }]);
    const c = socket('c');
    room.admit(c, CAROL, ICE);
    assert.deepEqual(c.take().map((m) => m.type), ['welcome'], 'no ring left over');
    ring(room, c);
    // Alice is still in the call, waiting (a widget leaves on remote hang-up;
    // this one did not): a ring to her connects at once.
    assert.deepEqual(calls(c), ['ringing', 'accepted']);
  });
});
