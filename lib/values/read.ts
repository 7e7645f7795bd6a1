/**
 * Restart side of the value codec: one body (readValue) and tagged values
 * (readTagged, readTag).  encoding.ts specifies the bytes.  Every length
 * is checked against the bytes left in the record before anything is
 * allocated for it, every view against its buffer before it is made; a
 * malformed body is an ObjHashError EINVAL naming the record's offset.
 */
import { ObjHashError } from '../errors.js';
import type { PayloadReader } from '../image/payload-reader.js';
import type { RefReader } from '../walk/refs.js';
import {
  E_CAUSE,
  E_MESSAGE,
  E_PROTO,
  E_STACK,
  ERROR_NAMES,
  K,
  MAX_ARRAY_LENGTH,
  MAX_INLINE,
  MAX_BIGINT_BYTES,
  MAX_OBJREF,
  MAX_SHAPES,
  MAX_STRINGS,
  P_DICT,
  P_NEW,
  P_SHAPE,
  POW10,
  REGEXP_FLAGS,
  T,
  TYPED,
} from './encoding.js';
import { AB_BYTELENGTH, isArrayBuffer, isDetached, isIndex, isResizable } from './kinds.js';
import { PENDING, type Shape, type ValueCodecState } from './state.js';
import { fromMagnitude } from '../image/bigint.js';
import { codegen } from '../util/codegen.js';

/** readTag's result for a REF / REF_NEXT tag (the objref is in state.ref). */
export const REF_MARK: unknown = Object.freeze({ mark: 'ref' });
/** readTag's result for a HOLE tag. */
export const HOLE_MARK: unknown = Object.freeze({ mark: 'hole' });
/** readTag's result for an INLINE tag (a body follows). */
export const INLINE_MARK: unknown = Object.freeze({ mark: 'inline' });
/** readTag's result for a VREF tag (the value index is in state.ref). */
export const VREF_MARK: unknown = Object.freeze({ mark: 'vref' });

const f32 = new Float32Array(1);
const f32bits = new Uint32Array(f32.buffer);
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));
const ERRORS: readonly ErrorConstructor[] = ERROR_NAMES.map((n) => (globalThis as unknown as Record<string, ErrorConstructor>)[n]!);
const PROTO_KEY = '__proto__';
const HIDDEN = { value: undefined, writable: true, enumerable: false, configurable: true };
const OPEN = { value: undefined, writable: true, enumerable: true, configurable: true };

type Obj = Record<string | number, unknown>;
type Created = (obj: unknown) => void;

/** Throws the EINVAL of a malformed body. */
export function bad(off: number, what: string): never {
  throw new ObjHashError('EINVAL', `malformed VALUE body in the record at offset ${off}: ${what}`, off);
}

/** A reader's own EINVAL (its offset is a byte inside the record) restated at the record's offset. */
export function rebase(e: unknown, off: number): unknown {
  if (e instanceof ObjHashError && e.code === 'EINVAL' && e.offset !== off) {
    return new ObjHashError('EINVAL', `malformed VALUE body in the record at offset ${off}: ${e.message}`, off, { cause: e });
  }
  return e;
}

/** Reads one body (see index.ts). */
export function readValue(r: PayloadReader, refs: RefReader, created: Created, st: ValueCodecState): unknown {
  const off = refs.offset;
  try {
    return readBody(r, refs, created, st, off, false);
  } catch (e) {
    throw rebase(e, off);
  }
}

/** Reads a tagged value (see index.ts). */
export function readTagged(r: PayloadReader, refs: RefReader, holder: object, key: string | number, st: ValueCodecState): unknown {
  const off = refs.offset;
  try {
    const x = readItem(r, refs, st, off);
    if (x === REF_MARK) return refs.get(st.ref, holder, key);
    if (x === HOLE_MARK) bad(off, 'a hole outside an array');
    return x;
  } catch (e) {
    throw rebase(e, off);
  }
}

/**
 * A tagged value with inline objects resolved: a primitive, an object
 * (INLINE: its body read now; VREF), REF_MARK (objref in st.ref) or
 * HOLE_MARK.
 */
function readItem(r: PayloadReader, refs: RefReader, st: ValueCodecState, off: number): unknown {
  const x = readTag(r, st, off);
  if (x === INLINE_MARK) return readInline(r, refs, st, off);
  if (x === VREF_MARK) return inlineAt(st, st.ref, off);
  return x;
}

