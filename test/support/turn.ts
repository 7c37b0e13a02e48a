/**
 * coturn for tests, and a tiny TURN client over UDP.
 *
 * - {@link startCoturn} runs Debian's `turnserver` on 127.0.0.1 with a given
 *   config file, waits until a STUN Binding request is answered, and kills it
 *   on `stop()`.
 * - {@link TurnClient} speaks just enough STUN/TURN to probe a server:
 *   Binding (RFC 5389 §7, §18.1), Allocate with long-term credentials
 *   (RFC 5389 §10.2, RFC 5766 §6) and CreatePermission (RFC 5766 §9), and
 *   reports success or the error code. (RFC 8656 obsoletes RFC 5766 without
 *   changing any of this; section numbers here are RFC 5766's.)
 *
 * Only loopback is ever a destination: requests go to the coturn on
 * 127.0.0.1, and CreatePermission installs a permission for a peer address
 * without sending anything to it (RFC 5766 §9).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, isIPv4, isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

// ------------------------------------------------------------------ coturn

export interface Coturn {
  port: number;
  process: ChildProcess;
  /**
   * What coturn wrote to stdout/stderr. A `log-file` or `syslog` in the config
   * file wins over `--log-file stdout` (coturn 4.6.1), so under the production
   * config this is nearly empty: its log goes to syslog.
   */
  output(): string;
  stop(): Promise<void>;
}

/**
 * A port on 127.0.0.1 free for both UDP and TCP (coturn opens both on its
 * listening port unless the config says `no-tcp`).
 */
export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    const { port } = udp.address();
    const tcp = createServer();
    const tcpOk = await new Promise<boolean>((res) => {
      tcp.once('error', () => res(false));
      tcp.listen(port, '127.0.0.1', () => res(true));
    });
    if (tcpOk) await new Promise((r) => tcp.close(r));
    udp.close();
    if (tcpOk) return port;
  }
  throw new Error('no port free for both UDP and TCP on 127.0.0.1');
}

/**
 * Start `turnserver -c <config>` on 127.0.0.1:`port`.
 *
 * Only the listening address and ports, the secret and where coturn writes
 * (log, pid file, its SQLite user database) are set on the command line; every
 * policy comes from the config file. Resolves once a STUN Binding request to
 * the port is answered (within `timeoutMs`).
 *
 * @param config path of the coturn config file
 * @param secret `static-auth-secret` (the room server's `TURN_SECRET`)
 * @param args further command-line options (for example a free `--tls-listening-port`)
 */
export async function startCoturn(options: {
  config: string;
  port: number;
  secret: string;
  args?: string[];
  timeoutMs?: number;
}): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), 'coturn-'));
  // A config may drop root (proc-user); its SQLite user database and pid file
  // must stay writable after that.
  chmodSync(dir, 0o777);
  const args = [
    '-c', options.config,
    '--listening-ip', '127.0.0.1',
    '--listening-port', String(options.port),
    '--static-auth-secret', options.secret,
    '--log-file', 'stdout',
    '--pidfile', join(dir, 'turnserver.pid'),
    '--userdb', join(dir, 'turndb'),
    ...(options.args ?? []),
  ];
  const child = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error)); // for example, turnserver not installed
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<void>((res) => child.once('close', () => res()));
  const stop = async () => {
    if (!spawnError && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      if (spawnError) throw spawnError;
      if (child.exitCode !== null) throw new Error(`turnserver exited with ${child.exitCode}`);
      const client = await TurnClient.open('127.0.0.1', options.port);
      try {
        if ((await client.binding({ attempts: 1, rtoMs: 200 })).ok) break;
      } catch {
        // not answering yet
      } finally {
        client.close();
      }
      if (Date.now() > deadline) throw new Error(`no STUN answer on 127.0.0.1:${options.port}`);
    }
  } catch (error) {
    await stop();
    throw new Error(`turnserver did not start: ${(error as Error).message}\n${output}`);
  }
  return { port: options.port, process: child, output: () => output, stop };
}

// ------------------------------------------------------------------ STUN messages

/** RFC 5389 §6: the fixed magic cookie. */
const MAGIC_COOKIE = 0x2112a442;

/** Methods (RFC 5389 §18.1, RFC 5766 §13). */
export const Method = { binding: 0x001, allocate: 0x003, refresh: 0x004, createPermission: 0x008 } as const;

/** Classes (RFC 5389 §6): bits C1 C0 of the message type. */
const Class = { request: 0b00, success: 0b10, error: 0b11 } as const;

