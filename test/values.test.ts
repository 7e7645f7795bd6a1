/**
 * Plain JS values through the public API (checkpoint(value), restart(image)
 * with no type), on both backends: what structuredClone handles, sharing
 * and cycles among all of it, views sharing one buffer, refusals with the
 * path of the value, typed objects mixed in, 1,000,000-deep structures,
 * and hostile value images (ObjHashErrors only).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ObjHashError, checkpoint, checkpointToFile, defineObjType, inspectImage, restart, restartFromFile } from '../lib/index.js';
import { IMPLS, expectCode, rng } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'objhash-values-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One sample of each kind structuredClone takes. */
function samples(): [string, unknown][] {
  const sparse: unknown[] = [1, , 3]; // eslint-disable-line no-sparse-arrays
  sparse[10] = 'ten';
  const withProps = Object.assign([1, 2], { extra: 'x' });
  const re = /a+b/gimsuy;
  re.lastIndex = 3;
  const err = new RangeError('out of range');
  const resizable = new ArrayBuffer(8, { maxByteLength: 64 });
  return [
    ['undefined', undefined],
    ['null', null],
    ['true', true],
    ['-0', -0],
    ['NaN', NaN],
    ['Infinity', -Infinity],
    ['a small int', 42],
    ['a double', 3.141592653589793],
    ['a big int', 2 ** 53 + 2],
    ['bigints', [0n, -1n, 2n ** 64n, -(2n ** 200n) + 7n]],
    ['strings', ['', 'ascii', 'žluťoučký kůň', '🐎', '\uD800 lone', 'x\uDFFF', '\uFEFFbom']],
    ['a plain object', { a: 1, 'not id': 2, 3: 'three', nested: { deep: [1, { x: null }] } }],
    ['an object without prototype', Object.assign(Object.create(null) as object, { a: 1 })],
    ['a sparse array', sparse],
    ['an array with properties', withProps],
    ['a Map', new Map<unknown, unknown>([['k', 1], [2, { v: 2 }], [null, undefined]])],
    ['a Set', new Set<unknown>([1, 'two', { three: 3 }])],
    ['Dates', [new Date(0), new Date(8.64e15), new Date(NaN)]],
    ['a RegExp', re],
    ['wrappers', [Object(true), Object(5), Object('str'), Object(10n)]],
    ['an Error', err],
    ['Error subclasses', [new TypeError('t'), new SyntaxError('s'), new EvalError('e'), new URIError('u'), new ReferenceError('r'), new Error('plain')]],
    ['an ArrayBuffer', new Uint8Array([1, 2, 3, 250]).buffer],
    ['a resizable ArrayBuffer', resizable],
    [
      'every typed array',
      [
        new Int8Array([-1, 2]),
        new Uint8Array([255]),
        new Uint8ClampedArray([9]),
        new Int16Array([-300]),
        new Uint16Array([65535]),
        new Int32Array([-7]),
        new Uint32Array([4e9]),
        new Float32Array([1.5]),
        new Float64Array([Math.PI]),
        new BigInt64Array([-5n]),
        new BigUint64Array([2n ** 64n - 1n]),
      ],
    ],
    ['a DataView', new DataView(new ArrayBuffer(16), 4, 8)],
  ];
}