/**
 * The body after an INLINE tag: its object takes the next value index.
 * Objects and small arrays (nearly all) are made and indexed here; other
 * kinds reserve their index first and fill it when made.  No cleanup on
 * a throw: a failed body ends the restart, and the state with it.
 */
function readInline(r: PayloadReader, refs: RefReader, st: ValueCodecState, off: number): unknown {
  if (st.depth >= MAX_INLINE) bad(off, `inline values nested deeper than ${MAX_INLINE} levels`);
  const k = r.u8();
  st.depth++;
  let o: unknown;
  if (k >= K.SHAPED) {
    const s = shapeAt(st, k - K.SHAPED, false, off);
    const obj = newShaped(s, st);
    st.objects.push(obj);
    readShaped(r, refs, st, obj, s, off);
    o = obj;
  } else if (k >= K.SMALL_ARRAY) {
    const a = sized(k - K.SMALL_ARRAY);
    st.objects.push(a);
    readElements(r, refs, st, a, k - K.SMALL_ARRAY, off);
    o = a;
  } else {
    st.pend.push(st.objects.length);
    st.objects.push(PENDING);
    o = readKind(k, r, refs, st.inlineCreated, st, off, true);
  }
  st.depth--;
  return o;
}

/** The inline object with value index i. */
function inlineAt(st: ValueCodecState, i: number, off: number): unknown {
  const o = i < st.objects.length ? st.objects[i] : undefined;
  if (o === undefined) bad(off, `value index ${i} is not defined (${st.objects.length} are)`);
  if (o === PENDING) bad(off, `value index ${i} names an object whose body is still being read`);
  return o;
}

function readBody(r: PayloadReader, refs: RefReader, created: Created, st: ValueCodecState, off: number, inline: boolean): unknown {
  return readKind(r.u8(), r, refs, created, st, off, inline);
}

/** A body whose kind byte k is read. */
function readKind(k: number, r: PayloadReader, refs: RefReader, created: Created, st: ValueCodecState, off: number, inline: boolean): unknown {
  if (k >= K.SHAPED) {
    const s = shapeAt(st, k - K.SHAPED, false, off);
    const o = newShaped(s, st);
    created(o);
    readShaped(r, refs, st, o, s, off);
    return o;
  }
  if (k >= K.SMALL_ARRAY) {
    const a = sized(k - K.SMALL_ARRAY);
    created(a);
    readElements(r, refs, st, a, k - K.SMALL_ARRAY, off);
    return a;
  }
  switch (k) {
    case K.PRIM: {
      if (inline) bad(off, 'an inline PRIM body');
      const x = readTag(r, st, off);
      if (x !== null && typeof x === 'object') bad(off, 'a primitive body holds a reference or a hole');
      created(x);
      return x;
    }
    case K.ALIAS: {
      if (inline) bad(off, 'an inline ALIAS body');
      if (readTag(r, st, off) !== VREF_MARK) bad(off, 'an ALIAS body without a VREF');
      const o = inlineAt(st, st.ref, off);
      created(o);
      return o;
    }
    case K.OBJECT:
    case K.NULL_OBJECT: {
      const o: Obj = k === K.OBJECT ? {} : (Object.create(null) as Obj);
      created(o);
      readBlock(r, refs, st, o, false, off);
      return o;
    }
    case K.ARRAY:
    case K.ARRAY_PROPS: {
      const n = r.uv();
      if (n > r.remaining() || n > MAX_ARRAY_LENGTH) bad(off, `array length ${n} with ${r.remaining()} byte(s) left`);
      const a = sized(n);
      created(a);
      readElements(r, refs, st, a, n, off);
      if (k === K.ARRAY_PROPS) readBlock(r, refs, st, a as unknown as Obj, true, off);
      return a;
    }
    case K.SPARSE:
      return readSparse(r, refs, created, st, off);
    case K.MAP:
    case K.SET:
      return readCollection(r, refs, created, st, k === K.MAP, off);
    case K.DATE: {
      const t = readTag(r, st, off);
      if (typeof t !== 'number') bad(off, 'a Date whose time is not a number');
      const d = new Date(t);
      created(d);
      return d;
    }
    case K.REGEXP:
      return readRegExp(r, created, st, off);
    case K.FALSE_OBJ:
    case K.TRUE_OBJ:
      return wrap(k === K.TRUE_OBJ, created);
    case K.NUMBER_OBJ:
    case K.STRING_OBJ:
    case K.BIGINT_OBJ: {
      const x = readTag(r, st, off);
      const want = k === K.NUMBER_OBJ ? 'number' : k === K.STRING_OBJ ? 'string' : 'bigint';
      if (typeof x !== want) bad(off, `a ${want} wrapper of a ${x === REF_MARK ? 'reference' : typeof x}`);
      return wrap(x, created);
    }
    case K.ERROR:
      return readError(r, refs, created, st, off);
    case K.ARRAYBUFFER:
    case K.RESIZABLE:
      return readBuffer(r, created, k === K.RESIZABLE, off);
    case K.DATAVIEW:
    case K.DATAVIEW_TRACKING:
      return readView(r, refs, created, st, -1, k === K.DATAVIEW_TRACKING, off);
    default:
      if (k >= K.TYPED && k < K.TYPED + TYPED.length) return readView(r, refs, created, st, k - K.TYPED, false, off);
      if (k >= K.TYPED_TRACKING && k < K.TYPED_TRACKING + TYPED.length)
        return readView(r, refs, created, st, k - K.TYPED_TRACKING, true, off);
      return bad(off, `unknown kind 0x${k.toString(16)}`);
  }
}

