/**
 * W9 - a full GC between every call (issue #11): the W1 graph (no cycles)
 * checkpointed and restarted through W1's hand-written types and as W6's
 * plain value, and by v8.serialize, each twice in the same rounds: as the
 * other workloads measure it (a GC only before each implementation's
 * samples in a round), and with a full GC (untimed) before every
 * checkpoint and every restart, as in a program that checkpoints now and
 * then.  A forced full GC drops the maps (hidden classes) of objects that
 * all died and the code that embeds them, so the next call may run cold.
 *
 * The GC comes from harness.ts: global.gc when node runs with
 * --expose-gc, else the one V8 gives a new context after
 * v8.setFlagsFromString('--expose-gc').  Without either, the rows say
 * "needs --expose-gc".
 */
import * as v8 from 'node:v8';
import { checkpoint, restart, type ImplName } from '../../lib/index.js';
import { buildGraph, graphTypes, verifyGraph, type Graph } from '../graph.js';
import { gc, gcAvailable } from '../harness.js';
import type { BenchConfig, Env } from '../run.js';
import { fmtCount, fmtInt, fmtMs, fmtRatio, type Table } from '../report.js';
import { anchorCodecs, measureCodecs, type Codec, type CodecCase, type CodecTiming } from './w1.js';
import { graphObjects } from './w6.js';

export interface W9Row {
  /** 'W1 types' | 'W6 plain' | 'v8'. */
  via: string;
  impl: string;
  steady: CodecTiming;
  gc: CodecTiming;
  /** gc total ÷ steady total. */
  gcVsSteady: number;
  /** with GC: total ÷ v8's total with GC. */
  gcVsV8: number;
  /** without forced GC: total ÷ v8's. */
  steadyVsV8: number;
}

export interface W9Case {
  T: number;
  objects: number;
  rows: W9Row[];
  /** heap kept by the first checkpoint of a new copy of the graph, per object of it, by identity and via */
  heap: { via: string; identity: 'stamp' | 'map'; bytesPerObject: number }[];
  /** heap kept by a restored copy of the graph, per object of it, by who restored it */
  restored: { via: string; bytesPerObject: number }[];
}

export interface W9Result {
  id: 'W9';
  /** null when no GC could be had ("needs --expose-gc"). */
  cases: W9Case[] | null;
}

