/**
 * Time to first frame: click on "join" → first decoded remote video frame, for
 * the built `<call-widget>` against a minimal hand-written WebRTC page, in the
 * same Chromium, interleaved run by run (widget, minimal, widget, minimal, …).
 *
 *   npm run build && npm run bench:ttff -- [--runs 20] [--warmup 1] [--settle 500] [--json out.json] [--baseline-dc] [--profile]
 *                                          [--no-snapshots]
 *
 * The room server runs as deployed, with SESSION_SECRET, so each join also
 * saves the room's snapshot to room storage; `--no-snapshots` leaves it unset.
 *
 * Each run: a fresh room, two isolated browser contexts. Page A joins first
 * and waits; page B loads, learns that A is there, and after `--settle` ms
 * its join button gets a real click (T0). Everything is measured in page B, on
 * its own clock, split into phases:
 *
 *   getUserMedia   T0 → getUserMedia resolved
 *   signaling      → signalingState back to 'stable' (the remote answer applied),
 *                  or ICE 'checking' if B reports that first
 *   ICE/DTLS       → connectionState 'connected'
 *   first frame    → the first remote frame decoded: requestVideoFrameCallback's
 *                  `presentationTime` on the remote <video> (when the decoded
 *                  frame went to the compositor). The callback's own `now` is
 *                  printed too: it is the start of the display frame the
 *                  callback runs in, quantized to vsync, and can be earlier
 *                  than the frame's arrival (its `receiveTime`)
 *
 * The widget is instrumented only through its injectable `getUserMedia` and
 * `createPeerConnection` (see bench/pages/widget.js). The baseline
 * (bench/pages/minimal.js) uses a plain RTCPeerConnection and a plain WebSocket
 * to a bare relay run here; with `--baseline-dc` it also negotiates the data
 * channel the widget opens in its first offer (its control channel: media
 * state and liveness), so that the two set up the same transports. Runs over
 * 15 s are failures and are reported.
 * After the calls, a probe times one signal hop (Node ws client → server →
 * Node ws client) through `partykit dev` and through the bare relay, so that
 * server latency can be told apart from client-side work in the phase split.
 * `--profile` samples both pages' main threads (DevTools protocol CPU
 * profiler, every 100 µs) from the click to the first frame in every measured
 * run and prints where the time went, by self time; sampling slows the pages,
 * so the timings of such a run are not for the ratio. It is how a render that
 * re-assigned the preview's `srcObject` every time was found.
 * A script that prints figures, not a test: it exits 0 whatever it measures.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, platform } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import {
  CHROMIUM_PATH,
  ROOT,
  launchChromium,
  requireBuild,
  startParty,
  startStatic,
  type PartyServer,
  type StaticServer,
} from '../test/support/harness.ts';
import { startRelay } from './relay.ts';
import { cleanups, runMain, fmt, freshRoom, interrupted, median, quantile, sleep, stopOnSignals, table, withTimeout } from './common.ts';

// ---------------------------------------------------------------- options

const { values: options } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '1' },
    settle: { type: 'string', default: '500' },
    json: { type: 'string' },
    'baseline-dc': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'no-snapshots': { type: 'boolean', default: false },
  },
});
const PROFILE = options.profile === true;
/** Self time, ms, by function (`name file:line:column`), per variant and page ("widget B"), summed over the measured runs. */
const selfTimes = new Map<string, Map<string, number>>();
/** Profiling sample interval, µs. */
const PROFILE_SAMPLE_US = 100;
/** The baseline negotiates the widget's data channel too (a negotiated `control` channel, id 0). */
const BASELINE_DC = options['baseline-dc'] === true;
const RUNS = positiveInt(options.runs, 'runs');
const WARMUP = positiveInt(options.warmup, 'warmup', true);
const SETTLE_MS = positiveInt(options.settle, 'settle', true);
/** A run whose click → first frame (or whose setup) takes longer is a failure. */
const RUN_LIMIT_MS = 15_000;
const TARGET_RATIO = 1.1;

function positiveInt(value: string | undefined, name: string, zeroOk = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) {
    console.error(`--${name} must be an integer ≥ ${zeroOk ? 0 : 1}`);
    process.exit(2);
  }
  return n;
}

