/**
 * lib/schema: the field compiler, the schema's bytes, evolution, dump.
 * Records go through a real ImageWriter / ImageReader (format version 2);
 * the walker is a fake RefWriter / RefReader, and the plain-value codec a
 * stub (vi.mock of lib/schema/values-adapter.ts).
 */
import { describe, it, expect, expectTypeOf, vi } from 'vitest';
import { getBackend } from '../lib/backend/loader.js';
import { ObjHashError } from '../lib/errors.js';
import { REC } from '../lib/image/format.js';
import { ImageReader } from '../lib/image/reader.js';
import { ImageWriter } from '../lib/image/writer.js';
import type { PayloadReader } from '../lib/image/payload-reader.js';
import type { PayloadWriter } from '../lib/image/payload-writer.js';
import {
  compileSchema, decodeSchema, describeFields, kindName, list, opt, ref, refs, resolveSchema,
  type CompiledSchema, type Fields, type FieldsType, type ReadFn, type ValueCodecState,
} from '../lib/schema/index.js';
import { generatedSource } from '../lib/schema/compile.js';
import { defineObjType, type ObjType } from '../lib/types.js';
import type { PathStep, RefReader, RefWriter } from '../lib/walk/refs.js';
import { expectCode, rng } from './helpers.js';

// The 'value' kind's codec, stubbed: tag 0 + JSON text (undefined: tag 1), tag 2 + objref for a Set (a "child").
vi.mock('../lib/schema/values-adapter.js', () => ({
  writeTagged(w: PayloadWriter, v: unknown, refs: RefWriter, step: PathStep, state: unknown) {
    if ((state as { isState?: boolean }).isState !== true) throw new Error('writeTagged: not the state');
    if (v === undefined) return w.u8(1);
    if (v instanceof Set) {
      w.u8(2);
      return w.uv(refs.ref(v, step));
    }
    w.u8(0);
    w.vstr(JSON.stringify(v));
  },
  readTagged(r: PayloadReader, refs: RefReader, holder: object, key: string | number, state: unknown) {
    if ((state as { isState?: boolean }).isState !== true) throw new Error('readTagged: not the state');
    const t = r.u8();
    if (t === 1) return undefined;
    if (t === 2) return refs.get(r.uv(), holder, key);
    return JSON.parse(r.vstr());
  },
  describeValue(r: PayloadReader, state: unknown) {
    if ((state as { isState?: boolean }).isState !== true) throw new Error('describeValue: not the state');
    const t = r.u8();
    return t === 1 ? undefined : t === 2 ? { ref: r.uv() } : { json: r.vstr() };
  },
}));

const js = getBackend('js');
const crc32c = (b: Uint8Array, c: number): number => js.crc32c(b, c);
/** The stubbed codec keeps no state, but checks that it is given this one. */
const STATE = { isState: true } as unknown as ValueCodecState;

// ------------------------------------------------------------ fake walker

/** Objrefs from 2 on (1 is the object written), one per distinct child, and every call seen. */
class FakeRefWriter implements RefWriter {
  readonly ids = new Map<unknown, number>();
  readonly calls: { child: unknown; type: ObjType<any> | undefined; step: PathStep }[] = [];
  refTyped<T>(child: T, type: ObjType<T>, step: PathStep): number {
    this.calls.push({ child, type, step });
    return this.id(child);
  }
  ref(child: object, step: PathStep): number {
    this.calls.push({ child, type: undefined, step });
    return this.id(child);
  }
  refNow(child: object, step: PathStep): number {
    return this.ref(child, step);
  }
  known(): number {
    return 0;
  }
  private id(child: unknown): number {
    let n = this.ids.get(child);
    if (n === undefined) this.ids.set(child, (n = this.ids.size + 2));
    return n;
  }
}

/** Objects by objref, restored or not: an objref in `later` is pending, its holder/key recorded. */
class FakeRefReader implements RefReader {
  readonly pending: { objref: number; holder: object; key: string | number }[] = [];
  readonly offset = 0;
  constructor(
    readonly objects: Map<number, { obj: unknown; type?: ObjType<any> }>,
    readonly later_ = new Set<number>(),
  ) {}
  get(objref: number, holder: object, key: string | number): unknown {
    if (this.later_.has(objref)) {
      this.pending.push({ objref, holder, key });
      return undefined;
    }
    const e = this.objects.get(objref);
    if (e === undefined) throw new ObjHashError('EINVAL', `no objref ${objref}`);
    return e.obj;
  }
  getTyped(objref: number, type: ObjType<any>, holder: object, key: string | number): unknown {
    const v = this.get(objref, holder, key);
    const e = this.objects.get(objref);
    if (e?.type !== undefined && e.type !== type) throw new ObjHashError('ENOMSG', `objref ${objref} is not a ${type.name}`);
    return v;
  }
  now(objref: number): unknown {
    return this.objects.get(objref)?.obj;
  }
  later(fn: () => void): void {
    fn();
  }
}

/** The reader's view of what the writer referred to: objref -> the same object. */
function readerFor(w: FakeRefWriter, later?: Set<number>): FakeRefReader {
  const m = new Map<number, { obj: unknown; type?: ObjType<any> }>();
  for (const c of w.calls) m.set(w.ids.get(c.child)!, { obj: c.child, type: c.type });
  return new FakeRefReader(m, later);
}

