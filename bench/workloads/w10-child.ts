/**
 * W10's probe of a smaller young generation, in a process of its own
 * (spawned by w10.ts):
 *
 *   node --expose-gc --max-semi-space-size=8 w10-child.js T ROUNDS native|js
 *
 * With the fields-typed W1 graph of T tasks, as W10 measures it in its own
 * process (observe(): wall time and the longest gap of a 1 ms timer, a
 * full GC before each call, the calls interleaved by round): the sync and
 * the incremental checkpointToFile, and the sync and the async
 * restartFromFile (every restart verified).  What is left of an async
 * restart's stalls once objhash's own work is sliced is V8's scavenges of
 * the objects it restores, and their length follows the young
 * generation's size, which only the command line sets.  Prints one line
 * of JSON (W10Child).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { checkpointToFile, restartFromFile, type ImplName } from '../../lib/index.js';
import * as promises from '../../lib/promises.js';
import { buildGraph, graphSchemaTypes, verifyGraph, type Graph } from '../graph.js';
import { gc, roundOrder } from '../harness.js';
import { call, observe, type Samples, type W10Child } from './w10.js';

async function main(): Promise<void> {
  const [tArg, roundsArg, impl] = process.argv.slice(2);
  const T = Number(tArg);
  const rounds = Number(roundsArg);
  if (!(T > 0) || !(rounds > 0) || (impl !== 'native' && impl !== 'js')) throw new Error('usage: w10-child.js T ROUNDS native|js');
  const { root, spec } = buildGraph(T, false);
  const { GraphT, types } = graphSchemaTypes(false);
  const opts = { types, impl: impl as ImplName };
  const s: Record<'syncCheckpoint' | 'incrementalCheckpoint' | 'syncRestart' | 'asyncRestart', Samples> = {
    syncCheckpoint: { ms: [], delayMs: [] },
    incrementalCheckpoint: { ms: [], delayMs: [] },
    syncRestart: { ms: [], delayMs: [] },
    asyncRestart: { ms: [], delayMs: [] },
  };
  const check = (g: Graph | null, what: string) => verifyGraph(g!, spec, root, `W10 child: ${what}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'objhash-bench-w10c-'));
  const file = path.join(dir, 'fields.ckpt');
  try {
    const variants = [
      async () => {
        await observe(s.syncCheckpoint, () => checkpointToFile(file, root, GraphT, opts));
        check(await observe(s.syncRestart, () => restartFromFile(file, GraphT, opts)), 'sync restartFromFile');
        check(await observe(s.asyncRestart, () => promises.restartFromFile(file, GraphT, opts)), 'async restartFromFile');
      },
      async () => {
        await observe(s.incrementalCheckpoint, () => promises.checkpointToFile(file + '.inc', root, GraphT, { ...opts, incremental: true }));
        check(await promises.restartFromFile(file + '.inc', GraphT, opts), 'restart of the incremental checkpoint');
      },
    ];
    for (let r = 0; r < rounds; r++) {
      for (const run of roundOrder(variants, r)) {
        gc();
        await run();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const out: W10Child = {
    syncCheckpoint: call(s.syncCheckpoint),
    incrementalCheckpoint: call(s.incrementalCheckpoint),
    syncRestart: call(s.syncRestart),
    asyncRestart: call(s.asyncRestart),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
