/**
 * adapter.ts -- the pure-JS twin of the Node-API binding (native/binding/:
 * binding.h's argument helpers and OpenHash, hash.cc's handles, trampolines
 * and per-item calls, module.cc's exports): the Backend object of
 * contract.ts over table.ts (native/objhash.c) and batch.ts
 * (native/binding/batch.cc), with the binding's argument checks, in its
 * order, and its TypeError messages word for word.
 *
 * As the binding: a freed hash makes every call -EBADF (free is a no-op),
 * before any argument is looked at; while a grab callback runs, the calls
 * that add (lookupAdd, add, insert, reserve, the batch adds) and free
 * return -EBUSY, and reads and setTypeFlags work; while free runs the drop
 * callbacks, the hash is already dead.  A bad argument type or range
 * throws a TypeError; everything else is a negative errno.
 */

import { ERRNO, LIMITS, MAX_TYPE_ID, TYPE_DROP, TYPE_GRAB } from '../backend/codes.js';
import type { Backend, CoreHandle, DropFn, GrabFn, Key, KeyArray } from '../backend/contract.js';
import * as args from '../backend/args.js';
import { crc32c } from './crc32c.js';
import * as hash64 from './hash64.js';
import * as table from './table.js';
import { Table } from './table.js';
import {
  addMany,
  fetchMany,
  insertMany,
  insertManyOneByOne,
  insertTyped,
  lookupAddMany,
  lookupAddManyOneByOne,
} from './batch.js';

/*
 * What the per-item calls use, as module-local bindings: a call through
 * an imported module object (what `import { f }` compiles to) pays a map
 * check and a load at every call (batch.ts says the same).
 */
const { isInt32, isIntIn, isKeyArrayKind, typedArrayKind } = args;
const { joinKey, keyWords, splitKey } = hash64;
const { addWords, entryKey, fetchIndex, insertWords, lookupAddWords, lookupWords } = table;

/** binding.h's struct Hash: the table and what the binding keeps beside it. */
class JsHash extends Table implements CoreHandle {
  /** false once free() has started */
  live = true;
  /** true while a grab callback of this hash runs */
  busy = false;
  /** TYPE_GRAB | TYPE_DROP per type id, allocated by the first setTypeFlags */
  typeFlags: Uint8Array | null = null;
  userGrab: GrabFn | null;
  userDrop: DropFn | null;
  /** the first exception a drop threw during free(), and whether there was one */
  dropFailed = false;
  dropError: unknown = undefined;

  constructor(nbits: number, flags: number, maxLoad: number, grab: GrabFn | null, drop: DropFn | null) {
    super(nbits, flags, maxLoad);
    this.userGrab = grab;
    this.userDrop = drop;
  }
}

/* ---- the trampolines (GrabTrampoline, DropTrampoline) ------------------- */

/** The table's grab hook, installed by setTypeFlags: the user's grab for a type with TYPE_GRAB. */
function grabTrampoline(t: Table, type: number, lo: number, hi: number, index: number): void {
  const h = t as JsHash;
  if ((h.typeFlags![type]! & TYPE_GRAB) === 0 || h.userGrab === null) return;
  const grab = h.userGrab; // called without a receiver, as the binding calls it
  h.busy = true;
  try {
    grab(type, joinKey(lo, hi), index);
  } finally {
    h.busy = false;
  }
}

/** The table's drop hook: the user's drop for a type with TYPE_DROP; the first throw is kept for free(). */
function dropTrampoline(t: Table, type: number, lo: number, hi: number, index: number): void {
  const h = t as JsHash;
  if ((h.typeFlags![type]! & TYPE_DROP) === 0 || h.userDrop === null) return;
  const drop = h.userDrop;
  try {
    drop(type, joinKey(lo, hi), index);
  } catch (e) {
    if (!h.dropFailed) {
      h.dropFailed = true;
      h.dropError = e;
    }
  }
}

/* ---- argument checks: TypeErrors, with the binding's messages --------- */