function wrap(x: unknown, created: Created): object {
  const o = Object(x) as object;
  created(o);
  return o;
}

// ------------------------------------------------------- objects and arrays

/** Arrays up to this length are made at their length at once (larger ones grow as they fill). */
const SIZED_MAX = 1 << 22;

/**
 * An array for n elements (n checked against the bytes left): made at
 * length n, holes until filled, as v8.deserialize and structuredClone
 * make theirs.  Filled from [] instead, an array takes the capacity
 * V8's growth gives it (17 slots for 4 elements), kept for its life.
 */
function sized(n: number): unknown[] {
  return n <= SIZED_MAX ? new Array<unknown>(n) : [];
}

function readElements(r: PayloadReader, refs: RefReader, st: ValueCodecState, a: unknown[], n: number, off: number): void {
  for (let i = 0; i < n; i++) {
    const x = readItem(r, refs, st, off);
    if (x === REF_MARK) a[i] = refs.get(st.ref, a, i);
    else if (x === HOLE_MARK) {
      if (a.length <= i) a.length = i + 1;
    } else a[i] = x;
  }
}

function readSparse(r: PayloadReader, refs: RefReader, created: Created, st: ValueCodecState, off: number): unknown[] {
  const len = r.uv();
  if (len > MAX_ARRAY_LENGTH) bad(off, `array length ${len}`);
  const count = r.uv();
  if (count > len || count > r.remaining() / 2) bad(off, `${count} elements in a sparse array of length ${len} with ${r.remaining()} byte(s) left`);
  const a: unknown[] = [];
  a.length = len;
  created(a);
  let idx = -1;
  for (let j = 0; j < count; j++) {
    idx += r.uv() + 1;
    if (idx >= len) bad(off, `sparse index ${idx} past the length ${len}`);
    const x = readItem(r, refs, st, off);
    if (x === REF_MARK) a[idx] = refs.get(st.ref, a, idx);
    else if (x === HOLE_MARK) bad(off, 'a hole in a sparse array');
    else a[idx] = x;
  }
  readBlock(r, refs, st, a as unknown as Obj, true, off);
  return a;
}

/** holder[key] = the next tagged value (a reference through refs.get). */
function readInto(r: PayloadReader, refs: RefReader, st: ValueCodecState, o: Obj, k: string, off: number): void {
  const x = readItem(r, refs, st, off);
  if (x === REF_MARK) o[k] = refs.get(st.ref, o, k);
  else if (x === HOLE_MARK) bad(off, 'a hole outside an array');
  else o[k] = x;
}

