/**
 * Checkpoint side of the value codec: the body of one plain value
 * (writeValue) and tagged values (writeTagged).  encoding.ts specifies the
 * bytes; write-tagged.ts writes the values inside bodies.  Objects and
 * arrays allocate nothing per value (but Object.keys of an array) and keep
 * one shape per function; the rarer kinds may allocate.
 */
import type { PayloadWriter } from '../image/payload-writer.js';
import { Refusal, type PathStep, type RefWriter } from '../walk/refs.js';
import {
  E_CAUSE,
  E_MESSAGE,
  E_STACK,
  ERROR_NAMES,
  K,
  MAX_INLINE,
  MAX_SHAPE_KEYS,
  MAX_SHAPES,
  P_DICT,
  P_NEW,
  P_SHAPE,
  SHAPED_MAX,
  SMALL_ARRAY_MAX,
  T,
  TYPED,
} from './encoding.js';
import {
  AB_BYTELENGTH,
  BIGINT_VALUE,
  BOOL_VALUE,
  DATE_TIME,
  DV_BUFFER,
  DV_BYTELENGTH,
  DV_OFFSET,
  NUMBER_VALUE,
  RE_FLAG_GETTERS,
  RE_SOURCE,
  STRING_VALUE,
  TA_BUFFER,
  TA_BYTELENGTH,
  TA_LENGTH,
  TA_OFFSET,
  hasOwn,
  isArrayBuffer,
  isDetached,
  isIndex,
  isProxy,
  isResizable,
  maxByteLength,
  notPlainReason,
  outOfBounds,
  plainKind,
  resize,
} from './kinds.js';
import type { ShapeNode, ValueCodecState } from './state.js';
import { writeBigInt, writeKey, writeNumber, writeRef, writeString, writeVal } from './write-tagged.js';

/** Arrays longer than this are scanned for holes first: mostly holes -> SPARSE. */
const SPARSE_SCAN = 1024;
const MAP_SIZE = Object.getOwnPropertyDescriptor(Map.prototype, 'size')!.get as (this: unknown) => number;
const SET_SIZE = Object.getOwnPropertyDescriptor(Set.prototype, 'size')!.get as (this: unknown) => number;
const MAP_FOREACH = Map.prototype.forEach as (this: unknown, f: (v: unknown, k: unknown) => void) => void;
const SET_FOREACH = Set.prototype.forEach as (this: unknown, f: (v: unknown) => void) => void;

type Obj = Record<string, unknown>;

// ------------------------------------------------------------------ bodies

/** Writes the body of one plain value (see index.ts). */
export function writeValue(w: PayloadWriter, v: unknown, refs: RefWriter, st: ValueCodecState): void {
  if (typeof v !== 'object' || v === null) {
    if (typeof v === 'function' || typeof v === 'symbol') throw new Refusal(undefined, notPlainReason(v));
    w.u8(K.PRIM);
    writeVal(w, v, refs, st, undefined);
    return;
  }
  const id = st.ids.get(v);
  if (id !== undefined && id >= 0) {
    // written inline before: this record only names it
    w.u8(K.ALIAS);
    w.u8(T.VREF);
    w.uv(id);
    return;
  }
  writeBody(w, v, plainKind(v), refs, st);
}

/**
 * A tagged value that is an object: VREF or REF if it was met before, an
 * INLINE body if it is plain and new (while the record nests fewer than
 * MAX_INLINE levels), else the walker's objref (a class instance of a
 * registered type; a plain value deeper than MAX_INLINE, which gets a
 * record of its own).
 */
export function writeChild(w: PayloadWriter, v: object, refs: RefWriter, st: ValueCodecState, step: PathStep): void {
  const id = st.ids.get(v);
  if (id !== undefined) {
    if (id >= 0) {
      w.u8(T.VREF);
      w.uv(id);
    } else {
      writeRef(w, -id, st);
    }
    return;
  }
  // an object the walk holds already as a typed one (a ref(T) field met it first): referred to, not copied
  const known = refs.known(v);
  if (known !== 0) {
    st.ids.set(v, -known);
    writeRef(w, known, st);
    return;
  }
  const k = plainKind(v);
  if (k === undefined || st.depth >= MAX_INLINE || st.inlined >= st.maxInlined) {
    writeRef(w, refs.ref(v, step), st);
    return;
  }
  st.inlined++;
  st.ids.set(v, st.nextIndex++);
  w.u8(T.INLINE);
  st.depth++;
  try {
    writeBody(w, v, k, refs, st);
  } catch (e) {
    if (e instanceof Refusal) e.via(step, v);
    throw e;
  } finally {
    st.depth--;
  }
}

