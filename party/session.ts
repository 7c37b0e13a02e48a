/**
 * Session tokens: proof that a socket may take back a peer id it was given.
 *
 * A token is `<peer-id>.<issued>.<mac>`, with `issued` the time it was made
 * (Unix seconds, base 36) and `mac = base64url(HMAC-SHA-256(secret,
 * "<room-id>\n<peer-id>\n<issued>"))` (RFC 2104 with SHA-256, Web Crypto).
 * It is bound to the room, good for {@link SESSION_TTL_S} after `issued` (the
 * room's grace period decides whether the slot is still held) and needs no
 * server memory, so a peer can reclaim its id after a room-server restart or
 * a Durable Object eviction, when the secret is stable (`SESSION_SECRET`).
 * Without one, each server process makes its own random secret: resume then
 * works only within that process.
 *
 * A token travels in a URL query when its page reconnects, and URL queries
 * can end up in logs: the expiry bounds how long one read there is worth
 * anything. The room hands a member a fresh token in every `welcome` and, for
 * as long as its socket stays open, in a `session` frame every
 * `SESSION_REISSUE_MS` (party/room.ts), so the token a page holds is never
 * older than that plus the resume grace, however long its call.
 */
import { SESSION_PATTERN } from '../src/protocol.ts';
import { randomId } from '../src/random-id.ts';

/**
 * How long a session token verifies after it was issued, s: one hour. It must
 * outlast the longest a member can hold it and still be in the room: the
 * room's re-issue period (15 min) plus the resume grace (20 s) plus the age a
 * restarted room accepts of its snapshot (25 s), with room to spare for a
 * re-issue frame lost on a socket that then dropped (the next `welcome`
 * brings a fresh one). Shorter would shrink the worth of a token read from a
 * log; the price is a 100-byte frame per member per re-issue period.
 */
export const SESSION_TTL_S = 3600;

/**
 * How far in the future a token's issue time may lie and still verify, s:
 * another server machine's clock (a Durable Object moved after a deploy) may
 * be a little behind the one that signed it.
 */
export const SESSION_CLOCK_SKEW_S = 300;

/** Made on first use: workerd forbids random values in the global scope. */
let processSecret: string | undefined;

/** `SESSION_SECRET` is set (≥ 16 characters): tokens stay valid across room-server restarts. */
export function hasStableSecret(env: Record<string, unknown>): env is { SESSION_SECRET: string } {
  return typeof env.SESSION_SECRET === 'string' && env.SESSION_SECRET.length >= 16;
}

/** The secret to sign with: `SESSION_SECRET` from the environment (≥ 16 characters), or this process's own. */
export function sessionSecret(env: Record<string, unknown>): string {
  if (hasStableSecret(env)) return env.SESSION_SECRET;
  processSecret ??= randomId(32);
  return processSecret;
}

async function mac(secret: string, roomId: string, message: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const bytes = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(`${roomId}\n${message}`)));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The token for `peerId` in `roomId`, issued at `now` (ms since the epoch). */
export async function signSession(secret: string, roomId: string, peerId: string, now = Date.now()): Promise<string> {
  const issued = Math.floor(now / 1000).toString(36);
  return `${peerId}.${issued}.${await mac(secret, roomId, `${peerId}\n${issued}`)}`;
}

/**
 * Which secret signs `roomId`'s tokens, without revealing it: HMAC-SHA-256 of
 * `"<room-id>\n"` (no peer id is empty, so this is no session token). Stored
 * with the room's snapshot: a snapshot saved under another secret names
 * members whose tokens no longer verify, so it is not taken up.
 */
export function secretTag(secret: string, roomId: string): Promise<string> {
  return mac(secret, roomId, '');
}

/**
 * The peer id a token names, if the token is well-formed, was signed with
 * `secret` for `roomId`, and was issued within {@link SESSION_TTL_S} before
 * `now` (ms since the epoch; at most {@link SESSION_CLOCK_SKEW_S} after it);
 * otherwise null. Never throws.
 */
export async function verifySession(secret: string, roomId: string, token: string | null, now = Date.now()): Promise<string | null> {
  if (!token || !SESSION_PATTERN.test(token)) return null;
  const [peerId, issued, given] = token.split('.') as [string, string, string];
  const age = now / 1000 - parseInt(issued, 36);
  if (!(age <= SESSION_TTL_S && age >= -SESSION_CLOCK_SKEW_S)) return null;
  try {
    const expected = await mac(secret, roomId, `${peerId}\n${issued}`);
    if (given.length !== expected.length) return null;
    let diff = 0;
    for (let i = 0; i < given.length; i++) diff |= given.charCodeAt(i) ^ expected.charCodeAt(i);
    return diff === 0 ? peerId : null;
  } catch {
    return null;
  }
}
