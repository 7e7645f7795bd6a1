import { describe, expect, it } from 'vitest';
import { ObjHash, ObjHashError, defineObjType } from '../lib/index.js';
import { IMPLS, rng } from './helpers.js';

const A = defineObjType<unknown>({ name: 'a', grab: (o) => void o, drop: (o) => void o });
const B = defineObjType<unknown>({ name: 'b' });
const K = defineObjType<{ id: number }>({ name: 'k', key: (o) => o.id });
const TYPES = [A, B, K] as const;

/** Runs a random sequence of operations and records every outcome. */
function trace(impl: 'native' | 'js', seed: number, steps: number, opts: { nbits?: number; fixed?: boolean }): unknown[] {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const objs = Array.from({ length: 64 }, (_, i) => ({ id: 1 + i }));
  const h = new ObjHash({ impl, ...opts });
  const log: unknown[] = [];
  const rec = (f: () => unknown) => {
    try {
      const v = f();
      log.push(v instanceof Int32Array || v instanceof BigUint64Array || v instanceof Float64Array ? [...v] : v);
    } catch (e) {
      log.push(e instanceof ObjHashError ? `!${e.code}` : `!${String(e)}`);
    }
  };
  const key = () => {
    switch (int(4)) {
      case 0:
        return objs[int(objs.length)];
      case 1:
        return 1 + int(200);
      case 2:
        return BigInt(1 + int(200)) << BigInt(int(12) * 5);
      default:
        return [0, -1, 2 ** 53, 0.5, 'x', 2n ** 64n][int(6)];
    }
  };
  const type = () => TYPES[int(TYPES.length)];
  for (let i = 0; i < steps; i++) {
    switch (int(9)) {
      case 0:
      case 1:
        rec(() => h.lookupAdd(key() as never, type()));
        break;
      case 2:
        rec(() => h.lookup(key() as never, type()));
        break;
      case 3:
        rec(() => h.insert(key() as never, int(300) - 20, type()));
        break;
      case 4:
        rec(() => {
          const v = h.fetch(int(h.nextObjref + 3) - 1, type());
          return typeof v === 'object' ? objs.indexOf(v as never) : v;
        });
        break;
      case 5:
        rec(() => h.reserve());
        break;
      case 6: {
        const n = int(20);
        const keys = r() < 0.5 ? new Float64Array(n) : new BigUint64Array(n);
        for (let j = 0; j < n; j++) {
          const k = int(25) === 0 ? 0 : 1 + int(300);
          if (keys instanceof Float64Array) keys[j] = k;
          else keys[j] = BigInt(k);
        }
        const first = new Uint8Array(n);
        rec(() => [...h.lookupAddMany(keys, type(), undefined, first), ...first]);
        break;
      }
      case 7: {
        const n = int(8);
        const refs = new Int32Array(n).map(() => int(400) - 5);
        rec(() => h.insertMany(r() < 0.5 ? null : new Float64Array(n).map(() => 1000 + int(50)), refs, type()));
        break;
      }
      default: {
        const refs = new Int32Array(int(6)).map(() => int(h.nextObjref + 2));
        rec(() => h.fetchMany(refs, type()));
      }
    }
    if (i % 50 === 0) rec(() => [h.size, h.nextObjref, h.buckets]);
  }
  rec(() => [h.size, h.nextObjref, h.buckets]);
  h.free();
  return log;
}

describe.skipIf(IMPLS.length < 2)('native matches js', () => {
  it('on random operation sequences (same values, same error codes)', () => {
    let errors = 0;
    let total = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const opts = seed % 3 === 0 ? { nbits: 2 } : seed % 3 === 1 ? { nbits: 1, fixed: true } : {};
      const a = trace('native', seed, 600, opts);
      const b = trace('js', seed, 600, opts);
      expect(a, `seed ${seed}`).toEqual(b);
      errors += a.filter((x) => typeof x === 'string' && x.startsWith('!')).length;
      total += a.length;
    }
    // the sequences exercise both the success and the error paths
    expect(errors / total).toBeGreaterThan(0.1);
    expect(errors / total).toBeLessThan(0.7);
  });
});
