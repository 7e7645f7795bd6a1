/**
 * Unit tests of the pure-JS twin (lib/js/) alone: hash_long and CRC-32C
 * against the independent vectors, then the Backend contract of jsBackend
 * (objref sequence, errors, growth, fixed mode, grab/drop, re-entrance,
 * the batch paths and their partial failures, EBADF after free).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRNO, FLAG_FIXED, FLAG_MULT_2009, TYPE_DROP, TYPE_GRAB } from '../lib/backend/codes.js';
import type { CoreHandle, Key } from '../lib/backend/contract.js';
import { jsBackend as B } from '../lib/js/adapter.js';
import { crc32c } from '../lib/js/crc32c.js';
import { hashLong32, hashLongBig, joinKey, mulhi32, splitKey, keyWords } from '../lib/js/hash64.js';
import { rng } from './helpers.js';

const E = (name: keyof typeof ERRNO): number => -ERRNO[name];

interface Vectors {
  multipliers: { current: string; '2009': string };
  cases: { key: string; bits: number; current: number; '2009': number }[];
  page_aligned_4096: { bits: number; distinct_buckets_current: number; distinct_buckets_2009: number };
  crc32c: ({ ascii: string; crc: string } | { bytes: string; crc: string })[];
}
const vectors = JSON.parse(
  readFileSync(join(__dirname, 'vectors', 'hash_long-crc32c.json'), 'utf8'),
) as Vectors;



function random64(r: () => number): bigint {
  return (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));
}

/** A live handle (create must not fail here). */
function make(nbits = 0, flags = 0, maxLoad = 0, grab?: Parameters<typeof B.create>[3], drop?: Parameters<typeof B.create>[4]): CoreHandle {
  const h = B.create(nbits, flags, maxLoad, grab, drop);
  if (typeof h === 'number') throw new Error(`create failed: ${h}`);
  return h;
}