// ------------------------------------------------------------ image helpers

/** An image holding one FIELDS record written by `fill` (the object with objref 1, type 'node'). */
function imageOf(schema: Uint8Array, fill: (w: ImageWriter) => void): Uint8Array {
  const w = new ImageWriter({ crc32c, version: 2 });
  w.writeHeader([{ objtype: 1, name: 'node', schema }]);
  w.objref(1, 1);
  w.beginBuiltin(REC.FIELDS);
  fill(w);
  w.end();
  w.tail(1);
  return w.finish();
}

/** A reader positioned at the payload of that FIELDS record. */
function atFields(image: Uint8Array): ImageReader {
  const r = new ImageReader(image, { crc32c });
  expect(r.readHeader().types[0]!.schema).toBeDefined();
  expect(r.next().type).toBe(REC.OBJREF);
  expect(r.objref()).toEqual({ objtype: 1, objref: 1 });
  expect(r.next().type).toBe(REC.FIELDS);
  return r;
}

/** Checks the rest of the image: the record read completely, then TAIL. */
function finishImage(r: ImageReader): void {
  r.expectEnd();
  expect(r.next().type).toBe(REC.TAIL);
  r.tail(1);
}

/** Writes obj with c, reads it back with read (default c.read) into a fresh object. */
function roundTrip(c: CompiledSchema, obj: object, opts: { read?: ReadFn; later?: Set<number> } = {}) {
  const rw = new FakeRefWriter();
  const image = imageOf(c.encoded, (w) => c.write(w, obj, rw, STATE));
  const r = atFields(image);
  const rr = readerFor(rw, opts.later);
  const out: Record<string, unknown> = {};
  (opts.read ?? c.read)(r, out, rr, STATE);
  finishImage(r);
  return { out, image, rw, rr };
}

/** An open FIELDS record to write into. */
function openRecord(): ImageWriter {
  const w = new ImageWriter({ crc32c, version: 2 });
  w.writeHeader([{ objtype: 1, name: 'node', schema: new Uint8Array(0) }]);
  w.objref(1, 1);
  w.beginBuiltin(REC.FIELDS);
  return w;
}

const NodeT = defineObjType<object>({ name: 'node' });
const LeafT = defineObjType<object>({ name: "leaf 'quoted' \"type\"\n" });

// ------------------------------------------------------------ compile and round-trip

