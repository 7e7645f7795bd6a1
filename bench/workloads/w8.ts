/**
 * W8 - depth (issue #10): a chain of N = 1,000,000 plain objects
 * { id, next } (a linked list: N levels deep), checkpointed and restarted
 *
 *  - as a plain value (checkpoint(value), no types), and
 *  - as a declared type, `fields: { id: 'uv', next: ref(() => ChainT) }`
 *    (the same objects),
 *
 * on both backends: time (interleaved rounds in this process, every
 * restart walked to the end and its ids checked) and peak memory, and
 * how deep v8.serialize and msgpackr (structuredClone) get on the same
 * kind of list: both recurse, and throw a RangeError (stack overflow)
 * after some thousand levels; the depth is found by bisection on shorter
 * lists, from this shallow stack.
 *
 * Peak memory is measured in a fresh child process per (input, backend,
 * call) (w8-child.ts), so nothing else has raised the process's
 * high-water mark: build the input (for restart: read the image from a
 * file), full GC, RSS before; the call; peak RSS growth = maxRSS after the
 * call − RSS before.  "≤" marks a call that did not raise the high-water
 * mark left by building the input (the growth is then at most that).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { Packr } from 'msgpackr';
import { checkpoint, defineObjType, ref, restart, type ImplName, type ObjType } from '../../lib/index.js';
import type { BenchConfig, Env } from '../run.js';
import { childJson, heapAfterGc } from '../harness.js';
import { fmtBytes, fmtInt, fmtMs, type Table } from '../report.js';
import { measureCodecs, sameImages, type Codec, type CodecCase } from './w1.js';

export interface ChainNode {
  id: number;
  next: ChainNode | null;
}

export const ChainT: ObjType<ChainNode> = defineObjType<ChainNode>({ name: 'chain', fields: { id: 'uv', next: ref(() => ChainT) } });

/** head (id 0) -> 1 -> ... -> n-1 -> null. */
export function buildChain(n: number): ChainNode {
  let l: ChainNode | null = null;
  for (let i = n - 1; i >= 0; i--) l = { id: i, next: l };
  return l!;
}

/** Throws unless `back` is a restored chain of n nodes with ids 0..n-1. */
export function verifyChain(back: ChainNode | null, orig: ChainNode, n: number, label: string): void {
  if (back === orig) throw new Error(`bench: ${label}: the head is the original object`);
  let i = 0;
  for (let x = back; x !== null; x = x.next) {
    if (x.id !== i) throw new Error(`bench: ${label}: node ${i} has id ${x?.id}`);
    i++;
  }
  if (i !== n) throw new Error(`bench: ${label}: ${i} nodes, expected ${n}`);
}

export type ChainKind = 'plain' | 'fields';
export const CHAIN_KINDS: readonly ChainKind[] = ['plain', 'fields'];

export function chainCodec(kind: ChainKind, impl: ImplName): Codec<ChainNode> {
  if (kind === 'plain') {
    const o = { impl };
    return { ckpt: (c) => checkpoint(c, o), rst: (img) => restart(img, o) as ChainNode };
  }
  const o = { impl, types: [ChainT] };
  return { ckpt: (c) => checkpoint(c, ChainT, o), rst: (img) => restart(img, ChainT, o) };
}

/** What a child process measured (w8-child.ts prints it as JSON). */
export interface ChildMemory {
  ms: number;
  /** RSS before the call (after a full GC). */
  rssBefore: number;
  /** maxRSS after the call − rssBefore. */
  peakGrowth: number;
  /** Whether the call raised the process's high-water mark (else peakGrowth is an upper bound). */
  raisedPeak: boolean;
}

export interface W8Row {
  kind: ChainKind;
  backend: 'native' | 'twin';
  checkpointMs: number;
  restartMs: number;
  totalMs: number;
  bytes: number;
  samples: number;
  memCheckpoint: ChildMemory | string;
  memRestart: ChildMemory | string;
}

export interface AnchorDepth {
  name: 'v8' | 'msgpackr';
  /** Deepest list that serialized (null: even depth 1 failed). */
  okAt: number | null;
  /** Shallowest list that threw a RangeError (null: none up to the chain's depth). */
  failsAt: number | null;
  error: string | null;
}

export interface W8Result {
  id: 'W8';
  depth: number;
  /** JS heap of the input list (after full GCs), for scale. */
  inputHeapBytes: number;
  rows: W8Row[];
  anchors: AnchorDepth[];
}

/** Deepest list `ser` handles, by bisection (only RangeErrors count as failing). */
export function overflowDepth(name: AnchorDepth['name'], ser: (c: ChainNode) => unknown, max: number): AnchorDepth {
  let error: string | null = null;
  const fails = (n: number): boolean => {
    try {
      ser(buildChain(n));
      return false;
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      error = `${e.name}: ${e.message}`;
      return true;
    }
  };
  let lo = 0; // deepest known to work (0: none known)
  let hi = 1;
  while (hi < max && !fails(hi)) {
    lo = hi;
    hi = Math.min(max, hi * 2);
  }
  if (hi >= max && !fails(max)) return { name, okAt: max, failsAt: null, error: null };
  while (hi - lo > 1) {
    const m = (lo + hi) >> 1;
    if (fails(m)) hi = m;
    else lo = m;
  }
  return { name, okAt: lo || null, failsAt: hi, error };
}