/** Bitwise CRC-32C, the reference for the table-driven one. */
function crcRef(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('hash_long', () => {
  it('matches every vector for both multipliers, as bigint and as number keys', () => {
    expect(BigInt(vectors.multipliers.current)).toBe(0x61c8864680b583ebn);
    expect(BigInt(vectors.multipliers['2009'])).toBe(0x9e37fffffffc0001n);
    expect(vectors.cases.length).toBeGreaterThan(0);
    for (const c of vectors.cases) {
      const k = BigInt(c.key);
      expect(B.hashLong(k, c.bits, false), `current ${c.key}/${c.bits}`).toBe(c.current);
      expect(B.hashLong(k, c.bits, true), `2009 ${c.key}/${c.bits}`).toBe(c['2009']);
      expect(Number(hashLongBig(k, c.bits, false))).toBe(c.current);
      expect(Number(hashLongBig(k, c.bits, true))).toBe(c['2009']);
      if (k <= BigInt(Number.MAX_SAFE_INTEGER)) {
        expect(B.hashLong(Number(k), c.bits, false)).toBe(c.current);
        expect(B.hashLong(Number(k), c.bits, true)).toBe(c['2009']);
      }
    }
  });

  it('spreads 4096 page-aligned addresses over 1024 buckets today, 2 with the 2009 multiplier', () => {
    const p = vectors.page_aligned_4096;
    const cur = new Set<number>();
    const old = new Set<number>();
    for (let i = 0; i < 4096; i++) {
      const key = 0x7f0000000000 + i * 4096;
      cur.add(B.hashLong(key, p.bits, false));
      old.add(B.hashLong(key, p.bits, true));
    }
    expect(cur.size).toBe(p.distinct_buckets_current);
    expect(old.size).toBe(p.distinct_buckets_2009);
    expect(cur.size).toBe(1024);
    expect(old.size).toBe(2);
  });

  it('the 32-bit split path equals BigInt arithmetic for random keys and every bits 1..32', () => {
    const r = rng(1);
    for (let n = 0; n < 2000; n++) {
      const k = n < 8 ? [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n - 1n, 2n ** 53n][n]! : random64(r);
      expect(splitKey(k)).toBe(true);
      for (let bits = 1; bits <= 32; bits++) {
        const want = Number(hashLongBig(k, bits, n % 2 === 1));
        expect(hashLong32(keyWords.lo, keyWords.hi, bits, n % 2 === 1)).toBe(want);
      }
    }
  });

  it('mulhi32 is the high word of the 64-bit product', () => {
    const r = rng(2);
    const edge = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];
    for (let n = 0; n < 5000; n++) {
      const a = n < 49 ? edge[n % 7]! : Math.floor(r() * 2 ** 32);
      const b = n < 49 ? edge[Math.floor(n / 7)]! : Math.floor(r() * 2 ** 32);
      expect(mulhi32(a | 0, b | 0)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
    }
  });

  it('rejects bad keys and bits with a TypeError', () => {
    for (const k of [1.5, -1, NaN, Infinity, 2 ** 53, '1', null, undefined, {}, -1n, 2n ** 64n]) {
      expect(() => B.hashLong(k as Key, 10, false), String(k)).toThrow(TypeError);
    }
    for (const bits of [0, 33, 64, 1.5, -1]) expect(() => B.hashLong(1, bits, false)).toThrow(TypeError);
    expect(B.hashLong(0, 10, false)).toBe(0);
  });

  it('joinKey returns numbers up to MAX_SAFE_INTEGER, bigints above', () => {
    expect(joinKey(0, 0)).toBe(0);
    expect(joinKey(-1, 0x1fffff)).toBe(Number.MAX_SAFE_INTEGER);
    expect(joinKey(0, 0x200000)).toBe(2n ** 53n);
    expect(joinKey(-1, -1)).toBe(2n ** 64n - 1n);
  });
});

describe('crc32c', () => {
  const fromVector = (v: Vectors['crc32c'][number]): Uint8Array => {
    if ('ascii' in v) return new TextEncoder().encode(v.ascii);
    if (v.bytes === '32 zero bytes') return new Uint8Array(32);
    if (v.bytes === '32 bytes of 0xff') return new Uint8Array(32).fill(0xff);
    throw new Error(`unknown vector ${v.bytes}`);
  };

  it('matches the vectors', () => {
    expect(vectors.crc32c.length).toBe(4);
    for (const v of vectors.crc32c) {
      const bytes = fromVector(v);
      expect(B.crc32c(bytes, 0), JSON.stringify(v)).toBe(Number(v.crc));
      expect(crc32c(bytes)).toBe(Number(v.crc));
      expect(crcRef(bytes)).toBe(Number(v.crc));
    }
    expect(B.crc32c(new TextEncoder().encode('123456789'), 0)).toBe(0xe3069283);
  });

  it('equals the bitwise reference at every length, offset and split point', () => {
    const r = rng(3);
    const buf = new Uint8Array(4200).map(() => Math.floor(r() * 256));
    for (let off = 0; off < 8; off++) {
      for (const len of [0, 1, 3, 4, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, 4100]) {
        const v = buf.subarray(off, off + len);
        const want = crcRef(v);
        expect(B.crc32c(v, 0), `off ${off} len ${len}`).toBe(want);
        for (const cut of [0, 1, 7, 64, len >> 1, len]) {
          if (cut > len) continue;
          expect(B.crc32c(v.subarray(cut), B.crc32c(v.subarray(0, cut), 0))).toBe(want);
        }
      }
    }
  });

  it('extends a running CRC, takes Uint8ClampedArray and Buffer, rejects the rest', () => {
    const a = new TextEncoder().encode('hello, ');
    const b = new TextEncoder().encode('world');
    const ab = new TextEncoder().encode('hello, world');
    expect(B.crc32c(b, B.crc32c(a, 0))).toBe(B.crc32c(ab, 0));
    expect(B.crc32c(new Uint8ClampedArray(ab) as unknown as Uint8Array, 0)).toBe(B.crc32c(ab, 0));
    expect(B.crc32c(Buffer.from(ab), 0)).toBe(B.crc32c(ab, 0));
    expect(B.crc32c(ab, undefined as unknown as number)).toBe(B.crc32c(ab, 0));
    expect(() => B.crc32c(new Int8Array(3) as unknown as Uint8Array, 0)).toThrow(TypeError);
    expect(() => B.crc32c([1, 2] as unknown as Uint8Array, 0)).toThrow(TypeError);
    expect(() => B.crc32c(ab, -1)).toThrow(TypeError);
    expect(() => B.crc32c(ab, 2 ** 32)).toThrow(TypeError);
  });
});

describe('create', () => {
  it('applies the defaults', () => {
    const h = make();
    expect(B.buckets(h)).toBe(1024);
    expect(B.size(h)).toBe(0);
    expect(B.nextObjref(h)).toBe(1);
    expect(B.memory(h)).toBeGreaterThan(2 * 1024 * 4);
    B.free(h);
  });

  it('returns -EINVAL for out-of-range parameters and unknown flags', () => {
    expect(B.create(29, 0, 0, undefined, undefined)).toBe(E('EINVAL'));
    expect(B.create(64, 0, 0, undefined, undefined)).toBe(E('EINVAL'));
    expect(B.create(0, 0, 1025, undefined, undefined)).toBe(E('EINVAL'));
    expect(B.create(0, 4, 0, undefined, undefined)).toBe(E('EINVAL'));
    expect(B.create(0, 0xffffffff, 0, undefined, undefined)).toBe(E('EINVAL'));
    for (const [nbits, maxLoad] of [
      [1, 1],
      [28, 1],
      [5, 1024],
    ] as const) {
      if (nbits === 28) continue; // 2 x 1 GiB of heads: not in a unit test
      const h = make(nbits, FLAG_FIXED | FLAG_MULT_2009, maxLoad);
      expect(B.buckets(h)).toBe(2 ** nbits);
      B.free(h);
    }
  });

  it('throws a TypeError for arguments of the wrong type', () => {
    const bad: unknown[][] = [
      [-1, 0, 0],
      [1.5, 0, 0],
      [65, 0, 0],
      ['1', 0, 0],
      [0, -1, 0],
      [0, 2 ** 32, 0],
      [0, 0, -1],
      [0, 0, 0.5],
      [0, 0, 0, 42],
      [0, 0, 0, undefined, 'f'],
    ];
    for (const args of bad) {
      expect(() => (B.create as (...a: unknown[]) => unknown)(...args), JSON.stringify(args)).toThrow(TypeError);
    }
    const h = B.create(0, 0, 0, null as never, null as never);
    expect(typeof h).toBe('object');
  });
});

describe('lookupAdd, lookup, add', () => {
  it('hands out objrefs 1, 2, 3 ... with the first flag', () => {
    const h = make();
    expect(B.lookupAdd(h, 100, 1)).toBe(1 * 2 + 1);
    expect(B.lookupAdd(h, 200n, 1)).toBe(2 * 2 + 1);
    expect(B.lookupAdd(h, 100n, 1)).toBe(1 * 2);
    expect(B.lookupAdd(h, 200, 1)).toBe(2 * 2);
    expect(B.lookupAdd(h, 2n ** 64n - 1n, 1)).toBe(3 * 2 + 1);
    expect(B.lookup(h, 100, 1)).toBe(1);
    expect(B.lookup(h, 2n ** 64n - 1n, 1)).toBe(3);
    expect(B.lookup(h, 300, 1)).toBe(0);
    expect(B.size(h)).toBe(3);
    expect(B.nextObjref(h)).toBe(4);
    expect(B.entryKey(h, 0)).toBe(100);
    expect(B.entryKey(h, 1)).toBe(200);
    expect(B.entryKey(h, 2)).toBe(2n ** 64n - 1n);
    B.free(h);
  });

  it('numbers and bigints name the same key', () => {
    const h = make();
    const k = Number.MAX_SAFE_INTEGER;
    expect(B.lookupAdd(h, k, 0)).toBe(3);
    expect(B.lookupAdd(h, BigInt(k), 0)).toBe(2);
    expect(B.lookupAdd(h, 2n ** 53n, 0)).toBe(5);
    expect(B.entryKey(h, 1)).toBe(2n ** 53n);
    expect(B.lookup(h, -0, 0)).toBe(E('EINVAL'));
    B.free(h);
  });

  it('type mismatch and key 0 are -EINVAL', () => {
    const h = make();
    expect(B.lookupAdd(h, 5, 1)).toBe(3);
    expect(B.lookup(h, 5, 2)).toBe(E('EINVAL'));
    expect(B.lookupAdd(h, 5, 2)).toBe(E('EINVAL'));
    expect(B.lookup(h, 0, 1)).toBe(E('EINVAL'));
    expect(B.lookup(h, 0n, 1)).toBe(E('EINVAL'));
    expect(B.lookupAdd(h, 0, 1)).toBe(E('EINVAL'));
    expect(B.size(h)).toBe(1);
    B.free(h);
  });

  it('add always adds; key 0 is "no key"; a present key is -EEXIST', () => {
    const h = make();
    expect(B.add(h, 0, 1)).toBe(1);
    expect(B.add(h, 0, 1)).toBe(2);
    expect(B.add(h, 7, 1)).toBe(3);
    expect(B.add(h, 7, 1)).toBe(E('EEXIST'));
    expect(B.add(h, 7, 2)).toBe(E('EEXIST'));
    expect(B.lookup(h, 7, 1)).toBe(3);
    expect(B.entryKey(h, 0)).toBe(0);
    expect(B.fetch(h, 1, 1)).toBe(0);
    expect(B.fetch(h, 2, 1)).toBe(1);
    expect(B.size(h)).toBe(3);
    B.free(h);
  });

  it('throws a TypeError for a bad key or type (after -EBADF)', () => {
    const h = make();
    for (const k of [1.5, -1, NaN, Infinity, 2 ** 53, '1', null, undefined, {}, -1n, 2n ** 64n]) {
      expect(() => B.lookup(h, k as Key, 0), String(k)).toThrow(TypeError);
      expect(() => B.lookupAdd(h, k as Key, 0), String(k)).toThrow(TypeError);
      expect(() => B.add(h, k as Key, 0), String(k)).toThrow(TypeError);
      expect(() => B.insert(h, k as Key, 1, 0), String(k)).toThrow(TypeError);
    }
    for (const t of [-1, 65536, 1.5, '1', null]) {
      expect(() => B.lookup(h, 1, t as number), String(t)).toThrow(TypeError);
      expect(() => B.lookupAdd(h, 1, t as number), String(t)).toThrow(TypeError);
      expect(() => B.fetch(h, 1, t as number), String(t)).toThrow(TypeError);
    }
    expect(B.lookupAdd(h, 1, 65535)).toBe(3);
    expect(() => B.lookup({} as CoreHandle, 1, 0)).toThrow(TypeError);
    expect(B.size(h)).toBe(1);
    B.free(h);
    expect(B.lookup(h, 'x' as unknown as Key, 0)).toBe(E('EBADF'));
  });
});

describe('insert, fetch, reserve', () => {
  it('inserts under given objrefs and moves next objref past them', () => {
    const h = make();
    expect(B.insert(h, 10, 5, 1)).toBe(0);
    expect(B.nextObjref(h)).toBe(6);
    expect(B.insert(h, 0, 3, 2)).toBe(0);
    expect(B.nextObjref(h)).toBe(6);
    expect(B.lookupAdd(h, 11, 1)).toBe(6 * 2 + 1);
    expect(B.fetch(h, 5, 1)).toBe(0);
    expect(B.fetch(h, 3, 2)).toBe(1);
    expect(B.fetch(h, 6, 1)).toBe(2);
    expect(B.lookup(h, 10, 1)).toBe(5);
    B.free(h);
  });

  it('objref <= 0 or used is -EINVAL (checked before the key), a present key -EEXIST', () => {
    const h = make();
    expect(B.insert(h, 10, 5, 1)).toBe(0);
    expect(B.insert(h, 11, 0, 1)).toBe(E('EINVAL'));
    expect(B.insert(h, 11, -4, 1)).toBe(E('EINVAL'));
    expect(B.insert(h, 11, 5, 1)).toBe(E('EINVAL'));
    expect(B.insert(h, 10, 5, 1)).toBe(E('EINVAL'));
    expect(B.insert(h, 10, 6, 1)).toBe(E('EEXIST'));
    expect(B.size(h)).toBe(1);
    for (const o of [2 ** 31, -(2 ** 31) - 1, 1.5, '2', null]) {
      expect(() => B.insert(h, 12, o as number, 1), String(o)).toThrow(TypeError);
      expect(() => B.fetch(h, o as number, 1), String(o)).toThrow(TypeError);
    }
    B.free(h);
  });

  it('fetch: index, -EINVAL absent, -ENOMSG wrong type', () => {
    const h = make();
    B.add(h, 1, 1);
    B.add(h, 2, 2);
    expect(B.fetch(h, 2, 2)).toBe(1);
    expect(B.fetch(h, 2, 1)).toBe(E('ENOMSG'));
    expect(B.fetch(h, 3, 1)).toBe(E('EINVAL'));
    expect(B.fetch(h, 0, 1)).toBe(E('EINVAL'));
    expect(B.fetch(h, -1, 1)).toBe(E('EINVAL'));
    B.free(h);
  });

  it('reserve skips an objref', () => {
    const h = make();
    expect(B.add(h, 1, 0)).toBe(1);
    expect(B.reserve(h)).toBe(2);
    expect(B.add(h, 2, 0)).toBe(3);
    expect(B.fetch(h, 2, 0)).toBe(E('EINVAL'));
    expect(B.insert(h, 9, 2, 0)).toBe(0);
    B.free(h);
  });

  it('objref 0x7fffffff is the last: then -E2BIG', () => {
    const h = make();
    expect(B.insert(h, 1, 0x7ffffffe, 0)).toBe(0);
    expect(B.nextObjref(h)).toBe(0x7fffffff);
    expect(B.lookupAdd(h, 2, 0)).toBe(0x7fffffff * 2 + 1);
    expect(B.nextObjref(h)).toBe(E('E2BIG'));
    expect(B.lookupAdd(h, 3, 0)).toBe(E('E2BIG'));
    expect(B.add(h, 0, 0)).toBe(E('E2BIG'));
    expect(B.reserve(h)).toBe(E('E2BIG'));
    expect(B.lookupAdd(h, 2, 0)).toBe(0x7fffffff * 2); // found: still fine
    expect(B.insert(h, 4, 5, 0)).toBe(0); // below: still fine
    expect(B.fetch(h, 0x7fffffff, 0)).toBe(1);
    expect(B.size(h)).toBe(3);
    B.free(h);

    const g = make();
    expect(B.insert(g, 0, 0x7fffffff, 0)).toBe(0);
    expect(B.nextObjref(g)).toBe(E('E2BIG'));
    expect(B.reserve(g)).toBe(E('E2BIG'));
    const out = new Int32Array(2);
    expect(B.lookupAddMany(g, new Float64Array([1, 2]), 0, out, null)).toBe(E('E2BIG'));
    B.free(g);
  });

  it('entryKey: the key of an index, -EINVAL out of range, TypeError for a non-index', () => {
    const h = make();
    B.add(h, 42, 0);
    B.add(h, 0, 0);
    expect(B.entryKey(h, 0)).toBe(42);
    expect(B.entryKey(h, 1)).toBe(0);
    expect(B.entryKey(h, 2)).toBe(E('EINVAL'));
    expect(B.entryKey(h, 0xffffffff)).toBe(E('EINVAL'));
    for (const i of [-1, 1.5, 2 ** 32, '0']) expect(() => B.entryKey(h, i as number)).toThrow(TypeError);
    B.free(h);
  });
});

describe('growth', () => {
  it('doubles the buckets when count reaches maxLoad << nbits, and everything is still found', () => {
    const h = make(2, 0, 0);
    const seen: number[] = [];
    for (let i = 1; i <= 5000; i++) {
      expect(B.lookupAdd(h, i * 4096, 1)).toBe(i * 2 + 1);
      seen.push(B.buckets(h));
    }
    // the add of entry index c grows when c >= 1 << nbits
    expect(seen[3]).toBe(4); // 4 entries in 4 buckets
    expect(seen[4]).toBe(8); // the 5th doubled
    expect(seen[8]).toBe(16);
    expect(B.buckets(h)).toBe(8192);
    for (let i = 1; i <= 5000; i++) {
      expect(B.lookup(h, i * 4096, 1)).toBe(i);
      expect(B.fetch(h, i, 1)).toBe(i - 1);
    }
    B.free(h);
  });

  it('maxLoad scales the limit', () => {
    const h = make(3, 0, 4);
    for (let i = 1; i <= 32; i++) B.add(h, i, 0);
    expect(B.buckets(h)).toBe(8);
    B.add(h, 33, 0);
    expect(B.buckets(h)).toBe(16);
    B.free(h);
  });

  it('FLAG_FIXED never grows (the kernel layout), and long chains still work', () => {
    for (const flags of [FLAG_FIXED, FLAG_FIXED | FLAG_MULT_2009]) {
      const h = make(0, flags, 0);
      const n = 4096;
      for (let i = 0; i < n; i++) expect(B.add(h, 0x7f0000000000 + i * 4096, 3)).toBe(i + 1);
      expect(B.buckets(h)).toBe(1024);
      for (let i = 0; i < n; i++) {
        expect(B.lookup(h, 0x7f0000000000 + i * 4096, 3)).toBe(i + 1);
        expect(B.fetch(h, i + 1, 3)).toBe(i);
      }
      B.free(h);
    }
  });

  it('memory() grows with the table', () => {
    const h = make();
    const m0 = B.memory(h);
    for (let i = 1; i <= 10000; i++) B.add(h, i, 0);
    expect(B.memory(h)).toBeGreaterThan(m0 + 10000 * 24);
    B.free(h);
  });

  it('agrees with a Map model over random operations', () => {
    const r = rng(9);
    for (const [nbits, flags, maxLoad] of [
      [1, 0, 1],
      [4, FLAG_MULT_2009, 2],
      [3, FLAG_FIXED, 0],
    ] as const) {
      const h = make(nbits, flags, maxLoad);
      const byKey = new Map<bigint, { objref: number; type: number }>();
      const byRef = new Map<number, { key: bigint; type: number; index: number }>();
      let next = 1;
      for (let n = 0; n < 6000; n++) {
        const key = r() < 0.5 ? BigInt(1 + Math.floor(r() * 3000)) * 16n : random64(r) | 1n;
        const type = Math.floor(r() * 3);
        const op = r();
        if (op < 0.6) {
          const got = B.lookupAdd(h, key, type);
          const m = byKey.get(key);
          if (m) expect(got).toBe(m.type === type ? m.objref * 2 : E('EINVAL'));
          else {
            expect(got).toBe(next * 2 + 1);
            byKey.set(key, { objref: next, type });
            byRef.set(next, { key, type, index: byRef.size });
            next++;
          }
        } else if (op < 0.8) {
          const objref = 1 + Math.floor(r() * (next + 20));
          const got = B.insert(h, key, objref, type);
          if (byRef.has(objref)) expect(got).toBe(E('EINVAL'));
          else if (byKey.has(key)) expect(got).toBe(E('EEXIST'));
          else {
            expect(got).toBe(0);
            byKey.set(key, { objref, type });
            byRef.set(objref, { key, type, index: byRef.size });
            next = Math.max(next, objref + 1);
          }
        } else {
          const objref = 1 + Math.floor(r() * (next + 5));
          const m = byRef.get(objref);
          expect(B.fetch(h, objref, type)).toBe(m ? (m.type === type ? m.index : E('ENOMSG')) : E('EINVAL'));
        }
      }
      expect(B.size(h)).toBe(byRef.size);
      expect(B.nextObjref(h)).toBe(next);
      for (const [objref, m] of byRef) {
        const k = B.entryKey(h, m.index);
        expect(BigInt(k)).toBe(m.key);
        expect(B.lookup(h, m.key, m.type)).toBe(objref);
      }
      B.free(h);
    }
  });
});

describe('grab and drop', () => {
  it('grab sees (type, key, index) before the entry is visible; drop runs in insertion order', () => {
    const log: unknown[] = [];
    let h!: CoreHandle;
    h = make(
      0,
      0,
      0,
      (type, key, index) => {
        log.push(['grab', type, key, index, B.lookup(h, key === 0 ? 1 : key, type), B.size(h)]);
      },
      (type, key, index) => log.push(['drop', type, key, index]),
    );
    expect(B.setTypeFlags(h, 1, TYPE_GRAB | TYPE_DROP)).toBe(0);
    expect(B.setTypeFlags(h, 2, TYPE_DROP)).toBe(0);
    expect(B.setTypeFlags(h, 3, TYPE_GRAB)).toBe(0);
    expect(B.lookupAdd(h, 10, 1)).toBe(3);
    expect(B.lookupAdd(h, 10, 1)).toBe(2); // found: no second grab
    expect(B.add(h, 0, 2)).toBe(2);
    expect(B.insert(h, 2n ** 63n, 9, 3)).toBe(0);
    expect(B.add(h, 11, 0)).toBe(10);
    expect(log).toEqual([
      ['grab', 1, 10, 0, 0, 0],
      ['grab', 3, 2n ** 63n, 2, 0, 2],
    ]);
    log.length = 0;
    expect(B.free(h)).toBeUndefined();
    expect(log).toEqual([
      ['drop', 1, 10, 0],
      ['drop', 2, 0, 1],
    ]);
  });

  it('a throwing grab adds nothing, uses no objref, does not grow, and propagates', () => {
    const boom = new Error('no');
    let fail = false;
    const h = make(1, 0, 0, () => {
      if (fail) throw boom;
    });
    B.setTypeFlags(h, 1, TYPE_GRAB);
    expect(B.lookupAdd(h, 1, 1)).toBe(3);
    expect(B.lookupAdd(h, 2, 1)).toBe(5);
    expect(B.buckets(h)).toBe(2);
    fail = true;
    expect(() => B.lookupAdd(h, 3, 1)).toThrow(boom);
    expect(() => B.add(h, 3, 1)).toThrow(boom);
    expect(() => B.insert(h, 3, 7, 1)).toThrow(boom);
    expect(B.size(h)).toBe(2);
    expect(B.nextObjref(h)).toBe(3);
    expect(B.buckets(h)).toBe(2); // growth comes after grab
    expect(B.lookup(h, 3, 1)).toBe(0);
    expect(B.fetch(h, 7, 1)).toBe(E('EINVAL'));
    fail = false;
    expect(B.lookupAdd(h, 3, 1)).toBe(7);
    expect(B.buckets(h)).toBe(4);
    B.free(h);
  });

  it('drop exceptions: every entry is still dropped, the first error is rethrown', () => {
    const dropped: number[] = [];
    const h = make(0, 0, 0, undefined, (_t, _k, index) => {
      dropped.push(index);
      if (index === 1) throw new Error('first');
      if (index === 3) throw new Error('second');
    });
    B.setTypeFlags(h, 0, TYPE_DROP);
    for (let i = 1; i <= 5; i++) B.add(h, i, 0);
    expect(() => B.free(h)).toThrow('first');
    expect(dropped).toEqual([0, 1, 2, 3, 4]);
    expect(B.size(h)).toBe(E('EBADF'));
    expect(B.free(h)).toBeUndefined();
    expect(dropped.length).toBe(5);
  });

  it('a non-Error throw from drop is rethrown as is', () => {
    const h = make(0, 0, 0, undefined, () => {
      throw 42;
    });
    B.setTypeFlags(h, 0, TYPE_DROP);
    B.add(h, 1, 0);
    let got: unknown;
    try {
      B.free(h);
    } catch (e) {
      got = e;
    }
    expect(got).toBe(42);
  });

  it('inside grab: adds, reserve and free are -EBUSY; reads and setTypeFlags work', () => {
    let h!: CoreHandle;
    const seen: unknown[] = [];
    h = make(0, 0, 0, (type, key) => {
      seen.push(
        B.lookupAdd(h, 99, type),
        B.add(h, 98, type),
        B.insert(h, 97, 50, type),
        B.reserve(h),
        B.free(h),
        B.lookupAddMany(h, new Float64Array([5]), type, new Int32Array(1), null),
        B.insertMany(h, null, new Int32Array([60]), type),
        B.lookup(h, key, type),
        B.size(h),
        B.fetchMany(h, new Int32Array(0), type, null, null),
        B.setTypeFlags(h, 7, TYPE_DROP),
      );
      // the arguments are not even looked at
      seen.push(B.lookupAdd(h, 'bad' as unknown as Key, type));
    });
    B.setTypeFlags(h, 1, TYPE_GRAB);
    expect(B.lookupAdd(h, 5, 1)).toBe(3);
    const busy = E('EBUSY');
    expect(seen).toEqual([busy, busy, busy, busy, busy, busy, busy, 0, 0, 0, 0, busy]);
    expect(B.size(h)).toBe(1);
    expect(B.nextObjref(h)).toBe(2);
    B.free(h);
  });

  it('inside drop the hash is already freed', () => {
    let h!: CoreHandle;
    const seen: unknown[] = [];
    h = make(0, 0, 0, undefined, () => {
      seen.push(B.size(h), B.lookup(h, 1, 0), B.add(h, 5, 0), B.free(h));
    });
    B.setTypeFlags(h, 0, TYPE_DROP);
    B.add(h, 1, 0);
    expect(B.free(h)).toBeUndefined();
    expect(seen).toEqual([E('EBADF'), E('EBADF'), E('EBADF'), undefined]);
  });

  it('setTypeFlags checks its arguments', () => {
    const h = make();
    for (const [t, f] of [
      [-1, 0],
      [65536, 0],
      [0, 4],
      [0, -1],
      [1.5, 0],
    ]) {
      expect(() => B.setTypeFlags(h, t!, f!)).toThrow(TypeError);
    }
    expect(B.setTypeFlags(h, 65535, 3)).toBe(0);
    B.free(h);
    expect(B.setTypeFlags(h, 0, 3)).toBe(E('EBADF'));
  });
});

describe('after free', () => {
  it('every call returns -EBADF and free is a no-op', () => {
    const h = make();
    B.add(h, 1, 0);
    expect(B.free(h)).toBeUndefined();
    expect(B.free(h)).toBeUndefined();
    const ebadf = E('EBADF');
    expect(B.setTypeFlags(h, 0, 0)).toBe(ebadf);
    expect(B.lookup(h, 1, 0)).toBe(ebadf);
    expect(B.lookupAdd(h, 1, 0)).toBe(ebadf);
    expect(B.add(h, 1, 0)).toBe(ebadf);
    expect(B.insert(h, 1, 1, 0)).toBe(ebadf);
    expect(B.fetch(h, 1, 0)).toBe(ebadf);
    expect(B.entryKey(h, 0)).toBe(-9);
    expect(B.reserve(h)).toBe(ebadf);
    expect(B.size(h)).toBe(ebadf);
    expect(B.nextObjref(h)).toBe(ebadf);
    expect(B.buckets(h)).toBe(ebadf);
    expect(B.memory(h)).toBe(ebadf);
    expect(B.lookupAddMany(h, new Float64Array(1), 0, new Int32Array(1), null)).toBe(ebadf);
    expect(B.insertMany(h, null, new Int32Array(1), 0)).toBe(ebadf);
    expect(B.fetchMany(h, new Int32Array(1), 0, null, null)).toBe(ebadf);
  });
});

describe('lookupAddMany', () => {
  it('matches one-at-a-time lookupAdd, for BigUint64Array and Float64Array keys', () => {
    const r = rng(5);
    const n = 20000;
    const big = new BigUint64Array(n);
    for (let i = 0; i < n; i++) big[i] = i > 0 && r() < 0.5 ? big[Math.floor(r() * i)]! : BigInt(Math.floor(r() * 2 ** 44)) * 16n + 16n;
    const flt = Float64Array.from(big, Number);
    for (const keys of [big, flt]) {
      const h = make(2);
      const ref = make(2);
      const out = new Int32Array(n);
      const first = new Uint8Array(n);
      let added = 0;
      const want = new Int32Array(n);
      const wantFirst = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = B.lookupAdd(ref, keys[i]!, 4);
        want[i] = v >> 1;
        wantFirst[i] = v & 1;
        added += v & 1;
      }
      expect(B.lookupAddMany(h, keys, 4, out, first)).toBe(added);
      expect(out).toEqual(want);
      expect(first).toEqual(wantFirst);
      expect(B.buckets(h)).toBe(B.buckets(ref));
      // again: all found
      expect(B.lookupAddMany(h, keys, 4, out, null)).toBe(0);
      expect(out).toEqual(want);
      B.free(h);
      B.free(ref);
    }
  });

  it('works on views with an offset and leaves the rest of the arrays alone', () => {
    const h = make();
    const all = new BigUint64Array([111n, 1n, 2n, 1n, 2n ** 64n - 1n, 222n]);
    const out = new Int32Array(8).fill(-7);
    expect(B.lookupAddMany(h, all.subarray(1, 5), 0, out.subarray(2), null)).toBe(3);
    expect(Array.from(out)).toEqual([-7, -7, 1, 2, 1, 3, -7, -7]);
    expect(B.lookup(h, 111n, 0)).toBe(0);
    B.free(h);
  });

  it('stops at the first bad item; the entries before it stay', () => {
    const h = make();
    const out = new Int32Array(5).fill(-1);
    const first = new Uint8Array(5).fill(9);
    expect(B.lookupAddMany(h, new BigUint64Array([5n, 6n, 0n, 7n]), 0, out, first)).toBe(E('EINVAL'));
    expect(Array.from(out)).toEqual([1, 2, -1, -1, -1]);
    expect(Array.from(first)).toEqual([1, 1, 9, 9, 9]);
    expect(B.size(h)).toBe(2);
    for (const bad of [0, 1.5, -3, 2 ** 53, NaN, Infinity]) {
      const o = new Int32Array(3).fill(-1);
      expect(B.lookupAddMany(h, new Float64Array([8, bad, 9]), 0, o, null), String(bad)).toBe(E('EINVAL'));
      expect(o[0]).toBeGreaterThan(0);
      expect(o[2]).toBe(-1);
    }
    expect(B.lookup(h, 9, 0)).toBe(0);
    // type mismatch in the middle
    const o = new Int32Array(3).fill(-1);
    expect(B.lookupAddMany(h, new Float64Array([20, 5, 21]), 1, o, null)).toBe(E('EINVAL'));
    expect(Array.from(o)).toEqual([B.lookup(h, 20, 1), -1, -1]);
    expect(B.lookup(h, 21, 1)).toBe(0);
    B.free(h);
  });

  it('output arrays shorter than the keys: -EINVAL before anything', () => {
    const h = make();
    const keys = new Float64Array([1, 2, 3]);
    expect(B.lookupAddMany(h, keys, 0, new Int32Array(2), null)).toBe(E('EINVAL'));
    expect(B.lookupAddMany(h, keys, 0, new Int32Array(3), new Uint8Array(2))).toBe(E('EINVAL'));
    expect(B.size(h)).toBe(0);
    expect(B.lookupAddMany(h, keys, 0, new Int32Array(4), new Uint8Array(3))).toBe(3);
    B.free(h);
  });

  it('throws a TypeError for arrays of the wrong kind', () => {
    const h = make();
    const call = (...a: unknown[]) => (B.lookupAddMany as (...x: unknown[]) => unknown)(h, ...a);
    expect(() => call([1, 2], 0, new Int32Array(2), null)).toThrow(TypeError);
    expect(() => call(new Uint32Array(2), 0, new Int32Array(2), null)).toThrow(TypeError);
    expect(() => call(new Float64Array(2), 0, new Uint32Array(2), null)).toThrow(TypeError);
    expect(() => call(new Float64Array(2), 0, new Int32Array(2), new Int8Array(2))).toThrow(TypeError);
    expect(() => call(new Float64Array(2), 0, new Int32Array(2), new Uint8ClampedArray(2))).toThrow(TypeError);
    expect(() => call(new Float64Array(2), 70000, new Int32Array(2), null)).toThrow(TypeError);
    expect(call(new Float64Array([1, 2]), 0, new Int32Array(2), undefined)).toBe(2);
    B.free(h);
  });

  it('with a grab type: one grab per new key, in order; a throw stops the batch there', () => {
    const grabbed: unknown[] = [];
    const h = make(0, 0, 0, (type, key, index) => {
      grabbed.push([type, key, index]);
      if (key === 4) throw new Error('four');
    });
    B.setTypeFlags(h, 2, TYPE_GRAB);
    const out = new Int32Array(6).fill(-1);
    const first = new Uint8Array(6);
    expect(() => B.lookupAddMany(h, new Float64Array([1, 2, 1, 3, 4, 5]), 2, out, first)).toThrow('four');
    expect(grabbed).toEqual([
      [2, 1, 0],
      [2, 2, 1],
      [2, 3, 2],
      [2, 4, 3],
    ]);
    expect(Array.from(out)).toEqual([1, 2, 1, 3, -1, -1]);
    expect(Array.from(first)).toEqual([1, 1, 0, 1, 0, 0]);
    expect(B.size(h)).toBe(3);
    expect(B.nextObjref(h)).toBe(4);
    B.free(h);
  });

  it('with a grab type: a callback that detaches an output array ends the batch with -EINVAL', () => {
    const out = new Int32Array(3);
    const h = make(0, 0, 0, (_t, _k, index) => {
      if (index === 1) structuredClone(out.buffer, { transfer: [out.buffer] });
    });
    B.setTypeFlags(h, 0, TYPE_GRAB);
    expect(B.lookupAddMany(h, new BigUint64Array([7n, 8n, 9n]), 0, out, null)).toBe(E('EINVAL'));
    expect(B.size(h)).toBe(2); // the second key was added before the check
    B.free(h);
  });
});

