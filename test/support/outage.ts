/**
 * Helpers shared by the outage tests and `bench/recovery`: a widget page in a
 * Chromium running inside a test network namespace, and the time of every
 * remote frame it decodes.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, newContext, type PartyServer, type StaticServer } from './harness.ts';
import type { TestHost } from './netns.ts';

/**
 * Open `test/e2e/pages/call.html` for `room` in a new Chromium inside `host`'s
 * namespace, reaching the servers through its gateway, and start recording
 * the time (`Date.now()`) of every decoded remote frame on `window.frameTimes`.
 * The browser is pushed onto `browsers` for the caller to close; `extra`
 * goes into the page's query (`mode`, `ring-timeout`: see its call.js).
 */
export async function openInNamespace(
  host: TestHost,
  servers: { party: PartyServer; web: StaticServer },
  room: string,
  name: string,
  browsers: Browser[],
  extra: Record<string, string> = {},
): Promise<Page> {
  const origin = `http://${host.gateway}:${servers.web.port}`;
  const browser = await chromium.launch({
    executablePath: host.chromium,
    headless: true,
    // getUserMedia needs a secure context; the page is served over plain HTTP on the namespace's link.
    args: [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${origin}`],
  });
  browsers.push(browser);
  const page = await (await newContext(browser)).newPage();
  const query = new URLSearchParams({ host: `${host.gateway}:${servers.party.port}`, room, name, ...extra });
  await page.goto(`${origin}/test/e2e/pages/call.html?${query}`);
  await page.waitForFunction(() => customElements.get('call-widget') && document.querySelector('call-widget'));
  await recordFrameTimes(page);
  return page;
}

/**
 * Record `Date.now()` of every frame the widget's remote video decodes, on
 * `window.frameTimes`: of whichever remote `<video>` the widget shows (a peer
 * back under a new id gets a new tile), looked for every 50 ms.
 */
export function recordFrameTimes(page: Page): Promise<void> {
  return page.evaluate(() => {
    const w = window as unknown as { frameTimes: number[] };
    w.frameTimes = [];
    let watched: HTMLVideoElement | null = null;
    const watch = () => {
      const video = document.querySelector('call-widget')?.shadowRoot?.querySelector<HTMLVideoElement>('video[part~="remote-video"]');
      if (video && video !== watched) {
        watched = video;
        const onFrame = () => {
          if (watched !== video) return;
          w.frameTimes.push(Date.now());
          video.requestVideoFrameCallback(onFrame);
        };
        video.requestVideoFrameCallback(onFrame);
      }
      setTimeout(watch, 50);
    };
    watch();
  });
}

/** Wait for the first remote frame decoded after `since` (ms since the epoch); returns its delay, ms. */
export async function firstFrameAfter(page: Page, since: number, timeoutMs: number): Promise<number> {
  const handle = await page.waitForFunction(
    (t) => (window as unknown as { frameTimes: number[] }).frameTimes.find((f) => f > t) ?? false,
    since,
    { timeout: timeoutMs, polling: 50 },
  );
  return ((await handle.jsonValue()) as number) - since;
}

/** Resolves when the widget's "reconnecting to the room" hint is gone. */
export function rejoined(page: Page, timeoutMs: number): Promise<unknown> {
  return page.waitForFunction(
    () => !document.querySelector('call-widget')!.shadowRoot!.querySelector('[part~="signaling-hint"]'),
    undefined,
    { timeout: timeoutMs, polling: 25 },
  );
}
