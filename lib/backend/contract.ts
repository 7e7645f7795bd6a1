/**
 * The contract between the facade and its two backends: the native addon
 * (native/binding/ over the C core) and the pure-JS twin (lib/js/, file for file).
 *
 * Both implement exactly the same algorithm and return exactly the same
 * values, so the facade (lib/hash/objhash.ts) is written once.  Conventions:
 *
 * - A handle is opaque; it comes from `create` and dies with `free`.
 *   Every call on a freed handle returns -EBADF (free itself is a no-op).
 * - Keys are numeric: a `bigint` 1..2^64-1 or an integer `number`
 *   1..Number.MAX_SAFE_INTEGER.  Key 0 (only for `add`/`insert`) means
 *   "no key": the entry is found only by objref.  A key of any other type
 *   or range throws a TypeError (the facade checks first, with a message
 *   that names the argument, so this is a last line of defence).
 * - Core failures come back as negative errno numbers (see codes.ts), never
 *   thrown.  A JS exception thrown by a grab or drop callback propagates
 *   as is, after the core has unwound.
 * - Callbacks: `grab(type, key, index)` is called for each entry being
 *   added whose type has TYPE_GRAB set (setTypeFlags), before it becomes
 *   visible; if it throws, the entry is not added.  `drop(type, key, index)`
 *   is called by `free` once per entry whose type has TYPE_DROP, in
 *   insertion order; if some throw, all the others are still dropped and
 *   the first exception is rethrown at the end.
 * - Re-entrance: while a call that may run a callback is under way
 *   (lookupAdd, add, insert, reserve, the batch adds), another such call on
 *   the same handle returns -EBUSY (reads are allowed); inside free()'s
 *   drop callbacks the hash is already dead and every call is -EBADF.
 * - Key arrays of the batch calls hold keys >= 1 only (pass null to
 *   insertMany for entries without keys).  After a batch fails, the
 *   contents of its output arrays are unspecified.  `key` is a number when
 *   <= MAX_SAFE_INTEGER, else a bigint; 0 for an entry without a key.
 */

import type { Codes, Limits } from './codes.js';

export type Key = number | bigint;
export type GrabFn = (type: number, key: Key, index: number) => void;
export type DropFn = (type: number, key: Key, index: number) => void;
export type KeyArray = BigUint64Array | Float64Array;

/** An opaque handle from create(): only the backend that made it looks inside. */
export type CoreHandle = object;

export interface Backend {
  readonly name: 'native' | 'js';
  /** The core's error codes (objhash.h OBJHASH_E*), by name. */
  readonly codes: Codes;
  /** The core's limits and flag bits (objhash.h), by name. */
  readonly limits: Limits;

  /**
   * nbits 1..28 (0 = default 10); flags FLAG_*; maxLoad >= 1 (0 = default 1).
   * Returns a handle, or a negative errno (-EINVAL bad parameter, -ENOMEM).
   * The caller keeps grab and drop alive as long as the handle: the native
   * backend holds them weakly, so that a handle dropped without free() is
   * collected (its finalizer frees the table, with no drop called).
   */
  create(
    nbits: number,
    flags: number,
    maxLoad: number,
    grab: GrabFn | undefined,
    drop: DropFn | undefined,
  ): CoreHandle | number;

  /** TYPE_GRAB | TYPE_DROP for type id 0..MAX_TYPE_ID; returns 0 or -errno. */
  setTypeFlags(h: CoreHandle, type: number, flags: number): number;

  /** objref, 0 if absent, -EINVAL on type mismatch. */
  lookup(h: CoreHandle, key: Key, type: number): number;
  /** objref * 2 + (first ? 1 : 0), or -errno. */
  lookupAdd(h: CoreHandle, key: Key, type: number): number;
  /** Always adds (key 0 = no key; a present key is -EEXIST). objref or -errno. */
  add(h: CoreHandle, key: Key, type: number): number;
  /**
   * Adds n entries without keys, of types[0..n), with the next n objrefs,
   * WITHOUT calling grab (the caller grabbed them).  n, or -errno (the
   * entries before the failing one stay).
   */
  addMany(h: CoreHandle, types: Uint16Array, n: number): number;
  /**
   * Inserts n entries without keys under objrefs[0..n), of types[0..n), in
   * that order, WITHOUT calling grab (restored objects of types without
   * one).  n, or -errno (the entries before the failing one stay).
   */
  insertTyped(h: CoreHandle, objrefs: Int32Array, types: Uint16Array, n: number): number;
  /** 0 or -errno (-EINVAL objref <= 0 or used, -EEXIST key present). */
  insert(h: CoreHandle, key: Key, objref: number, type: number): number;
  /** entry index >= 0, -EINVAL absent, -ENOMSG wrong type. */
  fetch(h: CoreHandle, objref: number, type: number): number;
  /** key of entry `index` (number if safe, else bigint; 0 = none), or -errno as a number. */
  entryKey(h: CoreHandle, index: number): Key;
  /** skipped objref or -E2BIG. */
  reserve(h: CoreHandle): number;
  /** counts; -EBADF after free. */
  size(h: CoreHandle): number;
  nextObjref(h: CoreHandle): number;
  buckets(h: CoreHandle): number;
  /** bytes the core allocated (native: through its allocator; js: typed arrays). */
  memory(h: CoreHandle): number;
  /** Drops every entry once, frees the table; later calls: -EBADF.  Returns -EBUSY (and frees nothing) from inside a callback. */
  free(h: CoreHandle): number | void;

  /**
   * Batch lookupAdd: objrefs[i] for keys[i]; first[i] = 1 where added now
   * (first may be null).  Returns the number added, or -errno (entries
   * added before the failing one stay).  Float64Array keys must be integers
   * 1..MAX_SAFE_INTEGER (else -EINVAL).  objrefs/first shorter than keys: -EINVAL.
   */
  lookupAddMany(
    h: CoreHandle,
    keys: KeyArray,
    type: number,
    objrefs: Int32Array,
    first: Uint8Array | null,
  ): number;
  /** Batch insert; keys may be null (no keys).  Returns n or -errno. */
  insertMany(h: CoreHandle, keys: KeyArray | null, objrefs: Int32Array, type: number): number;
  /** Batch fetch into keysOut and/or indexOut (either may be null).  0 or -errno. */
  fetchMany(
    h: CoreHandle,
    objrefs: Int32Array,
    type: number,
    keysOut: KeyArray | null,
    indexOut: Int32Array | null,
  ): number;

  /** CRC-32C of all of `bytes`, extending `crc` (0 to start). */
  crc32c(bytes: Uint8Array, crc: number): number;
  /** hash_long(key, bits 1..32) with the current (false) or 2009 (true) multiplier. */
  hashLong(key: Key, bits: number, mult2009: boolean): number;
}