describe.each(IMPLS)('plain values (%s)', (impl) => {
  it('objects of a shape met many times (made by a compiled factory) restore with the same own keys, order and values, whatever the keys', () => {
    const odd = ['"', "'", '\\', '`${x}`', '}) ; throw 1; ({', '\u2028', '\uD800', '', ' ', 'constructor', 'toString', '0', '7', 'length', 'a-b', '\n'];
    const shapes: Record<string, unknown>[][] = [];
    for (let k = 1; k <= odd.length; k++) {
      const keys = odd.slice(0, k);
      const list: Record<string, unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        const o: Record<string, unknown> = {};
        for (const key of keys) o[key] = `${key}:${i}`;
        list.push(o);
      }
      shapes.push(list);
    }
    // a shape with an own __proto__ stays an own property, with Object.prototype as prototype
    const protoShape = Array.from({ length: 20 }, (_, i) => {
      const o: Record<string, unknown> = { a: i };
      Object.defineProperty(o, '__proto__', { value: { p: i }, enumerable: true, writable: true, configurable: true });
      return o;
    });
    const back = restart(checkpoint({ shapes, protoShape }, { impl }), { impl }) as { shapes: Record<string, unknown>[][]; protoShape: Record<string, unknown>[] };
    expect(back.shapes).toHaveLength(shapes.length);
    for (let k = 0; k < shapes.length; k++) {
      for (let i = 0; i < 20; i++) {
        const got = back.shapes[k]![i]!;
        expect(Object.keys(got)).toEqual(Object.keys(shapes[k]![i]!));
        expect(Object.entries(got)).toEqual(Object.entries(shapes[k]![i]!));
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      }
    }
    for (let i = 0; i < 20; i++) {
      const o = back.protoShape[i]!;
      expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(o, '__proto__')!.value).toEqual({ p: i });
    }
    // and again (the factories are kept), with more shapes than one restart may compile
    const many = Array.from({ length: 300 }, (_, k) => Array.from({ length: 10 }, (_, i) => ({ [`k${k}`]: i, z: k })));
    const back2 = restart(checkpoint(many, { impl }), { impl }) as Record<string, number>[][];
    expect(back2).toEqual(many);
  });


  const o = { impl };
  const roundTrip = <T>(v: T): T => restart(checkpoint(v, o), o) as T;

  it.each(samples())('%s: restarts as structuredClone would copy it', (_what, v) => {
    const back = roundTrip(v);
    const clone = structuredClone(v);
    expect(back).toEqual(clone);
    if (v instanceof RegExp) expect((back as RegExp).lastIndex).toBe(0);
    if (v instanceof Error) {
      expect((back as Error).name).toBe(v.name);
      expect((back as Error).message).toBe(v.message);
      expect(Object.getPrototypeOf(back)).toBe(Object.getPrototypeOf(clone));
    }
    if (v instanceof ArrayBuffer && v.resizable) expect((back as ArrayBuffer).maxByteLength).toBe(v.maxByteLength);
  });

  it('-0, NaN and lone surrogates are exact', () => {
    const back = roundTrip({ z: -0, n: NaN, s: '\uD83D', t: 'a\uDC00b' });
    expect(Object.is(back.z, -0)).toBe(true);
    expect(Number.isNaN(back.n)).toBe(true);
    expect(back.s).toBe('\uD83D');
    expect(back.t).toBe('a\uDC00b');
  });

  it('sharing and cycles among all kinds; views sharing one buffer share it, at their offsets', () => {
    const buf = new ArrayBuffer(32);
    const a = new Uint8Array(buf, 4, 8);
    const b = new Float64Array(buf, 16, 2);
    const dv = new DataView(buf, 1, 30);
    const shared = { n: 1 };
    const m = new Map<unknown, unknown>();
    const s = new Set<unknown>();
    const root: Record<string, unknown> = { a, b, dv, shared, m, s, list: [shared, shared] };
    m.set(m, root);
    m.set(shared, s);
    s.add(root);
    s.add(s);
    root.self = root;
    const back = roundTrip(root) as typeof root & { a: Uint8Array; b: Float64Array; dv: DataView; m: Map<unknown, unknown>; s: Set<unknown>; list: unknown[] };
    expect(back.self).toBe(back);
    expect(back.a.buffer).toBe(back.b.buffer);
    expect(back.dv.buffer).toBe(back.a.buffer);
    expect([back.a.byteOffset, back.a.length, back.b.byteOffset, back.b.length, back.dv.byteOffset, back.dv.byteLength]).toEqual([4, 8, 16, 2, 1, 30]);
    expect(back.list[0]).toBe(back.shared);
    expect(back.list[1]).toBe(back.shared);
    expect(back.m.get(back.m)).toBe(back);
    expect(back.m.get(back.shared)).toBe(back.s);
    expect([...back.s]).toEqual([back, back.s]);
    expect([...back.m.keys()]).toEqual([back.m, back.shared]);
  });

  it('a view whose buffer was queued before it (the buffer named first or later) restarts', () => {
    const buf = new ArrayBuffer(8);
    for (const v of [{ v: new Uint8Array(buf, 2, 4), buf }, { buf, v: new Uint8Array(buf, 2, 4) }, [new DataView(buf), buf, new Int16Array(buf, 2, 1)]]) {
      const back = roundTrip(v) as Record<string, ArrayBufferView | ArrayBuffer> | (ArrayBufferView | ArrayBuffer)[];
      const items = Object.values(back);
      const bufs = items.map((x) => (x instanceof ArrayBuffer ? x : (x as ArrayBufferView).buffer));
      expect(new Set(bufs).size).toBe(1);
    }
  });

  it('refuses what structuredClone refuses, naming the path', () => {
    class NoType {
      x = 1;
    }
    const cases: [unknown, RegExp][] = [
      [{ a: [1, 2, 3, { f: () => 1 }] }, /root\.a\[3\]\.f: a function/],
      [{ s: Symbol('x') }, /root\.s: a symbol/],
      [{ w: new WeakMap() }, /root\.w: .*WeakMap/],
      [{ deep: { 'odd key': new NoType() } }, /root\.deep\["odd key"\]: .*NoType/],
      [() => 1, /root: a function/],
    ];
    for (const [v, re] of cases) expectCode(() => checkpoint(v, o), 'EINVAL', re);
    const getter = { get g(): number {
      throw new Error('boom');
    } };
    expectCode(() => checkpoint({ x: getter }, o), 'EINVAL', /root\.x\.g/);
  });

  it('plain values and typed objects mix in one image', () => {
    interface Acct {
      id: number;
      owner: unknown;
    }
    const AcctT = defineObjType<Acct>({
      name: 'acct',
      key: (a) => a.id,
      checkpoint: (ctx, a) => void ctx.begin(120).uv(a.id).end(),
      restore: (ctx) => (ctx.readRecord(120), { id: ctx.uv(), owner: null }),
    });
    void AcctT;
    const P = defineObjType<{ x: number }>({ name: 'p', fields: { x: 'uv', tags: 'value' } as never });
    const pt = { x: 3, tags: { colors: ['red'] } };
    const v = { points: [pt, pt], when: new Date(5) };
    const back = restart(checkpoint(v, { impl, types: [P] }), { impl, types: [P] }) as typeof v;
    expect(back.points[0]).toBe(back.points[1]);
    expect(back.points[0]).toEqual(pt);
  });

  it('a plain value shared between a value field (inline) and a ref(ValueT) field (a record) is one object, in either order', async () => {
    const { ValueT, ref } = await import('../lib/index.js');
    class Box1 {
      tag: unknown = null;
      held: unknown = null;
    }
    class Box2 extends Box1 {}
    // tag first: the object is written inline in the box's record, then the
    // ref(ValueT) field asks for its objref (a VALUE record that names it)
    const TagFirst = defineObjType<Box1>({ name: 'box1', fields: { tag: 'value', held: ref(ValueT) } as never, create: Box1 });
    // held first: its own record; the value field refers to it by objref
    const HeldFirst = defineObjType<Box2>({ name: 'box2', fields: { held: ref(ValueT), tag: 'value' } as never, create: Box2 });
    for (const [T, C] of [[TagFirst, Box1], [HeldFirst, Box2]] as const) {
      const shared = { n: [1, 2], self: null as unknown };
      shared.self = shared;
      const box = Object.assign(new C(), { tag: shared, held: shared });
      const img = checkpoint({ box, also: shared }, { impl, types: [T] });
      const dumped = JSON.stringify(inspectImage(img, { impl }).objects);
      expect(dumped).toContain(T.name);
      const back = restart(img, { impl, types: [T] }) as { box: Box1; also: { self: unknown } };
      expect(back.box).toBeInstanceOf(C);
      expect(back.box.tag).toBe(back.box.held);
      expect(back.also).toBe(back.box.tag);
      expect(back.also.self).toBe(back.also);
      expect(back.also).toEqual({ n: [1, 2], self: back.also });
      // ValueT may be listed in types too (it is in every version 2 table anyway)
      const listed = { impl, types: [T, ValueT] };
      expect(checkpoint({ box, also: shared }, listed)).toEqual(img);
      expect(restart(img, listed)).toEqual(back);
    }
  });

  it('values nested deeper than one record may inline move to records of their own, restoring the same structure', () => {
    for (const depth of [63, 64, 65, 130, 1000]) {
      let v: Record<string, unknown> = { leaf: true };
      const levels: object[] = [v];
      for (let i = 0; i < depth; i++) levels.push((v = { child: v, i }));
      const img = checkpoint(v, o);
      const info = inspectImage(img, o);
      // one record of the objhash per MAX_INLINE + 1 levels
      expect(info.objects.reduce((a, t) => a + t.count, 0)).toBe(Math.ceil((depth + 1) / 65));
      let back = restart(img, o) as Record<string, unknown>;
      let n = 0;
      while (back.child) {
        expect(back.i).toBe(depth - 1 - n);
        back = back.child as Record<string, unknown>;
        n++;
      }
      expect(n).toBe(depth);
      expect(back).toEqual({ leaf: true });
    }
  });

  it('1,000,000-deep linked lists and nested arrays checkpoint and restart', () => {
    let list: { next: unknown } | null = null;
    for (let i = 0; i < 1_000_000; i++) list = { next: list };
    let back = roundTrip(list) as { next: unknown } | null;
    let n = 0;
    for (; back; back = back.next as typeof back) n++;
    expect(n).toBe(1_000_000);
    let arr: unknown[] = [];
    for (let i = 0; i < 1_000_000; i++) arr = [arr];
    let a = roundTrip(arr);
    n = 0;
    for (; a.length === 1; a = a[0] as unknown[]) n++;
    expect(n).toBe(1_000_000);
  });

  it('files: checkpointToFile(path, value) and restartFromFile(path)', () => {
    const p = join(dir, `v-${impl}.img`);
    const v = { m: new Map([[1, { two: 2 }]]) };
    // one object of the objhash, the root; the Map and { two } are inline in its body
    expect(checkpointToFile(p, v, o).objects).toBe(1);
    expect(restartFromFile(p, o)).toEqual(v);
    expect(inspectImage(p, o).valid).toBe(true);
  });

  it('a plain value with its options third (type undefined), in every call that takes them; options given twice are EINVAL', async () => {
    const P = await import('../lib/promises.js');
    const { PassThrough } = await import('node:stream');
    const v = { a: [1, 2], b: { c: 'x' } };
    // maxObjects 0 is refused: proof that the third argument is read
    const bad = { ...o, maxObjects: 0 };
    expectCode(() => checkpoint(v, undefined, bad), 'EINVAL', /maxObjects/);
    expect(restart(checkpoint(v, undefined, o), undefined, o)).toEqual(v);
    expectCode(() => restart(checkpoint(v, o), undefined, bad), 'EINVAL', /maxObjects/);
    const p = join(dir, `third-${impl}.img`);
    expectCode(() => checkpointToFile(p, v, undefined, bad), 'EINVAL', /maxObjects/);
    expect(checkpointToFile(p, v, undefined, o).objects).toBe(1);
    expect(restartFromFile(p, undefined, o)).toEqual(v);
    expectCode(() => restartFromFile(p, undefined, bad), 'EINVAL', /maxObjects/);
    await expect(P.checkpointToFile(p, v, undefined, bad)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/maxObjects/) });
    expect((await P.checkpointToFile(p, v, undefined, o)).objects).toBe(1);
    expect(await P.restartFromFile(p, undefined, o)).toEqual(v);
    await expect(P.restartFromFile(p, undefined, bad)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/maxObjects/) });
    const sink = new PassThrough();
    const got: Buffer[] = [];
    sink.on('data', (c: Buffer) => got.push(c));
    await P.checkpointToStream(sink, v, undefined, o);
    expect(await P.restartFromStream(Readable.from([Buffer.concat(got)]), undefined, o)).toEqual(v);
    await expect(P.restartFromStream(Readable.from([Buffer.concat(got)]), undefined, bad)).rejects.toMatchObject({ code: 'EINVAL' });
    // the options in both places (JS; TypeScript refuses it): which is meant cannot be told
    const loose = <F>(f: F) => f as unknown as (...a: unknown[]) => unknown;
    expectCode(() => loose(checkpoint)(v, o, o), 'EINVAL', /options given twice/);
    expectCode(() => loose(restart)(checkpoint(v, o), o, o), 'EINVAL', /options given twice/);
    await expect(loose(P.restartFromFile)(p, o, o) as Promise<unknown>).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/options given twice/) });
  });

  it('hostile value images: 3000 seeded mutations give ObjHashErrors only, and verify refuses what restart refuses', () => {
    const v: Record<string, unknown> = {
      m: new Map<unknown, unknown>([['a', 1]]),
      s: new Set([1n]),
      u: new Uint16Array([1, 2, 3]),
      d: new DataView(new ArrayBuffer(8)),
      e: new TypeError('x'),
      arr: [1, 'two', { three: 3 }],
    };
    v.self = v;
    const img = checkpoint(v, o);
    const rnd = rng(31);
    for (let i = 0; i < 3000; i++) {
      const m = img.slice();
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) m[56 + Math.floor(rnd() * (m.length - 56))] = Math.floor(rnd() * 256);
      let outcome = 'ok';
      try {
        restart(m, o);
      } catch (e) {
        if (!(e instanceof ObjHashError)) throw new Error(`mutation ${i}: ${String(e)}`);
        outcome = e.code;
      }
      if (!inspectImage(m, o).valid) expect(outcome, `mutation ${i}`).not.toBe('ok');
    }
  });
});