describe('insertMany', () => {
  it('inserts keys (or none) under objrefs and returns n', () => {
    const h = make();
    expect(B.insertMany(h, new BigUint64Array([10n, 2n ** 64n - 1n, 0n]), new Int32Array([3, 1, 7]), 1)).toBe(3);
    expect(B.insertMany(h, null, new Int32Array([4, 5]), 2)).toBe(2);
    expect(B.insertMany(h, new Float64Array([30, 31]), new Int32Array([8, 9]), 1)).toBe(2);
    expect(B.size(h)).toBe(7);
    expect(B.nextObjref(h)).toBe(10);
    expect(B.lookup(h, 2n ** 64n - 1n, 1)).toBe(1);
    expect(B.lookup(h, 31, 1)).toBe(9);
    expect(B.fetch(h, 7, 1)).toBe(2);
    expect(B.entryKey(h, 2)).toBe(0);
    expect(B.fetch(h, 5, 2)).toBe(4);
    B.free(h);
  });

  it('stops at the first failure; the entries before it stay', () => {
    const h = make();
    expect(B.insertMany(h, new Float64Array([1, 2, 3]), new Int32Array([1, 2, 1]), 0)).toBe(E('EINVAL'));
    expect(B.size(h)).toBe(2);
    expect(B.insertMany(h, new Float64Array([4, 1, 5]), new Int32Array([4, 5, 6]), 0)).toBe(E('EEXIST'));
    expect(B.size(h)).toBe(3);
    expect(B.insertMany(h, null, new Int32Array([7, 0, 8]), 0)).toBe(E('EINVAL'));
    expect(B.size(h)).toBe(4);
    // a Float64Array key must be 1..MAX_SAFE_INTEGER: 0 is not "no key" here
    expect(B.insertMany(h, new Float64Array([9, 0]), new Int32Array([9, 10]), 0)).toBe(E('EINVAL'));
    expect(B.size(h)).toBe(5);
    expect(B.insertMany(h, new Float64Array([11, 1.5]), new Int32Array([11, 12]), 0)).toBe(E('EINVAL'));
    expect(B.size(h)).toBe(6);
    // keys shorter than objrefs: nothing done
    expect(B.insertMany(h, new Float64Array([20]), new Int32Array([20, 21]), 0)).toBe(E('EINVAL'));
    expect(B.size(h)).toBe(6);
    // keys longer: only objrefs.length items
    expect(B.insertMany(h, new Float64Array([20, 21, 22]), new Int32Array([20, 21]), 0)).toBe(2);
    expect(B.lookup(h, 22, 0)).toBe(0);
    B.free(h);
  });

  it('throws a TypeError for arrays of the wrong kind', () => {
    const h = make();
    const call = (...a: unknown[]) => (B.insertMany as (...x: unknown[]) => unknown)(h, ...a);
    expect(() => call(new Int32Array(1), new Int32Array(1), 0)).toThrow(TypeError);
    expect(() => call(null, [1], 0)).toThrow(TypeError);
    expect(() => call(null, new Uint32Array(1), 0)).toThrow(TypeError);
    expect(() => call(null, new Int32Array(1), -1)).toThrow(TypeError);
    expect(call(undefined, new Int32Array([1]), 0)).toBe(1);
    B.free(h);
  });
});

