/**
 * The schema's bytes in the image's type table (HEADER, format version 2),
 * and an interpreter of kinds for what is not generated code: defaults
 * (checked and recorded at compile time, decoded from images) and dump.
 *
 *   schema  := u8 version (1) · uv count · field{count}
 *   field   := vstr name · kind · u8 flags · default?
 *   kind    := u8 code, then for opt/list (17, 20) the inner kind,
 *              for ref/refs (18, 19) the target type's NAME as a vstr
 *   flags   := bit 0: the field has a default; bit 1: its value follows,
 *              in the field's own encoding (set with bit 0 whenever the
 *              kind holds no 'value'; ref defaults are null, refs [])
 *
 * Scalar codes: u8 1, u16 2, u32 3, i32 4, u64 5, i64 6, f64 7, bool 8,
 * uv 9, sv 10, str 11, vstr 12, blob 13, bigint 14, value 15.  Field
 * names are identifiers (spec.ts), at most 4096 fields, opt/list nested at
 * most 8 deep, opt directly in opt refused: decodeSchema enforces all of
 * it on hostile bytes.
 */
import { ObjHashError } from '../errors.js';
import type { PayloadReader } from '../image/payload-reader.js';
import type { PayloadWriter } from '../image/payload-writer.js';
import { BytesReader, BytesWriter } from './bytes.js';
import { readBigint, showValue, writeBigint } from './runtime.js';
import {
  MAX_FIELDS, MAX_NAME, MAX_NESTING, SCALAR_KINDS, badFieldName, holdsValue,
  type FieldDesc, type KindDesc, type SchemaDesc, type ScalarKind,
} from './spec.js';
import { describeValue, type ValueCodecState } from './values-adapter.js';
import { DUMP_ITEMS, listEnd, listItem } from '../util/dump-list.js';

export const SCHEMA_VERSION = 1;
const CODE_OPT = 17;
const CODE_REF = 18;
const CODE_REFS = 19;
const CODE_LIST = 20;
const HAS_DEFAULT = 1;
const DEFAULT_FOLLOWS = 2;

// ----------------------------------------------------------------- encode

/**
 * The schema bytes of checked fields.  Checks each default by writing it
 * (EINVAL naming type and field), except one holding 'value' (not recorded).
 */
export function encodeSchema(typeName: string, fields: readonly FieldDesc[]): Uint8Array {
  const w = new BytesWriter();
  w.u8(SCHEMA_VERSION);
  w.uv(fields.length);
  for (const f of fields) {
    w.vstr(f.name);
    writeKind(w, f.kind);
    if (!f.hasDefault) {
      w.u8(0);
    } else if (holdsValue(f.kind)) {
      w.u8(HAS_DEFAULT);
    } else {
      w.u8(HAS_DEFAULT | DEFAULT_FOLLOWS);
      try {
        writeData(w, f.kind, f.default);
      } catch (e) {
        if (!(e instanceof ObjHashError)) throw e;
        throw new ObjHashError('EINVAL', `type '${typeName}': field '${f.name}': bad default: ${e.message}`);
      }
    }
  }
  return w.take();
}

function writeKind(w: BytesWriter, k: KindDesc): void {
  switch (k.k) {
    case 'opt':
    case 'list':
      w.u8(k.k === 'opt' ? CODE_OPT : CODE_LIST);
      writeKind(w, k.of);
      return;
    case 'ref':
    case 'refs':
      w.u8(k.k === 'ref' ? CODE_REF : CODE_REFS);
      w.vstr(k.type);
      return;
    default:
      w.u8(SCALAR_KINDS.indexOf(k.k) + 1);
  }
}

/** A value of k that holds no 'value', as the generated writer writes it (refs: only null / []). */
function writeData(w: PayloadWriter, k: KindDesc, v: unknown): void {
  switch (k.k) {
    case 'opt':
      if (v === undefined) w.u8(0);
      else if (v === null) w.u8(1);
      else {
        w.u8(2);
        writeData(w, k.of, v);
      }
      return;
    case 'list':
    case 'refs':
      if (!Array.isArray(v) || (k.k === 'refs' && v.length !== 0))
        throw new ObjHashError('EINVAL', `${k.k}: expected ${k.k === 'refs' ? 'an empty array' : 'an array'}, got ${showValue(v)}`);
      w.uv(v.length);
      for (let i = 0; i < v.length; i++) writeData(w, (k as { of: KindDesc }).of, v[i]);
      return;
    case 'ref':
      if (v !== null) throw new ObjHashError('EINVAL', `ref: expected null, got ${showValue(v)}`);
      w.uv(0);
      return;
    case 'bigint':
      writeBigint(w, v as bigint);
      return;
    default:
      (w[k.k as Exclude<ScalarKind, 'bigint' | 'value'>] as (x: unknown) => void).call(w, v);
  }
}

// ----------------------------------------------------------------- decode

