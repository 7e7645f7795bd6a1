/**
 * W4 - the restart side: insert N objrefs (1..N, in order, as restart
 * meets them), then fetch them all back in a random order.
 *
 *  insert: per call h.insert(key, objref, type) with numeric keys; batch
 *          h.insertMany(keys, objrefs) and insertMany(null, objrefs) (no
 *          keys: restart's own case, entries found by objref only), in
 *          64k chunks.  Each sample is a fresh table (free() not timed).
 *  fetch:  per call h.fetch(objref, type) (returns the key); batch
 *          h.fetchMany(objrefs, type, Float64Array) in 64k chunks; on a
 *          table filled once with keys.
 *  Map:    the table a JS restart would use: Map<number, number>,
 *          objref -> value (set in order, get in the random order).
 */
import { ObjHash, type ImplName } from '../../lib/index.js';
import { measure, type Group } from '../harness.js';
import type { BenchConfig, Env } from '../run.js';
import { fmtInt, fmtNs, fmtRatio, type Table } from '../report.js';
import { CHUNK, PageT, shuffle, uniqueAddresses } from './w3.js';

export interface W4Row {
  op: 'insert' | 'fetch';
  impl: 'native' | 'twin' | 'Map';
  mode: string;
  nsPerOp: number;
  vsMap: number;
  /** ns ÷ twin ns in the same mode (native rows). */
  vsTwin: number | null;
  samples: number;
}

export interface W4Result {
  id: 'W4';
  n: number;
  rows: W4Row[];
}

function insertPerCall(impl: ImplName, keys: Float64Array, refs: Int32Array): ObjHash {
  const h = new ObjHash({ impl });
  const n = refs.length;
  for (let i = 0; i < n; i++) h.insert(keys[i]!, refs[i]!, PageT);
  return h;
}

function insertBatch(impl: ImplName, keys: Float64Array | null, refs: Int32Array): ObjHash {
  const h = new ObjHash({ impl });
  const n = refs.length;
  for (let off = 0; off < n; off += CHUNK) {
    const end = Math.min(n, off + CHUNK);
    h.insertMany(keys === null ? null : keys.subarray(off, end), refs.subarray(off, end), PageT);
  }
  return h;
}

function mapInsert(keys: Float64Array, refs: Int32Array): Map<number, number> {
  const m = new Map<number, number>();
  const n = refs.length;
  for (let i = 0; i < n; i++) m.set(refs[i]!, keys[i]!);
  return m;
}

