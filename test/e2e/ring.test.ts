/**
 * End to end, the ring flow (`mode="call"`): the built widget in Debian's
 * Chromium (fake camera and mic), one isolated context per person, and the
 * real `partykit dev` room server keeping the ring.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { randomId } from '../../src/random-id.ts';
import { newContext, widgetServers } from '../support/harness.ts';
import { clickJoin, recordCapturedTracks, remoteFrames, waitForState } from '../support/widget-page.ts';

const servers = widgetServers();

interface RecordedEvent {
  type: string;
  state?: string;
  reason?: string;
  durationMs?: number;
}

interface Person {
  page: Page;
  /** Every frame the room server sent this page, with when it arrived (ms, Date.now()). */
  frames: { at: number; message: { type: string; state?: string } }[];
}

/** Open the test page in call mode for `room` as `name`, recording server frames and captured tracks. */
async function open(room: string, name: string, ringTimeoutS?: number): Promise<Person> {
  const page = await (await newContext(servers.browser)).newPage();
  const frames: Person['frames'] = [];
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => frames.push({ at: Date.now(), message: JSON.parse(String(payload)) })),
  );
  const query = new URLSearchParams({ host: servers.party.host, room, name, mode: 'call' });
  if (ringTimeoutS !== undefined) query.set('ring-timeout', String(ringTimeoutS));
  await page.goto(`${servers.web.origin}/test/e2e/pages/call.html?${query}`);
  await page.waitForFunction(() => customElements.get('call-widget') && document.querySelector('call-widget'));
  await recordCapturedTracks(page);
  return { page, frames };
}

/** Two people in the same room, both listening (their sockets welcomed). */
async function pair(ringTimeoutS?: number): Promise<[Person, Person, string]> {
  const room = randomId(16);
  const alice = await open(room, 'Alice', ringTimeoutS);
  const bob = await open(room, 'Bob', ringTimeoutS);
  await alice.page.waitForFunction(() =>
    (window as unknown as { callEvents: RecordedEvent[] }).callEvents.some((e) => e.type === 'call-peer-joined'),
  );
  return [alice, bob, room];
}

const stateOf = (p: Person) => p.page.locator('call-widget').getAttribute('state');
const events = (p: Person) => p.page.evaluate(() => (window as unknown as { callEvents: RecordedEvent[] }).callEvents);
const ended = async (p: Person) => (await events(p)).filter((e) => e.type === 'call-ended');
const states = async (p: Person) => (await events(p)).filter((e) => e.type === 'call-state-change').map((e) => e.state);
const tracks = (p: Person) =>
  p.page.evaluate(() => (window as unknown as { capturedTracks: MediaStreamTrack[] }).capturedTracks.map((t) => t.readyState));