/** The body of the plain object v of kind k (undefined: not plain, refused). */
function writeBody(w: PayloadWriter, v: object, k: number | undefined, refs: RefWriter, st: ValueCodecState): void {
  if (k === K.OBJECT || k === K.NULL_OBJECT) {
    if (isProxy(v)) throw new Refusal(undefined, 'a Proxy cannot be checkpointed');
    writeObject(w, v as Obj, k, refs, st);
  } else if (k === K.ARRAY) {
    if (isProxy(v)) throw new Refusal(undefined, 'a Proxy cannot be checkpointed');
    writeArray(w, v as unknown[], refs, st);
  } else if (k === undefined) {
    throw new Refusal(undefined, notPlainReason(v));
  } else {
    writeOther(w, v, k, refs, st);
  }
}

/** Writes a tagged value (see index.ts). */
export function writeTagged(w: PayloadWriter, v: unknown, refs: RefWriter, step: PathStep, st: ValueCodecState): void {
  writeVal(w, v, refs, st, step);
}

function writeOther(w: PayloadWriter, v: object, k: number, refs: RefWriter, st: ValueCodecState): void {
  switch (k) {
    case K.MAP:
      writeMap(w, v, refs, st);
      return;
    case K.SET:
      writeSet(w, v, refs, st);
      return;
    case K.DATE:
      w.u8(K.DATE);
      writeNumber(w, DATE_TIME.call(v));
      return;
    case K.REGEXP: {
      let flags = 0;
      for (let i = 0; i < RE_FLAG_GETTERS.length; i++) {
        const g = RE_FLAG_GETTERS[i];
        if (g !== undefined && g.call(v) === true) flags |= 1 << i;
      }
      w.u8(K.REGEXP);
      writeString(w, RE_SOURCE.call(v) as string, st);
      w.u8(flags);
      return;
    }
    case K.FALSE_OBJ:
      w.u8(BOOL_VALUE.call(v) ? K.TRUE_OBJ : K.FALSE_OBJ);
      return;
    case K.NUMBER_OBJ:
      w.u8(K.NUMBER_OBJ);
      writeNumber(w, NUMBER_VALUE.call(v));
      return;
    case K.STRING_OBJ:
      w.u8(K.STRING_OBJ);
      writeString(w, STRING_VALUE.call(v), st);
      return;
    case K.BIGINT_OBJ:
      w.u8(K.BIGINT_OBJ);
      writeBigInt(w, BIGINT_VALUE.call(v));
      return;
    case K.ERROR:
      writeError(w, v, refs, st);
      return;
    case K.ARRAYBUFFER:
      writeBuffer(w, v as ArrayBuffer);
      return;
    case K.DATAVIEW:
      writeView(w, v, -1, refs, st);
      return;
    default:
      writeView(w, v, k - K.TYPED, refs, st);
  }
}

// ------------------------------------------------------- objects and arrays

function writeObject(w: PayloadWriter, o: Obj, kind: number, refs: RefWriter, st: ValueCodecState): void {
  // Pass 1: the shape of o's own enumerable keys, if the trie has it.
  let node: ShapeNode | null = st.shapeRoot;
  let n = 0;
  for (const k in o) {
    if (!hasOwn.call(o, k)) continue;
    n++;
    if (node !== null) node = node.child(k);
  }
  if (node === null || node.id < 0) {
    if (n > MAX_SHAPE_KEYS || st.shapeCount >= MAX_SHAPES) {
      writeDict(w, o, n, kind, refs, st);
      return;
    }
    node = st.shapeRoot;
    for (const k in o) {
      if (!hasOwn.call(o, k)) continue;
      node = node.child(k) ?? node.add(k);
    }
    defineShape(node, st);
    w.u8(kind);
    w.uv(P_NEW);
    writeKeys(w, node.keys!, st);
  } else if (kind === K.OBJECT && node.id <= SHAPED_MAX) {
    w.u8(K.SHAPED + node.id);
  } else {
    w.u8(kind);
    w.uv(P_SHAPE + node.id);
  }
  // Pass 2: the values, checked against the shape (a getter may change o).
  // o[k] stays in this loop (not writeProp): V8 loads it through the
  // for-in enum cache.
  const keys = node.keys!;
  const len = keys.length;
  let i = 0;
  for (const k in o) {
    if (!hasOwn.call(o, k)) continue;
    if (i === len || k !== keys[i]) throw changed();
    let x: unknown;
    try {
      x = o[k];
    } catch (e) {
      throw threw(k, e);
    }
    writeVal(w, x, refs, st, k);
    i++;
  }
  if (i !== len) throw changed();
}

