/**
 * Playwright helpers for pages that hold one `<call-widget>`: waiting for a
 * `state`, and proving that remote video is really decoded.
 */
import type { Browser, Page } from 'playwright-core';
import { newContext, type PartyServer, type StaticServer } from './harness.ts';

/**
 * Open `test/e2e/pages/<page>.html` (default `call`: one widget from the query
 * string, recording its events) for `room` as `name`, in a new isolated
 * context of `browser`, once the widget is defined and in the page.
 */
export async function openWidgetPage(
  browser: Browser,
  servers: { party: PartyServer; web: StaticServer },
  room: string,
  name: string,
  page = 'call',
): Promise<Page> {
  const tab = await (await newContext(browser)).newPage();
  const query = new URLSearchParams({ host: servers.party.host, room, name });
  await tab.goto(`${servers.web.origin}/test/e2e/pages/${page}.html?${query}`);
  await tab.waitForFunction(() => customElements.get('call-widget') && document.querySelector('call-widget'));
  return tab;
}

/**
 * Join the way a user does: press the join button, and when that opened the
 * pre-join lobby (the default), press its "Join now".
 */
export async function clickJoin(page: Page, scope = 'call-widget'): Promise<void> {
  const join = page.locator(`${scope} [part~="join-button"]`);
  await join.click();
  if ((await page.locator(scope).getAttribute('state')) === 'lobby') await join.click();
}

/**
 * The usual way into a call: `first` joins and waits alone, then `second`
 * joins; resolves when both are `connected`.
 */
export async function joinInTurn(first: Page, second: Page, timeoutMs = 10_000): Promise<void> {
  await clickJoin(first);
  await waitForState(first, 'waiting', timeoutMs);
  await clickJoin(second);
  await Promise.all([waitForState(first, 'connected', timeoutMs), waitForState(second, 'connected', timeoutMs)]);
}

/**
 * Record every track `getUserMedia` hands out (on `window.capturedTracks`),
 * to check later that none was captured, or that all were stopped.
 */
export async function recordCapturedTracks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { capturedTracks: MediaStreamTrack[] };
    w.capturedTracks = [];
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const stream = await original(constraints);
      w.capturedTracks.push(...stream.getTracks());
      return stream;
    };
  });
}

/** Wait until the page's widget reflects `state`. */
export async function waitForState(page: Page, state: string, timeoutMs = 10_000): Promise<void> {
  await page.waitForFunction((s) => document.querySelector('call-widget')?.getAttribute('state') === s, state, {
    timeout: timeoutMs,
  });
}

/**
 * Proves remote video is decoded: `requestVideoFrameCallback` on the widget's
 * remote `<video>` must report `count` frames with increasing media time.
 * Rejects after `timeoutMs` with the number of frames seen.
 */
export function remoteFrames(
  page: Page,
  count = 5,
  timeoutMs = 8000,
): Promise<{ frames: number; width: number; height: number }> {
  return page.evaluate(
    ([n, limit]) =>
      new Promise<{ frames: number; width: number; height: number }>((resolve, reject) => {
        const video = document
          .querySelector('call-widget')
          ?.shadowRoot?.querySelector<HTMLVideoElement>('video[part~="remote-video"]');
        if (!video) return reject(new Error('no remote video element'));
        let frames = 0;
        let lastMediaTime = -1;
        const timer = setTimeout(() => reject(new Error(`only ${frames} frames decoded`)), limit);
        const onFrame: VideoFrameRequestCallback = (_now, meta) => {
          if (meta.mediaTime > lastMediaTime) frames++;
          lastMediaTime = meta.mediaTime;
          if (frames >= n) {
            clearTimeout(timer);
            resolve({ frames, width: meta.width, height: meta.height });
          } else video.requestVideoFrameCallback(onFrame);
        };
        video.requestVideoFrameCallback(onFrame);
      }),
    [count, timeoutMs] as const,
  );
}

/** ICE ufrag of the local description of the page's newest peer connection (test pages keep them on `window.peerConnections`). */
export function localUfrag(page: Page): Promise<string | undefined> {
  return page.evaluate(() => {
    const pc = (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections.at(-1)!;
    return /a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp ?? '')?.[1];
  });
}

/** Call `restartIce()` on the page's newest peer connection. */
export function restartIce(page: Page): Promise<void> {
  return page.evaluate(() => (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections.at(-1)!.restartIce());
}

/**
 * Wait until the page's newest peer connection has ICE-restarted away from
 * `ufrag` (its local ufrag differs) and is `stable` and `connected` again.
 */
export async function iceRestartedFrom(page: Page, ufrag: string | undefined, timeoutMs: number): Promise<void> {
  await page.waitForFunction(
    (old) => {
      const pc = (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections.at(-1)!;
      const now = /a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp ?? '')?.[1];
      return now !== old && pc.signalingState === 'stable' && pc.iceConnectionState === 'connected';
    },
    ufrag,
    { timeout: timeoutMs },
  );
}

/** From now on, record what the page's widget says through its live region (read with {@link saidOn}). */
export async function recordSaid(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { said: string[] };
    w.said = [];
    const region = document.querySelector('call-widget')!.shadowRoot!.querySelector('[aria-live]')!;
    new MutationObserver(() => w.said.push(region.textContent!.trim())).observe(region, { subtree: true, childList: true, characterData: true });
  });
}

/** What the live region held at each change since {@link recordSaid}, its names' isolates (U+2066–U+2069) removed. */
export function saidOn(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { said: string[] }).said.map((text) => text.replace(/[\u2066-\u2069]/g, '')));
}
