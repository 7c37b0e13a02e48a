/**
 * @web/test-runner configuration for the browser tests (`npm run test:browser`,
 * i.e. `npx wtr`): TypeScript through esbuild, Debian's Chromium through
 * puppeteer-core with fake camera and microphone (flags from shared/PLATFORM.md).
 */
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { chromeLauncher, type ChromeLauncher } from '@web/test-runner-chrome';
import type { BasicTestSession, TestRunnerConfig, TestRunnerPlugin } from '@web/test-runner';
import type { CDPSession } from 'puppeteer-core';
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

/** A test page's watch on some of its requests (see {@link fetchOutage}). */
interface FetchWatch {
  cdp: CDPSession;
  /** Watched paths, and the requests for each seen since the watch began. */
  seen: Map<string, number>;
  /** Paths whose next request fails. */
  failNext: Set<string>;
}
/** By test session (one page per test file). */
const fetchWatches = new Map<string, Promise<FetchWatch>>();

/** The page's watch on its requests: its HTTP cache off, its requests for watched paths paused, counted and failed or let through. */
function fetchWatch(session: BasicTestSession): Promise<FetchWatch> {
  let watch = fetchWatches.get(session.id);
  if (!watch) {
    watch = (async () => {
      const page = (session.browser as ChromeLauncher).getPage(session.id);
      const cdp = await page.createCDPSession();
      const state: FetchWatch = { cdp, seen: new Map(), failNext: new Set() };
      cdp.on('Fetch.requestPaused', ({ requestId, request }) => {
        const path = new URL(request.url).pathname;
        state.seen.set(path, (state.seen.get(path) ?? 0) + 1);
        const answer = state.failNext.delete(path)
          ? cdp.send('Fetch.fulfillRequest', {
              requestId,
              responseCode: 503,
              responseHeaders: [{ name: 'cache-control', value: 'no-store' }],
              body: btoa('Service Unavailable'),
            })
          : cdp.send('Fetch.continueRequest', { requestId });
        answer.catch(() => {}); // the page went away meanwhile
      });
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      return state;
    })();
    fetchWatches.set(session.id, watch);
  }
  return watch;
}

/**
 * `executeServerCommand('fail-next-fetch', {path})`: the test page's next
 * request for `path` (a module, say `/src/failure.ts`) is answered 503
 * Service Unavailable, as an origin answers during a deploy; and
 * `executeServerCommand('fetch-count', {path})`: how many requests for
 * `path` the page made since its first `fail-next-fetch`. Through the
 * DevTools protocol's Fetch domain on that page alone, so test files running
 * side by side do not see each other's outages or requests; the page's HTTP
 * cache is off meanwhile (the runner marks every file cacheable for a year,
 * and a request answered from the cache would never reach the outage).
 */
const fetchOutage: TestRunnerPlugin = {
  name: 'fetch-outage',
  async executeCommand({ command, payload, session }) {
    if (command !== 'fail-next-fetch' && command !== 'fetch-count') return undefined;
    const { path } = payload as { path: string };
    const watch = await fetchWatch(session);
    if (command === 'fetch-count') return watch.seen.get(path) ?? 0;
    watch.failNext.add(path);
    if (!watch.seen.has(path)) {
      watch.seen.set(path, 0);
      await watch.cdp.send('Fetch.enable', {
        patterns: [...watch.seen.keys()].map((watched) => ({ urlPattern: `*${watched}*`, requestStage: 'Request' as const })),
      });
    }
    return true;
  },
};

const config: TestRunnerConfig = {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: true,
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
