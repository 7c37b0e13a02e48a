/**
 * End to end, in Debian's Chromium against the real `partykit dev`: a host
 * locks its room, a second widget knocks (and may wait long), the host
 * admits, rejects or unlocks; the host role passes on when the host leaves; and
 * display names full of markup reach the other side as inert text.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { en, format } from '../../src/i18n/messages.ts';
import { randomId } from '../../src/random-id.ts';
import { widgetServers } from '../support/harness.ts';
import { clickJoin, openWidgetPage, remoteFrames, waitForState } from '../support/widget-page.ts';

const servers = widgetServers();

interface RecordedEvent {
  type: string;
  state?: string;
  code?: string;
  peer?: { id: string; name: string };
}

/** Names that would run script if they were ever parsed as HTML. */
const HOSTILE_NAMES = [
  '<img src=x onerror="window.__xss=1">',
  '"><svg onload="window.__xss=1">',
  "'><script>window.__xss=1</script>",
  '{{constructor.constructor("window.__xss=1")()}}',
];

const openWidget = (room: string, name: string) => openWidgetPage(servers.browser, servers, room, name);

const widget = (page: Page) => page.locator('call-widget');
const events = (page: Page) => page.evaluate(() => (window as unknown as { callEvents: RecordedEvent[] }).callEvents);

/** No element the widget did not render itself, and no script ran. */
async function assertInert(page: Page): Promise<void> {
  const found = await page.evaluate(() => {
    const root = document.querySelector('call-widget')!.shadowRoot!;
    return {
      xss: (window as unknown as { __xss?: unknown }).__xss,
      injected: root.querySelectorAll('img, svg, script, iframe, object').length,
    };
  });
  assert.deepEqual(found, { xss: undefined, injected: 0 });
}

/** The trimmed text content of every element matching `selector` in the widget's shadow root. */
const shadowTexts = (page: Page, selector: string) =>
  page.evaluate(
    (s) => [...document.querySelector('call-widget')!.shadowRoot!.querySelectorAll(s)].map((e) => e.textContent?.trim() ?? ''),
    selector,
  );

const closeAll = (...pages: Page[]) => Promise.all(pages.map((p) => p.context().close()));