stopOnSignals('the browser and servers');

// ---------------------------------------------------------------- one run

type Variant = 'widget' | 'minimal';
type Marks = Record<string, number>;

interface PageResult {
  marks: Marks;
  timeOrigin: number;
  timedOut?: boolean;
  pcCount: number;
  constraints: string | null;
  frame: { width: number; height: number; presentedFrames: number } | null;
  /** Widget page only: Lit updates (render + commit), [start, duration] ms on that page's clock. */
  updates?: [number, number][];
}

const PHASES = [
  ['total', 'total click → first frame'],
  ['gum', '  getUserMedia'],
  ['signaling', '  signaling (→ answer applied or ICE checking)'],
  ['ice', '  ICE + DTLS (→ connected)'],
  ['frame', '  first frame (→ decoded)'],
  ['painted', 'click → first frame callback (rVFC now, vsync)'],
] as const;
type Phase = (typeof PHASES)[number][0];

/** Finer split (B's clock; A's marks converted through performance.timeOrigin). */
const DETAILS = [
  ['clickToGum', 'click → getUserMedia called'],
  ['gumToPc', 'gUM resolved → RTCPeerConnection created'],
  ['pcToOffer', 'PC created → offer set locally'],
  ['pcToNegotiation', '  of which PC created → negotiationneeded (widget)'],
  ['offerToPeer', 'offer set → A applied the offer (relay + A)'],
  ['offerToPeerPc', '  of which offer set → A created its PC'],
  ['peerAnswer', 'A applied offer → A answer set'],
  ['peerAnswerCall', '  of which A applied offer → A asked for its answer'],
  ['answerBack', 'A answer set → B applied answer (relay)'],
  ['toChecking', 'answer applied → ICE checking'],
  ['candidateToChecking', "A's first local candidate → B ICE checking"],
  ['checking', 'ICE checking → ICE connected'],
  ['dtls', 'ICE connected → DTLS connected'],
] as const;
type Detail = (typeof DETAILS)[number][0];

interface RunOk {
  ok: true;
  variant: Variant;
  index: number;
  warmup: boolean;
  phases: Record<Phase, number>;
  details: Partial<Record<Detail, number>>;
  b: PageResult;
  a: PageResult;
}

interface RunFailed {
  ok: false;
  variant: Variant;
  index: number;
  warmup: boolean;
  stage: 'setup' | 'call';
  reason: string;
  errors: string[];
  b?: PageResult;
}

type Run = RunOk | RunFailed;

interface Env {
  browser: Browser;
  party: PartyServer;
  web: StaticServer;
  relayUrl: string;
}

const JOIN_SELECTOR: Record<Variant, string> = {
  widget: 'call-widget [part~="join-button"]',
  minimal: '#join',
};

function pageUrl(env: Env, variant: Variant, room: string, name: string): string {
  const query = new URLSearchParams({ room, name, limit: String(RUN_LIMIT_MS) });
  if (variant === 'widget') query.set('host', env.party.host);
  else {
    query.set('relay', env.relayUrl);
    if (BASELINE_DC) query.set('dc', '1');
  }
  return `${env.web.origin}/bench/pages/${variant}.html?${query}`;
}

