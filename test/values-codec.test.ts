/**
 * lib/values in isolation: the body codec of plain JS values, driven by a
 * tiny walker written here (objrefs in a Map, a FIFO queue, one VALUE
 * record per object the codec hands it, refNow nesting, fix-ups and
 * later() on restart).  As the real walker, it tells the codec which
 * objects it holds (state.ids: minus the objref); the codec writes the
 * others inline.
 */
import { describe, it, expect } from 'vitest';
import * as v8 from 'node:v8';
import { ObjHashError } from '../lib/errors.js';
import { REC } from '../lib/image/format.js';
import { ImageWriter } from '../lib/image/writer.js';
import { ImageReader } from '../lib/image/reader.js';
import { crc32cFor, getBackend } from '../lib/backend/loader.js';
import { Refusal, type PathStep, type RefReader, type RefWriter } from '../lib/walk/refs.js';
import {
  VALUE_TYPE_NAME,
  ValueCodecState,
  describeTagged,
  describeValue,
  notPlainReason,
  plainKind,
  readTagged,
  readValue,
  writeTagged,
  writeValue,
} from '../lib/values/index.js';
import { K, T } from '../lib/values/encoding.js';
import { buildGraph } from '../bench/graph.js';
import { rng } from './helpers.js';

const crc32c = crc32cFor(getBackend('js'));

/** The record bodies go in. */
const BODY = REC.VALUE;

// ------------------------------------------------------------ the walker

function join(path: string, step: PathStep | undefined): string {
  if (step === undefined) return path;
  if (typeof step === 'number') return `${path}[${step}]`;
  return /^[A-Za-z_$][\w$]*$/.test(step) ? `${path}.${step}` : `${path}[${JSON.stringify(step)}]`;
}

class PathError extends Error {
  constructor(
    readonly path: string,
    readonly refusal: Refusal,
  ) {
    super(`${path}: ${refusal.why}`);
  }
}

/** Checkpoints `root` with the value codec alone; tagged: an extra tagged value after the root body. */
function checkpoint(root: unknown, opts: { maxRecord?: number } = {}): Uint8Array {
  const w = new ImageWriter({ crc32c, version: 2, maxRecord: opts.maxRecord });
  w.writeHeader([{ objtype: 1, name: VALUE_TYPE_NAME }]);
  const st = new ValueCodecState();
  const ids = new Map<object, number>();
  const paths = new Map<unknown, string>();
  const queue: object[] = [];
  const written = new Set<unknown>();
  let next = 1;
  let current = 'root';
  const add = (child: object, step: PathStep): number => {
    const id = next++;
    ids.set(child, id);
    if (!st.ids.has(child)) st.ids.set(child, -id);
    paths.set(child, join(current, step));
    return id;
  };
  const refs: RefWriter = {
    ref(child, step) {
      const id = ids.get(child);
      if (id !== undefined) return id;
      if (plainKind(child) === undefined) throw new Refusal(step, notPlainReason(child));
      queue.push(child);
      return add(child, step);
    },
    refTyped() {
      throw new Error('no registered types here');
    },
    refNow(child, step) {
      // a child queued by ref() but not written yet is written now too
      const id = ids.get(child) ?? add(child, step);
      if (!written.has(child)) body(child, id);
      return id;
    },
    known: (child) => ids.get(child) ?? 0,
  };
  function body(v: unknown, id: number): void {
    written.add(v);
    const saved = current;
    current = paths.get(v) ?? 'root';
    w.objref(1, id);
    w.beginBuiltin(BODY);
    try {
      writeValue(w, v, refs, st);
    } catch (e) {
      if (e instanceof Refusal) throw new PathError(join([...e.outer].reverse().reduce(join, current), e.step), e);
      throw e;
    }
    w.end();
    current = saved;
  }
  if (typeof root === 'object' && root !== null) {
    ids.set(root, next);
    st.ids.set(root, -next++);
  } else next++;
  paths.set(root, 'root');
  body(root, 1);
  for (let i = 0; i < queue.length; i++) if (!written.has(queue[i])) body(queue[i], ids.get(queue[i]!)!);
  w.tail(next - 1);
  return w.finish();
}

/** Restarts an image written by checkpoint(). */
function restart(image: Uint8Array): unknown {
  const r = new ImageReader(image, { crc32c });
  r.readHeader();
  const st = new ValueCodecState();
  const objs = new Map<number, unknown>();
  const fix = new Map<number, [object, string | number][]>();
  const laters: (() => void)[] = [];
  const pending: number[] = [];
  const refs: RefReader = {
    get(o, holder, key) {
      if (objs.has(o)) return objs.get(o);
      let l = fix.get(o);
      if (l === undefined) fix.set(o, (l = []));
      l.push([holder, key]);
      return undefined;
    },
    getTyped() {
      throw new Error('no registered types here');
    },
    now(o) {
      if (!objs.has(o)) throw new ObjHashError('EINVAL', `objref ${o} is not restored`, r.recOffset);
      return objs.get(o);
    },
    later(fn) {
      laters.push(fn);
    },
    get offset() {
      return r.recOffset;
    },
  };
  for (;;) {
    const rec = r.next();
    if (rec.type === REC.OBJREF) {
      pending.push(r.objref().objref);
      continue;
    }
    if (rec.type === REC.TAIL) {
      r.tail();
      break;
    }
    const id = pending.pop();
    if (rec.type !== BODY || id === undefined) throw new ObjHashError('EINVAL', `unexpected record at ${rec.offset}`, rec.offset);
    readValue(
      r,
      refs,
      (obj) => {
        objs.set(id, obj);
        for (const [h, k] of fix.get(id) ?? []) (h as Record<string | number, unknown>)[k] = obj;
        fix.delete(id);
      },
      st,
    );
    r.expectEnd();
  }
  for (const f of laters) f();
  if (fix.size > 0 || pending.length > 0) throw new ObjHashError('EINVAL', 'unresolved references');
  return objs.get(1);
}