describe('locked rooms in the widget (real partykit dev, real Chromium)', { timeout: 90_000 }, () => {
  test('the host locks; a knock shows the name as text; admit brings both into a call', async () => {
    const room = randomId();
    const host = await openWidget(room, 'Host');
    await clickJoin(host);
    await waitForState(host, 'waiting');
    assert.equal(await widget(host).evaluate((w) => (w as unknown as { isHost: boolean }).isHost), true);
    const lock = widget(host).locator('[part~="lock-button"]');
    await lock.click();
    await host.waitForFunction(() => (document.querySelector('call-widget') as unknown as { locked: boolean }).locked);
    assert.equal(await lock.getAttribute('aria-pressed'), 'true');

    const guest = await openWidget(room, HOSTILE_NAMES[0]!);
    assert.equal(await widget(guest).locator('[part~="lock-button"]').count(), 0, 'only the host gets the lock');
    await clickJoin(guest);
    await waitForState(guest, 'knocking');
    const knock = widget(host).locator('[part~="knock"]');
    await knock.waitFor();
    assert.deepEqual(await shadowTexts(host, '.knock-name'), [format(en.knocking, { name: HOSTILE_NAMES[0]! })]);
    const knockEvents = (await events(host)).filter((e) => e.type === 'call-knock');
    assert.deepEqual(knockEvents.map((e) => e.peer?.name), [HOSTILE_NAMES[0]]);
    await assertInert(host);

    await knock.locator('[part~="admit-button"]').click();
    await Promise.all([waitForState(host, 'connected', 15_000), waitForState(guest, 'connected', 15_000)]);
    await Promise.all([remoteFrames(host), remoteFrames(guest)]);
    assert.equal(await knock.count(), 0, 'the lobby list empties');
    assert.equal(await widget(guest).evaluate((w) => (w as unknown as { isHost: boolean }).isHost), false);
    assert.deepEqual(await shadowTexts(host, '.label'), [HOSTILE_NAMES[0]]);
    await assertInert(host);
    await closeAll(host, guest);
  });

  test('the host closes its tab: the other member is host now, the room stays locked, and the next knock is admitted', async () => {
    const room = randomId();
    const locked = () => (document.querySelector('call-widget') as unknown as { locked: boolean }).locked;
    const host = await openWidget(room, 'Host');
    await clickJoin(host);
    await waitForState(host, 'waiting');
    await widget(host).locator('[part~="lock-button"]').click();
    await host.waitForFunction(locked);
    const bea = await openWidget(room, 'Bea');
    await clickJoin(bea);
    await waitForState(bea, 'knocking');
    await widget(host).locator('[part~="admit-button"]').click();
    await Promise.all([waitForState(host, 'connected', 15_000), waitForState(bea, 'connected', 15_000)]);
    const beaLock = widget(bea).locator('[part~="lock-button"]');
    assert.equal(await beaLock.count(), 0, 'not the host yet');

    // The host closes its tab (its widget says `bye` on pagehide): Bea, still in the room, is host now.
    await host.close();
    await beaLock.waitFor({ timeout: 5000 });
    assert.equal(await beaLock.getAttribute('aria-pressed'), 'true', 'still locked');
    assert.equal(await widget(bea).evaluate((w) => (w as unknown as { isHost: boolean }).isHost), true);

    const cy = await openWidget(room, 'Cy');
    await clickJoin(cy);
    await waitForState(cy, 'knocking');
    const knock = widget(bea).locator('[part~="knock"]');
    await knock.waitFor();
    assert.deepEqual(await shadowTexts(bea, '.knock-name'), [format(en.knocking, { name: 'Cy' })]);
    await knock.locator('[part~="admit-button"]').click();
    await Promise.all([waitForState(bea, 'connected', 15_000), waitForState(cy, 'connected', 15_000)]);
    await Promise.all([remoteFrames(bea), remoteFrames(cy)]);
    await closeAll(bea, cy);
    await host.context().close();
  });

  test('a knock waits past the heartbeat timeout on one socket and one id; unlocking lets it in and empties the host’s list', async () => {
    const room = randomId();
    const host = await openWidget(room, 'Host');
    await clickJoin(host);
    await waitForState(host, 'waiting');
    await widget(host).locator('[part~="lock-button"]').click();
    await host.waitForFunction(() => (document.querySelector('call-widget') as unknown as { locked: boolean }).locked);

    const guest = await openWidget(room, 'Patient');
    const sockets: string[] = [];
    guest.on('websocket', (ws) => sockets.push(ws.url()));
    await clickJoin(guest);
    await waitForState(guest, 'knocking');
    const knock = widget(host).locator('[part~="knock"]');
    await knock.waitFor();
    const knocking = () => widget(host).evaluate((w) => (w as unknown as { knocking: { id: string }[] }).knocking.map((p) => p.id));
    const firstIds = await knocking();
    const openedBefore = sockets.length;
    // Over the client's dead-socket timeout (8 s, src/controllers/signaling-controller.ts HEARTBEAT):
    // a wait the server never answered was taken for a dead socket, and the
    // knock came back under a new id at the end of the host's list.
    await guest.waitForTimeout(11_000);
    assert.equal(sockets.length, openedBefore, `no new socket: ${sockets.join(', ')}`);
    assert.deepEqual(await knocking(), firstIds, 'the same knock, the same id');
    const guestEvents = await events(guest);
    assert.deepEqual(guestEvents.filter((e) => e.type === 'call-reconnect'), []);
    assert.equal(guestEvents.filter((e) => e.type === 'call-state-change').at(-1)?.state, 'knocking');
    assert.equal((await events(host)).filter((e) => e.type === 'call-knock').length, 1, 'one knock, told once');

    // Unlocking lets the guest in, and the knock leaves the host's list.
    await widget(host).locator('[part~="lock-button"]').click();
    await Promise.all([waitForState(host, 'connected', 15_000), waitForState(guest, 'connected', 15_000)]);
    await knock.waitFor({ state: 'detached', timeout: 5000 });
    assert.deepEqual(await knocking(), []);
    await closeAll(host, guest);
  });

  test('the host page rejects through the call-knock event: the knocker fails as for a missing room and releases its camera', async () => {
    const room = randomId();
    const host = await openWidget(room, 'Host');
    await host.evaluate(() => {
      const w = document.querySelector('call-widget') as unknown as HTMLElement & { reject(id: string): void };
      w.addEventListener('call-knock', (event) => w.reject((event as unknown as { peer: { id: string } }).peer.id));
    });
    await clickJoin(host);
    await waitForState(host, 'waiting');
    await host.evaluate(() => (document.querySelector('call-widget') as unknown as { lock(): void }).lock());
    await host.waitForFunction(() => (document.querySelector('call-widget') as unknown as { locked: boolean }).locked);

    const guest = await openWidget(room, 'Uninvited');
    await clickJoin(guest);
    await waitForState(guest, 'failed', 10_000);
    const errors = (await events(guest)).filter((e) => e.type === 'call-error').map((e) => e.code);
    assert.deepEqual(errors, ['room-unavailable']);
    const tracks = await guest.evaluate(() =>
      (document.querySelector('call-widget') as unknown as { localStream: MediaStream | null }).localStream,
    );
    assert.equal(tracks, null, 'local media released');
    // The host never saw the guest in the room.
    assert.deepEqual((await events(host)).filter((e) => e.type === 'call-peer-joined'), []);
    await waitForState(host, 'waiting');
    await closeAll(host, guest);
  });
});

describe('text from the network is rendered as text', { timeout: 90_000 }, () => {
  test('hostile display names appear verbatim and inert, bidi overrides are removed before sending', async () => {
    for (const [i, name] of HOSTILE_NAMES.entries()) {
      const room = randomId();
      const a = await openWidget(room, i % 2 ? name : 'evil\u202Egpj.exe');
      const b = await openWidget(room, name);
      await clickJoin(a);
      await clickJoin(b);
      await Promise.all([waitForState(a, 'connected', 15_000), waitForState(b, 'connected', 15_000)]);
      assert.deepEqual(await shadowTexts(a, '.label'), [name]);
      assert.deepEqual(await shadowTexts(b, '.label'), [i % 2 ? name : 'evilgpj.exe']);
      await assertInert(a);
      await assertInert(b);
      await closeAll(a, b);
    }
  });
});
