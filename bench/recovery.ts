/**
 * Recovery times, for the outages issue #4 names:
 *
 *   npm run build && npm run bench:recovery -- [--runs 5] [--blackholes 5,12,40] [--cutoffs 14] [--restarts 5]
 *                                              [--lose-storage]
 *
 * 1. Media-path blackhole: two Chromiums in two test-made network namespaces
 *    (test/support/netns.ts) are in a call; every packet on the link between
 *    them is dropped (iptables inside namespace A) for each duration, then let
 *    through. Measured: path restored → first remote frame decoded after it,
 *    on each side; a run's figure is the later side.
 * 2. Whole network lost: A's every packet (media path and room socket) is
 *    dropped for each duration (under the room's 20 s resume grace), with no
 *    FIN; A's socket reconnects under its own id. Measured as in 1.
 * 3. Room-server restart: `partykit dev` SIGKILLed mid-call and started again
 *    on the same port (same SESSION_SECRET, same room storage unless
 *    `--lose-storage`). Measured: server listening again
 *    → both widgets rejoined (their "reconnecting to the room" hint gone), and
 *    the restart itself (kill → listening), which the widget does not control.
 *
 * Prints medians and maxima per duration. Needs root (network namespaces).
 * A script that prints figures, not a test: it exits 0 whatever it measures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { randomId } from '../src/random-id.ts';
import { requireBuild, startParty, startStatic, type PartyServer, type StaticServer } from '../test/support/harness.ts';
import { createTwoHosts, type TwoHosts } from '../test/support/netns.ts';
import { firstFrameAfter, openInNamespace, rejoined } from '../test/support/outage.ts';
import { joinInTurn } from '../test/support/widget-page.ts';
import { median, sleep } from './common.ts';

const { values: options } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    blackholes: { type: 'string', default: '5,12,40' },
    cutoffs: { type: 'string', default: '14' },
    restarts: { type: 'string', default: '5' },
    'lose-storage': { type: 'boolean', default: false },
  },
});
const RUNS = Number(options.runs);
/** Comma-separated seconds; '' for none. */
const seconds = (list: string) => list.split(',').filter(Boolean).map(Number);
const BLACKHOLES = seconds(options.blackholes);
const CUTOFFS = seconds(options.cutoffs);
const RESTARTS = Number(options.restarts);
const VARS = { SESSION_SECRET: 'bench-recovery-secret-0123456789' };
/**
 * Room storage that outlives a `partykit dev` process, as a Durable Object's
 * does (the room's snapshot: its members resume into it). `--lose-storage`
 * restarts on empty storage instead: the members are admitted again under
 * their old ids.
 */
const STORAGE = options['lose-storage'] ? undefined : mkdtempSync(join(tmpdir(), 'bench-recovery-storage-'));

const row = (label: string, xs: number[]) =>
  `${label.padEnd(34)} ${String(Math.round(median(xs))).padStart(7)} ${String(Math.round(Math.max(...xs))).padStart(7)}   ${xs.map(Math.round).join(', ')}`;

let hosts: TwoHosts | undefined;
let party: PartyServer | undefined;
let web: StaticServer | undefined;
const browsers: Browser[] = [];

async function call(): Promise<[Page, Page]> {
  const room = randomId();
  const servers = { party: party!, web: web! };
  const a = await openInNamespace(hosts!.a, servers, room, 'A', browsers);
  const b = await openInNamespace(hosts!.b, servers, room, 'B', browsers);
  await joinInTurn(a, b, 20_000);
  await Promise.all([firstFrameAfter(a, Date.now(), 10_000), firstFrameAfter(b, Date.now(), 10_000)]);
  return [a, b];
}