describe('compileSchema: every kind round-trips', () => {
  const ALL: Fields = {
    a8: 'u8', a16: 'u16', a32: 'u32', s32: 'i32', b64: 'u64', c64: 'i64', d: 'f64', ok: 'bool',
    n: 'uv', z: 'sv', s: 'str', v: 'vstr', bytes: 'blob', big: 'bigint', meta: 'value',
    text: opt('str'), maybe: opt('u8'), parent: ref(NodeT), leaf: ref(() => LeafT), kids: refs(NodeT),
    tags: list('vstr'), grid: list(list('u8')), sparse: list(opt('sv')), bigs: list('bigint'),
    optKids: opt(refs(NodeT)), metas: list('value'), size: { kind: 'uv', default: 0 },
  };
  const c = compileSchema('node', ALL);

  it('writes and reads every field, in order, with edge values', () => {
    const p = { p: 1 }, k1 = { k: 1 }, k2 = { k: 2 }, lf = { leaf: true };
    const obj = {
      a8: 255, a16: 65535, a32: 0xffffffff, s32: -0x80000000, b64: 0xffffffffffffffffn, c64: -0x8000000000000000n,
      d: -0, ok: true, n: Number.MAX_SAFE_INTEGER, z: -(2 ** 52), s: 'héllo ☃ 𝄞', v: 'x'.repeat(300) + 'é',
      bytes: new Uint8Array([0, 1, 255]), big: -(2n ** 200n) + 12345n, meta: { a: [1, 'two'] },
      text: null, maybe: 7, parent: p, leaf: lf, kids: [k1, null, k2, k1], tags: ['a', '', 'ü'],
      grid: [[1, 2], [], [3]], sparse: [undefined, null, -5], bigs: [0n, 1n, -1n, 2n ** 64n, -(2n ** 63n)],
      optKids: undefined, metas: [1, 'x', null, undefined], size: 42,
    };
    const { out, rw } = roundTrip(c, obj);
    expect(Object.keys(out)).toEqual(Object.keys(ALL));
    expect(out).toEqual({ ...obj, d: -0 });
    expect(Object.is(out.d, -0)).toBe(true);
    expect(out.parent).toBe(p);
    expect((out.kids as unknown[])[3]).toBe(k1);
    // ref steps name the field; the quoted type name reached refTyped as the type itself
    expect(rw.calls.map((x) => [x.step, x.type?.name])).toEqual([
      ['parent', 'node'], ['leaf', LeafT.name], ['kids', 'node'], ['kids', 'node'], ['kids', 'node'],
    ]);
  });

  it('u64/i64 accept safe integer numbers and read back as bigint; f64 keeps NaN and infinities', () => {
    const c2 = compileSchema('n', { u: 'u64', i: 'i64', f: list('f64') });
    const { out } = roundTrip(c2, { u: 5, i: -7, f: [NaN, Infinity, -Infinity, 1.5] });
    expect(out).toEqual({ u: 5n, i: -7n, f: [NaN, Infinity, -Infinity, 1.5] });
  });

  it('opt keeps undefined, absent (as undefined) and null apart from values', () => {
    const c2 = compileSchema('n', { a: opt('str'), b: opt('str'), c: opt('str'), d: opt(list('u8')) });
    const { out } = roundTrip(c2, { a: undefined, c: null, d: [1] });
    expect(out).toEqual({ a: undefined, b: undefined, c: null, d: [1] });
    expect('b' in out).toBe(true);
  });

  it('bigints of every size round-trip with one encoding each', () => {
    const c2 = compileSchema('n', { b: 'bigint' });
    const vals = [0n, 1n, -1n, 255n, 256n, -256n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n), 2n ** 64n - 1n, 3n ** 300n, -(7n ** 500n)];
    for (const b of vals) expect(roundTrip(c2, { b }).out.b).toBe(b);
    // 0n is one byte; 255n is header 2 + one byte
    expect(imageOf(c2.encoded, (w) => c2.write(w, { b: 255n }, new FakeRefWriter(), STATE)).length).toBe(
      imageOf(c2.encoded, (w) => c2.write(w, { b: 0n }, new FakeRefWriter(), STATE)).length + 1,
    );
  });

  it('a read blob is the object\'s own copy, not a view of the image', () => {
    const c2 = compileSchema('n', { b: 'blob' });
    const { out, image } = roundTrip(c2, { b: new Uint8Array([9, 8, 7]) });
    expect((out.b as Uint8Array).buffer).not.toBe(image.buffer);
    expect(out.b).toEqual(new Uint8Array([9, 8, 7]));
  });

  it('a reference not restored yet is undefined at once (key present) and left to the walker', () => {
    const c2 = compileSchema('n', { parent: ref(NodeT), kids: refs(NodeT), m: 'value' });
    const p = {}, k = {}, s = new Set([1]);
    const rw = new FakeRefWriter();
    const image = imageOf(c2.encoded, (w) => c2.write(w, { parent: p, kids: [p, k], m: s }, rw, STATE));
    const r = atFields(image);
    const rr = readerFor(rw, new Set([2, 4]));
    const out: Record<string, unknown> = {};
    c2.read(r, out, rr, STATE);
    finishImage(r);
    expect(Object.keys(out)).toEqual(['parent', 'kids', 'm']);
    expect(out.parent).toBeUndefined();
    expect(out.kids).toEqual([undefined, k]);
    expect(rr.pending).toEqual([
      { objref: 2, holder: out, key: 'parent' },
      { objref: 2, holder: out.kids, key: 0 },
      { objref: 4, holder: out, key: 'm' },
    ]);
    expect(rw.calls.at(-1)).toEqual({ child: s, type: undefined, step: 'm' });
  });

  it('a reference of the wrong type is the walker\'s error, unchanged', () => {
    const c2 = compileSchema('n', { parent: ref(NodeT) });
    const rw = new FakeRefWriter();
    const image = imageOf(c2.encoded, (w) => c2.write(w, { parent: {} }, rw, STATE));
    const rr = new FakeRefReader(new Map([[2, { obj: {}, type: LeafT }]]));
    expectCode(() => c2.read(atFields(image), {}, rr, STATE), 'ENOMSG', /^objref 2 is not a node$/);
  });

  it('ref(() => Type) resolves at compile time (self and forward references)', () => {
    let Later: ObjType<object> | undefined;
    const fields: Fields = { next: ref(() => Later!), all: refs(() => Later!) };
    expectCode(() => compileSchema('t', fields), 'EINVAL', /^type 't': field 'next': ref\(\) must be an ObjType/);
    const thrower: Fields = { x: ref((): ObjType<object> => { throw new Error('not yet'); }) };
    expectCode(() => compileSchema('t', thrower), 'EINVAL', /the function given to ref\(\) threw: not yet/);
    Later = defineObjType<object>({ name: 'later' });
    const c2 = compileSchema('t', fields);
    expect(c2.fields.map((f) => kindName(f.kind))).toEqual(['ref(later)', 'refs(later)']);
    const n = {};
    expect(roundTrip(c2, { next: n, all: [n] }).out).toEqual({ next: n, all: [n] });
  });

  it('FieldsType: the object type a field list describes', () => {
    const f = { a: 'u8', b: opt('str'), c: ref(NodeT), d: refs(NodeT), e: list(list('u64')), g: { kind: 'bool', default: true } } as const;
    expectTypeOf<FieldsType<typeof f>>().toEqualTypeOf<{
      a: number; b: string | undefined | null; c: object | null; d: (object | null)[]; e: bigint[][]; g: boolean;
    }>();
  });

  it('an empty field list compiles, writes nothing', () => {
    const c2 = compileSchema('empty', {});
    expect(roundTrip(c2, {}).out).toEqual({});
    expect(decodeSchema(c2.encoded, 'empty').fields).toEqual([]);
  });

  it('the compiled code is straight-line calls on the writer', () => {
    const c2 = compileSchema('n', { kind: 'uv', flags: 'u32', text: opt('str') });
    const src = generatedSource(c2.write)!;
    expect(src).toContain('try {\nw.uv(o.kind);\nw.u32(o.flags);\n{ const v0 = o.text;');
    expect(generatedSource(c2.read)).toContain('o.kind = r.uv();\no.flags = r.u32();');
    // with loops, the catch is in a wrapper, not around them
    const c3 = compileSchema('n', { kind: 'uv', tags: list('vstr') });
    expect(generatedSource(c3.write)).toMatch(/^function \(w, o, refs, state\) \{\nw\.uv\(o\.kind\);\n.*for \(let i0 = 0;/);
    expect(generatedSource(c3.write)).not.toContain('try');
    expect(Object.isFrozen(c2)).toBe(true);
    expect(Object.isFrozen(c2.fields[0])).toBe(true);
  });
});

// ------------------------------------------------------------ refusals on write

describe('compiled writer: wrong values are EINVAL naming type.field and the value', () => {
  const cases: [string, Fields[string], unknown, RegExp][] = [
    ['u8', 'u8', 256, /^t\.x: u8: 256 is out of range/],
    ['u8 type', 'u8', '1', /^t\.x: u8: expected an integer 0\.\.255, got "1"/],
    ['u16', 'u16', -1, /^t\.x: u16: -1 is out of range/],
    ['u32', 'u32', 2 ** 32, /^t\.x: u32: 4294967296 is out of range/],
    ['i32', 'i32', 2 ** 31, /^t\.x: i32: 2147483648 is out of range/],
    ['u64', 'u64', -1n, /^t\.x: u64: -1n is out of range/],
    ['u64 unsafe', 'u64', 2 ** 60, /^t\.x: u64: .* is out of range/],
    ['i64', 'i64', 2n ** 63n, /^t\.x: i64: 9223372036854775808n is out of range/],
    ['f64', 'f64', '1.5', /^t\.x: f64: expected a number, got "1\.5"/],
    ['bool', 'bool', 1, /^t\.x: bool: expected a boolean, got 1/],
    ['uv', 'uv', 1.5, /^t\.x: uv: 1\.5 is out of range/],
    ['sv', 'sv', 2 ** 52, /^t\.x: sv: .* is out of range/],
    ['str', 'str', 5, /^t\.x: str: expected a string, got 5/],
    ['vstr', 'vstr', null, /^t\.x: vstr: expected a string, got null/],
    ['blob', 'blob', [1, 2], /^t\.x: blob: expected a Uint8Array, got an array/],
    ['bigint', 'bigint', 5, /^t\.x: bigint: expected a bigint, got 5/],
    ['opt', opt('u8'), -3, /^t\.x: u8: -3 is out of range/],
    ['ref undefined', ref(NodeT), undefined, /^t\.x: expected an object of type 'node' or null, got undefined$/],
    ['refs not an array', refs(NodeT), new Set(), /^t\.x: expected an array, got a Set$/],
    ['refs hole', refs(NodeT), [{}, undefined], /^t\.x\[1\]: expected an object of type 'node' or null, got undefined$/],
    ['list not an array', list('u8'), 'abc', /^t\.x: expected an array, got "abc"$/],
    ['list item', list('u8'), [1, 2, 300], /^t\.x\[2\]: u8: 300 is out of range/],
    ['list of lists', list(list('str')), [['a'], ['b', 7]], /^t\.x\[1\]\[1\]: str: expected a string, got 7/],
    ['list of opt', list(opt('bool')), [null, 'yes'], /^t\.x\[1\]: bool: expected a boolean, got "yes"/],
    ['default field', { kind: 'u16', default: 1 }, 70000, /^t\.x: u16: 70000 is out of range/],
  ];
  for (const [what, kind, bad, re] of cases) {
    it(what, () => {
      const c = compileSchema('t', { ok: 'u8', x: kind });
      const e = expectCode(() => c.write(openRecord(), { ok: 1, x: bad }, new FakeRefWriter(), STATE), 'EINVAL', re);
      expect(e).toBeInstanceOf(ObjHashError);
    });
  }

  it('a missing property is undefined: refused unless the kind allows it', () => {
    const c = compileSchema('t', { x: 'u32' });
    expectCode(() => c.write(openRecord(), {}, new FakeRefWriter(), STATE), 'EINVAL', /^t\.x: u32: expected .*got undefined/);
  });

  it('the field is found by a replay that queues no child and writes no value', () => {
    const c = compileSchema('t', { m: 'value', p: ref(NodeT), x: list('u8') });
    const rw = new FakeRefWriter();
    const e = expectCode(() => c.write(openRecord(), { m: new Set(), p: {}, x: [1, 256] }, rw, STATE), 'EINVAL', /^t\.x\[1\]: u8: 256 is out of range/);
    expect(rw.calls.length).toBe(2);
    expect((e.cause as ObjHashError).message).toMatch(/^u8: 256/);
    expect(e.offset).toBe((e.cause as ObjHashError).offset);
  });

  it('a value that changes between the write and its replay: the error as the writer gave it', () => {
    const c = compileSchema('t', { x: 'u8' });
    let n = 0;
    const obj = { get x() { return n++ === 0 ? 300 : 1; } };
    expectCode(() => c.write(openRecord(), obj, new FakeRefWriter(), STATE), 'EINVAL', /^u8: 300 is out of range/);
  });

  it('errors of the walker (refs, values) pass through unchanged', () => {
    const c = compileSchema('t', { x: ref(NodeT) });
    const boom = new ObjHashError('EINVAL', 'root.x: refused by the walker');
    const rw = new FakeRefWriter();
    rw.refTyped = () => {
      throw boom;
    };
    let got: unknown;
    try {
      c.write(openRecord(), { x: {} }, rw, STATE);
    } catch (e) {
      got = e;
    }
    expect(got).toBe(boom);
  });

  it('a record over maxRecord is E2BIG, as the writer says it (the replay does not fail)', () => {
    const c = compileSchema('t', { x: 'str' });
    const w = new ImageWriter({ crc32c, version: 2, maxRecord: 64 });
    w.writeHeader([]);
    w.beginBuiltin(REC.FIELDS);
    expectCode(() => c.write(w, { x: 'y'.repeat(100) }, new FakeRefWriter(), STATE), 'E2BIG', /^record FIELDS/);
  });
});

// ------------------------------------------------------------ refusals on read

describe('compiled reader: malformed records are EINVAL naming the field', () => {
  const c = compileSchema('t', { a: 'u8', b: opt('u8'), c: list('u8'), d: 'bool', e: 'bigint' });
  const bad = (fill: (w: ImageWriter) => void, re: RegExp) =>
    expectCode(() => c.read(atFields(imageOf(c.encoded, fill)), {}, new FakeRefReader(new Map()), STATE), 'EINVAL', re);

  it('the replay resolves no reference', () => {
    const cr = compileSchema('t', { p: ref(NodeT), n: 'u32' });
    const image = imageOf(cr.encoded, (w) => (w.uv(2), w.u8(1)));
    const rr = new FakeRefReader(new Map(), new Set([2]));
    expectCode(() => cr.read(atFields(image), {}, rr, STATE), 'EINVAL', /^t\.n: read past the end of record FIELDS/);
    expect(rr.pending.length).toBe(1);
  });
  it('the replay reads values with the codec\'s state (loop-free reader: its own catch)', () => {
    const cv = compileSchema('t', { m: 'value', n: 'u32' });
    const image = imageOf(cv.encoded, (w) => (w.u8(0), w.vstr('5'), w.u8(1)));
    expectCode(() => cv.read(atFields(image), {}, new FakeRefReader(new Map()), STATE), 'EINVAL', /^t\.n: read past the end of record FIELDS/);
  });
  it('bad presence byte', () => bad((w) => (w.u8(1), w.u8(3)), /^t\.b: bad presence byte 3, in record at offset \d+/));
  it('list longer than the record', () => bad((w) => (w.u8(1), w.u8(0), w.uv(1000)), /^t\.c\[0\]: read past the end of record FIELDS/));
  it('list of values longer than the record', () => {
    const cv = compileSchema('t', { v: list('value') });
    const image = imageOf(cv.encoded, (w) => w.uv(2 ** 40));
    expectCode(() => cv.read(atFields(image), {}, new FakeRefReader(new Map()), STATE), 'EINVAL', /^t\.v: list length 1099511627776 runs past the end/);
  });
  it('bad bool', () => bad((w) => (w.u8(1), w.u8(0), w.uv(0), w.u8(2)), /^t\.d: bad bool 2/));
  it('truncated', () => bad((w) => w.u8(1), /^t\.b: read past the end of record FIELDS/));
  it('bigint negative zero', () => bad((w) => (w.u8(1), w.u8(0), w.uv(0), w.bool(true), w.uv(1)), /^t\.e: bigint: negative zero/));
  it('bigint high zero byte', () => bad((w) => (w.u8(1), w.u8(0), w.uv(0), w.bool(true), w.uv(4), w.u8(1), w.u8(0)), /^t\.e: bigint: a high zero byte/));
  it('bigint longer than the record', () => bad((w) => (w.u8(1), w.u8(0), w.uv(0), w.bool(true), w.uv(40)), /^t\.e: bigint: length 20 runs past/));
});

// ------------------------------------------------------------ bad field lists

describe('compileSchema: bad field lists are EINVAL naming type, field and problem', () => {
  const T = { name: 'node' };
  const cases: [string, unknown, RegExp][] = [
    ['not an object', 'u8', /^type 't': fields must be an object/],
    ['an array', ['u8'], /^type 't': fields must be an object/],
    ['unknown kind', { x: 'u128' }, /^type 't': field 'x': unknown kind "u128"/],
    ['kind of another type', { x: 7 }, /^type 't': field 'x': a kind must be a string/],
    ['not an identifier', { 'a-b': 'u8' }, /^type 't': field "a-b": the name is not an identifier/],
    ['starts with a digit', { '1a': 'u8' }, /^type 't': field "1a": the name is not an identifier/],
    ['empty name', { '': 'u8' }, /^type 't': field "": the name is empty/],
    ['too long', { ['x'.repeat(256)]: 'u8' }, /longer than 255/],
    ['__proto__', JSON.parse('{"__proto__": "u8"}'), /^type 't': field "__proto__": '__proto__' is reserved/],
    ['constructor', { constructor: 'u8' }, /'constructor' is reserved/],
    ['prototype', { prototype: 'u8' }, /'prototype' is reserved/],
    ['symbol key', { [Symbol('s')]: 'u8' }, /field names must be strings, not symbols/],
    ['opt(opt)', { x: opt(opt('u8')) }, /^type 't': field 'x': opt\(opt\(\.\.\.\)\) is the same as opt/],
    ['too deep', { x: list(list(list(list(list(list(list(list(list('u8'))))))))) }, /nested deeper than 8/],
    ['ref of a non-type', { x: ref(T as unknown as ObjType) }, /^type 't': field 'x': ref\(\) must be an ObjType/],
    ['refs of a thunk of a non-type', { x: refs((() => 5) as unknown as () => ObjType) }, /refs\(\) must be an ObjType/],
    ['unknown object', { x: { of: 'u8' } }, /^type 't': field 'x': not a field kind/],
    ['kind without default', { x: { kind: 'u8' } }, /needs a default/],
    ['extra key', { x: { kind: 'u8', default: 1, why: 1 } }, /unknown key 'why'/],
    ['default inside list', { x: list({ kind: 'u8', default: 1 } as never) }, /only at the top of a field/],
    ['bad default', { x: { kind: 'uv', default: -1 } }, /^type 't': field 'x': bad default: uv: -1 is out of range/],
    ['default of the wrong type', { x: { kind: list('str'), default: 'a' } }, /bad default: list: expected an array/],
    ['ref default not null', { x: { kind: ref(NodeT), default: {} } }, /bad default: ref: expected null/],
    ['refs default not empty', { x: { kind: refs(NodeT), default: [null] } }, /bad default: refs: expected an empty array/],
    ['uncloneable default', { x: { kind: 'value', default: () => 1 } }, /the default cannot be cloned/],
  ];
  for (const [what, fields, re] of cases) it(what, () => expectCode(() => compileSchema('t', fields as Fields), 'EINVAL', re));

  it('too many fields', () => {
    const f: Fields = {};
    for (let i = 0; i <= 4096; i++) f[`f${i}`] = 'u8';
    expectCode(() => compileSchema('t', f), 'EINVAL', /4097 fields, more than 4096/);
  });

  it('a bad type name', () => expectCode(() => compileSchema('', {}), 'EINVAL', /typeName/));

  it('opt inside list inside opt is fine; defaults are copied per object', () => {
    const c = compileSchema('t', { x: opt(list(opt('u8'))), y: { kind: list('u8'), default: [1, 2] } });
    expect(c.fields.map((f) => kindName(f.kind))).toEqual(['opt(list(opt(u8)))', 'list(u8)']);
    expect(c.fields[1]!.default).toEqual([1, 2]);
  });
});

// ------------------------------------------------------------ schema bytes

describe('schema bytes', () => {
  const fields: Fields = {
    a: 'u8', b: opt('str'), c: ref(NodeT), d: refs(LeafT), e: list(list('bigint')), v: 'value',
    n: { kind: 'uv', default: 3 }, s: { kind: opt('str'), default: 'x' }, l: { kind: list('f64'), default: [1.5] },
    big: { kind: 'bigint', default: -(2n ** 70n) }, bl: { kind: 'blob', default: new Uint8Array([1]) },
    r: { kind: ref(NodeT), default: null }, rs: { kind: refs(NodeT), default: [] }, val: { kind: 'value', default: { a: 1 } },
  };
  const c = compileSchema('node', fields);

  it('round-trip through decodeSchema: names, kinds (refs by type name), defaults', () => {
    const d = decodeSchema(c.encoded, 'node');
    expect(d.fields.map((f) => [f.name, kindName(f.kind), f.hasDefault])).toEqual(
      c.fields.map((f) => [f.name, kindName(f.kind), f.hasDefault]),
    );
    expect(d.fields.find((f) => f.name === 'd')!.kind).toEqual({ k: 'refs', type: LeafT.name });
    const defaults = Object.fromEntries(d.fields.filter((f) => 'default' in f).map((f) => [f.name, f.default]));
    // a default holding 'value' is marked, not recorded
    expect(defaults).toEqual({ n: 3, s: 'x', l: [1.5], big: -(2n ** 70n), bl: new Uint8Array([1]), r: null, rs: [] });
    expect(d.fields.find((f) => f.name === 'val')!.hasDefault).toBe(true);
  });

  it('the encoding is the documented one', () => {
    const small = compileSchema('t', { kind: 'uv', p: ref(NodeT), o: opt('u8'), n: { kind: 'u8', default: 5 } });
    expect([...small.encoded]).toEqual([
      1, 4, // version, count
      4, ...Buffer.from('kind'), 9, 0,
      1, ...Buffer.from('p'), 18, 4, ...Buffer.from('node'), 0,
      1, ...Buffer.from('o'), 17, 1, 0,
      1, ...Buffer.from('n'), 1, 3, 5,
    ]);
  });

  it('truncated at every length: ObjHashError EINVAL only', () => {
    for (let n = 0; n < c.encoded.length; n++) {
      expectCode(() => decodeSchema(c.encoded.subarray(0, n), 'node'), 'EINVAL', /^malformed schema of type 'node' in the image: /);
    }
    expectCode(() => decodeSchema(new Uint8Array([...c.encoded, 0]), 'node'), 'EINVAL', /1 byte\(s\) after the last field/);
  });

  it('random flips and random bytes: decoded or ObjHashError EINVAL, nothing else', () => {
    const rand = rng(0x5c4e3a);
    let decoded = 0;
    for (let i = 0; i < 3000; i++) {
      let b: Uint8Array;
      if (i % 4 === 3) {
        b = new Uint8Array(1 + Math.floor(rand() * 40));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rand() * 256);
        if (rand() < 0.5) b[0] = 1;
      } else {
        b = c.encoded.slice();
        const flips = 1 + Math.floor(rand() * 3);
        for (let j = 0; j < flips; j++) b[Math.floor(rand() * b.length)] ^= 1 << Math.floor(rand() * 8);
      }
      try {
        decodeSchema(b, 'node');
        decoded++;
      } catch (e) {
        expect(e).toBeInstanceOf(ObjHashError);
        expect((e as ObjHashError).code).toBe('EINVAL');
      }
    }
    expect(decoded).toBeGreaterThan(0);
  });

  const hostile: [string, number[], RegExp][] = [
    ['other version', [2, 0], /version 2, this reader knows 1/],
    ['duplicate field', [1, 2, 1, 97, 1, 0, 1, 97, 2, 0], /duplicate field 'a'/],
    ['bad name', [1, 1, 2, 49, 97, 1, 0], /field 0: the name is not an identifier/],
    ['reserved name', [1, 1, 9, ...Buffer.from('__proto__'), 1, 0], /'__proto__' is reserved/],
    ['unknown kind code', [1, 1, 1, 97, 99, 0], /field 'a': unknown kind code 99/],
    ['nested too deep', [1, 1, 1, 97, ...Array(9).fill(20), 1, 0], /nested deeper than 8/],
    ['opt in opt', [1, 1, 1, 97, 17, 17, 1, 0], /opt directly in opt/],
    ['empty ref type name', [1, 1, 1, 97, 18, 0, 0], /a ref type name must be 1\.\.255/],
    ['bad flags', [1, 1, 1, 97, 1, 4], /bad flags 4/],
    ['default not recorded', [1, 1, 1, 97, 1, 1], /without values is always recorded/],
    ['value default recorded', [1, 1, 1, 97, 15, 3, 0], /holding values is never recorded/],
    ['ref default not null', [1, 1, 1, 97, 18, 1, 98, 3, 5], /default: a ref default must be null/],
    ['huge count', [1, 0xff, 0xff, 0xff, 0x7f], /fields, more than 4096/],
    ['count over the bytes', [1, 3, 1, 97, 1, 0], /3 fields cannot fit in 4 bytes/],
    ['list default too long', [1, 1, 1, 97, 20, 1, 3, 100, 1], /list length 100 runs past the end/],
    ['bad UTF-8 in a ref type name', [1, 1, 1, 97, 18, 1, 0xff, 0], /invalid UTF-8/],
  ];
  for (const [what, bytes, re] of hostile) {
    it(`hostile: ${what}`, () => expectCode(() => decodeSchema(new Uint8Array(bytes), 'node'), 'EINVAL', re));
  }

  it('not bytes', () => expectCode(() => decodeSchema([1, 0] as unknown as Uint8Array, 'x'), 'EINVAL', /expected a Uint8Array/));
});

