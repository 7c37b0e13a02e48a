/**
 * Real components for end-to-end tests and benchmarks: the real `partykit dev`
 * on a free port, a static file server for the built widget and test pages,
 * and Debian's Chromium driven by playwright-core with fake camera and mic.
 * Everything listens on loopback and is stopped by the caller.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, connect } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { after, before } from 'node:test';
import { chromium, type Browser, type BrowserContext, type LaunchOptions } from 'playwright-core';
import { PROTOCOL_VERSION, VERSION_PARAM } from '../../src/protocol.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function waitForPort(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((res) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), res(true)));
      socket.once('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on ${port} within ${timeoutMs} ms`);
}

export interface PartyServer {
  port: number;
  /** `127.0.0.1:<port>`, for the widget's `host`. */
  host: string;
  process: ChildProcess;
  /**
   * The room socket's address, as a widget of this version opens it: the
   * protocol version ({@link VERSION_PARAM}) and then `params`, which may
   * override it (`{ v: '' }` drops it: the query has `v=`).
   */
  roomUrl(room: string, params?: Record<string, string>): string;
  /** Kill the whole process group (partykit and its workerd) with `signal`. */
  kill(signal?: NodeJS.Signals): void;
  stop(): Promise<void>;
  output(): string;
}

/**
 * Start the real `partykit dev` (workerd) on a free port, in its own process
 * group so that tests can SIGKILL it whole.
 *
 * @param vars server configuration, passed as `--var KEY=VALUE`
 * @param persist a folder where room storage outlives the process (a restart
 *   on the same folder finds it, as a Durable Object finds its storage);
 *   default: storage lives and dies with the process
 */
export async function startParty(
  options: { port?: number; vars?: Record<string, string>; persist?: string } = {},
): Promise<PartyServer> {
  const port = options.port ?? (await freePort());
  const args = ['dev', '--port', String(port), '--disable-request-cf-fetch', '--no-hotkeys', '--persist', options.persist ?? 'false'];
  for (const [key, value] of Object.entries(options.vars ?? {})) args.push('--var', `${key}=${value}`);
  const child = spawn(join(ROOT, 'node_modules/.bin/partykit'), args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  try {
    await waitForPort(port, 30_000, child);
  } catch (error) {
    kill('SIGKILL');
    throw new Error(`partykit dev did not start: ${(error as Error).message}\n${output}`);
  }
  return {
    port,
    host: `127.0.0.1:${port}`,
    process: child,
    roomUrl: (room, params = {}) =>
      `ws://127.0.0.1:${port}/parties/main/${room}?${new URLSearchParams({ [VERSION_PARAM]: String(PROTOCOL_VERSION), ...params })}`,
    kill,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.y4m': 'application/octet-stream',
};

export interface StaticServer {
  port: number;
  origin: string;
  stop(): Promise<void>;
}

/**
 * Serve files under the repository root (read-only, GET only), for test and
 * bench pages that load `dist/call-widget.js`.
 *
 * @param headers extra response headers for HTML pages (for example a CSP)
 */
export async function startStatic(
  options: { port?: number; host?: string; headers?: (path: string) => Record<string, string> } = {},
): Promise<StaticServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(ROOT, path);
    if (req.method !== 'GET' || !file.startsWith(ROOT) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', ...(options.headers?.(path) ?? {}) });
    createReadStream(file).pipe(res);
  });
  const host = options.host ?? '127.0.0.1';
  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    port,
    origin: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Chromium flags for headless calls as root with fake media (see shared/PLATFORM.md). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Launch the system Chromium (headless) with fake camera and microphone. */
export function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    ...options,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}

/** Fail fast with a clear message when the widget has not been built. */
export function requireBuild(): void {
  if (!existsSync(join(ROOT, 'dist/call-widget.js'))) {
    throw new Error('dist/call-widget.js is missing: run `npm run build` first (npm test does).');
  }
}

/** What a widget end-to-end test file runs against. */
export interface WidgetServers {
  party: PartyServer;
  web: StaticServer;
  browser: Browser;
}

/**
 * The real `partykit dev`, a static server for the built widget and Debian's
 * Chromium, started before the calling test file's tests and stopped after
 * them (node:test `before`/`after` hooks). The fields are set once `before`
 * has run.
 */
export function widgetServers(): WidgetServers {
  const servers = {} as WidgetServers;
  before(async () => {
    requireBuild();
    [servers.party, servers.web, servers.browser] = await Promise.all([startParty(), startStatic(), launchChromium()]);
  });
  after(async () => {
    await servers.browser?.close();
    await Promise.all([servers.party?.stop(), servers.web?.stop()]);
  });
  return servers;
}

/**
 * A new isolated browser context. tsx compiles test files with esbuild's
 * `keepNames`, which wraps named functions in `__name(...)`; functions passed
 * to `page.evaluate` carry that call into the page, so define it there.
 */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.addInitScript('globalThis.__name = (fn) => fn;');
  return context;
}