/** Describes every body of an image. */
function dump(image: Uint8Array): unknown[] {
  const r = new ImageReader(image, { crc32c });
  r.readHeader();
  const st = new ValueCodecState();
  st.dumpItems = Infinity; // every item (the command shows DUMP_ITEMS of each list)
  const out: unknown[] = [];
  for (;;) {
    const rec = r.next();
    if (rec.type === REC.TAIL) return out;
    if (rec.type === BODY) out.push(describeValue(r, st));
  }
}

const roundTrip = <V>(v: V): V => restart(checkpoint(v)) as V;

function refusal(v: unknown): PathError {
  try {
    checkpoint(v);
  } catch (e) {
    if (e instanceof PathError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

/** An image of one body of raw bytes (objref 1), for hostile bodies. */
function rawImage(...bodies: number[][]): Uint8Array {
  const w = new ImageWriter({ crc32c, version: 2 });
  w.writeHeader([{ objtype: 1, name: VALUE_TYPE_NAME }]);
  bodies.forEach((b, i) => {
    w.objref(1, i + 1);
    w.beginBuiltin(BODY);
    w.bytes(Uint8Array.from(b));
    w.end();
  });
  w.tail(bodies.length);
  return w.finish();
}

function expectEinval(fn: () => unknown, re?: RegExp): ObjHashError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an ObjHashError').toBeInstanceOf(ObjHashError);
  const e = err as ObjHashError;
  expect(e.code, e.message).toBe('EINVAL');
  if (re) expect(e.message).toMatch(re);
  return e;
}

// ------------------------------------------------------------ primitives

const NUMBERS = [
  0, -0, 1, -1, -16, -17, 79, 80, 127, 128, 16383, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 52, 2 ** 53 - 1, -(2 ** 53 - 1),
  2 ** 53, 2 ** 64, -(2 ** 70), 1e300, -1e-300, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity, 0.1, 0.5, -2.25, 12.99, 3.14159,
  123456.789, 1234567.1234567, Math.PI, 1 / 3, 1e21, 0.000001, 4503599627370495.5,
];
const BIGINTS = [0n, 1n, -1n, 255n, 256n, -256n, 2n ** 48n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 63n), 2n ** 64n, -(2n ** 200n) - 7n, 2n ** 1000n + 12345n];
const STRINGS = [
  '', 'a', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(64), 'w'.repeat(65), 'long '.repeat(100), 'héllo', 'ü'.repeat(15), 'ü'.repeat(16),
  '日本語', '😀', 'a😀b', '\ud800', '\udc00', 'a\ud800b', 'x\udc00\ud800y', '\ud83d', '\ud800'.repeat(40), '\u0000\u0001', '\ufeffbom',
];

describe('primitives', () => {
  it('round-trip as the root and inside objects, exactly (-0, NaN, lone surrogates)', () => {
    for (const v of [...NUMBERS, ...BIGINTS, ...STRINGS, true, false, null, undefined]) {
      expect(Object.is(roundTrip(v), v), String(v)).toBe(true);
      const out = roundTrip({ v, w: [v], m: new Map([[v, v]]) });
      expect(Object.is(out.v, v)).toBe(true);
      expect(Object.is(out.w[0], v)).toBe(true);
      expect(Object.is([...out.m.keys()][0], [...new Map([[v, v]]).keys()][0])).toBe(true); // a Map makes -0 keys +0
      expect(Object.is([...out.m.values()][0], v)).toBe(true);
    }
  });

  it('repeated strings are written once (the string table), keys too', () => {
    const one = checkpoint({ a: 'some repeated value' }).length;
    const many = checkpoint(Array.from({ length: 100 }, () => ({ a: 'some repeated value' }))).length;
    // 100 objects of one shape, one string: a few bytes per object
    expect(many - one).toBeLessThan(100 * 8);
    const out = roundTrip(Array.from({ length: 200 }, (_, i) => ({ ['k' + (i % 70)]: 'v' + (i % 90) })));
    expect(out[150]).toEqual({ k10: 'v60' });
  });

  it('after many unique string values, new values are literals (keys and table entries still refer)', () => {
    const values = Array.from({ length: 10000 }, (_, i) => ({ name: `unique-${i}`, u: `ü-${i}`, s: `\ud800${i}`, tag: i % 7 === 0 ? 'seven' : 'other' }));
    values.push({ name: 'late', u: 'late', s: 'late', tag: 'other' }, { name: 'late', u: 'seven', s: 'x', tag: 'late' });
    const img = checkpoint(values);
    expect(roundTrip(values)).toEqual(values);
    const items = (dump(img) as { items: { props: unknown[] }[] }[])[0]!.items;
    const last = items.slice(-2).map((d) => d.props);
    expect(last).toEqual([
      [['name', 'late'], ['u', 'late'], ['s', 'late'], ['tag', 'other']],
      [['name', 'late'], ['u', 'seven'], ['s', 'x'], ['tag', 'late']],
    ]);
  });

  it('small numbers and decimals take few bytes', () => {
    const size = (v: unknown): number => checkpoint(v).length - checkpoint(0).length;
    expect(size(79)).toBe(0);
    expect(size(80)).toBe(1);
    expect(size(12.99)).toBeLessThanOrEqual(2);
    expect(size(0.5)).toBe(1);
    expect(size(Math.PI)).toBe(8);
  });
});

// ------------------------------------------------------------ objects and arrays

describe('objects and arrays', () => {
  it('keep own enumerable string keys in order, integer keys first, __proto__ as a key', () => {
    const o: Record<string, unknown> = { b: 1, 2: 'two', a: 2, 1: 'one' };
    Object.defineProperty(o, 'hidden', { value: 1, enumerable: false });
    (o as Record<symbol, unknown>)[Symbol('s')] = 1;
    Object.defineProperty(o, '__proto__', { value: { x: 1 }, enumerable: true, writable: true, configurable: true });
    const out = roundTrip(o);
    expect(Object.keys(out)).toEqual(['1', '2', 'b', 'a', '__proto__']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')!.value).toEqual({ x: 1 });
    expect(out).toEqual(structuredClone(o));
  });

  it('null-prototype objects stay null-prototype; getters are read', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.x = 1;
    Object.defineProperty(o, 'g', { get: () => 7, enumerable: true });
    const out = roundTrip(o);
    expect(Object.getPrototypeOf(out)).toBe(null);
    expect({ ...out }).toEqual({ x: 1, g: 7 });
  });

  it('many keys (a dictionary) and many shapes', () => {
    const big: Record<string, number> = {};
    for (let i = 0; i < 300; i++) big['key' + i] = i;
    expect(roundTrip(big)).toEqual(big);
    const shapes = Array.from({ length: 400 }, (_, i) => ({ [`a${i}`]: i, b: i % 3 === 0 ? undefined : 'b' }));
    expect(roundTrip(shapes)).toEqual(shapes);
  });

  it('sparse arrays, holes, extra properties', () => {
    const a: unknown[] = [1, , 3]; // eslint-disable-line no-sparse-arrays
    (a as unknown as Record<string, unknown>).x = 5;
    (a as unknown as Record<string, unknown>)['-1'] = 2;
    (a as unknown as Record<string, unknown>)['4294967295'] = 'not an index';
    const out = roundTrip(a);
    expect(out.length).toBe(3);
    expect(1 in out).toBe(false);
    expect(Object.keys(out)).toEqual(['0', '2', 'x', '-1', '4294967295']);
    const huge: unknown[] = [];
    huge[1e9] = 'far';
    huge[5] = { near: true };
    const h = roundTrip(huge);
    expect(h.length).toBe(1e9 + 1);
    expect(Object.keys(h)).toEqual(['5', '1000000000']);
    expect(h[5]).toEqual({ near: true });
    const half = Array.from({ length: 3000 }, (_, i) => i);
    for (let i = 0; i < 3000; i += 2) delete half[i];
    expect(Object.keys(roundTrip(half))).toEqual(Object.keys(half));
    const trailing: unknown[] = [1, 2];
    trailing.length = 5;
    expect(roundTrip(trailing).length).toBe(5);
    expect(roundTrip([])).toEqual([]);
    const extras: unknown[] = [1, 2];
    for (let i = 0; i < 70; i++) (extras as unknown as Record<string, number>)['p' + i] = i;
    expect(Object.entries(roundTrip(extras))).toEqual(Object.entries(extras));
  });

  it('an enumerable property on Object.prototype is not copied', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = 1;
    try {
      const out = roundTrip({ a: 1, b: [{ c: 2 }] });
      expect(Object.keys(out)).toEqual(['a', 'b']);
      expect(Object.keys(out.b[0]!)).toEqual(['c']);
    } finally {
      delete proto.polluted;
    }
  });

  it('sharing and cycles restore as one object', () => {
    const shared = { s: 1 };
    const o: Record<string, unknown> = { a: shared, b: [shared, shared] };
    o.self = o;
    (o.b as unknown[]).push(o.b);
    const out = roundTrip(o) as { a: object; b: unknown[]; self: unknown };
    expect(out.self).toBe(out);
    expect(out.b[0]).toBe(out.a);
    expect(out.b[1]).toBe(out.a);
    expect(out.b[2]).toBe(out.b);
  });
});

