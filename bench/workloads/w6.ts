/**
 * W6 - plain JS values, no types (issue #10): `checkpoint(value)` and
 * `restart(image)` on
 *
 *  - the W1 graph (graph.ts: tasks, files shared 4 ways, mms shared 8
 *    ways, parent pointers), which is built of plain objects and arrays;
 *  - a parent-pointer tree: N nodes { id, kind, parent, children: [] },
 *    each node's parent a random earlier node (a random recursive tree,
 *    height about e·ln N), so every edge is a cycle (parent <-> children).
 *
 * against v8.serialize/deserialize and msgpackr with structuredClone, all
 * interleaved in one process (w1.ts measureCodecs).  Every restart is
 * verified outside the timed region: the graph by verifyGraph (values,
 * each file one object in its 4 slots, each mm in its 8 tasks, parents),
 * the tree node by node against the original (ids, kinds, child counts,
 * every child's parent the restored node itself).  Native and twin must
 * write the same bytes.
 */
import { checkpoint, restart, type ImplName } from '../../lib/index.js';
import { buildGraph, verifyGraph, type Graph } from '../graph.js';
import { rng } from '../prng.js';
import type { Baseline, BenchConfig, Env } from '../run.js';
import { fmtCount, fmtInt, fmtMs, type Table } from '../report.js';
import {
  anchorCodecs,
  baselineNote,
  graphImplCells,
  graphImplColumns,
  graphImplResults,
  measureCodecs,
  nativeVsBaseline,
  sameImages,
  type BaselineImpl,
  type Codec,
  type GraphImpl,
  type GraphImplResult,
} from './w1.js';

export interface TreeNode {
  id: number;
  kind: number;
  parent: TreeNode | null;
  children: TreeNode[];
}

export interface W6Case {
  input: 'graph' | 'tree';
  /** Graph: tasks; tree: nodes. */
  size: number;
  /** JS objects in the value, arrays included. */
  objects: number;
  impls: Partial<Record<GraphImpl | BaselineImpl, GraphImplResult>>;
  /** native total / twin total. */
  nativeVsTwin: number | null;
  /** native total / the baseline's total (--baseline only). */
  nativeVsBaseline?: number;
  /**
   * The JS identity floor: ms for one Map get + set per object of the value
   * (the objects listed beforehand, nothing else done), as any writer of
   * shared JS objects in JS must pay; v8.serialize does it in C++.
   */
  identityMs: number;
}

export interface W6Result {
  id: 'W6';
  /** The baseline's row name, when --baseline ran it beside the others. */
  baseline?: BaselineImpl;
  cases: W6Case[];
}

/** JS objects (objects and arrays) in the W1 graph of T tasks without cycles: root, tasks array, T tasks, T file arrays, T files, T/8 mms and their page arrays. */
export function graphObjects(T: number): number {
  return 2 + 3 * T + 2 * (T / 8);
}

/** The tree: node i > 0 hangs under a random earlier node. */
export function buildTree(n: number, seed = 0x7ee): TreeNode {
  const rand = rng(seed ^ n);
  const nodes: TreeNode[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const parent = i === 0 ? null : nodes[Math.floor(rand() * i)]!;
    const node: TreeNode = { id: i, kind: i % 13, parent, children: [] };
    nodes[i] = node;
    if (parent) parent.children.push(node);
  }
  return nodes[0]!;
}

/** Throws unless `back` is a restored copy of the tree `orig` (walked side by side, no recursion). */
export function verifyTree(back: TreeNode, orig: TreeNode, n: number, label: string): void {
  const fail = (msg: string): never => {
    throw new Error(`bench: ${label}: restored tree is wrong: ${msg}`);
  };
  if (back === orig) fail('the root is the original object');
  if (!back || back.parent !== null) fail('the root has a parent');
  const a: TreeNode[] = [orig];
  const b: TreeNode[] = [back];
  let seen = 0;
  while (a.length) {
    const x = a.pop()!;
    const y = b.pop()!;
    seen++;
    if (y.id !== x.id || y.kind !== x.kind) fail(`node ${x.id}: id/kind ${y.id}/${y.kind}`);
    if (!Array.isArray(y.children) || y.children.length !== x.children.length) fail(`node ${x.id}: ${y.children?.length} children, expected ${x.children.length}`);
    for (let i = 0; i < x.children.length; i++) {
      const c = y.children[i]!;
      if (c.parent !== y) fail(`node ${x.children[i]!.id}: parent is not the restored node ${x.id} (identity lost)`);
      a.push(x.children[i]!);
      b.push(c);
    }
  }
  if (seen !== n) fail(`${seen} nodes, expected ${n}`);
}

/** objhash for plain values (no types), native and twin, then the anchors, then the baseline's native backend (if given). */
export function plainCodecs<G>(env: Env, withMsgpackr: boolean, baseline?: Baseline, own?: G): Partial<Record<GraphImpl | BaselineImpl, Codec<G>>> {
  const out: Partial<Record<GraphImpl | BaselineImpl, Codec<G>>> = {};
  const objhash = (impl: ImplName, identity: 'stamp' | 'map' = 'stamp'): Codec<G> => {
    const opts = { impl, identity };
    return { ckpt: (g) => checkpoint(g, opts), rst: (img) => restart(img, opts) as G };
  };
  if (env.nativeAvailable) out['objhash native'] = objhash('native');
  if (env.nativeAvailable) out['objhash native, Map'] = objhash('native', 'map');
  out['objhash twin'] = objhash('js');
  Object.assign(out, anchorCodecs<G>(withMsgpackr));
  if (baseline) {
    const opts = { impl: 'native' as const };
    // on its own copy of the input (BASELINE_OWN_INPUT)
    out[baseline.name] = { ckpt: (g) => baseline.lib.checkpoint(own ?? g, opts), rst: (img) => baseline.lib.restart(img, opts) as G };
  }
  return out;
}

