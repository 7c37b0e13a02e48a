/**
 * Attacks on the real room server: raw WebSocket clients (`ws`) against the
 * real `partykit dev` (workerd), speaking the wire protocol by hand, including
 * everything a browser would never send.
 *
 * Two servers: the default one (capacity 2, every origin allowed) and one with
 * `ALLOWED_ORIGINS=http://allowed.test` and `ROOM_CAPACITY=3` (origin checks,
 * and a room with room for a bystander in the reused-`_pk` case).
 *
 * After every case the suite checks that nothing leaked: both servers still
 * accept sockets, a canary room (two peers in the call since the start) still
 * relays a signal both ways, and ten sentinel rooms (one peer each, in the
 * call since the start) received nothing beyond their own `welcome` and
 * `joined`.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { CloseCode, LIMITS, PEER_ID_PATTERN, PROTOCOL_VERSION, byteLength } from '../../src/protocol.ts';
import { randomId } from '../../src/random-id.ts';
import { startParty, type PartyServer } from '../support/harness.ts';

const ALLOWED_ORIGIN = 'http://allowed.test';
/** Default wait for one expected server frame. */
const WAIT_MS = 3000;
/** How long "nothing arrives" is watched where no in-order barrier exists (other rooms). */
const SETTLE_MS = 250;

let party: PartyServer;
/** `ALLOWED_ORIGINS=http://allowed.test`, `ROOM_CAPACITY=3`. */
let guarded: PartyServer;

// ---------------------------------------------------------------- raw clients

// Server frames are JSON objects; tests read their fields freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Msg = { type: string; [key: string]: any };

interface ConnectOptions {
  server?: PartyServer;
  /** The `_pk` query parameter (PartyKit's client-chosen connection id). */
  pk?: string;
  /** The `Origin` request header; none by default (as a non-browser client). */
  origin?: string;
  /** The `hostKey` query parameter (a locked room's key). */
  hostKey?: string;
  /** The `session` query parameter (a session token from `welcome`). */
  session?: string;
  /** The `v` query parameter (the protocol version); this version's by default. */
  version?: string;
  /** The `CF-Connecting-IP` request header (Cloudflare sets it; `partykit dev` passes a client's own through). */
  address?: string;
}

interface Client {
  readonly ws: WebSocket;
  readonly label: string;
  /** Every frame received, parsed (`{type: '<not json>'}` otherwise). */
  readonly messages: Msg[];
  /** Server-assigned id, from `welcome` ('' before it). */
  id: string;
  /** Set once the socket has closed. */
  closeEvent?: { code: number; reason: string };
  /** The first not yet taken frame of `type` (matching `match`), waiting up to `timeoutMs`. */
  next(type: string, match?: (m: Msg) => boolean, timeoutMs?: number): Promise<Msg>;
  /** Resolves with the close code once closed; rejects after `timeoutMs`. */
  closed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
  /** Objects are JSON-encoded; strings and buffers are sent as they are (text / binary). */
  send(frame: unknown): void;
  /** `type` or `error:code` of every frame so far, for assertion messages. */
  summary(): string;
}

const clients = new Set<Client>();