function writeDict(w: PayloadWriter, o: Obj, n: number, kind: number, refs: RefWriter, st: ValueCodecState): void {
  w.u8(kind);
  w.uv(P_DICT);
  w.uv(n);
  let i = 0;
  for (const k in o) {
    if (!hasOwn.call(o, k)) continue;
    if (i === n) throw changed();
    writeKey(w, k, st);
    writeProp(w, o, k, refs, st);
    i++;
  }
  if (i !== n) throw changed();
}

/** Gives a trie node a shape index and its key list. */
function defineShape(node: ShapeNode, st: ValueCodecState): void {
  const keys = new Array<string>(node.depth);
  let i = node.depth - 1;
  for (let p: ShapeNode = node; p.parent !== null; p = p.parent) keys[i--] = p.key;
  node.keys = keys;
  node.id = st.shapeCount++;
}

function writeKeys(w: PayloadWriter, keys: readonly string[], st: ValueCodecState): void {
  w.uv(keys.length);
  for (let i = 0; i < keys.length; i++) writeKey(w, keys[i]!, st);
}

/** A property block from keys[start..] (an array's non-index properties). */
function writeKeyedBlock(w: PayloadWriter, o: Obj, keys: string[], start: number, refs: RefWriter, st: ValueCodecState): void {
  const n = keys.length - start;
  let node: ShapeNode | null = st.shapeRoot;
  for (let j = start; j < keys.length && node !== null; j++) node = node.child(keys[j]!);
  if (node === null || node.id < 0) {
    if (n > MAX_SHAPE_KEYS || st.shapeCount >= MAX_SHAPES) {
      w.uv(P_DICT);
      w.uv(n);
      for (let j = start; j < keys.length; j++) {
        writeKey(w, keys[j]!, st);
        writeProp(w, o, keys[j]!, refs, st);
      }
      return;
    }
    node = st.shapeRoot;
    for (let j = start; j < keys.length; j++) node = node.child(keys[j]!) ?? node.add(keys[j]!);
    defineShape(node, st);
    w.uv(P_NEW);
    writeKeys(w, node.keys!, st);
  } else {
    w.uv(P_SHAPE + node.id);
  }
  for (let j = start; j < keys.length; j++) writeProp(w, o, keys[j]!, refs, st);
}

/** Writes o[k] (a getter that throws is refused at k).  Not on the hot loops, which read inline. */
function writeProp(w: PayloadWriter, o: Obj, k: string | number, refs: RefWriter, st: ValueCodecState): void {
  let x: unknown;
  try {
    x = o[k];
  } catch (e) {
    throw threw(k, e);
  }
  writeVal(w, x, refs, st, k);
}

function writeArray(w: PayloadWriter, a: unknown[], refs: RefWriter, st: ValueCodecState): void {
  const len = a.length;
  if (len > SPARSE_SCAN && mostlyHoles(a, len)) {
    writeSparse(w, a, len, refs, st);
    return;
  }
  // Own enumerable keys: the indices (ascending), then the other properties.
  const keys = Object.keys(a);
  let start = keys.length;
  while (start > 0 && !isIndex(keys[start - 1]!)) start--;
  const props = start < keys.length;
  if (!props && len <= SMALL_ARRAY_MAX) {
    w.u8(K.SMALL_ARRAY + len);
  } else {
    w.u8(props ? K.ARRAY_PROPS : K.ARRAY);
    w.uv(len);
  }
  for (let i = 0; i < len; i++) {
    let x: unknown;
    try {
      x = a[i];
    } catch (e) {
      throw threw(i, e);
    }
    if (x === undefined && !(i in a)) w.u8(T.HOLE);
    else writeVal(w, x, refs, st, i);
  }
  if (props) writeKeyedBlock(w, a as unknown as Obj, keys, start, refs, st);
}

/** Whether a long array is mostly holes (stops early when it clearly is). */
function mostlyHoles(a: unknown[], len: number): boolean {
  let holes = 0;
  for (let i = 0; i < len; i++) {
    if (a[i] === undefined && !(i in a)) {
      holes++;
      if (holes > SPARSE_SCAN / 2 && holes * 2 > i + 1) return true;
    }
  }
  return false;
}

