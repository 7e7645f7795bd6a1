/**
 * `npm run bench` - objhash's benchmark suite (see bench/results/README.md).
 *
 *   node dist/bench/run.js [--quick] [--only W1,W3] [--json PATH] [--svg PATH] [--baseline DIR] [--node MAJOR]
 *
 * Measures, side by side in one process, the native backend, the pure-JS
 * twin, a plain Map and the anchors (v8.serialize, msgpackr), in rounds
 * with the implementations interleaved, and prints one table per workload,
 * then the targets of the issue with the numbers of this run.
 *
 * Workloads (bench/results/README.md has the details): W1 the object
 * graph (typed ops), W2 the same keyed by id, W3 lookupAdd, W4 the
 * restart side (insert, fetch), W5 CRC-32C, W6 plain values, W7 types
 * with fields, W8 a 1M-deep chain (time, memory), W9 a full GC between
 * calls, W10 objhash in a server (the async API of objhash/promises:
 * event-loop delay, compressed images).
 *
 * --baseline DIR: DIR is another built checkout (dist/ and the addon;
 * scripts/bench-baseline.sh makes one of a git ref).  W1 and W6 then also
 * measure DIR's native backend, with DIR's own code, in the same rounds:
 * a change to a hot path is judged against the previous main on the same
 * machine at the same moment, not against numbers from another run.
 *
 * Output files (bench/results/): a full run writes latest.json,
 * latest.svg and latest.md; --quick writes quick.json only; a partial
 * run (--only) writes nothing unless --json PATH is given.  --svg PATH
 * writes the chart there (any mode).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { impl as defaultImpl, nativeAvailable, nativeLoadError } from '../lib/index.js';
import { getBackend } from '../lib/backend/loader.js';
import {
  fmtBytes,
  fmtCount,
  fmtInt,
  fmtRatio,
  renderMarkdown,
  renderSvg,
  renderText,
  target,
  targetsTable,
  type ChartRow,
  type Table,
  type Target,
} from './report.js';
import { graphTable, runW1, type BaselineImpl, type GraphCaseResult, type GraphWorkloadResult } from './workloads/w1.js';
import { runW2 } from './workloads/w2.js';
import { runW3, w3Tables, type W3Result } from './workloads/w3.js';
import { runW4, w4Table, type W4Result } from './workloads/w4.js';
import { runW5, w5Table, type W5Result } from './workloads/w5.js';
import { runW6, w6CaseLabel, w6Table, type W6Case, type W6Result } from './workloads/w6.js';
import { runW7, w7Table, type W7Result } from './workloads/w7.js';
import { runW8, w8Table, type W8Result } from './workloads/w8.js';
import { runW9, w9Table, type W9Result } from './workloads/w9.js';
import { SMALL_SEMI_SPACE_MB, runW10, w10Tables, type W10Result } from './workloads/w10.js';

export interface BenchConfig {
  quick: boolean;
  /** W1/W2 task counts. */
  graphSizes: number[];
  /** W1 only: small states (a call's fixed cost), measured first, graphSmallIterations samples per round. */
  graphSmallSizes: number[];
  graphSmallIterations: number;
  /** From this T on: 1 sample per round, no warm-up call. */
  graphBigT: number;
  graphRounds: number;
  graphIterations: number;
  graphBigRounds: number;
  /** W3 key counts. */
  w3Sizes: number[];
  /** The sizes the W3 targets name (1M and 10M in a full run). */
  w3TargetN: number;
  w3HugeTargetN: number;
  /** From this N on: 1 sample per round, no warm-up call. */
  w3BigN: number;
  /** From this N on: w3HugeRounds, and a time bound per case. */
  w3HugeN: number;
  w3Rounds: number;
  w3BigRounds: number;
  w3HugeRounds: number;
  w3HugeMaxMs: number;
  /** Small sizes: samples per round = w3SmallOps / N. */
  w3SmallOps: number;
  /** Sizes with an extra BigUint64Array batch row. */
  w3BigintAt: number[];
  w3FixedSizes: number[];
  w4N: number;
  w4Rounds: number;
  w5Bytes: number;
  w5Rounds: number;
  w5Iterations: number;
  /** W6/W9: task counts of the W1-shaped plain graph (the last one is the target's 200k objects in a full run). */
  plainGraphSizes: number[];
  /** W6: nodes of the parent-pointer tree. */
  plainTreeNodes: number;
  /** W6/W9: from this many JS objects on, 1 sample per round. */
  plainBigObjects: number;
  /** W8: depth of the chain. */
  depthN: number;
  depthRounds: number;
  /** W10: tasks of the W1 graph, and rounds (1 sample of each call per round). */
  w10Tasks: number;
  w10Rounds: number;
}