async function main(): Promise<void> {
  requireBuild();
  const started = Date.now();
  const loadBefore = loadavg()[0];
  hosts = createTwoHosts();
  [party, web] = await Promise.all([startParty({ vars: VARS, persist: STORAGE }), startStatic({ host: '0.0.0.0' })]);
  console.log(`machine:  ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), linux ${release()}, Node ${process.version}`);
  console.log(`runs:     ${RUNS} per outage (blackholes ${BLACKHOLES.join(', ')} s; A cut off ${CUTOFFS.join(', ') || 'none'} s), ${RESTARTS} room-server restarts`);

  const outages = [
    ...BLACKHOLES.map((seconds) => ({ label: `blackhole ${seconds} s`, seconds, cut: (on: boolean) => hosts!.cutMediaPath(on) })),
    ...CUTOFFS.map((seconds) => ({ label: `A cut off ${seconds} s`, seconds, cut: (on: boolean) => hosts!.cutOffA(on) })),
  ];
  const resumed = new Map<string, number[]>(outages.map((o) => [o.label, []]));
  const failures: string[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const [a, b] = await call();
    for (const { label, seconds, cut } of outages) {
      cut(true);
      await sleep(seconds * 1000);
      cut(false);
      const restoredAt = Date.now();
      try {
        const ms = await Promise.all([a, b].map((p) => firstFrameAfter(p, restoredAt, 30_000)));
        resumed.get(label)!.push(Math.max(...ms));
        console.log(`run ${run}/${RUNS} ${label}: media back after ${ms.join(' / ')} ms (A / B)`);
      } catch {
        failures.push(`run ${run}: no media within 30 s after ${label}`);
      }
    }
    await Promise.all([a.context().close(), b.context().close()]);
    await Promise.all(browsers.splice(0).map((br) => br.close()));
  }

  const rejoin: number[] = [];
  const restart: number[] = [];
  {
    const [a, b] = await call();
    for (let run = 1; run <= RESTARTS; run++) {
      const killedAt = Date.now();
      party.kill('SIGKILL');
      await new Promise<void>((resolve) =>
        party!.process.exitCode !== null || party!.process.signalCode !== null ? resolve() : party!.process.once('exit', () => resolve()),
      );
      party = await startParty({ port: party.port, vars: VARS, persist: STORAGE });
      const listening = Date.now();
      restart.push(listening - killedAt);
      try {
        await Promise.all([a, b].map((p) => rejoined(p, 15_000)));
        rejoin.push(Date.now() - listening);
        console.log(`restart ${run}/${RESTARTS}: server back after ${listening - killedAt} ms; both rejoined ${Date.now() - listening} ms later`);
      } catch {
        failures.push(`restart ${run}: not rejoined within 15 s`);
      }
      await sleep(2000);
    }
    await Promise.all([a.context().close(), b.context().close()]);
  }

  console.log('');
  console.log(`${'figure (ms)'.padEnd(34)} ${'median'.padStart(7)} ${'max'.padStart(7)}   runs`);
  for (const [label, xs] of resumed) console.log(row(`${label} → media back`, xs));
  // Only what was measured (--restarts 0 measures no rejoin).
  if (rejoin.length) console.log(row('server listening → both rejoined', rejoin));
  if (restart.length) console.log(row('(server kill → listening again)', restart));
  console.log('');
  const worst = Math.max(...[...resumed.values()].flat());
  const mediaFailures = failures.filter((f) => f.includes('no media')).length;
  const rejoinFailures = failures.length - mediaFailures;
  if (resumed.size) {
    console.log(
      `target:   media back within 5 s of the path, every time → ${worst <= 5000 && !mediaFailures ? 'MET' : 'NOT MET'} (worst ${Math.round(worst)} ms, ${mediaFailures} run(s) without media)`,
    );
  }
  if (RESTARTS) {
    console.log(
      `target:   rejoin within 3 s of the server listening → ${Math.max(...rejoin) <= 3000 && !rejoinFailures ? 'MET' : 'NOT MET'} (worst ${Math.round(Math.max(...rejoin))} ms)`,
    );
  }
  if (failures.length) console.log(`failures: ${failures.join('; ')}`);
  console.log(`load:     1-min load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after; wall time ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
    await Promise.all([party?.stop(), web?.stop()]);
    hosts?.remove();
    if (STORAGE) rmSync(STORAGE, { recursive: true, force: true });
  });