/** Attribute types (RFC 5389 §18.2, RFC 5766 §14). */
export const Attr = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  lifetime: 0x000d,
  xorPeerAddress: 0x0012,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedAddressFamily: 0x0017,
  requestedTransport: 0x0019,
  xorMappedAddress: 0x0020,
  software: 0x8022,
  fingerprint: 0x8028,
} as const;

/** RFC 5389 §6: M11..M7 C1 M6..M4 C0 M3..M0. */
function messageType(method: number, cls: number): number {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7);
}

function splitType(type: number): { method: number; cls: number } {
  return {
    method: (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2),
    cls: ((type >> 4) & 1) | ((type >> 7) & 2),
  };
}

interface Attribute {
  type: number;
  value: Buffer;
}

export interface StunMessage {
  method: number;
  cls: 'request' | 'success' | 'error';
  transactionId: Buffer;
  attributes: Attribute[];
}

const pad4 = (n: number) => (n + 3) & ~3;

/** One TLV attribute, padded to 4 bytes (RFC 5389 §15). */
function encodeAttribute({ type, value }: Attribute): Buffer {
  const out = Buffer.alloc(4 + pad4(value.length));
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(value.length, 2);
  value.copy(out, 4);
  return out;
}

function header(type: number, bodyLength: number, transactionId: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(bodyLength, 2);
  h.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(h, 8);
  return h;
}

/**
 * Encode a request. With `key`, append MESSAGE-INTEGRITY (RFC 5389 §15.4:
 * HMAC-SHA1 over the message up to that attribute, with the header length
 * already counting it); always append FINGERPRINT (§15.5: CRC-32 of the
 * message before it, XOR 0x5354554e, the length counting it).
 */
export function encodeRequest(method: number, transactionId: Buffer, attributes: Attribute[], key?: Buffer): Buffer {
  const type = messageType(method, Class.request);
  let body = Buffer.concat(attributes.map(encodeAttribute));
  if (key) {
    const withMi = header(type, body.length + 24, transactionId);
    const hmac = createHmac('sha1', key).update(Buffer.concat([withMi, body])).digest();
    body = Buffer.concat([body, encodeAttribute({ type: Attr.messageIntegrity, value: hmac })]);
  }
  const crc = (crc32(Buffer.concat([header(type, body.length + 8, transactionId), body])) ^ 0x5354554e) >>> 0;
  const fingerprint = Buffer.alloc(4);
  fingerprint.writeUInt32BE(crc, 0);
  body = Buffer.concat([body, encodeAttribute({ type: Attr.fingerprint, value: fingerprint })]);
  return Buffer.concat([header(type, body.length, transactionId), body]);
}

export function decodeMessage(data: Buffer): StunMessage | null {
  if (data.length < 20 || (data[0]! & 0xc0) !== 0 || data.readUInt32BE(4) !== MAGIC_COOKIE) return null;
  const length = data.readUInt16BE(2);
  if (20 + length > data.length) return null;
  const { method, cls } = splitType(data.readUInt16BE(0));
  const attributes: Attribute[] = [];
  for (let at = 20; at + 4 <= 20 + length; ) {
    const type = data.readUInt16BE(at);
    const len = data.readUInt16BE(at + 2);
    attributes.push({ type, value: data.subarray(at + 4, at + 4 + len) });
    at += 4 + pad4(len);
  }
  const names = ['request', 'indication', 'success', 'error'] as const;
  const name = names[cls]!;
  if (name === 'indication') return null;
  return { method, cls: name, transactionId: data.subarray(8, 20), attributes };
}

const attr = (m: StunMessage, type: number) => m.attributes.find((a) => a.type === type)?.value;

/** ERROR-CODE (RFC 5389 §15.6): class × 100 + number, and the reason phrase. */
function errorOf(m: StunMessage): { code: number; reason: string } {
  const v = attr(m, Attr.errorCode);
  if (!v || v.length < 4) return { code: 0, reason: 'no ERROR-CODE' };
  return { code: (v[2]! & 0x07) * 100 + v[3]!, reason: v.subarray(4).toString('utf8').replace(/\0+$/, '') };
}

/**
 * XOR-MAPPED-ADDRESS / XOR-PEER-ADDRESS / XOR-RELAYED-ADDRESS (RFC 5389 §15.2):
 * the port XOR the cookie's top 16 bits; an IPv4 address XOR the cookie; an
 * IPv6 address XOR the cookie followed by the transaction id.
 */
