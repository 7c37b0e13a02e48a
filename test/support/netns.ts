/**
 * Two test hosts, A and B, in network namespaces this process creates (and
 * deletes on exit), for cutting the media path between two browsers while
 * their room sockets stay up:
 *
 *     host netns: 10.N.1.1 ── veth ── A: 10.N.1.2      (A reaches the room and page servers)
 *                 10.N.2.1 ── veth ── B: 10.N.2.2      (B likewise)
 *                             A: 10.N.0.1 ── veth ── B: 10.N.0.2   (the media path)
 *
 * The host does not forward between A and B, so media can only use the A–B
 * link; `cutMediaPath` drops everything on it with iptables inside A only.
 * Needs root, iproute2 and iptables (`.ci/run` installs them).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_PATH } from './harness.ts';

export interface TestHost {
  /** Network namespace name. */
  netns: string;
  /** The host side's address, through which this namespace reaches the servers. */
  gateway: string;
  /** A script that runs Chromium inside this namespace (for playwright's `executablePath`). */
  chromium: string;
}

export interface TwoHosts {
  a: TestHost;
  b: TestHost;
  /** Drop (true) or let through (false) every packet on the A–B link. */
  cutMediaPath(cut: boolean): void;
  /**
   * Drop (true) or let through (false) every packet on both of A's links:
   * A vanishes from the network without closing anything (no FIN, no RST).
   */
  cutOffA(cut: boolean): void;
  /** Delete the namespaces and their links. Idempotent. */
  remove(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export function createTwoHosts(): TwoHosts {
  const tag = `${process.pid % 10000}`;
  const net = 100 + (process.pid % 100); // 10.<net>.x.y: one block per test process
  const nsA = `cw${tag}a`;
  const nsB = `cw${tag}b`;
  const dir = mkdtempSync(join(tmpdir(), 'call-widget-netns-'));
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    for (const ns of [nsA, nsB]) {
      try {
        ip('netns', 'del', ns); // takes its veth ends, and so their peers, with it
      } catch {
        // not created
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', remove);
  try {
    for (const ns of [nsA, nsB]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    // The media path, A–B.
    ip('link', 'add', `${nsA}m`, 'type', 'veth', 'peer', 'name', `${nsB}m`);
    ip('link', 'set', `${nsA}m`, 'netns', nsA);
    ip('link', 'set', `${nsB}m`, 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', `10.${net}.0.1/30`, 'dev', `${nsA}m`);
    ip('-n', nsB, 'addr', 'add', `10.${net}.0.2/30`, 'dev', `${nsB}m`);
    ip('-n', nsA, 'link', 'set', `${nsA}m`, 'up');
    ip('-n', nsB, 'link', 'set', `${nsB}m`, 'up');
    // Each to the host, for the servers.
    const hosts = ([nsA, nsB] as const).map((ns, i) => {
      const subnet = `10.${net}.${i + 1}`;
      ip('link', 'add', `${ns}h`, 'type', 'veth', 'peer', 'name', `${ns}g`);
      ip('link', 'set', `${ns}g`, 'netns', ns);
      ip('addr', 'add', `${subnet}.1/30`, 'dev', `${ns}h`);
      ip('link', 'set', `${ns}h`, 'up');
      ip('-n', ns, 'addr', 'add', `${subnet}.2/30`, 'dev', `${ns}g`);
      ip('-n', ns, 'link', 'set', `${ns}g`, 'up');
      const chromium = join(dir, `chromium-${ns}.sh`);
      writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM_PATH} "$@"\n`);
      chmodSync(chromium, 0o755);
      return { netns: ns, gateway: `${subnet}.1`, chromium };
    });
    /** Insert or delete DROP rules for everything in and out of `link`, inside A. */
    const iptables = (action: '-I' | '-D', link: string) => {
      for (const [chain, dir] of [
        ['INPUT', '-i'],
        ['OUTPUT', '-o'],
      ] as const) {
        execFileSync('ip', ['netns', 'exec', nsA, 'iptables', action, chain, dir, link, '-j', 'DROP'], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
      }
    };
    const cut = new Set<string>();
    const setCut = (link: string, next: boolean) => {
      if (next === cut.has(link)) return;
      iptables(next ? '-I' : '-D', link);
      if (next) cut.add(link);
      else cut.delete(link);
    };
    return {
      a: hosts[0]!,
      b: hosts[1]!,
      cutMediaPath: (next) => setCut(`${nsA}m`, next),
      cutOffA(next) {
        setCut(`${nsA}m`, next);
        setCut(`${nsA}g`, next);
      },
      remove,
    };
  } catch (error) {
    remove();
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`could not create the test network namespaces (root, iproute2 and iptables needed): ${stderr || error}`);
  }
}