const peerConnections = (p: Person) =>
  p.page.evaluate(() => (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections.length);
const button = (p: Person, part: string) => p.page.locator(`call-widget [part~="${part}"]`);
const signalsTo = (p: Person) => p.frames.filter((f) => f.message.type === 'signal');

/** Every track the page captured is `ended` within 500 ms from now. */
async function allTracksEndWithin500ms(p: Person, label: string): Promise<void> {
  await p.page
    .waitForFunction(
      () => (window as unknown as { capturedTracks: MediaStreamTrack[] }).capturedTracks.every((t) => t.readyState === 'ended'),
      undefined,
      { timeout: 500 },
    )
    .catch(async () => assert.fail(`${label}: tracks not ended within 500 ms: ${await tracks(p)}`));
}

async function closeAll(...people: Person[]): Promise<void> {
  await Promise.all(people.map((p) => p.page.context().close()));
}

describe('ring flow through partykit dev', () => {
  test('accept: the callee sees who calls; nothing of it reaches the caller before Accept; then a call, ended on both with its length', { timeout: 60_000 }, async () => {
    const [alice, bob] = await pair();
    await clickJoin(alice.page); // "Call", then the lobby's "Call"
    await Promise.all([waitForState(alice.page, 'ringing'), waitForState(bob.page, 'incoming')]);
    assert.match((await button(bob, 'ring-note').textContent()) ?? '', /\u2068Alice\u2069 is calling/);
    // Bob has not said his name (he has not entered the call): just "Calling…".
    assert.match((await button(alice, 'ring-note').textContent()) ?? '', /^\s*Calling…\s*$/);
    assert.equal(await button(bob, 'accept-button').isVisible(), true);
    assert.equal(await button(bob, 'decline-button').isVisible(), true);

    // A while of ringing: the callee has captured nothing, built no peer
    // connection, and the caller has received no SDP and no ICE candidate.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await tracks(bob), [], 'callee media before accept');
    assert.equal(await peerConnections(bob), 0, 'callee peer connection before accept');
    assert.deepEqual(signalsTo(alice), [], 'signals to the caller before accept');

    const acceptedAt = Date.now();
    await button(bob, 'accept-button').click();
    await Promise.all([waitForState(alice.page, 'connected'), waitForState(bob.page, 'connected')]);
    const [a, b] = await Promise.all([remoteFrames(alice.page), remoteFrames(bob.page)]);
    assert.ok(a.frames >= 5 && b.frames >= 5, `decoded: alice ${JSON.stringify(a)}, bob ${JSON.stringify(b)}`);
    assert.ok(signalsTo(alice).length > 0 && signalsTo(alice).every((f) => f.at >= acceptedAt), 'signals only after accept');
    assert.deepEqual(await states(alice), ['lobby', 'joining', 'ringing', 'connecting', 'connected']);
    const bobStates = await states(bob);
    assert.equal(bobStates[0], 'incoming');
    assert.equal(bobStates.at(-1), 'connected');
    assert.ok(!bobStates.includes('ringing'), `${bobStates}`);

    await new Promise((r) => setTimeout(r, 1200)); // a call of a second or more
    await button(bob, 'hangup-button').click();
    await Promise.all([waitForState(alice.page, 'ended', 2000), waitForState(bob.page, 'ended')]);
    const [aliceEnded, bobEnded] = [await ended(alice), await ended(bob)];
    assert.equal(aliceEnded.length, 1);
    assert.equal(aliceEnded[0]?.reason, 'remote-hangup');
    assert.equal(bobEnded[0]?.reason, 'hangup');
    for (const e of [aliceEnded[0]!, bobEnded[0]!]) assert.ok(e.durationMs! >= 1000 && e.durationMs! < 30_000, `duration ${e.durationMs}`);
    for (const p of [alice, bob]) {
      assert.match((await button(p, 'call-timer').textContent()) ?? '', /^0:0[1-9]$/, 'the call length stays shown');
      await allTracksEndWithin500ms(p, 'after hangup');
    }
    await closeAll(alice, bob);
  });

  test('decline: both show declined, the caller’s tracks end within 500 ms, the callee never captured; they can call again', { timeout: 60_000 }, async () => {
    const [alice, bob] = await pair();
    await clickJoin(alice.page);
    await waitForState(bob.page, 'incoming');
    await waitForState(alice.page, 'ringing');
    await button(bob, 'decline-button').click();
    await Promise.all([waitForState(alice.page, 'declined', 2000), waitForState(bob.page, 'declined')]);
    await allTracksEndWithin500ms(alice, 'caller after decline');
    assert.deepEqual(await tracks(bob), [], 'the callee never captured');
    assert.deepEqual((await ended(alice)).map((e) => [e.reason, e.durationMs]), [['declined', 0]]);
    assert.deepEqual((await ended(bob)).map((e) => [e.reason, e.durationMs]), [['declined', 0]]);
    assert.deepEqual(signalsTo(alice), []);
    assert.equal(await button(alice, 'join-button').textContent().then((t) => t?.trim()), 'Call again');

    // Bob calls back; Alice accepts.
    await clickJoin(bob.page);
    await waitForState(alice.page, 'incoming');
    await button(alice, 'accept-button').click();
    await Promise.all([waitForState(alice.page, 'connected'), waitForState(bob.page, 'connected')]);
    await closeAll(alice, bob);
  });

  test('missed: no answer within ring-timeout shows missed on both sides, and the caller’s tracks end within 500 ms', { timeout: 60_000 }, async () => {
    const [alice, bob] = await pair(2);
    await clickJoin(alice.page);
    await waitForState(alice.page, 'ringing');
    const ringingAt = Date.now();
    await waitForState(bob.page, 'incoming');
    await Promise.all([waitForState(alice.page, 'missed', 5000), waitForState(bob.page, 'missed', 5000)]);
    const after = Date.now() - ringingAt;
    assert.ok(after >= 1700 && after < 3500, `missed ${after} ms after ringing (timeout 2 s)`);
    await allTracksEndWithin500ms(alice, 'caller after missed');
    assert.deepEqual(await tracks(bob), []);
    assert.deepEqual((await ended(alice)).map((e) => e.reason), ['missed']);
    assert.deepEqual((await ended(bob)).map((e) => e.reason), ['missed']);
    assert.match((await bob.page.locator('call-widget [part~="status-badge"]').textContent()) ?? '', /Missed call/);
    await closeAll(alice, bob);
  });

  test('the caller hangs up while it rings: the callee missed the call', { timeout: 30_000 }, async () => {
    const [alice, bob] = await pair();
    await clickJoin(alice.page);
    await waitForState(bob.page, 'incoming');
    await button(alice, 'hangup-button').click();
    await waitForState(bob.page, 'missed', 2000);
    assert.equal(await stateOf(alice), 'ended');
    assert.deepEqual((await ended(alice)).map((e) => e.reason), ['hangup']);
    await allTracksEndWithin500ms(alice, 'caller after cancel');
    await closeAll(alice, bob);
  });

  test('busy: a third person who rings two people in a call hears busy; the call goes on', { timeout: 60_000 }, async () => {
    const [alice, bob, room] = await pair();
    await clickJoin(alice.page);
    await waitForState(bob.page, 'incoming');
    await button(bob, 'accept-button').click();
    await Promise.all([waitForState(alice.page, 'connected'), waitForState(bob.page, 'connected')]);

    const carol = await open(room, 'Carol');
    // Opening the link is not ringing: Carol is offered the call button, not an error.
    await carol.page.waitForTimeout(500);
    assert.equal(await stateOf(carol), 'idle');
    await clickJoin(carol.page);
    await waitForState(carol.page, 'busy', 5000);
    assert.deepEqual((await ended(carol)).map((e) => e.reason), ['busy']);
    await allTracksEndWithin500ms(carol, 'third after busy');
    assert.match((await carol.page.locator('call-widget [part~="status-badge"]').textContent()) ?? '', /Busy/);
    // Alice and Bob never noticed.
    assert.equal(await stateOf(alice), 'connected');
    assert.equal(await stateOf(bob), 'connected');
    await remoteFrames(alice.page, 3);
    await closeAll(alice, bob, carol);
  });

  test('glare: both ring within 10 ms → exactly one call (5 trials)', { timeout: 240_000 }, async () => {
    // A trial whose presses a busy machine put more than 10 ms apart tested
    // no glare: it does not count, and is made again (at most 10 extra).
    for (let trial = 0, missed = 0; trial < 5; trial++) {
      const [alice, bob] = await pair();
      // Both press call at the same wall-clock instant (same machine clock).
      const at = Date.now() + 400;
      const pressed = await Promise.all(
        [alice, bob].map((p) =>
          p.page.evaluate(
            (when) =>
              new Promise<number>((resolve) => {
                const el = document.querySelector('call-widget') as HTMLElement & { join(): Promise<void> };
                setTimeout(() => {
                  resolve(Date.now());
                  void el.join();
                }, when - Date.now());
              }),
            at,
          ),
        ),
      );
      if (Math.abs(pressed[0]! - pressed[1]!) > 10) {
        assert.ok(++missed <= 10, `${missed} trials with presses more than 10 ms apart (last ${pressed[1]! - pressed[0]!} ms)`);
        await closeAll(alice, bob);
        trial--;
        continue;
      }
      await Promise.all([waitForState(alice.page, 'connected'), waitForState(bob.page, 'connected')]);
      for (const p of [alice, bob]) {
        assert.equal(await p.page.locator('call-widget [part~="remote-video"]').count(), 1, `trial ${trial}: one remote video`);
        assert.equal(await peerConnections(p), 1, `trial ${trial}: one peer connection`);
        assert.ok((await remoteFrames(p.page, 3)).frames >= 3);
        const seen = await states(p);
        assert.ok(!seen.includes('incoming') && !seen.includes('busy') && !seen.includes('missed'), `trial ${trial}: ${seen}`);
      }
      await closeAll(alice, bob);
    }
  });

  test('the callee reloads while it rings: it is rung again, and accepting makes one call', { timeout: 60_000 }, async () => {
    const [alice, bob] = await pair();
    await clickJoin(alice.page);
    await waitForState(bob.page, 'incoming');
    await bob.page.reload();
    await bob.page.waitForFunction(() => customElements.get('call-widget') && document.querySelector('call-widget'));
    await waitForState(bob.page, 'incoming', 5000);
    assert.equal(await stateOf(alice), 'ringing');
    await button(bob, 'accept-button').click();
    await Promise.all([waitForState(alice.page, 'connected'), waitForState(bob.page, 'connected')]);
    assert.equal(await alice.page.locator('call-widget [part~="remote-video"]').count(), 1);
    await closeAll(alice, bob);
  });
});