// ------------------------------------------------------------ Map, Set, Date, RegExp, wrappers

describe('Map, Set, Date, RegExp, wrappers', () => {
  it('Map and Set keep insertion order, object keys and themselves as keys', () => {
    const k = { key: 1 };
    const m = new Map<unknown, unknown>([[3, 'c'], [k, 'obj'], ['a', k], [-0, 'z'], [NaN, 'nan']]);
    m.set(m, m);
    const s = new Set<unknown>([3, 1, k, 'x']);
    s.add(s);
    const out = roundTrip({ m, s, k });
    expect([...out.m.keys()].slice(0, 2)).toEqual([3, out.k]);
    expect(out.m.get(out.k)).toBe('obj');
    expect(out.m.get('a')).toBe(out.k);
    expect(out.m.get(out.m)).toBe(out.m);
    expect(out.m.get(NaN)).toBe('nan');
    expect([...out.s]).toEqual([3, 1, out.k, 'x', out.s]);
  });

  it('Date (invalid too), RegExp (all flags, lastIndex 0), wrappers', () => {
    const re = /a(b)?/dgimsy;
    re.lastIndex = 3;
    const v = [new Date(0), new Date(8.64e15), new Date(NaN), new Date(1700000000123), re, new RegExp('x', 'v'), new RegExp('\ud800|/|\\n', 'u'),
      Object(false), Object(true), Object(-0), Object(NaN), Object(1.5), Object('str\ud800'), Object(10n ** 30n)];
    const out = roundTrip(v);
    expect(out).toEqual(structuredClone(v));
    expect((out[4] as RegExp).flags).toBe('dgimsy');
    expect((out[4] as RegExp).lastIndex).toBe(0);
    expect(Number.isNaN((out[2] as Date).getTime())).toBe(true);
    expect(Object.is((out[9] as number).valueOf(), -0)).toBe(true);
    expect((out[12] as string).valueOf()).toBe('str\ud800');
  });
});

