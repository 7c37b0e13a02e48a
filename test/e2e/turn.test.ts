/**
 * TURN end to end: Debian's coturn on loopback with TURN REST credentials.
 *
 * 1. A call between two widgets forced to relay-only ICE, through coturn
 *    (test config) and `partykit dev` minting the credentials.
 * 2. coturn accepts the room server's credentials, and refuses expired and
 *    forged ones.
 * 3. The production config (turn/turnserver.conf), run on loopback, refuses
 *    relaying to loopback, private, link-local and IPv4-mapped addresses but
 *    not to public ones; the test config, which allows loopback peers, shows
 *    the probe can fail.
 *
 * Only loopback carries traffic: coturn listens on 127.0.0.1 (and ::1), and
 * CreatePermission sends nothing to the peer address it names (RFC 5766 §9).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { randomId } from '../../src/random-id.ts';
import { ROOT, requireBuild } from '../support/harness.ts';
import { startRelayServers, stopRelayServers, type RelayServers } from '../support/relay-call.ts';
import { clickJoin, iceRestartedFrom, joinInTurn, localUfrag, openWidgetPage, remoteFrames, restartIce, waitForState } from '../support/widget-page.ts';
import {
  TurnClient,
  freeUdpPort,
  restCredentials,
  startCoturn,
  type Coturn,
  type TurnResult,
} from '../support/turn.ts';

const TEST_CONFIG = join(ROOT, 'turn/turnserver.test.conf');
const PRODUCTION_CONFIG = join(ROOT, 'turn/turnserver.conf');

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** 'ok', or the STUN error code. */
const outcome = (result: TurnResult) => (result.ok ? 'ok' : result.code);
const newSecret = () => randomBytes(24).toString('base64url');
const hasIPv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((i) => i?.address === '::1');

/** Allocate on a fresh socket (one allocation per 5-tuple); the caller closes the client. */
async function allocate(coturn: Coturn, username: string, password: string, host = '127.0.0.1', family?: 'ipv6') {
  const client = await TurnClient.open(host, coturn.port);
  const result = await client.allocate(username, password, family);
  return { client, result };
}

/** Runs `fn` with a TURN client holding a valid allocation, then releases it. */
async function withAllocation(
  coturn: Coturn,
  secret: string,
  fn: (client: TurnClient) => Promise<void>,
  options: { host?: string; family?: 'ipv6' } = {},
): Promise<void> {
  const { username, password } = restCredentials(secret, randomId(16), nowSeconds() + 600);
  const { client, result } = await allocate(coturn, username, password, options.host, options.family);
  try {
    assert.equal(result.ok, true, `allocate: ${JSON.stringify(result)}\n${coturn.output()}`);
    await fn(client);
  } finally {
    await client.release().catch(() => undefined);
    client.close();
  }
}

// ---------------------------------------------------------------- credentials

describe('coturn with TURN REST credentials (test config)', () => {
  const secret = newSecret();
  let coturn: Coturn;

  before(async () => {
    coturn = await startCoturn({ config: TEST_CONFIG, port: await freeUdpPort(), secret });
  });
  after(async () => {
    await coturn?.stop();
  });

  test('a valid credential allocates a relayed address', { timeout: 10_000 }, async () => {
    const { username, password } = restCredentials(secret, randomId(16), nowSeconds() + 600);
    const { client, result } = await allocate(coturn, username, password);
    try {
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.equal(result.ok && result.relayed?.address, '127.0.0.1');
    } finally {
      await client.release();
      client.close();
    }
  });

  test('an expired credential (correct HMAC) is refused with 401', { timeout: 10_000 }, async () => {
    const { username, password } = restCredentials(secret, randomId(16), nowSeconds() - 5);
    const { client, result } = await allocate(coturn, username, password);
    client.close();
    assert.equal(outcome(result), 401);
  });

  test('a forged credential (wrong HMAC) is refused with 401', { timeout: 10_000 }, async () => {
    const id = randomId(16);
    const expiry = nowSeconds() + 600;
    // Signed with another secret, and a valid password for another username.
    const other = restCredentials(newSecret(), id, expiry);
    const borrowed = restCredentials(secret, randomId(16), expiry);
    for (const password of [other.password, borrowed.password]) {
      const { client, result } = await allocate(coturn, other.username, password);
      client.close();
      assert.equal(outcome(result), 401);
    }
  });

  test('an allocation outlives its credential (expiry is checked at authentication)', { timeout: 10_000 }, async () => {
    // SECURITY.md relies on this: a relayed call keeps its relay past the
    // credential's expiry, but no new allocation can be made with it.
    const expiry = nowSeconds() + 1;
    const { username, password } = restCredentials(secret, randomId(16), expiry);
    const { client, result } = await allocate(coturn, username, password);
    try {
      assert.equal(result.ok, true, JSON.stringify(result));
      await new Promise((r) => setTimeout(r, Math.max(0, (expiry + 1) * 1000 - Date.now()) + 100));
      assert.ok(nowSeconds() > expiry);
      assert.deepEqual(await client.createPermission('127.0.0.1'), { ok: true }, 'existing allocation');
      const again = await allocate(coturn, username, password);
      again.client.close();
      assert.equal(outcome(again.result), 401);
    } finally {
      await client.release().catch(() => undefined);
      client.close();
    }
  });

  test('the test config relays to loopback (so the production probes can fail)', { timeout: 10_000 }, async () => {
    await withAllocation(coturn, secret, async (client) => {
      assert.deepEqual(await client.createPermission('127.0.0.1'), { ok: true });
    });
  });
});

