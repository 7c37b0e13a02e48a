import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SESSION_CLOCK_SKEW_S, SESSION_TTL_S, sessionSecret, signSession, verifySession } from '../../party/session.ts';
import { SESSION_PATTERN } from '../../src/protocol.ts';
import { PEER_IDS } from './fake-socket.ts';

const SECRET = 'a-long-enough-test-secret';
const ROOM = 'room-0123456789';
const [ALICE, BOB] = PEER_IDS;

describe('session tokens', () => {
  test('a signed token verifies to its peer id, in its room, with its secret only', async () => {
    const token = await signSession(SECRET, ROOM, ALICE);
    assert.match(token, SESSION_PATTERN);
    assert.ok(token.startsWith(`${ALICE}.`));
    assert.equal(await verifySession(SECRET, ROOM, token), ALICE);
    assert.equal(await verifySession(SECRET, 'other-room-0123', token), null, 'bound to the room');
    assert.equal(await verifySession('another-secret-entirely', ROOM, token), null);
  });

  test('swapping the id or touching the MAC fails', async () => {
    const token = await signSession(SECRET, ROOM, ALICE);
    const mac = token.slice(token.indexOf('.') + 1);
    assert.equal(await verifySession(SECRET, ROOM, `${BOB}.${mac}`), null);
    const flipped = mac.slice(0, -1) + (mac.endsWith('A') ? 'B' : 'A');
    assert.equal(await verifySession(SECRET, ROOM, `${ALICE}.${flipped}`), null);
    assert.equal(await verifySession(SECRET, ROOM, `${ALICE}.${mac}x`), null);
  });

  test(`a token verifies for SESSION_TTL_S (${SESSION_TTL_S} s) after it was issued, not after; nor issued further ahead than the clock skew`, async () => {
    const issued = 1_800_000_000_000;
    const token = await signSession(SECRET, ROOM, ALICE, issued);
    assert.match(token, SESSION_PATTERN);
    assert.equal(await verifySession(SECRET, ROOM, token, issued), ALICE);
    assert.equal(await verifySession(SECRET, ROOM, token, issued + SESSION_TTL_S * 1000), ALICE, 'at its last second');
    assert.equal(await verifySession(SECRET, ROOM, token, issued + SESSION_TTL_S * 1000 + 1000), null, 'expired');
    assert.equal(await verifySession(SECRET, ROOM, token, issued - SESSION_CLOCK_SKEW_S * 1000), ALICE, 'a server clock a little behind');
    assert.equal(await verifySession(SECRET, ROOM, token, issued - SESSION_CLOCK_SKEW_S * 1000 - 1000), null, 'issued too far ahead');
    // The issue time is under the MAC: an expired token cannot be made young again.
    const [id, , mac] = token.split('.');
    const later = Math.floor((issued + SESSION_TTL_S * 1000) / 1000).toString(36);
    assert.equal(await verifySession(SECRET, ROOM, `${id}.${later}.${mac}`, issued + SESSION_TTL_S * 1000 + 1000), null);
    // The default clock is now.
    assert.equal(await verifySession(SECRET, ROOM, await signSession(SECRET, ROOM, ALICE)), ALICE);
  });

  test('garbage never verifies and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(fc.string({ maxLength: 120 }), { nil: null }), async (token) => {
        assert.equal(await verifySession(SECRET, ROOM, token), null);
      }),
      { seed: 0x5e55, numRuns: 500 },
    );
  });

  test('SESSION_SECRET is used when long enough; otherwise a per-process secret', () => {
    assert.equal(sessionSecret({ SESSION_SECRET: SECRET }), SECRET);
    const fallback = sessionSecret({});
    assert.equal(sessionSecret({ SESSION_SECRET: 'short' }), fallback);
    assert.ok(fallback.length >= 32);
  });
});