// ------------------------------------------------------------ errors

describe('errors', () => {
  const ctors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError];
  const describeErr = (e: Error): unknown => ({
    proto: Object.getPrototypeOf(e),
    names: Object.getOwnPropertyNames(e),
    descs: Object.getOwnPropertyNames(e).map((n) => [n, Object.getOwnPropertyDescriptor(e, n)]),
  });

  it('restore as structuredClone makes them: prototype from name, message, stack, cause', () => {
    const cases: Error[] = ctors.map((C) => new C('x', { cause: 42 }));
    const renamed = new RangeError('r');
    renamed.name = 'TypeError';
    const custom = new Error('c');
    custom.name = 'Custom';
    const noMsg = new TypeError();
    const noStack = new Error('n');
    delete (noStack as { stack?: string }).stack;
    const odd = new Error('o');
    (odd as unknown as { message: unknown }).message = 5;
    (odd as { extra?: number }).extra = 1;
    cases.push(renamed, custom, noMsg, noStack, odd, new AggregateError([1], 'agg'), new Error('u', { cause: undefined }));
    for (const e of cases) {
      const out = roundTrip(e);
      const want = structuredClone(e);
      expect(describeErr(out), e.message).toEqual(describeErr(want));
      expect(out).toEqual(want);
    }
  });

  it('a cause may be an object, shared, or the error itself', () => {
    const inner = new Error('inner');
    const e = new Error('outer', { cause: { inner } });
    const out = roundTrip([e, inner]);
    expect((out[0]!.cause as { inner: Error }).inner).toBe(out[1]);
    const self = new Error('self');
    (self as { cause?: unknown }).cause = self;
    const s = roundTrip(self);
    expect(s.cause).toBe(s);
  });
});

// ------------------------------------------------------------ buffers and views

describe('ArrayBuffer, typed arrays, DataView', () => {
  const g = globalThis as unknown as Record<string, new (b: ArrayBuffer, o?: number, l?: number) => ArrayBufferView>;
  const names = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
    'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'Float16Array'].filter((n) => typeof g[n] === 'function');

  it('every typed array and DataView of one buffer restore sharing one buffer at their offsets', () => {
    const buf = new ArrayBuffer(64);
    new Uint8Array(buf).forEach((_, i, a) => (a[i] = i * 7));
    const views = names.map((n) => new g[n]!(buf, 8, 2));
    const dv = new DataView(buf, 3, 5);
    const out = roundTrip({ views, dv, buf, whole: new Uint8Array(buf) });
    for (let i = 0; i < views.length; i++) {
      const v = out.views[i] as unknown as { buffer: ArrayBuffer; byteOffset: number; length: number; constructor: unknown };
      expect(v.constructor).toBe(g[names[i]!]);
      expect(v.buffer).toBe(out.buf);
      expect(v.byteOffset).toBe(8);
      expect(v.length).toBe(2);
    }
    expect(out.dv.buffer).toBe(out.buf);
    expect([out.dv.byteOffset, out.dv.byteLength]).toEqual([3, 5]);
    expect([...out.whole]).toEqual([...new Uint8Array(buf)]);
    expect(out).toEqual(structuredClone({ views, dv, buf, whole: new Uint8Array(buf) }));
  });

  it('resizable buffers: maxByteLength, fixed and length-tracking views (the original is left as it was)', () => {
    const rab = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer & { resize(n: number): void; maxByteLength: number })(8, { maxByteLength: 16 });
    new Uint8Array(rab).set([1, 2, 3, 4, 5, 6, 7, 8]);
    const tracking = new Uint16Array(rab, 2);
    const fixedToEnd = new Uint16Array(rab, 2, 3);
    const fixed = new Uint8Array(rab, 1, 2);
    const dvTracking = new DataView(rab, 4);
    const dvFixed = new DataView(rab, 4, 4);
    const out = roundTrip({ rab, tracking, fixedToEnd, fixed, dvTracking, dvFixed });
    expect(rab.byteLength).toBe(8);
    expect([...new Uint8Array(rab)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const r = out.rab as typeof rab;
    expect(r.maxByteLength).toBe(16);
    expect([out.tracking.length, out.fixedToEnd.length, out.dvTracking.byteLength]).toEqual([3, 3, 4]);
    r.resize(16);
    expect([out.tracking.length, out.fixedToEnd.length, out.fixed.length, out.dvTracking.byteLength, out.dvFixed.byteLength]).toEqual([7, 3, 2, 12, 4]);
    // at maxByteLength already: the probe shrinks and restores
    const full = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer & { resize(n: number): void })(8, { maxByteLength: 8 });
    new Uint8Array(full).set([9, 8, 7, 6, 5, 4, 3, 2]);
    const t2 = new Uint32Array(full);
    const f2 = new Uint32Array(full, 0, 2);
    const d2 = new DataView(full, 2);
    const df2 = new DataView(full, 2, 6);
    const o2 = roundTrip([t2, f2, d2, df2]);
    expect([...new Uint8Array(full)]).toEqual([9, 8, 7, 6, 5, 4, 3, 2]);
    expect(full.byteLength).toBe(8);
    (o2[0]!.buffer as typeof full).resize(4);
    expect((o2[0] as Uint32Array).length).toBe(1);
    expect((o2[1] as Uint32Array).length).toBe(0); // out of bounds now
    expect((o2[2] as DataView).byteLength).toBe(2);
    expect(() => (o2[3] as DataView).byteLength).toThrow(TypeError);
  });

  it('buffer contents and empty buffers', () => {
    const b = new Float64Array([1.5, NaN, -0]);
    const out = roundTrip([b, new ArrayBuffer(0), new Uint8Array(0)]);
    expect(Object.is((out[0] as Float64Array)[2], -0)).toBe(true);
    expect(out).toEqual([b, new ArrayBuffer(0), new Uint8Array(0)]);
  });
});

