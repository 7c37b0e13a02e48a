/**
 * The PartyKit server class (party/index.ts) on a stand-in for its runtime:
 * what it keeps in room storage and what a restarted server makes of it,
 * depending on `SESSION_SECRET`. The room rules themselves are tested in
 * room.test.ts; here, only the glue (storage, secret tag, session tokens).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import type * as Party from 'partykit/server';
import Server from '../../party/index.ts';
import { CloseCode, PROTOCOL_VERSION, type ServerMessage } from '../../src/protocol.ts';

const ROOM = 'room-0123456789';

/** Room storage as a Durable Object keeps it: values are copied in and out. */
class FakeStorage {
  readonly map = new Map<string, unknown>();
  readonly puts: { allowUnconfirmed?: boolean }[] = [];
  async get(key: string): Promise<unknown> {
    return structuredClone(this.map.get(key));
  }
  async put(key: string, value: unknown, options: { allowUnconfirmed?: boolean } = {}): Promise<void> {
    this.puts.push(options);
    this.map.set(key, structuredClone(value));
  }
  async delete(key: string): Promise<boolean> {
    return this.map.delete(key);
  }
}

class FakeConnection {
  readonly id = 'client-chosen';
  readonly received: ServerMessage[] = [];
  readonly closes: number[] = [];
  send(frame: string): void {
    this.received.push(JSON.parse(frame) as ServerMessage);
  }
  close(code: number): void {
    this.closes.push(code);
  }
}

/** A started server for ROOM with `secret` (none: unset) on `storage`. */
async function start(storage: FakeStorage, secret?: string): Promise<Server> {
  const env: Record<string, unknown> = secret ? { SESSION_SECRET: secret } : {};
  const server = new Server({ id: ROOM, env, storage } as unknown as Party.Room);
  await server.onStart();
  return server;
}

/** A socket of this protocol version (unless `params` says otherwise) opens the room; what it got. */
async function connect(server: Server, params: Record<string, string> = {}): Promise<FakeConnection> {
  const connection = new FakeConnection();
  const query = new URLSearchParams({ v: String(PROTOCOL_VERSION), ...params });
  const request = new Request(`http://127.0.0.1/parties/main/${ROOM}?${query}`, { headers: { Origin: 'http://page.test' } });
  await server.onConnect(connection as unknown as Party.Connection, { request } as unknown as Party.ConnectionContext);
  return connection;
}

/** A socket arrives (with a session token to resume with, if given) and joins the call; its welcome. */
async function arrive(server: Server, name: string, session?: string) {
  const connection = await connect(server, session ? { session } : {});
  const welcome = connection.received[0];
  assert.ok(welcome?.type === 'welcome', JSON.stringify(connection.received));
  server.onMessage(JSON.stringify({ type: 'join', name }), connection as unknown as Party.Connection);
  return { connection, welcome };
}

const SECRET = 'server-test-secret-0123456789';

