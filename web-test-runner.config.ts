/**
 * @web/test-runner configuration for the browser tests (`npm run test:browser`,
 * i.e. `npx wtr`): TypeScript through esbuild, Debian's Chromium through
 * puppeteer-core with fake camera and microphone (flags from shared/PLATFORM.md).
 */
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { chromeLauncher, type ChromeLauncher } from '@web/test-runner-chrome';
import type { TestRunnerConfig, TestRunnerPlugin } from '@web/test-runner';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './test/support/harness.ts';

/** Per-test timeout, ms: a whole two-peer call set-up takes about 0.4 s here; 20 s is generous but bounded. */
const TEST_TIMEOUT_MS = 20_000;

/**
 * `executeServerCommand('set-permission', {names, setting})`: sets the test
 * page's origin's permissions (`camera`, `microphone`) to `granted`,
 * `denied` or `prompt` in the real browser (puppeteer's
 * `BrowserContext.setPermission`, the DevTools protocol's
 * `Browser.setPermission`): what a user does in the site settings.
 */
const setPermission: TestRunnerPlugin = {
  name: 'set-permission',
  async executeCommand({ command, payload, session }) {
    if (command !== 'set-permission') return undefined;
    const { names, setting } = payload as { names: string[]; setting: 'granted' | 'denied' | 'prompt' };
    const page = (session.browser as ChromeLauncher).getPage(session.id);
    await page
      .browserContext()
      .setPermission(new URL(page.url()).origin, ...names.map((name) => ({ permission: { name }, state: setting })));
    return true;
  },
};

/** Paths whose next request the dev server answers 503 (see {@link fetchOutage}), and the requests each path saw. */
const outages = new Set<string>();
const requests = new Map<string, number>();

/**
 * `executeServerCommand('fail-next-fetch', {path})`: the dev server answers
 * the next request for `path` (a module, say `/src/failure.ts`) with 503
 * Service Unavailable, as an origin does during a deploy; the browser's HTTP
 * cache is cleared first, so that the request reaches the server even when
 * an earlier test file loaded `path` (the runner marks files cacheable); and
 * `executeServerCommand('fetch-count', {path})`: how many requests for
 * `path` it has seen.
 */
const fetchOutage: TestRunnerPlugin = {
  name: 'fetch-outage',
  async executeCommand({ command, payload, session }) {
    const { path } = (payload ?? {}) as { path: string };
    if (command === 'fail-next-fetch') {
      const cdp = await (session.browser as ChromeLauncher).getPage(session.id).createCDPSession();
      await cdp.send('Network.clearBrowserCache');
      await cdp.detach();
      outages.add(path);
      return true;
    }
    if (command === 'fetch-count') return requests.get(path) ?? 0;
    return undefined;
  },
};

const config: TestRunnerConfig = {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: true,
  middleware: [
    async (context, next) => {
      requests.set(context.path, (requests.get(context.path) ?? 0) + 1);
      if (!outages.delete(context.path)) return next();
      context.status = 503;
      context.body = 'Service Unavailable';
      // Never reused from the browser's cache, as a real origin's 503 would
      // not be: the test runner marks every file a year-long cacheable after
      // this middleware, whatever its status, and a stored response whose
      // Vary holds "*" always fails to match (RFC 9111 §4.1).
      context.set('vary', '*');
    },
  ],
  plugins: [esbuildPlugin({ ts: true, target: 'es2022', tsconfig: 'tsconfig.json' }), setPermission, fetchOutage],
  browsers: [
    chromeLauncher({
      launchOptions: {
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: CHROMIUM_ARGS,
      },
    }),
  ],
  // One test file at a time: wtr opens each concurrent file in its own tab, and
  // Chromium throttles and freezes background tabs (no requestVideoFrameCallback,
  // timers stalled), so a second file's calls hang until testsFinishTimeout.
  concurrency: 1,
  concurrentBrowsers: 1,
  browserStartTimeout: 60_000,
  testsStartTimeout: 60_000,
  // Bounded: every file must be done within 3 minutes.
  testsFinishTimeout: 180_000,
  testFramework: {
    config: { ui: 'bdd', timeout: TEST_TIMEOUT_MS },
  },
};

export default config;