/** The binding's TypeError messages (test/differential.test.ts compares them with the addon's). */
const MSG = {
  handle: 'objhash: handle must come from create()',
  key: 'objhash: key must be an integer number 0..MAX_SAFE_INTEGER or a bigint 0..2^64-1',
  type: `objhash: type must be 0..${MAX_TYPE_ID}`,
  objref: 'objhash: objref must be an int32',
  index: 'objhash: index must be a uint32',
  nbits: 'objhash: nbits must be an integer',
  flags: 'objhash: flags must be an integer',
  maxLoad: 'objhash: maxLoad must be an integer',
  callbacks: 'objhash: grab/drop must be functions or undefined',
  typeFlags: `objhash: type flags must be 0..${TYPE_GRAB | TYPE_DROP}`,
  keys: 'objhash: keys must be a BigUint64Array or Float64Array',
  objrefs: 'objhash: objrefs must be an Int32Array',
  first: 'objhash: first must be a Uint8Array',
  types: 'objhash: types must be a Uint16Array',
  n: 'objhash: n must be 0..types.length',
  keysOut: 'objhash: keysOut must be a BigUint64Array or Float64Array',
  indexOut: 'objhash: indexOut must be an Int32Array',
  crc: 'objhash: crc must be a uint32',
  crcBytes: 'objhash: crc32c needs a Uint8Array',
  bits: 'objhash: bits must be 1..32',
} as const;

const U32_MAX = 0xffffffff;
/** the largest nbits the binding takes as an argument (the core then refuses > MAX_NBITS) */
const NBITS_ARG_MAX = 64;

function typeError(msg: string): never {
  throw new TypeError(msg);
}

/** GetUint32: an integer number 0..max (<= 2^32-1) as a uint32 (-0 is 0), else a TypeError. */
function u32(v: unknown, max: number, msg: string): number {
  if (!isIntIn(v, 0, max)) typeError(msg);
  return v >>> 0;
}

/** GetObjref: an integer number in int32 range as an int32 (-0 is 0), else a TypeError. */
function i32(v: unknown, msg: string): number {
  if (!isInt32(v)) typeError(msg);
  return v | 0;
}

/** GetKey: a key into keyWords (0 passes), else a TypeError. */
function key64(v: unknown): void {
  if (!splitKey(v)) typeError(MSG.key);
}

/** GetAnyTypedArray: the kind of a typed array (any kind), else a TypeError. */
function anyTypedArray(v: unknown, msg: string): string {
  const k = typedArrayKind(v);
  if (k === undefined) typeError(msg);
  return k;
}

/** GetTypedArray: a typed array of this kind, else a TypeError. */
function typedArray(v: unknown, kind: string, msg: string): void {
  if (typedArrayKind(v) !== kind) typeError(msg);
}

/** GetKeyArray: a BigUint64Array or a Float64Array, else a TypeError. */
function keyArray(v: unknown): KeyArray {
  if (!isKeyArrayKind(typedArrayKind(v))) typeError(MSG.keys);
  return v as KeyArray;
}

