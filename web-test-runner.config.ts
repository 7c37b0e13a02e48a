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

const config: TestRunnerConfig = {
  files: ['test/browser/**/*.test.ts'],
  nodeResolve: true,
  plugins: [esbuildPlugin({ ts: true, target: 'es2022', tsconfig: 'tsconfig.json' }), setPermission],
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
