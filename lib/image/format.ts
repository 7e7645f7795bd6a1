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
  USER_MIN: 101,
  USER_MAX: 8999,
  TAIL: 9001,
  ERROR: 9999,
} as const;

/** HEADER magic (u64 at payload offset 0). */
export const HEADER_MAGIC = 0x00feed0cc0a2d200n;
/** TAIL magic (u64 at payload offset 0). */
export const TAIL_MAGIC = 0x002d2a0cc0deef00n;
/** The format version this codec writes and the only one it reads. */
export const FORMAT_VERSION = 1;
/** Default limit on a record's `len` (header + payload, without padding). */
export const DEFAULT_MAX_RECORD = 64 * 1024 * 1024;
/** Largest `maxRecord` accepted (len is a u32 and the padded length must fit too). */
const MAX_RECORD_LIMIT = 0xfffffff8;
/** Smallest `maxRecord` accepted (an empty HEADER record is 28 bytes). */
const MIN_RECORD_LIMIT = 32;

/** `len` of an OBJREF record, and its fields' offsets from the record's start. */
export const OBJREF_LEN = 16;
export const OBJREF_OBJTYPE_AT = 8;
export const OBJREF_OBJREF_AT = 12;
/** `len` of a TAIL record, and its fields' offsets from the record's start. */
export const TAIL_LEN = 24;
export const TAIL_MAGIC_AT = 8;
export const TAIL_COUNT_AT = 16;
export const TAIL_CRC_AT = 20;
/** `len` of a HEADER record with an empty type table. */
export const HEADER_MIN_LEN = 28;

/** CRC-32C extender, injected by the backend: crc32c(crc32c(a, 0), b) = crc32c(a || b, 0). */
export type Crc32c = (bytes: Uint8Array, crc: number) => number;

/** One entry of the HEADER's type table. */
export interface TypeEntry {
  objtype: number;
  name: string;
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