// ---------------------------------------------------------------- production config

/** First and last address of a `denied-peer-ip` value, as numbers of one family. */
function ipRange(value: string): { v4: boolean; first: bigint; last: bigint } {
  const [a, b = a] = value.split('-') as [string, string?];
  const parse = (ip: string): bigint => {
    if (isIPv4(ip)) return ip.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
    const [head, tail] = ip.split('::') as [string, string?];
    const groups = (s?: string) => (s ? s.split(':') : []);
    const h = groups(head);
    const t = groups(tail);
    const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
  };
  return { v4: isIPv4(a), first: parse(a), last: parse(b!) };
}

describe('production config (turn/turnserver.conf) on loopback', () => {
  const secret = newSecret();
  let coturn: Coturn;
  const configText = readFileSync(PRODUCTION_CONFIG, 'utf8');
  const setting = (name: string) =>
    configText
      .split('\n')
      .filter((line) => line.startsWith(`${name}=`))
      .map((line) => line.slice(name.length + 1).trim());

  before(async () => {
    // Only where it listens (loopback; ::1 too, to probe an IPv6 relay), its
    // ports, the secret and the log are set here: every policy is the file's.
    coturn = await startCoturn({
      config: PRODUCTION_CONFIG,
      port: await freeUdpPort(),
      secret,
      args: [
        ...(hasIPv6Loopback ? ['--listening-ip', '::1'] : []),
        // Unused (no certificate, so no TLS listener), but never the shared default 5349.
        '--tls-listening-port',
        String(await freeUdpPort()),
      ],
    });
  });
  after(async () => {
    await coturn?.stop();
  });

  test('the file is parsed as intended: no CIDR, no range opening at a zero address', () => {
    const denied = setting('denied-peer-ip');
    assert.ok(denied.length >= 25, `${denied.length} denied-peer-ip lines`);
    for (const value of denied) {
      // coturn 4.6.1 skips CIDR with only a log line, and a range from 0.0.0.0
      // or :: has no lower bound; one from :: then matches every IPv4 address.
      assert.doesNotMatch(value, /\//, `CIDR is not understood: ${value}`);
      const range = ipRange(value);
      assert.ok(range.first <= range.last, `empty range: ${value}`);
      assert.ok(range.v4 || range.first > 0n, `IPv6 range opening at :: denies all IPv4: ${value}`);
    }
    assert.deepEqual(setting('allow-loopback-peers'), [], 'never in production');
    assert.equal(configText.match(/^allow-loopback-peers/m), null);
    assert.equal(configText.match(/^static-auth-secret=/m), null, 'ships without a secret: fails closed');
    const flags = [
      ...['use-auth-secret', 'no-cli', 'no-multicast-peers', 'no-tcp-relay'],
      ...['fingerprint', 'no-software-attribute', 'no-rfc5780', 'no-stun-backward-compatibility'],
    ];
    for (const flag of flags) assert.match(configText, new RegExp(`^${flag}$`, 'm'), flag);
  });

  test('the deny list covers every special-purpose range', () => {
    const denied = setting('denied-peer-ip').map(ipRange);
    const required = [
      '0.0.0.0-0.255.255.255', '10.0.0.0-10.255.255.255', '100.64.0.0-100.127.255.255',
      '127.0.0.0-127.255.255.255', '169.254.0.0-169.254.255.255', '172.16.0.0-172.31.255.255',
      '192.0.0.0-192.0.0.255', '192.0.2.0-192.0.2.255', '192.168.0.0-192.168.255.255',
      '198.18.0.0-198.19.255.255', '198.51.100.0-198.51.100.255', '203.0.113.0-203.0.113.255',
      '224.0.0.0-239.255.255.255', '240.0.0.0-255.255.255.255', '255.255.255.255', '::1',
      '::ffff:0.0.0.0-::ffff:255.255.255.255', '64:ff9b::-64:ff9b::ffff:ffff',
      'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ];
    for (const want of required.map((r) => [r, ipRange(r)] as const)) {
      const [text, r] = want;
      assert.ok(
        denied.some((d) => d.v4 === r.v4 && d.first <= r.first && r.last <= d.last),
        `not denied: ${text}`,
      );
    }
  });

  test('valid credentials allocate; expired and forged ones get 401', { timeout: 10_000 }, async () => {
    const id = randomId(16);
    await withAllocation(coturn, secret, async () => undefined);
    const expired = restCredentials(secret, id, nowSeconds() - 5);
    const forged = restCredentials(newSecret(), id, nowSeconds() + 600);
    // The placeholder in the file's commented-out static-auth-secret line must not work.
    const placeholder = /^#static-auth-secret=(.+)$/m.exec(configText)?.[1] ?? 'missing';
    const fromPlaceholder = restCredentials(placeholder, id, nowSeconds() + 600);
    for (const { username, password } of [expired, forged, fromPlaceholder]) {
      const { client, result } = await allocate(coturn, username, password);
      client.close();
      assert.equal(outcome(result), 401, username);
    }
  });

  test('loopback, private, link-local and metadata peers are refused', { timeout: 10_000 }, async () => {
    const peers = [
      ...['127.0.0.1', '10.0.0.1', '169.254.169.254', '172.16.0.1', '192.168.1.1'],
      ...['100.100.100.200', '0.0.0.0', '192.0.0.170', '198.18.0.1'],
    ];
    await withAllocation(coturn, secret, async (client) => {
      for (const peer of peers) {
        const result = await client.createPermission(peer);
        assert.equal(outcome(result), 403, peer);
      }
      // On this IPv4 relay an IPv6 peer is refused before the deny list:
      // 443 Peer Address Family Mismatch (RFC 6156). The IPv6 relay below
      // shows the deny list refusing it too.
      const mapped = await client.createPermission('::ffff:127.0.0.1');
      assert.equal(mapped.ok, false);
      assert.ok(!mapped.ok && [403, 443].includes(mapped.code), JSON.stringify(mapped));
    });
  });

  const ipv6Options = { timeout: 10_000, skip: !hasIPv6Loopback && 'no ::1 on this machine' };
  test('IPv4-mapped, loopback and private IPv6 peers are refused on an IPv6 relay', ipv6Options, async () => {
    const peers = [
      ...['::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::1', '::127.0.0.1'],
      ...['::', 'fe80::1', 'fd00:ec2::254', '64:ff9b::a9fe:a9fe'],
    ];
    await withAllocation(
      coturn,
      secret,
      async (client) => {
        for (const peer of peers) {
          const result = await client.createPermission(peer);
          assert.equal(outcome(result), 403, peer);
        }
      },
      { host: '::1', family: 'ipv6' },
    );
  });

  test('public peers are allowed: the deny list is not too broad', { timeout: 10_000 }, async () => {
    // Nothing is sent to these addresses: a permission only opens the relay to them.
    await withAllocation(coturn, secret, async (client) => {
      for (const peer of ['1.1.1.1', '11.0.0.1', '172.32.0.1', '223.255.255.254']) {
        assert.deepEqual(await client.createPermission(peer), { ok: true }, peer);
      }
    });
    if (hasIPv6Loopback) {
      await withAllocation(
        coturn,
        secret,
        async (client) => assert.deepEqual(await client.createPermission('2606:4700::1111'), { ok: true }),
        { host: '::1', family: 'ipv6' },
      );
    }
  });

  test('one credential holds at most user-quota allocations', { timeout: 20_000 }, async () => {
    const quota = Number(setting('user-quota')[0]);
    assert.ok(quota > 0 && quota <= 100, `user-quota=${quota}`);
    const { username, password } = restCredentials(secret, randomId(16), nowSeconds() + 600);
    const clients: TurnClient[] = [];
    try {
      for (let i = 0; i < quota; i++) {
        const { client, result } = await allocate(coturn, username, password);
        clients.push(client);
        assert.equal(result.ok, true, `allocation ${i + 1}: ${JSON.stringify(result)}`);
      }
      const { client, result } = await allocate(coturn, username, password);
      clients.push(client);
      assert.equal(outcome(result), 486);
    } finally {
      await Promise.all(clients.map((c) => c.release().catch(() => undefined)));
      for (const c of clients) c.close();
    }
  });
});

// ---------------------------------------------------------------- a call through the relay

interface CandidateInfo {
  localType?: string;
  remoteType?: string;
  localAddress?: string;
  relayProtocol?: string;
  url?: string;
}

describe('a call through coturn with relay-only ICE', () => {
  let relay: RelayServers;

  before(async () => {
    requireBuild();
    relay = await startRelayServers();
  });

  after(() => stopRelayServers(relay));

  const openRelayWidget = (room: string, name: string) => openWidgetPage(relay.browser, relay, room, name, 'relay');

  /** The selected candidate pair of the page's (last) peer connection. */
  const selectedPair = (page: Page) =>
    page.evaluate(async (): Promise<CandidateInfo> => {
      const pcs = (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections;
      const pc = pcs[pcs.length - 1];
      if (!pc) return {};
      const stats = await pc.getStats();
      let pairId: string | undefined;
      stats.forEach((r) => {
        if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
      });
      if (!pairId) {
        stats.forEach((r) => {
          if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pairId = r.id;
        });
      }
      const pair = pairId ? stats.get(pairId) : undefined;
      const local = pair && stats.get(pair.localCandidateId);
      const remote = pair && stats.get(pair.remoteCandidateId);
      return {
        localType: local?.candidateType,
        remoteType: remote?.candidateType,
        localAddress: local?.address,
        relayProtocol: local?.relayProtocol,
        url: local?.url,
      };
    });

  test('two relay-only widgets connect, decode each other, and use relay candidates', { timeout: 60_000 }, async () => {
    const room = randomId(16);
    const alice = await openRelayWidget(room, 'Alice');
    const bob = await openRelayWidget(room, 'Bob');
    try {
      await joinInTurn(alice, bob);

      const [a, b] = await Promise.all([remoteFrames(alice), remoteFrames(bob)]);
      assert.ok(a.frames >= 5 && a.width > 0, `alice decoded ${JSON.stringify(a)}`);
      assert.ok(b.frames >= 5 && b.width > 0, `bob decoded ${JSON.stringify(b)}`);

      for (const [name, page] of [['alice', alice], ['bob', bob]] as const) {
        // The room server handed out our TURN URL with a REST credential valid for TURN_TTL_SECONDS.
        const servers = await page.evaluate(() => {
          const configurations = (window as unknown as { peerConfigurations: RTCConfiguration[] }).peerConfigurations;
          return configurations.at(-1)?.iceServers ?? [];
        });
        const turn = servers.find((s) => [s.urls].flat().some((u) => u.startsWith('turn:')));
        assert.ok(turn, `${name}: no TURN server in ${JSON.stringify(servers)}`);
        assert.deepEqual([turn.urls].flat(), [`turn:127.0.0.1:${relay.coturn.port}?transport=udp`]);
        const expiry = Number(String(turn.username).split(':')[0]);
        assert.ok(Math.abs(expiry - (nowSeconds() + 600)) < 60, `${name}: username ${turn.username}`);

        const pair = await selectedPair(page);
        assert.equal(pair.localType, 'relay', `${name}: selected pair ${JSON.stringify(pair)}`);
        assert.equal(pair.localAddress, '127.0.0.1', `${name}: relayed address ${JSON.stringify(pair)}`);
        assert.equal(pair.url, `turn:127.0.0.1:${relay.coturn.port}?transport=udp`, `${name}: ${JSON.stringify(pair)}`);
      }
    } finally {
      await Promise.all([alice.context().close(), bob.context().close()]);
    }
  });
});

describe('TURN credentials are refreshed before they expire', () => {
  /** Short on purpose: the call outlives its first credentials within the test. */
  const TTL_SECONDS = 6;
  let relay: RelayServers;

  before(async () => {
    requireBuild();
    relay = await startRelayServers({ ttlSeconds: TTL_SECONDS });
  });

  after(() => stopRelayServers(relay));

  const openRelayWidget = (room: string, name: string) => openWidgetPage(relay.browser, relay, room, name, 'relay');

  interface Applied {
    at: number;
    iceServers?: RTCIceServer[];
  }
  const applied = (page: Page) => page.evaluate(() => (window as unknown as { appliedConfigurations: Applied[] }).appliedConfigurations);
  const expiryOf = (servers: RTCIceServer[] | undefined) =>
    Number(String(servers?.find((s) => s.username)?.username ?? '').split(':')[0]);

  test('after the first credentials expired, an ICE restart and a new peer connection still connect through the relay', { timeout: 60_000 }, async () => {
    const room = randomId(16);
    const alice = await openRelayWidget(room, 'Alice');
    const bob = await openRelayWidget(room, 'Bob');
    const pages = [alice, bob];
    try {
      await joinInTurn(alice, bob);
      const first = await alice.evaluate(() =>
        (window as unknown as { peerConfigurations: RTCConfiguration[] }).peerConfigurations.at(-1)?.iceServers,
      );
      const firstExpiry = expiryOf(first);
      assert.ok(firstExpiry > 0, `no TURN credential in ${JSON.stringify(first)}`);

      // Wait until the first credentials are past their expiry (plus a second of margin).
      const waitMs = (firstExpiry + 1) * 1000 - Date.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, waitMs)));
      // Fresh credentials were asked for before expiry and applied to the live connection.
      const refreshes = await applied(alice);
      const fresh = refreshes.filter((r) => expiryOf(r.iceServers) > firstExpiry);
      assert.ok(fresh.length >= 1, `no fresh credentials applied: ${JSON.stringify(refreshes)}`);
      assert.ok(fresh[0]!.at < firstExpiry * 1000, 'applied before the old ones expired');

      // An ICE restart after expiry. (Chromium was seen to connect this one even
      // with the refresh disabled: it may keep its TURN allocation across a
      // restart. The new peer connection below cannot.)
      const before = await localUfrag(alice);
      await restartIce(alice);
      await iceRestartedFrom(alice, before, 15_000);
      const pair = await alice.evaluate(async () => {
        const pc = (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections.at(-1)!;
        const stats = await pc.getStats();
        let local: { candidateType?: string } | undefined;
        stats.forEach((r) => {
          if (r.type === 'transport' && r.selectedCandidatePairId) local = stats.get(stats.get(r.selectedCandidatePairId)?.localCandidateId);
        });
        return local?.candidateType;
      });
      assert.equal(pair, 'relay');
      const after = await remoteFrames(alice);
      assert.ok(after.frames >= 5, `after the restart alice decoded ${JSON.stringify(after)}`);
      await waitForState(bob, 'connected');

      // A new peer connection needs a new TURN allocation: with the expired
      // credentials coturn answers 401 and a relay-only call cannot connect.
      await bob.context().close();
      await waitForState(alice, 'waiting');
      const carol = await openRelayWidget(room, 'Carol');
      pages.push(carol);
      await clickJoin(carol);
      await Promise.all([waitForState(alice, 'connected', 15_000), waitForState(carol, 'connected', 15_000)]);
      const withCarol = await remoteFrames(alice);
      assert.ok(withCarol.frames >= 5, `alice decoded ${JSON.stringify(withCarol)} from carol`);
      const used = await alice.evaluate(() =>
        (window as unknown as { peerConfigurations: RTCConfiguration[] }).peerConfigurations.at(-1)?.iceServers,
      );
      assert.ok(expiryOf(used) * 1000 > Date.now(), `the new connection used fresh credentials: ${JSON.stringify(used)}`);
    } finally {
      await Promise.all(pages.map((p) => p.context().close()));
    }
  });
});