async function openPage(context: BrowserContext, errors: string[], label: string, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(`${label}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${label}: ${message.text()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { bench?: { loaded?: boolean } }).bench?.loaded === true);
  return page;
}

const pageResult = (page: Page): Promise<PageResult> =>
  page.evaluate(() => (window as unknown as { bench: { result: Promise<PageResult> } }).bench.result);

const pageMarks = (page: Page): Promise<PageResult> =>
  page.evaluate(() => {
    const bench = (window as unknown as { bench: { marks: Marks; meta: Omit<PageResult, 'marks' | 'timeOrigin'> } })
      .bench;
    return { marks: { ...bench.marks }, timeOrigin: performance.timeOrigin, ...bench.meta };
  });

// ---------------------------------------------------------------- --profile

type Profilers = Record<'A' | 'B', CDPSession>;

async function startProfiling(pages: Record<'A' | 'B', Page>): Promise<Profilers> {
  const sessions = {} as Profilers;
  for (const side of ['A', 'B'] as const) {
    const session = await pages[side].context().newCDPSession(pages[side]);
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: PROFILE_SAMPLE_US });
    await session.send('Profiler.start');
    sessions[side] = session;
  }
  return sessions;
}

/** Stop both profilers and add each function's self time (time deltas of its samples) to {@link selfTimes}. */
async function stopProfiling(sessions: Profilers, variant: Variant): Promise<void> {
  for (const side of ['A', 'B'] as const) {
    const { profile } = await sessions[side].send('Profiler.stop');
    await sessions[side].detach();
    const key = `${variant} ${side}`;
    let byFunction = selfTimes.get(key);
    if (!byFunction) selfTimes.set(key, (byFunction = new Map()));
    const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
    const deltas = profile.timeDeltas ?? [];
    (profile.samples ?? []).forEach((id, i) => {
      const frame = frames.get(id);
      if (!frame) return;
      const file = frame.url.split('/').pop() ?? '';
      const name = `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}:${frame.columnNumber + 1}` : ''}`;
      byFunction.set(name, (byFunction.get(name) ?? 0) + (deltas[i] ?? 0) / 1000);
    });
  }
}

/** The 15 functions with the most self time per variant and page, ms per run. */
function profileReport(): string {
  const measured = RUNS;
  const out = [`\nmain-thread self time between click and first frame (--profile; ms per run, ${measured} runs):`];
  for (const [key, byFunction] of [...selfTimes].sort(([a], [b]) => a.localeCompare(b))) {
    const rows = [...byFunction].filter(([name]) => name !== '(idle)').sort((x, y) => y[1] - x[1]);
    const busy = rows.reduce((sum, [, ms]) => sum + ms, 0);
    out.push(`\n${key}: busy ${fmt(busy / measured, 1)} ms per run`);
    out.push(table(['self ms', 'function'], rows.slice(0, 15).map(([name, ms]) => [fmt(ms / measured, 1), name]), ['r', 'l']));
  }
  return out.join('\n');
}