function connect(room: string, options: ConnectOptions = {}): Client {
  const server = options.server ?? party;
  const params: Record<string, string> = {};
  if (options.pk !== undefined) params._pk = options.pk;
  if (options.hostKey !== undefined) params.hostKey = options.hostKey;
  if (options.session !== undefined) params.session = options.session;
  if (options.version !== undefined) params.v = options.version;
  const ws = new WebSocket(server.roomUrl(room, params), {
    ...(options.origin !== undefined && { origin: options.origin }),
    ...(options.address !== undefined && { headers: { 'CF-Connecting-IP': options.address } }),
  });
  const messages: Msg[] = [];
  const taken = new Set<number>();
  const waiters = new Set<() => void>();
  const wake = () => [...waiters].forEach((w) => w());
  let onClosed: (event: { code: number; reason: string }) => void = () => {};
  const closedPromise = new Promise<{ code: number; reason: string }>((r) => (onClosed = r));

  const client: Client = {
    ws,
    label: `${room.slice(0, 24)}${options.pk ? ` (_pk)` : ''}`,
    messages,
    id: '',
    next(type, match = () => true, timeoutMs = WAIT_MS) {
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        const check = () => {
          const i = messages.findIndex((m, j) => !taken.has(j) && m.type === type && match(m));
          if (i >= 0) {
            taken.add(i);
            done();
            resolve(messages[i]);
          } else if (client.closeEvent) {
            done();
            const { code } = client.closeEvent;
            reject(new Error(`${client.label}: closed (${code}) before a ${type}; got ${client.summary()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${client.label}: no ${type} within ${timeoutMs} ms; got ${client.summary()}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    closed(timeoutMs = WAIT_MS) {
      const message = `${client.label}: not closed within ${timeoutMs} ms; got ${client.summary()}`;
      return withTimeout(closedPromise, timeoutMs, message);
    },
    send(frame) {
      ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
    },
    summary() {
      return `[${messages.map((m) => (m.type === 'error' ? `error:${m.code}` : m.type)).join(', ')}]`;
    },
  };
  ws.on('message', (data, isBinary) => {
    let message: Msg;
    try {
      message = isBinary ? { type: '<binary>' } : JSON.parse(String(data));
    } catch {
      message = { type: '<not json>', raw: String(data) };
    }
    if (message.type === 'welcome' && !client.id) client.id = message.id;
    messages.push(message);
    wake();
  });
  ws.on('error', () => {}); // followed by 'close'; refusals are asserted through close codes
  ws.on('close', (code, reason) => {
    client.closeEvent = { code, reason: String(reason) };
    onClosed(client.closeEvent);
    wake();
  });
  clients.add(client);
  return client;
}

/** Connect and wait for `welcome`. */
async function open(room: string, options: ConnectOptions = {}): Promise<Client> {
  const client = connect(room, options);
  const welcome = await client.next('welcome');
  assert.match(welcome.id, PEER_ID_PATTERN);
  return client;
}

/** Join the call and wait for `joined`. */
async function join(client: Client, name = 'x'): Promise<Msg> {
  client.send({ type: 'join', name });
  return client.next('joined');
}

/** Two peers in a fresh room, both in the call. */
async function pair(options: ConnectOptions = {}): Promise<[Client, Client]> {
  const room = randomId();
  const a = await open(room, options);
  const b = await open(room, options);
  await join(a, 'a');
  await join(b, 'b');
  await a.next('peer-updated', (m) => m.peer.id === b.id && m.peer.inCall);
  return [a, b];
}

/**
 * Say `bye` (so the room frees the place at once instead of holding it for a
 * resume), close politely, then drop the TCP connection (the close handshake
 * is not what is tested here).
 */
async function shut(client: Client): Promise<void> {
  if (!client.closeEvent) {
    try {
      if (client.ws.readyState === WebSocket.OPEN) client.send({ type: 'bye' });
      client.ws.close(1000, 'done');
    } catch {
      // not open yet
    }
    await Promise.race([client.closed(200).catch(() => {}), sleep(200)]);
    client.ws.terminate();
  }
  clients.delete(client);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]);
}

const offer = (to: string, sdp: string) => ({
  type: 'signal',
  to,
  data: { kind: 'description', description: { type: 'offer', sdp } },
});

/** The next `error` the client gets must carry `code`. */
async function expectError(client: Client, code: string, timeoutMs = WAIT_MS): Promise<Msg> {
  const error = await client.next('error', () => true, timeoutMs);
  assert.equal(error.code, code, `${client.label}: expected error ${code}, got ${error.code} (${error.message})`);
  return error;
}

/** The client gets error `code` and is then closed with `closeCode`. */
async function expectRefused(client: Client, code: string, closeCode: number): Promise<void> {
  await expectError(client, code);
  const { code: closed } = await client.closed();
  assert.equal(closed, closeCode, `${client.label}: close code`);
  assert.equal(client.id, '', `${client.label}: a refused socket must not be welcomed`);
}

/** The next signal `to` gets is `sdp` from `from`: anything relayed before it would be taken first. */
async function expectSignal(to: Client, from: Client, sdp: string): Promise<Msg> {
  const signal = await to.next('signal');
  const shown = JSON.stringify(signal).slice(0, 200);
  assert.equal(signal.data?.description?.sdp, sdp, `${to.label}: unexpected signal ${shown}`);
  assert.equal(signal.from, from.id);
  return signal;
}

/** Run `task` over `items` with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (queue.length) await task(queue.shift()!);
    }),
  );
}

// ---------------------------------------------------------------- watchers

let canary: [Client, Client];
const sentinels: Client[] = [];
let canaryRound = 0;

/** The canary peers still relay one offer each way, and nothing else reached them. */
async function checkCanary(): Promise<void> {
  const [a, b] = canary;
  const round = ++canaryRound;
  a.send(offer(b.id, `canary-${round}-ab`));
  await expectSignal(b, a, `canary-${round}-ab`);
  b.send(offer(a.id, `canary-${round}-ba`));
  await expectSignal(a, b, `canary-${round}-ba`);
  const stray = [a, b].flatMap((c) => c.messages.filter((m) => m.type !== 'signal'));
  // a: welcome, peer-joined(b), joined, peer-updated(b); b: welcome, joined, peer-updated(a).
  assert.equal(stray.length, 7, `canary got frames beyond its own set-up: ${a.summary()} ${b.summary()}`);
}

function checkSentinels(): void {
  for (const s of sentinels) {
    assert.equal(s.closeEvent, undefined, `sentinel ${s.label} was closed: ${JSON.stringify(s.closeEvent)}`);
    assert.deepEqual(
      s.messages.map((m) => m.type),
      ['welcome', 'joined'],
      `sentinel ${s.label} got ${s.summary()}`,
    );
  }
}

/** Both servers run and accept a new socket; canary and sentinels as above. */
async function checkHealthy(): Promise<void> {
  for (const server of [party, guarded]) {
    assert.equal(server.process.exitCode, null, `partykit exited:\n${server.output().slice(-2000)}`);
    assert.equal(server.process.signalCode, null, 'partykit was killed');
    // `partykit dev` rebuilds and restarts (dropping every socket) when a watched file changes.
    const reloaded = 'partykit dev reloaded: a source file changed during the run';
    assert.doesNotMatch(server.output(), /Updated and ready/, reloaded);
  }
  const probes = await Promise.all([open(randomId()), open(randomId(), { server: guarded, origin: ALLOWED_ORIGIN })]);
  await Promise.all(probes.map(shut));
  await checkCanary();
  checkSentinels();
}

// ---------------------------------------------------------------- suite

describe('attacks on the room server (real partykit dev)', { timeout: 120_000 }, () => {
  before(async () => {
    [party, guarded] = await Promise.all([
      startParty(),
      startParty({ vars: { ALLOWED_ORIGINS: ALLOWED_ORIGIN, ROOM_CAPACITY: '3' } }),
    ]);
    canary = await pair();
    for (let i = 0; i < 10; i++) {
      const sentinel = await open(`sentinel-${i}-${randomId(6)}`);
      const joined = await join(sentinel, `sentinel ${i}`);
      assert.deepEqual(joined.peers, []);
      sentinels.push(sentinel);
    }
  });

  afterEach(checkHealthy);

  after(async () => {
    await Promise.all([...clients].map(shut));
    await Promise.all([party?.stop(), guarded?.stop()]);
  });

  test('a spoofed `from` is replaced by the sender’s server-assigned id', async () => {
    const [a, b] = await pair();
    a.send({ ...offer(b.id, 'spoof-1'), from: canary[0].id });
    a.send({ ...offer(b.id, 'spoof-2'), from: b.id });
    a.send({ from: sentinels[0].id, ...offer(b.id, 'spoof-3') });
    for (const sdp of ['spoof-1', 'spoof-2', 'spoof-3']) {
      const signal = await expectSignal(b, a, sdp);
      assert.deepEqual(Object.keys(signal).sort(), ['data', 'from', 'type']);
    }
    assert.deepEqual(a.messages.filter((m) => m.type === 'signal' || m.type === 'error'), []);
  });

  test('a reused `_pk` in another room gets its own id and none of the victim’s traffic', async () => {
    const pk = randomId(16); // shaped like a peer id, so a server that trusted it could route by it
    const room = randomId();
    const victim = await open(room, { pk });
    const partner = await open(room);
    await join(victim, 'victim');
    await join(partner, 'partner');
    const attacker = await open(randomId(), { pk });
    assert.notEqual(attacker.id, victim.id);
    assert.notEqual(attacker.id, pk);
    assert.notEqual(victim.id, pk);
    assert.deepEqual((await join(attacker, 'attacker')).peers, []);

    attacker.send(offer(victim.id, 'pk-hijack-1'));
    await expectError(attacker, 'no-peer');
    attacker.send(offer(pk, 'pk-hijack-2'));
    await expectError(attacker, 'no-peer');

    partner.send(offer(victim.id, 'for-victim'));
    await expectSignal(victim, partner, 'for-victim');
    partner.send(offer(pk, 'for-pk'));
    await expectError(partner, 'no-peer');
    await sleep(SETTLE_MS);
    assert.deepEqual(attacker.messages.map((m) => m.type), ['welcome', 'joined', 'error', 'error']);
    assert.equal(victim.messages.filter((m) => m.type === 'signal').length, 1, victim.summary());
    assert.equal(victim.closeEvent, undefined);
  });

  test('a reused `_pk` in the same room gets its own id, and the victim keeps its socket', async () => {
    const pk = randomId(16);
    const room = randomId();
    const victim = await open(room, { pk });
    const attacker = await open(room, { pk });
    assert.notEqual(attacker.id, victim.id);
    assert.notEqual(attacker.id, pk);
    assert.deepEqual(
      attacker.messages[0].peers.map((p: Msg) => p.id),
      [victim.id],
    );
    assert.equal((await victim.next('peer-joined')).peer.id, attacker.id);
    await join(victim, 'victim');
    await join(attacker, 'attacker');

    attacker.send(offer(pk, 'to-pk'));
    await expectError(attacker, 'no-peer');
    attacker.send(offer(victim.id, 'attacker-to-victim'));
    await expectSignal(victim, attacker, 'attacker-to-victim');
    victim.send(offer(attacker.id, 'victim-to-attacker'));
    await expectSignal(attacker, victim, 'victim-to-attacker');
    const victimSignals = victim.messages.filter((m) => m.type === 'signal');
    assert.equal(victimSignals.length, 1, `victim got its own offer: ${victim.summary()}`);
    assert.equal(victim.closeEvent, undefined);
    assert.equal(attacker.closeEvent, undefined);
  });

  test('a reused `_pk` in a room of three: an offer for the victim reaches only the victim', async () => {
    const opts = { server: guarded, origin: ALLOWED_ORIGIN };
    const pk = randomId(16);
    const room = randomId();
    const victim = await open(room, { ...opts, pk });
    const sender = await open(room, opts);
    const attacker = await open(room, { ...opts, pk });
    assert.equal(new Set([victim.id, sender.id, attacker.id, pk]).size, 4);
    await join(victim, 'victim');
    await join(sender, 'sender');
    await join(attacker, 'attacker');

    sender.send(offer(victim.id, 'meant-for-victim'));
    await expectSignal(victim, sender, 'meant-for-victim');
    sender.send(offer(pk, 'meant-for-pk'));
    await expectError(sender, 'no-peer');
    // Same room, so the room relays in order: the attacker's first signal must be this one.
    sender.send(offer(attacker.id, 'barrier'));
    await expectSignal(attacker, sender, 'barrier');
    assert.equal(victim.closeEvent, undefined);
  });

  test('a `to` naming a peer in another room is refused with no-peer and delivers nothing', async () => {
    const [a, b] = await pair();
    const before = [...canary, ...sentinels].map((c) => c.messages.length);
    for (const target of [canary[0], canary[1], ...sentinels.slice(0, 3)]) {
      a.send(offer(target.id, 'cross-room'));
      await expectError(a, 'no-peer');
    }
    a.send(offer(b.id, 'same-room'));
    await expectSignal(b, a, 'same-room');
    await sleep(SETTLE_MS);
    assert.deepEqual(
      [...canary, ...sentinels].map((c) => c.messages.length),
      before,
      'a frame reached another room',
    );
  });

  test('signals to self, to an unknown id, to a peer not in the call, and before joining are refused', async () => {
    const room = randomId();
    const a = await open(room);
    const b = await open(room);
    a.send(offer(b.id, 'before-join'));
    await expectError(a, 'not-in-call');
    await join(a, 'a');
    a.send(offer(b.id, 'b-not-in-call'));
    await expectError(a, 'no-peer');
    a.send(offer(a.id, 'to-self'));
    await expectError(a, 'no-peer');
    a.send(offer(randomId(16), 'to-unknown'));
    await expectError(a, 'no-peer');
    a.send(offer('A'.repeat(32), 'to-unknown-max-length'));
    await expectError(a, 'no-peer');
    await join(b, 'b');
    a.send(offer(b.id, 'after-join'));
    await expectSignal(b, a, 'after-join');
    assert.deepEqual(a.messages.filter((m) => m.type === 'signal'), [], 'a got its own signal back');
  });

  test('an oversize frame is refused and the socket stays usable; over 1 MiB the runtime closes it', async () => {
    const [a, b] = await pair();
    const big = JSON.stringify(offer(b.id, 'x'.repeat(200 * 1024)));
    assert.ok(big.length > LIMITS.messageBytes && big.length < 1024 * 1024);
    a.send(big);
    await expectError(a, 'too-large');
    // Under 64 Ki UTF-16 units but over 64 KiB of UTF-8.
    const wide = JSON.stringify(offer(b.id, 'é'.repeat(40_000)));
    assert.ok(wide.length < LIMITS.messageBytes && byteLength(wide) > LIMITS.messageBytes);
    a.send(wide);
    await expectError(a, 'too-large');
    a.send(offer(b.id, 'still-usable'));
    await expectSignal(b, a, 'still-usable');
    b.send(offer(a.id, 'and-back'));
    await expectSignal(a, b, 'and-back');

    const room = randomId();
    const c = await open(room);
    const d = await open(room);
    // As the widget does, c answers its welcome: the room has heard from it.
    c.send({ type: 'ping' });
    await c.next('pong');
    c.send('x'.repeat(1024 * 1024 + 1024));
    const { code } = await c.closed(10_000);
    assert.notEqual(code, 1000, 'a 1 MiB frame must not look like a clean close');
    // A socket that closed without a goodbye is held for resume (its place
    // kept, nobody told) rather than announced as gone.
    await sleep(SETTLE_MS);
    assert.deepEqual(d.messages.map((m) => m.type), ['welcome']);
    const e = connect(room);
    await expectRefused(e, 'room-full', CloseCode.roomFull);
    // With its session token the peer gets its id and place back.
    const back = await open(room, { session: c.messages[0].session });
    assert.equal(back.id, c.id);
    assert.equal(back.messages[0].resumed, true);
    assert.deepEqual(back.messages[0].peers.map((p: Msg) => p.id), [d.id]);
  });

  test('a socket that drops before it sent a frame is gone at once: peer-left, and its place is free', async () => {
    // A page that gave up while connecting never read its welcome, so it has
    // no session token to resume with: the room does not keep its ghost.
    const room = randomId();
    const a = await open(room);
    const c = await open(room);
    c.ws.terminate(); // no close frame, no bye
    const left = await a.next('peer-left');
    assert.equal(left.id, c.id);
    assert.equal(left.reason, 'left');
    const again = await open(room);
    assert.notEqual(again.id, c.id);
  });

  test('malformed frames get their documented error codes and nothing is relayed', async () => {
    const [a, b] = await pair();
    const data = { kind: 'description', description: { type: 'offer', sdp: 'v=0' } };
    const description = (d: unknown) => ({ type: 'signal', to: b.id, data: { kind: 'description', description: d } });
    const candidate = (c: unknown) => ({ type: 'signal', to: b.id, data: { kind: 'candidates', candidates: [c] } });
    const cases: [unknown, string][] = [
      ['not json', 'bad-json'],
      ['{"type":"join",', 'bad-json'],
      ['', 'bad-json'],
      ["{'type':'join'}", 'bad-json'],
      ['[]', 'bad-message'],
      ['[{"type":"join","name":"x"}]', 'bad-message'],
      ['42', 'bad-message'],
      ['null', 'bad-message'],
      ['"join"', 'bad-message'],
      ['{}', 'unknown-type'],
      ['{"type":"hack"}', 'unknown-type'],
      ['{"type":["join"]}', 'unknown-type'],
      ['{"type":"__proto__"}', 'unknown-type'],
      ['{"type":"toString"}', 'unknown-type'],
      ['{"type":"welcome","id":"AAAAAAAAAAAAAAAAAAAAAA"}', 'unknown-type'],
      [{ type: 'signal' }, 'bad-message'],
      [{ type: 'signal', to: b.id }, 'bad-message'],
      [{ type: 'signal', data }, 'bad-message'],
      [{ type: 'signal', to: 123, data }, 'bad-message'],
      [{ type: 'signal', to: 'short', data }, 'bad-message'],
      [{ type: 'signal', to: b.id, data: 'offer' }, 'bad-message'],
      [{ type: 'signal', to: b.id, data: { kind: 'bogus' } }, 'bad-message'],
      [{ type: 'signal', to: b.id, data: { kind: 'candidates', candidates: [] } }, 'bad-message'],
      [description({ type: 'offer', sdp: 5 }), 'bad-message'],
      [description({ type: 'bogus', sdp: '' }), 'bad-message'],
      [description({ type: 'offer', sdp: 'x'.repeat(LIMITS.sdpBytes + 1) }), 'too-large'],
      [candidate({ candidate: 'c', sdpMLineIndex: -1 }), 'bad-message'],
      [candidate({ candidate: 'c'.repeat(LIMITS.candidateBytes + 1) }), 'bad-message'],
      [{ type: 'join' }, 'bad-message'],
      [{ type: 'join', name: 5 }, 'bad-message'],
      [{ type: 'join', name: 'evil\u202eeman' }, 'bad-message'],
      [{ type: 'join', name: 'n'.repeat(65) }, 'bad-message'],
      [Buffer.from([0, 1, 2, 3]), 'binary-unsupported'],
      [Buffer.from(JSON.stringify(offer(b.id, 'binary-json'))), 'binary-unsupported'],
    ];
    for (const [frame, code] of cases) {
      a.send(frame);
      const error = await a.next('error');
      const shown = typeof frame === 'string' || Buffer.isBuffer(frame) ? String(frame) : JSON.stringify(frame);
      assert.equal(error.code, code, `frame ${shown.slice(0, 80)}: got ${error.code} (${error.message})`);
    }

    // Unknown fields, at every level, are gone from what the receiver gets.
    a.send({
      type: 'signal',
      to: b.id,
      from: sentinels[0].id,
      admin: true,
      ['__proto__']: { polluted: true }, // computed: an own property, so JSON.stringify keeps it
      data: {
        kind: 'description',
        extra: 'x',
        description: { type: 'offer', sdp: 'stripped', extra: 'y', ['__proto__']: { polluted: true } },
      },
    });
    a.send(
      '{"type":"signal","to":"' + b.id + '","__proto__":{"polluted":true},"data":{"kind":"candidates","candidates":' +
        '[{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","x":1}],"y":2}}',
    );
    const relayedDescription = await b.next('signal');
    assert.deepEqual(relayedDescription, {
      type: 'signal',
      from: a.id,
      data: { kind: 'description', description: { type: 'offer', sdp: 'stripped' } },
    });
    const relayedCandidate = await b.next('signal');
    assert.deepEqual(relayedCandidate, {
      type: 'signal',
      from: a.id,
      data: {
        kind: 'candidates',
        candidates: [
          {
            candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host',
            sdpMid: '0',
            sdpMLineIndex: null,
            usernameFragment: null,
          },
        ],
      },
    });
    assert.equal(b.messages.filter((m) => m.type === 'signal').length, 2, `b got more: ${b.summary()}`);
    assert.equal(a.closeEvent, undefined);
  });

  test('a flood of 500 frames is rate-limited, then closed with 4008; other rooms are unaffected', async () => {
    const [flooder, partner] = await pair();
    const started = Date.now();
    for (let i = 0; i < 500; i++) flooder.send(offer(partner.id, `flood-${i}`));
    // Other rooms keep working while the flood is handled.
    await Promise.all([
      (async () => {
        await expectError(flooder, 'rate-limited', 10_000);
        const { code } = await flooder.closed(10_000);
        assert.equal(code, CloseCode.rateLimited);
        await partner.next('peer-left', (m) => m.id === flooder.id);
      })(),
      checkCanary(),
    ]);
    const relayed = partner.messages.filter((m) => m.type === 'signal').length;
    const seconds = (Date.now() - started) / 1000;
    // The bucket holds 50 (one went on `join`) and refills at 20/s.
    assert.ok(relayed >= 40 && relayed <= 50 + Math.ceil(20 * seconds), `${relayed} of 500 relayed in ${seconds} s`);
    assert.equal(partner.closeEvent, undefined);
  });

  test('200 sockets to random rooms and 50 to malformed room ids; the server stays up', async () => {
    let welcomed = 0;
    await pool(
      Array.from({ length: 200 }, () => randomId()),
      20,
      async (room) => {
        const c = await open(room);
        assert.deepEqual(c.messages[0].peers, []);
        welcomed++;
        await shut(c);
      },
    );
    assert.equal(welcomed, 200);

    const malformed = [
      'x',
      'a%20b',
      'a'.repeat(65),
      'a'.repeat(200),
      '..%2F..%2Fetc',
      '%2e%2e%2f%2e%2e%2fetc',
      '..%5C..%5Cwindows',
      'abc%2Fdefghi',
      'short',
      '1234567',
      'has.dot.in.it',
      '%3Cscript%3Ealert(1)%3C%2Fscript%3E',
      'emoji%F0%9F%98%80aaaaaa',
      '%00%00%00%00%00%00%00%00',
      'room%0D%0Aheader',
      "quote'room'",
      'plus+plus+plus',
      'tilde~tilde~',
      'a'.repeat(64) + '%20',
    ];
    while (malformed.length < 50) malformed.push(`${randomId(6)}.${malformed.length}`);
    let refused = 0;
    await pool(malformed, 10, async (room) => {
      const c = connect(room);
      const error = await c.next('error').catch((e: Error) => assert.fail(`${room}: ${e.message}`));
      assert.equal(error.code, 'room-unavailable', room);
      assert.equal((await c.closed()).code, CloseCode.roomUnavailable, room);
      assert.equal(c.id, '', room);
      refused++;
      await shut(c);
    });
    assert.equal(refused, 50);

    // A raw `..` never reaches a room (the URL is normalised to another path).
    const traversal = connect('../../etc');
    await traversal.closed();
    assert.equal(traversal.id, '');
    await shut(traversal);
  });

  test('a third socket in a room of two gets room-full and 4001; the two notice nothing', async () => {
    const room = randomId();
    const a = await open(room);
    const b = await open(room);
    const third = connect(room);
    await expectRefused(third, 'room-full', CloseCode.roomFull);
    const fourth = connect(room, { pk: a.id });
    await expectRefused(fourth, 'room-full', CloseCode.roomFull);
    // In-order barrier: a's join reaches b after anything the refusals caused.
    await join(a, 'a');
    await b.next('peer-updated');
    assert.deepEqual(b.messages.map((m) => m.type), ['welcome', 'peer-updated']);
    assert.deepEqual(a.messages.map((m) => m.type), ['welcome', 'peer-joined', 'joined']);
    // A hang-up frees the place.
    a.send({ type: 'leave' });
    assert.equal((await a.closed()).code, 1000);
    assert.equal((await b.next('peer-left')).reason, 'hangup');
    const later = await open(room);
    assert.deepEqual(later.messages[0].peers.map((p: Msg) => p.id), [b.id]);
  });

  test('ALLOWED_ORIGINS: other origins get forbidden-origin and 4003, the allowed one is welcomed', async () => {
    for (const origin of [
      'http://evil.test',
      'http://allowed.test.evil.test',
      'http://allowed.test:8080',
      'https://allowed.test',
      'HTTP://ALLOWED.TEST',
      'null',
      '',
    ]) {
      const c = connect(randomId(), { server: guarded, origin });
      await expectRefused(c, 'forbidden-origin', CloseCode.forbiddenOrigin).catch((e: Error) => {
        throw new Error(`origin ${JSON.stringify(origin)}: ${e.message}`);
      });
    }
    const noOrigin = connect(randomId(), { server: guarded });
    await expectRefused(noOrigin, 'forbidden-origin', CloseCode.forbiddenOrigin);
    const allowed = await open(randomId(), { server: guarded, origin: ALLOWED_ORIGIN });
    assert.equal(allowed.messages[0].capacity, 3);
    // The default server allows every origin.
    await open(randomId(), { origin: 'http://evil.test' });
  });

  test('a client of another protocol version gets protocol-mismatch and 4005 before anything else, one of none 4002 (final to clients older than the check); the room does not hear of them', async () => {
    const room = randomId();
    const member = await open(room);
    for (const version of ['', String(PROTOCOL_VERSION - 1), String(PROTOCOL_VERSION + 1), `${PROTOCOL_VERSION}.0`, ' 3']) {
      const c = connect(room, { version });
      await expectRefused(c, 'protocol-mismatch', CloseCode.protocolMismatch).catch((e: Error) => {
        throw new Error(`version ${JSON.stringify(version)}: ${e.message}`);
      });
      assert.equal(c.messages.length, 1, 'the error frame only, no welcome');
    }
    // Without the parameter at all (a widget older than the check, which
    // would take 4005 for a drop and come back for ever): 4002.
    const ws = new WebSocket(`ws://${party.host}/parties/main/${room}`);
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, CloseCode.roomUnavailable);
    // A page that speaks ours still gets in; the member heard of it alone.
    const next = await open(room);
    assert.equal(next.messages[0].peers.length, 1);
    assert.equal((await member.next('peer-joined')).peer.id, next.id);
    assert.ok(!member.messages.some((m) => m.type === 'peer-left' || m.type === 'error'), JSON.stringify(member.messages));
  });

  test('bye announces the peer at once; a client-initiated close is answered with a close frame', async () => {
    const room = randomId();
    const a = await open(room);
    const b = await open(room);
    a.send({ type: 'bye' });
    await b.next('peer-left', (m) => m.id === a.id && m.reason === 'left');
    const c = await open(room);
    c.ws.close(1000, 'bye');
    // RFC 6455 §5.5.1: the server must answer a Close frame with a Close frame.
    // Without one, clients hang in CLOSING until their own timeout (ws: 30 s) and
    // then see 1006.
    const { code } = await c.closed(3000);
    assert.equal(code, 1000);
    assert.equal((await a.closed(3000)).code, 1000, 'bye is answered with a clean close too');
  });

  test('a locked room: outsiders wait in the lobby, learn nothing, cannot act, and a rejection looks like a missing room', async () => {
    const room = randomId();
    const host = await open(room);
    const hostKey: string = host.messages[0].hostKey;
    assert.match(hostKey, /^[A-Za-z0-9_-]{22,}$/);
    await join(host, 'host');
    host.send({ type: 'lock', locked: true });
    assert.equal((await host.next('lock-changed')).locked, true);

    // Forged keys, a reused `_pk` and a spoofed id all land in the lobby.
    const intruders = [
      connect(room),
      connect(room, { hostKey: 'A'.repeat(22) }),
      connect(room, { hostKey: hostKey.slice(0, -1) + (hostKey.endsWith('A') ? 'B' : 'A') }),
      connect(room, { hostKey: '' }),
      connect(room, { pk: host.id }),
    ];
    for (const c of intruders) await c.next('lobby');
    const [knocker, ...others] = intruders;
    // Nothing but a knock is accepted in the lobby; nothing reaches the host.
    knocker!.send(offer(host.id, 'from-the-lobby'));
    await expectError(knocker!, 'knocking');
    knocker!.send({ type: 'lock', locked: false });
    await expectError(knocker!, 'knocking');
    knocker!.send({ type: 'admit', id: knocker!.id || 'AAAAAAAAAAAAAAAAAAAAAA' });
    await expectError(knocker!, 'knocking');
    knocker!.send({ type: 'join', name: 'Mallory <img src=x onerror=alert(1)>' });
    const knocks = await host.next('knocks');
    assert.deepEqual(knocks.peers.map((p: Msg) => p.name), ['Mallory <img src=x onerror=alert(1)>']);
    for (const c of intruders) {
      assert.equal(c.id, '', 'no welcome, no id');
      assert.ok(c.messages.every((m) => m.type === 'lobby' || m.type === 'error'), c.summary());
      assert.ok(!JSON.stringify(c.messages).includes(host.id), 'the host\'s id never leaks');
    }
    assert.equal(host.messages.filter((m) => m.type === 'signal').length, 0);

    // Rejected: the same error and close code as a malformed room id.
    host.send({ type: 'reject', id: knocks.peers[0].id });
    await expectRefused(knocker!, 'room-unavailable', CloseCode.roomUnavailable);
    const missing = connect('no.such.room');
    await expectRefused(missing, 'room-unavailable', CloseCode.roomUnavailable);
    const [rejected, absent] = [knocker!, missing].map((c) => c.messages.at(-1));
    assert.deepEqual(rejected, absent, 'a rejection and a missing room look the same');
    assert.deepEqual(
      [rejected, absent].map((c) => c && c.type),
      ['error', 'error'],
    );
    // Admitted: a welcome into the room, after which it is a member like any other.
    const second = others[0]!;
    second.send({ type: 'join', name: 'Bob' });
    const secondKnock = await host.next('knocks', (m) => m.peers.length === 1 && m.peers[0].name === 'Bob');
    host.send({ type: 'admit', id: secondKnock.peers[0].id });
    const welcome = await second.next('welcome');
    assert.equal(welcome.locked, true);
    assert.equal(welcome.hostKey, undefined);
    assert.deepEqual(welcome.peers.map((p: Msg) => p.id), [host.id]);
    // A member that is not the host cannot lock, admit or reject.
    await join(second, 'Bob');
    second.send({ type: 'reject', id: host.id });
    await expectError(second, 'not-host');
    second.send({ type: 'lock', locked: false });
    await expectError(second, 'not-host');
    // The host leaves: Bob is host with a new key; the old key is void (it
    // waits in the lobby like anyone), the new one is straight in, as host.
    host.send({ type: 'bye' });
    await second.next('peer-left', (m) => m.id === host.id);
    const handed = await second.next('host');
    assert.match(handed.hostKey, /^[A-Za-z0-9_-]{22,}$/);
    assert.notEqual(handed.hostKey, hostKey);
    await shut(host);
    const oldKey = connect(room, { hostKey });
    await oldKey.next('lobby');
    assert.equal(oldKey.id, '', 'no welcome');
    const back = await open(room, { hostKey: handed.hostKey });
    assert.equal(back.messages[0].hostKey, handed.hostKey);
    assert.equal(back.messages[0].locked, true);
    for (const c of [...others, second, back, oldKey]) await shut(c);
  });

  test("one client address cannot fill a locked room's lobby: past its 8 knocks, a knock from elsewhere takes the flood's oldest place", async () => {
    const room = randomId();
    const host = await open(room);
    await join(host, 'host');
    host.send({ type: 'lock', locked: true });
    await host.next('lock-changed');
    const flood: Client[] = [];
    for (let i = 0; i < 8; i++) {
      const c = connect(room, { address: '198.51.100.7' });
      await c.next('lobby');
      c.send({ type: 'join', name: `flood ${i}` });
      await host.next('knocks', (m) => m.peers.length === i + 1);
      flood.push(c);
    }
    const guest = connect(room, { address: '2001:db8:1:2::5' });
    await guest.next('lobby');
    guest.send({ type: 'join', name: 'Guest' });
    const knocks = await host.next('knocks', (m) => m.peers.some((p: Msg) => p.name === 'Guest'));
    assert.deepEqual(knocks.peers.map((p: Msg) => p.name), [...flood.slice(1).map((_, i) => `flood ${i + 1}`), 'Guest']);
    await expectRefused(flood[0]!, 'room-unavailable', CloseCode.roomUnavailable);
    // The flood cannot take the place back.
    const again = connect(room, { address: '198.51.100.7' });
    await again.next('lobby');
    again.send({ type: 'join', name: 'flood again' });
    await expectRefused(again, 'room-unavailable', CloseCode.roomUnavailable);
    assert.equal(guest.closeEvent, undefined, 'the guest still waits');
    host.send({ type: 'admit', id: knocks.peers.at(-1).id });
    assert.equal((await guest.next('welcome')).locked, true);
    for (const c of [host, guest, ...flood, again]) await shut(c);
  });

  test('session tokens: forged, truncated or foreign tokens never take over an identity', async () => {
    const room = randomId();
    const victim = await open(room);
    const token: string = victim.messages[0].session;
    assert.ok(token.startsWith(`${victim.id}.`), `token ${token}`);
    const mac = token.slice(token.indexOf('.') + 1);
    const otherRoom = randomId();
    for (const [label, forged, where] of [
      ['forged MAC', `${victim.id}.${'A'.repeat(mac.length)}`, room],
      ['truncated MAC', token.slice(0, -2), room],
      ['no MAC', victim.id, room],
      ['the victim id as _pk-style junk', `${victim.id}..`, room],
      ['a real token in another room', token, otherRoom],
    ] as const) {
      const c = await open(where, { session: forged });
      assert.notEqual(c.id, victim.id, `${label}: took the victim's id`);
      assert.equal(c.messages[0].resumed, undefined, label);
      await shut(c);
    }
    assert.equal(victim.closeEvent, undefined, 'the victim keeps its socket');
    victim.send({ type: 'ping' });
    await victim.next('pong');
    await shut(victim);
  });
});