export async function runW4(cfg: BenchConfig, env: Env): Promise<W4Result> {
  const n = cfg.w4N;
  const impls: ('native' | 'twin')[] = env.nativeAvailable ? ['native', 'twin'] : ['twin'];
  const implName = (i: 'native' | 'twin'): ImplName => (i === 'native' ? 'native' : 'js');
  env.log(`W4 N=${n}: generating`);
  const keys = uniqueAddresses(n, 0x4a4);
  const refs = new Int32Array(n);
  for (let i = 0; i < n; i++) refs[i] = i + 1;
  const order = shuffle(Int32Array.from(refs), 0xf37c);
  const big = n >= 100_000;
  const opts = { rounds: big ? cfg.w4Rounds : cfg.w3Rounds, iterations: big ? 1 : Math.max(1, Math.round(cfg.w3SmallOps / n)), warmup: !big, gcEachGroup: big };

  // ---- insert
  const checkSize = (h: ObjHash | Map<number, number>, label: string): void => {
    const size = h instanceof ObjHash ? h.size : h.size;
    if (size !== n) throw new Error(`bench: W4 ${label}: ${size} entries, expected ${n}`);
    if (h instanceof ObjHash) {
      const probe = refs[n >> 1]!;
      const k = h.fetch(probe, PageT);
      const want = label.includes('no keys') ? 0 : keys[probe - 1]!;
      if (k !== want) throw new Error(`bench: W4 ${label}: fetch(${probe}) = ${String(k)}, expected ${want}`);
      h.free();
    }
  };
  const insertGroups: Group[] = [];
  const addInsert = (name: string, run: () => ObjHash | Map<number, number>): void => {
    let res: ObjHash | Map<number, number> | null = null;
    insertGroups.push({
      name,
      cases: [
        {
          name,
          fn: () => {
            res = run();
          },
          after: () => {
            checkSize(res!, name);
            res = null;
          },
        },
      ],
    });
  };
  for (const i of impls) {
    addInsert(`${i} per call`, () => insertPerCall(implName(i), keys, refs));
    addInsert(`${i} batch`, () => insertBatch(implName(i), keys, refs));
    addInsert(`${i} batch, no keys`, () => insertBatch(implName(i), null, refs));
  }
  addInsert('Map per call', () => mapInsert(keys, refs));
  env.log(`W4 insert: ${insertGroups.length} variants, ${opts.rounds} rounds`);
  const mi = await measure(insertGroups, opts);

  // ---- fetch, from tables filled once
  const tables = new Map<string, ObjHash>();
  for (const i of impls) tables.set(i, insertBatch(implName(i), keys, refs));
  const map = mapInsert(keys, refs);
  const out = new Float64Array(n);
  const check = (label: string): void => {
    for (let j = 0; j < n; j++)
      if (out[j] !== keys[order[j]! - 1]) throw new Error(`bench: W4 ${label}: fetch of objref ${order[j]} gave ${out[j]}`);
  };
  const fetchGroups: Group[] = [];
  const addFetch = (name: string, run: () => void): void => {
    fetchGroups.push({ name, cases: [{ name, before: () => out.fill(0), fn: run, after: () => check(name) }] });
  };
  for (const i of impls) {
    const h = tables.get(i)!;
    addFetch(`${i} per call`, () => {
      for (let j = 0; j < n; j++) out[j] = h.fetch(order[j]!, PageT) as number;
    });
    addFetch(`${i} batch`, () => {
      for (let off = 0; off < n; off += CHUNK) {
        const end = Math.min(n, off + CHUNK);
        h.fetchMany(order.subarray(off, end), PageT, out.subarray(off, end));
      }
    });
  }
  addFetch('Map per call', () => {
    for (let j = 0; j < n; j++) out[j] = map.get(order[j]!)!;
  });
  env.log(`W4 fetch: ${fetchGroups.length} variants, ${opts.rounds} rounds`);
  const mf = await measure(fetchGroups, opts);
  for (const h of tables.values()) h.free();

  const rows: W4Row[] = [];
  for (const [op, m] of [['insert', mi], ['fetch', mf]] as const) {
    const ns = (name: string) => (m.get(name)!.median * 1e6) / n;
    const mapNs = ns('Map per call');
    for (const name of m.keys()) {
      const [impl, ...rest] = name.split(' ');
      const mode = rest.join(' ');
      rows.push({
        op,
        impl: impl as W4Row['impl'],
        mode,
        nsPerOp: ns(name),
        vsMap: ns(name) / mapNs,
        vsTwin: impl === 'native' ? ns(name) / ns(`twin ${mode}`) : null,
        samples: m.get(name)!.samples.length,
      });
    }
  }
  return { id: 'W4', n, rows };
}

export function w4Table(r: W4Result): Table {
  return {
    title: `W4 - restart side: insert and fetch of ${fmtInt(r.n)} objrefs`,
    columns: ['op', 'impl', 'mode', 'ns/op', 'vs Map', 'vs twin', 'n'],
    rows: r.rows.map((x) => [x.op, x.impl, x.mode, fmtNs(x.nsPerOp), fmtRatio(x.vsMap), fmtRatio(x.vsTwin), String(x.samples)]),
    notes: [
      'ns per insert / fetch (medians); ratios are time ÷ the other\'s (lower is better).',
      'insert: objrefs 1..N in order, with numeric keys (per call, batch) or none (batch, no keys: restart\'s case); fetch: a random order, returning the keys.',
      'Map = Map<number, number> objref -> value (no key index).',
    ],
  };
}
