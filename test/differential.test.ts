import { describe, expect, it } from 'vitest';
import type { Backend, CoreHandle } from '../lib/backend/contract.js';
import { getBackend } from '../lib/backend/loader.js';
import { ObjHash, ObjHashError, defineObjType, type ObjType } from '../lib/index.js';
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
  const type = () => TYPES[int(TYPES.length)] as ObjType<any>;
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
          const v = h.fetch(int(h.nextObjref + 3) - 1, type() as typeof A);
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

/*
 * The Backend calls themselves, below the facade: every argument of every
 * call replaced in turn by odd values (wrong types, out of range, other
 * typed-array kinds, a DataView, a freed or foreign handle).  Both backends
 * must return the same value or throw a TypeError with the same message
 * (the twin's messages are native/binding/'s, word for word: lib/js/adapter.ts),
 * and leave the hash and the output arrays in the same state.
 */
type Call = { fn: keyof Backend; handle: boolean; args: () => unknown[] };

const CALLS: Call[] = [
  { fn: 'create', handle: false, args: () => [2, 0, 0, undefined, undefined] },
  { fn: 'setTypeFlags', handle: true, args: () => [1, 0] },
  { fn: 'lookup', handle: true, args: () => [5, 1] },
  { fn: 'lookupAdd', handle: true, args: () => [9, 1] },
  { fn: 'add', handle: true, args: () => [6, 1] },
  { fn: 'addMany', handle: true, args: () => [new Uint16Array([1, 2, 1]), 2] },
  { fn: 'insertTyped', handle: true, args: () => [new Int32Array([300, 302, 301]), new Uint16Array([1, 2, 1]), 2] },
  { fn: 'insert', handle: true, args: () => [7, 100, 1] },
  { fn: 'fetch', handle: true, args: () => [1, 1] },
  { fn: 'entryKey', handle: true, args: () => [0] },
  { fn: 'reserve', handle: true, args: () => [] },
  { fn: 'size', handle: true, args: () => [] },
  { fn: 'nextObjref', handle: true, args: () => [] },
  { fn: 'buckets', handle: true, args: () => [] },
  { fn: 'memory', handle: true, args: () => [] },
  { fn: 'free', handle: true, args: () => [] },
  { fn: 'lookupAddMany', handle: true, args: () => [new Float64Array([5, 8, 9]), 1, new Int32Array(3), new Uint8Array(3)] },
  { fn: 'insertMany', handle: true, args: () => [new Float64Array([20, 21]), new Int32Array([200, 201]), 1] },
  { fn: 'fetchMany', handle: true, args: () => [new Int32Array([1]), 1, new Float64Array(1), new Int32Array(1)] },
  { fn: 'crc32c', handle: false, args: () => [new Uint8Array([1, 2, 3]), 0] },
  { fn: 'hashLong', handle: false, args: () => [5, 10, false] },
];

const ODD: (() => unknown)[] = [
  () => undefined,
  () => null,
  () => -1,
  () => 0,
  () => -0,
  () => 1,
  () => 0.5,
  () => 3,
  () => 65536,
  () => 2 ** 31,
  () => 2 ** 32,
  () => 2 ** 53,
  () => NaN,
  () => Infinity,
  () => '1',
  () => true,
  () => 0n,
  () => 1n,
  () => -1n,
  () => 2n ** 64n,
  () => ({}),
  () => [1],
  () => () => 0,
  () => new Int32Array([1, 2, 3]),
  () => new Int32Array(0),
  () => new Uint8Array(3),
  () => new Uint8ClampedArray(3),
  () => new Int8Array(3),
  () => new Uint16Array([1, 1, 1]),
  () => new Float64Array([1, 2, 3]),
  () => new Float64Array([0.5, 2 ** 53]),
  () => new BigUint64Array([1n, 2n ** 60n, 3n]),
  () => new BigUint64Array([0n]),
  () => new DataView(new ArrayBuffer(8)),
  () => new ArrayBuffer(8),
];

/** A value as the comparison sees it: handles as 'handle', typed arrays as their contents. */
function shown(v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as Int32Array, (x) => shown(x));
  if (typeof v === 'object' && v !== null) return 'handle';
  return v;
}

