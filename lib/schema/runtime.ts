/**
 * What generated schema code calls besides the payload writers/readers:
 * the 'bigint' kind's codec, blob ownership, and the errors that name a
 * field ("node.tags[3]: u8: 300 is out of range ..."), found by a replay
 * when needed.  Everything here is off the fast path except
 * writeBigint/readBigint/own.
 */
import { ObjHashError } from '../errors.js';
import type { PayloadReader } from '../image/payload-reader.js';
import type { PayloadWriter } from '../image/payload-writer.js';
import type { RefReader, RefWriter } from '../walk/refs.js';
import { BytesReader, BytesWriter } from './bytes.js';
import { MAX_BIGINT_BYTES, fromMagnitude, magnitudeBytes } from '../image/bigint.js';

// ------------------------------------------------------------------ bigint

/**
 * 'bigint': a uv header (byte length x 2 + 1 if negative), then the
 * magnitude's bytes, least significant first, the last one non-zero.  0n
 * is the single byte 0; "negative zero" and a high zero byte are refused
 * on read, so every bigint has one encoding.
 */

export function writeBigint(w: PayloadWriter, v: bigint): void {
  if (typeof v !== 'bigint') throw new ObjHashError('EINVAL', `bigint: expected a bigint, got ${showValue(v)}`);
  const neg = v < 0n;
  const b = magnitudeBytes(neg ? -v : v);
  w.uv(b.length * 2 + (neg ? 1 : 0));
  w.bytes(b);
}

export function readBigint(r: PayloadReader): bigint {
  const h = r.uv();
  const n = Math.floor(h / 2);
  const neg = h % 2 === 1;
  if (n === 0) {
    if (neg) badBigint(r, 'negative zero');
    return 0n;
  }
  if (n > r.remaining()) badBigint(r, `length ${n} runs past the end of the record`);
  if (n > MAX_BIGINT_BYTES) badBigint(r, `${n} bytes are more than a bigint holds`);
  const b = r.bytes(n);
  if (b[n - 1] === 0) badBigint(r, 'a high zero byte (not the shortest encoding)');
  const m = fromMagnitude(b);
  return neg ? -m : m;
}

function badBigint(r: PayloadReader, why: string): never {
  throw new ObjHashError('EINVAL', `bigint: ${why}, in record at offset ${r.recOffset}`, r.recOffset);
}

/** A blob the restored object owns: the reader returns a view of the image when reading from memory. */
export function own(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}

// ------------------------------------------------------------------ errors

/** Per compiled function: what its field indices name, and which fields' errors get the field prefixed. */
export interface FieldTable {
  readonly typeName: string;
  readonly names: readonly string[];
  /**
   * Whether an ObjHashError from a payload writer/reader while at this field
   * gets the field's path prefixed.  False for fields holding refs or
   * 'value': the walker names the full path of their errors.
   */
  readonly wrap: readonly boolean[];
  /** How many list indices locate the field's innermost values (list(list(u8)): 2). */
  readonly lists: readonly number[];
}

/** Errors that already name their field. */
const named = new WeakSet<object>();
/** The field path of an error made by atField (what a replay found). */
const paths = new WeakMap<object, string>();

function mark(e: ObjHashError): ObjHashError {
  named.add(e);
  return e;
}

/** "node.tags[3][0]" */
export function fieldPath(t: FieldTable, f: number, idx: readonly number[]): string {
  let s = `${t.typeName}.${t.names[f]}`;
  for (const i of idx) s += `[${i}]`;
  return s;
}

/** A value the generated writer refuses itself (not an array, undefined where a ref goes). */
export function badValue(t: FieldTable, f: number, want: string, v: unknown, ...idx: number[]): never {
  throw mark(new ObjHashError('EINVAL', `${fieldPath(t, f, idx)}: expected ${want}, got ${showValue(v)}`));
}

/** Bytes the generated reader refuses itself (a bad presence byte, a list longer than the record). */
export function badRead(t: FieldTable, f: number, r: PayloadReader, why: string, ...idx: number[]): never {
  throw mark(new ObjHashError('EINVAL', `${fieldPath(t, f, idx)}: ${why}, in record at offset ${r.recOffset}`, r.recOffset));
}

/** The error to throw for e, caught while at field f (list indices idx): e itself, or e naming the field. */
export function atField(e: unknown, t: FieldTable, f: number, ...idx: number[]): unknown {
  if (!(e instanceof ObjHashError) || named.has(e) || !t.wrap[f]) return e;
  const path = fieldPath(t, f, idx.slice(0, t.lists[f]));
  const n = mark(new ObjHashError(e.code, `${path}: ${e.message}`, e.offset, { cause: e }));
  paths.set(n, path);
  return n;
}

// ------------------------------------------------------------------ replay
//
// The compiled writer and reader run without try/catch or field tracking
// (a try around the body costs a few percent).  When one throws an
// ObjHashError that names no field, the record is replayed once by the
// traced twin (the same code plus `f = k` marks and a catch) to find the
// field: a write into scratch bytes, with refs that queue nothing and
// 'value' fields not written; a read of the record's payload, with refs
// that resolve nothing.  The original error gets the path if the replay
// fails the same way, else it is thrown as it was.  Getters of a failed
// object run twice.

type Traced = (x: any, o: any, refs: any, state: any) => void;

const REPLAY_REFS_W: RefWriter = { ref: () => 1, refTyped: () => 1, refNow: () => 1, known: () => 0 };
const REPLAY_REFS_R: RefReader = { get: () => undefined, getTyped: () => undefined, now: () => undefined, later: () => {}, offset: 0 };

/** The error to throw for e, thrown by a compiled writer of o (into w). */
export function failedWrite(e: unknown, traced: Traced, _w: PayloadWriter, o: unknown, state: unknown): unknown {
  if (!(e instanceof ObjHashError) || named.has(e)) return e;
  try {
    traced(new BytesWriter(), o, REPLAY_REFS_W, state);
  } catch (e2) {
    return replayed(e, e2, true);
  }
  return e;
}

/** The error to throw for e, thrown by a compiled reader of r's current record (into o). */
export function failedRead(e: unknown, traced: Traced, r: PayloadReader, _o: unknown, state: unknown): unknown {
  if (!(e instanceof ObjHashError) || named.has(e)) return e;
  let bytes: Uint8Array;
  try {
    bytes = r.payload();
    traced(new BytesReader(bytes), {}, REPLAY_REFS_R, state);
  } catch (e2) {
    return replayed(e, e2, false);
  }
  return e;
}

/** e with the path of the replay's error e2, if e2 is the same failure (messages differ in offsets on read). */
function replayed(e: ObjHashError, e2: unknown, sameMessage: boolean): unknown {
  const path = typeof e2 === 'object' && e2 !== null ? paths.get(e2) : undefined;
  const c = (e2 as Error | undefined)?.cause;
  if (path === undefined || !(c instanceof ObjHashError) || c.code !== e.code || (sameMessage && c.message !== e.message)) return e;
  return mark(new ObjHashError(e.code, `${path}: ${e.message}`, e.offset, { cause: e }));
}

/** A value in a message: 300, -0, 5n, "text" (cut), true, null, undefined, an array, a Map... */
export function showValue(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (v === null || typeof v === 'boolean' || typeof v === 'undefined') return String(v);
  if (typeof v !== 'object') return `a ${typeof v}`;
  if (Array.isArray(v)) return 'an array';
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  return tag === 'Object' ? 'an object' : `a ${tag}`;
}