// ------------------------------------------------------------ refusals

describe('refusals name the path', () => {
  class Foo {
    x = 1;
  }
  const cases: [string, () => unknown, string, RegExp][] = [
    ['function', () => ({ a: [0, 0, 0, { f: () => 1 }] }), 'root.a[3].f', /function/],
    ['symbol', () => ({ s: Symbol('x') }), 'root.s', /symbol/],
    ['WeakMap', () => ({ w: new WeakMap() }), 'root.w', /WeakMap/],
    ['WeakSet', () => [new WeakSet()], 'root[0]', /WeakSet/],
    ['WeakRef', () => ({ r: new WeakRef({}) }), 'root.r', /WeakRef/],
    ['Promise', () => ({ p: Promise.resolve() }), 'root.p', /Promise/],
    ['class instance', () => ({ foo: new Foo() }), 'root.foo', /class Foo/],
    ['throwing getter', () => ({ o: { get bad() { throw new Error('boom'); } } }), 'root.o.bad', /threw Error: boom/],
    ['proxy of an object', () => ({ p: new Proxy({ a: 1 }, {}) }), 'root.p', /Proxy/],
    ['proxy of an array', () => ({ p: new Proxy([1], {}) }), 'root.p', /Proxy/],
    ['proxy of a function', () => ({ p: new Proxy(() => 1, {}) }), 'root.p', /Proxy/],
    ['SharedArrayBuffer', () => ({ b: new SharedArrayBuffer(4) }), 'root.b', /SharedArrayBuffer/],
    ['view of a SharedArrayBuffer', () => ({ v: new Uint8Array(new SharedArrayBuffer(4)) }), 'root.v.buffer', /SharedArrayBuffer/],
    ['Symbol wrapper', () => ({ s: Object(Symbol('x')) }), 'root.s', /Symbol wrapper/],
    ['Map key', () => new Map([[() => 1, 1]]), 'root["<key 0>"]', /function/],
    ['Set value', () => new Set([1, Symbol('y')]), 'root["<value 1>"]', /symbol/],
    ['Error cause', () => new Error('e', { cause: new WeakMap() }), 'root.cause', /WeakMap/],
    ['root function', () => () => 1, 'root', /function/],
    ['fake Date', () => ({ d: Object.create(Date.prototype) }), 'root.d', /only looks like/],
  ];
  for (const [name, make, path, why] of cases) {
    it(name, () => {
      const e = refusal(make());
      expect(e.path).toBe(path);
      expect(e.refusal.why).toMatch(why);
    });
  }

  it('an object whose getter removes another property', () => {
    const o: Record<string, unknown> = { a: 1 };
    Object.defineProperty(o, 'b', { enumerable: true, configurable: true, get: () => delete o.c });
    o.c = 3;
    const e = refusal({ x: { a: 0, b: 0, c: 0 }, o });
    expect(e.path).toBe('root.o');
    expect(e.refusal.why).toMatch(/changed while it was written/);
  });

  it('a detached buffer, a view out of bounds', () => {
    const b = new ArrayBuffer(8);
    const v = new Uint8Array(b);
    structuredClone(b, { transfer: [b] });
    expect(refusal({ b }).path).toBe('root.b');
    expect(refusal({ v }).path).toBe('root.v.buffer');
    const rab = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer & { resize(n: number): void })(8, { maxByteLength: 8 });
    const oob = new Uint8Array(rab, 4, 4);
    rab.resize(6);
    expect(refusal({ oob }).refusal.why).toMatch(/out of the bounds/);
  });

  it('plainKind: cheap kinds, undefined for what is not plain', () => {
    expect(plainKind({})).toBe(K.OBJECT);
    expect(plainKind([])).toBe(K.ARRAY);
    expect(plainKind(Object.create(null))).toBe(K.NULL_OBJECT);
    expect(plainKind(new Uint8Array(1))).toBe(K.TYPED + 1);
    expect(plainKind(new Map())).toBe(K.MAP);
    for (const v of [new Foo(), new WeakMap(), () => 1, new SharedArrayBuffer(1), Object.create(Map.prototype), new (class extends Array {})()])
      expect(plainKind(v as object)).toBeUndefined();
  });
});