const FULL: BenchConfig = {
  quick: false,
  graphSizes: [10_000, 200_000],
  // 8 tasks: 18 objects; 64: 137
  graphSmallSizes: [8, 64],
  graphSmallIterations: 200,
  graphBigT: 100_000,
  graphRounds: 8,
  graphIterations: 4,
  graphBigRounds: 3,
  w3Sizes: [1_000, 1_000_000, 10_000_000],
  w3TargetN: 1_000_000,
  w3HugeTargetN: 10_000_000,
  w3BigN: 100_000,
  w3HugeN: 5_000_000,
  w3Rounds: 5,
  w3BigRounds: 5,
  w3HugeRounds: 3,
  w3HugeMaxMs: 12_000,
  w3SmallOps: 200_000,
  w3BigintAt: [1_000_000],
  w3FixedSizes: [1_000, 100_000],
  w4N: 1_000_000,
  w4Rounds: 5,
  w5Bytes: 64 * 1024 * 1024,
  w5Rounds: 5,
  w5Iterations: 3,
  // 2 + 3.25 T JS objects: T = 61,536 is 199,994 (the issue's 200k)
  plainGraphSizes: [10_000, 61_536],
  plainTreeNodes: 1_000_000,
  plainBigObjects: 100_000,
  depthN: 1_000_000,
  depthRounds: 2,
  w10Tasks: 400_000,
  // 3: a median that one slow call (a major GC landing in it) does not move
  w10Rounds: 3,
};

const QUICK: BenchConfig = {
  quick: true,
  graphSizes: [400, 2_000],
  graphSmallSizes: [8],
  graphSmallIterations: 20,
  graphBigT: 2_000,
  graphRounds: 2,
  graphIterations: 2,
  graphBigRounds: 2,
  w3Sizes: [1_000, 20_000, 40_000],
  w3TargetN: 20_000,
  w3HugeTargetN: 40_000,
  w3BigN: 10_000,
  w3HugeN: 40_000,
  w3Rounds: 2,
  w3BigRounds: 2,
  w3HugeRounds: 2,
  w3HugeMaxMs: 2_000,
  w3SmallOps: 20_000,
  w3BigintAt: [20_000],
  w3FixedSizes: [1_000, 5_000],
  w4N: 20_000,
  w4Rounds: 2,
  w5Bytes: 1024 * 1024,
  w5Rounds: 2,
  w5Iterations: 2,
  plainGraphSizes: [400, 2_000],
  plainTreeNodes: 20_000,
  plainBigObjects: 6_000,
  depthN: 20_000,
  depthRounds: 2,
  w10Tasks: 5_000,
  w10Rounds: 3,
};

/** Another built checkout of objhash (--baseline DIR), loaded into this process beside this one. */
export interface Baseline {
  /** Its row name: `baseline <short commit>`. */
  name: BaselineImpl;
  dir: string;
  commit: string;
  /** DIR/dist/lib/index.js (the API of that commit; typed as this one's). */
  lib: typeof import('../lib/index.js');
  /** DIR/dist/bench/graph.js: W1's types made with DIR's defineObjType. */
  graph: typeof import('./graph.js');
}

export interface Env {
  nativeAvailable: boolean;
  crc32cHardware: boolean | null;
  log: (msg: string) => void;
  baseline?: Baseline;
}

/**
 * dist/ is CommonJS, so a plain require of the absolute paths loads DIR's
 * modules as a second copy (their own module cache entries, their own
 * addon: `bindings` finds DIR/build/Release from the caller's path).
 */
