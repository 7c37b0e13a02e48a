/**
 * Session tokens: proof that a socket may take back a peer id it was given.
 *
 * A token is `<peer-id>.<mac>`, with `mac = base64url(HMAC-SHA-256(secret,
 * "<room-id>\n<peer-id>"))` (RFC 2104 with SHA-256, Web Crypto). It is bound to
 * the room, carries no expiry (the room's grace period decides whether the
 * slot is still held) and needs no server memory, so a peer can reclaim its id
 * after a room-server restart or a Durable Object eviction, when the secret is
 * stable (`SESSION_SECRET`). Without one, each server process makes its own
 * random secret: resume then works only within that process.
 */
import { SESSION_PATTERN } from '../src/protocol.ts';
import { randomId } from '../src/random-id.ts';

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

async function mac(secret: string, roomId: string, peerId: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const bytes = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(`${roomId}\n${peerId}`)));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The token for `peerId` in `roomId`. */
export async function signSession(secret: string, roomId: string, peerId: string): Promise<string> {
  return `${peerId}.${await mac(secret, roomId, peerId)}`;
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
 * The peer id a token names, if the token is well-formed and was signed with
 * `secret` for `roomId`; otherwise null. Never throws.
 */
export async function verifySession(secret: string, roomId: string, token: string | null): Promise<string | null> {
  if (!token || !SESSION_PATTERN.test(token)) return null;
  const dot = token.indexOf('.');
  const peerId = token.slice(0, dot);
  try {
    const expected = await mac(secret, roomId, peerId);
    const given = token.slice(dot + 1);
    if (given.length !== expected.length) return null;
    let diff = 0;
    for (let i = 0; i < given.length; i++) diff |= given.charCodeAt(i) ^ expected.charCodeAt(i);
    return diff === 0 ? peerId : null;
  } catch {
    return null;
  }
}
