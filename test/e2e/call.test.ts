/**
 * End to end: the built `dist/call-widget.js` in Debian's Chromium (fake camera
 * and mic), isolated browser contexts, and the real `partykit dev` room server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { randomId } from '../../src/random-id.ts';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, newContext, widgetServers } from '../support/harness.ts';
import { clickJoin, openWidgetPage, recordCapturedTracks, remoteFrames, waitForState } from '../support/widget-page.ts';

const servers = widgetServers();

interface RecordedEvent {
  type: string;
  at: number;
  state?: string;
  previous?: string;
  code?: string;
  reason?: string;
}

const openWidget = (room: string, name: string) => openWidgetPage(servers.browser, servers, room, name);

const stateOf = (page: Page) => page.locator('call-widget').getAttribute('state');


const events = (page: Page) => page.evaluate(() => (window as unknown as { callEvents: RecordedEvent[] }).callEvents);

/** `readyState` of every local track the widget captured. */
const localTrackStates = (page: Page) =>
  page.evaluate(() => (window as unknown as { capturedTracks?: MediaStreamTrack[] }).capturedTracks?.map((t) => t.readyState));


async function closeAll(...pages: Page[]): Promise<void> {
  await Promise.all(pages.map((p) => p.context().close()));
}

describe('1:1 call through partykit dev', () => {
  test('two contexts connect, decode each other, and hang up', { timeout: 60_000 }, async () => {
    const room = randomId(16);
    const alice = await openWidget(room, 'Alice');
    const bob = await openWidget(room, 'Bob');
    await Promise.all([recordCapturedTracks(alice), recordCapturedTracks(bob)]);
    assert.equal(await stateOf(alice), 'idle');
    // Nothing is captured before the user presses join.
    assert.deepEqual(await localTrackStates(alice), []);

    await clickJoin(alice);
    await waitForState(alice, 'waiting');
    await clickJoin(bob);
    await Promise.all([waitForState(alice, 'connected'), waitForState(bob, 'connected')]);

    const [a, b] = await Promise.all([remoteFrames(alice), remoteFrames(bob)]);
    assert.ok(a.frames >= 5 && a.width > 0 && a.height > 0, `alice decoded ${JSON.stringify(a)}`);
    assert.ok(b.frames >= 5 && b.width > 0 && b.height > 0, `bob decoded ${JSON.stringify(b)}`);

    const aliceEvents = await events(alice);
    assert.deepEqual(
      aliceEvents.filter((e) => e.type === 'call-state-change').map((e) => e.state),
      // Through the pre-join lobby, as a user goes by default.
      ['lobby', 'joining', 'waiting', 'connecting', 'connected'],
    );
    assert.ok(aliceEvents.some((e) => e.type === 'call-peer-joined'));

    // Alice hangs up: Bob must reach `ended` within 2 s, and both release the camera.
    const hungUpAt = await alice.evaluate(() => performance.timeOrigin + performance.now());
    await alice.locator('call-widget [part~="hangup-button"]').click();
    await waitForState(bob, 'ended', 2000);
    const endedAt = await bob.evaluate(() => performance.timeOrigin + performance.now());
    assert.ok(endedAt - hungUpAt < 2000, `bob ended ${endedAt - hungUpAt} ms after the hang-up`);
    assert.equal(await stateOf(alice), 'ended');
    const bobLeft = (await events(bob)).find((e) => e.type === 'call-peer-left');
    assert.equal(bobLeft?.reason, 'hangup');
    for (const page of [alice, bob]) {
      await page.waitForFunction(
        () => (window as unknown as { capturedTracks: MediaStreamTrack[] }).capturedTracks.every((t) => t.readyState === 'ended'),
        undefined,
        { timeout: 500 },
      );
      const states = await localTrackStates(page);
      assert.ok(states && states.length >= 2 && states.every((s) => s === 'ended'), `tracks: ${states}`);
    }
    await closeAll(alice, bob);
  });

  test('a browser that will not start sound without a click (its own autoplay policy, not the tests\' flag): a receive-only join from the page\'s script lets the page load, plays the other\'s video muted, and the sound button turns the sound on', { timeout: 60_000 }, async () => {
    // Chromium lets a page that captures camera or microphone play sound
    // without a click (measured); one that captures nothing, it does not.
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS.filter((arg) => !arg.startsWith('--autoplay-policy')) });
    try {
      const room = randomId(16);
      const alice = await (await newContext(browser)).newPage();
      // Not read until her call is up: nothing gives her page a user activation.
      const connected = new Promise<void>((resolve) => alice.on('console', (message) => message.text() === 'call-state connected' && resolve()));
      const query = new URLSearchParams({ host: servers.party.host, room, name: 'Alice', join: 'receive-only' });
      // (Its load event too: a receive-only join's empty preview stream held it back for good.)
      await alice.goto(`${servers.web.origin}/test/e2e/pages/call.html?${query}`);
      const bob = await openWidgetPage(browser, servers, room, 'Bob');
      await clickJoin(bob);
      await connected;
      const sound = alice.locator('call-widget [part~="sound-button"]');
      const audible = () =>
        alice.locator('call-widget').evaluate((w) => {
          const video = w.shadowRoot!.querySelector<HTMLVideoElement>('[part~="remote-video"]')!;
          return { muted: video.muted, paused: video.paused };
        });
      await sound.waitFor({ timeout: 5000 });
      assert.deepEqual(await audible(), { muted: true, paused: false });
      const seen = await remoteFrames(alice);
      assert.ok(seen.frames >= 5, `the picture shows while muted: ${JSON.stringify(seen)}`);
      await sound.click();
      await sound.waitFor({ state: 'detached', timeout: 2000 });
      assert.deepEqual(await audible(), { muted: false, paused: false });
      await closeAll(alice, bob);
    } finally {
      await browser.close();
    }
  });

  test('a third peer gets room-full and does not reconnect in a loop', { timeout: 30_000 }, async () => {
    const room = randomId(16);
    const alice = await openWidget(room, 'Alice');
    const bob = await openWidget(room, 'Bob');
    // Both are in the room as soon as their pages load: Alice hears of Bob.
    await alice.waitForFunction(() =>
      (window as unknown as { callEvents: RecordedEvent[] }).callEvents.some((e) => e.type === 'call-peer-joined'),
    );

    const context = await newContext(servers.browser);
    const carol = await context.newPage();
    let sockets = 0;
    carol.on('websocket', () => sockets++);
    const query = new URLSearchParams({ host: servers.party.host, room, name: 'Carol' });
    await carol.goto(`${servers.web.origin}/test/e2e/pages/call.html?${query}`);
    await waitForState(carol, 'failed');
    const error = (await events(carol)).find((e) => e.type === 'call-error');
    assert.equal(error?.code, 'room-full');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(sockets, 1, 'the client must not reconnect after a terminal close code');
    // The visible message says so.
    const text = await carol.locator('call-widget [role="alert"]').textContent();
    assert.match(text ?? '', /full/i);
    // The two peers inside are unaffected and can still call.
    await Promise.all([clickJoin(alice), clickJoin(bob)]);
    await Promise.all([waitForState(alice, 'connected'), waitForState(bob, 'connected')]);
    await closeAll(alice, bob, carol);
  });

  test('both pressing join at once ends in exactly one connected session (10 trials)', { timeout: 180_000 }, async () => {
    for (let trial = 0; trial < 10; trial++) {
      const room = randomId(16);
      const [alice, bob] = await Promise.all([openWidget(room, 'Alice'), openWidget(room, 'Bob')]);
      // Both in the room and idle; press join on both within a few milliseconds.
      await Promise.all([waitForState(alice, 'idle'), waitForState(bob, 'idle')]);
      await new Promise((r) => setTimeout(r, 200));
      await Promise.all([
        alice.locator('call-widget').evaluate((el: HTMLElement & { join(): Promise<void> }) => void el.join()),
        bob.locator('call-widget').evaluate((el: HTMLElement & { join(): Promise<void> }) => void el.join()),
      ]);
      await Promise.all([waitForState(alice, 'connected'), waitForState(bob, 'connected')]);
      for (const page of [alice, bob]) {
        const tiles = await page.locator('call-widget [part~="remote-video"]').count();
        assert.equal(tiles, 1, `trial ${trial}: exactly one remote session`);
        const decoded = await remoteFrames(page, 3);
        assert.ok(decoded.frames >= 3, `trial ${trial}: frames decoded`);
      }
      await closeAll(alice, bob);
    }
  });
});