/** Decodes schema bytes from an image: EINVAL (only) on anything malformed. */
export function decodeSchema(bytes: Uint8Array, typeName: string): SchemaDesc {
  if (!(bytes instanceof Uint8Array)) throw new ObjHashError('EINVAL', `schema of type '${typeName}': expected a Uint8Array`);
  const r = new BytesReader(bytes);
  try {
    const version = r.u8();
    if (version !== SCHEMA_VERSION) fail(`version ${version}, this reader knows ${SCHEMA_VERSION}`);
    const count = r.uv();
    // a field takes at least 4 bytes: name length, a name character, kind, flags
    if (count > MAX_FIELDS) fail(`${count} fields, more than ${MAX_FIELDS}`);
    if (count * 4 > r.remaining()) fail(`${count} fields cannot fit in ${r.remaining()} bytes`);
    const fields: FieldDesc[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const name = r.vstr();
      const bad = badFieldName(name);
      if (bad !== undefined) fail(`field ${i}: ${bad}`);
      if (seen.has(name)) fail(`duplicate field '${name}'`);
      seen.add(name);
      const kind = readKind(r, 0, name);
      const flags = r.u8();
      const recorded = flags === (HAS_DEFAULT | DEFAULT_FOLLOWS);
      if (flags !== 0 && flags !== HAS_DEFAULT && !recorded) fail(`field '${name}': bad flags ${flags}`);
      if (flags !== 0 && recorded === holdsValue(kind))
        fail(`field '${name}': a default of kind ${holdsValue(kind) ? 'holding values is never recorded' : 'without values is always recorded'}`);
      fields.push(recorded ? { name, kind, hasDefault: true, default: readDefault(r, kind, name) } : { name, kind, hasDefault: flags !== 0 });
    }
    if (r.remaining() !== 0) fail(`${r.remaining()} byte(s) after the last field`);
    return { fields };
  } catch (e) {
    throw malformed(e, typeName);
  }
}

function readDefault(r: BytesReader, kind: KindDesc, name: string): unknown {
  try {
    return readData(r, kind, false);
  } catch (e) {
    fail(`field '${name}': default: ${(e as Error).message}`);
  }
}

class Malformed extends Error {}

function fail(why: string): never {
  throw new Malformed(why);
}

function malformed(e: unknown, typeName: string): ObjHashError {
  const why = e instanceof Error ? e.message : String(e);
  return new ObjHashError('EINVAL', `malformed schema of type '${typeName}' in the image: ${why}`, undefined, { cause: e });
}

function readKind(r: BytesReader, depth: number, field: string): KindDesc {
  const code = r.u8();
  if (code >= 1 && code <= SCALAR_KINDS.length) return { k: SCALAR_KINDS[code - 1]! };
  switch (code) {
    case CODE_OPT:
    case CODE_LIST: {
      if (depth >= MAX_NESTING) fail(`field '${field}': opt/list nested deeper than ${MAX_NESTING}`);
      const of = readKind(r, depth + 1, field);
      if (code === CODE_OPT && of.k === 'opt') fail(`field '${field}': opt directly in opt`);
      return { k: code === CODE_OPT ? 'opt' : 'list', of };
    }
    case CODE_REF:
    case CODE_REFS: {
      const type = r.vstr();
      if (type.length === 0 || type.length > MAX_NAME) fail(`field '${field}': a ref type name must be 1..${MAX_NAME} characters`);
      return { k: code === CODE_REF ? 'ref' : 'refs', type };
    }
    default:
      fail(`field '${field}': unknown kind code ${code}`);
  }
}

/**
 * A value of kind k, as the generated writer wrote it.  dump false: a
 * default (refs must be null / [], no 'value').  dump true: the dump form:
 * refs as { ref: objref } (null for 0), values by describeValue.
 */
export function readData(r: PayloadReader, k: KindDesc, dump: boolean, state?: ValueCodecState): unknown {
  switch (k.k) {
    case 'opt': {
      const p = r.u8();
      if (p === 2) return readData(r, k.of, dump, state);
      if (p > 2) fail(`bad presence byte ${p}`);
      return p === 0 ? undefined : null;
    }
    case 'list':
    case 'refs': {
      const n = r.uv();
      if (n > r.remaining()) fail(`${k.k} length ${n} runs past the end of the record`);
      if (!dump && k.k === 'refs' && n !== 0) fail(`a refs default must be empty`);
      const a: unknown[] = [];
      const max = state?.dumpItems ?? DUMP_ITEMS;
      for (let i = 0; i < n; i++) {
        const x = k.k === 'list' ? readData(r, k.of, dump, state) : refOf(r.uv());
        if (dump) listItem(a, i, x, max);
        else a.push(x);
      }
      return dump ? listEnd(a, n, max) : a;
    }
    case 'ref': {
      const x = r.uv();
      if (!dump && x !== 0) fail(`a ref default must be null`);
      return refOf(x);
    }
    case 'bigint':
      return readBigint(r);
    case 'value':
      if (!dump) fail(`a 'value' default is never recorded`);
      return describeValue(r, state as ValueCodecState);
    case 'u64':
    case 'i64':
      return r[k.k]();
    case 'blob':
      return r.blob().slice();
    default:
      return (r[k.k] as () => unknown).call(r);
  }
}

function refOf(x: number): { ref: number } | null {
  return x === 0 ? null : { ref: x };
}

/** e as an ObjHashError: itself, or EINVAL with its message (readData's own refusals). */
export function asObjHashError(e: unknown): ObjHashError {
  if (e instanceof ObjHashError) return e;
  return new ObjHashError('EINVAL', e instanceof Error ? e.message : String(e), undefined, { cause: e });
}