// ------------------------------------------------------- shape factories
//
// A plain object read key by key goes through one hidden-class transition
// per key (and an out-of-object property store past the fourth).  For a
// shape met often, a factory made once, `() => ({ "k0": undefined, ...})`,
// makes the object with its final hidden class in one allocation; the
// values are then assigned in place.  Keys reach the generated code only
// as JSON string literals (JSON.stringify: any string, lone surrogates
// escaped), never as code; a shape with '__proto__' (whose literal would
// set the prototype) never gets one.  Factories are shared by all restarts
// of this thread, keyed by the key list, at most FACTORY_MAX of them, at
// most FACTORY_BUDGET new ones per restart (a hostile image with many
// shapes costs a bounded amount of compiling).

/** A shape gets a factory on its FACTORY_AFTER-th object. */
const FACTORY_AFTER = 8;
const FACTORY_MAX = 1024;
const FACTORY_BUDGET = 64;
const factories = new Map<string, () => Obj>();

/** A new plain object for shape s (before its values are read). */
function newShaped(s: Shape, st: ValueCodecState): Obj {
  const make = s.make;
  if (make !== undefined) return make();
  if (++s.uses < FACTORY_AFTER || s.proto || s.keys.length === 0) return {};
  if (!codegen) {
    // no generated factories (lib/util/codegen.ts): properties added one by one
    s.make = emptyObject;
    return {};
  }
  const id = JSON.stringify(s.keys);
  let f = factories.get(id);
  if (f === undefined) {
    if (factories.size >= FACTORY_MAX || st.factoriesMade >= FACTORY_BUDGET) {
      s.make = emptyObject;
      return {};
    }
    st.factoriesMade++;
    const props = s.keys.map((k) => `${JSON.stringify(k)}: undefined`).join(', ');
    f = new Function(`'use strict'; return () => ({ ${props} });`)() as () => Obj;
    factories.set(id, f);
  }
  s.make = f;
  return f();
}

function emptyObject(): Obj {
  return {};
}

function readShaped(r: PayloadReader, refs: RefReader, st: ValueCodecState, o: Obj, s: Shape, off: number): void {
  const keys = s.keys;
  if (s.proto) {
    for (let i = 0; i < keys.length; i++) {
      // An own '__proto__' is defined, not assigned (which would set the prototype);
      // then assignments (and the walker's fix-up) write the own property.
      if (keys[i] === PROTO_KEY) Object.defineProperty(o, PROTO_KEY, OPEN);
      readInto(r, refs, st, o, keys[i]!, off);
    }
  } else {
    for (let i = 0; i < keys.length; i++) readInto(r, refs, st, o, keys[i]!, off);
  }
}

function readBlock(r: PayloadReader, refs: RefReader, st: ValueCodecState, o: Obj, forArray: boolean, off: number): void {
  const p = r.uv();
  if (p === P_NEW) {
    const s = defineShape(r, st, off);
    if (forArray && !s.arrayOk) bad(off, "an array property named by an index or 'length'");
    readShaped(r, refs, st, o, s, off);
  } else if (p === P_DICT) {
    const n = r.uv();
    if (n > r.remaining() / 2) bad(off, `${n} properties with ${r.remaining()} byte(s) left`);
    for (let i = 0; i < n; i++) {
      const k = readKey(r, st, off);
      if (forArray && !arrayKeyOk(k)) bad(off, "an array property named by an index or 'length'");
      if (k === PROTO_KEY) Object.defineProperty(o, PROTO_KEY, OPEN);
      readInto(r, refs, st, o, k, off);
    }
  } else {
    readShaped(r, refs, st, o, shapeAt(st, p - P_SHAPE, forArray, off), off);
  }
}

function arrayKeyOk(k: string): boolean {
  return k !== 'length' && !isIndex(k);
}

function shapeAt(st: ValueCodecState, i: number, forArray: boolean, off: number): Shape {
  const s = st.shapes[i];
  if (s === undefined) bad(off, `shape ${i} is not defined (${st.shapes.length} are)`);
  if (forArray && !s.arrayOk) bad(off, "an array property named by an index or 'length'");
  return s;
}

