/**
 * ICE servers for a peer, from the room server's configuration (environment):
 *
 * - `STUN_URLS`: comma-separated `stun:` URLs.
 * - `TURN_URLS`: comma-separated `turn:`/`turns:` URLs; used only with `TURN_SECRET`.
 * - `TURN_SECRET`: the secret shared with coturn (`static-auth-secret`).
 * - `TURN_TTL_SECONDS`: credential lifetime, s (default 3600, capped at 86400:
 *   coturn accepts any future expiry, so this is the only place it is capped).
 *
 * TURN credentials follow the TURN REST API (draft-uberti-behave-turn-rest-00
 * §2.2, as implemented by coturn's `use-auth-secret`): username
 * `<expiry-unix-seconds>:<peer-id>`, password `base64(HMAC-SHA1(secret, username))`.
 * With no configuration the list is empty: host candidates work on one machine
 * and one LAN, and nothing third-party is contacted.
 */
import type { IceServer } from '../src/protocol.ts';
import type { IceGrant } from './room.ts';

export interface IceConfig {
  stunUrls: string[];
  turnUrls: string[];
  turnSecret: string;
  /** Credential lifetime, s. */
  turnTtlSeconds: number;
}

export const DEFAULT_TURN_TTL_SECONDS = 3600;
export const MAX_TURN_TTL_SECONDS = 86_400;

/** A comma-separated environment value as a list of trimmed, non-empty items. */
export const parseList = (value: unknown): string[] =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

/** Read the ICE configuration from the environment; bad values fall back to defaults. */
export function readIceConfig(env: Record<string, unknown>): IceConfig {
  const ttl = Math.floor(Number(env.TURN_TTL_SECONDS));
  return {
    stunUrls: parseList(env.STUN_URLS).filter((u) => /^stuns?:/.test(u)),
    turnUrls: parseList(env.TURN_URLS).filter((u) => /^turns?:/.test(u)),
    turnSecret: typeof env.TURN_SECRET === 'string' ? env.TURN_SECRET : '',
    turnTtlSeconds:
      Number.isFinite(ttl) && ttl >= 1 ? Math.min(ttl, MAX_TURN_TTL_SECONDS) : DEFAULT_TURN_TTL_SECONDS,
  };
}

/** base64(HMAC-SHA1(secret, message)) with Web Crypto (available in workerd and Node). */
export async function hmacSha1Base64(secret: string, message: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, [
    'sign',
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(message)));
  let binary = '';
  for (const b of mac) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * The RTCIceServer list for one peer.
 *
 * @param nowMs current time, ms since the epoch
 * @returns STUN entries, then one TURN entry with REST credentials valid until
 *   `now + turnTtlSeconds` (when TURN is configured)
 */
export async function iceServersFor(config: IceConfig, peerId: string, nowMs: number): Promise<IceServer[]> {
  const servers: IceServer[] = [];
  if (config.stunUrls.length) servers.push({ urls: config.stunUrls });
  if (config.turnUrls.length && config.turnSecret) {
    const expiry = Math.floor(nowMs / 1000) + config.turnTtlSeconds;
    const username = `${expiry}:${peerId}`;
    servers.push({ urls: config.turnUrls, username, credential: await hmacSha1Base64(config.turnSecret, username) });
  }
  return servers;
}

/**
 * {@link iceServersFor} with the lifetime of its credentials: `iceTtl` is
 * `turnTtlSeconds` when a TURN entry is included, absent otherwise (STUN needs
 * no credentials and never expires).
 */
export async function iceGrantFor(config: IceConfig, peerId: string, nowMs: number): Promise<IceGrant> {
  const iceServers = await iceServersFor(config, peerId, nowMs);
  return iceServers.some((s) => s.credential !== undefined)
    ? { iceServers, iceTtl: config.turnTtlSeconds }
    : { iceServers };
}