function writeSparse(w: PayloadWriter, a: unknown[], len: number, refs: RefWriter, st: ValueCodecState): void {
  const keys = Object.keys(a);
  let count = keys.length;
  while (count > 0 && !isIndex(keys[count - 1]!)) count--;
  w.u8(K.SPARSE);
  w.uv(len);
  w.uv(count);
  let prev = -1;
  for (let j = 0; j < count; j++) {
    const idx = +keys[j]!;
    w.uv(idx - prev - 1);
    prev = idx;
    writeProp(w, a as unknown as Obj, idx, refs, st);
  }
  writeKeyedBlock(w, a as unknown as Obj, keys, count, refs, st);
}

// ------------------------------------------------------------- Map and Set

// The forEach callbacks are module functions (no closure per Map); their
// context is saved and restored around each forEach, so a nested write
// (through a walker callback) cannot clobber it.
let cw: PayloadWriter | null = null;
let cr: RefWriter | null = null;
let cs: ValueCodecState | null = null;
let ci = 0;

function mapEntry(value: unknown, key: unknown): void {
  writeEntry(cw!, key, cr!, cs!, 'key', ci);
  writeEntry(cw!, value, cr!, cs!, 'value', ci);
  ci++;
}
function setEntry(value: unknown): void {
  writeEntry(cw!, value, cr!, cs!, 'value', ci);
  ci++;
}

/** A Map/Set entry: its step ("<key 3>", "<value 3>") only for an object or a refusal. */
function writeEntry(w: PayloadWriter, x: unknown, refs: RefWriter, st: ValueCodecState, what: 'key' | 'value', i: number): void {
  const t = typeof x;
  if ((t === 'object' && x !== null) || t === 'function' || t === 'symbol') writeVal(w, x, refs, st, entryStep(what, i));
  else writeVal(w, x, refs, st, undefined);
}

/** The steps of the first entries, made once. */
const KEY_STEPS: string[] = [];
const VALUE_STEPS: string[] = [];
const STEPS_CACHED = 4096;

function entryStep(what: 'key' | 'value', i: number): string {
  if (i >= STEPS_CACHED) return `<${what} ${i}>`;
  const steps = what === 'key' ? KEY_STEPS : VALUE_STEPS;
  return (steps[i] ??= `<${what} ${i}>`);
}

function writeMap(w: PayloadWriter, m: object, refs: RefWriter, st: ValueCodecState): void {
  const size = MAP_SIZE.call(m);
  w.u8(K.MAP);
  w.uv(size);
  forEachEntry(w, m, refs, st, size, true);
}

function writeSet(w: PayloadWriter, s: object, refs: RefWriter, st: ValueCodecState): void {
  const size = SET_SIZE.call(s);
  w.u8(K.SET);
  w.uv(size);
  forEachEntry(w, s, refs, st, size, false);
}

function forEachEntry(w: PayloadWriter, c: object, refs: RefWriter, st: ValueCodecState, size: number, map: boolean): void {
  const sw = cw, sr = cr, ss = cs, si = ci;
  cw = w;
  cr = refs;
  cs = st;
  ci = 0;
  try {
    if (map) MAP_FOREACH.call(c, mapEntry);
    else SET_FOREACH.call(c, setEntry);
    if (ci !== size) throw changed();
  } finally {
    cw = sw;
    cr = sr;
    cs = ss;
    ci = si;
  }
}

// ------------------------------------------------------------------ Error

/** As V8's serializer (structuredClone): the prototype from `name`, own data `message` and `cause`, a string `stack`. */
function writeError(w: PayloadWriter, e: object, refs: RefWriter, st: ValueCodecState): void {
  let proto = 0;
  let name: unknown;
  try {
    name = (e as { name?: unknown }).name;
    proto = ERROR_NAMES.indexOf(String(name) as (typeof ERROR_NAMES)[number]);
  } catch (x) {
    throw threw('name', x);
  }
  if (proto < 0) proto = 0;
  const md = Object.getOwnPropertyDescriptor(e, 'message');
  let message = '';
  const hasMessage = md !== undefined && 'value' in md;
  if (hasMessage) {
    try {
      message = String(md.value);
    } catch (x) {
      throw threw('message', x);
    }
  }
  let stack: unknown;
  try {
    stack = (e as { stack?: unknown }).stack;
  } catch (x) {
    throw threw('stack', x);
  }
  const cd = Object.getOwnPropertyDescriptor(e, 'cause');
  const hasCause = cd !== undefined && 'value' in cd;
  w.u8(K.ERROR);
  w.u8(proto | (hasMessage ? E_MESSAGE : 0) | (typeof stack === 'string' ? E_STACK : 0) | (hasCause ? E_CAUSE : 0));
  if (hasMessage) writeString(w, message, st);
  if (typeof stack === 'string') writeString(w, stack, st);
  if (hasCause) writeVal(w, cd.value, refs, st, 'cause');
}