/** Reads a NEW shape's keys and defines it. */
export function defineShape(r: PayloadReader, st: ValueCodecState, off: number): Shape {
  const n = r.uv();
  if (n > r.remaining()) bad(off, `a shape of ${n} keys with ${r.remaining()} byte(s) left`);
  if (st.shapes.length >= MAX_SHAPES) bad(off, `more than ${MAX_SHAPES} shapes`);
  const keys: string[] = [];
  let proto = false;
  let arrayOk = true;
  for (let i = 0; i < n; i++) {
    const k = readKey(r, st, off);
    keys.push(k);
    if (k === PROTO_KEY) proto = true;
    if (!arrayKeyOk(k)) arrayOk = false;
  }
  const s: Shape = { keys, proto, arrayOk, uses: 0, make: undefined };
  st.shapes.push(s);
  return s;
}

export function readKey(r: PayloadReader, st: ValueCodecState, off: number): string {
  const k = readTag(r, st, off);
  if (typeof k !== 'string') bad(off, 'a property key that is not a string');
  return k;
}

// ------------------------------------------------------------- Map and Set

function readCollection(r: PayloadReader, refs: RefReader, created: Created, st: ValueCodecState, map: boolean, off: number): object {
  const size = r.uv();
  const per = map ? 2 : 1;
  if (size > r.remaining() / per) bad(off, `${size} entries with ${r.remaining()} byte(s) left`);
  const m = map ? new Map<unknown, unknown>() : null;
  const s = map ? null : new Set<unknown>();
  created(m ?? s);
  // Entries are added in order; from the first one holding an object on,
  // they wait (as objrefs) until every object is restored.
  let vals: unknown[] | null = null;
  let ids: number[] | null = null;
  for (let i = 0; i < size; i++) {
    const k = readItem(r, refs, st, off);
    let kid = 0;
    if (k === REF_MARK) kid = st.ref;
    else if (k === HOLE_MARK) bad(off, 'a hole in a Map or Set');
    let v: unknown;
    let vid = 0;
    if (map) {
      v = readItem(r, refs, st, off);
      if (v === REF_MARK) vid = st.ref;
      else if (v === HOLE_MARK) bad(off, 'a hole in a Map');
    }
    if (vals === null && kid === 0 && vid === 0) {
      if (m !== null) m.set(k, v);
      else s!.add(k);
      continue;
    }
    if (vals === null) {
      vals = [];
      ids = [];
    }
    vals.push(k, v);
    ids!.push(kid, vid);
  }
  if (vals !== null) {
    const vs = vals;
    const is = ids!;
    refs.later(() => {
      for (let j = 0; j < vs.length; j += 2) {
        const k = is[j] !== 0 ? refs.now(is[j]!) : vs[j];
        if (m !== null) m.set(k, is[j + 1] !== 0 ? refs.now(is[j + 1]!) : vs[j + 1]);
        else s!.add(k);
      }
    });
  }
  return (m ?? s)!;
}

// --------------------------------------------------------- RegExp, Error

function readRegExp(r: PayloadReader, created: Created, st: ValueCodecState, off: number): RegExp {
  const src = readTag(r, st, off);
  if (typeof src !== 'string') bad(off, 'a RegExp source that is not a string');
  const bits = r.u8();
  let flags = '';
  for (let i = 0; i < REGEXP_FLAGS.length; i++) if ((bits & (1 << i)) !== 0) flags += REGEXP_FLAGS[i];
  let re: RegExp;
  try {
    re = new RegExp(src, flags);
  } catch (e) {
    return bad(off, `a RegExp this Node cannot make (${e instanceof Error ? e.message : 'error'})`);
  }
  created(re);
  return re;
}

function readError(r: PayloadReader, refs: RefReader, created: Created, st: ValueCodecState, off: number): Error {
  const b = r.u8();
  if ((b & 0xc0) !== 0 || (b & E_PROTO) >= ERRORS.length) bad(off, `bad Error bits 0x${b.toString(16)}`);
  let message: unknown;
  if ((b & E_MESSAGE) !== 0) {
    message = readTag(r, st, off);
    if (typeof message !== 'string') bad(off, 'an Error message that is not a string');
  }
  let stack: unknown;
  if ((b & E_STACK) !== 0) {
    stack = readTag(r, st, off);
    if (typeof stack !== 'string') bad(off, 'an Error stack that is not a string');
  }
  const C = ERRORS[b & E_PROTO]!;
  const e = message !== undefined ? new C(message as string) : new C();
  // As structuredClone makes it on this Node: through the error's own stack
  // property (a data property up to Node 22, an accessor from Node 24)
  const sd = Object.getOwnPropertyDescriptor(e, 'stack');
  if (sd !== undefined && (sd.set !== undefined || sd.writable === true)) (e as { stack?: unknown }).stack = stack;
  else Object.defineProperty(e, 'stack', { value: stack, writable: true, enumerable: false, configurable: true });
  created(e);
  if ((b & E_CAUSE) !== 0) {
    Object.defineProperty(e, 'cause', HIDDEN);
    readInto(r, refs, st, e as unknown as Obj, 'cause', off);
  }
  return e;
}

