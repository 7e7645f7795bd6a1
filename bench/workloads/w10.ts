/**
 * W10 - objhash in a server (issue #15): how long the async API of
 * objhash/promises (lib/promises.ts over lib/stream) blocks the event
 * loop, against the sync file calls, on the W1 graph (no cycles, W1's
 * hand-written types).
 *
 * The consistency model (top of lib/stream/index.ts) says what to expect:
 * an async checkpoint walks the graph synchronously into memory (a
 * snapshot), then writes while the loop runs, so its delay should be
 * about the walk, measured alone as checkpoint() in memory; an async
 * restart reads while the loop runs, then restores synchronously, so its
 * delay is the restore.  The sync calls block for all of it.
 *
 * Each call runs with a 1 ms setInterval ticking (the loop has work, as
 * in a server); the longest gap between two of its callbacks, measured
 * with performance.now(), is the max event-loop delay: the longest
 * stretch in which no callback could run.
 * Then the cost of compressing: checkpoint + restart through
 * objhash/promises with compress 'gzip', 'brotli' and (where this Node's
 * zlib has it) 'zstd', beside the same calls uncompressed.
 *
 * Every call is one sample: the variants interleaved in each round
 * (harness.ts's roundOrder), a full GC (untimed) before each, medians over
 * the rounds; every restart verified as in W1.  Files in os.tmpdir(),
 * removed at the end.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkpoint, checkpointToFile, restartFromFile, type ImplName } from '../../lib/index.js';
import * as promises from '../../lib/promises.js';
import { buildGraph, graphSchemaTypes, graphTypes, verifyGraph, type Graph } from '../graph.js';
import { childJson, gc, median, roundOrder } from '../harness.js';
import type { BenchConfig, Env } from '../run.js';
import { fmtBytes, fmtCount, fmtMs, fmtRatio, type Table } from '../report.js';

/** One call's medians. */
export interface W10Call {
  /** Wall time of the call (ms). */
  ms: number;
  /** Max event-loop delay during the call (ms; includes the 1 ms resolution). */
  delayMs: number;
  samples: number;
}

export interface W10CompressionRow {
  compress: 'raw' | promises.Compression;
  /** null: this Node's zlib has no zstd. */
  measured: {
    checkpointMs: number;
    restartMs: number;
    totalMs: number;
    /** Bytes on disk. */
    fileBytes: number;
    /** totalMs ÷ the raw row's. */
    totalVsRaw: number;
    /** fileBytes ÷ the raw row's. */
    bytesVsRaw: number;
    samples: number;
  } | null;
}

export interface W10Result {
  id: 'W10';
  T: number;
  objects: number;
  impl: ImplName;
  rounds: number;
  /** Image bytes (uncompressed). */
  bytes: number;
  /** checkpoint() in memory: the walk the async checkpoint does before writing. */
  walk: W10Call;
  syncCheckpoint: W10Call;
  asyncCheckpoint: W10Call;
  syncRestart: W10Call;
  asyncRestart: W10Call;
  /** The same graph with the W1 types declared with fields (W7's): restored in slices by the async call. */
  fieldsSyncRestart: W10Call;
  fieldsAsyncRestart: W10Call;
  /** Checkpoints of the fields-typed graph: sync, async snapshot, async incremental (options.incremental). */
  fieldsSyncCheckpoint: W10Call;
  fieldsAsyncCheckpoint: W10Call;
  fieldsIncrementalCheckpoint: W10Call;
  /** The hand-written graph with options.incremental: one slice (its objects are written by recursion). */
  incrementalCheckpoint: W10Call;
  compression: W10CompressionRow[];
  /** The fields-typed calls again in a child process with a smaller young generation (w10-child.ts), or why not. */
  smallYoung: W10Child | string;
}

/** Semi-space size (MiB) of the child process: node --max-semi-space-size. */
export const SMALL_SEMI_SPACE_MB = 8;

/** What w10-child.ts measured (fields types): it prints this as JSON. */
export interface W10Child {
  syncCheckpoint: W10Call;
  incrementalCheckpoint: W10Call;
  syncRestart: W10Call;
  asyncRestart: W10Call;
}

export interface Samples {
  ms: number[];
  delayMs: number[];
}

/**
 * op's result, its wall time and the event loop's max delay pushed to s.
 * The delay is the longest gap between two callbacks of a 1 ms interval
 * timer that runs from before op starts until after it ends, measured
 * with performance.now() (perf_hooks.monitorEventLoopDelay missed whole
 * blocking calls here, on Node 20 and 24 alike, depending on where in
 * its timer's period they fell).
 */
