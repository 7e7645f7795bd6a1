/**
 * W3 - numeric keys: lookupAdd of N random 16-byte-aligned 48-bit
 * addresses, half of them repeats (N/2 distinct keys, each met twice, in a
 * random order).  Per call (h.lookupAdd(number, type) in a loop) and batch
 * (h.lookupAddMany(Float64Array) in 64k chunks), native vs twin vs the
 * honest pure-JS code, a Map<number, number> handing out objrefs.  Each
 * sample is a fresh table (created inside the timed region; free() is not
 * timed) and all N keys.  Every sample's objrefs are checked against the
 * Map's.  Then the fixed 1024-bucket mode, to show why the table grows.
 */
import { ObjHash, defineObjType, type ImplName } from '../../lib/index.js';
import { heapAfterGc, measure, type Group, type Measured } from '../harness.js';
import { rng } from '../graph.js';
import type { BenchConfig, Env } from '../run.js';
import { fmtBytesPer, fmtInt, fmtNs, fmtRatio, type Table } from '../report.js';

export const PageT = defineObjType<number>({ name: 'page' });
export const CHUNK = 65536;

// ------------------------------------------------------------------- keys

const MASK22 = 0x3fffff;
const TWO22 = 0x400000;
const ROUND_KEYS = [0x9e3779b9, 0x7f4a7c15, 0x85ebca6b, 0xc2b2ae35];

/** A bijection on [0, 2^44): a 4-round Feistel network over 22-bit halves. */
function permute44(i: number, seed: number): number {
  let l = Math.floor(i / TWO22);
  let r = i % TWO22;
  for (let k = 0; k < 4; k++) {
    let x = Math.imul(r ^ ROUND_KEYS[k]! ^ seed, 0x2c1b3c6d);
    x ^= x >>> 15;
    x = Math.imul(x, 0x297a2d39);
    x ^= x >>> 13;
    const f = (x >>> 5) & MASK22;
    const nl = r;
    r = l ^ f;
    l = nl;
  }
  return l * TWO22 + r;
}

/**
 * n distinct 16-byte-aligned addresses below 2^48 (never 0), looking
 * random: permute44(i) * 16.
 */
export function uniqueAddresses(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let j = 0;
  for (let i = 0; j < n; i++) {
    const x = permute44(i, seed);
    if (x !== 0) out[j++] = x * 16;
  }
  return out;
}

/** Fisher-Yates, seeded. */
export function shuffle<A extends { length: number; [i: number]: number }>(a: A, seed: number): A {
  const rand = rng(seed);
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const x = a[i]!;
    a[i] = a[j]!;
    a[j] = x;
  }
  return a;
}

/** N keys: N/2 distinct addresses, each twice, shuffled (50% repeats). */
export function w3Keys(n: number): Float64Array {
  const u = uniqueAddresses(n >> 1, 0x3a5);
  const keys = new Float64Array(n);
  keys.set(u, 0);
  keys.set(u, n >> 1);
  if (n % 2 === 1) keys[n - 1] = u[0]!;
  return shuffle(keys, 0xbeef ^ n);
}

// ------------------------------------------------------------- the variants

/** lookupAdd per call over all keys into out; returns the hash. */
function perCall(impl: ImplName, keys: Float64Array, out: Int32Array, opts: { fixed?: boolean } = {}): ObjHash {
  const h = new ObjHash({ impl, fixed: opts.fixed });
  const n = keys.length;
  for (let i = 0; i < n; i++) out[i] = h.lookupAdd(keys[i]!, PageT).objref;
  return h;
}

/** lookupAddMany in CHUNK-key chunks over all keys into out; returns the hash. */
function batch(impl: ImplName, keys: Float64Array | BigUint64Array, out: Int32Array, opts: { fixed?: boolean } = {}): ObjHash {
  const h = new ObjHash({ impl, fixed: opts.fixed });
  const n = keys.length;
  for (let off = 0; off < n; off += CHUNK) {
    const end = Math.min(n, off + CHUNK);
    h.lookupAddMany(keys.subarray(off, end), PageT, out.subarray(off, end));
  }
  return h;
}

/** What a user writes without objhash: a Map from key to objref. */
function mapLookupAdd(keys: Float64Array, out: Int32Array): Map<number, number> {
  const m = new Map<number, number>();
  let next = 1;
  const n = keys.length;
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    let r = m.get(k);
    if (r === undefined) {
      r = next++;
      m.set(k, r);
    }
    out[i] = r;
  }
  return m;
}

function sameInts(a: Int32Array, b: Int32Array, label: string): void {
  if (a.length !== b.length) throw new Error(`bench: ${label}: length ${a.length} vs ${b.length}`);
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i]) throw new Error(`bench: ${label}: objref[${i}] = ${a[i]}, expected ${b[i]}`);
}

// --------------------------------------------------------------- results

