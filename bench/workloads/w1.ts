/**
 * W1 - the object graph: checkpoint + restart through objhash typed ops
 * (native and twin) against v8.serialize/deserialize and msgpackr with
 * structuredClone.  Every restart is verified (identity, sharing, cycles,
 * parents) outside the timed region.  W2 (w2.ts) runs the same with tasks
 * and files keyed by id.
 */
import * as v8 from 'node:v8';
import { Packr } from 'msgpackr';
import { checkpoint, restart, type ImplName } from '../../lib/index.js';
import { buildGraph, graphTypes, verifyGraph, type Graph } from '../graph.js';
import { gc, measure, type Group } from '../harness.js';
import type { Baseline, BenchConfig, Env } from '../run.js';
import { fmtBytes, fmtMs, fmtRatio, type Table } from '../report.js';

export const GRAPH_IMPLS = ['objhash native', 'objhash native, Map', 'objhash twin', 'v8', 'msgpackr'] as const;
export type GraphImpl = (typeof GRAPH_IMPLS)[number];
/**
 * Why the baseline checkpoints an input of its own, built by the same
 * function from the same seed: a checkout keeps its identities in private
 * fields on the objects (options.identity 'stamp'), and two checkouts
 * stamping the same objects give each object two sets of fields; the
 * second set slows both (measured: 1.24× for two identical copies of one
 * checkout, docs/INTERNALS.md).
 */
export const BASELINE_OWN_INPUT =
  'the baseline checkpoints its own copy of the input, built the same way (two checkouts stamping the same objects would slow each other)';

/** The row of another checkout's native backend (--baseline): `baseline <short commit>`. */
export type BaselineImpl = `baseline ${string}`;

export interface GraphImplResult {
  /** median ms of one checkpoint (serialize). */
  checkpointMs: number;
  /** median ms of one restart (deserialize), verified. */
  restartMs: number;
  /** checkpointMs + restartMs. */
  totalMs: number;
  /** image bytes. */
  bytes: number;
  /** totalMs / v8's totalMs. */
  vsV8: number;
  /** totalMs / msgpackr's totalMs (null when msgpackr was not run). */
  vsMsgpackr: number | null;
  /** bytes / v8's bytes. */
  bytesVsV8: number;
  samples: number;
}

export interface GraphCaseResult {
  T: number;
  cycles: boolean;
  keyed: boolean;
  objects: number;
  impls: Partial<Record<GraphImpl | BaselineImpl, GraphImplResult>>;
  /** native total / twin total. */
  nativeVsTwin: number | null;
  /** native total / the baseline's total (--baseline only). */
  nativeVsBaseline?: number;
}

export interface GraphWorkloadResult {
  id: string;
  /** The baseline's row name, when --baseline ran it beside the others. */
  baseline?: BaselineImpl;
  cases: GraphCaseResult[];
}

export interface Codec<G = Graph> {
  ckpt: (g: G) => Uint8Array;
  rst: (img: Uint8Array) => G;
}

function codecs(cycles: boolean, keyed: boolean, withMsgpackr: boolean, env: Env, baseline?: Baseline, own?: Graph): Partial<Record<GraphImpl | BaselineImpl, Codec>> {
  const out: Partial<Record<GraphImpl | BaselineImpl, Codec>> = {};
  const { GraphT, types } = graphTypes(cycles, keyed);
  const objhash = (impl: ImplName, identity: 'stamp' | 'map' = 'stamp'): Codec => {
    const opts = { types, impl, identity };
    return { ckpt: (g) => checkpoint(g, GraphT, opts), rst: (img) => restart(img, GraphT, opts) };
  };
  if (env.nativeAvailable) out['objhash native'] = objhash('native');
  // the same with identities in a Map (options.identity): what the stamps save (keyed: nothing to save)
  if (env.nativeAvailable && !keyed) out['objhash native, Map'] = objhash('native', 'map');
  out['objhash twin'] = objhash('js');
  Object.assign(out, anchorCodecs(withMsgpackr));
  if (baseline) {
    // the baseline's own graph types: an ObjType only works with the
    // defineObjType (and core) of the checkout that made it
    const b = baseline.graph.graphTypes(cycles, keyed);
    const opts = { types: b.types, impl: 'native' as const };
    // on its own copy of the input (see BASELINE_OWN_INPUT)
    out[baseline.name] = { ckpt: (g) => baseline.lib.checkpoint(own ?? g, b.GraphT, opts), rst: (img) => baseline.lib.restart(img, b.GraphT, opts) };
  }
  return out;
}

/** The anchors: v8.serialize/deserialize and (optionally) msgpackr with structuredClone. */
export function anchorCodecs<G>(withMsgpackr: boolean): { v8: Codec<G>; msgpackr?: Codec<G> } {
  const out: { v8: Codec<G>; msgpackr?: Codec<G> } = { v8: { ckpt: (g) => v8.serialize(g), rst: (img) => v8.deserialize(img) as G } };
  if (withMsgpackr) {
    const packr = new Packr({ structuredClone: true });
    out.msgpackr = { ckpt: (g) => packr.pack(g), rst: (img) => packr.unpack(img) as G };
  }
  return out;
}