// ------------------------------------------------------------ tagged values and dump

describe('tagged values and describeValue', () => {
  it('writeTagged / readTagged share the state with bodies', () => {
    const w = new ImageWriter({ crc32c, version: 2 });
    w.writeHeader([{ objtype: 1, name: VALUE_TYPE_NAME }]);
    const st = new ValueCodecState();
    const child = {};
    const held = {};
    st.ids.set(held, -2); // the walker holds it as objref 2
    const refs: RefWriter = { ref: () => 3, refTyped: () => 0, refNow: () => 0, known: () => 0 };
    w.objref(1, 1);
    w.beginBuiltin(BODY);
    for (const v of ['k', 'k', -0, 10n, held, child, child, undefined]) writeTagged(w, v, refs, 'f', st);
    w.end();
    w.tail(1);
    const r = new ImageReader(w.finish(), { crc32c, maxObjrefGap: 10 });
    r.readHeader();
    r.next();
    r.next();
    const rs = new ValueCodecState();
    const holder = {};
    const got: unknown[] = [];
    const rr: RefReader = { get: (o) => `obj${o}`, getTyped: () => 0, now: () => 0, later: () => {}, offset: r.recOffset };
    for (let i = 0; i < 8; i++) got.push(readTagged(r, rr, holder, 'f', rs));
    expect(got).toEqual(['k', 'k', -0, 10n, 'obj2', {}, {}, undefined]);
    expect(Object.is(got[2], -0)).toBe(true);
    expect(got[6]).toBe(got[5]); // inline once, then its VREF
    expect(r.remaining()).toBe(0);
  });

  it('describes bodies with shapes, refs and shown primitives', () => {
    const b = [2, -0];
    expect(dump(checkpoint({ a: 1, b, c: 'x', d: b }))).toEqual([
      {
        kind: 'Object',
        shape: 0,
        props: [['a', 1], ['b', { index: 0, kind: 'Array', length: 2, items: [2, { number: '-0' }] }], ['c', 'x'], ['d', { vref: 0 }]],
      },
    ]);
  });

  it('describes every kind as JSON', () => {
    const buf = new ArrayBuffer(4);
    const v = { n: [1, -0, NaN, 2n, undefined, 'é'], m: new Map([[1, 2]]), s: new Set(['x']), d: new Date(5), re: /x/g, e: new RangeError('m'), u: new Uint16Array(buf, 2), buf };
    const out = dump(checkpoint(v));
    expect(() => JSON.stringify(out)).not.toThrow();
    const text = JSON.stringify(out);
    for (const want of ['"kind":"Map"', '"kind":"Set"', '"kind":"Date"', '"source":"x"', '"name":"RangeError"', '"kind":"Uint16Array"', '{"number":"-0"}', '{"bigint":"2"}', '{"undefined":true}'])
      expect(text).toContain(want);
  });
});

// ------------------------------------------------------------ property test

/** A random structure of every kind, with sharing and cycles. */
function randomValue(rand: () => number, depth: number, pool: object[]): unknown {
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (depth <= 0 || r < 0.35) {
    return pick<() => unknown>([
      () => Math.floor(rand() * 200) - 50, () => rand() * 1e6, () => pick(NUMBERS), () => pick(BIGINTS), () => pick(STRINGS),
      () => 'k' + Math.floor(rand() * 20), () => null, () => undefined, () => rand() < 0.5,
    ])();
  }
  if (r < 0.45 && pool.length > 0) return pick(pool); // sharing, cycles
  const kid = (): unknown => randomValue(rand, depth - 1, pool);
  let o: object;
  switch (Math.floor(rand() * 10)) {
    case 0: case 1: case 2: {
      const x: Record<string, unknown> = rand() < 0.1 ? Object.create(null) : {};
      pool.push(x);
      const n = Math.floor(rand() * 5);
      for (let i = 0; i < n; i++) x[pick(['a', 'b', 'c', 'id', 'name', '0', '7', 'k' + i])] = kid();
      return x;
    }
    case 3: case 4: {
      const a: unknown[] = [];
      pool.push(a);
      const n = Math.floor(rand() * 6);
      for (let i = 0; i < n; i++) a.push(kid());
      if (rand() < 0.2) delete a[0];
      if (rand() < 0.1) (a as unknown as Record<string, unknown>).extra = kid();
      return a;
    }
    case 5: {
      const m = new Map<unknown, unknown>();
      pool.push(m);
      for (let i = Math.floor(rand() * 4); i > 0; i--) m.set(kid(), kid());
      return m;
    }
    case 6: {
      const s = new Set<unknown>();
      pool.push(s);
      for (let i = Math.floor(rand() * 4); i > 0; i--) s.add(kid());
      return s;
    }
    case 7:
      o = pick<() => object>([() => new Date(Math.floor(rand() * 1e12)), () => /re+/gi, () => Object(pick(STRINGS)), () => new TypeError('t' + rand())])();
      break;
    case 8: {
      const b = new ArrayBuffer(16);
      new Uint8Array(b).forEach((_, i, u) => (u[i] = Math.floor(rand() * 256)));
      o = pick<() => object>([() => new Uint8Array(b, 4, 8), () => new Float64Array(b), () => new DataView(b, 1, 2), () => b])();
      break;
    }
    default:
      o = [kid(), kid()];
  }
  pool.push(o);
  return o;
}

