/**
 * Signaling load on the room server: many rooms of two Node WebSocket clients
 * trickling negotiation signals through one `partykit dev`, plus a burst of
 * call set-ups, side by side in the same run with a bare `ws` relay as the
 * baseline (bench/relay.ts, in a Node process of its own).
 *
 *   npm run bench:signaling -- [--duration 30] [--rooms 250] [--rate 2000] [--window 5]
 *                              [--setup-rate 50] [--burst-seconds 5] [--tmpdir /dev/shm/x] [--json out.json]
 *                              [--no-snapshots]
 *
 * For each server, in this order:
 *
 *   warm-up   one room, one offer and one candidate each way, closed; then the
 *             "before" memory sample
 *   connect   `--rooms` rooms × 2 peers, opened gradually (`--connect-rate`
 *             connections/s, `--connect-concurrency` rooms at a time; never a
 *             third peer in a room: the default capacity is 2). Each peer waits
 *             for `welcome`, sends `join`, waits for `joined`; the first peer
 *             also waits to see the second one in the call.
 *   load      `--rate` signals/s over all connections for `--duration` s, in
 *             windows of `--window` s, the two servers' windows interleaved
 *             (P R, R P, P R, …) so both see the same background load. Each
 *             connection sends one description (≈ 4 KiB SDP) then `--candidates`
 *             trickle candidates (≈ 120 B), over and over, at rate/connections
 *             per second, round-robin. Between windows the bench waits for the
 *             signals in flight to arrive.
 *   burst     during the last window(s) of each server, on top of the load,
 *             `--setup-rate` call set-ups per second for `--burst-seconds` s:
 *             a fresh room, two new peers that connect and join, then one
 *             sends an offer and `--candidates` candidates, the other answers
 *             with an answer and `--candidates` candidates on receiving the
 *             offer; done when each side has all of the other's; then both close.
 *   close     every peer closes; the "after" memory sample 2 s later.
 *
 * Every SDP and candidate carries `x-bench <room>:<side>:<seq>:<sent at>`
 * (candidates as an RFC 8839 extension attribute, SDPs as an `a=` line). The
 * receiver checks the room (another room's tag counts as a cross-room
 * delivery), the sender (`from` must be its partner's server-assigned id),
 * duplicates and order, and takes relay latency = receive − send on this
 * process's clock (so it includes this process's event-loop delay, which is
 * reported). Lost = sent − delivered to the right peer, after the final drain.
 *
 * Server memory: VmRSS summed over the server's process tree (partykit dev:
 * its Node CLI, esbuild and workerd; relay: one Node process), sampled every
 * 500 ms. "Per active room" is (peak while all `--rooms` rooms were connected,
 * before the burst − before) / rooms. CPU: utime+stime of the tree.
 *
 * `partykit dev` (miniflare) keeps one SQLite database per room (.sqlite, -wal,
 * -shm) under $TMPDIR/miniflare-*, even with `--persist false`; creating rooms
 * therefore writes to that file system. `--tmpdir` runs it with another TMPDIR
 * (for example a tmpfs) to tell that cost apart; the report names the file
 * system used.
 *
 * A script that prints figures, not a test: it exits 0 whatever it measures,
 * 1 if the bench itself broke.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { WebSocket, type RawData } from 'ws';
import { ROOT, startParty, type PartyServer } from '../test/support/harness.ts';
import { startRelayProcess } from './relay.ts';
import { cleanups, runMain, fmt, freshRoom, interrupted, median, quantile, sleep, stopOnSignals, table, withTimeout } from './common.ts';

// ---------------------------------------------------------------- options

const { values: options } = parseArgs({
  options: {
    duration: { type: 'string', default: '30' },
    rooms: { type: 'string', default: '250' },
    rate: { type: 'string', default: '2000' },
    window: { type: 'string', default: '5' },
    'setup-rate': { type: 'string', default: '50' },
    'burst-seconds': { type: 'string', default: '5' },
    candidates: { type: 'string', default: '15' },
    'connect-rate': { type: 'string', default: '100' },
    'connect-concurrency': { type: 'string', default: '10' },
    tmpdir: { type: 'string' },
    json: { type: 'string' },
    'no-snapshots': { type: 'boolean', default: false },
  },
});

function positive(value: string | undefined, name: string, zeroOk = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0)) {
    console.error(`--${name} must be a number ${zeroOk ? '≥' : '>'} 0`);
    process.exit(2);
  }
  return n;
}

const DURATION_S = positive(options.duration, 'duration');
const ROOMS = Math.round(positive(options.rooms, 'rooms'));
const RATE = positive(options.rate, 'rate');
const WINDOW_S = Math.min(positive(options.window, 'window'), DURATION_S);
const SETUP_RATE = positive(options['setup-rate'], 'setup-rate', true);
const BURST_S = positive(options['burst-seconds'], 'burst-seconds', true);
const CANDIDATES = Math.round(positive(options.candidates, 'candidates'));
const CONNECT_RATE = positive(options['connect-rate'], 'connect-rate');
const CONNECT_CONCURRENCY = Math.round(positive(options['connect-concurrency'], 'connect-concurrency'));

/** Windows per server, and how many of the last ones carry the set-up burst. */
const WINDOWS = Math.max(1, Math.round(DURATION_S / WINDOW_S));
const SETUPS = Math.round(SETUP_RATE * BURST_S);
const BURST_WINDOWS = SETUPS > 0 ? Math.min(WINDOWS, Math.max(1, Math.ceil(BURST_S / WINDOW_S))) : 0;
/** One description, then this many candidates, per sender, over and over. */
const PERIOD = CANDIDATES + 1;
const PER_CONNECTION_RATE = RATE / (2 * ROOMS);

/**
 * Heartbeat of the room-server clients, as the widget sends it (HEARTBEAT.intervalMs
 * in src/controllers/signaling-controller.ts): the server closes a member silent
 * for 10 s. The bare relay gets no pings (nor `join` or `bye`): it has no protocol.
 */
const PING_INTERVAL_MS = 3000;
const CONNECT_TIMEOUT_MS = 10_000;
const SETUP_TIMEOUT_MS = 10_000;
const DRAIN_MS = 3_000;
const FINAL_DRAIN_MS = 5_000;
const SAMPLE_MS = 500;

const TARGETS = { loss: 0, crossRoom: 0, p99Ms: 100, mbPerRoom: 1 } as const;

stopOnSignals('the clients and servers');

// ---------------------------------------------------------------- small helpers

const now = () => performance.now();
function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message.split('\n')[0] : String(error)).slice(0, 120);

// ---------------------------------------------------------------- realistic payloads

/**
 * An offer as Chrome writes it for one audio and one video track (opus; VP8,
 * VP9, H264, AV1 with RTX), trimmed to about 4 KiB. The tag line goes last.
 */