/** One implementation's medians on one input. */
export interface CodecTiming {
  checkpointMs: number;
  restartMs: number;
  totalMs: number;
  bytes: number;
  samples: number;
}

export interface CodecCase<G> {
  name: string;
  codec: Codec<G>;
  /** A full GC (untimed) before every checkpoint and every restart (issue #11). */
  gcBetweenCalls?: boolean;
  /** Checkpoint a new copy of the input each time (made untimed): objects no checkpoint has met before. */
  fresh?: () => G;
}

export interface CodecRounds {
  rounds: number;
  iterations: number;
  warmup: boolean;
  /** An untimed first round (see MeasureOptions.warmupRound). */
  warmupRound?: boolean;
}

/**
 * Measures checkpoint + restart of `root` by every codec, interleaved in
 * rounds (harness.ts; a full GC before each codec's samples), and calls
 * verify on every restored copy outside the timed region.  Each codec is
 * one group of two cases, "<name> checkpoint" and "<name> restart".
 */
export async function measureCodecs<G>(
  root: G,
  cases: readonly CodecCase<G>[],
  verify: (back: G, name: string) => void,
  r: CodecRounds,
): Promise<Map<string, CodecTiming>> {
  const bytes = new Map<string, number>();
  const groups: Group[] = [];
  for (const { name, codec: c, gcBetweenCalls, fresh } of cases) {
    let img: Uint8Array | null = null;
    let back: G | null = null;
    let input = root;
    const before = gcBetweenCalls ? gc : undefined;
    const newInput = fresh
      ? () => {
          input = fresh();
          before?.();
        }
      : before;
    groups.push({
      name,
      cases: [
        {
          name: `${name} checkpoint`,
          before: newInput,
          fn: () => {
            img = c.ckpt(input);
          },
          after: () => bytes.set(name, img!.length),
        },
        {
          name: `${name} restart`,
          before,
          fn: () => {
            back = c.rst(img!);
          },
          after: () => {
            verify(back!, name);
            back = null;
          },
        },
      ],
    });
  }
  const m = await measure(groups, { rounds: r.rounds, iterations: r.iterations, warmup: r.warmup, warmupRound: r.warmupRound, gcEachGroup: true });
  const out = new Map<string, CodecTiming>();
  for (const { name } of cases) {
    const ck = m.get(`${name} checkpoint`)!;
    const rs = m.get(`${name} restart`)!;
    out.set(name, { checkpointMs: ck.median, restartMs: rs.median, totalMs: ck.median + rs.median, bytes: bytes.get(name)!, samples: rs.samples.length });
  }
  return out;
}

/** The ratios of GraphImplResult from the timings of GRAPH_IMPLS (those present) and the baseline's (if measured). */
export function graphImplResults(t: ReadonlyMap<string, CodecTiming>, baseline?: Baseline): Partial<Record<GraphImpl | BaselineImpl, GraphImplResult>> {
  const v8t = t.get('v8')!;
  const mp = t.get('msgpackr');
  const impls: Partial<Record<GraphImpl | BaselineImpl, GraphImplResult>> = {};
  for (const name of baseline ? [...GRAPH_IMPLS, baseline.name] : GRAPH_IMPLS) {
    const x = t.get(name);
    if (!x) continue;
    impls[name] = {
      ...x,
      vsV8: x.totalMs / v8t.totalMs,
      vsMsgpackr: mp ? x.totalMs / mp.totalMs : null,
      bytesVsV8: x.bytes / v8t.bytes,
    };
  }
  return impls;
}

/** native total ÷ the baseline's, when both ran (a case's nativeVsBaseline). */
export function nativeVsBaseline(impls: Partial<Record<GraphImpl | BaselineImpl, GraphImplResult>>, baseline?: Baseline): number | undefined {
  const n = impls['objhash native'];
  const b = baseline && impls[baseline.name];
  return n && b ? n.totalMs / b.totalMs : undefined;
}

/** Throws unless the native and twin codecs write the same bytes for root (untimed). */
export function sameImages<G>(nat: Codec<G> | undefined, twin: Codec<G>, root: G, label: string): void {
  const a = nat?.ckpt(root);
  if (a && Buffer.compare(a, twin.ckpt(root)) !== 0) throw new Error(`bench: ${label}: native and twin images differ`);
}

/**
 * W2 leaves msgpackr out: its work is the same as in W1 (the graph does not
 * know about keys), and it is the slowest case; v8 stays as the anchor.
 */