/** Walks a and b side by side: one object of b for each object of a, and the other way round (sharing, cycles). */
function sameSharing(a: unknown, b: unknown): void {
  const ab = new Map<object, unknown>();
  const ba = new Map<unknown, object>();
  const todo: [unknown, unknown][] = [[a, b]];
  while (todo.length > 0) {
    const [x, y] = todo.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (ab.has(x) || ba.has(y)) {
      expect(ab.get(x), 'the same object restored as one').toBe(y);
      expect(ba.get(y)).toBe(x);
      continue;
    }
    ab.set(x, y);
    ba.set(y, x);
    const kids = (v: object): unknown[] => {
      if (v instanceof Map) return [...v].flat();
      if (v instanceof Set) return [...v];
      if (ArrayBuffer.isView(v)) return [v.buffer];
      if (v instanceof Error) return [v.cause];
      return Object.keys(v).map((k) => (v as Record<string, unknown>)[k]);
    };
    const kx = kids(x);
    const ky = kids(y as object);
    expect(ky.length).toBe(kx.length);
    kx.forEach((k, i) => todo.push([k, ky[i]]));
  }
}

describe('property: random structures round-trip as structuredClone copies them', () => {
  it('200 seeded structures', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const pool: object[] = [];
      const input = { root: randomValue(rng(seed), 5, pool), pool: pool.slice(0, 12) };
      const out = roundTrip(input);
      expect(out, `seed ${seed}`).toEqual(structuredClone(input));
      sameSharing(input, out);
      expect(() => JSON.stringify(dump(checkpoint(input)))).not.toThrow();
    }
  });
});

// ------------------------------------------------------------ hostile bodies