async function runOnce(env: Env, variant: Variant, index: number, warmup: boolean): Promise<Run> {
  const room = freshRoom();
  const errors: string[] = [];
  const contexts: BrowserContext[] = [];
  let stage: 'setup' | 'call' = 'setup';
  let b: PageResult | undefined;
  try {
    const [pageA, pageB] = await withTimeout(
      (async () => {
        const contextA = await env.browser.newContext();
        contexts.push(contextA);
        const contextB = await env.browser.newContext();
        contexts.push(contextB);
        const a = await openPage(contextA, errors, 'A', pageUrl(env, variant, room, 'A'));
        await a.locator(JOIN_SELECTOR[variant]).click();
        await a.waitForFunction(() => (window as unknown as { bench: { isWaiting(): boolean } }).bench.isWaiting());
        const bPage = await openPage(contextB, errors, 'B', pageUrl(env, variant, room, 'B'));
        await bPage.waitForFunction(() => (window as unknown as { bench: { isReady(): boolean } }).bench.isReady());
        return [a, bPage] as const;
      })(),
      RUN_LIMIT_MS,
      'setup (load A, A joins, load B, B sees A)',
    );
    await sleep(SETTLE_MS);

    stage = 'call';
    const result = pageResult(pageB);
    const profilers = PROFILE && !warmup ? await startProfiling({ A: pageA, B: pageB }) : null;
    await pageB.locator(JOIN_SELECTOR[variant]).click({ timeout: RUN_LIMIT_MS });
    b = await withTimeout(result, RUN_LIMIT_MS + 5000, 'click → first frame');
    if (profilers) await stopProfiling(profilers, variant);
    const a = await pageMarks(pageA);
    if (b.timedOut) {
      const state = await pageB.evaluate(() => (window as unknown as { bench: { state(): string } }).bench.state());
      return fail(`no remote frame within ${RUN_LIMIT_MS} ms of the click (B state: ${state})`);
    }
    const m = b.marks;
    const missing = ['t0', 'gumResolved', 'answerApplied', 'conn:connected', 'firstFrame'].filter((k) => !(k in m));
    if (missing.length) return fail(`missing marks in B: ${missing.join(', ')}`);
    const total = m.firstFrame - m.t0;
    if (total > RUN_LIMIT_MS) return fail(`click → first frame took ${total.toFixed(0)} ms`);
    // Signaling ends when the answer is applied or ICE starts checking, whichever
    // B reports first: the 'stable' event can come after ICE has already started.
    const signalingEnd = Math.min(m.answerApplied, m['ice:checking'] ?? Infinity);
    const phases: Record<Phase, number> = {
      total,
      gum: m.gumResolved - m.t0,
      signaling: signalingEnd - m.gumResolved,
      ice: m['conn:connected'] - signalingEnd,
      frame: m.firstFrame - m['conn:connected'],
      painted: (m.firstFramePainted ?? m.firstFrame) - m.t0,
    };
    const fromA = (name: string): number | undefined =>
      name in a.marks ? a.marks[name] + a.timeOrigin - b!.timeOrigin : undefined;
    const diff = (later: number | undefined, earlier: number | undefined) =>
      later === undefined || earlier === undefined ? undefined : later - earlier;
    const details: Partial<Record<Detail, number>> = {
      clickToGum: diff(m.gumCalled, m.t0),
      gumToPc: diff(m.pcCreated, m.gumResolved),
      pcToOffer: diff(m.offerSet, m.pcCreated),
      // The baseline calls createOffer itself; only the widget waits for the event.
      pcToNegotiation: variant === 'widget' ? diff(m.negotiationNeeded, m.pcCreated) : undefined,
      offerToPeer: diff(fromA('offerReceived'), m.offerSet),
      offerToPeerPc: diff(fromA('pcCreated'), m.offerSet),
      peerAnswer: diff(fromA('answerSet'), fromA('offerReceived')),
      peerAnswerCall: diff(fromA('sldCalled'), fromA('offerReceived')),
      answerBack: diff(m.answerApplied, fromA('answerSet')),
      toChecking: diff(m['ice:checking'], m.answerApplied),
      candidateToChecking: diff(m['ice:checking'], fromA('firstCandidate')),
      checking: diff(m['ice:connected'], m['ice:checking']),
      dtls: diff(m['conn:connected'], m['ice:connected']),
    };
    return { ok: true, variant, index, warmup, phases, details, a, b };
  } catch (error) {
    return fail(error instanceof Error ? error.message.split('\n')[0] : String(error));
  } finally {
    await Promise.all(contexts.map((context) => context.close().catch(() => {})));
  }

  function fail(reason: string): RunFailed {
    return { ok: false, variant, index, warmup, stage, reason, errors: errors.slice(0, 5), b };
  }
}

// ---------------------------------------------------------------- signal hop probe

/**
 * A WebSocket client from this process that buffers parsed JSON frames, so the
 * bench can time one signal hop through a server on a single clock.
 */
