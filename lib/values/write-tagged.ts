/**
 * Checkpoint side of tagged values (encoding.ts, "Tagged values"): numbers,
 * strings (through the string table), bigints, constants and object
 * references (REF / REF_NEXT).  Used by every body writer (write.ts) and
 * by writeTagged.  Nothing is allocated per value on the paths of small
 * numbers, table strings and short ASCII strings.
 */
import type { PayloadWriter } from '../image/payload-writer.js';
import { Refusal, type PathStep, type RefWriter } from '../walk/refs.js';
import { INT_SMALL_MAX, INT_SMALL_MIN, MAX_STRINGS, MAX_TABLE_STRING, POW10, T } from './encoding.js';
import { notPlainReason } from './kinds.js';
import type { ValueCodecState } from './state.js';
import { writeChild } from './write.js';
import { magnitudeBytes } from '../image/bigint.js';
import { wellFormed } from '../util/strings.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** |m| of a DEC tag stays under this (sv's range). */
const DEC_LIMIT = 2 ** 52;
/** DEC beats F32 when its sv fits 3 bytes. */
const DEC_SHORT = 2 ** 20;

const encoder = new TextEncoder();
/** Short strings are assembled here; views[n] is its first n bytes. */
const scratch = new Uint8Array(128);
const views: Uint8Array[] = [];
for (let n = 0; n <= T.STR_SHORT_MAX; n++) views.push(scratch.subarray(0, n));
const f32 = new Float32Array(1);
const f32bits = new Uint32Array(f32.buffer);

export function writeVal(w: PayloadWriter, v: unknown, refs: RefWriter, st: ValueCodecState, step: PathStep | undefined): void {
  switch (typeof v) {
    case 'number':
      writeNumber(w, v);
      return;
    case 'string':
      writeString(w, v, st);
      return;
    case 'object':
      if (v === null) w.u8(T.NULL);
      else writeChild(w, v, refs, st, step!);
      return;
    case 'boolean':
      w.u8(v ? T.TRUE : T.FALSE);
      return;
    case 'undefined':
      w.u8(T.UNDEFINED);
      return;
    case 'bigint':
      writeBigInt(w, v);
      return;
    default:
      throw new Refusal(step, notPlainReason(v), undefined, v);
  }
}

export function writeRef(w: PayloadWriter, o: number, st: ValueCodecState): void {
  if (o === st.last + 1) {
    w.u8(T.REF_NEXT);
    st.last = o;
  } else {
    w.u8(T.REF);
    w.uv(o);
    if (o > st.last) st.last = o;
  }
}

export function writeNumber(w: PayloadWriter, v: number): void {
  const i = v | 0;
  if (i === v && (i !== 0 || 1 / v > 0)) {
    if (i >= INT_SMALL_MIN && i <= INT_SMALL_MAX) w.u8(i + T.INT_BIAS);
    else writeInt(w, i);
    return;
  }
  writeDouble(w, v);
}

function writeInt(w: PayloadWriter, v: number): void {
  if (v > 0) {
    w.u8(T.UINT);
    w.uv(v);
  } else {
    w.u8(T.NINT);
    w.uv(-v - 1);
  }
}

function writeDouble(w: PayloadWriter, v: number): void {
  if (v !== v) {
    w.u8(T.NAN);
    return;
  }
  if (v === 0) {
    w.u8(T.NEG_ZERO); // +0 took the int32 path
    return;
  }
  if (Number.isInteger(v) && v <= MAX_SAFE && v >= -MAX_SAFE) {
    writeInt(w, v);
    return;
  }
  // DEC: the fewest decimals d (1..6) for which m / 10^d gives v back exactly.
  let d = 0;
  let m = 0;
  if (v < DEC_LIMIT && v > -DEC_LIMIT) {
    for (let k = 1; k <= T.DEC_MAX; k++) {
      const p = POW10[k]!;
      const r = Math.round(v * p);
      if (r / p === v && r < DEC_LIMIT && r > -DEC_LIMIT) {
        d = k;
        m = r;
        break;
      }
    }
  }
  if (d > 0 && m < DEC_SHORT && m > -DEC_SHORT) {
    w.u8(T.DEC + d);
    w.sv(m);
  } else if (Math.fround(v) === v) {
    f32[0] = v;
    w.u8(T.F32);
    w.u32(f32bits[0]!);
  } else if (d > 0) {
    w.u8(T.DEC + d);
    w.sv(m);
  } else {
    w.u8(T.F64);
    w.f64(v);
  }
}

export function writeBigInt(w: PayloadWriter, v: bigint): void {
  const neg = v < 0n;
  const b = magnitudeBytes(neg ? -v : v);
  w.u8(neg ? T.BIGINT_NEG : T.BIGINT_POS);
  w.uv(b.length);
  w.bytes(b);
}


/** A string value: a table reference, or new (defined while the table pays, see ValueCodecState). */
export function writeString(w: PayloadWriter, s: string, st: ValueCodecState): void {
  writeStr(w, s, st, false);
}

/** A property key: as writeString, but always defined (while the table has room). */
export function writeKey(w: PayloadWriter, s: string, st: ValueCodecState): void {
  writeStr(w, s, st, true);
}

function writeStr(w: PayloadWriter, s: string, st: ValueCodecState, key: boolean): void {
  const n = s.length;
  if (n === 0) {
    w.u8(T.STR_EMPTY);
    return;
  }
  if (n <= MAX_TABLE_STRING) {
    const tab = st.strIndex;
    const i = tab.get(s);
    if (i !== undefined) {
      if (i < T.STR_REF_SMALL_COUNT) {
        w.u8(T.STR_REF_SMALL + i);
      } else {
        w.u8(T.STR_REF);
        w.uv(i - T.STR_REF_SMALL_COUNT);
      }
      if (!key) st.strHits++;
      return;
    }
    if (tab.size < MAX_STRINGS && (key || st.defineValues)) {
      tab.set(s, tab.size);
      if (!key && ++st.strDefs === st.strCheck) st.checkTable();
      writeNewString(w, s, true);
      return;
    }
  }
  writeNewString(w, s, false);
}

function writeNewString(w: PayloadWriter, s: string, define: boolean): void {
  const n = s.length;
  const short = define ? T.STR_SHORT : T.STR_SHORT_LIT;
  if (n <= T.STR_SHORT_MAX) {
    let j = 0;
    for (; j < n; j++) {
      const c = s.charCodeAt(j);
      if (c >= 0x80) break;
      scratch[j] = c;
    }
    if (j === n) {
      w.u8(short + n);
      w.bytes(views[n]!);
      return;
    }
  }
  if (!wellFormed(s)) {
    writeUtf16(w, s, define ? T.STR_NEW16 : T.STR_LIT16);
    return;
  }
  if (n <= T.STR_SHORT_MAX) {
    const m = encoder.encodeInto(s, scratch).written;
    if (m <= T.STR_SHORT_MAX) {
      w.u8(short + m);
      w.bytes(views[m]!);
      return;
    }
  }
  w.u8(define ? T.STR_NEW8 : T.STR_LIT8);
  w.vstr(s);
}

function writeUtf16(w: PayloadWriter, s: string, tag: number): void {
  const n = s.length;
  const b = new Uint8Array(2 * n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    b[2 * i] = c & 0xff;
    b[2 * i + 1] = c >> 8;
  }
  w.u8(tag);
  w.uv(n);
  w.bytes(b);
}