function loadBaseline(dir: string): Baseline {
  const abs = path.resolve(dir);
  const index = path.join(abs, 'dist', 'lib', 'index.js');
  const graph = path.join(abs, 'dist', 'bench', 'graph.js');
  for (const f of [index, graph]) if (!existsSync(f)) usage(`--baseline ${dir}: no ${path.relative(abs, f)} (run npx tsc -p tsconfig.json there)`);
  let commit: string;
  try {
    commit = execFileSync('git', ['-C', abs, 'rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    usage(`--baseline ${dir}: not a git checkout`);
  }
  const lib = require(index) as Baseline['lib'];
  // the comparison is native against native: no silent fall-back to its twin
  if (!lib.nativeAvailable()) usage(`--baseline ${dir}: its native addon does not load (${lib.nativeLoadError()?.message})`);
  return { name: `baseline ${commit}`, dir: abs, commit, lib, graph: require(graph) as Baseline['graph'] };
}

const WORKLOADS = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8', 'W9', 'W10'] as const;
type WorkloadId = (typeof WORKLOADS)[number];

interface Args {
  quick: boolean;
  only: WorkloadId[];
  json: string | null;
  svg: string | null;
  baseline: string | null;
}

function usage(msg: string): never {
  console.error(`bench: ${msg}\nusage: node dist/bench/run.js [--quick] [--only W1,W3] [--json PATH] [--svg PATH] [--baseline DIR] [--node MAJOR]`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, only: [...WORKLOADS], json: null, svg: null, baseline: null };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i]!;
    const [flag, inline] = s.startsWith('--') && s.includes('=') ? [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)] : [s, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    if (flag === '--quick') a.quick = true;
    else if (flag === '--only') {
      const ids = value()
        .split(',')
        .map((x) => x.trim().toUpperCase())
        .filter(Boolean);
      for (const id of ids) if (!(WORKLOADS as readonly string[]).includes(id)) usage(`unknown workload ${id} (W1..W10)`);
      a.only = ids as WorkloadId[];
    } else if (flag === '--json') a.json = value();
    else if (flag === '--svg') a.svg = value();
    else if (flag === '--baseline') a.baseline = value();
    else if (flag === '--help' || flag === '-h') usage('help');
    else usage(`unknown argument ${s}`);
  }
  return a;
}

function gitCommit(root: string): string | null {
  try {
    const c = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib', 'native'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return dirty ? `${c} (lib/native modified)` : c;
  } catch {
    return null;
  }
}

export interface Meta {
  date: string;
  quick: boolean;
  workloads: string[];
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  v8: string;
  commit: string | null;
  /** --baseline: the other checkout measured in W1 and W6. */
  baseline?: { dir: string; commit: string };
  nativeAvailable: boolean;
  nativeLoadError: string | null;
  defaultImpl: string;
  crc32cHardware: boolean | null;
  loadavgStart: number[];
  loadavgEnd?: number[];
  seconds?: number;
}

export interface Results {
  W1?: GraphWorkloadResult;
  W2?: GraphWorkloadResult;
  W3?: W3Result;
  W4?: W4Result;
  W5?: W5Result;
  W6?: W6Result;
  W7?: W7Result;
  W8?: W8Result;
  W9?: W9Result;
  W10?: W10Result;
}

// ------------------------------------------------------------------ targets

/** W6's target cases: the graph at its largest size (200k objects in a full run) and the tree. */
function w6TargetCases(r: W6Result): W6Case[] {
  const graphs = r.cases.filter((c) => c.input === 'graph');
  return [graphs[graphs.length - 1], ...r.cases.filter((c) => c.input === 'tree')].filter((c): c is W6Case => c !== undefined);
}

function w6TargetName(c: W6Case, what: string): string {
  return `${w6CaseLabel(c)} (${fmtCount(Math.round(c.objects / 1000) * 1000)} objects): ${what}`;
}

function graphCase(r: GraphWorkloadResult | undefined, T: number, cycles: boolean): GraphCaseResult | undefined {
  return r?.cases.find((c) => c.T === T && c.cycles === cycles);
}