describe('Server: the room across a restart', () => {
  // The room's housekeeping interval must not keep the test process alive.
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_800_000_000_000 }));
  afterEach(() => mock.timers.reset());

  test('with SESSION_SECRET: the room is saved, and a restart takes it up; its members resume', async () => {
    const storage = new FakeStorage();
    const first = await start(storage, SECRET);
    const ann = await arrive(first, 'Ann');
    const bob = await arrive(first, 'Bob');
    assert.ok(storage.map.has('room'), 'saved');
    assert.ok(storage.puts.every((options) => !options.allowUnconfirmed), 'changes are confirmed before the room speaks');
    const writes = storage.puts.length;
    mock.timers.tick(5_250);
    assert.deepEqual(storage.puts.slice(writes), [{ allowUnconfirmed: true }], 'one refresh in 5 s, unconfirmed');
    first.onMessage(JSON.stringify({ type: 'lock', locked: true }), ann.connection as unknown as Party.Connection);

    const second = await start(storage, SECRET); // the first process is gone
    assert.equal(second.roomRules.locked, true);
    const back = await arrive(second, 'Bob', bob.welcome.session);
    assert.equal(back.welcome.id, bob.welcome.id);
    assert.equal(back.welcome.resumed, true);
    assert.equal(back.welcome.locked, true);
    const newcomer = await connect(second);
    assert.deepEqual(newcomer.received, [{ type: 'lobby' }], 'still locked: a newcomer waits');
  });

  test('a snapshot saved under another SESSION_SECRET is dropped: its members come back as newcomers, not refused as a full room', async () => {
    const storage = new FakeStorage();
    const first = await start(storage, SECRET);
    const ann = await arrive(first, 'Ann');
    const bob = await arrive(first, 'Bob');
    first.onMessage(JSON.stringify({ type: 'lock', locked: true }), ann.connection as unknown as Party.Connection);

    const second = await start(storage, 'another-secret-0123456789');
    assert.equal(storage.map.has('room'), false, 'the snapshot is deleted');
    assert.equal(second.roomRules.size, 0);
    assert.equal(second.roomRules.locked, false);
    for (const [who, old] of [
      ['Ann', ann],
      ['Bob', bob],
    ] as const) {
      const back = await arrive(second, who, old.welcome.session);
      assert.notEqual(back.welcome.id, old.welcome.id, 'its old token does not verify: a new identity');
      assert.deepEqual(back.connection.closes, []);
    }
  });

  test('session tokens expire, and a member of a long call is handed fresh ones: a 3-hour-old token is worth nothing, the latest resumes after a restart', async () => {
    const storage = new FakeStorage();
    const first = await start(storage, SECRET);
    const ann = await arrive(first, 'Ann');
    const bob = await arrive(first, 'Bob');
    // Three hours of call: both ping every 3 s, as the widget does.
    for (let t = 0; t < 3 * 3600_000; t += 3000) {
      for (const { connection } of [ann, bob]) first.onMessage(JSON.stringify({ type: 'ping' }), connection as unknown as Party.Connection);
      mock.timers.tick(3000);
      if (t % 600_000 === 0) await new Promise((resolve) => setImmediate(resolve)); // the re-issues' signing
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(ann.connection.closes, [], 'Ann stayed');
    const fresh = ann.connection.received.filter((m) => m.type === 'session');
    assert.ok(fresh.length >= 3 * 3, `fresh tokens, at least every 20 min: ${fresh.length}`);
    const latest = fresh.at(-1)!.session;

    // Her first token, read from a log, takes her place no more.
    const thief = await connect(first, { session: ann.welcome.session! });
    assert.notEqual(thief.received[0]?.type === 'welcome' && thief.received[0].id, ann.welcome.id, 'not Ann');
    assert.deepEqual(thief.closes, [CloseCode.roomFull], 'a newcomer to a full room');
    assert.deepEqual(ann.connection.closes, [], 'Ann keeps her socket');

    // A restart: Ann comes back with the token she got last, as herself.
    const second = await start(storage, SECRET);
    const back = await arrive(second, 'Ann', latest);
    assert.equal(back.welcome.id, ann.welcome.id);
    assert.equal(back.welcome.resumed, true);
  });

  test('without SESSION_SECRET nothing is stored (nobody could prove who they were)', async () => {
    const storage = new FakeStorage();
    const server = await start(storage);
    await arrive(server, 'Ann');
    assert.equal(storage.puts.length, 0);
  });

  test('what storage holds is not trusted: junk is deleted and the room starts empty', async () => {
    for (const junk of [null, 'room', { tag: 'x', snapshot: {} }, { snapshot: { savedAt: Date.now() } }]) {
      const storage = new FakeStorage();
      storage.map.set('room', junk);
      const server = await start(storage, SECRET);
      assert.equal(storage.map.has('room'), false, JSON.stringify(junk));
      assert.equal(server.roomRules.size, 0);
    }
  });
});

describe('Server: the protocol version', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval'] }));
  afterEach(() => mock.timers.reset());

  test('a socket of another version is refused with protocol-mismatch and 4005, one of none (older than the check) with 4002, final to it too; neither takes a place in the room', async () => {
    const server = await start(new FakeStorage());
    const bare = new FakeConnection();
    const request = new Request(`http://127.0.0.1/parties/main/${ROOM}`, { headers: { Origin: 'http://page.test' } });
    await server.onConnect(bare as unknown as Party.Connection, { request } as unknown as Party.ConnectionContext);
    const others = ['', String(PROTOCOL_VERSION - 1), String(PROTOCOL_VERSION + 1), `0${PROTOCOL_VERSION}`];
    const refused = [bare, ...(await Promise.all(others.map((v) => connect(server, { v }))))];
    for (const [i, connection] of refused.entries()) {
      const what = i ? `v=${others[i - 1]}` : 'no v';
      assert.deepEqual(connection.closes, [i ? CloseCode.protocolMismatch : CloseCode.roomUnavailable], what);
      assert.deepEqual(connection.received.map((m) => m.type === 'error' && m.code), ['protocol-mismatch'], what);
    }
    assert.equal(server.roomRules.size, 0);
    // This version's gets in.
    assert.equal((await arrive(server, 'Ann')).welcome.type, 'welcome');
    assert.equal(server.roomRules.size, 1);
  });
});