export async function runW9(cfg: BenchConfig, env: Env): Promise<W9Result> {
  if (!gcAvailable) {
    env.log('W9: no gc() (needs --expose-gc)');
    return { id: 'W9', cases: null };
  }
  const impls: ImplName[] = env.nativeAvailable ? ['native', 'js'] : ['js'];
  const cases: W9Case[] = [];
  for (const T of cfg.plainGraphSizes) {
    const label = `W9 T=${T}`;
    env.log(`${label}: building the graph`);
    const { root, spec } = buildGraph(T, false);
    const { GraphT, types } = graphTypes(false, false);
    const codecs: [string, string, Codec<Graph>][] = [];
    for (const impl of impls) {
      const name = impl === 'native' ? 'objhash native' : 'objhash twin';
      codecs.push(['W1 types', name, { ckpt: (g) => checkpoint(g, GraphT, { types, impl }), rst: (img) => restart(img, GraphT, { types, impl }) }]);
    }
    // objects met for the first time (a copy of the graph made before each
    // checkpoint, untimed): the stamps are added then, a Map is built as always
    const copy = (): Graph => restart(checkpoint(root, GraphT, { types, identity: 'map' }), GraphT, { types });
    const fresh = new Set<string>();
    for (const identity of env.nativeAvailable ? (['stamp', 'map'] as const) : []) {
      const name = identity === 'stamp' ? 'objhash native' : 'objhash native, Map';
      codecs.push(['W1 types, new objects', name, { ckpt: (g) => checkpoint(g, GraphT, { types, impl: 'native', identity }), rst: (img) => restart(img, GraphT, { types, impl: 'native' }) }]);
      fresh.add(`W1 types, new objects/${name}`);
    }
    for (const impl of impls) {
      const name = impl === 'native' ? 'objhash native' : 'objhash twin';
      codecs.push(['W6 plain', name, { ckpt: (g) => checkpoint(g, { impl }), rst: (img) => restart(img, { impl }) as Graph }]);
    }
    const base = env.baseline;
    if (base) {
      // the previous commit's native backend, after a GC as well (its own graph types: an
      // ObjType only works with the defineObjType of the checkout that made it)
      const b = base.graph.graphTypes(false, false);
      const bo = { types: b.types, impl: 'native' as const };
      // on its own copy of the graph (BASELINE_OWN_INPUT)
      const own = buildGraph(T, false).root;
      codecs.push(['W1 types', base.name, { ckpt: () => base.lib.checkpoint(own, b.GraphT, bo), rst: (img) => base.lib.restart(img, b.GraphT, bo) }]);
      codecs.push(['W6 plain', base.name, { ckpt: () => base.lib.checkpoint(own, { impl: 'native' }), rst: (img) => base.lib.restart(img, { impl: 'native' }) as Graph }]);
    }
    codecs.push(['v8', 'v8', anchorCodecs<Graph>(false).v8]);
    const list: CodecCase<Graph>[] = [];
    for (const [via, name, codec] of codecs) {
      const f = fresh.has(`${via}/${name}`) ? copy : undefined;
      list.push({ name: `${via}/${name}`, codec, fresh: f });
      list.push({ name: `${via}/${name} +gc`, codec, gcBetweenCalls: true, fresh: f });
    }
    const big = graphObjects(T) >= cfg.plainBigObjects;
    const rounds = big ? cfg.graphBigRounds : cfg.graphRounds;
    env.log(`${label}: measuring ${list.length} implementations, ${rounds} rounds`);
    // Big inputs: 1 sample per round, after an untimed warm-up call, so the
    // steady rows are not the first call after the GC before each group.
    const t = await measureCodecs(root, list, (back, name) => verifyGraph(back, spec, root, `${label} ${name}`), {
      rounds,
      iterations: big ? 1 : cfg.graphIterations,
      warmup: true,
    });
    // what the first checkpoint leaves on the heap: the stamps' fields (a
    // Map is gone with its call); full GCs around, the image dropped
    const heap: W9Case['heap'] = [];
    for (const via of ['W1 types', 'W6 plain'] as const)
      for (const identity of ['stamp', 'map'] as const) {
        const g = copy();
        gc();
        gc();
        const h0 = process.memoryUsage().heapUsed;
        if (via === 'W1 types') checkpoint(g, GraphT, { types, identity });
        else checkpoint(g, { identity });
        gc();
        gc();
        heap.push({ via, identity, bytesPerObject: (process.memoryUsage().heapUsed - h0) / graphObjects(T) });
        verifyGraph(g, spec, root, `${label} heap copy`);
      }
    // what a restored graph takes on the heap (its strings included), by who
    // restored it; full GCs around, the image made before
    const restored: W9Case['restored'] = [];
    const images: [string, Uint8Array, (img: Uint8Array) => unknown][] = [
      ['W1 types', checkpoint(root, GraphT, { types }), (img) => restart(img, GraphT, { types })],
      ['W6 plain', checkpoint(root), (img) => restart(img)],
      ['v8', v8.serialize(root), (img) => v8.deserialize(img)],
    ];
    // each in a call of its own: nothing of the one before stays in a live frame
    const heapOf = (via: string, img: Uint8Array, back: (img: Uint8Array) => unknown): number => {
      gc();
      gc();
      const h0 = process.memoryUsage().heapUsed;
      const g = back(img) as Graph;
      gc();
      gc();
      const bytes = process.memoryUsage().heapUsed - h0;
      verifyGraph(g, spec, root, `${label} restored copy (${via})`);
      return bytes;
    };
    for (const [via, img, back] of images) {
      heapOf(via, img, back); // warm-up: the code and maps it needs
      restored.push({ via, bytesPerObject: heapOf(via, img, back) / graphObjects(T) });
    }
    const v8s = t.get('v8/v8')!;
    const v8g = t.get('v8/v8 +gc')!;
    cases.push({
      T,
      objects: graphObjects(T),
      heap,
      restored,
      rows: codecs.map(([via, name]) => {
        const s = t.get(`${via}/${name}`)!;
        const g = t.get(`${via}/${name} +gc`)!;
        return { via, impl: name, steady: s, gc: g, gcVsSteady: g.totalMs / s.totalMs, gcVsV8: g.totalMs / v8g.totalMs, steadyVsV8: s.totalMs / v8s.totalMs };
      }),
    });
  }
  return { id: 'W9', cases };
}