export async function runGraphWorkload(id: 'W1' | 'W2', keyed: boolean, cfg: BenchConfig, env: Env, baseline?: Baseline): Promise<GraphWorkloadResult> {
  const cases: GraphCaseResult[] = [];
  const smalls = id === 'W1' ? cfg.graphSmallSizes : [];
  for (const T of [...smalls, ...cfg.graphSizes]) {
    const small = smalls.includes(T);
    for (const cycles of [false, true]) {
      const label = `${id} T=${T}${cycles ? ' cycles' : ''}`;
      env.log(`${label}: building the graph`);
      const { root, spec } = buildGraph(T, cycles);
      const cs = codecs(cycles, keyed, !keyed, env, baseline, baseline ? buildGraph(T, cycles).root : undefined);
      // Untimed check first: both backends write the same bytes (every
      // restart in the measured rounds is verified).
      sameImages(cs['objhash native'], cs['objhash twin']!, root, label);
      sameImages(cs['objhash native, Map'], cs['objhash twin']!, root, `${label} (identity: 'map')`);
      const big = T >= cfg.graphBigT;
      env.log(`${label}: measuring ${Object.keys(cs).length} implementations, ${big ? cfg.graphBigRounds : cfg.graphRounds} rounds`);
      const timings = await measureCodecs(
        root,
        (Object.entries(cs) as [GraphImpl | BaselineImpl, Codec][]).map(([name, codec]) => ({ name, codec })),
        (back, name) => verifyGraph(back, spec, root, `${label} ${name}`),
        { rounds: big ? cfg.graphBigRounds : cfg.graphRounds, iterations: big ? 1 : small ? cfg.graphSmallIterations : cfg.graphIterations, warmup: !big, warmupRound: big },
      );
      const impls = graphImplResults(timings, baseline);
      const objects = 1 + T + T + T / 8;
      const n = impls['objhash native'];
      cases.push({
        T,
        cycles,
        keyed,
        objects,
        impls,
        nativeVsTwin: n ? n.totalMs / impls['objhash twin']!.totalMs : null,
        nativeVsBaseline: nativeVsBaseline(impls, baseline),
      });
    }
  }
  return { id, baseline: baseline?.name, cases };
}

/** The columns from 'impl' to 'n' (graphTable's and W6's); 'vs baseline' when a baseline ran. */
export function graphImplColumns(baseline: BaselineImpl | undefined): string[] {
  return ['impl', 'ckpt ms', 'restart ms', 'total ms', 'vs v8', 'vs msgpackr', 'vs twin', ...(baseline ? ['vs baseline'] : []), 'image', 'bytes vs v8', 'n'];
}

/** The cells of one implementation's row, from 'impl' to 'n' (graphImplColumns). */
export function graphImplCells(
  name: GraphImpl | BaselineImpl,
  x: GraphImplResult,
  c: { nativeVsTwin: number | null; nativeVsBaseline?: number },
  baseline: BaselineImpl | undefined,
): string[] {
  const native = name === 'objhash native';
  return [
    name,
    fmtMs(x.checkpointMs),
    fmtMs(x.restartMs),
    fmtMs(x.totalMs),
    fmtRatio(x.vsV8),
    fmtRatio(x.vsMsgpackr),
    native && c.nativeVsTwin !== null ? fmtRatio(c.nativeVsTwin) : '',
    ...(baseline ? [native && c.nativeVsBaseline !== undefined ? fmtRatio(c.nativeVsBaseline) : ''] : []),
    fmtBytes(x.bytes),
    fmtRatio(x.bytesVsV8),
    String(x.samples),
  ];
}

/** The note under a table with a baseline row. */
export function baselineNote(baseline: BaselineImpl): string {
  return `vs baseline: objhash native's total ÷ ${baseline}'s (that checkout's own native backend and code, in the same rounds; lower is faster now); its images may differ in bytes (format changes), its restarts are verified the same way; ${BASELINE_OWN_INPUT}.`;
}

export function graphTable(r: GraphWorkloadResult, title: string): Table {
  const rows: string[][] = [];
  for (const c of r.cases) {
    // graphImplResults' order: GRAPH_IMPLS, then the baseline
    for (const [name, x] of Object.entries(c.impls) as [GraphImpl | BaselineImpl, GraphImplResult][])
      rows.push([String(c.T), c.cycles ? 'yes' : 'no', ...graphImplCells(name, x, c, r.baseline)]);
  }
  return {
    title,
    columns: ['T', 'cycles', ...graphImplColumns(r.baseline)],
    rows,
    notes: [
      'ms per checkpoint and per restart of the whole graph (medians); total = checkpoint + restart; ratios are time ÷ the anchor\'s (lower is better); the largest T (one sample per round): one untimed round of every implementation before the measured ones.',
      `objects per image: 1 graph + T tasks + T files + T/8 mm; every restart verified (identity, sharing, ${r.cases.some((c) => c.cycles) ? 'cycles, ' : ''}parents).`,
      ...(r.cases.some((c) => c.T < 1000) ? ['T=8 and T=64: a small state, where what a call costs whatever its size (contexts, tables, buffers) shows.'] : []),
      ...(r.baseline ? [baselineNote(r.baseline)] : []),
    ],
  };
}

export function runW1(cfg: BenchConfig, env: Env): Promise<GraphWorkloadResult> {
  return runGraphWorkload('W1', false, cfg, env, env.baseline);
}