export async function observe<R>(s: Samples, op: () => R | Promise<R>): Promise<R> {
  // each call starts from a collected heap: a restart right after the
  // checkpoint that wrote its file would otherwise also pay for that
  // checkpoint's garbage, and only some variants have one before them
  gc();
  let last = performance.now();
  let max = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - last > max) max = now - last;
    last = now;
  }, 1);
  await sleep(5);
  max = 0;
  last = performance.now();
  const t0 = performance.now();
  const r = await op();
  s.ms.push(performance.now() - t0);
  await sleep(5);
  clearInterval(ticker);
  s.delayMs.push(max);
  return r;
}

export function call(s: Samples): W10Call {
  return { ms: median(s.ms), delayMs: median(s.delayMs), samples: s.ms.length };
}

export async function runW10(cfg: BenchConfig, env: Env): Promise<W10Result> {
  const T = cfg.w10Tasks;
  const impl: ImplName = env.nativeAvailable ? 'native' : 'js';
  const label = `W10 T=${T}`;
  env.log(`${label}: building the graph`);
  const { root, spec } = buildGraph(T, false);
  const { GraphT, types } = graphTypes(false, false);
  const opts = { types, impl };
  const fields = graphSchemaTypes(false);
  const fieldsOpts = { types: fields.types, impl };
  const compressions = (['gzip', 'brotli', 'zstd'] as const).filter((c) => c !== 'zstd' || promises.zstdAvailable);
  const samples = new Map<string, Samples>();
  const s = (name: string): Samples => {
    let x = samples.get(name);
    if (!x) samples.set(name, (x = { ms: [], delayMs: [] }));
    return x;
  };
  const fileBytes = new Map<string, number>();
  let bytes = 0;
  let fieldsBytes = -1;
  const check = (back: Graph, name: string) => verifyGraph(back, spec, root, `${label} ${name}`);
  // every path writes the one image
  const sameImage = (n: number, name: string) => {
    if (n !== bytes) throw new Error(`bench: ${label} ${name}: ${n} image bytes, checkpoint() wrote ${bytes}`);
  };

  const dir = mkdtempSync(path.join(tmpdir(), 'objhash-bench-w10-'));
  try {
    const file = (name: string) => path.join(dir, `${name}.ckpt`);
    // the walk first (untimed), for the image's size
    bytes = checkpoint(root, GraphT, opts).length;
    // the variants; a checkpoint and the restart of its file stay adjacent
    const variants: (() => Promise<void>)[] = [
      async () => sameImage((await observe(s('walk'), () => checkpoint(root, GraphT, opts))).length, 'checkpoint()'),
      async () => {
        sameImage((await observe(s('sync checkpoint'), () => checkpointToFile(file('sync'), root, GraphT, opts))).bytes, 'sync checkpointToFile');
        check(await observe(s('sync restart'), () => restartFromFile(file('sync'), GraphT, opts)), 'sync restartFromFile');
      },
      async () => {
        // the fields-typed graph: the sync checkpoint, then the two restarts of its file
        fieldsBytes = (await observe(s('fields sync checkpoint'), () => checkpointToFile(file('fields'), root, fields.GraphT, fieldsOpts))).bytes;
        check(await observe(s('fields sync restart'), () => restartFromFile(file('fields'), fields.GraphT, fieldsOpts)), 'sync restartFromFile (fields)');
        check(await observe(s('fields async restart'), () => promises.restartFromFile(file('fields'), fields.GraphT, fieldsOpts)), 'async restartFromFile (fields)');
      },
      async () => {
        const n = (await observe(s('fields async checkpoint'), () => promises.checkpointToFile(file('fields-async'), root, fields.GraphT, fieldsOpts))).bytes;
        if (n !== fieldsBytes) throw new Error(`bench: ${label}: the async checkpoint wrote ${n} bytes, the sync one ${fieldsBytes}`);
      },
      async () => {
        const o = { ...fieldsOpts, incremental: true };
        const n = (await observe(s('fields incremental checkpoint'), () => promises.checkpointToFile(file('fields-inc'), root, fields.GraphT, o))).bytes;
        if (n !== fieldsBytes) throw new Error(`bench: ${label}: the incremental checkpoint wrote ${n} bytes, the sync one ${fieldsBytes}`);
        check(await promises.restartFromFile(file('fields-inc'), fields.GraphT, fieldsOpts), 'restart of the incremental checkpoint (fields)');
      },
      async () => {
        sameImage((await observe(s('incremental checkpoint'), () => promises.checkpointToFile(file('inc'), root, GraphT, { ...opts, incremental: true }))).bytes, 'incremental checkpointToFile');
      },
      ...(['raw', ...compressions] as const).map((c) => async () => {
        const o = c === 'raw' ? opts : { ...opts, compress: c };
        sameImage((await observe(s(`async ${c} checkpoint`), () => promises.checkpointToFile(file(c), root, GraphT, o))).bytes, `async checkpointToFile (${c})`);
        fileBytes.set(c, statSync(file(c)).size);
        check(await observe(s(`async ${c} restart`), () => promises.restartFromFile(file(c), GraphT, o)), `async restartFromFile (${c})`);
      }),
    ];
    env.log(`${label}: measuring ${variants.length} variants, ${cfg.w10Rounds} rounds`);
    for (let r = 0; r < cfg.w10Rounds; r++) {
      for (const run of roundOrder(variants, r)) {
        gc();
        await run();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  env.log(`${label}: the fields types again in a child process, node --max-semi-space-size=${SMALL_SEMI_SPACE_MB}`);
  const smallYoung = runChild(T, cfg.w10Rounds, impl);

  const raw = { ck: call(s('async raw checkpoint')), rs: call(s('async raw restart')), bytes: fileBytes.get('raw')! };
  return {
    id: 'W10',
    T,
    objects: 1 + T + T + T / 8,
    impl,
    rounds: cfg.w10Rounds,
    bytes,
    walk: call(s('walk')),
    syncCheckpoint: call(s('sync checkpoint')),
    asyncCheckpoint: raw.ck,
    syncRestart: call(s('sync restart')),
    asyncRestart: raw.rs,
    fieldsSyncRestart: call(s('fields sync restart')),
    fieldsAsyncRestart: call(s('fields async restart')),
    fieldsSyncCheckpoint: call(s('fields sync checkpoint')),
    fieldsAsyncCheckpoint: call(s('fields async checkpoint')),
    fieldsIncrementalCheckpoint: call(s('fields incremental checkpoint')),
    incrementalCheckpoint: call(s('incremental checkpoint')),
    smallYoung,
    compression: (['raw', 'gzip', 'brotli', 'zstd'] as const).map((c) => {
      if (!samples.has(`async ${c} checkpoint`)) return { compress: c, measured: null };
      const ck = call(s(`async ${c} checkpoint`));
      const rs = call(s(`async ${c} restart`));
      const totalMs = ck.ms + rs.ms;
      const fb = fileBytes.get(c)!;
      return {
        compress: c,
        measured: {
          checkpointMs: ck.ms,
          restartMs: rs.ms,
          totalMs,
          fileBytes: fb,
          totalVsRaw: totalMs / (raw.ck.ms + raw.rs.ms),
          bytesVsRaw: fb / raw.bytes,
          samples: rs.samples,
        },
      };
    }),
  };
}

/** w10-child.ts in a process with a young generation of SMALL_SEMI_SPACE_MB per semi-space; its result, or why it failed. */
function runChild(T: number, rounds: number, impl: ImplName): W10Child | string {
  const flags = ['--expose-gc', `--max-semi-space-size=${SMALL_SEMI_SPACE_MB}`];
  return childJson<W10Child>(flags, path.join(__dirname, 'w10-child.js'), [String(T), String(rounds), impl], 900_000);
}

function graphLabel(r: W10Result): string {
  return `W1 graph, T=${fmtCount(r.T)} (${r.objects.toLocaleString('en-US')} objects, ${fmtBytes(r.bytes)} image), ${r.impl === 'native' ? 'native' : 'twin'} backend`;
}

const SMALL_YOUNG = `semi-space ${SMALL_SEMI_SPACE_MB} MiB`;

export function w10Tables(r: W10Result): Table[] {
  const row = (what: string, via: string, x: W10Call): string[] => [what, via, fmtMs(x.ms), fmtMs(x.delayMs), fmtRatio(x.delayMs / x.ms), String(x.samples)];
  const delay: Table = {
    title: `W10 - objhash in a server: event-loop delay of the sync and async file calls (${graphLabel(r)})`,
    columns: ['call', 'API', 'wall ms', 'max delay ms', 'delay ÷ wall', 'n'],
    rows: [
      row('checkpoint() in memory (the walk)', 'objhash', r.walk),
      row('checkpointToFile', 'objhash (sync)', r.syncCheckpoint),
      row('checkpointToFile', 'objhash/promises', r.asyncCheckpoint),
      row('checkpointToFile', 'objhash/promises, incremental', r.incrementalCheckpoint),
      row('checkpointToFile, fields types', 'objhash (sync)', r.fieldsSyncCheckpoint),
      row('checkpointToFile, fields types', 'objhash/promises', r.fieldsAsyncCheckpoint),
      row('checkpointToFile, fields types', 'objhash/promises, incremental', r.fieldsIncrementalCheckpoint),
      row('restartFromFile', 'objhash (sync)', r.syncRestart),
      row('restartFromFile', 'objhash/promises', r.asyncRestart),
      row('restartFromFile, fields types', 'objhash (sync)', r.fieldsSyncRestart),
      row('restartFromFile, fields types', 'objhash/promises', r.fieldsAsyncRestart),
      ...(typeof r.smallYoung === 'string'
        ? [[`node --max-semi-space-size=${SMALL_SEMI_SPACE_MB}`, r.smallYoung, '', '', '', '']]
        : [
            row('checkpointToFile, fields types', `objhash (sync), ${SMALL_YOUNG}`, r.smallYoung.syncCheckpoint),
            row('checkpointToFile, fields types', `objhash/promises, incremental, ${SMALL_YOUNG}`, r.smallYoung.incrementalCheckpoint),
            row('restartFromFile, fields types', `objhash (sync), ${SMALL_YOUNG}`, r.smallYoung.syncRestart),
            row('restartFromFile, fields types', `objhash/promises, ${SMALL_YOUNG}`, r.smallYoung.asyncRestart),
          ]),
    ],
    notes: [
      `max delay: the longest gap between two callbacks of a 1 ms setInterval running through the call (performance.now()); medians of ${r.rounds} interleaved rounds, a full GC before each call.`,
      'The async checkpoint blocks for its snapshot walk (about checkpoint()\'s time), not for the writing; the async restart reads without blocking, then restores: with hand-written types, the tasks nested in the root (its type is declared nestedFirst) in slices of 10 ms (sliceMs), each task with what it holds, then the root\'s record; those of fields types (W7\'s declarations of the same types) in slices of 10 ms (sliceMs) with the loop running between them, a long refs field (the root\'s T tasks) in runs of 1,024 items.',
      'incremental: options.incremental, slices of 10 ms (sliceMs) written before the next with the loop running between them; objects of fields types come in slices (a long refs field, as the root\'s list of all T tasks, in runs of 1,024 items, the record left open between slices), those of hand-written types with all their checkpoint reaches by recursion (here the whole graph: one slice).',
      `${SMALL_YOUNG}: the same fields-typed calls, measured the same way, in a child process started with node --max-semi-space-size=${SMALL_SEMI_SPACE_MB} (MiB): the stalls left in a sliced call are V8's scavenges of the new objects, whose length follows the young generation's size.`,
      'Every restart verified as in W1 (the incremental checkpoint\'s file too); files in os.tmpdir(), removed at the end.',
    ],
  };
  const compression: Table = {
    title: `W10 - compressed images through objhash/promises (${graphLabel(r)})`,
    columns: ['compress', 'ckpt ms', 'restart ms', 'total ms', 'total vs raw', 'file', 'bytes vs raw', 'n'],
    rows: r.compression.map((c) => {
      const x = c.measured;
      if (x === null) return [c.compress, `not in this Node (${process.version})`, '', '', '', '', '', ''];
      return [c.compress, fmtMs(x.checkpointMs), fmtMs(x.restartMs), fmtMs(x.totalMs), fmtRatio(x.totalVsRaw), fmtBytes(x.fileBytes), fmtRatio(x.bytesVsRaw), String(x.samples)];
    }),
    notes: [
      'checkpointToFile(path, root, GraphT, { compress }) then restartFromFile(path, GraphT, { compress }); raw = the same calls without compress (the objhash/promises rows above); file = bytes on disk.',
      'The compressor (node:zlib, in the thread pool) runs between the walk and the write, the decompressor between the read and the restore: it adds time, not event-loop delay.',
    ],
  };
  return [delay, compression];
}