function computeTargets(
  cfg: BenchConfig,
  env: Env,
  res: Results,
): Target[] {
  const t: Target[] = [];
  const notRun = 'not run';
  // W1
  if (res.W1) {
    const sizes = cfg.graphSizes;
    const small = sizes[0]!;
    const big = sizes[sizes.length - 1]!;
    for (const [T, lim] of [
      [small, 0.6],
      [big, 0.8],
    ] as const) {
      for (const cycles of [false, true]) {
        const c = graphCase(res.W1, T, cycles);
        const n = c?.impls['objhash native'];
        const v = cycles ? ', cycles' : '';
        t.push(target('W1', `T=${fmtCount(T)}${v}: native ckpt+restart vs v8`, `≤ ${lim}× v8`, n?.vsV8, '<=', lim, '×', n ? undefined : notRun));
      }
    }
    for (const T of sizes)
      for (const cycles of [false, true]) {
        const n = graphCase(res.W1, T, cycles)?.impls['objhash native'];
        t.push(target('W1', `T=${fmtCount(T)}${cycles ? ', cycles' : ''}: native ckpt+restart vs msgpackr`, '≤ 0.25× msgpackr', n?.vsMsgpackr, '<=', 0.25, '×', n ? undefined : notRun));
      }
    for (const T of sizes)
      for (const cycles of [false, true]) {
        const n = graphCase(res.W1, T, cycles)?.impls['objhash native'];
        t.push(target('W1', `T=${fmtCount(T)}${cycles ? ', cycles' : ''}: image bytes vs v8`, '≤ 1.0× v8', n?.bytesVsV8, '<=', 1.0, '×', n ? undefined : notRun));
      }
  }
  // W3
  if (res.W3) {
    const row = (n: number, impl: string, mode: string) =>
      res.W3!.rows.find((x) => x.n === n && x.impl === impl && x.mode === mode && !x.fixed && x.vsGrowing === null);
    const N = cfg.w3TargetN;
    const nb = row(N, 'native', 'batch');
    const mp = row(N, 'Map', 'per call');
    const tb = row(N, 'twin', 'batch');
    const big = row(cfg.w3HugeTargetN, 'native', 'batch');
    const nn = env.nativeAvailable ? undefined : 'no native addon';
    t.push(target('W3', `N=${fmtCount(N)} batch: native speed vs Map`, '≥ 10× faster', nb && mp ? mp.nsPerOp / nb.nsPerOp : null, '>=', 10, '×', nn));
    t.push(target('W3', `N=${fmtCount(N)} batch: native speed vs twin batch`, '≥ 2× faster', nb && tb ? tb.nsPerOp / nb.nsPerOp : null, '>=', 2, '×', nn));
    t.push(target('W3', `N=${fmtCount(N)}: native memory per entry`, '≤ 40 B', nb?.bytesPerEntry, '<=', 40, 'B', nn));
    t.push(
      target(
        'W3',
        `native batch: ns/op at N=${fmtCount(cfg.w3HugeTargetN)} ÷ at N=${fmtCount(N)}`,
        '≤ 3×',
        nb && big ? big.nsPerOp / nb.nsPerOp : null,
        '<=',
        3,
        '×',
        nn,
      ),
    );
  }
  // W4
  if (res.W4) {
    const row = (op: string, impl: string, mode: string) => res.W4!.rows.find((x) => x.op === op && x.impl === impl && x.mode === mode);
    const nn = env.nativeAvailable ? undefined : 'no native addon';
    for (const mode of ['batch', 'batch, no keys']) {
      const n = row('insert', 'native', mode);
      const tw = row('insert', 'twin', mode);
      const mp = row('insert', 'Map', 'per call');
      t.push(target('W4', `insert ${mode}: native speed vs twin`, '≥ 2× faster', n && tw ? tw.nsPerOp / n.nsPerOp : null, '>=', 2, '×', nn));
      t.push(target('W4', `insert ${mode}: native speed vs Map`, '≥ 10× faster', n && mp ? mp.nsPerOp / n.nsPerOp : null, '>=', 10, '×', nn));
    }
    const fn = row('fetch', 'native', 'batch');
    const ft = row('fetch', 'twin', 'batch');
    t.push(target('W4', 'fetch batch: native speed vs twin', 'no slower (≥ 1×)', fn && ft ? ft.nsPerOp / fn.nsPerOp : null, '>=', 1, '×', nn));
  }
  // W5
  if (res.W5) {
    const n = res.W5.rows.find((x) => x.impl === 'native');
    const tw = res.W5.rows.find((x) => x.impl === 'twin');
    if (env.crc32cHardware)
      t.push(target('W5', 'CRC-32C native throughput', '≥ 5 GB/s (SSE4.2)', n?.gbPerS, '>=', 5, 'GB/s'));
    else t.push(target('W5', 'CRC-32C native throughput', '≥ 5 GB/s (SSE4.2)', null, '>=', 5, 'GB/s', 'no SSE4.2 / no addon'));
    t.push(target('W5', 'CRC-32C twin throughput', '≥ 0.5 GB/s', tw?.gbPerS, '>=', 0.5, 'GB/s'));
  }
  // W6 (issue #10): plain values, at 200k objects, and the tree
  if (res.W6) {
    for (const c of w6TargetCases(res.W6)) {
      const n = c.impls['objhash native'];
      const nn = n ? undefined : notRun;
      t.push(target('W6', w6TargetName(c, 'native ckpt+restart vs v8'), '≤ 0.8× v8', n?.vsV8, '<=', 0.8, '×', nn));
      t.push(target('W6', w6TargetName(c, 'image bytes vs v8'), '≤ 0.7× v8', n?.bytesVsV8, '<=', 0.7, '×', nn));
    }
  }
  // W7 (issue #10): fields vs hand-written
  if (res.W7) {
    for (const c of res.W7.cases) {
      const x = c.rows.find((r) => r.backend === 'native');
      const v = `T=${fmtCount(c.T)}${c.cycles ? ', cycles' : ''}`;
      t.push(target('W7', `${v}: native ckpt+restart, fields vs hand-written`, '≤ 1.05× hand-written', x?.timeRatio, '<=', 1.05, '×', x ? undefined : notRun));
    }
    const T = cfg.graphSizes[cfg.graphSizes.length - 1]!;
    for (const c of res.W7.cases.filter((k) => k.T === T)) {
      const x = c.rows[0];
      const d = x ? x.schema.bytes - x.hand.bytes : 0;
      const note = x && d !== 0 ? `${d > 0 ? '+' : ''}${fmtInt(d)} B: the encodings differ, see W7` : undefined;
      t.push(
        target('W7', `T=${fmtCount(T)}${c.cycles ? ', cycles' : ''}: fields image bytes vs hand-written`, 'same bytes (1.0×)', x?.bytesRatio, '<=', 1.0, '×', x ? note : notRun),
      );
    }
  }
  // W10 (issue #15): the async API in a server
  if (res.W10) {
    const w = res.W10;
    const v = `T=${fmtCount(w.T)}`;
    t.push(
      target('W10', `${v}, async restart: max event-loop delay`, '≤ 50 ms', w.asyncRestart.delayMs, '<=', 50, 'ms', 'hand-written types: the root is nestedFirst, its tasks restore in slices'),
    );
    t.push(target('W10', `${v}: async restart time vs sync restart`, '≤ 1.2× sync', w.asyncRestart.ms / w.syncRestart.ms, '<=', 1.2, '×'));
    t.push(target('W10', `${v}, fields types, async restart: max event-loop delay`, '≤ 50 ms', w.fieldsAsyncRestart.delayMs, '<=', 50, 'ms', 'restored in slices'));
    t.push(target('W10', `${v}, fields types: async restart time vs sync restart`, '≤ 1.2× sync', w.fieldsAsyncRestart.ms / w.fieldsSyncRestart.ms, '<=', 1.2, '×'));
    t.push(
      target(
        'W10',
        `${v}, async checkpoint: max event-loop delay vs walk time`,
        '≤ 1.2× walk time',
        w.asyncCheckpoint.delayMs / w.walk.ms,
        '<=',
        1.2,
        '×',
        'the snapshot walk blocks, the writing does not',
      ),
    );
    t.push(
      target(
        'W10',
        `${v}, fields types, incremental checkpoint: max event-loop delay`,
        '≤ 50 ms',
        w.fieldsIncrementalCheckpoint.delayMs,
        '<=',
        50,
        'ms',
        `slices of 10 ms; the root's record of ${fmtCount(w.T)} task objrefs in runs of 1,024`,
      ),
    );
    const y = typeof w.smallYoung === 'string' ? undefined : w.smallYoung;
    const why = typeof w.smallYoung === 'string' ? w.smallYoung : `node --max-semi-space-size=${SMALL_SEMI_SPACE_MB}`;
    t.push(target('W10', `${v}, fields types, async restart: max event-loop delay, semi-space ${SMALL_SEMI_SPACE_MB} MiB`, '≤ 50 ms', y?.asyncRestart.delayMs, '<=', 50, 'ms', why));
    t.push(target('W10', `${v}, fields types: async restart time vs sync restart, semi-space ${SMALL_SEMI_SPACE_MB} MiB`, '≤ 1.2× sync', y ? y.asyncRestart.ms / y.syncRestart.ms : undefined, '<=', 1.2, '×', why));
    t.push(target('W10', `${v}, fields types, incremental checkpoint: max event-loop delay, semi-space ${SMALL_SEMI_SPACE_MB} MiB`, '≤ 50 ms', y?.incrementalCheckpoint.delayMs, '<=', 50, 'ms', why));
  }
  return t;
}