// ------------------------------------------------------------ evolution

describe('resolveSchema: evolution', () => {
  const old = compileSchema('node', { a: 'u32', gone: list('str'), b: 'vstr', p: ref(NodeT), m: 'value' });
  const written = { a: 7, gone: ['x', 'y'], b: 'bee', p: { parent: 1 }, m: [1, 2] };

  function readAs(current: CompiledSchema, src: CompiledSchema = old, obj: object = written) {
    const read = resolveSchema(decodeSchema(src.encoded, 'node'), current, 'node');
    return roundTrip(src, obj, { read }).out;
  }

  it('the same field list reads with the compiled reader', () => {
    const again = compileSchema('node', { a: 'u32', gone: list('str'), b: 'vstr', p: ref(NodeT), m: 'value' });
    expect(resolveSchema(decodeSchema(old.encoded, 'node'), again, 'node')).toBe(again.read);
    // a changed default changes the bytes, not the list
    const withDefault = compileSchema('node', { a: { kind: 'u32', default: 1 }, gone: list('str'), b: 'vstr', p: ref(NodeT), m: 'value' });
    expect(resolveSchema(decodeSchema(old.encoded, 'node'), withDefault, 'node')).toBe(withDefault.read);
  });

  it('fields added with a default or as opt read old records; order is the current one', () => {
    const cur = compileSchema('node', {
      n: { kind: 'uv', default: 9 }, b: 'vstr', m: 'value', gone: list('str'), a: 'u32', p: ref(NodeT), o: opt('str'),
      l: { kind: list('u8'), default: [1] }, big: { kind: 'bigint', default: 5n }, v: { kind: 'value', default: { k: [] } },
    });
    const out = readAs(cur) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['n', 'b', 'm', 'gone', 'a', 'p', 'o', 'l', 'big', 'v']);
    expect({ ...out, p: undefined }).toEqual({ n: 9, b: 'bee', m: [1, 2], gone: ['x', 'y'], a: 7, p: undefined, o: undefined, l: [1], big: 5n, v: { k: [] } });
    const again = readAs(cur);
    expect(again.l).not.toBe(out.l);
    expect(again.v).not.toBe(out.v);
    expect(again.l).not.toBe(cur.fields[5]!.default);
  });

  it('fields only in the image are refused, listed (an older reader does not drop the data of a newer image)', () => {
    const cur = compileSchema('node', { a: 'u32', b: 'vstr', m: 'value' });
    const e = expectCode(() => resolveSchema(decodeSchema(old.encoded, 'node'), cur, 'node'), 'EINVAL');
    expect(e.message).toMatch(/field 'gone' \(list\(str\)\) is in the image but not in this type/);
    expect(e.message).toMatch(/field 'p' \(ref\(node\)\) is in the image but not in this type/);
  });

  it('kind changes and fields missing without default: one error listing every one', () => {
    const cur = compileSchema('node', {
      a: 'u16', gone: list('str'), b: opt('vstr'), p: ref(LeafT), m: 'value', x: 'u8', y: list('u8'), z: opt('u8'), w: { kind: 'u8', default: 0 },
    });
    const e = expectCode(() => resolveSchema(decodeSchema(old.encoded, 'node'), cur, 'node'), 'EINVAL');
    expect(e.message).toBe(
      "type 'node': field 'a' is u32 in the image, u16 here; field 'b' is vstr in the image, opt(vstr) here; " +
        `field 'p' is ref(node) in the image, ref(${LeafT.name}) here; ` +
        "field 'x' is missing in the image and has no default; field 'y' is missing in the image and has no default",
    );
  });

  it('errors while reading name the image\'s field', () => {
    const cur = compileSchema('node', { a: 'u32', gone: list('str'), b: 'vstr', p: ref(NodeT), m: 'value', extra: opt('u8') });
    const read = resolveSchema(decodeSchema(old.encoded, 'node'), cur, 'node');
    const image = imageOf(old.encoded, (w) => (w.u32(1), w.uv(5)));
    expectCode(() => read(atFields(image), {}, new FakeRefReader(new Map()), STATE), 'EINVAL', /^node\.gone\[0\]: read past the end/);
  });

  it('a hand-made current schema with a bad field name is refused', () => {
    const fake = { ...old, fields: [{ name: 'a;x', kind: { k: 'u8' }, hasDefault: true, default: 0 }] } as unknown as CompiledSchema;
    expectCode(() => resolveSchema(decodeSchema(old.encoded, 'node'), fake, 'node'), 'EINVAL', /not an identifier/);
  });
});