export function encodeXorAddress(address: string, port: number, transactionId: Buffer): Buffer {
  const raw = ipBytes(address);
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(mask, 4);
  const out = Buffer.alloc(4 + raw.length);
  out[1] = raw.length === 4 ? 0x01 : 0x02;
  out.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 2);
  for (let i = 0; i < raw.length; i++) out[4 + i] = raw[i]! ^ mask[i]!;
  return out;
}

export function decodeXorAddress(value: Buffer, transactionId: Buffer): { address: string; port: number } {
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(mask, 4);
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const raw = Buffer.from(value.subarray(4).map((b, i) => b ^ mask[i]!));
  if (value[1] === 0x01) return { address: [...raw].join('.'), port };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
  return { address: groups.join(':'), port };
}

/** 4 or 16 bytes of an IP literal (IPv6 may use `::` and a trailing dotted quad). */
function ipBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!isIPv6(address)) throw new Error(`not an IP address: ${address}`);
  let text = address;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad[1]!.split('.').map(Number);
    text = text.slice(0, -quad[1]!.length) + `${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parts = (s: string | undefined) => (s ? s.split(':') : []);
  const h = parts(head);
  const t = parts(tail);
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

// ------------------------------------------------------------------ client

export type TurnResult<T = object> = ({ ok: true } & T) | { ok: false; code: number; reason: string };

interface Retransmit {
  /** Initial retransmission timeout, ms (RFC 5389 §7.2.1 suggests 500; loopback needs less). */
  rtoMs?: number;
  /** Transmissions before giving up (RFC 5389 §7.2.1: Rc = 7; fewer here). */
  attempts?: number;
}

/**
 * A TURN client on one UDP socket (one 5-tuple, so one allocation, RFC 5766 §2.2).
 * Requests are retransmitted with a doubling timeout and time out after a
 * bounded total; every response is matched by transaction id.
 */
export class TurnClient {
  #socket: Socket;
  /** In-flight requests by transaction id: deliver a response, or give up. */
  #pending = new Map<string, { resolve: (m: StunMessage) => void; cancel: (reason: string) => void }>();
  #realm = '';
  #nonce = '';
  #username = '';
  #key: Buffer | undefined;

  private constructor(
    socket: Socket,
    readonly host: string,
    readonly port: number,
  ) {
    this.#socket = socket;
    // A send error (none expected on loopback) must not crash the test run:
    // the request it belonged to times out after its retransmissions.
    socket.on('error', () => undefined);
    socket.on('message', (data) => {
      const message = decodeMessage(data);
      if (!message) return;
      this.#pending.get(message.transactionId.toString('hex'))?.resolve(message);
    });
  }

  static async open(host: string, port: number): Promise<TurnClient> {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    socket.bind(0, isIPv6(host) ? '::1' : '127.0.0.1');
    await once(socket, 'listening');
    return new TurnClient(socket, host, port);
  }

  close(): void {
    for (const request of [...this.#pending.values()]) request.cancel('client closed');
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }

  /** Send one request and wait for its response (RFC 5389 §7.2.1 retransmission). */
  async request(
    method: number,
    build: (transactionId: Buffer) => Attribute[],
    key?: Buffer,
    { rtoMs = 100, attempts = 5 }: Retransmit = {},
  ): Promise<StunMessage> {
    const transactionId = randomBytes(12);
    const packet = encodeRequest(method, transactionId, build(transactionId), key);
    const id = transactionId.toString('hex');
    return new Promise<StunMessage>((resolve, reject) => {
      let sent = 0;
      let timer: ReturnType<typeof setTimeout>;
      const settle = () => {
        clearTimeout(timer);
        this.#pending.delete(id);
      };
      const cancel = (reason: string) => {
        settle();
        reject(new Error(`method 0x${method.toString(16)}: ${reason}`));
      };
      const send = () => {
        if (sent === attempts) return cancel(`no response after ${attempts} transmissions`);
        this.#socket.send(packet, this.port, this.host);
        timer = setTimeout(send, rtoMs * 2 ** sent++);
      };
      this.#pending.set(id, { resolve: (message) => (settle(), resolve(message)), cancel });
      send();
    });
  }

  /** Binding (RFC 5389 §7, §15.2): the server reflects our address in XOR-MAPPED-ADDRESS. */
  async binding(retransmit?: Retransmit): Promise<TurnResult<{ mapped?: { address: string; port: number } }>> {
    const response = await this.request(Method.binding, () => [], undefined, retransmit);
    if (response.cls === 'error') return { ok: false, ...errorOf(response) };
    const mapped = attr(response, Attr.xorMappedAddress);
    return { ok: true, mapped: mapped && decodeXorAddress(mapped, response.transactionId) };
  }

  /**
   * Allocate a UDP relay with long-term credentials (RFC 5389 §10.2, RFC 5766 §6.1):
   * the first request has none and is answered 401 with REALM and NONCE; the
   * retry carries USERNAME, REALM, NONCE and MESSAGE-INTEGRITY keyed with
   * MD5(username ":" realm ":" password) (RFC 5389 §15.4; the REST passwords
   * are base64, for which SASLprep is the identity).
   *
   * @param family the relayed address family to ask for (RFC 6156)
   */
  async allocate(
    username: string,
    password: string,
    family: 'ipv4' | 'ipv6' = 'ipv4',
  ): Promise<TurnResult<{ relayed?: { address: string; port: number } }>> {
    const attributes = () => [
      // REQUESTED-TRANSPORT (RFC 5766 §14.7): protocol 17 (UDP), then 3 RFFU bytes.
      { type: Attr.requestedTransport, value: Buffer.from([17, 0, 0, 0]) },
      // REQUESTED-ADDRESS-FAMILY (RFC 6156); absent means IPv4.
      ...(family === 'ipv6' ? [{ type: Attr.requestedAddressFamily, value: Buffer.from([0x02, 0, 0, 0]) }] : []),
    ];
    const first = await this.request(Method.allocate, attributes);
    if (first.cls === 'success') return { ok: true };
    const challenge = errorOf(first);
    if (challenge.code !== 401) return { ok: false, ...challenge };
    this.#realm = attr(first, Attr.realm)?.toString('utf8') ?? '';
    this.#nonce = attr(first, Attr.nonce)?.toString('utf8') ?? '';
    this.#username = username;
    this.#key = createHash('md5').update(`${username}:${this.#realm}:${password}`).digest();
    const response = await this.#authenticated(Method.allocate, attributes);
    if (response.cls === 'error') return { ok: false, ...errorOf(response) };
    const relayed = attr(response, Attr.xorRelayedAddress);
    return { ok: true, relayed: relayed && decodeXorAddress(relayed, response.transactionId) };
  }

  /**
   * CreatePermission for `peer` (RFC 5766 §9.1), on the allocation made by
   * {@link allocate}. The port in XOR-PEER-ADDRESS is ignored by the server
   * (permissions are per IP address, §9); nothing is sent to the peer.
   */
  async createPermission(peer: string): Promise<TurnResult> {
    if (!this.#key) throw new Error('allocate first');
    const response = await this.#authenticated(Method.createPermission, (tid) => [
      { type: Attr.xorPeerAddress, value: encodeXorAddress(peer, 9, tid) },
    ]);
    return response.cls === 'error' ? { ok: false, ...errorOf(response) } : { ok: true };
  }

  /**
   * Release the allocation (RFC 5766 §7.1: Refresh with LIFETIME 0), so a test
   * leaves no allocation counted against the server's quotas.
   */
  async release(): Promise<TurnResult> {
    if (!this.#key) return { ok: true };
    const lifetime = Buffer.alloc(4);
    const response = await this.#authenticated(Method.refresh, () => [{ type: Attr.lifetime, value: lifetime }]);
    return response.cls === 'error' ? { ok: false, ...errorOf(response) } : { ok: true };
  }

  /** A request with the long-term credentials; one retry on 438 Stale Nonce (RFC 5389 §10.2.3). */
  async #authenticated(method: number, build: (tid: Buffer) => Attribute[]): Promise<StunMessage> {
    for (let attempt = 0; ; attempt++) {
      const response = await this.request(
        method,
        (tid) => [
          ...build(tid),
          { type: Attr.username, value: Buffer.from(this.#username, 'utf8') },
          { type: Attr.realm, value: Buffer.from(this.#realm, 'utf8') },
          { type: Attr.nonce, value: Buffer.from(this.#nonce, 'utf8') },
        ],
        this.#key,
      );
      if (attempt === 0 && response.cls === 'error' && errorOf(response).code === 438) {
        this.#nonce = attr(response, Attr.nonce)?.toString('utf8') ?? this.#nonce;
        continue;
      }
      return response;
    }
  }
}

/**
 * TURN REST credentials as the room server mints them (party/ice-servers.ts):
 * username `<expiry>:<id>`, password base64(HMAC-SHA1(secret, username)).
 */
export function restCredentials(
  secret: string,
  id: string,
  expiresAtSeconds: number,
): { username: string; password: string } {
  const username = `${expiresAtSeconds}:${id}`;
  return { username, password: createHmac('sha1', secret).update(username).digest('base64') };
}