function isNullish(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

const READS = false;
const ADDS = true;

/**
 * OpenHash: the live hash behind a handle, or what the call returns
 * instead: -EBADF after free, -EBUSY for a call that adds (ADDS) made from
 * a grab callback.  A non-handle is a TypeError.
 */
function open(handle: CoreHandle, adds: boolean): JsHash | number {
  if (!(handle instanceof JsHash)) typeError(MSG.handle);
  if (!handle.live) return -ERRNO.EBADF;
  return adds && handle.busy ? -ERRNO.EBUSY : handle;
}

/** open(), then the (key, type) arguments of lookup, lookupAdd and add: the key into keyWords. */
function openKeyed(handle: CoreHandle, key: unknown, type: unknown, adds: boolean): JsHash | number {
  const h = open(handle, adds);
  if (typeof h === 'number') return h;
  key64(key);
  u32(type, MAX_TYPE_ID, MSG.type);
  return h;
}

function hasGrab(h: JsHash, type: number): boolean {
  return h.typeFlags !== null && (h.typeFlags[type]! & TYPE_GRAB) !== 0;
}

/* ---- the backend ------------------------------------------------------- */

export const jsBackend: Backend = {
  name: 'js',
  codes: ERRNO,
  limits: LIMITS,

  /* ---- hash.cc ---- */

  create(nbits, flags, maxLoad, grab, drop) {
    u32(nbits, NBITS_ARG_MAX, MSG.nbits);
    u32(flags, U32_MAX, MSG.flags);
    u32(maxLoad, U32_MAX, MSG.maxLoad);
    if ((!isNullish(grab) && typeof grab !== 'function') || (!isNullish(drop) && typeof drop !== 'function')) {
      typeError(MSG.callbacks);
    }
    const r = table.checkConfig(nbits, flags, maxLoad);
    if (r < 0) return r;
    try {
      return new JsHash(nbits, flags, maxLoad, grab ?? null, drop ?? null);
    } catch (e) {
      if (e instanceof RangeError) return -ERRNO.ENOMEM;
      throw e;
    }
  },

  setTypeFlags(handle, type, flags) {
    const h = open(handle, READS);
    if (typeof h === 'number') return h;
    u32(type, MAX_TYPE_ID, MSG.type);
    u32(flags, TYPE_GRAB | TYPE_DROP, MSG.typeFlags);
    if (h.typeFlags === null) {
      if (flags === 0) return 0;
      h.typeFlags = new Uint8Array(MAX_TYPE_ID + 1);
    }
    h.typeFlags[type] = flags;
    if ((flags & TYPE_GRAB) !== 0 && h.userGrab !== null) h.grab = grabTrampoline;
    if ((flags & TYPE_DROP) !== 0 && h.userDrop !== null) h.drop = dropTrampoline;
    return 0;
  },

  lookup(handle, key, type) {
    const h = openKeyed(handle, key, type, READS);
    return typeof h === 'number' ? h : lookupWords(h, keyWords.lo, keyWords.hi, type);
  },

  lookupAdd(handle, key, type) {
    const h = openKeyed(handle, key, type, ADDS);
    return typeof h === 'number' ? h : lookupAddWords(h, keyWords.lo, keyWords.hi, type);
  },

  add(handle, key, type) {
    const h = openKeyed(handle, key, type, ADDS);
    return typeof h === 'number' ? h : addWords(h, keyWords.lo, keyWords.hi, type);
  },

  insert(handle, key, objref, type) {
    const h = open(handle, ADDS);
    if (typeof h === 'number') return h;
    key64(key);
    const ref = i32(objref, MSG.objref);
    u32(type, MAX_TYPE_ID, MSG.type);
    return insertWords(h, keyWords.lo, keyWords.hi, ref, type);
  },

  fetch(handle, objref, type) {
    const h = open(handle, READS);
    if (typeof h === 'number') return h;
    const ref = i32(objref, MSG.objref);
    u32(type, MAX_TYPE_ID, MSG.type);
    return fetchIndex(h, ref, type);
  },

  reserve(handle) {
    const h = open(handle, ADDS);
    return typeof h === 'number' ? h : table.reserveObjref(h);
  },

  entryKey(handle, index): Key {
    const h = open(handle, READS);
    return typeof h === 'number' ? h : entryKey(h, u32(index, U32_MAX, MSG.index));
  },

  size(handle) {
    const h = open(handle, READS);
    return typeof h === 'number' ? h : h.count;
  },

  nextObjref(handle) {
    const h = open(handle, READS);
    return typeof h === 'number' ? h : table.nextObjref(h);
  },

  buckets(handle) {
    const h = open(handle, READS);
    return typeof h === 'number' ? h : table.nbuckets(h);
  },

  memory(handle) {
    const h = open(handle, READS);
    if (typeof h === 'number') return h;
    return table.tableMemory(h) + (h.typeFlags === null ? 0 : h.typeFlags.byteLength);
  },

  free(handle) {
    const h = open(handle, ADDS);
    if (h === -ERRNO.EBADF) return undefined; // freed already: a no-op
    if (typeof h === 'number') return h;
    // dead from here on: calls from the drop callbacks get -EBADF
    h.live = false;
    table.tableFree(h); // runs dropTrampoline per entry if a type has TYPE_DROP
    h.typeFlags = null;
    h.userGrab = null;
    h.userDrop = null;
    if (h.dropFailed) {
      const e = h.dropError;
      h.dropError = undefined;
      throw e;
    }
    return undefined;
  },

  /* ---- batch.cc ---- */

  lookupAddMany(handle, keys, type, objrefs, first) {
    const h = open(handle, ADDS);
    if (typeof h === 'number') return h;
    keyArray(keys);
    u32(type, MAX_TYPE_ID, MSG.type);
    typedArray(objrefs, 'Int32Array', MSG.objrefs);
    if (isNullish(first)) first = null;
    else typedArray(first, 'Uint8Array', MSG.first);
    const n = keys.length;
    if (objrefs.length < n || (first !== null && first.length < n)) return -ERRNO.EINVAL;
    if (hasGrab(h, type)) return lookupAddManyOneByOne(h, keys, n, type, objrefs, first);
    return lookupAddMany(h, keys, n, type, objrefs, first);
  },

  addMany(handle, types, n) {
    const h = open(handle, ADDS);
    if (typeof h === 'number') return h;
    typedArray(types, 'Uint16Array', MSG.types);
    const count = u32(n, U32_MAX, MSG.n);
    if (count > types.length) typeError(MSG.n);
    return addMany(h, types, count);
  },

  insertTyped(handle, objrefs, types, n) {
    const h = open(handle, ADDS);
    if (typeof h === 'number') return h;
    typedArray(objrefs, 'Int32Array', MSG.objrefs);
    typedArray(types, 'Uint16Array', MSG.types);
    const count = u32(n, U32_MAX, MSG.n);
    if (count > types.length || count > objrefs.length) typeError(MSG.n);
    return insertTyped(h, objrefs, types, count);
  },

  insertMany(handle, keys, objrefs, type) {
    const h = open(handle, ADDS);
    if (typeof h === 'number') return h;
    if (isNullish(keys)) keys = null;
    else keyArray(keys);
    typedArray(objrefs, 'Int32Array', MSG.objrefs);
    u32(type, MAX_TYPE_ID, MSG.type);
    const n = objrefs.length;
    if (keys !== null && keys.length < n) return -ERRNO.EINVAL;
    if (hasGrab(h, type)) return insertManyOneByOne(h, keys, objrefs, n, type);
    return insertMany(h, keys, objrefs, n, type);
  },

  fetchMany(handle, objrefs, type, keysOut, indexOut) {
    const h = open(handle, READS);
    if (typeof h === 'number') return h;
    typedArray(objrefs, 'Int32Array', MSG.objrefs);
    u32(type, MAX_TYPE_ID, MSG.type);
    if (isNullish(keysOut)) keysOut = null;
    if (isNullish(indexOut)) indexOut = null;
    // any typed array first, its kind after indexOut's, as batch.cc
    const kind = keysOut === null ? undefined : anyTypedArray(keysOut, MSG.keysOut);
    if (indexOut !== null) typedArray(indexOut, 'Int32Array', MSG.indexOut);
    if (keysOut !== null && !isKeyArrayKind(kind)) typeError(MSG.keysOut);
    const n = objrefs.length;
    if ((keysOut !== null && keysOut.length < n) || (indexOut !== null && indexOut.length < n)) return -ERRNO.EINVAL;
    return fetchMany(h, objrefs, n, type, keysOut, indexOut);
  },

  /* ---- module.cc ---- */

  crc32c(bytes, crc) {
    const k = typedArrayKind(bytes);
    if (k !== 'Uint8Array' && k !== 'Uint8ClampedArray') typeError(MSG.crcBytes);
    return crc32c(bytes, isNullish(crc) ? 0 : u32(crc, U32_MAX, MSG.crc));
  },

  hashLong(key, bits, mult2009) {
    key64(key);
    if (u32(bits, 32, MSG.bits) === 0) typeError(MSG.bits);
    return hash64.hashLong32(keyWords.lo, keyWords.hi, bits, Boolean(mult2009));
  },
};

export default jsBackend;
