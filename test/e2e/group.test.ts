/**
 * A six-way mesh on the real room server, with STUN and TURN (Debian's
 * coturn on loopback: udp and tcp) in every peer connection: the widest
 * call the product has, and the most ICE candidates a joiner sends.
 *
 * Each joiner offers to everyone already in the call. With one trickle-ICE
 * candidate a frame, the fifth and sixth joiners sent 110–130 frames in a
 * second here, past the room's rate limit (20/s, burst 50): their candidates
 * were refused, then their sockets closed with 4008, and both ended `failed`.
 * Candidates now go in batches and the client paces its frames; this checks
 * the whole path: everyone connected to everyone, every remote video decoded,
 * and not one frame refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { randomId } from '../../src/random-id.ts';
import { newContext, requireBuild } from '../support/harness.ts';
import { startRelayServers, stopRelayServers, type RelayServers } from '../support/relay-call.ts';
import { clickJoin, waitForState } from '../support/widget-page.ts';

const PEOPLE = 6;

describe(`a ${PEOPLE}-way mesh through partykit dev, with STUN and TURN (udp, tcp)`, () => {
  let servers: RelayServers;

  before(async () => {
    requireBuild();
    servers = await startRelayServers({ stun: true, tcp: true, vars: { ROOM_CAPACITY: String(PEOPLE) } });
  });

  after(() => stopRelayServers(servers));

  test('everyone connects to everyone and decodes all five others; the room refuses no frame', { timeout: 120_000 }, async () => {
    const room = randomId(16);
    const pages: Page[] = [];
    /** Error frames the room sent to each page (any `rate-limited`, `too-many-candidates`, …). */
    const errors: string[][] = [];
    /** Close codes of each page's room socket. */
    const closes: number[][] = [];
    for (let i = 0; i < PEOPLE; i++) {
      const page = await (await newContext(servers.browser)).newPage();
      errors.push([]);
      closes.push([]);
      // Before the page loads: the widget opens its room socket at once.
      page.on('websocket', (socket) => {
        socket.on('framereceived', ({ payload }) => {
          const text = String(payload);
          if (text.includes('"type":"error"')) errors[i]!.push(text);
        });
        socket.on('close', () => closes[i]!.push(i));
      });
      const query = new URLSearchParams({ host: servers.party.host, room, name: `P${i + 1}` });
      await page.goto(`${servers.web.origin}/test/e2e/pages/call.html?${query}`);
      await page.waitForFunction(() => customElements.get('call-widget') && document.querySelector('call-widget'));
      pages.push(page);
    }
    // In turn, as people do: each joiner offers to everyone already there.
    for (const [i, page] of pages.entries()) {
      await clickJoin(page);
      await waitForState(page, i === 0 ? 'waiting' : 'connected', 30_000);
    }
    for (const [i, page] of pages.entries()) {
      const decoded = await page.evaluate(async () => {
        const videos = [...(document.querySelector('call-widget')?.shadowRoot?.querySelectorAll<HTMLVideoElement>('video[part~="remote-video"]') ?? [])];
        const frames = (video: HTMLVideoElement) =>
          new Promise<number>((resolve) => {
            let seen = 0;
            const timer = setTimeout(() => resolve(seen), 20_000);
            const onFrame = () => {
              if (++seen >= 3) {
                clearTimeout(timer);
                resolve(seen);
              } else video.requestVideoFrameCallback(onFrame);
            };
            video.requestVideoFrameCallback(onFrame);
          });
        return Promise.all(videos.map(frames));
      });
      assert.deepEqual(decoded, Array<number>(PEOPLE - 1).fill(3), `P${i + 1} decodes every other`);
      assert.equal(await page.locator('call-widget').getAttribute('state'), 'connected');
    }
    assert.deepEqual(errors, Array.from({ length: PEOPLE }, () => []), 'no error frame');
    assert.deepEqual(closes, Array.from({ length: PEOPLE }, () => []), 'no socket closed');
    for (const page of pages) await page.context().close();
  });
});