class ProbeClient {
  readonly socket: WebSocket;
  readonly #buffer: unknown[] = [];
  #waiter: ((message: unknown) => void) | null = null;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on('message', (data) => {
      const message: unknown = JSON.parse(String(data));
      if (this.#waiter) {
        const waiter = this.#waiter;
        this.#waiter = null;
        waiter(message);
      } else this.#buffer.push(message);
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState === WebSocket.OPEN) return resolve();
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
  }

  /** The next frame that satisfies `accept` (others are dropped). */
  async next(accept: (message: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown>> {
    for (;;) {
      const message = (this.#buffer.shift() ??
        (await withTimeout(new Promise<unknown>((resolve) => (this.#waiter = resolve)), timeoutMs, 'probe frame'))) as Record<
        string,
        unknown
      >;
      if (accept(message)) return message;
    }
  }

  close(): void {
    this.socket.terminate();
  }
}

const SAMPLE_SDP = `v=0\r\n${'a=x-bench-padding:0123456789abcdef0123456789abcdef0123456789abcdef\r\n'.repeat(80)}`; // ≈ 4 KiB, a real offer's size
const SAMPLE_CANDIDATE = {
  candidate: 'candidate:1840965416 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 ufrag abcd network-id 1',
  sdpMid: '0',
  sdpMLineIndex: 0,
  usernameFragment: 'abcd',
};

interface HopFigures {
  description: number[];
  candidate: number[];
}

/**
 * One-way time of a signal from one socket to the other through a server,
 * timed in this process: a ≈ 4 KiB offer and a trickle candidate, `samples`
 * of each, one at a time. Measures the server hop alone, without browsers.
 */
async function probeHop(
  connect: () => Promise<{ sender: ProbeClient; receiver: ProbeClient; frame(data: unknown): string; isSignal(m: Record<string, unknown>): boolean }>,
  samples: number,
): Promise<HopFigures> {
  const { sender, receiver, frame, isSignal } = await connect();
  const figures: HopFigures = { description: [], candidate: [] };
  try {
    for (let i = 0; i < samples; i++) {
      for (const kind of ['description', 'candidate'] as const) {
        const data =
          kind === 'description'
            ? { kind, description: { type: 'offer', sdp: `${SAMPLE_SDP}a=x-seq:${i}\r\n` } }
            : { kind: 'candidates', candidates: [SAMPLE_CANDIDATE] };
        const text = frame(data);
        const start = performance.now();
        sender.socket.send(text);
        await receiver.next(isSignal);
        figures[kind].push(performance.now() - start);
        await sleep(60); // under the room's 20 frames/s rate limit
      }
    }
  } finally {
    sender.close();
    receiver.close();
  }
  return figures;
}

async function probePartykit(party: PartyServer, samples: number): Promise<HopFigures> {
  return probeHop(async () => {
    const url = party.roomUrl(freshRoom());
    const a = new ProbeClient(url);
    const b = new ProbeClient(url);
    await Promise.all([a.opened(), b.opened()]);
    await a.next((m) => m.type === 'welcome');
    const welcomeB = await b.next((m) => m.type === 'welcome');
    for (const client of [a, b]) {
      client.socket.send(JSON.stringify({ type: 'join', name: 'probe' }));
      await client.next((m) => m.type === 'joined');
    }
    return {
      sender: a,
      receiver: b,
      frame: (data) => JSON.stringify({ type: 'signal', to: welcomeB.id, data }),
      isSignal: (m) => m.type === 'signal',
    };
  }, samples);
}

async function probeBareRelay(relayUrl: string, samples: number): Promise<HopFigures> {
  return probeHop(async () => {
    const url = `${relayUrl}/${freshRoom()}`;
    const a = new ProbeClient(url);
    const b = new ProbeClient(url);
    await Promise.all([a.opened(), b.opened()]);
    return { sender: a, receiver: b, frame: (data) => JSON.stringify({ type: 'signal', data }), isSignal: () => true };
  }, samples);
}

// ---------------------------------------------------------------- statistics and printing

const ratio = (x: number, y: number) => (Number.isFinite(x) && Number.isFinite(y) && y > 0 ? x / y : NaN);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function machineInfo(browserVersion: string): string[] {
  const cpu = cpus();
  let chromium = `Chromium ${browserVersion}`;
  try {
    chromium = execFileSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .replace(/\s+/g, ' ');
  } catch {
    // keep the version the browser reported
  }
  const dist = join(ROOT, 'dist/call-widget.js');
  const bundle = readFileSync(dist);
  const stale = statSync(dist).mtimeMs < newestMtime(join(ROOT, 'src'));
  return [
    `machine:  ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()} ${release()}, Node ${process.version}`,
    `browser:  ${chromium} (playwright reports ${browserVersion}), headless, fake camera/mic`,
    `widget:   dist/call-widget.js ${(bundle.length / 1024).toFixed(1)} KiB, sha256 ${createHash('sha256').update(bundle).digest('hex').slice(0, 12)}${stale ? '  (WARNING: older than src/, run `npm run build`)' : ''}`,
  ];
}

function report(
  runs: Run[],
  info: string[],
  loadBefore: number[],
  wallMs: number,
  hops: { partykit: HopFigures; relay: HopFigures } | null,
): string {
  const out: string[] = [];
  const measured = runs.filter((r) => !r.warmup);
  const ok = (v: Variant) => measured.filter((r): r is RunOk => r.ok && r.variant === v);
  const failed = (v: Variant) => measured.filter((r): r is RunFailed => !r.ok && r.variant === v);
  const w = ok('widget');
  const m = ok('minimal');

  out.push('', 'TTFF: click on join → first decoded remote frame, measured in the joining page (B), ms', '');
  out.push(...info);
  out.push(
    `runs:     ${RUNS} per variant, interleaved widget/minimal, ${WARMUP} warm-up pair(s) not counted; settle ${SETTLE_MS} ms before each click; limit ${RUN_LIMIT_MS} ms`,
    `load:     1-min load average ${fmt(loadBefore[0], 2)} before, ${fmt(loadavg()[0], 2)} after; wall time ${(wallMs / 1000).toFixed(0)} s`,
    `baseline: ${BASELINE_DC ? "media plus the widget's negotiated data channel (--baseline-dc)" : 'media only (the widget also negotiates a data channel; --baseline-dc adds it here)'}`,
    '',
  );

  const rows = PHASES.map(([key, label]) => {
    const wv = w.map((r) => r.phases[key]);
    const mv = m.map((r) => r.phases[key]);
    return [label, fmt(median(wv)), fmt(quantile(wv, 0.9)), fmt(median(mv)), fmt(quantile(mv, 0.9)), fmt(ratio(median(wv), median(mv)), 2) + '×'];
  });
  out.push(
    table(
      ['phase', 'widget med', 'widget p90', 'minimal med', 'minimal p90', 'widget/minimal (med)'],
      rows,
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  out.push(
    '',
    `runs ok:  widget ${w.length}/${RUNS}, minimal ${m.length}/${RUNS}; failures: widget ${failed('widget').length}, minimal ${failed('minimal').length}`,
  );
  const total = ratio(median(w.map((r) => r.phases.total)), median(m.map((r) => r.phases.total)));
  out.push(
    `target:   widget median ≤ ${TARGET_RATIO}× minimal → ${fmt(total, 2)}× ${Number.isFinite(total) ? (total <= TARGET_RATIO ? 'MET' : 'NOT MET') : '(no data)'}`,
  );
  const minTotal = (rs: RunOk[]) => fmt(Math.min(...rs.map((r) => r.phases.total)));
  const maxTotal = (rs: RunOk[]) => fmt(Math.max(...rs.map((r) => r.phases.total)));
  if (w.length && m.length) {
    out.push(`range:    widget ${minTotal(w)}–${maxTotal(w)} ms, minimal ${minTotal(m)}–${maxTotal(m)} ms (total)`);
  }

  out.push('', 'detail (medians; "A" is the page that joined first and answers):', '');
  const detailRows = DETAILS.map(([key, label]) => {
    const wv = w.map((r) => r.details[key]).filter((x): x is number => x !== undefined);
    const mv = m.map((r) => r.details[key]).filter((x): x is number => x !== undefined);
    return [label, fmt(median(wv), 1), fmt(median(mv), 1), fmt(median(wv) - median(mv), 1)];
  });
  out.push(table(['step', 'widget', 'minimal', 'widget − minimal'], detailRows, ['l', 'r', 'r', 'r']));

  const constraints = new Set([...w, ...m].map((r) => r.b.constraints));
  const pcs = (rs: RunOk[]) => [...new Set(rs.map((r) => `${r.b.pcCount}`))].join('/');
  out.push(
    '',
    `checks:   getUserMedia constraints ${constraints.size <= 1 ? 'identical in both variants' : 'DIFFER between variants: ' + [...constraints].join(' vs ')}; ` +
      `peer connections in B per run: widget ${pcs(w) || '–'}, minimal ${pcs(m) || '–'}; ` +
      `first frame ${[...new Set([...w, ...m].map((r) => `${r.b.frame?.width}×${r.b.frame?.height}`))].join(', ')}`,
  );

  // Main-thread time the widget spends in Lit updates between B's click and
  // B's first frame: time no WebRTC callback of that page can run in.
  const updatesIn = (r: RunOk, side: 'a' | 'b') => {
    const page = r[side];
    const t0 = r.b.marks.t0! + r.b.timeOrigin - page.timeOrigin;
    const t1 = r.b.marks.firstFrame! + r.b.timeOrigin - page.timeOrigin;
    const inside = (page.updates ?? []).filter(([start]) => start >= t0 && start <= t1);
    return { count: inside.length, ms: inside.reduce((sum, [, ms]) => sum + ms, 0) };
  };
  if (w.some((r) => r.b.updates)) {
    const side = (s: 'a' | 'b') =>
      `${fmt(median(w.map((r) => updatesIn(r, s).count)))} updates, ${fmt(median(w.map((r) => updatesIn(r, s).ms)), 1)} ms`;
    out.push(`renders:  widget's Lit updates between click and first frame (medians): B ${side('b')}; A ${side('a')}`);
  }

  if (hops) {
    out.push('', 'signal hop alone (Node ws client → server → Node ws client, one way, no browser; ms):', '');
    const hopRow = (label: string, values: number[]) => [label, fmt(median(values), 1), fmt(quantile(values, 0.9), 1)];
    out.push(
      table(
        ['server / frame', 'median', 'p90'],
        [
          hopRow('partykit dev, 4 KiB offer', hops.partykit.description),
          hopRow('partykit dev, candidate', hops.partykit.candidate),
          hopRow('bare ws relay, 4 KiB offer', hops.relay.description),
          hopRow('bare ws relay, candidate', hops.relay.candidate),
        ],
        ['l', 'r', 'r'],
      ),
    );
  }

  const failures = runs.filter((r): r is RunFailed => !r.ok);
  if (failures.length) {
    out.push('', 'failures:');
    for (const f of failures) {
      out.push(`  ${f.warmup ? 'warm-up' : `run ${f.index + 1}`} ${f.variant} (${f.stage}): ${f.reason}`);
      for (const e of f.errors) out.push(`      ${e.slice(0, 200)}`);
    }
  }
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  requireBuild();
  const started = Date.now();
  const loadBefore = loadavg();
  const vars: Record<string, string> = options['no-snapshots'] ? {} : { SESSION_SECRET: 'bench-ttff-secret-0123456789' };
  const [party, web, relay] = await Promise.all([startParty({ vars }), startStatic(), startRelay()]);
  cleanups.push(() => party.stop(), () => web.stop(), () => relay.stop());
  // Our handlers stop the servers too; Playwright's own would exit before they run.
  const browser = await launchChromium({ handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false });
  cleanups.push(() => browser.close());
  const env: Env = { browser, party, web, relayUrl: relay.url };
  const info = machineInfo(browser.version());
  console.error(info.join('\n'));
  console.error(`room server ${party.host}, static ${web.origin}, relay ${relay.url}`);

  const runs: Run[] = [];
  const schedule: Array<{ index: number; warmup: boolean }> = [
    ...Array.from({ length: WARMUP }, (_, index) => ({ index, warmup: true })),
    ...Array.from({ length: RUNS }, (_, index) => ({ index, warmup: false })),
  ];
  for (const { index, warmup } of schedule) {
    for (const variant of ['widget', 'minimal'] as const) {
      if (interrupted()) return;
      const run = await runOnce(env, variant, index, warmup);
      runs.push(run);
      const label = `${warmup ? 'warm-up' : `run ${String(index + 1).padStart(2)}/${RUNS}`} ${variant.padEnd(7)}`;
      if (run.ok) {
        const p = run.phases;
        console.error(
          `${label} total ${fmt(p.total).padStart(5)} ms  (gUM ${fmt(p.gum)}, signaling ${fmt(p.signaling)}, ICE/DTLS ${fmt(p.ice)}, frame ${fmt(p.frame)})`,
        );
      } else {
        console.error(`${label} FAILED (${run.stage}): ${run.reason}`);
      }
    }
  }

  if (interrupted()) return;
  let hops: { partykit: HopFigures; relay: HopFigures } | null = null;
  try {
    hops = { partykit: await probePartykit(party, 20), relay: await probeBareRelay(relay.url, 20) };
  } catch (error) {
    console.error(`signal hop probe failed: ${(error as Error).message}`);
  }

  console.log(report(runs, info, loadBefore, Date.now() - started, hops));
  if (PROFILE) console.log(profileReport());
  if (options.json) {
    writeFileSync(options.json, JSON.stringify({ info, runs }, null, 2));
    console.log(`raw runs written to ${options.json}`);
  }
}

await runMain(main);
