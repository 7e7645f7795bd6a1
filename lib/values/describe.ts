/**
 * `objhash dump`'s view of a VALUE body: a JSON-able description read with
 * the same tag reader as restart (so the state's tables stay in step),
 * making no objects.  Primitives JSON cannot hold are shown as
 * { number: 'NaN' | '-0' | 'Infinity' | '-Infinity' }, { bigint: '123' },
 * { undefined: true }; an object reference as { ref: objref }; an inline
 * object as its description with `index` (its value index) first; a
 * reference to one as { vref: index }; an array hole as { hole: true }.
 * Properties are [key, value] pairs.
 */
import { ObjHashError } from '../errors.js';
import type { PayloadReader } from '../image/payload-reader.js';
import { ERROR_NAMES, E_CAUSE, E_MESSAGE, E_PROTO, E_STACK, K, MAX_ARRAY_LENGTH, MAX_INLINE, P_DICT, P_NEW, P_SHAPE, REGEXP_FLAGS, TYPED } from './encoding.js';
import { isIndex } from './kinds.js';
import { HOLE_MARK, INLINE_MARK, REF_MARK, VREF_MARK, bad, defineShape, readKey, readTag, rebase } from './read.js';
import type { ValueCodecState } from './state.js';
import { listEnd, listItem } from '../util/dump-list.js';

/** Bytes of a buffer shown (as hex) by describeValue. */
const SHOW_BYTES = 64;

type Desc = Record<string, unknown>;

/** Describes one VALUE body (see index.ts). */
export function describeValue(r: PayloadReader, st: ValueCodecState): unknown {
  const off = r.recOffset;
  try {
    return describeBody(r, st, off, false);
  } catch (e) {
    throw asObjHash(e, off);
  }
}

/** Describes one tagged value (a schema 'value' field). */
export function describeTagged(r: PayloadReader, st: ValueCodecState): unknown {
  const off = r.recOffset;
  try {
    return item(r, st, off);
  } catch (e) {
    throw asObjHash(e, off);
  }
}

function asObjHash(e: unknown, off: number): unknown {
  if (e instanceof ObjHashError) return rebase(e, off);
  return new ObjHashError('EINVAL', `malformed VALUE body in the record at offset ${off}: ${e instanceof Error ? e.message : String(e)}`, off, { cause: e });
}

function show(x: unknown, st: ValueCodecState): unknown {
  if (x === REF_MARK) return { ref: st.ref };
  if (x === HOLE_MARK) return HOLE_MARK;
  switch (typeof x) {
    case 'number':
      if (Object.is(x, -0)) return { number: '-0' };
      return Number.isFinite(x) ? x : { number: String(x) };
    case 'bigint':
      return { bigint: x.toString() };
    case 'undefined':
      return { undefined: true };
    default:
      return x;
  }
}

/** A tagged value; an inline object described in place (as restart reads it). */
function item(r: PayloadReader, st: ValueCodecState, off: number): unknown {
  const x = readTag(r, st, off);
  if (x === INLINE_MARK) {
    if (st.depth >= MAX_INLINE) bad(off, `inline values nested deeper than ${MAX_INLINE} levels`);
    const index = st.objects.length;
    st.objects.push(true);
    st.depth++;
    try {
      const d: Desc = { index, ...(describeBody(r, st, off, true) as Desc) };
      st.objects[index] = d.kind;
      return d;
    } finally {
      st.depth--;
    }
  }
  if (x === VREF_MARK) {
    if (st.ref >= st.objects.length) bad(off, `value index ${st.ref} is not defined (${st.objects.length} are)`);
    return { vref: st.ref };
  }
  return show(x, st);
}

function value(r: PayloadReader, st: ValueCodecState, off: number): unknown {
  const x = item(r, st, off);
  if (x === HOLE_MARK) bad(off, 'a hole outside an array');
  return x;
}

function typed(r: PayloadReader, st: ValueCodecState, off: number, want: string): unknown {
  const x = readTag(r, st, off);
  if (typeof x !== want) bad(off, `expected a ${want}`);
  return show(x, st);
}