export function w9Table(r: W9Result): Table {
  const title = 'W9 - a full GC between every call: W1 (hand-written types) and W6 (plain value) on the W1 graph, vs v8';
  const columns = ['graph', 'objects', 'via', 'impl', 'total ms', 'vs v8', '+GC ckpt', '+GC restart', '+GC total', '+GC vs v8', '+GC ÷ no GC', 'n'];
  if (r.cases === null) return { title, columns, rows: [['', '', '', 'needs --expose-gc', '', '', '', '', '', '', '', '']] };
  const rows: string[][] = [];
  for (const c of r.cases)
    for (const x of c.rows)
      rows.push([
        `T=${fmtCount(c.T)}`,
        fmtInt(c.objects),
        x.via,
        x.impl,
        fmtMs(x.steady.totalMs),
        fmtRatio(x.steadyVsV8),
        fmtMs(x.gc.checkpointMs),
        fmtMs(x.gc.restartMs),
        fmtMs(x.gc.totalMs),
        fmtRatio(x.gcVsV8),
        fmtRatio(x.gcVsSteady),
        String(Math.min(x.steady.samples, x.gc.samples)),
      ]);
  for (const c of r.cases)
    for (const via of ['W1 types', 'W6 plain']) {
      const st = c.heap.find((h) => h.via === via && h.identity === 'stamp');
      const mp = c.heap.find((h) => h.via === via && h.identity === 'map');
      if (st && mp)
        rows.push([`T=${fmtCount(c.T)}`, fmtInt(c.objects), via, 'heap kept per object by the first checkpoint', `stamp ${st.bytesPerObject.toFixed(1)} B`, '', '', '', `Map ${mp.bytesPerObject.toFixed(1)} B`, '', '', '1']);
    }
  for (const c of r.cases)
    for (const x of c.restored ?? [])
      rows.push([`T=${fmtCount(c.T)}`, fmtInt(c.objects), x.via, 'heap per object of the restored graph', `${x.bytesPerObject.toFixed(1)} B`, '', '', '', '', '', '', '1']);
  return {
    title,
    columns,
    rows,
    notes: [
      'total ms: checkpoint + restart medians without a forced GC between calls (after a warm-up call each round); +GC: a full GC (untimed) before every checkpoint and every restart.',
      'All rows interleaved in one process; vs v8 compares like with like (no GC with no GC, +GC with +GC); +GC ÷ no GC is the cost of running cold after a GC.',
      'objects = JS objects in the graph (no cycles), arrays included; every restart verified as in W1.',
      'heap kept: heapUsed after the first checkpoint of a new copy of the graph minus before (full GCs around, the image dropped), per object: the fields the stamps add to each object it met (options.identity \'stamp\'), against a Map that goes with its call (\'map\').',
      'heap per object of the restored graph: heapUsed with a restored copy of the graph minus before (full GCs around, the image made before), per object: its objects, arrays and strings as each restart made them.',
      "new objects: each checkpoint gets a copy of the graph made just before it (untimed) that no checkpoint has met: the first checkpoint of a state, which adds objhash's fields to every object (options.identity 'stamp', the default) or builds a Map ('map').",
    ],
  };
}