/** Lines under the targets table: targets of the issue that nothing here can measure. */
function targetNotes(res: Results): string[] {
  return res.W10 ? ['W10: the incremental checkpoint of hand-written types is one slice (their objects are written by recursion): its row shows it; the target is measured on the fields types.'] : [];
}

// -------------------------------------------------------------------- chart

const COLORS = { native: '#1f77b4', twin: '#ff7f0e', msgpackr: '#8c8c8c', percall: '#9ecae1' };

function chartRows(res: Results, targets: Target[], cfg: BenchConfig): ChartRow[] {
  const rows: ChartRow[] = [];
  const tgt = (name: string, invert = false): ChartRow['target'] => {
    const t = targets.find((x) => x.name === name);
    if (!t || t.met === null) return undefined;
    const value = invert ? 1 / t.limit : t.limit;
    return { value, met: t.met, text: `${t.met ? '✓' : '✗'} target ${invert ? '≤ ' + fmtRatio(value) : t.goal.replace(/ v8| msgpackr| hand-written/, '')}` };
  };
  for (const [id, r] of [
    ['W1', res.W1],
    ['W2', res.W2],
  ] as const) {
    if (!r) continue;
    for (const c of r.cases) {
      const bars = [];
      const n = c.impls['objhash native'];
      if (n) bars.push({ name: 'native', value: n.vsV8, color: COLORS.native });
      bars.push({ name: 'twin', value: c.impls['objhash twin']!.vsV8, color: COLORS.twin });
      if (c.impls.msgpackr) bars.push({ name: 'msgpackr', value: c.impls.msgpackr.vsV8, color: COLORS.msgpackr });
      rows.push({
        section: `${id}${id === 'W2' ? ' (keyed by id)' : ''}: checkpoint + restart time ÷ v8's`,
        label: `T=${fmtCount(c.T)}${c.cycles ? ', cycles' : ''}`,
        bars,
        target: id === 'W1' ? tgt(`T=${fmtCount(c.T)}${c.cycles ? ', cycles' : ''}: native ckpt+restart vs v8`) : undefined,
      });
    }
  }
  if (res.W1) {
    for (const c of res.W1.cases) {
      const bars = [];
      const n = c.impls['objhash native'];
      if (n) bars.push({ name: 'objhash', value: n.bytesVsV8, color: COLORS.native });
      bars.push({ name: 'msgpackr', value: c.impls.msgpackr!.bytesVsV8, color: COLORS.msgpackr });
      rows.push({
        section: 'W1: image bytes ÷ v8\'s',
        label: `T=${fmtCount(c.T)}${c.cycles ? ', cycles' : ''}`,
        bars,
        target: tgt(`T=${fmtCount(c.T)}${c.cycles ? ', cycles' : ''}: image bytes vs v8`),
      });
    }
  }
  if (res.W3) {
    for (const n of cfg.w3Sizes) {
      const rs = res.W3.rows.filter((x) => x.n === n && x.vsGrowing === null && x.impl !== 'Map' && x.mode !== 'batch bigint');
      if (!rs.length) continue;
      const order = ['native batch', 'twin batch', 'native per call', 'twin per call'];
      rs.sort((a, b) => order.indexOf(`${a.impl} ${a.mode}`) - order.indexOf(`${b.impl} ${b.mode}`));
      rows.push({
        section: 'W3: lookupAdd time ÷ Map\'s',
        label: `N=${fmtCount(n)}`,
        bars: rs.map((x) => ({
          name: `${x.impl} ${x.mode}`,
          value: x.vsMap!,
          color: x.impl === 'native' ? (x.mode === 'batch' ? COLORS.native : COLORS.percall) : x.mode === 'batch' ? COLORS.twin : '#fdd0a2',
        })),
        target: n === cfg.w3TargetN ? tgt(`N=${fmtCount(n)} batch: native speed vs Map`, true) : undefined,
      });
    }
  }
  if (res.W4) {
    for (const op of ['insert', 'fetch'] as const) {
      for (const mode of op === 'insert' ? ['batch', 'batch, no keys', 'per call'] : ['batch', 'per call']) {
        const rs = res.W4.rows.filter((x) => x.op === op && x.mode === mode && x.impl !== 'Map');
        rows.push({
          section: `W4: restart side, time ÷ Map's (${fmtCount(res.W4.n)} objrefs)`,
          label: `${op} ${mode}`,
          bars: rs.map((x) => ({ name: x.impl, value: x.vsMap, color: x.impl === 'native' ? COLORS.native : COLORS.twin })),
          target: op === 'insert' && mode !== 'per call' ? tgt(`insert ${mode}: native speed vs Map`, true) : undefined,
        });
      }
    }
  }
  if (res.W6) {
    for (const [what, key, tname] of [
      ['checkpoint + restart time', 'vsV8', 'native ckpt+restart vs v8'],
      ['image bytes', 'bytesVsV8', 'image bytes vs v8'],
    ] as const) {
      for (const c of res.W6.cases) {
        const bars = [];
        const n = c.impls['objhash native'];
        if (n) bars.push({ name: 'native', value: n[key], color: COLORS.native });
        if (key === 'vsV8') bars.push({ name: 'twin', value: c.impls['objhash twin']![key], color: COLORS.twin });
        if (c.impls.msgpackr) bars.push({ name: 'msgpackr', value: c.impls.msgpackr[key], color: COLORS.msgpackr });
        rows.push({
          section: `W6: plain values (no types), ${what} ÷ v8's`,
          label: `${w6CaseLabel(c)}`,
          bars,
          target: tgt(w6TargetName(c, tname)),
        });
      }
    }
  }
  if (res.W7) {
    for (const c of res.W7.cases) {
      rows.push({
        section: 'W7: types with fields, time ÷ the hand-written types\' (W1)',
        label: `T=${fmtCount(c.T)}${c.cycles ? ', cycles' : ''}`,
        bars: c.rows.map((x) => ({ name: x.backend, value: x.timeRatio, color: x.backend === 'native' ? COLORS.native : COLORS.twin })),
        target: tgt(`T=${fmtCount(c.T)}${c.cycles ? ', cycles' : ''}: native ckpt+restart, fields vs hand-written`),
      });
    }
  }
  return rows;
}