// ------------------------------------------------------------ dump

describe('describeFields', () => {
  it('decodes a record with the image\'s schema: refs as { ref }, values by describeValue', () => {
    const c = compileSchema('node', {
      n: 'uv', t: opt('str'), p: ref(NodeT), none: ref(NodeT), kids: refs(NodeT), g: list(list('u8')),
      big: 'bigint', b: 'blob', m: 'value', u: 'u64',
    });
    const k = {}, p = {};
    const obj = { n: 3, t: null, p, none: null, kids: [k, null, p], g: [[1], []], big: -5n, b: new Uint8Array([7]), m: 'hi', u: 8 };
    const image = imageOf(c.encoded, (w) => c.write(w, obj, new FakeRefWriter(), STATE));
    const r = atFields(image);
    const out = describeFields(r, decodeSchema(c.encoded, 'node'), STATE);
    finishImage(r);
    expect(out).toEqual([
      { name: 'n', kind: 'uv', value: 3 },
      { name: 't', kind: 'opt(str)', value: null },
      { name: 'p', kind: 'ref(node)', value: { ref: 2 } },
      { name: 'none', kind: 'ref(node)', value: null },
      { name: 'kids', kind: 'refs(node)', value: [{ ref: 3 }, null, { ref: 2 }] },
      { name: 'g', kind: 'list(list(u8))', value: [[1], []] },
      { name: 'big', kind: 'bigint', value: -5n },
      { name: 'b', kind: 'blob', value: new Uint8Array([7]) },
      { name: 'm', kind: 'value', value: { json: '"hi"' } },
      { name: 'u', kind: 'u64', value: 8n },
    ]);
  });

  it('malformed records: ObjHashError naming the field', () => {
    const c = compileSchema('node', { a: 'u8', o: opt('u8'), l: list('u8') });
    const d = decodeSchema(c.encoded, 'node');
    const run = (fill: (w: ImageWriter) => void) => () => describeFields(atFields(imageOf(c.encoded, fill)), d, STATE);
    expectCode(run((w) => (w.u8(1), w.u8(9))), 'EINVAL', /^field 'o' \(opt\(u8\)\): bad presence byte 9/);
    expectCode(run((w) => (w.u8(1), w.u8(0), w.uv(50))), 'EINVAL', /^field 'l' \(list\(u8\)\): list length 50 runs past/);
    expectCode(run(() => {}), 'EINVAL', /^field 'a' \(u8\): read past the end/);
  });
});