export interface W3Row {
  n: number;
  impl: 'native' | 'twin' | 'Map';
  mode: string;
  fixed: boolean;
  nsPerOp: number;
  /** ns/op ÷ the Map's ns/op. */
  vsMap: number | null;
  /** ns/op ÷ the twin's ns/op in the same mode (native rows). */
  vsTwin: number | null;
  /** ns/op ÷ the growing table's (fixed rows). */
  vsGrowing: number | null;
  bytesPerEntry: number | null;
  entries: number;
  buckets: number | null;
  samples: number;
  rounds: number;
  /** Rounds planned (fewer ran when the case hit its time bound). */
  plannedRounds: number;
}

export interface W3Result {
  id: 'W3';
  rows: W3Row[];
}

interface Variant {
  impl: 'native' | 'twin' | 'Map';
  mode: string;
  fixed: boolean;
  run: (out: Int32Array) => ObjHash | Map<number, number>;
}

async function measureVariants(
  n: number,
  keys: Float64Array,
  variants: Variant[],
  ref: Int32Array,
  cfg: BenchConfig,
  env: Env,
  label: string,
): Promise<{ m: Map<string, Measured>; mem: Map<string, { bytes: number; entries: number; buckets: number | null }>; rounds: number }> {
  const mem = new Map<string, { bytes: number; entries: number; buckets: number | null }>();
  const out = new Int32Array(n);
  const groups: Group[] = variants.map((v) => {
    const name = `${v.impl} ${v.mode}${v.fixed ? ' fixed' : ''}`;
    let res: ObjHash | Map<number, number> | null = null;
    return {
      name,
      cases: [
        {
          name,
          before: () => out.fill(0),
          fn: () => {
            res = v.run(out);
          },
          after: () => {
            const r = res!;
            res = null;
            if (r instanceof ObjHash) {
              if (!mem.has(name)) mem.set(name, { bytes: r.memoryBytes, entries: r.size, buckets: r.buckets });
              r.free();
            }
            sameInts(out, ref, `${label} ${name}`);
          },
        },
      ],
    };
  });
  const big = n >= cfg.w3BigN;
  const rounds = n >= cfg.w3HugeN ? cfg.w3HugeRounds : big ? cfg.w3BigRounds : cfg.w3Rounds;
  const iterations = big ? 1 : Math.max(1, Math.round(cfg.w3SmallOps / n));
  env.log(`${label}: ${groups.length} variants, ${rounds} rounds x ${iterations}`);
  const m = await measure(groups, {
    rounds,
    iterations,
    warmup: !big,
    gcEachGroup: n >= 100_000,
    maxMsPerCase: n >= cfg.w3HugeN ? cfg.w3HugeMaxMs : undefined,
  });
  return { m, mem, rounds };
}

/** Heap bytes per entry of the Map baseline (after full GCs). */
function mapBytesPerEntry(keys: Float64Array): { bytes: number; entries: number } {
  const out = new Int32Array(keys.length);
  const before = heapAfterGc();
  const m = mapLookupAdd(keys, out);
  const after = heapAfterGc();
  const entries = m.size;
  return { bytes: Math.max(0, after - before), entries };
}

