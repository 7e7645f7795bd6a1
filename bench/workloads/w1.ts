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
import { measure, type Group, type Measured } from '../harness.js';
import type { BenchConfig, Env } from '../run.js';
import { fmtBytes, fmtMs, fmtRatio, type Table } from '../report.js';

export const GRAPH_IMPLS = ['objhash native', 'objhash twin', 'v8', 'msgpackr'] as const;
export type GraphImpl = (typeof GRAPH_IMPLS)[number];

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
  impls: Partial<Record<GraphImpl, GraphImplResult>>;
  /** native total / twin total. */
  nativeVsTwin: number | null;
}

export interface GraphWorkloadResult {
  id: string;
  cases: GraphCaseResult[];
}

interface Codec {
  ckpt: (g: Graph) => Uint8Array;
  rst: (img: Uint8Array) => Graph;
}

function codecs(cycles: boolean, keyed: boolean, withMsgpackr: boolean, env: Env): Partial<Record<GraphImpl, Codec>> {
  const out: Partial<Record<GraphImpl, Codec>> = {};
  const { GraphT, types } = graphTypes(cycles, keyed);
  const objhash = (impl: ImplName): Codec => {
    const opts = { types, impl };
    return { ckpt: (g) => checkpoint(g, GraphT, opts), rst: (img) => restart(img, GraphT, opts) };
  };
  if (env.nativeAvailable) out['objhash native'] = objhash('native');
  out['objhash twin'] = objhash('js');
  out.v8 = { ckpt: (g) => v8.serialize(g), rst: (img) => v8.deserialize(img) as Graph };
  if (withMsgpackr) {
    const packr = new Packr({ structuredClone: true });
    out.msgpackr = { ckpt: (g) => packr.pack(g), rst: (img) => packr.unpack(img) as Graph };
  }
  return out;
}

/**
 * W2 leaves msgpackr out: its work is the same as in W1 (the graph does not
 * know about keys), and it is the slowest case; v8 stays as the anchor.
 */
export async function runGraphWorkload(id: 'W1' | 'W2', keyed: boolean, cfg: BenchConfig, env: Env): Promise<GraphWorkloadResult> {
  const cases: GraphCaseResult[] = [];
  for (const T of cfg.graphSizes) {
    for (const cycles of [false, true]) {
      const label = `${id} T=${T}${cycles ? ' cycles' : ''}`;
      env.log(`${label}: building the graph`);
      const { root, spec } = buildGraph(T, cycles);
      const cs = codecs(cycles, keyed, !keyed, env);
      // Untimed check first: both backends write the same bytes (every
      // restart in the measured rounds is verified).
      const nat = cs['objhash native']?.ckpt(root);
      if (nat && Buffer.compare(nat, cs['objhash twin']!.ckpt(root)) !== 0)
        throw new Error(`bench: ${label}: native and twin images differ`);

      const bytes = new Map<GraphImpl, number>();
      const groups: Group[] = [];
      for (const [name, c] of Object.entries(cs) as [GraphImpl, Codec][]) {
        let img: Uint8Array | null = null;
        let back: Graph | null = null;
        groups.push({
          name,
          cases: [
            {
              name: `${name} checkpoint`,
              fn: () => {
                img = c.ckpt(root);
              },
              after: () => bytes.set(name, img!.length),
            },
            {
              name: `${name} restart`,
              fn: () => {
                back = c.rst(img!);
              },
              after: () => {
                verifyGraph(back!, spec, root, `${label} ${name}`);
                back = null;
              },
            },
          ],
        });
      }
      const big = T >= cfg.graphBigT;
      env.log(`${label}: measuring ${groups.length} implementations, ${big ? cfg.graphBigRounds : cfg.graphRounds} rounds`);
      const m = await measure(groups, {
        rounds: big ? cfg.graphBigRounds : cfg.graphRounds,
        iterations: big ? 1 : cfg.graphIterations,
        warmup: !big,
        gcEachGroup: true,
      });
      const get = (k: string): Measured => m.get(k)!;
      const impls: Partial<Record<GraphImpl, GraphImplResult>> = {};
      const total = (n: GraphImpl) => get(`${n} checkpoint`).median + get(`${n} restart`).median;
      const v8Total = total('v8');
      const mpTotal = cs.msgpackr ? total('msgpackr') : NaN;
      for (const name of Object.keys(cs) as GraphImpl[]) {
        const t = total(name);
        impls[name] = {
          checkpointMs: get(`${name} checkpoint`).median,
          restartMs: get(`${name} restart`).median,
          totalMs: t,
          bytes: bytes.get(name)!,
          vsV8: t / v8Total,
          vsMsgpackr: Number.isNaN(mpTotal) ? null : t / mpTotal,
          bytesVsV8: bytes.get(name)! / bytes.get('v8')!,
          samples: get(`${name} restart`).samples.length,
        };
      }
      const objects = 1 + T + T + T / 8;
      const n = impls['objhash native'];
      cases.push({ T, cycles, keyed, objects, impls, nativeVsTwin: n ? n.totalMs / impls['objhash twin']!.totalMs : null });
    }
  }
  return { id, cases };
}

export function graphTable(r: GraphWorkloadResult, title: string): Table {
  const rows: string[][] = [];
  for (const c of r.cases) {
    for (const name of GRAPH_IMPLS) {
      const x = c.impls[name];
      if (!x) continue;
      rows.push([
        String(c.T),
        c.cycles ? 'yes' : 'no',
        name,
        fmtMs(x.checkpointMs),
        fmtMs(x.restartMs),
        fmtMs(x.totalMs),
        fmtRatio(x.vsV8),
        fmtRatio(x.vsMsgpackr),
        name === 'objhash native' && c.nativeVsTwin !== null ? fmtRatio(c.nativeVsTwin) : '',
        fmtBytes(x.bytes),
        fmtRatio(x.bytesVsV8),
        String(x.samples),
      ]);
    }
  }
  return {
    title,
    columns: ['T', 'cycles', 'impl', 'ckpt ms', 'restart ms', 'total ms', 'vs v8', 'vs msgpackr', 'vs twin', 'image', 'bytes vs v8', 'n'],
    rows,
    notes: [
      'ms per checkpoint and per restart of the whole graph (medians); total = checkpoint + restart; ratios are time ÷ the anchor\'s (lower is better).',
      `objects per image: 1 graph + T tasks + T files + T/8 mm; every restart verified (identity, sharing, ${r.cases.some((c) => c.cycles) ? 'cycles, ' : ''}parents).`,
    ],
  };
}

export function runW1(cfg: BenchConfig, env: Env): Promise<GraphWorkloadResult> {
  return runGraphWorkload('W1', false, cfg, env);
}