// ---------------------------------------------------- buffers and views

function readBuffer(r: PayloadReader, created: Created, resizable: boolean, off: number): ArrayBuffer {
  const n = r.uv();
  const max = resizable ? r.uv() : n;
  if (n > max) bad(off, `byteLength ${n} over maxByteLength ${max}`);
  if (n > r.remaining()) bad(off, `a buffer of ${n} byte(s) with ${r.remaining()} left`);
  let ab: ArrayBuffer;
  if (resizable) {
    try {
      ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(n, { maxByteLength: max });
    } catch (e) {
      return bad(off, `this Node cannot make a resizable ArrayBuffer of maxByteLength ${max} (${e instanceof Error ? e.message : 'error'})`);
    }
    if (!isResizable(ab)) bad(off, 'this Node has no resizable ArrayBuffer');
  } else {
    ab = new ArrayBuffer(n);
  }
  if (n > 0) new Uint8Array(ab, 0, n).set(r.bytes(n));
  created(ab);
  return ab;
}

/** A typed array of type index t, or a DataView (t = -1). */
function readView(
  r: PayloadReader,
  refs: RefReader,
  created: Created,
  st: ValueCodecState,
  t: number,
  tracking: boolean,
  off: number,
): ArrayBufferView {
  const x = readItem(r, refs, st, off);
  const objref = x === REF_MARK ? st.ref : 0;
  if (objref === 0 && (x === null || typeof x !== 'object' || x === HOLE_MARK)) bad(off, "a view's buffer that is not an object");
  const byteOffset = r.uv();
  const length = tracking ? 0 : r.uv();
  const info = t < 0 ? undefined : TYPED[t]!;
  const name = info === undefined ? 'DataView' : info.name;
  const C = info === undefined ? DataView : info.ctor;
  if (C === undefined) bad(off, `${name} is not available in this Node`);
  const buf = objref !== 0 ? refs.now(objref) : x;
  const which = objref !== 0 ? `, objref ${objref},` : '';
  if (!isArrayBuffer(buf)) bad(off, `the buffer of a ${name}${which} is not an ArrayBuffer`);
  if (isDetached(buf)) bad(off, `the buffer of a ${name}${which} is detached`);
  const es = info === undefined ? 1 : info.size;
  const bl = AB_BYTELENGTH.call(buf) as number;
  if (byteOffset % es !== 0) bad(off, `a ${name} at byteOffset ${byteOffset}, not a multiple of ${es}`);
  if (byteOffset > bl) bad(off, `a ${name} at byteOffset ${byteOffset} past its buffer's ${bl} byte(s)`);
  if (tracking) {
    if (!isResizable(buf)) bad(off, `a length-tracking ${name} of a buffer that is not resizable`);
  } else if (length > (bl - byteOffset) / es) {
    bad(off, `a ${name} of ${length} element(s) at byteOffset ${byteOffset} past its buffer's ${bl} byte(s)`);
  }
  let v: ArrayBufferView;
  try {
    v = tracking ? new C(buf, byteOffset) : new C(buf, byteOffset, length);
  } catch (e) {
    return bad(off, `cannot make the ${name} (${e instanceof Error ? e.message : 'error'})`);
  }
  created(v);
  return v;
}

// ----------------------------------------------------------- tagged values

/**
 * One tagged value: a primitive, REF_MARK (the objref in st.ref),
 * VREF_MARK (the value index in st.ref), INLINE_MARK (a body follows) or
 * HOLE_MARK.  Defines table strings and advances st.last as it goes.
 */