export async function runW3(cfg: BenchConfig, env: Env): Promise<W3Result> {
  const rows: W3Row[] = [];
  const impls: ('native' | 'twin')[] = env.nativeAvailable ? ['native', 'twin'] : ['twin'];
  const implName = (i: 'native' | 'twin'): ImplName => (i === 'native' ? 'native' : 'js');

  for (const n of cfg.w3Sizes) {
    const label = `W3 N=${n}`;
    env.log(`${label}: generating keys`);
    const keys = w3Keys(n);
    const ref = new Int32Array(n);
    mapLookupAdd(keys, ref);
    const variants: Variant[] = [];
    for (const i of impls) {
      variants.push({ impl: i, mode: 'per call', fixed: false, run: (out) => perCall(implName(i), keys, out) });
      variants.push({ impl: i, mode: 'batch', fixed: false, run: (out) => batch(implName(i), keys, out) });
    }
    if (env.nativeAvailable && cfg.w3BigintAt.includes(n)) {
      const big = BigUint64Array.from(keys, (k) => BigInt(k));
      variants.push({ impl: 'native', mode: 'batch bigint', fixed: false, run: (out) => batch('native', big, out) });
    }
    variants.push({ impl: 'Map', mode: 'per call', fixed: false, run: (out) => mapLookupAdd(keys, out) });
    const { m, mem, rounds } = await measureVariants(n, keys, variants, ref, cfg, env, label);
    env.log(`${label}: Map memory`);
    const mapMem = mapBytesPerEntry(keys);
    const ns = (name: string) => (m.get(name)!.median * 1e6) / n;
    const mapNs = ns('Map per call');
    for (const v of variants) {
      const name = `${v.impl} ${v.mode}`;
      const x = m.get(name)!;
      const mm = v.impl === 'Map' ? { ...mapMem, buckets: null } : mem.get(name)!;
      const twinMode = v.mode === 'batch bigint' ? 'batch' : v.mode;
      rows.push({
        n,
        impl: v.impl,
        mode: v.mode,
        fixed: false,
        nsPerOp: ns(name),
        vsMap: ns(name) / mapNs,
        vsTwin: v.impl === 'native' ? ns(name) / ns(`twin ${twinMode}`) : null,
        vsGrowing: null,
        bytesPerEntry: mm.entries > 0 ? mm.bytes / mm.entries : null,
        entries: mm.entries,
        buckets: mm.buckets,
        samples: x.samples.length,
        rounds: x.rounds,
        plannedRounds: rounds,
      });
    }
  }

  // The kernel's fixed 1024 buckets against the growing table.
  for (const n of cfg.w3FixedSizes) {
    const label = `W3 fixed N=${n}`;
    const keys = w3Keys(n);
    const ref = new Int32Array(n);
    mapLookupAdd(keys, ref);
    const variants: Variant[] = [];
    for (const i of impls) {
      variants.push({ impl: i, mode: 'batch', fixed: true, run: (out) => batch(implName(i), keys, out, { fixed: true }) });
      variants.push({ impl: i, mode: 'per call', fixed: true, run: (out) => perCall(implName(i), keys, out, { fixed: true }) });
      variants.push({ impl: i, mode: 'batch', fixed: false, run: (out) => batch(implName(i), keys, out) });
      variants.push({ impl: i, mode: 'per call', fixed: false, run: (out) => perCall(implName(i), keys, out) });
    }
    const { m, mem, rounds } = await measureVariants(n, keys, variants, ref, cfg, env, label);
    const ns = (name: string) => (m.get(name)!.median * 1e6) / n;
    for (const v of variants) {
      const name = `${v.impl} ${v.mode}${v.fixed ? ' fixed' : ''}`;
      const x = m.get(name)!;
      const mm = mem.get(name)!;
      rows.push({
        n,
        impl: v.impl,
        mode: v.mode,
        fixed: v.fixed,
        nsPerOp: ns(name),
        vsMap: null,
        vsTwin: null,
        vsGrowing: ns(name) / ns(`${v.impl} ${v.mode}`),
        bytesPerEntry: mm.bytes / mm.entries,
        entries: mm.entries,
        buckets: mm.buckets,
        samples: x.samples.length,
        rounds: x.rounds,
        plannedRounds: rounds,
      });
    }
  }
  return { id: 'W3', rows };
}

export function w3Tables(r: W3Result): Table[] {
  const main = r.rows.filter((x) => x.vsGrowing === null);
  const fixed = r.rows.filter((x) => x.vsGrowing !== null);
  return [
    {
      title: 'W3 - numeric keys: lookupAdd of N 48-bit addresses, 50% repeats',
      columns: ['N', 'impl', 'mode', 'ns/op', 'vs Map', 'vs twin', 'bytes/entry', 'entries', 'buckets', 'n'],
      rows: main.map((x) => [
        fmtInt(x.n),
        x.impl,
        x.mode,
        fmtNs(x.nsPerOp),
        fmtRatio(x.vsMap),
        fmtRatio(x.vsTwin),
        fmtBytesPer(x.bytesPerEntry),
        fmtInt(x.entries),
        x.buckets === null ? '' : fmtInt(x.buckets),
        x.rounds < x.plannedRounds ? `${x.samples} (time-bounded)` : String(x.samples),
      ]),
      notes: [
        'ns per lookupAdd (medians; each sample = a new table + all N keys); ratios are time ÷ the other\'s (lower is better).',
        'batch = lookupAddMany over 64k-key chunks of a Float64Array (bigint: BigUint64Array); Map = Map<number, number> handing out objrefs.',
        'bytes/entry: objhash memoryBytes ÷ size; Map: heap growth after full GCs ÷ size (keys are boxed numbers there).',
      ],
    },
    {
      title: 'W3 - the kernel\'s fixed 1024 buckets vs the growing table',
      columns: ['N', 'impl', 'mode', 'buckets', 'ns/op', 'vs growing', 'bytes/entry', 'n'],
      rows: fixed.map((x) => [
        fmtInt(x.n),
        x.impl,
        x.fixed ? `${x.mode}, fixed` : `${x.mode}, growing`,
        x.buckets === null ? '' : fmtInt(x.buckets),
        fmtNs(x.nsPerOp),
        fmtRatio(x.vsGrowing),
        fmtBytesPer(x.bytesPerEntry),
        String(x.samples),
      ]),
      notes: ['with 1024 buckets, chains grow as N/2048 entries and every lookup walks them; growth keeps them at about 1.'],
    },
  ];
}