function describeBody(r: PayloadReader, st: ValueCodecState, off: number, inline: boolean): unknown {
  const k = r.u8();
  if (k >= K.SHAPED) return { kind: 'Object', ...shaped(r, st, k - K.SHAPED, false, off) };
  if (k >= K.SMALL_ARRAY) return { kind: 'Array', length: k - K.SMALL_ARRAY, items: elements(r, st, k - K.SMALL_ARRAY, off) };
  switch (k) {
    case K.PRIM: {
      if (inline) bad(off, 'an inline PRIM body');
      const x = readTag(r, st, off);
      if (x !== null && typeof x === 'object') bad(off, 'a primitive body holds a reference or a hole');
      return { kind: 'primitive', value: show(x, st) };
    }
    case K.ALIAS: {
      if (inline) bad(off, 'an inline ALIAS body');
      if (readTag(r, st, off) !== VREF_MARK) bad(off, 'an ALIAS body without a VREF');
      if (st.ref >= st.objects.length) bad(off, `value index ${st.ref} is not defined (${st.objects.length} are)`);
      return { kind: 'alias', vref: st.ref };
    }
    case K.OBJECT:
    case K.NULL_OBJECT:
      return { kind: k === K.OBJECT ? 'Object' : 'Object(null)', ...block(r, st, false, off) };
    case K.ARRAY:
    case K.ARRAY_PROPS: {
      const n = r.uv();
      if (n > r.remaining() || n > MAX_ARRAY_LENGTH) bad(off, `array length ${n} with ${r.remaining()} byte(s) left`);
      const d: Desc = { kind: 'Array', length: n, items: elements(r, st, n, off) };
      if (k === K.ARRAY_PROPS) Object.assign(d, block(r, st, true, off));
      return d;
    }
    case K.SPARSE: {
      const len = r.uv();
      if (len > MAX_ARRAY_LENGTH) bad(off, `array length ${len}`);
      const count = r.uv();
      if (count > len || count > r.remaining() / 2) bad(off, `${count} elements in a sparse array of length ${len}`);
      const items: unknown[] = [];
      let idx = -1;
      for (let j = 0; j < count; j++) {
        idx += r.uv() + 1;
        if (idx >= len) bad(off, `sparse index ${idx} past the length ${len}`);
        listItem(items, j, [idx, value(r, st, off)], st.dumpItems);
      }
      return { kind: 'Array', length: len, sparse: listEnd(items, count, st.dumpItems), ...block(r, st, true, off) };
    }
    case K.MAP:
    case K.SET: {
      const map = k === K.MAP;
      const size = r.uv();
      if (size > r.remaining() / (map ? 2 : 1)) bad(off, `${size} entries with ${r.remaining()} byte(s) left`);
      const out: unknown[] = [];
      for (let i = 0; i < size; i++) listItem(out, i, map ? [value(r, st, off), value(r, st, off)] : value(r, st, off), st.dumpItems);
      listEnd(out, size, st.dumpItems);
      return map ? { kind: 'Map', entries: out } : { kind: 'Set', values: out };
    }
    case K.DATE:
      return { kind: 'Date', time: typed(r, st, off, 'number') };
    case K.REGEXP: {
      const source = typed(r, st, off, 'string');
      const bits = r.u8();
      let flags = '';
      for (let i = 0; i < REGEXP_FLAGS.length; i++) if ((bits & (1 << i)) !== 0) flags += REGEXP_FLAGS[i];
      return { kind: 'RegExp', source, flags };
    }
    case K.FALSE_OBJ:
    case K.TRUE_OBJ:
      return { kind: 'Boolean', value: k === K.TRUE_OBJ };
    case K.NUMBER_OBJ:
      return { kind: 'Number', value: typed(r, st, off, 'number') };
    case K.STRING_OBJ:
      return { kind: 'String', value: typed(r, st, off, 'string') };
    case K.BIGINT_OBJ:
      return { kind: 'BigInt', value: typed(r, st, off, 'bigint') };
    case K.ERROR: {
      const b = r.u8();
      if ((b & 0xc0) !== 0 || (b & E_PROTO) >= ERROR_NAMES.length) bad(off, `bad Error bits 0x${b.toString(16)}`);
      const d: Desc = { kind: 'Error', name: ERROR_NAMES[b & E_PROTO] };
      if ((b & E_MESSAGE) !== 0) d.message = typed(r, st, off, 'string');
      if ((b & E_STACK) !== 0) d.stack = typed(r, st, off, 'string');
      if ((b & E_CAUSE) !== 0) d.cause = value(r, st, off);
      return d;
    }
    case K.ARRAYBUFFER:
    case K.RESIZABLE: {
      const n = r.uv();
      const d: Desc = { kind: 'ArrayBuffer', byteLength: n };
      if (k === K.RESIZABLE) {
        const max = r.uv();
        if (n > max) bad(off, `byteLength ${n} over maxByteLength ${max}`);
        d.maxByteLength = max;
      }
      if (n > r.remaining()) bad(off, `a buffer of ${n} byte(s) with ${r.remaining()} left`);
      const bytes = r.bytes(n);
      let hex = '';
      for (let i = 0; i < n && i < SHOW_BYTES; i++) hex += (bytes[i]! < 16 ? '0' : '') + bytes[i]!.toString(16);
      d.bytes = n > SHOW_BYTES ? hex + '…' : hex;
      return d;
    }
    case K.DATAVIEW:
    case K.DATAVIEW_TRACKING:
      return view(r, st, 'DataView', k === K.DATAVIEW_TRACKING, off);
    default:
      if (k >= K.TYPED && k < K.TYPED + TYPED.length) return view(r, st, TYPED[k - K.TYPED]!.name, false, off);
      if (k >= K.TYPED_TRACKING && k < K.TYPED_TRACKING + TYPED.length) return view(r, st, TYPED[k - K.TYPED_TRACKING]!.name, true, off);
      return bad(off, `unknown kind 0x${k.toString(16)}`);
  }
}