export function readTag(r: PayloadReader, st: ValueCodecState, off: number): unknown {
  const t = r.u8();
  if (t <= T.INT_TOP) return t - T.INT_BIAS;
  if (t < T.STR_REF_SMALL) return t === T.STR_EMPTY ? '' : readShort(r, st, t - T.STR_SHORT, off);
  if (t < T.UNDEFINED) return stringAt(st, t - T.STR_REF_SMALL, off);
  switch (t) {
    case T.UNDEFINED:
      return undefined;
    case T.NULL:
      return null;
    case T.FALSE:
      return false;
    case T.TRUE:
      return true;
    case T.HOLE:
      return HOLE_MARK;
    case T.NEG_ZERO:
      return -0;
    case T.NAN:
      return NaN;
    case T.UINT:
      return r.uv();
    case T.NINT:
      return -r.uv() - 1;
    case T.F32:
      f32bits[0] = r.u32();
      return f32[0]!;
    case T.F64:
      return r.f64();
    case T.BIGINT_POS:
    case T.BIGINT_NEG:
      return readBigInt(r, t === T.BIGINT_NEG, off);
    case T.STR_NEW8:
      return define(st, r.vstr(), off);
    case T.STR_LIT8:
      return r.vstr();
    case T.STR_NEW16:
      return define(st, readUtf16(r, off), off);
    case T.STR_LIT16:
      return readUtf16(r, off);
    case T.STR_REF:
      return stringAt(st, r.uv() + T.STR_REF_SMALL_COUNT, off);
    case T.REF: {
      const o = r.uv();
      if (o === 0 || o > MAX_OBJREF) bad(off, `objref ${o}`);
      st.ref = o;
      if (o > st.last) st.last = o;
      return REF_MARK;
    }
    case T.REF_NEXT: {
      const o = st.last + 1;
      if (o > MAX_OBJREF) bad(off, `objref ${o}`);
      st.ref = st.last = o;
      return REF_MARK;
    }
    case T.INLINE:
      return INLINE_MARK;
    case T.VREF:
      st.ref = r.uv();
      return VREF_MARK;
    default:
      if (t > T.DEC && t <= T.DEC + T.DEC_MAX) return r.sv() / POW10[t - T.DEC]!;
      if (t > T.STR_SHORT_LIT && t <= T.STR_SHORT_LIT + T.STR_SHORT_MAX) return readShort(r, null, t - T.STR_SHORT_LIT, off);
      return bad(off, `unknown tag 0x${t.toString(16)}`);
  }
}

function stringAt(st: ValueCodecState, i: number, off: number): string {
  const s = st.strings[i];
  if (s === undefined) bad(off, `string ${i} is not defined (${st.strings.length} are)`);
  return s;
}

function define(st: ValueCodecState, s: string, off: number): string {
  if (st.strings.length >= MAX_STRINGS) bad(off, `more than ${MAX_STRINGS} strings`);
  st.strings.push(s);
  return s;
}

/** n (1..31) bytes of UTF-8; defined in st's table unless st is null. */
function readShort(r: PayloadReader, st: ValueCodecState | null, n: number, off: number): string {
  const s = r.utf8(n);
  if (s === undefined) return bad(off, 'invalid UTF-8 in a string');
  return st === null ? s : define(st, s, off);
}

function readUtf16(r: PayloadReader, off: number): string {
  const n = r.uv();
  if (n > r.remaining() / 2) bad(off, `a string of ${n} UTF-16 unit(s) with ${r.remaining()} byte(s) left`);
  const b = r.bytes(2 * n);
  let s = '';
  const chunk: number[] = [];
  for (let i = 0; i < n; i++) {
    chunk.push(b[2 * i]! | (b[2 * i + 1]! << 8));
    if (chunk.length === 4096 || i === n - 1) {
      s += String.fromCharCode.apply(null, chunk);
      chunk.length = 0;
    }
  }
  return s;
}

function readBigInt(r: PayloadReader, neg: boolean, off: number): bigint {
  const n = r.uv();
  if (n > MAX_BIGINT_BYTES) bad(off, `a bigint of ${n} bytes`);
  if (n === 0) {
    if (neg) bad(off, 'a negative zero bigint');
    return 0n;
  }
  const b = r.bytes(n);
  if (b[n - 1] === 0) bad(off, 'a bigint with a leading zero byte');
  const m = fromMagnitude(b);
  return neg ? -m : m;
}
