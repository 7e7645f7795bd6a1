/**
 * W7 - declared types against hand-written ones (issue #10): the W1 types
 * written with `fields` (graph.ts graphSchemaTypes) against W1's
 * hand-written checkpoint/restore (graphTypes), on the same graph, both
 * backends, interleaved in one process.  Every restart is verified as in
 * W1; native and twin write the same bytes for each kind of type.
 *
 * The two images are not the same bytes: the encodings differ (a FIELDS
 * record per object, the count that `refs` writes before the files, each
 * type's schema in the type table), so the table prints both sizes.
 */
import { checkpoint, restart, type ImplName, type ObjType } from '../../lib/index.js';
import { buildGraph, graphSchemaTypes, graphTypes, verifyGraph, type Graph } from '../graph.js';
import type { BenchConfig, Env } from '../run.js';
import { fmtBytes, fmtMs, fmtRatio, type Table } from '../report.js';
import { measureCodecs, sameImages, type Codec, type CodecCase, type CodecTiming } from './w1.js';

export type W7Backend = 'native' | 'twin';

export interface W7Row {
  backend: W7Backend;
  hand: CodecTiming;
  schema: CodecTiming;
  /** schema total ÷ hand-written total. */
  timeRatio: number;
  /** schema bytes ÷ hand-written bytes. */
  bytesRatio: number;
}

export interface W7Case {
  T: number;
  cycles: boolean;
  rows: W7Row[];
}

export interface W7Result {
  id: 'W7';
  cases: W7Case[];
}

function typedCodec(GraphT: ObjType<Graph>, types: ObjType<any>[], impl: ImplName): Codec {
  const opts = { types, impl };
  return { ckpt: (g) => checkpoint(g, GraphT, opts), rst: (img) => restart(img, GraphT, opts) };
}

export async function runW7(cfg: BenchConfig, env: Env): Promise<W7Result> {
  const backends: W7Backend[] = env.nativeAvailable ? ['native', 'twin'] : ['twin'];
  const cases: W7Case[] = [];
  for (const T of cfg.graphSizes) {
    for (const cycles of [false, true]) {
      const label = `W7 T=${T}${cycles ? ' cycles' : ''}`;
      env.log(`${label}: building the graph`);
      const { root, spec } = buildGraph(T, cycles);
      const hand = graphTypes(cycles, false);
      const schema = graphSchemaTypes(cycles);
      const codec = (kind: 'hand' | 'schema', b: W7Backend): Codec => {
        const x = kind === 'hand' ? hand : schema;
        return typedCodec(x.GraphT, x.types, b === 'native' ? 'native' : 'js');
      };
      if (env.nativeAvailable) {
        sameImages(codec('hand', 'native'), codec('hand', 'twin'), root, `${label} hand-written`);
        sameImages(codec('schema', 'native'), codec('schema', 'twin'), root, `${label} schema`);
      }
      const list: CodecCase<Graph>[] = [];
      for (const b of backends) for (const kind of ['hand', 'schema'] as const) list.push({ name: `${kind} ${b}`, codec: codec(kind, b) });
      const big = T >= cfg.graphBigT;
      const rounds = big ? cfg.graphBigRounds : cfg.graphRounds;
      env.log(`${label}: measuring ${list.length} implementations, ${rounds} rounds`);
      const t = await measureCodecs(root, list, (back, name) => verifyGraph(back, spec, root, `${label} ${name}`), {
        rounds,
        iterations: big ? 1 : cfg.graphIterations,
        warmup: !big,
        warmupRound: big,
      });
      cases.push({
        T,
        cycles,
        rows: backends.map((b) => {
          const h = t.get(`hand ${b}`)!;
          const s = t.get(`schema ${b}`)!;
          return { backend: b, hand: h, schema: s, timeRatio: s.totalMs / h.totalMs, bytesRatio: s.bytes / h.bytes };
        }),
      });
    }
  }
  return { id: 'W7', cases };
}

export function w7Table(r: W7Result): Table {
  const rows: string[][] = [];
  for (const c of r.cases)
    for (const x of c.rows)
      rows.push([
        String(c.T),
        c.cycles ? 'yes' : 'no',
        x.backend,
        fmtMs(x.hand.checkpointMs),
        fmtMs(x.hand.restartMs),
        fmtMs(x.hand.totalMs),
        fmtMs(x.schema.checkpointMs),
        fmtMs(x.schema.restartMs),
        fmtMs(x.schema.totalMs),
        fmtRatio(x.timeRatio),
        fmtBytes(x.hand.bytes),
        fmtBytes(x.schema.bytes),
        `${x.schema.bytes - x.hand.bytes >= 0 ? '+' : ''}${x.schema.bytes - x.hand.bytes} B`,
        String(Math.min(x.hand.samples, x.schema.samples)),
      ]);
  return {
    title: 'W7 - the W1 types declared with fields vs the same types hand-written (checkpoint + restart)',
    columns: ['T', 'cycles', 'backend', 'hand ckpt', 'hand restart', 'hand total', 'fields ckpt', 'fields restart', 'fields total', 'fields ÷ hand', 'hand image', 'fields image', 'bytes diff', 'n'],
    rows,
    notes: [
      'ms (medians), all four interleaved in one process; fields ÷ hand = total time ratio (lower is better); every restart verified as in W1.',
      'The two images are not the same bytes because the encodings differ: FIELDS records instead of the hand-written records, `refs` writes a count before the 4 files (the hand-written task record does not), and each schema travels in the type table.',
    ],
  };
}