function elements(r: PayloadReader, st: ValueCodecState, n: number, off: number): unknown[] {
  const items: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const x = item(r, st, off);
    listItem(items, i, x === HOLE_MARK ? { hole: true } : x, st.dumpItems);
  }
  return listEnd(items, n, st.dumpItems);
}

function view(r: PayloadReader, st: ValueCodecState, name: string, tracking: boolean, off: number): Desc {
  const buffer = item(r, st, off) as Desc;
  const isBuffer =
    buffer !== null &&
    typeof buffer === 'object' &&
    (typeof buffer.ref === 'number' || buffer.kind === 'ArrayBuffer' || (typeof buffer.vref === 'number' && st.objects[buffer.vref] === 'ArrayBuffer'));
  if (!isBuffer) bad(off, "a view's buffer that is not an ArrayBuffer");
  const d: Desc = { kind: name, buffer, byteOffset: r.uv() };
  if (tracking) d.lengthTracking = true;
  else d[name === 'DataView' ? 'byteLength' : 'length'] = r.uv();
  return d;
}

function shaped(r: PayloadReader, st: ValueCodecState, i: number, forArray: boolean, off: number): Desc {
  const s = st.shapes[i];
  if (s === undefined) bad(off, `shape ${i} is not defined (${st.shapes.length} are)`);
  if (forArray && !s.arrayOk) bad(off, "an array property named by an index or 'length'");
  const props: unknown[] = [];
  for (let j = 0; j < s.keys.length; j++) listItem(props, j, [s.keys[j], value(r, st, off)], st.dumpItems);
  return { shape: i, props: listEnd(props, s.keys.length, st.dumpItems) };
}

function block(r: PayloadReader, st: ValueCodecState, forArray: boolean, off: number): Desc {
  const p = r.uv();
  if (p === P_NEW) {
    defineShape(r, st, off);
    return shaped(r, st, st.shapes.length - 1, forArray, off);
  }
  if (p === P_DICT) {
    const n = r.uv();
    if (n > r.remaining() / 2) bad(off, `${n} properties with ${r.remaining()} byte(s) left`);
    const props: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const key = readKey(r, st, off);
      if (forArray && (key === 'length' || isIndex(key))) bad(off, "an array property named by an index or 'length'");
      listItem(props, i, [key, value(r, st, off)], st.dumpItems);
    }
    return { props: listEnd(props, n, st.dumpItems) };
  }
  return shaped(r, st, p - P_SHAPE, forArray, off);
}
