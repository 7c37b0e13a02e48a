/**
 * The media path cut and restored: two Chromiums in two network namespaces
 * (test/support/netns.ts), their room sockets on separate links to the real
 * `partykit dev`, and every packet between them dropped by iptables inside
 * namespace A for 5 s, 12 s and 40 s. Media must come back within 5 s of the
 * path, each time. Then one side loses its whole network without a FIN: the
 * other must show "connection lost" within about 7 s and "peer left" within
 * 20 s (plus the room's 250 ms housekeeping tick); back after 14 s, within
 * the room's grace, media must return within 5 s of the network, and the
 * link's control channel must work again; and if the other hung up
 * meanwhile, the call must end as a remote hang-up once the network is back;
 * if it joined the call meanwhile, media must flow within 5 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { randomId } from '../../src/random-id.ts';
import {
  requireBuild,
  startParty,
  startStatic,
  type PartyServer,
  type StaticServer,
} from '../support/harness.ts';
import { createTwoHosts, type TestHost, type TwoHosts } from '../support/netns.ts';
import { firstFrameAfter, openInNamespace } from '../support/outage.ts';
import { clickJoin, iceRestartedFrom, joinInTurn, localUfrag, recordSaid, restartIce, saidOn, waitForState } from '../support/widget-page.ts';

let hosts: TwoHosts;
let party: PartyServer;
let web: StaticServer;
const browsers: Browser[] = [];

before(async () => {
  requireBuild();
  hosts = createTwoHosts();
  [party, web] = await Promise.all([startParty(), startStatic({ host: '0.0.0.0' })]);
});

after(async () => {
  await Promise.all(browsers.map((b) => b.close()));
  await Promise.all([party?.stop(), web?.stop()]);
  hosts?.remove();
});

const openIn = (host: TestHost, room: string, name: string, extra?: Record<string, string>) =>
  openInNamespace(host, { party, web }, room, name, browsers, extra);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** An event the test page recorded (test/e2e/pages/call.js). */
type Recorded = { type: string; state?: string; reason?: string; cause?: string; peer?: { id: string; name: string } };
/** Every event the page's widget fired so far. */
const events = (page: Page) => page.evaluate(() => (window as unknown as { callEvents: Recorded[] }).callEvents);

/** A in one namespace calls B in the other; resolves once both see frames. */
async function callAcross(): Promise<[Page, Page]> {
  const room = randomId();
  const a = await openIn(hosts.a, room, 'A');
  const b = await openIn(hosts.b, room, 'B');
  await joinInTurn(a, b, 20_000);
  await Promise.all([firstFrameAfter(a, Date.now(), 10_000), firstFrameAfter(b, Date.now(), 10_000)]);
  return [a, b];
}

