/**
 * What every benchmark script needs: cleanup on exit or Ctrl-C, timeouts,
 * fresh room ids, and the statistics and tables they print.
 */
import { randomBytes } from 'node:crypto';

// ---------------------------------------------------------------- cleanup

/** Stoppers of what a bench started (servers, browsers), run in reverse order by {@link cleanup}. */
export const cleanups: Array<() => Promise<unknown>> = [];
let cleaning: Promise<void> | undefined;

/** Run every stopper once, in reverse order; a failing one does not stop the rest. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const stop of cleanups.reverse()) {
      try {
        await stop();
      } catch {
        // keep stopping the rest
      }
    }
  })();
  return cleaning;
}

let interruptedBySignal = false;

/**
 * On SIGINT/SIGTERM: stop everything (saying `what` is being stopped) and
 * exit; a second signal exits at once.
 */
export function stopOnSignals(what: string): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      if (interruptedBySignal) process.exit(code); // a second signal: do not wait
      interruptedBySignal = true;
      console.error(`\n${signal}: stopping ${what}…`);
      void cleanup().finally(() => process.exit(code));
    });
  }
}

/** Set on SIGINT/SIGTERM: no further runs should start. */
export const interrupted = (): boolean => interruptedBySignal;

/**
 * Run a bench's `main`, then {@link cleanup}, and exit: 0 when `main`
 * resolved, 1 (after printing the error) when it threw. The exit is explicit
 * because a browser or server left half-stopped must not keep Node alive.
 */
export async function runMain(main: () => Promise<void>): Promise<never> {
  let code = 0;
  try {
    await main();
  } catch (error) {
    console.error(error);
    code = 1;
  }
  await cleanup();
  process.exit(code);
}

// ---------------------------------------------------------------- small helpers

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** 128 random bits, base64url: 22 characters, as the widget generates. */
export const freshRoom = (): string => randomBytes(16).toString('base64url');

export class Timeout extends Error {}

/** `promise`, or a {@link Timeout} rejection naming `what` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Timeout(`${what}: nothing within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- statistics and printing

/** Quantile with linear interpolation between closest ranks (q in [0, 1]); NaN for no values. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

export const median = (values: ArrayLike<number>) => quantile(values, 0.5);

/** `n` with `digits` decimals, or '–' when it is not a finite number. */
export const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

/** A plain-text table, columns aligned left ('l') or right ('r'). */
export function table(header: string[], rows: string[][], align: Array<'l' | 'r'>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c = '', i) => (align[i] === 'l' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