async function runCase<G>(
  input: 'graph' | 'tree',
  size: number,
  objects: number,
  root: G,
  verify: (back: G, name: string) => void,
  label: string,
  cfg: BenchConfig,
  env: Env,
  own: (() => G) | undefined,
): Promise<W6Case> {
  const cs = plainCodecs<G>(env, true, env.baseline, env.baseline && own ? own() : undefined);
  sameImages(cs['objhash native'], cs['objhash twin']!, root, label);
  sameImages(cs['objhash native, Map'], cs['objhash twin']!, root, `${label} (identity: 'map')`);
  const big = objects >= cfg.plainBigObjects;
  const rounds = big ? cfg.graphBigRounds : cfg.graphRounds;
  env.log(`${label}: measuring ${Object.keys(cs).length} implementations, ${rounds} rounds`);
  const timings = await measureCodecs(
    root,
    (Object.entries(cs) as [GraphImpl | BaselineImpl, Codec<G>][]).map(([name, codec]) => ({ name, codec })),
    verify,
    { rounds, iterations: big ? 1 : cfg.graphIterations, warmup: !big, warmupRound: big },
  );
  const impls = graphImplResults(timings, env.baseline);
  const n = impls['objhash native'];
  return {
    input,
    size,
    objects,
    impls,
    nativeVsTwin: n ? n.totalMs / impls['objhash twin']!.totalMs : null,
    nativeVsBaseline: nativeVsBaseline(impls, env.baseline),
    identityMs: identityFloor(root, rounds),
  };
}

/** Every object reachable from root, each once (an explicit stack; the bench's inputs hold objects and arrays only). */
function objectsOf(root: unknown): object[] {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
  }
  return [...seen];
}

/** Median ms of a fresh Map's get + set over every object of root (see W6Case.identityMs). */
function identityFloor(root: unknown, rounds: number): number {
  const list = objectsOf(root);
  const times: number[] = [];
  for (let r = 0; r < Math.max(3, rounds); r++) {
    const t = performance.now();
    const m = new Map<object, number>();
    for (let i = 0; i < list.length; i++) if (m.get(list[i]!) === undefined) m.set(list[i]!, i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

export async function runW6(cfg: BenchConfig, env: Env): Promise<W6Result> {
  const cases: W6Case[] = [];
  for (const T of cfg.plainGraphSizes) {
    const label = `W6 graph T=${T}`;
    env.log(`${label}: building the graph`);
    const { root, spec } = buildGraph(T, false);
    cases.push(await runCase<Graph>('graph', T, graphObjects(T), root, (back, name) => verifyGraph(back, spec, root, `${label} ${name}`), label, cfg, env, () => buildGraph(T, false).root));
  }
  {
    const n = cfg.plainTreeNodes;
    const label = `W6 tree N=${n}`;
    env.log(`${label}: building the tree`);
    const root = buildTree(n);
    cases.push(await runCase<TreeNode>('tree', n, 2 * n, root, (back, name) => verifyTree(back, root, n, `${label} ${name}`), label, cfg, env, () => buildTree(n)));
  }
  return { id: 'W6', baseline: env.baseline?.name, cases };
}

export function w6CaseLabel(c: W6Case): string {
  return c.input === 'graph' ? `graph T=${fmtCount(c.size)}` : `tree N=${fmtCount(c.size)}`;
}

export function w6Table(r: W6Result): Table {
  const rows: string[][] = [];
  for (const c of r.cases) {
    // graphImplResults' order: GRAPH_IMPLS, then the baseline
    for (const [name, x] of Object.entries(c.impls) as [GraphImpl | BaselineImpl, GraphImplResult][])
      rows.push([w6CaseLabel(c), fmtInt(c.objects), ...graphImplCells(name, x, c, r.baseline)]);
  }
  return {
    title: 'W6 - plain objects, no types: objhash checkpoint(value)/restart(image) vs v8.serialize vs msgpackr structuredClone',
    columns: ['input', 'objects', ...graphImplColumns(r.baseline)],
    rows,
    notes: [
      'ms per checkpoint and per restart (medians); total = checkpoint + restart; ratios are time ÷ the anchor\'s (lower is better).',
      'graph: the W1 graph (no cycles) as plain objects and arrays; tree: nodes { id, kind, parent, children } under random earlier nodes (every edge a cycle).',
      'objects = JS objects in the value, arrays included; every restart verified (values, shared identity, parents); native and twin images are the same bytes.',
      ...(r.baseline ? [baselineNote(r.baseline)] : []),
      ...r.cases.map((c) => {
        const v8 = c.impls.v8;
        const of = v8 ? ` = ${(c.identityMs / v8.checkpointMs).toFixed(2)}× v8.serialize's whole checkpoint` : '';
        return `JS identity floor, ${w6CaseLabel(c)}: one Map get + set per object, nothing else, ${fmtMs(c.identityMs)} ms${of}.`;
      }),
    ],
  };
}