describe('fetchMany', () => {
  function filled(): CoreHandle {
    const h = make(1);
    expect(B.lookupAddMany(h, new BigUint64Array([100n, 2n ** 63n, 300n]), 1, new Int32Array(3), null)).toBe(3);
    expect(B.add(h, 0, 2)).toBe(4);
    return h;
  }

  it('fills keys (bigint or number) and indexes', () => {
    const h = filled();
    const refs = new Int32Array([3, 1, 2]);
    const kb = new BigUint64Array(3);
    const ix = new Int32Array(3);
    expect(B.fetchMany(h, refs, 1, kb, ix)).toBe(0);
    expect(Array.from(kb)).toEqual([300n, 100n, 2n ** 63n]);
    expect(Array.from(ix)).toEqual([2, 0, 1]);
    const kf = new Float64Array(1);
    expect(B.fetchMany(h, new Int32Array([4]), 2, kf, null)).toBe(0);
    expect(kf[0]).toBe(0);
    expect(B.fetchMany(h, new Int32Array([1, 3]), 1, null, null)).toBe(0);
    B.free(h);
  });

  it('stops at the first failure: -EINVAL absent or <= 0, -ENOMSG wrong type', () => {
    const h = filled();
    const ix = new Int32Array(3).fill(-1);
    expect(B.fetchMany(h, new Int32Array([1, 9, 3]), 1, null, ix)).toBe(E('EINVAL'));
    expect(Array.from(ix)).toEqual([0, -1, -1]);
    expect(B.fetchMany(h, new Int32Array([1, 0]), 1, null, null)).toBe(E('EINVAL'));
    expect(B.fetchMany(h, new Int32Array([1, 4]), 1, null, null)).toBe(E('ENOMSG'));
    B.free(h);
  });

  it('a key above MAX_SAFE_INTEGER into a Float64Array is -EINVAL at that item', () => {
    const h = filled();
    const kf = new Float64Array(3).fill(-1);
    const ix = new Int32Array(3).fill(-1);
    expect(B.fetchMany(h, new Int32Array([1, 2, 3]), 1, kf, ix)).toBe(E('EINVAL'));
    expect(Array.from(kf)).toEqual([100, -1, -1]);
    // as the native binding: indexes of the whole conversion chunk are written
    expect(Array.from(ix)).toEqual([0, 1, 2]);
    B.free(h);
  });

  it('output arrays shorter than objrefs: -EINVAL; wrong kinds: TypeError', () => {
    const h = filled();
    expect(B.fetchMany(h, new Int32Array([1, 2]), 1, new BigUint64Array(1), null)).toBe(E('EINVAL'));
    expect(B.fetchMany(h, new Int32Array([1, 2]), 1, null, new Int32Array(1))).toBe(E('EINVAL'));
    const call = (...a: unknown[]) => (B.fetchMany as (...x: unknown[]) => unknown)(h, ...a);
    expect(() => call([1], 1, null, null)).toThrow(TypeError);
    expect(() => call(new Uint32Array(1), 1, null, null)).toThrow(TypeError);
    expect(() => call(new Int32Array(1), 1, new Int32Array(1), null)).toThrow(TypeError);
    expect(() => call(new Int32Array(1), 1, null, new Uint32Array(1))).toThrow(TypeError);
    expect(() => call(new Int32Array(1), 1.5, null, null)).toThrow(TypeError);
    expect(call(new Int32Array([1]), 1, undefined, undefined)).toBe(0);
    B.free(h);
  });

  it('fetches everything back after many adds and growths', () => {
    const h = make(1);
    const n = 50000;
    const keys = new BigUint64Array(n);
    for (let i = 0; i < n; i++) keys[i] = BigInt(i + 1) * 0x10001n + (i % 3 === 0 ? 2n ** 60n : 0n);
    const refs = new Int32Array(n);
    expect(B.lookupAddMany(h, keys, 5, refs, null)).toBe(n);
    const back = new BigUint64Array(n);
    const ix = new Int32Array(n);
    expect(B.fetchMany(h, refs, 5, back, ix)).toBe(0);
    expect(back).toEqual(keys);
    for (let i = 0; i < n; i++) expect(ix[i]).toBe(i);
    B.free(h);
  });
});
