/**
 * The measuring loop shared by the workloads.
 *
 * tinybench takes the samples; this file decides what runs when.  Every
 * workload hands over groups of cases (one group per implementation, e.g.
 * "native checkpoint" + "native restart" that must stay adjacent), and
 * they run in rounds: each round is one tinybench `Bench` with every group
 * added, in an order rotated by one group per round and reversed on odd
 * rounds, so no implementation always runs first, last, or right after the
 * same neighbour.  Medians are taken over the samples of all rounds.
 *
 * Per sample: `before` (untimed; optionally a full GC first), `fn` (timed,
 * hrtime), `after` (untimed: verification, free()).  A sync `fn` makes
 * tinybench call it once untimed per round to detect async functions: that
 * call is this harness's per-round warm-up.  With `warmup: false` the case
 * is wrapped in an async function instead (no extra call; the `await` adds
 * well under a microsecond, which only matters for sub-millisecond samples,
 * and those use warm-up).
 */
import { spawnSync } from 'node:child_process';
import { Bench } from 'tinybench';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');

function findGc(): (() => void) | null {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    const f: unknown = vm.runInNewContext('typeof gc === "function" ? gc : null');
    return typeof f === 'function' ? (f as () => void) : null;
  } catch {
    return null;
  }
}
const foundGc = findGc();
/**
 * Whether a full GC can be forced: global.gc with --expose-gc, else the
 * gc() V8 gives a new context after setFlagsFromString('--expose-gc')
 * (so `npm run bench` needs no flag).
 */
export const gcAvailable = foundGc !== null;
/** A full garbage collection (throws when !gcAvailable). */
export const gc: () => void =
  foundGc ??
  (() => {
    throw new Error('bench: no gc() (needs --expose-gc)');
  });

const hrNow = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface Case {
  /** Unique within one measure() call. */
  name: string;
  /** The timed work of one sample. */
  fn: () => void;
  /** Untimed, before each sample (and before the warm-up call). */
  before?: () => void;
  /** Untimed, after each sample (and after the warm-up call). */
  after?: () => void;
}

export interface Group {
  name: string;
  cases: Case[];
}

export interface MeasureOptions {
  rounds: number;
  /** Samples per case per round. */
  iterations: number;
  /** Untimed warm-up call of each case at the start of each round. */
  warmup: boolean;
  /**
   * Full GC (untimed) before each group's samples in each round, so no
   * implementation pays for the garbage of the one before it.  Not before
   * every sample: a forced full GC clears the maps of objects that died
   * (e.g. every instance of a class), deoptimising the code that embeds
   * them, and a GC before each sample would measure that re-warm-up each
   * time instead of the steady state.
   */
  gcEachGroup?: boolean;
  /**
   * Time bound: once a case has spent this many ms in timed samples, it
   * is left out of later rounds (its samples so far are kept).
   */
  maxMsPerCase?: number;
  /**
   * One untimed round first (every case once, in round 0's order, its
   * samples dropped): for inputs big enough to take one sample per round
   * with no warm-up call, so that no measured sample is the first call of
   * its code at that size in the process (the JIT's first tiers and the
   * heap's first growth; msgpackr and v8 get the same round).
   */
  warmupRound?: boolean;
}

export interface Measured {
  name: string;
  /** ms per sample, in the order taken. */
  samples: number[];
  median: number;
  min: number;
  /** Rounds the case took part in. */
  rounds: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The order of the groups in round r: rotated by r, reversed when r is odd. */
export function roundOrder<T>(items: readonly T[], r: number): T[] {
  const n = items.length;
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(items[(i + r) % n]!);
  return r % 2 === 1 ? out.reverse() : out;
}

/** Runs the groups interleaved for opts.rounds rounds; results by case name. */
export async function measure(groups: readonly Group[], opts: MeasureOptions): Promise<Map<string, Measured>> {
  const samples = new Map<string, number[]>();
  const spent = new Map<string, number>();
  const rounds = new Map<string, number>();
  for (const g of groups)
    for (const c of g.cases) {
      if (samples.has(c.name)) throw new Error(`bench: duplicate case name ${c.name}`);
      samples.set(c.name, []);
      spent.set(c.name, 0);
      rounds.set(c.name, 0);
    }
  for (let r = opts.warmupRound ? -1 : 0; r < opts.rounds; r++) {
    const bench = new Bench({
      time: 0,
      iterations: opts.iterations,
      warmupTime: 0,
      warmupIterations: 0,
      now: hrNow,
      throws: true,
    });
    let added = 0;
    for (const g of roundOrder(groups, Math.max(r, 0))) {
      let first = true;
      for (const c of g.cases) {
        if (opts.maxMsPerCase !== undefined && spent.get(c.name)! >= opts.maxMsPerCase) continue;
        const fn = c.fn;
        // Errors thrown by the untimed warm-up call are swallowed by
        // tinybench; the timed samples then throw them (throws: true).
        bench.add(c.name, opts.warmup ? fn : async () => fn(), {
          beforeAll: first && opts.gcEachGroup ? gc : undefined,
          beforeEach: c.before,
          afterEach: c.after,
        });
        first = false;
        added++;
      }
    }
    if (added === 0) break;
    await bench.run();
    for (const t of bench.tasks) {
      const res = t.result;
      if (!res) continue;
      if (res.error) throw res.error;
      if (r < 0) continue;
      // tinybench sorts result.samples; the order taken does not matter for medians.
      const s = samples.get(t.name)!;
      for (const x of res.samples) s.push(x);
      spent.set(t.name, spent.get(t.name)! + res.totalTime);
      rounds.set(t.name, rounds.get(t.name)! + 1);
    }
  }
  const out = new Map<string, Measured>();
  for (const [name, s] of samples) {
    out.set(name, { name, samples: s, median: median(s), min: s.length ? Math.min(...s) : NaN, rounds: rounds.get(name)! });
  }
  return out;
}

/** Runs fn and returns its wall time in ms (for one-off untimed-by-tinybench steps). */
export function timeIt(fn: () => void): number {
  const t0 = hrNow();
  fn();
  return hrNow() - t0;
}

/** Heap bytes used after a full GC. */
export function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Runs `script` (a bench .js file) in a child process of this Node with
 * `flags` before it and `args` after; the last line of its stdout as
 * JSON, or why it failed (its last line of stderr).
 */
export function childJson<T>(flags: readonly string[], script: string, args: readonly string[], timeoutMs: number): T | string {
  const r = spawnSync(process.execPath, [...flags, script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`).trim().split('\n').slice(-1)[0];
    return `child failed: ${why}`;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}
