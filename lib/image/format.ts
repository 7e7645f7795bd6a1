/**
 * The objhash checkpoint image format: record types, magics and limits.
 * docs/FORMAT.md documents every byte; this file is the single source of
 * the constants that the writer (writer.ts) and reader (reader.ts) share.
 */

import { ObjHashError } from '../errors.js';

/** Record types (the `type` field of every record header). */
export const REC = {
  HEADER: 1,
  BUFFER: 3,
  STRING: 4,
  OBJREF: 5,
  /** Version 2: the fields of a schema-typed object (lib/schema). */
  FIELDS: 6,
  /** Version 2: a plain JS value's contents (lib/values). */
  VALUE: 7,
  USER_MIN: 101,
  USER_MAX: 8999,
  TAIL: 9001,
  ERROR: 9999,
} as const;

/** HEADER magic (u64 at payload offset 0). */
export const HEADER_MAGIC = 0x00feed0cc0a2d200n;
/** TAIL magic (u64 at payload offset 0). */
export const TAIL_MAGIC = 0x002d2a0cc0deef00n;
/** The format version this codec writes by default. */
export const FORMAT_VERSION = 2;
/** The versions it reads (and can write, with the writer's `version` option). */
export const FORMAT_VERSIONS: readonly number[] = [1, 2];
/** Default limit on a record's `len` (header + payload, without padding). */
export const DEFAULT_MAX_RECORD = 64 * 1024 * 1024;
/** Largest `maxRecord` accepted (len is a u32 and the padded length must fit too). */
const MAX_RECORD_LIMIT = 0xfffffff8;
/** Smallest `maxRecord` accepted (an empty HEADER record is 28 bytes). */
const MIN_RECORD_LIMIT = 32;

/** Version 1: `len` of an OBJREF record, and its fields' offsets in the payload. */
export const OBJREF_LEN = 16;
export const OBJREF_OBJTYPE_AT = 0;
export const OBJREF_OBJREF_AT = 4;
/** Version 1: `len` of a TAIL record; both versions: its payload's size and fields' offsets. */
export const TAIL_LEN = 24;
export const TAIL_PAYLOAD = 16;
export const TAIL_MAGIC_AT = 0;
export const TAIL_COUNT_AT = 8;
export const TAIL_CRC_AT = 12;
/** Version 1: the record header `{ u32 type; u32 len; }`. */
export const V1_HEADER = 8;

/**
 * Version 2 record heads (after the HEADER, which keeps version 1 framing):
 * a varint H; H even (>= 2) is an OBJREF of objtype H / 2 defining the
 * lowest objref not defined yet; H odd is a record of type (H - 1) / 2,
 * followed by a varint payload length and the payload, with no padding.
 */
export function v2Head(type: number): number {
  return 2 * type + 1;
}
/** Longest varint a version 2 record head or length may take. */
export const V2_VARINT_MAX = 5;

/** Bytes in the unsigned LEB128 varint of v (0 <= v < 2^35). */
export function uvLength(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}
/** `len` of a HEADER record with an empty type table. */
export const HEADER_MIN_LEN = 28;

/** CRC-32C extender, injected by the backend: crc32c(crc32c(a, 0), b) = crc32c(a || b, 0). */
export type Crc32c = (bytes: Uint8Array, crc: number) => number;

/** One entry of the HEADER's type table. */
export interface TypeEntry {
  objtype: number;
  name: string;
  /** Version 2: the type's schema as lib/schema encodes it (empty: hand-written ops). */
  schema?: Uint8Array;
}

/** 'HEADER', 'BUFFER', 'STRING', 'OBJREF', 'TAIL', 'ERROR', 'USER(123)', or 'UNKNOWN(7)'. */
export function recordTypeName(type: number): string {
  switch (type) {
    case REC.HEADER:
      return 'HEADER';
    case REC.BUFFER:
      return 'BUFFER';
    case REC.STRING:
      return 'STRING';
    case REC.OBJREF:
      return 'OBJREF';
    case REC.FIELDS:
      return 'FIELDS';
    case REC.VALUE:
      return 'VALUE';
    case REC.TAIL:
      return 'TAIL';
    case REC.ERROR:
      return 'ERROR';
    default:
      return type >= REC.USER_MIN && type <= REC.USER_MAX ? `USER(${type})` : `UNKNOWN(${type})`;
  }
}

/** Zero bytes after a record of `len` up to the next multiple of 8 (works for any u32 len). */
export function padding(len: number): number {
  return (8 - (len & 7)) & 7;
}

/**
 * The length rule of a non-user record: undefined when `size` is right for
 * `type`, else what it must be; null when `type` is not a record type of
 * that version (a HEADER after offset 0 included).  Version 1 measures
 * `len` (head included, at least 8), version 2 the payload.
 */
export function lengthRule(v2: boolean, type: number, size: number): string | undefined | null {
  switch (type) {
    case REC.BUFFER:
    case REC.STRING:
    case REC.ERROR:
      return v2 || size >= V1_HEADER ? undefined : `at least ${V1_HEADER}`;
    case REC.FIELDS:
    case REC.VALUE:
      return v2 ? undefined : null;
    case REC.OBJREF:
      if (v2) return size >= 2 && size <= 2 * V2_VARINT_MAX ? undefined : `a payload of 2..${2 * V2_VARINT_MAX} bytes`;
      return size === OBJREF_LEN ? undefined : String(OBJREF_LEN);
    case REC.TAIL:
      if (v2) return size === TAIL_PAYLOAD ? undefined : `a payload of ${TAIL_PAYLOAD} bytes`;
      return size === TAIL_LEN ? undefined : String(TAIL_LEN);
    default:
      return null;
  }
}

/** Validates a maxRecord option (undefined → DEFAULT_MAX_RECORD); EINVAL if out of range. */
export function checkMaxRecord(v: number | undefined): number {
  if (v === undefined) return DEFAULT_MAX_RECORD;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < MIN_RECORD_LIMIT || v > MAX_RECORD_LIMIT) {
    throw new ObjHashError(
      'EINVAL',
      `maxRecord must be an integer ${MIN_RECORD_LIMIT}..${MAX_RECORD_LIMIT}, got ${String(v)}`,
    );
  }
  return v;
}