// ---------------------------------------------------- buffers and views

function writeBuffer(w: PayloadWriter, ab: ArrayBuffer): void {
  if (isDetached(ab)) throw new Refusal(undefined, 'a detached ArrayBuffer cannot be checkpointed');
  const n = AB_BYTELENGTH.call(ab) as number;
  if (isResizable(ab)) {
    w.u8(K.RESIZABLE);
    w.uv(n);
    w.uv(maxByteLength(ab));
  } else {
    w.u8(K.ARRAYBUFFER);
    w.uv(n);
  }
  w.bytes(new Uint8Array(ab, 0, n));
}

/** A typed array of type index t, or a DataView (t = -1). */
function writeView(w: PayloadWriter, v: object, t: number, refs: RefWriter, st: ValueCodecState): void {
  const dv = t < 0;
  const buf = (dv ? DV_BUFFER : TA_BUFFER).call(v) as ArrayBuffer;
  if (!isArrayBuffer(buf)) throw new Refusal('buffer', notPlainReason(buf));
  if (isDetached(buf)) throw new Refusal('buffer', 'a detached ArrayBuffer cannot be checkpointed');
  const what = dv ? 'a DataView' : 'a typed array';
  if (outOfBounds(v, dv)) throw new Refusal(undefined, `${what} out of the bounds of its resized ArrayBuffer cannot be checkpointed`);
  const off = (dv ? DV_OFFSET : TA_OFFSET).call(v) as number;
  const byteLen = (dv ? DV_BYTELENGTH : TA_BYTELENGTH).call(v) as number;
  const es = dv ? 1 : TYPED[t]!.size;
  const tracking = isResizable(buf) && lengthTracking(v, dv, buf, off, byteLen, es);
  const kind = dv ? (tracking ? K.DATAVIEW_TRACKING : K.DATAVIEW) : (tracking ? K.TYPED_TRACKING : K.TYPED) + t;
  const id = st.ids.get(buf);
  if (id !== undefined ? id >= 0 : st.depth < MAX_INLINE && st.inlined < st.maxInlined) {
    // new: inline here, before the view's offsets; met inline before: its VREF
    w.u8(kind);
    writeChild(w, buf, refs, st, 'buffer');
  } else {
    // the walker holds it: its record is written now if it waits in the
    // queue, before the state is touched, so that it lands before this one
    const o = refs.refNow(buf, 'buffer');
    w.u8(kind);
    writeRef(w, o, st);
  }
  w.uv(off);
  if (!tracking) w.uv(dv ? byteLen : (TA_LENGTH.call(v) as number));
}

function viewByteLength(v: object, dv: boolean): number {
  return (dv ? DV_BYTELENGTH : TA_BYTELENGTH).call(v) as number;
}

/**
 * Whether a view of a resizable buffer tracks its length.  JS cannot ask;
 * when the view ends where a length-tracking one would, the buffer is
 * resized for a moment and back (contents kept): a tracking view follows.
 */
function lengthTracking(v: object, dv: boolean, buf: ArrayBuffer, off: number, byteLen: number, es: number): boolean {
  const len = AB_BYTELENGTH.call(buf) as number;
  if (off + byteLen + es <= len) return false; // a tracking view would be longer
  if (off + byteLen + es <= maxByteLength(buf)) {
    resize(buf, off + byteLen + es);
    const grown = viewByteLength(v, dv) !== byteLen;
    resize(buf, len);
    return grown;
  }
  if (byteLen === 0) return false; // cannot grow, empty: both kinds behave alike forever
  // Shrink by one byte below its end: a fixed view falls out of bounds, a tracking one stays in.
  const cut = off + byteLen - 1;
  const keep = new Uint8Array(buf, cut, len - cut).slice();
  resize(buf, cut);
  const inBounds = !outOfBounds(v, dv);
  resize(buf, len);
  new Uint8Array(buf, cut, len - cut).set(keep);
  return inBounds;
}

// ----------------------------------------------------------------- refusals

function threw(step: PathStep, e: unknown): Refusal {
  let m: string;
  try {
    m = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } catch {
    m = 'an exception';
  }
  return new Refusal(step, `reading it threw ${m}`, { cause: e });
}

function changed(): Refusal {
  return new Refusal(undefined, 'the object changed while it was written (a getter added or removed entries)');
}