describe('hostile bodies are ObjHashError only', () => {
  const samples = (): unknown[] => {
    const buf = new ArrayBuffer(16);
    const shared = { s: 'shared' };
    const rab = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(8, { maxByteLength: 32 });
    return [
      { a: 1, b: 'two', c: [1, , 3], d: new Map<unknown, unknown>([[shared, shared]]), e: new Set([1n, 'x\ud800']) }, // eslint-disable-line no-sparse-arrays
      [new Uint16Array(buf, 2, 3), new DataView(buf), new Float64Array(buf), new Uint8Array(rab, 1), new Date(3), /r/y, new Error('x', { cause: shared })],
      { n: [0.1, -0, NaN, 1e300, 2 ** 40, -(2 ** 40), 10n ** 40n], o: Object.create(null), w: [Object(1), Object('s'), Object(false)] },
    ];
  };

  it('truncated at every byte', () => {
    for (const v of samples()) {
      const img = checkpoint(v);
      for (let n = 0; n < img.length; n++) {
        try {
          restart(img.subarray(0, n));
        } catch (e) {
          expect(e, `cut at ${n}`).toBeInstanceOf(ObjHashError);
        }
      }
    }
  });

  it('random byte flips (restart and dump)', () => {
    const rand = rng(0xf11b);
    for (const v of samples()) {
      const img = checkpoint(v);
      for (let i = 0; i < 1500; i++) {
        const bad = img.slice();
        for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
        for (const f of [restart, dump]) {
          try {
            f(bad);
          } catch (e) {
            if (!(e instanceof ObjHashError)) throw new Error(`flip ${i}: ${String(e)}`, { cause: e });
          }
        }
      }
    }
  });

  it('forged lengths and views are refused before anything is made', () => {
    const big = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x0f]; // uv 2^52-ish
    expectEinval(() => restart(rawImage([K.ARRAY, ...big])), /array length/);
    expectEinval(() => restart(rawImage([K.MAP, ...big])), /entries/);
    expectEinval(() => restart(rawImage([K.ARRAYBUFFER, ...big])), /buffer of/);
    expectEinval(() => restart(rawImage([K.RESIZABLE, 0, ...big])), /resizable ArrayBuffer|maxByteLength/);
    expectEinval(() => restart(rawImage([K.PRIM, T.BIGINT_POS, ...big])), /bigint/);
    expectEinval(() => restart(rawImage([K.PRIM, T.STR_NEW16, ...big])), /UTF-16/);
    expectEinval(() => restart(rawImage([K.SPARSE, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 0, 1])), /array length/);
    expectEinval(() => restart(rawImage([K.PRIM, 0xff])), /unknown tag/);
    expectEinval(() => restart(rawImage([0x15])), /unknown kind/);
    // inline objects: nesting, value indexes, kinds an inline body cannot be
    const nest = (n: number): number[] => [...Array.from({ length: n }, () => [K.SMALL_ARRAY + 1, T.INLINE]).flat(), K.SMALL_ARRAY];
    expect(restart(rawImage([K.SMALL_ARRAY + 1, T.INLINE, ...nest(63)]))).toBeInstanceOf(Array);
    expectEinval(() => restart(rawImage([K.SMALL_ARRAY + 1, T.INLINE, ...nest(64)])), /deeper than 64/);
    expectEinval(() => restart(rawImage([K.SMALL_ARRAY + 1, T.VREF, 0])), /value index 0 is not defined/);
    const selfCycle = restart(rawImage([K.SMALL_ARRAY + 1, T.INLINE, K.SMALL_ARRAY + 1, T.VREF, 0])) as unknown[][];
    expect(selfCycle[0]![0]).toBe(selfCycle[0]); // an array exists before its elements are read
    expectEinval(() => restart(rawImage([K.SMALL_ARRAY + 1, T.INLINE, K.TYPED + 1, T.VREF, 0, 0, 0])), /still being read/);
    expectEinval(() => restart(rawImage([K.SMALL_ARRAY + 1, T.INLINE, K.PRIM, 0])), /inline PRIM/);
    expectEinval(() => restart(rawImage([K.SMALL_ARRAY + 1, T.INLINE, K.ALIAS, T.VREF, 0])), /inline ALIAS/);
    expectEinval(() => restart(rawImage([K.ALIAS, 0])), /ALIAS body without a VREF/);
    expectEinval(() => restart(rawImage([K.ALIAS, T.VREF, 0])), /value index 0 is not defined/);
    expectEinval(() => restart(rawImage([K.TYPED + 5, T.INLINE, K.SMALL_ARRAY, 0, 0])), /not an ArrayBuffer/);
    expectEinval(() => restart(rawImage([K.TYPED + 5, T.INLINE, K.ARRAYBUFFER, 8, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1])), /multiple of 4/);
    expectEinval(() => restart(rawImage([K.TYPED + 5, 0x10])), /not an object/);
    expectEinval(() => restart(rawImage([K.SHAPED + 3])), /shape 3/);
    expectEinval(() => restart(rawImage([K.PRIM, T.STR_REF_SMALL + 2])), /string 2/);
    expectEinval(() => restart(rawImage([K.PRIM, T.REF_NEXT])), /reference/);
    expectEinval(() => restart(rawImage([K.REGEXP, T.STR_SHORT + 1, 0x28, 0])), /RegExp/);
    expectEinval(() => restart(rawImage([K.ERROR, 0x07])), /Error bits/);
    expectEinval(() => restart(rawImage([K.PRIM, T.STR_SHORT + 2, 0xc3, 0x28])), /UTF-8/);
    // short strings are decoded in place: literal ones too, non-ASCII, and never past the body
    expectEinval(() => restart(rawImage([K.PRIM, T.STR_SHORT_LIT + 2, 0xc3, 0x28])), /invalid UTF-8 in a string/);
    expectEinval(() => restart(rawImage([K.PRIM, T.STR_SHORT + 5, 0x61, 0x62])), /read past the end/);
    expect(restart(rawImage([K.PRIM, T.STR_SHORT_LIT + 3, 0x61, 0xc3, 0xa9]))).toBe('a\u00e9');
    expect(restart(rawImage([K.SMALL_ARRAY + 2, T.STR_SHORT + 2, 0x68, 0x69, T.STR_REF_SMALL]))).toEqual(['hi', 'hi']);
    expectEinval(() => restart(rawImage([K.ARRAY_PROPS, 0, 0, 1, T.STR_SHORT + 6, ...Buffer.from('length'), 1])), /length/);
    // views: misaligned, too long, of a non-buffer, tracking a fixed buffer
    const ab = [K.ARRAYBUFFER, 8, 0, 0, 0, 0, 0, 0, 0, 0];
    const views: [number[], RegExp][] = [
      [[K.TYPED + 5, T.REF, 2, 2, 1], /multiple of 4/],
      [[K.TYPED + 5, T.REF, 2, 4, 2], /past its buffer/],
      [[K.DATAVIEW, T.REF, 2, 9, 0], /past its buffer/],
      [[K.TYPED_TRACKING + 1, T.REF, 2, 0], /not resizable/],
    ];
    for (const [view, re] of views) {
      const e = expectEinval(() => restartRaw([view, ab]), re);
      expect(e.message).toContain(`offset ${e.offset}`);
    }
    expectEinval(() => restartRaw([[K.TYPED + 1, T.REF, 2, 0, 0], [K.SMALL_ARRAY]]), /not an ArrayBuffer/);
    expect(restartRaw([[K.TYPED + 5, T.REF, 2, 4, 1], ab])).toEqual(new Int32Array(new ArrayBuffer(8), 4, 1));
    if (typeof (globalThis as { Float16Array?: unknown }).Float16Array !== 'function')
      expectEinval(() => restartRaw([[K.TYPED + 11, T.REF, 2, 0, 1], ab]), /Float16Array is not available/);
  });
});

/** An image of raw bodies where bodies[0] (objref 1) comes after the others (as refNow lays a view out). */
function restartRaw(bodies: number[][]): unknown {
  const w = new ImageWriter({ crc32c, version: 2 });
  w.writeHeader([{ objtype: 1, name: VALUE_TYPE_NAME }]);
  w.objref(1, 1);
  for (let i = 1; i < bodies.length; i++) {
    w.objref(1, i + 1);
    w.beginBuiltin(BODY);
    w.bytes(Uint8Array.from(bodies[i]!));
    w.end();
  }
  w.beginBuiltin(BODY);
  w.bytes(Uint8Array.from(bodies[0]!));
  w.end();
  w.tail(bodies.length);
  return restart(w.finish());
}

// ------------------------------------------------------------ size

describe('compactness', () => {
  it('the benchmark graph (T=2000, with cycles) takes at most 0.7x the bytes of v8.serialize', () => {
    for (const cycles of [false, true]) {
      const { root } = buildGraph(2000, cycles);
      const ours = checkpoint(root).length;
      const theirs = v8.serialize(root).length;
      expect(ours / theirs, `${ours} vs ${theirs}`).toBeLessThanOrEqual(0.7);
      const small = buildGraph(64, cycles).root;
      expect(roundTrip(small)).toEqual(structuredClone(small));
    }
  });
});