function sampleSdp(): string {
  const hex = (n: number) => randomBytes(n).toString('hex').toUpperCase();
  const fingerprint = hex(32).match(/../g)!.join(':');
  const ufrag = 'Ab3d';
  const pwd = randomBytes(18).toString('base64');
  const stream = '7b1e3c1a-6a5d-4c3e-9a8b-2f1d0c9e8b7a';
  const transport = [
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=ice-ufrag:${ufrag}`,
    `a=ice-pwd:${pwd}`,
    'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fingerprint}`,
    'a=setup:actpass',
  ];
  const lines = [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=extmap-allow-mixed',
    `a=msid-semantic: WMS ${stream}`,
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    ...transport,
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=sendrecv',
    `a=msid:${stream} 0a9c2a4e-53f1-4f4f-8d6e-3c5b1f0d2e11`,
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    'a=ssrc:1001 cname:kX2vYq9Qe3bZ7L1p',
    `a=ssrc:1001 msid:${stream} 0a9c2a4e-53f1-4f4f-8d6e-3c5b1f0d2e11`,
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102 103 104 105 106 107 108 109 114 115 116',
    ...transport,
    'a=mid:1',
    'a=extmap:14 urn:ietf:params:rtp-hdrext:toffset',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:13 urn:3gpp:video-orientation',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=sendrecv',
    `a=msid:${stream} 5d3f7a90-1c2b-4e8f-a6d4-9b0c8e7f6a5d`,
    'a=rtcp-mux',
    'a=rtcp-rsize',
  ];
  const codecs = [
    ['96', 'VP8/90000', ''],
    ['98', 'VP9/90000', 'profile-id=0'],
    ['100', 'H264/90000', 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'],
    ['102', 'AV1/90000', 'level-idx=5;profile=0;tier=0'],
    ['104', 'H264/90000', 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f'],
    ['106', 'H264/90000', 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f'],
    ['108', 'H265/90000', 'level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST'],
  ];
  for (const [pt, name, fmtp] of codecs) {
    const rtx = String(Number(pt) + 1);
    lines.push(`a=rtpmap:${pt} ${name}`);
    for (const fb of ['goog-remb', 'transport-cc', 'ccm fir', 'nack', 'nack pli']) lines.push(`a=rtcp-fb:${pt} ${fb}`);
    if (fmtp) lines.push(`a=fmtp:${pt} ${fmtp}`);
    lines.push(`a=rtpmap:${rtx} rtx/90000`, `a=fmtp:${rtx} apt=${pt}`);
  }
  lines.push(
    'a=rtpmap:114 red/90000',
    'a=rtpmap:115 rtx/90000',
    'a=fmtp:115 apt=114',
    'a=rtpmap:116 ulpfec/90000',
    'a=ssrc-group:FID 2001 2002',
    'a=ssrc:2001 cname:kX2vYq9Qe3bZ7L1p',
    `a=ssrc:2001 msid:${stream} 5d3f7a90-1c2b-4e8f-a6d4-9b0c8e7f6a5d`,
    'a=ssrc:2002 cname:kX2vYq9Qe3bZ7L1p',
    `a=ssrc:2002 msid:${stream} 5d3f7a90-1c2b-4e8f-a6d4-9b0c8e7f6a5d`,
  );
  return lines.join('\r\n') + '\r\n';
}

const SDP_BODY = sampleSdp();
const CANDIDATE_BODY = 'candidate:1840965416 1 udp 2122260223 192.168.1.23 54321 typ host generation 0 ufrag Ab3d';

const tagValue = (room: string, side: Side, seq: number, at: number) => `${room}:${side}:${seq}:${at.toFixed(3)}`;
const TAG = /x-bench[: ]([A-Za-z0-9_-]+):([ab]):(\d+):(\d+(?:\.\d+)?)/;

// ---------------------------------------------------------------- statistics

type Kind = 'partykit' | 'relay';
type Side = 'a' | 'b';
type Flow = 'steady' | 'setup';

class FlowStats {
  sent = 0;
  bytes = 0;
  descriptions = 0;
  descriptionBytes = 0;
  candidateBytes = 0;
  /** Delivered to the right peer, first copy. */
  delivered = 0;
  crossRoom = 0;
  /** Right room, but from the wrong sender (an echo, or a `from` that is not the partner). */
  wrongSender = 0;
  duplicates = 0;
  reordered = 0;
  untagged = 0;
  /** Not sent because the connection was no longer open. */
  skipped = 0;
  latencies: number[] = [];
}

interface WindowStats {
  index: number;
  burst: boolean;
  start: number;
  end: number;
  sent: number;
  latencies: number[];
  /** Send times (ms after the window's start) matching `latencies`. */
  sentAt: number[];
  loopP50: number;
  loopP99: number;
  loopMax: number;
  serverCpu: number;
  /** Server CPU by process name (cores). */
  serverCpuByName: Record<string, number>;
  clientCpu: number;
  /** Per second of the window (by send time): signals delivered, latency p50, p99, max. */
  seconds: Array<{ n: number; p50: number; p99: number; max: number }>;
}

interface MemorySample {
  at: number;
  phase: Phase;
  rss: number;
  byName: Record<string, number>;
}

type Phase = 'warm' | 'before' | 'connecting' | 'active' | 'burst' | 'closing' | 'after';

class ServerStats {
  readonly steady = new FlowStats();
  readonly setup = new FlowStats();
  readonly windows: WindowStats[] = [];
  /** `{type: 'error'}` frames received, by code. */
  readonly errors = new Map<string, number>();
  /** Closes this bench did not ask for, by code and reason. */
  readonly closes = new Map<string, number>();
  /** Other server messages after a room was ready, by type. */
  readonly events = new Map<string, number>();
  pingsSent = 0;
  pongs = 0;
  readonly connect = {
    open: [] as number[],
    welcome: [] as number[],
    joined: [] as number[],
    room: [] as number[],
    failures: new Map<string, number>(),
    wallMs: 0,
    rooms: 0,
    /** Server CPU seconds used during the connect phase. */
    cpuSeconds: NaN,
  };
  readonly setups = {
    started: 0,
    completed: 0,
    failed: 0,
    latency: [] as number[],
    connect: [] as number[],
    failures: new Map<string, number>(),
    wallMs: 0,
  };
  readonly memory: MemorySample[] = [];
  readonly marks = new Map<string, MemorySample>();
  phase: Phase = 'warm';
  closeMs = 0;
  /** Server CPU seconds used while every peer closed (and 2 s after). */
  closeCpuSeconds = NaN;

  windowAt(t: number): WindowStats | undefined {
    for (let i = this.windows.length - 1; i >= 0; i--) {
      const w = this.windows[i];
      if (t >= w.start && t < w.end) return w;
    }
    return undefined;
  }
}

interface Target {
  kind: Kind;
  label: string;
  urlFor(room: string): string;
  pid: number;
  stats: ServerStats;
  peers: Peer[];
  /** Round-robin position in `peers` for the load. */
  cursor: number;
}

// ---------------------------------------------------------------- one client connection

type Message = Record<string, unknown>;

interface Waiter {
  accept(message: Message): boolean;
  resolve(message: Message): void;
  reject(error: Error): void;
}

class Peer {
  readonly socket: WebSocket;
  /** Own id (server-assigned, or made up for the relay). */
  id = '';
  partnerId = '';
  welcome: Message | null = null;
  /** Next sequence number to send. */
  seq = 0;
  /** Sequence numbers received from the partner. */
  readonly got = new Set<number>();
  lastSeq = -1;
  lastDeliveryAt = 0;
  /** The room is set up: other server messages are only counted. */
  ready = false;
  closing = false;
  closed: string | null = null;
  onSignal: ((seq: number, message: Message) => void) | null = null;
  readonly #queue: Message[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #openWaiters = new Set<{ resolve(): void; reject(error: Error): void }>();
  #pinger: ReturnType<typeof setInterval> | undefined;
  #pingStart: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly target: Target,
    readonly room: string,
    readonly side: Side,
    readonly flow: Flow,
    readonly descriptionType: 'offer' | 'answer',
  ) {
    this.socket = new WebSocket(target.urlFor(room), { perMessageDeflate: false });
    this.socket.on('open', () => {
      for (const w of this.#openWaiters) w.resolve();
      this.#openWaiters.clear();
    });
    this.socket.on('message', (data, isBinary) => this.#receive(data, isBinary));
    this.socket.on('error', () => {
      // 'close' follows; the reason is recorded there
    });
    this.socket.on('close', (code, reason) => {
      this.#stopPinging();
      this.closed = `closed ${code}${reason.length ? ` ${String(reason)}` : ''}`;
      if (!this.closing) bump(this.target.stats.closes, `${this.flow}: ${this.closed}`);
      const error = new Error(this.closed);
      for (const w of this.#openWaiters) w.reject(error);
      this.#openWaiters.clear();
      for (const w of this.#waiters) w.reject(error);
      this.#waiters.clear();
    });
  }

  opened(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(this.closed));
    return new Promise((resolve, reject) => this.#openWaiters.add({ resolve, reject }));
  }

  /** The first queued or next server message (not a signal) that satisfies `accept`. */
  next(accept: (message: Message) => boolean, what: string): Promise<Message> {
    const i = this.#queue.findIndex(accept);
    if (i >= 0) return Promise.resolve(this.#queue.splice(i, 1)[0]);
    if (this.closed) return Promise.reject(new Error(this.closed));
    let waiter: Waiter;
    const promise = new Promise<Message>((resolve, reject) => {
      waiter = { accept, resolve, reject };
      this.#waiters.add(waiter);
    });
    return withTimeout(promise, CONNECT_TIMEOUT_MS, what).finally(() => this.#waiters.delete(waiter));
  }

  /** Ping like the widget, from now on until the socket closes (room server only). */
  startPinging(): void {
    if (this.target.kind !== 'partykit' || this.#pingStart || this.closed) return;
    const ping = () => {
      if (this.send('{"type":"ping"}')) this.target.stats.pingsSent++;
    };
    // Spread the peers' heartbeats over the interval.
    this.#pingStart = setTimeout(() => {
      ping();
      this.#pinger = setInterval(ping, PING_INTERVAL_MS);
    }, Math.random() * PING_INTERVAL_MS);
  }

  #stopPinging(): void {
    clearTimeout(this.#pingStart);
    clearInterval(this.#pinger);
  }

  markReady(): void {
    this.ready = true;
    for (const m of this.#queue) if (m.type !== 'peer-joined' && m.type !== 'peer-updated') bump(this.target.stats.events, String(m.type));
    this.#queue.length = 0;
  }

  send(frame: string): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(frame);
    return true;
  }

  /** Send the next signal of the cycle: a description, then CANDIDATES candidates. */
  sendNext(): boolean {
    const flow = this.target.stats[this.flow];
    if (this.socket.readyState !== WebSocket.OPEN) {
      flow.skipped++;
      return false;
    }
    const seq = this.seq++;
    const tag = tagValue(this.room, this.side, seq, now());
    const description = seq % PERIOD === 0;
    const data = description
      ? { kind: 'description', description: { type: this.descriptionType, sdp: `${SDP_BODY}a=x-bench:${tag}\r\n` } }
      : {
          kind: 'candidates',
          candidates: [{ candidate: `${CANDIDATE_BODY} x-bench ${tag}`, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'Ab3d' }],
        };
    const frame = JSON.stringify({ type: 'signal', to: this.partnerId, data });
    this.socket.send(frame);
    flow.sent++;
    flow.bytes += frame.length;
    if (description) {
      flow.descriptions++;
      flow.descriptionBytes += frame.length;
    } else flow.candidateBytes += frame.length;
    return true;
  }

  /** Leave for good: the room server is told (`bye`, as the widget does), then the socket closes. */
  close(): void {
    this.closing = true;
    this.#stopPinging();
    if (this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
    else if (this.socket.readyState === WebSocket.OPEN) {
      if (this.target.kind === 'partykit' && this.ready) this.socket.send('{"type":"bye"}');
      this.socket.close(1000, 'bench done');
    }
  }

  #receive(data: RawData, isBinary: boolean): void {
    const at = now();
    const stats = this.target.stats;
    let message: Message;
    try {
      const parsed: unknown = JSON.parse(String(data));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      message = parsed as Message;
    } catch {
      bump(stats.errors, isBinary ? '(binary frame)' : '(unparsable frame)');
      return;
    }
    if (message.type === 'signal') {
      this.#signal(message, at);
      return;
    }
    if (message.type === 'pong') {
      stats.pongs++;
      return;
    }
    if (message.type === 'error') bump(stats.errors, `${this.flow}: ${String(message.code)}`);
    if (this.ready) {
      // Expected: the partner's own close at the end (set-ups hang up at once).
      const expected = this.closing || (this.flow === 'setup' && message.type === 'peer-left');
      if (message.type !== 'error' && !expected) bump(stats.events, `${this.flow}: ${String(message.type)}`);
      return;
    }
    for (const w of this.#waiters) {
      if (w.accept(message)) {
        this.#waiters.delete(w);
        w.resolve(message);
        return;
      }
    }
    this.#queue.push(message);
  }

  #signal(message: Message, at: number): void {
    const flow = this.target.stats[this.flow];
    const data = message.data as { kind?: unknown; description?: { sdp?: unknown }; candidates?: { candidate?: unknown }[] } | undefined;
    const text = data?.kind === 'description' ? data.description?.sdp : data?.candidates?.[0]?.candidate;
    const match = typeof text === 'string' ? TAG.exec(text) : null;
    if (!match) {
      flow.untagged++;
      return;
    }
    const [, room, side, seqText, sentText] = match;
    if (room !== this.room) {
      flow.crossRoom++;
      return;
    }
    if (side === this.side) {
      flow.wrongSender++;
      return;
    }
    if (this.target.kind === 'partykit') {
      if (!this.partnerId && typeof message.from === 'string') this.partnerId = message.from;
      if (message.from !== this.partnerId) {
        flow.wrongSender++;
        return;
      }
    }
    const seq = Number(seqText);
    if (this.got.has(seq)) {
      flow.duplicates++;
      return;
    }
    this.got.add(seq);
    if (seq < this.lastSeq) flow.reordered++;
    else this.lastSeq = seq;
    flow.delivered++;
    const sentAt = Number(sentText);
    const latency = at - sentAt;
    flow.latencies.push(latency);
    if (this.flow === 'steady') {
      const w = this.target.stats.windowAt(sentAt);
      if (w) {
        w.latencies.push(latency);
        w.sentAt.push(sentAt - w.start);
      }
    }
    this.lastDeliveryAt = at;
    this.onSignal?.(seq, message);
  }
}

interface ConnectTimes {
  open: number[];
  welcome: number[];
  joined: number[];
}

/** Open one peer; for the room server also wait for `welcome`, `join` and `joined`. */
async function openPeer(
  target: Target,
  room: string,
  side: Side,
  flow: Flow,
  descriptionType: 'offer' | 'answer',
  times: ConnectTimes | null,
): Promise<Peer> {
  const t0 = now();
  const peer = new Peer(target, room, side, flow, descriptionType);
  try {
    await withTimeout(peer.opened(), CONNECT_TIMEOUT_MS, 'WebSocket open');
    const opened = now();
    if (target.kind === 'partykit') {
      const welcome = await peer.next((m) => m.type === 'welcome' || m.type === 'lobby' || m.type === 'error', 'welcome');
      if (welcome.type !== 'welcome') throw new Error(`got ${String(welcome.type)} ${String(welcome.code ?? '')} instead of welcome`);
      const welcomed = now();
      peer.id = String(welcome.id);
      peer.welcome = welcome;
      peer.startPinging();
      peer.send(JSON.stringify({ type: 'join', name: `bench ${side}` }));
      const joined = await peer.next((m) => m.type === 'joined' || m.type === 'error', 'joined');
      if (joined.type !== 'joined') throw new Error(`got error ${String(joined.code)} instead of joined`);
      times?.welcome.push(welcomed - t0);
      times?.joined.push(now() - t0);
    } else {
      peer.id = randomBytes(12).toString('base64url');
    }
    times?.open.push(opened - t0);
    return peer;
  } catch (error) {
    peer.close();
    throw error;
  }
}

/** Two peers in a fresh room, each knowing the other's id; `b` arrives second. */
async function openRoom(target: Target, flow: Flow, times: ConnectTimes | null): Promise<[Peer, Peer]> {
  const room = freshRoom();
  // In the steady rooms `a` offers; in a set-up, the later arrival (`b`) offers, as the widget does.
  const a = await openPeer(target, room, 'a', flow, flow === 'steady' ? 'offer' : 'answer', times);
  let b: Peer | undefined;
  try {
    b = await openPeer(target, room, 'b', flow, flow === 'steady' ? 'answer' : 'offer', times);
    if (target.kind === 'partykit') {
      const others = (b.welcome?.peers ?? []) as Array<{ id?: unknown }>;
      if (others.length !== 1 || others[0].id !== a.id) throw new Error(`second peer's welcome lists ${others.length} peer(s), not the first`);
      b.partnerId = a.id;
      const updated = await a.next(
        (m) => m.type === 'peer-updated' && (m.peer as { inCall?: unknown } | undefined)?.inCall === true,
        'peer-updated (partner in call)',
      );
      a.partnerId = String((updated.peer as { id?: unknown }).id);
      if (a.partnerId !== b.id) throw new Error('peer-updated names another peer');
    } else {
      a.partnerId = b.id;
      b.partnerId = a.id;
    }
    a.markReady();
    b.markReady();
    return [a, b];
  } catch (error) {
    a.close();
    b?.close();
    throw error;
  }
}

// ---------------------------------------------------------------- process tree: memory and CPU

interface ProcInfo {
  pid: number;
  ppid: number;
  name: string;
  cpuTicks: number;
}

function procTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
      table.set(Number(entry), { pid: Number(entry), ppid: Number(fields[1]), name, cpuTicks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

function tree(root: number, table = procTable()): ProcInfo[] {
  const result: ProcInfo[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    const info = table.get(pid);
    if (!info) continue;
    result.push(info);
    for (const p of table.values()) if (p.ppid === pid) queue.push(p.pid);
  }
  return result;
}

function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds used so far by each process name in the tree, and in total (`*`). */
function treeCpuSeconds(root: number): Record<string, number> {
  const byName: Record<string, number> = { '*': 0 };
  for (const p of tree(root)) {
    byName[p.name] = (byName[p.name] ?? 0) + p.cpuTicks / CLOCK_TICKS;
    byName['*'] += p.cpuTicks / CLOCK_TICKS;
  }
  return byName;
}

function sampleMemory(target: Target, table = procTable()): MemorySample {
  const byName: Record<string, number> = {};
  let rss = 0;
  for (const p of tree(target.pid, table)) {
    const bytes = rssOf(p.pid);
    rss += bytes;
    byName[p.name] = (byName[p.name] ?? 0) + bytes;
  }
  const sample = { at: now(), phase: target.stats.phase, rss, byName };
  target.stats.memory.push(sample);
  return sample;
}

function mark(target: Target, label: string): MemorySample {
  const sample = sampleMemory(target);
  target.stats.marks.set(label, sample);
  return sample;
}

/** The file system type (and mount point) holding `path`, from /proc/mounts. */
function fileSystemOf(path: string): string {
  let best = { mount: '', type: '?' };
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mount, type] = line.split(' ');
      if (!mount || !type) continue;
      if ((path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) && mount.length >= best.mount.length) {
        best = { mount, type };
      }
    }
  } catch {
    // not Linux
  }
  return `${best.type} (${best.mount || '?'})`;
}

/** The miniflare temporary directory workerd has open, its files and bytes. */
function miniflareDir(target: Target): { dir: string; sqlite: number; files: number; bytes: number } | null {
  for (const p of tree(target.pid)) {
    if (p.name !== 'workerd') continue;
    try {
      for (const fd of readdirSync(`/proc/${p.pid}/fd`)) {
        let link = '';
        try {
          link = readlinkSync(`/proc/${p.pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const match = /^(.*\/miniflare-[0-9a-f]+)(\/|$)/.exec(link);
        if (!match) continue;
        const result = { dir: match[1], sqlite: 0, files: 0, bytes: 0 };
        const walk = (dir: string) => {
          for (const entry of readdirSync(dir, { withFileTypes: true })) {
            const path = join(dir, entry.name);
            if (entry.isDirectory()) walk(path);
            else {
              result.files++;
              if (entry.name.endsWith('.sqlite')) result.sqlite++;
              result.bytes += statSync(path).size;
            }
          }
        };
        walk(result.dir);
        return result;
      }
    } catch {
      // gone
    }
  }
  return null;
}

// ---------------------------------------------------------------- phases

async function warmUp(target: Target): Promise<void> {
  const [a, b] = await openRoom(target, 'setup', null);
  const stats = target.stats.setup;
  const before = { sent: stats.sent, delivered: stats.delivered };
  for (const peer of [b, a]) {
    peer.sendNext();
    peer.sendNext();
  }
  const deadline = now() + 5000;
  while (stats.delivered - before.delivered < 4 && now() < deadline) await sleep(10);
  const ok = stats.delivered - before.delivered === 4;
  a.close();
  b.close();
  // Not part of the figures.
  Object.assign(target.stats.setup, new FlowStats());
  if (!ok) throw new Error(`${target.label}: warm-up signals did not arrive`);
}

async function connectRooms(target: Target): Promise<void> {
  const stats = target.stats;
  stats.phase = 'connecting';
  const cpu0 = treeCpuSeconds(target.pid)['*'];
  const t0 = now();
  const spacingMs = (2 / CONNECT_RATE) * 1000;
  let inFlight = 0;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < ROOMS && !interrupted(); i++) {
    const startAt = t0 + i * spacingMs;
    while (now() < startAt || inFlight >= CONNECT_CONCURRENCY) await sleep(Math.max(1, Math.min(20, startAt - now())));
    inFlight++;
    const roomStart = now();
    pending.push(
      openRoom(target, 'steady', stats.connect)
        .then(([a, b]) => {
          stats.connect.room.push(now() - roomStart);
          target.peers.push(a, b);
          stats.connect.rooms++;
        })
        .catch((error: unknown) => bump(stats.connect.failures, reasonOf(error)))
        .finally(() => inFlight--),
    );
  }
  await Promise.all(pending);
  stats.connect.wallMs = now() - t0;
  stats.connect.cpuSeconds = treeCpuSeconds(target.pid)['*'] - cpu0;
  stats.phase = 'active';
  // Spread the senders over the rooms: a and b of one room are not adjacent.
  for (let i = target.peers.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [target.peers[i], target.peers[j]] = [target.peers[j], target.peers[i]];
  }
}

async function runSetup(target: Target): Promise<void> {
  const setups = target.stats.setups;
  setups.started++;
  const t0 = now();
  let peers: [Peer, Peer] | undefined;
  try {
    peers = await openRoom(target, 'setup', null);
    const [a, b] = peers;
    setups.connect.push(now() - t0);
    const complete = new Promise<void>((resolve) => {
      const check = () => {
        if (a.got.size >= PERIOD && b.got.size >= PERIOD) resolve();
      };
      a.onSignal = (seq) => {
        if (seq === 0) for (let i = 0; i < PERIOD; i++) a.sendNext(); // the answer, then its candidates
        check();
      };
      b.onSignal = check;
    });
    const offeredAt = now();
    for (let i = 0; i < PERIOD; i++) b.sendNext(); // the offer, then its candidates
    await withTimeout(complete, SETUP_TIMEOUT_MS, 'set-up');
    setups.latency.push(Math.max(a.lastDeliveryAt, b.lastDeliveryAt) - offeredAt);
    setups.completed++;
  } catch (error) {
    setups.failed++;
    bump(setups.failures, reasonOf(error));
  } finally {
    peers?.[0].close();
    peers?.[1].close();
  }
}

const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();

/** Wait until every steady signal sent has arrived (or `ms` passed). */
async function drain(target: Target, ms: number): Promise<void> {
  const flow = target.stats.steady;
  const deadline = now() + ms;
  while (flow.delivered + flow.crossRoom + flow.wrongSender < flow.sent && now() < deadline) await sleep(10);
}

async function runWindow(target: Target, index: number, burst: boolean, setupsToStart: number): Promise<void> {
  const stats = target.stats;
  const start = now();
  const w: WindowStats = {
    index,
    burst,
    start,
    end: Infinity,
    sent: 0,
    latencies: [],
    sentAt: [],
    loopP50: NaN,
    loopP99: NaN,
    loopMax: NaN,
    serverCpu: NaN,
    serverCpuByName: {},
    clientCpu: NaN,
    seconds: [],
  };
  stats.windows.push(w);
  if (burst) stats.phase = 'burst';
  loop.reset();
  const serverCpu0 = treeCpuSeconds(target.pid);
  const clientCpu0 = process.cpuUsage();
  const ms = WINDOW_S * 1000;
  const setups: Promise<void>[] = [];
  const n = target.peers.length;
  let started = 0;
  for (;;) {
    const elapsed = now() - start;
    if (elapsed >= ms || interrupted()) break;
    const due = Math.floor((RATE * elapsed) / 1000);
    while (w.sent < due && n) {
      target.peers[target.cursor++ % n].sendNext();
      w.sent++;
    }
    if (burst) {
      const dueSetups = Math.min(setupsToStart, Math.floor((SETUP_RATE * elapsed) / 1000) + 1);
      for (; started < dueSetups; started++) setups.push(runSetup(target));
    }
    await sleep(4);
  }
  // What fell due by the end of the window but was not sent because the timer woke late.
  if (!interrupted()) {
    while (w.sent < Math.floor(RATE * WINDOW_S) && n) {
      target.peers[target.cursor++ % n].sendNext();
      w.sent++;
    }
    for (; burst && started < setupsToStart; started++) setups.push(runSetup(target));
  }
  w.end = now();
  const wall = (w.end - start) / 1000;
  const serverCpu1 = treeCpuSeconds(target.pid);
  for (const name of Object.keys(serverCpu1)) w.serverCpuByName[name] = (serverCpu1[name] - (serverCpu0[name] ?? 0)) / wall;
  w.serverCpu = w.serverCpuByName['*'];
  const client = process.cpuUsage(clientCpu0);
  w.clientCpu = (client.user + client.system) / 1e6 / wall;
  w.loopP50 = loop.percentile(50) / 1e6;
  w.loopP99 = loop.percentile(99) / 1e6;
  w.loopMax = loop.max / 1e6;
  await Promise.all(setups);
  await drain(target, DRAIN_MS);
  for (let second = 0; second < Math.max(1, Math.round(wall)); second++) {
    const values = w.latencies.filter((_, i) => w.sentAt[i] >= second * 1000 && w.sentAt[i] < (second + 1) * 1000);
    w.seconds.push({ n: values.length, p50: quantile(values, 0.5), p99: quantile(values, 0.99), max: max(values) });
  }
}

async function closeAll(target: Target): Promise<void> {
  target.stats.phase = 'closing';
  const t0 = now();
  for (const peer of target.peers) peer.close();
  const deadline = now() + 5000;
  while (target.peers.some((p) => p.socket.readyState !== WebSocket.CLOSED) && now() < deadline) await sleep(20);
  target.stats.closeMs = now() - t0;
  for (const peer of target.peers) if (peer.socket.readyState !== WebSocket.CLOSED) peer.socket.terminate();
  target.stats.phase = 'after';
}

// ---------------------------------------------------------------- statistics and printing

const max = (values: number[]) => (values.length ? values.reduce((m, x) => (x > m ? x : m), -Infinity) : NaN);
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const pct = (x: number, y: number, digits = 3) => (y > 0 ? `${((100 * x) / y).toFixed(digits)} %` : '–');
const ratio = (x: number, y: number) => (Number.isFinite(x) && Number.isFinite(y) && y > 0 ? `${(x / y).toFixed(2)}×` : '–');
const mb = (bytes: number, digits = 1) => (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(digits) : '–');

function packageVersion(dir: string): string {
  try {
    return String((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version);
  } catch {
    return '?';
  }
}

function workerdVersion(party: PartyServer): string {
  for (const p of tree(party.process.pid!)) {
    if (p.name !== 'workerd') continue;
    try {
      const exe = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0')[0];
      return packageVersion(dirname(dirname(exe)));
    } catch {
      // fall through
    }
  }
  return '?';
}

/** Which room-server code ran: the commit, and a hash of the files partykit dev bundles. */
function serverCode(): string {
  const files = [
    ...readdirSync(join(ROOT, 'party'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `party/${f}`),
    'src/protocol.ts',
    'src/random-id.ts',
  ].sort();
  const hash = createHash('sha256');
  for (const f of files) {
    try {
      hash.update(f).update(readFileSync(join(ROOT, f)));
    } catch {
      // a file that went away: the hash says enough
    }
  }
  let commit = '?';
  let dirty = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const changed = execFileSync('git', ['status', '--porcelain', '--', 'party', 'src/protocol.ts', 'src/random-id.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    if (changed.length) dirty = ` + uncommitted changes in ${changed.join(', ')}`;
  } catch {
    // not a git checkout
  }
  return `code:     commit ${commit}${dirty}; server sources (${files.join(', ')}) sha256 ${hash.digest('hex').slice(0, 12)}`;
}

function machineInfo(party: PartyServer): string[] {
  const cpu = cpus();
  return [
    `machine:  ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()} ${release()}, Node ${process.version}`,
    `servers:  partykit dev ${packageVersion(join(ROOT, 'node_modules/partykit'))} (workerd ${workerdVersion(party)}) with party/index.ts, default config (capacity 2); ` +
      `baseline: bare ws ${packageVersion(join(ROOT, 'node_modules/ws'))} relay (bench/relay.ts) in its own Node process`,
    serverCode(),
  ];
}

interface Summary {
  kind: Kind;
  label: string;
  steady: FlowStats;
  setup: FlowStats;
  lost: number;
  setupLost: number;
  all: { p50: number; p99: number; max: number };
  steadyLat: { p50: number; p99: number; max: number; winP50: number; winP99: number; burstP99: number; plainP99: number };
  memory: { before: number; active: number; perRoom: number; end: number; after: number; activeWorkerd: number };
}

function summarize(target: Target): Summary {
  const s = target.stats;
  const steady = s.steady;
  const setup = s.setup;
  const allLatencies = steady.latencies.concat(setup.latencies);
  const plain = s.windows.filter((w) => !w.burst);
  const burst = s.windows.filter((w) => w.burst);
  const before = s.marks.get('before')?.rss ?? NaN;
  const activeSamples = s.memory.filter((m) => m.phase === 'active');
  const peak = activeSamples.reduce<MemorySample | null>((best, m) => (!best || m.rss > best.rss ? m : best), null);
  const workerdBefore = s.marks.get('before')?.byName.workerd ?? NaN;
  return {
    kind: target.kind,
    label: target.label,
    steady,
    setup,
    lost: steady.sent - steady.delivered,
    setupLost: setup.sent - setup.delivered,
    all: { p50: quantile(allLatencies, 0.5), p99: quantile(allLatencies, 0.99), max: max(allLatencies) },
    steadyLat: {
      p50: quantile(steady.latencies, 0.5),
      p99: quantile(steady.latencies, 0.99),
      max: max(steady.latencies),
      winP50: median(s.windows.map((w) => quantile(w.latencies, 0.5))),
      winP99: median(s.windows.map((w) => quantile(w.latencies, 0.99))),
      burstP99: quantile(burst.flatMap((w) => w.latencies), 0.99),
      plainP99: quantile(plain.flatMap((w) => w.latencies), 0.99),
    },
    memory: {
      before,
      active: peak?.rss ?? NaN,
      perRoom: peak && s.connect.rooms ? (peak.rss - before) / s.connect.rooms : NaN,
      end: s.marks.get('end')?.rss ?? NaN,
      after: s.marks.get('after')?.rss ?? NaN,
      activeWorkerd: peak?.byName.workerd !== undefined ? peak.byName.workerd - workerdBefore : NaN,
    },
  };
}

/** What `partykit dev` printed during the bench (after start-up), by kind of line. */
function partyLog(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  // Strip colours and cursor control sequences.
  const clean = text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('stack:') || line.includes('workerd@') || line.startsWith('workerd/server/')) continue;
    if (/\bGET \S+ 101 /.test(line)) bump(counts, 'request log lines (GET … 101)');
    else if (line.includes('Network connection lost')) bump(counts, '"Uncaught (in response) Error: Network connection lost."');
    else if (line.includes('[ERROR]')) {
      const what = /error: (.*)$/.exec(line)?.[1] ?? line;
      bump(counts, `workerd [ERROR] "${what.slice(0, 110)}"`);
    } else bump(counts, `other: ${line.slice(0, 100)}`);
  }
  return counts;
}

function mapText(map: Map<string, number>): string {
  return map.size ? [...map].map(([k, n]) => `${k} ×${n}`).join('; ') : 'none';
}

/** Times (this process's clock) at which `partykit dev` reloaded because a watched source file changed. */
const reloads: number[] = [];

function report(targets: Target[], info: string[], loadBefore: number[], wallMs: number, partyOutput: string): string {
  const [P, R] = targets.map(summarize);
  const [ps, rs] = targets.map((t) => t.stats);
  const out: string[] = [];
  out.push(
    '',
    `Signaling load: ${ROOMS} rooms × 2 peers, ${int(RATE)} signals/s (${fmt(PER_CONNECTION_RATE, 1)}/s per connection) for ${fmt(WINDOWS * WINDOW_S)} s per server ` +
      `in ${WINDOWS} windows of ${fmt(WINDOW_S)} s (interleaved with the baseline's); burst ${fmt(SETUP_RATE)} set-ups/s for ${fmt(BURST_S)} s ` +
      `(offer, answer, 2×${CANDIDATES} candidates) during the last ${BURST_WINDOWS} window(s)`,
    '',
    ...info,
    `load:     1-min load average ${fmt(loadBefore[0], 2)} before, ${fmt(loadavg()[0], 2)} after (5-min ${fmt(loadavg()[1], 2)}); wall time ${fmt(wallMs / 1000)} s`,
    `frames:   description ${int(P.steady.descriptionBytes / Math.max(1, P.steady.descriptions))} B (SDP ${int(SDP_BODY.length)} B + tag line), ` +
      `candidate ${int(P.steady.candidateBytes / Math.max(1, P.steady.sent - P.steady.descriptions))} B (candidate line ${CANDIDATE_BODY.length} B + tag ≈ 45 B); ` +
      `1 description per ${CANDIDATES} candidates; latency = receive − send in this one Node process`,
  );
  if (reloads.length) {
    const [pt] = targets;
    const affected = pt.stats.windows.filter((w) => reloads.some((t) => t >= w.start - DRAIN_MS && t < w.end + DRAIN_MS)).map((w) => w.index + 1);
    out.push(
      `WARNING:  partykit dev RELOADED ${reloads.length}× during the bench (a watched source file under party/ or src/ changed; every socket dropped)` +
        `${affected.length ? `, around window(s) ${affected.join(', ')}` : ''}: its figures are not valid; re-run when nobody is editing the server`,
    );
  }
  if (PER_CONNECTION_RATE > 15) out.push(`WARNING:  ${fmt(PER_CONNECTION_RATE, 1)} signals/s per connection is near the server's 20/s rate limit`);
  out.push('');

  const lat = (x: number) => fmt(x, 1);
  const row = (label: string, p: string, r: string, ratioText = '') => [label, p, r, ratioText];
  const rows: string[][] = [];
  const section = (title: string) => rows.push([title, '', '', '']);

  section('connect (gradual)');
  rows.push(
    row('  rooms ready / asked', `${ps.connect.rooms} / ${ROOMS}`, `${rs.connect.rooms} / ${ROOMS}`),
    row('  connect phase wall time, s', fmt(ps.connect.wallMs / 1000, 1), fmt(rs.connect.wallMs / 1000, 1), ratio(ps.connect.wallMs, rs.connect.wallMs)),
    row(
      '  server CPU per connection opened, ms',
      fmt((ps.connect.cpuSeconds * 1000) / Math.max(1, 2 * ps.connect.rooms), 2),
      fmt((rs.connect.cpuSeconds * 1000) / Math.max(1, 2 * rs.connect.rooms), 2),
      ratio(ps.connect.cpuSeconds, rs.connect.cpuSeconds),
    ),
    row('  socket open p50 / p99, ms', `${lat(median(ps.connect.open))} / ${lat(quantile(ps.connect.open, 0.99))}`, `${lat(median(rs.connect.open))} / ${lat(quantile(rs.connect.open, 0.99))}`, ratio(median(ps.connect.open), median(rs.connect.open))),
    row('  → welcome p50 / p99, ms', `${lat(median(ps.connect.welcome))} / ${lat(quantile(ps.connect.welcome, 0.99))}`, 'n/a'),
    row('  → joined p50 / p99, ms', `${lat(median(ps.connect.joined))} / ${lat(quantile(ps.connect.joined, 0.99))}`, 'n/a'),
    row('  room ready p50 / p99, ms', `${lat(median(ps.connect.room))} / ${lat(quantile(ps.connect.room, 0.99))}`, `${lat(median(rs.connect.room))} / ${lat(quantile(rs.connect.room, 0.99))}`, ratio(median(ps.connect.room), median(rs.connect.room))),
  );

  section(`steady load (${WINDOWS} × ${fmt(WINDOW_S)} s per server)`);
  const achieved = (s: ServerStats) => s.windows.reduce((n, w) => n + w.sent, 0) / Math.max(1e-9, s.windows.reduce((t, w) => t + (w.end - w.start) / 1000, 0));
  rows.push(
    row('  sent', int(P.steady.sent), int(R.steady.sent)),
    row('  achieved rate, signals/s', fmt(achieved(ps)), fmt(achieved(rs))),
    row('  delivered', int(P.steady.delivered), int(R.steady.delivered)),
    row('  delivered / sent', pct(P.steady.delivered, P.steady.sent), pct(R.steady.delivered, R.steady.sent)),
    row('  lost', int(P.lost), int(R.lost)),
    row('  cross-room deliveries', int(P.steady.crossRoom), int(R.steady.crossRoom)),
    row('  wrong sender / dup / reordered', `${P.steady.wrongSender} / ${P.steady.duplicates} / ${P.steady.reordered}`, `${R.steady.wrongSender} / ${R.steady.duplicates} / ${R.steady.reordered}`),
    row('  not sent (socket closed)', int(P.steady.skipped), int(R.steady.skipped)),
    row('  relay latency p50, ms', lat(P.steadyLat.p50), lat(R.steadyLat.p50), ratio(P.steadyLat.p50, R.steadyLat.p50)),
    row('  relay latency p99, ms', lat(P.steadyLat.p99), lat(R.steadyLat.p99), ratio(P.steadyLat.p99, R.steadyLat.p99)),
    row('  relay latency max, ms', lat(P.steadyLat.max), lat(R.steadyLat.max), ratio(P.steadyLat.max, R.steadyLat.max)),
    row(`  median of ${WINDOWS} window p50s, ms`, lat(P.steadyLat.winP50), lat(R.steadyLat.winP50), ratio(P.steadyLat.winP50, R.steadyLat.winP50)),
    row(`  median of ${WINDOWS} window p99s, ms`, lat(P.steadyLat.winP99), lat(R.steadyLat.winP99), ratio(P.steadyLat.winP99, R.steadyLat.winP99)),
    row('  p99 without / during burst, ms', `${lat(P.steadyLat.plainP99)} / ${lat(P.steadyLat.burstP99)}`, `${lat(R.steadyLat.plainP99)} / ${lat(R.steadyLat.burstP99)}`),
  );

  section(`set-up burst (${fmt(SETUP_RATE)}/s for ${fmt(BURST_S)} s, on top of the load)`);
  const sp = ps.setups;
  const sr = rs.setups;
  rows.push(
    row('  set-ups completed / started', `${sp.completed} / ${sp.started}`, `${sr.completed} / ${sr.started}`),
    row('  connect + join p50 / p99, ms', `${lat(median(sp.connect))} / ${lat(quantile(sp.connect, 0.99))}`, `${lat(median(sr.connect))} / ${lat(quantile(sr.connect, 0.99))}`, ratio(median(sp.connect), median(sr.connect))),
    row('  offer → last candidate p50, ms', lat(median(sp.latency)), lat(median(sr.latency)), ratio(median(sp.latency), median(sr.latency))),
    row('  offer → last candidate p99, ms', lat(quantile(sp.latency, 0.99)), lat(quantile(sr.latency, 0.99)), ratio(quantile(sp.latency, 0.99), quantile(sr.latency, 0.99))),
    row('  signals sent / delivered', `${int(P.setup.sent)} / ${int(P.setup.delivered)}`, `${int(R.setup.sent)} / ${int(R.setup.delivered)}`),
    row('  lost / cross-room', `${int(P.setupLost)} / ${int(P.setup.crossRoom)}`, `${int(R.setupLost)} / ${int(R.setup.crossRoom)}`),
    row('  signal latency p50 / p99, ms', `${lat(median(P.setup.latencies))} / ${lat(quantile(P.setup.latencies, 0.99))}`, `${lat(median(R.setup.latencies))} / ${lat(quantile(R.setup.latencies, 0.99))}`, ratio(quantile(P.setup.latencies, 0.99), quantile(R.setup.latencies, 0.99))),
  );

  section('all relayed signals (steady + set-up)');
  rows.push(
    row('  latency p50 / p99 / max, ms', `${lat(P.all.p50)} / ${lat(P.all.p99)} / ${lat(P.all.max)}`, `${lat(R.all.p50)} / ${lat(R.all.p99)} / ${lat(R.all.max)}`, ratio(P.all.p99, R.all.p99)),
  );

  section('server memory (RSS of the process tree), MB');
  rows.push(
    row('  before connecting (after warm-up)', mb(P.memory.before), mb(R.memory.before)),
    row(`  peak, ${ROOMS} rooms active (before burst)`, mb(P.memory.active), mb(R.memory.active)),
    row('  per active room', mb(P.memory.perRoom, 3), mb(R.memory.perRoom, 3), ratio(P.memory.perRoom, R.memory.perRoom)),
    row('    of which workerd, per room', mb(P.memory.activeWorkerd / Math.max(1, ps.connect.rooms), 3), 'n/a'),
    row(`  end of load (+${sp.started} set-up rooms)`, mb(P.memory.end), mb(R.memory.end)),
    row('  2 s after all closed', mb(P.memory.after), mb(R.memory.after)),
    row('  retained per room ever opened', mb((P.memory.after - P.memory.before) / Math.max(1, ps.connect.rooms + sp.started), 3), mb((R.memory.after - R.memory.before) / Math.max(1, rs.connect.rooms + sr.started), 3)),
  );

  section('CPU during own windows (1.0 = one core)');
  const cpuSplit = (s: ServerStats) => {
    const names = [...new Set(s.windows.flatMap((w) => Object.keys(w.serverCpuByName)))].filter((n) => n !== '*').sort();
    const of = (name: string, burst: boolean) => median(s.windows.filter((w) => w.burst === burst).map((w) => w.serverCpuByName[name] ?? 0));
    return names.map((n) => `${n} ${fmt(of(n, false), 2)}/${fmt(of(n, true), 2)}`).join(', ');
  };
  const cpuMean = (s: ServerStats, key: 'serverCpu' | 'clientCpu', burst: boolean) => median(s.windows.filter((w) => w.burst === burst).map((w) => w[key]));
  rows.push(
    row('  server tree, steady / burst', `${fmt(cpuMean(ps, 'serverCpu', false), 2)} / ${fmt(cpuMean(ps, 'serverCpu', true), 2)}`, `${fmt(cpuMean(rs, 'serverCpu', false), 2)} / ${fmt(cpuMean(rs, 'serverCpu', true), 2)}`),
    row('  bench clients, steady / burst', `${fmt(cpuMean(ps, 'clientCpu', false), 2)} / ${fmt(cpuMean(ps, 'clientCpu', true), 2)}`, `${fmt(cpuMean(rs, 'clientCpu', false), 2)} / ${fmt(cpuMean(rs, 'clientCpu', true), 2)}`),
    row(
      '  closing all peers: wall s, server CPU ms per connection',
      `${fmt(ps.closeMs / 1000, 1)}, ${fmt((ps.closeCpuSeconds * 1000) / Math.max(1, ps.connect.rooms * 2), 2)}`,
      `${fmt(rs.closeMs / 1000, 1)}, ${fmt((rs.closeCpuSeconds * 1000) / Math.max(1, rs.connect.rooms * 2), 2)}`,
    ),
    row('  client event-loop delay p99 (median), ms', fmt(median(ps.windows.map((w) => w.loopP99)), 1), fmt(median(rs.windows.map((w) => w.loopP99)), 1)),
  );

  out.push(table(['', P.label, R.label, 'ratio'], rows, ['l', 'r', 'r', 'r']));
  out.push('', `server CPU by process (cores, median of windows, steady/burst): ${targets.map((t) => `${t.label}: ${cpuSplit(t.stats)}`).join('; ')}`);

  out.push('', 'per window (latency p50/p99 ms, server CPU, client loop-delay p99 ms):');
  for (const t of targets) {
    out.push(
      `  ${t.label.padEnd(14)} ` +
        t.stats.windows
          .map((w) => `${w.burst ? '*' : ''}${fmt(quantile(w.latencies, 0.5), 1)}/${fmt(quantile(w.latencies, 0.99), 1)} ${fmt(w.serverCpu, 2)} ${fmt(w.loopP99, 0)}`)
          .join(' | '),
    );
  }
  out.push('  (* = burst window)', '', 'burst window(s), per second of sending (signals, latency p50/p99/max ms):');
  for (const t of targets) {
    for (const w of t.stats.windows.filter((x) => x.burst)) {
      out.push(`  ${t.label.padEnd(14)} ` + w.seconds.map((x) => `${x.n} ${fmt(x.p50, 1)}/${fmt(x.p99, 0)}/${fmt(x.max, 0)}`).join(' | '));
    }
  }

  out.push('', 'anomalies:');
  for (const t of targets) {
    const s = t.stats;
    out.push(
      `  ${t.label}: ${t.kind === 'partykit' ? `heartbeat pings sent ${s.pingsSent}, pongs ${s.pongs}; ` : ''}server errors: ${mapText(s.errors)}; unexpected closes: ${mapText(s.closes)}; ` +
        `connect failures: ${mapText(s.connect.failures)}; set-up failures: ${mapText(s.setups.failures)}; other messages: ${mapText(s.events)}`,
    );
  }

  out.push(`  partykit dev output during the bench: ${[...partyLog(partyOutput)].map(([k, n]) => `${n} × ${k}`).join('; ') || 'none'}`);

  const verdict = (ok: boolean, known = true) => (known ? (ok ? 'MET' : 'NOT MET') : 'NOT MET (no data)');
  const lostTotal = P.lost + P.setupLost;
  const cross = P.steady.crossRoom + P.setup.crossRoom;
  out.push(
    '',
    `targets (${P.label})${reloads.length ? ' — INVALID RUN, the server reloaded (see WARNING above)' : ''}:`,
    `  zero loss                      lost ${lostTotal} of ${int(P.steady.sent + P.setup.sent)} signals (steady ${P.lost}, set-up ${P.setupLost}); ` +
      `set-ups failed ${sp.failed}; rooms not connected ${ROOMS - ps.connect.rooms}  → ${verdict(lostTotal === TARGETS.loss && sp.failed === 0 && ps.connect.rooms === ROOMS)}`,
    `  zero cross-room                ${cross} cross-room (+ ${P.steady.wrongSender + P.setup.wrongSender} wrong-sender)  → ${verdict(cross === TARGETS.crossRoom && P.steady.wrongSender + P.setup.wrongSender === 0)}`,
    `  relay p99 ≤ ${TARGETS.p99Ms} ms              ${lat(P.all.p99)} ms over all relayed signals (steady ${lat(P.steadyLat.p99)}, set-up ${lat(quantile(P.setup.latencies, 0.99))})  → ${verdict(P.all.p99 <= TARGETS.p99Ms, Number.isFinite(P.all.p99))}`,
    `  ≤ ${TARGETS.mbPerRoom} MB per active room          ${mb(P.memory.perRoom, 3)} MB (${mb(P.memory.active - P.memory.before)} MB over ${ps.connect.rooms} rooms)  → ${verdict(P.memory.perRoom <= TARGETS.mbPerRoom * 2 ** 20, Number.isFinite(P.memory.perRoom))}`,
    `  baseline for comparison: lost ${R.lost + R.setupLost}, cross-room ${R.steady.crossRoom + R.setup.crossRoom}, p99 ${lat(R.all.p99)} ms, ${mb(R.memory.perRoom, 3)} MB per room`,
    '',
  );
  return out.join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = now();
  const loadBefore = loadavg();
  if (options.tmpdir) {
    mkdirSync(options.tmpdir, { recursive: true });
    process.env.TMPDIR = options.tmpdir; // inherited by partykit dev (and miniflare)
  }
  // As deployed: a stable SESSION_SECRET, which also makes each room save its
  // snapshot to room storage (on each join and leave, and every 5 s).
  // `--no-snapshots` leaves it unset, to see what the snapshots cost.
  const vars: Record<string, string> = options['no-snapshots'] ? {} : { SESSION_SECRET: randomBytes(24).toString('base64url') };
  const [party, relay] = await Promise.all([startParty({ vars }), startRelayProcess()]);
  cleanups.push(
    () => party.stop(),
    () => relay.stop(),
  );
  const targets: Target[] = [
    {
      kind: 'partykit',
      label: options['no-snapshots'] ? 'partykit dev (no room snapshots)' : 'partykit dev',
      urlFor: (room) => party.roomUrl(room),
      pid: party.process.pid!,
      stats: new ServerStats(),
      peers: [],
      cursor: 0,
    },
    {
      kind: 'relay',
      label: 'bare ws relay',
      urlFor: (room) => `${relay.url}/${room}`,
      pid: relay.process.pid!,
      stats: new ServerStats(),
      peers: [],
      cursor: 0,
    },
  ];
  cleanups.push(async () => {
    for (const t of targets) for (const p of t.peers) p.socket.terminate();
  });
  const info = machineInfo(party);
  console.error(info.join('\n'));
  console.error(`room server ws://${party.host}, relay ${relay.url}; ${ROOMS} rooms, ${RATE} signals/s, ${WINDOWS}×${WINDOW_S} s windows, ${SETUPS} set-ups`);

  let seenOutput = party.output().length;
  const sampler = setInterval(() => {
    const table = procTable();
    for (const t of targets) sampleMemory(t, table);
    const fresh = party.output().slice(seenOutput);
    seenOutput += fresh.length;
    for (let i = 0; i < (fresh.match(/Updated and ready/g) ?? []).length; i++) {
      reloads.push(now());
      console.error('WARNING: partykit dev reloaded (a watched source file changed): every room-server socket dropped');
    }
  }, SAMPLE_MS);
  cleanups.push(async () => clearInterval(sampler));

  const outputStart = party.output().length;
  for (const t of targets) {
    await warmUp(t).catch((error: unknown) => {
      throw new Error(`${t.label}: the warm-up room failed (${reasonOf(error)}); is the server code broken?\n${party.output().slice(-2000)}`);
    });
    t.stats.phase = 'before';
  }
  await sleep(1000);
  for (const t of targets) console.error(`${t.label}: before ${mb(mark(t, 'before').rss)} MB`);

  for (const t of targets) {
    if (interrupted()) return;
    await connectRooms(t);
    await sleep(1000);
    const s = t.stats;
    console.error(
      `${t.label}: ${s.connect.rooms}/${ROOMS} rooms in ${fmt(s.connect.wallMs / 1000, 1)} s ` +
        `(room ready p50 ${fmt(median(s.connect.room), 1)} ms, p99 ${fmt(quantile(s.connect.room, 0.99), 1)} ms)` +
        `${s.connect.failures.size ? `; failures: ${mapText(s.connect.failures)}` : ''}; RSS ${mb(mark(t, 'connected').rss)} MB`,
    );
    if (!s.connect.rooms) throw new Error(`${t.label}: no room could be connected (${mapText(s.connect.failures)})`);
  }

  const setupsLeft = new Map(targets.map((t) => [t, SETUPS]));
  for (let round = 0; round < WINDOWS; round++) {
    const burst = round >= WINDOWS - BURST_WINDOWS;
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      if (interrupted()) return;
      let setups = 0;
      if (burst) {
        const remainingWindows = WINDOWS - round;
        setups = Math.ceil(setupsLeft.get(t)! / remainingWindows);
        setupsLeft.set(t, setupsLeft.get(t)! - setups);
      }
      const sentBefore = t.stats.steady.sent;
      const deliveredBefore = t.stats.steady.delivered;
      await runWindow(t, round, burst, setups);
      const w = t.stats.windows.at(-1)!;
      console.error(
        `window ${round + 1}/${WINDOWS} ${t.label.padEnd(13)} sent ${t.stats.steady.sent - sentBefore}, delivered ${t.stats.steady.delivered - deliveredBefore}, ` +
          `p50 ${fmt(quantile(w.latencies, 0.5), 1)} ms, p99 ${fmt(quantile(w.latencies, 0.99), 1)} ms, server CPU ${fmt(w.serverCpu, 2)}, ` +
          `client loop p99 ${fmt(w.loopP99, 1)} ms${burst ? `; set-ups ${t.stats.setups.completed}/${t.stats.setups.started} ok` : ''}`,
      );
    }
  }

  for (const t of targets) await drain(t, FINAL_DRAIN_MS);
  await sleep(500); // late set-up signals
  for (const t of targets) mark(t, 'end');
  const storage = miniflareDir(targets[0]);
  const closeCpu0 = targets.map((t) => treeCpuSeconds(t.pid)['*']);
  for (const t of targets) await closeAll(t);
  await sleep(2000);
  targets.forEach((t, i) => (t.stats.closeCpuSeconds = treeCpuSeconds(t.pid)['*'] - closeCpu0[i]));
  for (const t of targets) mark(t, 'after');
  clearInterval(sampler);

  const tmp = options.tmpdir ?? tmpdir();
  const storageLine =
    `storage:  partykit dev's miniflare directory ${storage?.dir ?? `(not found under ${tmp})`} on ${fileSystemOf(storage?.dir ?? tmp)}` +
    (storage ? `: ${storage.sqlite} SQLite databases, ${storage.files} files, ${mb(storage.bytes)} MB at the end of the load (one database per room ever opened)` : '') +
    (options.tmpdir ? ` [--tmpdir ${options.tmpdir}]` : '');
  console.log(report(targets, [...info, storageLine], loadBefore, now() - started, party.output().slice(outputStart)));
  if (options.json) {
    const raw = targets.map((t) => {
      const s = summarize(t);
      return {
        ...s,
        steady: { ...s.steady, latencies: undefined },
        setup: { ...s.setup, latencies: undefined },
        windows: t.stats.windows.map((w) => ({ ...w, latencies: undefined, sentAt: undefined, p50: quantile(w.latencies, 0.5), p99: quantile(w.latencies, 0.99) })),
        connect: { ...t.stats.connect, failures: Object.fromEntries(t.stats.connect.failures) },
        setups: { ...t.stats.setups, failures: Object.fromEntries(t.stats.setups.failures) },
        errors: Object.fromEntries(t.stats.errors),
        closes: Object.fromEntries(t.stats.closes),
        memorySamples: t.stats.memory,
      };
    });
    writeFileSync(options.json, JSON.stringify({ info, options, results: raw }, null, 2));
    console.log(`raw figures written to ${options.json}`);
  }
}

await runMain(main);