type Odd = (() => unknown) | 'freed' | 'foreign';

/** Runs `call` on a fresh hash of backend b with args[at] = odd for each [at, odd] of `odds`. */
function outcome(b: Backend, call: Call, odds: [number, Odd][]): unknown {
  const other = getBackend(b.name === 'js' ? 'native' : 'js');
  const h = b.create(2, 0, 0, undefined, undefined) as CoreHandle;
  b.lookupAdd(h, 5, 1);
  b.insert(h, 2n ** 63n, 40, 1);
  const args = call.args();
  if (call.handle) args.unshift(h);
  /** handles made on the way, freed at the end by their own backend */
  const made: [Backend, CoreHandle][] = [];
  for (const [at, odd] of odds) {
    if (odd === 'freed') {
      const dead = b.create(0, 0, 0, undefined, undefined) as CoreHandle;
      b.free(dead);
      args[at] = dead;
    } else if (odd === 'foreign') {
      const foreign = other.create(0, 0, 0, undefined, undefined) as CoreHandle;
      made.push([other, foreign]);
      args[at] = foreign;
    } else {
      args[at] = odd();
    }
  }
  let result: unknown;
  try {
    const r = (b[call.fn] as (...a: unknown[]) => unknown)(...args);
    if (call.fn === 'create' && typeof r === 'object') made.push([b, r as CoreHandle]);
    // the two backends count memory differently; only that it is a count matters
    result = call.fn === 'memory' && typeof r === 'number' && r > 0 ? 'bytes' : shown(r);
  } catch (e) {
    result = e instanceof TypeError ? `TypeError: ${e.message}` : `threw ${String(e)}`;
  }
  const state = [b.size(h), b.nextObjref(h), b.buckets(h), b.fetch(h, 1, 1), b.fetch(h, 40, 1)];
  b.free(h);
  for (const [owner, x] of made) owner.free(x);
  return { result, state, arrays: args.map((a) => (ArrayBuffer.isView(a) ? shown(a) : undefined)) };
}

const name = (odd: Odd): string => (typeof odd === 'string' ? odd : String(shown(odd())));

describe.skipIf(IMPLS.length < 2)('native matches js, call by call', () => {
  const native = getBackend('native');
  const js = getBackend('js');
  const arity = (call: Call) => call.args().length + (call.handle ? 1 : 0);

  it('with each argument replaced by odd values: same results, same TypeError messages, same state', () => {
    let typeErrors = 0;
    let total = 0;
    for (const call of CALLS) {
      for (let at = 0; at < arity(call); at++) {
        const odds: Odd[] = [...ODD];
        if (call.handle && at === 0) odds.push('freed', 'foreign');
        for (const odd of odds) {
          const a = outcome(native, call, [[at, odd]]);
          expect(outcome(js, call, [[at, odd]]), `${call.fn} argument ${at} = ${name(odd)}`).toEqual(a);
          total++;
          if (String((a as { result: unknown }).result).startsWith('TypeError')) typeErrors++;
        }
      }
    }
    // both the accepting and the refusing paths are exercised
    expect(typeErrors / total).toBeGreaterThan(0.3);
    expect(typeErrors / total).toBeLessThan(0.9);
  });

  it('with two arguments odd at once: the same one is refused first', () => {
    const few: Odd[] = [() => undefined, () => 0.5, () => ({}), () => new Uint8Array(3), () => new DataView(new ArrayBuffer(8))];
    for (const call of CALLS) {
      for (let i = 0; i < arity(call); i++) {
        for (let j = i + 1; j < arity(call); j++) {
          for (const x of few.concat(call.handle && i === 0 ? ['freed'] : [])) {
            for (const y of few) {
              const odds: [number, Odd][] = [
                [i, x],
                [j, y],
              ];
              const what = `${call.fn} arguments ${i} = ${name(x)}, ${j} = ${name(y)}`;
              expect(outcome(js, call, odds), what).toEqual(outcome(native, call, odds));
            }
          }
        }
      }
    }
  });
});