// --------------------------------------------------------------------- main

/**
 * `--node MAJOR`: runs this same benchmark under that Node line (one of
 * scripts/node-lines.sh's, installed there if needed) and exits with its
 * status; the tables then name that Node.
 */
function underNode(argv: string[]): number | undefined {
  const i = argv.findIndex((a) => a === '--node' || a.startsWith('--node='));
  if (i < 0) return undefined;
  const major = argv[i]!.includes('=') ? argv[i]!.split('=')[1]! : argv[i + 1];
  if (!major || !/^\d+$/.test(major)) usage('--node needs a major version (one of scripts/node-lines.sh list)');
  const rest = argv.filter((_, j) => j !== i && !(j === i + 1 && !argv[i]!.includes('=')));
  const root = path.resolve(__dirname, '..', '..');
  const bin = execFileSync('bash', [path.join(root, 'scripts', 'node-lines.sh'), 'node', major!], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const r = spawnSync(bin, [...process.execArgv, __filename, ...rest], { stdio: 'inherit' });
  return r.status ?? 1;
}

async function main(): Promise<void> {
  const code = underNode(process.argv.slice(2));
  if (code !== undefined) process.exit(code);
  const args = parseArgs(process.argv.slice(2));
  const cfg = args.quick ? QUICK : FULL;
  const root = path.resolve(__dirname, '..', '..');
  const resultsDir = path.join(root, 'bench', 'results');
  const t0 = Date.now();
  const log = (msg: string) => process.stderr.write(`  [${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);

  let crc32cHardware: boolean | null = null;
  const native = nativeAvailable();
  if (native) crc32cHardware = Boolean((getBackend('native') as unknown as { crc32cHardware?: boolean }).crc32cHardware);
  const baseline = args.baseline === null ? undefined : loadBaseline(args.baseline);
  const env: Env = { nativeAvailable: native, crc32cHardware, log, baseline };
  const cpus = os.cpus();
  const meta: Meta = {
    date: new Date().toISOString(),
    quick: cfg.quick,
    workloads: args.only,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    commit: gitCommit(root),
    baseline: baseline && { dir: baseline.dir, commit: baseline.commit },
    nativeAvailable: native,
    nativeLoadError: native ? null : (nativeLoadError()?.message ?? null),
    defaultImpl,
    crc32cHardware,
    loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };

  const machine = `${meta.cpu}, ${meta.cores} cores, ${meta.memoryGiB} GiB RAM, ${meta.platform}`;
  console.log(`objhash benchmark${cfg.quick ? ' (--quick: tiny sizes, smoke test only)' : ''}`);
  console.log(`machine: ${machine}`);
  console.log(`node ${meta.node} (V8 ${meta.v8}); commit ${meta.commit ?? '?'}; ${meta.date}`);
  console.log(
    `backends: native ${native ? 'available' : `NOT available (${meta.nativeLoadError})`}, twin available; default ${defaultImpl}; ` +
      `crc32c ${crc32cHardware === null ? 'n/a' : crc32cHardware ? 'hardware (SSE4.2)' : 'software table'}`,
  );
  if (baseline) console.log(`baseline: ${baseline.dir} at ${baseline.commit}, its native backend beside this one in W1 and W6`);
  console.log(`load average at start: ${meta.loadavgStart.join(' ')} (other jobs make timings noisy)`);
  console.log('');

  const res: Results = {};
  const tables: Table[] = [];
  const show = (t: Table) => {
    tables.push(t);
    console.log(renderText(t));
    console.log('');
  };
  for (const id of WORKLOADS) {
    if (!args.only.includes(id)) continue;
    log(`${id} ...`);
    if (id === 'W1') {
      res.W1 = await runW1(cfg, env);
      show(graphTable(res.W1, 'W1 - object graph: checkpoint + restart (objhash typed ops vs v8.serialize vs msgpackr structuredClone)'));
    } else if (id === 'W2') {
      res.W2 = await runW2(cfg, env);
      show(graphTable(res.W2, 'W2 - the W1 graph, tasks and files keyed by id (numeric path; msgpackr as in W1)'));
    } else if (id === 'W3') {
      res.W3 = await runW3(cfg, env);
      for (const t of w3Tables(res.W3)) show(t);
    } else if (id === 'W4') {
      res.W4 = await runW4(cfg, env);
      show(w4Table(res.W4));
    } else if (id === 'W5') {
      res.W5 = await runW5(cfg, env);
      show(w5Table(res.W5));
    } else if (id === 'W6') {
      res.W6 = await runW6(cfg, env);
      show(w6Table(res.W6));
    } else if (id === 'W7') {
      res.W7 = await runW7(cfg, env);
      show(w7Table(res.W7));
    } else if (id === 'W8') {
      res.W8 = await runW8(cfg, env);
      show(w8Table(res.W8));
    } else if (id === 'W9') {
      res.W9 = await runW9(cfg, env);
      show(w9Table(res.W9));
    } else if (id === 'W10') {
      res.W10 = await runW10(cfg, env);
      for (const t of w10Tables(res.W10)) show(t);
    }
  }

  const targets = computeTargets(cfg, env, res);
  const tt = targetsTable(targets, cfg.quick, targetNotes(res));
  if (targets.length) {
    tables.push(tt);
    console.log(renderText(tt));
    const met = targets.filter((t) => t.met === true).length;
    const missed = targets.filter((t) => t.met === false).length;
    console.log(`  ${met} met, ${missed} missed, ${targets.length - met - missed} n/a`);
    console.log('');
  }
  meta.loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  meta.seconds = Math.round((Date.now() - t0) / 100) / 10;
  console.log(`done in ${meta.seconds} s; load average at end: ${meta.loadavgEnd.join(' ')}`);

  const json = JSON.stringify({ meta, config: cfg, results: res, targets }, null, 2) + '\n';
  const full = !cfg.quick && args.only.length === WORKLOADS.length;
  const jsonPath = args.json ?? (cfg.quick ? path.join(resultsDir, 'quick.json') : full ? path.join(resultsDir, 'latest.json') : null);
  if (jsonPath) {
    mkdirSync(path.dirname(path.resolve(jsonPath)), { recursive: true });
    writeFileSync(jsonPath, json);
    console.log(`wrote ${path.relative(process.cwd(), path.resolve(jsonPath)) || jsonPath}`);
  }
  if (full || args.svg) {
    const w5 = res.W5?.rows.map((x) => `${x.impl} ${x.gbPerS.toFixed(2)} GB/s`).join(', ');
    const svg = renderSvg(
      'objhash: cost relative to the anchor (log scale; lower is better)',
      [
        `${machine}`,
        `Node ${meta.node} (V8 ${meta.v8}), commit ${meta.commit ?? '?'}, ${meta.date.slice(0, 10)}; medians of interleaved rounds`,
        `W5 CRC-32C over ${res.W5 ? fmtBytes(res.W5.bytes) : '-'}: ${w5 ?? 'n/a'}${crc32cHardware ? ' (native: SSE4.2)' : ''}`,
      ],
      chartRows(res, targets, cfg),
      [
        { name: 'objhash native', value: 1, color: COLORS.native },
        { name: 'objhash twin (JS)', value: 1, color: COLORS.twin },
        { name: 'msgpackr', value: 1, color: COLORS.msgpackr },
        { name: 'target tick: ✓ met', value: 1, color: '#2ca02c' },
        { name: 'target tick: ✗ missed', value: 1, color: '#d62728' },
      ],
    );
    if (args.svg) {
      writeFileSync(args.svg, svg);
      console.log(`wrote ${args.svg}`);
    }
    if (full) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(path.join(resultsDir, 'latest.svg'), svg);
      writeMarkdown(resultsDir, meta, machine, tables);
      console.log('wrote bench/results/latest.json, latest.svg, latest.md');
    }
  }
}

function writeMarkdown(resultsDir: string, meta: Meta, machine: string, tables: Table[]): void {
  {
    const md = [
      `# objhash benchmark results`,
      '',
      `- machine: ${machine}`,
      `- Node ${meta.node} (V8 ${meta.v8}), commit ${meta.commit ?? '?'}, ${meta.date}`,
      `- backends: native ${meta.nativeAvailable ? 'available' : 'not available'}; crc32c ${meta.crc32cHardware ? 'hardware (SSE4.2)' : 'software'}`,
      `- load average at start / end: ${meta.loadavgStart.join(' ')} / ${meta.loadavgEnd?.join(' ')}; ${meta.seconds} s`,
      '',
      '![objhash benchmark](latest.svg)',
      '',
      ...tables.map((t) => renderMarkdown(t) + '\n'),
    ].join('\n');
    writeFileSync(path.join(resultsDir, 'latest.md'), md);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