describe('media path cut between two network namespaces', { timeout: 300_000 }, () => {
  test('a blackhole of 5 s, 12 s and 40 s: media resumes within 5 s of the path returning, every time', async () => {
    const [a, b] = await callAcross();

    for (const seconds of [5, 12, 40]) {
      hosts.cutMediaPath(true);
      const cutAt = Date.now();
      await sleep(seconds * 1000);
      // The outage was noticed: both show a reconnecting call, not an ended one.
      if (seconds > 5) {
        for (const page of [a, b]) {
          const state = await page.locator('call-widget').getAttribute('state');
          assert.equal(state, 'reconnecting', `${seconds} s outage: ${page === a ? 'A' : 'B'} is ${state}`);
        }
      }
      hosts.cutMediaPath(false);
      const restoredAt = Date.now();
      const resumed = await Promise.all([a, b].map((page) => firstFrameAfter(page, restoredAt, 15_000)));
      for (const [i, ms] of resumed.entries()) {
        assert.ok(ms <= 5000, `${seconds} s outage: ${i ? 'B' : 'A'} resumed ${ms} ms after the path returned`);
      }
      await Promise.all([waitForState(a, 'connected', 5000), waitForState(b, 'connected', 5000)]);
      console.log(`# ${seconds} s blackhole (${restoredAt - cutAt} ms): media back after ${resumed.join(' / ')} ms (A / B)`);
    }
    await Promise.all([a.context().close(), b.context().close()]);
  });

  test('A loses its whole network for 14 s (room socket too): media resumes within 5 s of the network returning, control channel and all', async () => {
    const [a, b] = await callAcross();

    // Past A's dead-socket timeout (8 s) and B's ICE recovery steps, within
    // the room's 20 s resume grace: the offers and answers of the steps taken
    // meanwhile are lost, and A comes back to the room under its own id.
    hosts.cutOffA(true);
    await sleep(14_000);
    hosts.cutOffA(false);
    const restoredAt = Date.now();
    const resumed = await Promise.all([a, b].map((page) => firstFrameAfter(page, restoredAt, 20_000)));
    console.log(`# A cut off for 14 s: media back after ${resumed.join(' / ')} ms (A / B)`);
    // 0.70-1.55 s over 50 bench runs (the socket back, then one offer). It
    // took a recovery step longer (3.4-4.2 s, 5.0 s under the full suite's
    // load) in 3 runs of 28, when a rebuilt link's lost first offer was
    // rolled back; 9.1-10.4 s before the steps withdrew unanswered offers.
    for (const [i, ms] of resumed.entries()) {
      assert.ok(ms <= 5000, `${i ? 'B' : 'A'} resumed ${ms} ms after the network returned`);
    }
    await Promise.all([waitForState(a, 'connected', 5000), waitForState(b, 'connected', 5000)]);
    // The control data channel works again: A's camera turned off reaches B
    // (it travels on that channel only).
    await a.locator('call-widget').evaluate((w) => (w as unknown as { toggleCamera(): void }).toggleCamera());
    await b.locator('call-widget [part~="remote-tile"] [part~="avatar"]').waitFor({ timeout: 3000 });
    const left = await b.evaluate(() => (window as unknown as { callEvents: { type: string }[] }).callEvents.filter((e) => e.type === 'call-peer-left').length);
    assert.equal(left, 0, 'A came back within the grace: nobody left');
    await Promise.all([a.context().close(), b.context().close()]);
  });

  test('B hangs up while A is cut off: A, back within the grace, hears it from the resumed welcome and its call ends as a remote hang-up', async () => {
    const [a, b] = await callAcross();

    // Past A's dead-socket timeout (8 s) and the room's heartbeat timeout
    // (10 s), so that the room's peer-left to A is lost with its old socket
    // and A comes back on a new one; within the 20 s grace from its last frame.
    hosts.cutOffA(true);
    try {
      await sleep(1000);
      await b.locator('call-widget [part~="hangup-button"]').click();
      await waitForState(b, 'ended', 3000);
      await sleep(11_000);
      assert.equal(await a.locator('call-widget').getAttribute('state'), 'reconnecting', 'A has heard nothing yet');
    } finally {
      hosts.cutOffA(false);
    }
    const restoredAt = Date.now();
    await waitForState(a, 'ended', 10_000);
    console.log(`# B hung up while A was cut off: A's call ended ${Date.now() - restoredAt} ms after its network returned`);
    const seen = await events(a);
    const left = seen.filter((e) => e.type === 'call-peer-left');
    assert.deepEqual(left.map((e) => [e.peer?.name, e.reason]), [['B', 'hangup']]);
    assert.deepEqual(seen.filter((e) => e.type === 'call-ended').map((e) => e.reason), ['remote-hangup']);
    await Promise.all([a.context().close(), b.context().close()]);
  });

  test('B hangs up while A is cut off past the grace: A, back under a new id, hears it, and its call ends as a remote hang-up (the lock that went with the emptied room is no news then)', async () => {
    const [a, b] = await callAcross();
    // A (the first in the room, its host) locks it.
    await a.locator('call-widget [part~="lock-button"]').click();
    await b.locator('call-widget [part~="lock-badge"]').waitFor({ timeout: 3000 });
    hosts.cutOffA(true);
    try {
      await sleep(1000);
      await b.locator('call-widget [part~="hangup-button"]').click();
      await waitForState(b, 'ended', 3000);
      // Past the room's grace (20 s from A's last frame, and its 250 ms
      // tick): A is removed, the room empties and unlocks, and what A's page
      // presents on its way back is a removed member's token.
      await sleep(22_000);
      assert.equal(await a.locator('call-widget').getAttribute('state'), 'reconnecting', 'A has heard nothing yet');
      await recordSaid(a);
    } finally {
      hosts.cutOffA(false);
    }
    const restoredAt = Date.now();
    await waitForState(a, 'ended', 15_000);
    console.log(`# B hung up while A was away past the grace: A's call ended ${Date.now() - restoredAt} ms after its network returned`);
    const [seen, said] = await Promise.all([events(a), saidOn(a)]);
    assert.deepEqual(seen.filter((e) => e.type === 'call-peer-left').map((e) => [e.peer?.name, e.reason]), [['B', 'hangup']]);
    assert.deepEqual(seen.filter((e) => e.type === 'call-ended').map((e) => e.reason), ['remote-hangup']);
    // (A name is said isolated: U+2068 … U+2069.)
    assert.ok(said.some((text) => text.includes('B hung up')), `A was told: ${said.join(' | ')}`);
    // The room that emptied unlocked: news for a call that goes on (said
    // after who left), not for one that ended on it.
    assert.ok(!said.some((text) => text.includes('Room unlocked')), `A was told: ${said.join(' | ')}`);
    await Promise.all([a.context().close(), b.context().close()]);
  });

  test('A hangs up while cut off (mode="call"): back within the grace, the room hears it (B\'s call ends as a remote hang-up, not a drop), and A, listening under a new id, is rung again', async () => {
    const room = randomId();
    const a = await openIn(hosts.a, room, 'A', { mode: 'call' });
    const b = await openIn(hosts.b, room, 'B', { mode: 'call' });
    // Both listening: A heard B arrive.
    await a.waitForFunction(() => (window as unknown as { callEvents: Recorded[] }).callEvents.some((e) => e.type === 'call-peer-joined'));
    await clickJoin(a);
    await waitForState(b, 'incoming', 10_000);
    await b.locator('call-widget [part~="accept-button"]').click();
    await Promise.all([firstFrameAfter(a, Date.now(), 10_000), firstFrameAfter(b, Date.now(), 10_000)]);

    hosts.cutOffA(true);
    try {
      // A's page finds its room socket dead (8 s of silence, checked every
      // 3 s, so 8-11 s after the cut), and hangs up with it down; back half a
      // second later, within the room's 20 s grace from A's last frame with
      // room to spare (a connection attempt caught in the cut may take
      // partysocket's 4 s timeout and a 2.25 s wait before the next).
      await a.waitForFunction(
        () => (window as unknown as { callEvents: Recorded[] }).callEvents.some((e) => e.type === 'call-reconnect' && e.cause === 'signaling'),
        undefined,
        { timeout: 12_000, polling: 100 },
      );
      await a.locator('call-widget [part~="hangup-button"]').click();
      await waitForState(a, 'ended', 2000);
      await sleep(500);
      assert.equal(await b.locator('call-widget').getAttribute('state'), 'reconnecting', 'B has heard nothing yet');
    } finally {
      hosts.cutOffA(false);
    }
    const restoredAt = Date.now();
    await waitForState(b, 'ended', 6000);
    console.log(`# A hung up while cut off: B's call ended ${Date.now() - restoredAt} ms after A's network returned`);
    const seen = await events(b);
    assert.deepEqual(seen.filter((e) => e.type === 'call-peer-left').map((e) => [e.peer?.name, e.reason]), [['A', 'hangup']]);
    assert.deepEqual(seen.filter((e) => e.type === 'call-ended').map((e) => e.reason), ['remote-hangup']);
    // A listens again (the room's held A no longer keeps its socket out): B's ring reaches it.
    await clickJoin(b);
    await waitForState(a, 'incoming', 10_000);
    await Promise.all([a.context().close(), b.context().close()]);
  });

  test('B, in the room first, joins the call while A (alone in it) is cut off: back within the grace, A is told "B joined" and media flows within 5 s of its network returning', async () => {
    const room = randomId();
    const b = await openIn(hosts.b, room, 'B');
    const a = await openIn(hosts.a, room, 'A');
    await clickJoin(a);
    await waitForState(a, 'waiting', 10_000);
    await recordSaid(a);
    hosts.cutOffA(true);
    try {
      // B's offer (B joined after A: its to make) goes to A's dead socket, or
      // is refused once the room has noticed it (10 s). A's page finds its
      // socket dead 8-11 s after the cut, and is back within the grace.
      await sleep(11_000);
      await clickJoin(b);
      await sleep(2000);
    } finally {
      hosts.cutOffA(false);
    }
    const restoredAt = Date.now();
    const resumed = await Promise.all([a, b].map((page) => firstFrameAfter(page, restoredAt, 20_000)));
    console.log(`# B joined while A was cut off: media after ${resumed.join(' / ')} ms (A / B)`);
    // 8.3 s when B's offer waited for its 10 s connect watch (B, in the room
    // first, is the impolite side: it ignored A's offer).
    for (const [i, ms] of resumed.entries()) assert.ok(ms <= 5000, `${i ? 'B' : 'A'}: media ${ms} ms after A's network returned`);
    const said = await saidOn(a);
    assert.ok(said.some((text) => text.includes('B joined')), `A was told: ${said.join(' | ')}`);
    await Promise.all([a.context().close(), b.context().close()]);
  });

  test('A vanishes without a FIN: B shows "connection lost" within 7 s and "peer left" within 20 s, then waits', async () => {
    const [a, b] = await callAcross();

    hosts.cutOffA(true);
    const cutAt = Date.now();
    try {
      await b.locator('call-widget [part~="connection-lost"]').waitFor({ timeout: 7000 });
      const lostMs = Date.now() - cutAt;
      assert.equal(await b.locator('call-widget').getAttribute('state'), 'reconnecting');
      await b.waitForFunction(
        () => (window as unknown as { callEvents: { type: string }[] }).callEvents.some((e) => e.type === 'call-peer-left'),
        undefined,
        { timeout: 20_250 - (Date.now() - cutAt), polling: 50 }, // 20 s grace from its last frame + the 250 ms tick
      );
      const leftMs = Date.now() - cutAt;
      await waitForState(b, 'waiting', 2000);
      console.log(`# A cut off: B showed "connection lost" after ${lostMs} ms and "peer left" after ${leftMs} ms`);
    } finally {
      hosts.cutOffA(false);
    }
    // A comes back past the grace: B saw it leave, so the room lets it in as
    // someone new, and the call connects again as a fresh one (A was the
    // first in the room, the side that answered: kept, its old role made
    // both sides impolite, and each ignored the other's offers).
    // What A's live region says from now on, and how many events it had.
    await recordSaid(a);
    const eventsBefore = (await events(a)).length;
    const restoredAt = Date.now();
    const connectionsBefore = await a.evaluate(() => (window as unknown as { peerConnections: unknown[] }).peerConnections.length);
    const resumed = await Promise.all([a, b].map((page) => firstFrameAfter(page, restoredAt, 20_000)));
    console.log(`# A back past the grace: media back after ${resumed.join(' / ')} ms (A / B)`);
    for (const [i, ms] of resumed.entries()) assert.ok(ms <= 5000, `${i ? 'B' : 'A'}: media back ${ms} ms after the network returned`);
    await Promise.all([waitForState(a, 'connected', 5000), waitForState(b, 'connected', 5000)]);
    // For A the call reconnected: not joined anew (joining, connecting), and B was there all along.
    const [seenByA, said] = await Promise.all([events(a), saidOn(a)]);
    const aStates = seenByA.slice(eventsBefore).flatMap((e) => (e.type === 'call-state-change' ? [e.state] : []));
    assert.deepEqual(aStates, ['connected'], `A went through ${aStates.join(' → ')}`);
    assert.ok(!said.some((text) => text.includes('is here')), `A was told: ${said.join(' | ')}`);
    // Someone new to B (a new id), on a new peer connection at A.
    const seen = await events(b);
    const left = seen.filter((e) => e.type === 'call-peer-left').map((e) => e.peer!.id);
    const joined = seen.filter((e) => e.type === 'call-peer-joined').map((e) => e.peer!.id);
    assert.equal(left.length, 1);
    assert.equal(joined.length, 1, `B saw A come back once: ${joined.join(', ')}`);
    assert.notEqual(joined[0], left[0], 'under a new id');
    const connectionsAfter = await a.evaluate(() => (window as unknown as { peerConnections: unknown[] }).peerConnections.length);
    assert.ok(connectionsAfter > connectionsBefore, 'A started its link over');
    // One polite side and one impolite: ICE restarts started by both at once
    // converge (two impolite sides each ignore the other's offer).
    const before = await Promise.all([localUfrag(a), localUfrag(b)]);
    await Promise.all([restartIce(a), restartIce(b)]);
    for (const [i, page] of [a, b].entries()) await iceRestartedFrom(page, before[i], 5000);
    await Promise.all([a.context().close(), b.context().close()]);
  });
});