function childMemory(mode: 'checkpoint' | 'restart', kind: ChainKind, impl: ImplName, n: number, file: string): ChildMemory | string {
  return childJson<ChildMemory>(['--expose-gc'], path.join(__dirname, 'w8-child.js'), [mode, kind, impl, String(n), file], 600_000);
}

export async function runW8(cfg: BenchConfig, env: Env): Promise<W8Result> {
  const n = cfg.depthN;
  const backends: ('native' | 'twin')[] = env.nativeAvailable ? ['native', 'twin'] : ['twin'];
  const impl = (b: 'native' | 'twin'): ImplName => (b === 'native' ? 'native' : 'js');

  env.log(`W8: v8.serialize and msgpackr depth by bisection`);
  const packr = new Packr({ structuredClone: true });
  const anchors = [overflowDepth('v8', (c) => v8.serialize(c), n), overflowDepth('msgpackr', (c) => packr.pack(c), n)];

  env.log(`W8 depth ${n}: peak memory, one child process per call`);
  const dir = mkdtempSync(path.join(tmpdir(), 'objhash-bench-w8-'));
  const mem = new Map<string, [ChildMemory | string, ChildMemory | string]>();
  try {
    for (const kind of CHAIN_KINDS)
      for (const b of backends) {
        const file = path.join(dir, `${kind}-${b}.img`);
        const ck = childMemory('checkpoint', kind, impl(b), n, file);
        const rs = typeof ck === 'string' ? 'no image (checkpoint failed)' : childMemory('restart', kind, impl(b), n, file);
        mem.set(`${kind} ${b}`, [ck, rs]);
      }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  env.log(`W8 depth ${n}: building the list`);
  const h0 = heapAfterGc();
  const head = buildChain(n);
  const inputHeapBytes = heapAfterGc() - h0;
  const list: CodecCase<ChainNode>[] = [];
  for (const kind of CHAIN_KINDS) {
    if (env.nativeAvailable) sameImages(chainCodec(kind, 'native'), chainCodec(kind, 'js'), head, `W8 ${kind}`);
    for (const b of backends) list.push({ name: `${kind} ${b}`, codec: chainCodec(kind, impl(b)) });
  }
  env.log(`W8 depth ${n}: measuring ${list.length} implementations, ${cfg.depthRounds} rounds`);
  const t = await measureCodecs(head, list, (back, name) => verifyChain(back, head, n, `W8 ${name}`), {
    rounds: cfg.depthRounds,
    iterations: 1,
    warmup: false,
  });
  const rows: W8Row[] = [];
  for (const kind of CHAIN_KINDS)
    for (const b of backends) {
      const x = t.get(`${kind} ${b}`)!;
      const [memCheckpoint, memRestart] = mem.get(`${kind} ${b}`)!;
      rows.push({ kind, backend: b, ...x, memCheckpoint, memRestart });
    }
  return { id: 'W8', depth: n, inputHeapBytes, rows, anchors };
}

function fmtMem(m: ChildMemory | string): string {
  if (typeof m === 'string') return m;
  return `${m.raisedPeak ? '' : '≤ '}${fmtBytes(m.peakGrowth)}`;
}

export function w8Table(r: W8Result): Table {
  const rows: string[][] = [];
  const depth = fmtInt(r.depth);
  for (const x of r.rows)
    rows.push([
      x.kind === 'plain' ? 'list, plain value' : "list, fields ref(() => T)",
      `objhash ${x.backend}`,
      `ok (${depth} levels)`,
      fmtMs(x.checkpointMs),
      fmtMs(x.restartMs),
      fmtMs(x.totalMs),
      fmtBytes(x.bytes),
      fmtMem(x.memCheckpoint),
      fmtMem(x.memRestart),
      String(x.samples),
    ]);
  for (const a of r.anchors)
    rows.push([
      'list, plain value',
      a.name === 'v8' ? 'v8.serialize' : 'msgpackr pack',
      a.failsAt === null
        ? `ok (${fmtInt(a.okAt ?? 0)} levels)`
        : `stack overflow at depth ${fmtInt(a.failsAt)}${a.okAt ? ` (ok at ${fmtInt(a.okAt)})` : ''}`,
      '',
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
  return {
    title: `W8 - depth: a ${depth}-deep linked list { id, next }, checkpoint + restart`,
    columns: ['input', 'impl', 'result', 'ckpt ms', 'restart ms', 'total ms', 'image', 'ckpt peak RSS', 'restart peak RSS', 'n'],
    rows,
    notes: [
      `ms: medians of interleaved rounds, every restart walked to the end; the input list itself is ${fmtBytes(r.inputHeapBytes)} of JS heap.`,
      'peak RSS: growth of the resident set during the one call, in a fresh child process (maxRSS after − RSS before, after a full GC); ≤: the call did not raise the high-water mark of building its input.',
      'v8/msgpackr: both recurse; the depth of the first RangeError (bisection on shorter lists, same shape, from a shallow stack).',
      ...(r.anchors.map((a) => a.error).find((e) => e) ? [`their error: ${r.anchors.map((a) => a.error).find((e) => e)}`] : []),
    ],
  };
}
