/**
 * The set-up of the end-to-end tests that call through TURN: Debian's coturn
 * on loopback (the test config, TURN REST credentials under a fresh secret),
 * `partykit dev` handing out its credentials, the static server, and a
 * Chromium that gathers loopback host candidates too.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { ROOT, launchChromium, startParty, startStatic, type PartyServer, type StaticServer } from './harness.ts';
import { freeUdpPort, startCoturn, type Coturn } from './turn.ts';

export interface RelayServers {
  coturn: Coturn;
  party: PartyServer;
  web: StaticServer;
  browser: Browser;
  /** The shared secret of the TURN REST credentials. */
  secret: string;
}

/**
 * Start coturn (`turn/turnserver.test.conf`), then the room server with
 * `TURN_URLS` on it (`udp`, and `tcp` with `tcp`), `STUN_URLS` too with
 * `stun`, credentials of `ttlSeconds` (600 by default) and any other `vars`,
 * the static server and Chromium.
 */
export async function startRelayServers(
  options: { ttlSeconds?: number; tcp?: boolean; stun?: boolean; vars?: Record<string, string> } = {},
): Promise<RelayServers> {
  const secret = randomBytes(24).toString('base64url');
  const coturn = await startCoturn({ config: join(ROOT, 'turn/turnserver.test.conf'), port: await freeUdpPort(), secret });
  const turn = `turn:127.0.0.1:${coturn.port}`;
  const [party, web, browser] = await Promise.all([
    startParty({
      vars: {
        ...(options.stun && { STUN_URLS: `stun:127.0.0.1:${coturn.port}` }),
        TURN_URLS: options.tcp ? `${turn}?transport=udp,${turn}?transport=tcp` : `${turn}?transport=udp`,
        TURN_SECRET: secret,
        TURN_TTL_SECONDS: String(options.ttlSeconds ?? 600),
        ...options.vars,
      },
    }),
    startStatic(),
    // Loopback host candidates too: more candidates per link, as on a
    // machine with several interfaces.
    launchChromium({ args: ['--allow-loopback-in-peer-connection'] }),
  ]);
  return { coturn, party, web, browser, secret };
}

/** Stop what {@link startRelayServers} started (whatever of it did start). */
export async function stopRelayServers(servers: Partial<RelayServers> | undefined): Promise<void> {
  await servers?.browser?.close();
  await Promise.all([servers?.party?.stop(), servers?.web?.stop(), servers?.coturn?.stop()]);
}
