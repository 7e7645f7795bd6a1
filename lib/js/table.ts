/**
 * table.ts -- the pure-JS twin of native/objhash.c and the per-item steps
 * of native/objhash_impl.h: one objhash over typed arrays, with the same
 * buckets, chains, growth, objrefs and errors.
 * batch.ts has the *_many loops (native/binding/batch.cc), adapter.ts the
 * Backend object (the rest of native/binding/).
 *
 * Layout of one hash (typed arrays only, no per-entry JS objects):
 *
 *  - `ent`: the entries in insertion order (entry index 0, 1, 2, ...),
 *    STRIDE int32 words each, interleaved so that a chain walk touches one
 *    cache line per entry:
 *      [K_LO] [K_HI]  the 64-bit key (0:0 = no key, on no key chain)
 *      [K_NEXT]       link (index + 1, 0 = end) of the next entry on the
 *                     key chain
 *      [TYPE]         objtype
 *      [OBJREF]       objref, 1 .. MAX_OBJREF
 *      [R_NEXT]       link of the next entry on the objref chain
 *    The array doubles (one copy) when full; indexes never change.
 *  - `kheads`, `rheads`: 1 << nbits chain heads (links), by key and by
 *    objref.  A new entry is pushed on the head of its chains.
 *
 * bucket(key) = hash_long(key, nbits), bucket(objref) = hash_long((u32)
 * objref, nbits), with the current or the 2009 multiplier, computed on
 * 32-bit halves (hash64.ts).
 *
 * An add, as objhash.c's objhash_add_entry: room for the entry (-ENOMEM), then the
 * grab hook if set (a throw propagates: nothing was added, no objref used,
 * no growth), then -- unless FLAG_FIXED -- if count >= maxLoad << nbits the
 * buckets double (nbits + 1, at most MAX_NBITS) and every entry is
 * relinked in insertion order, then the entry is linked, count++ and next
 * objref = max(next, objref + 1).
 *
 * Objrefs run 1 .. MAX_OBJREF; once MAX_OBJREF is used, adding and
 * reserving fail with -E2BIG and nextObjref() returns -E2BIG.
 *
 * Every code, limit and flag comes from lib/backend/codes.ts.  Functions
 * here take checked arguments (adapter.ts checks them) and return a value
 * or a negative errno; only a grab hook may throw.
 */

import { ERRNO, FLAG_FIXED, FLAG_MULT_2009, LIMITS, MAX_OBJREF } from '../backend/codes.js';
import type { Key } from '../backend/contract.js';
import { MULT_2009_HI, MULT_2009_LO, MULT_CURRENT_HI, MULT_CURRENT_LO, hashHi32, joinKey, mulhi32 } from './hash64.js';

/** next objref past the last one: none is left (objhash.c OBJHASH_OBJREF_EXHAUSTED) */
const EXHAUSTED = MAX_OBJREF + 1;
/**
 * growAt when the table never grows.  The count cannot reach it: every
 * entry has its own objref in 1 .. MAX_OBJREF.
 */
const NEVER = MAX_OBJREF;

/* entry layout, in int32 words */
const STRIDE = 6;
const K_LO = 0;
const K_HI = 1;
const K_NEXT = 2;
const TYPE = 3;
const OBJREF = 4;
const R_NEXT = 5;
/* for batch.ts, which binds them to module-local constants */
export { EXHAUSTED, STRIDE, K_LO, K_HI, TYPE, OBJREF };

const INITIAL_CAPACITY = 64;
const EMPTY = new Int32Array(0);

/**
 * objhash_ops: called with the table, the entry's type, key words and
 * index.  `grab` runs before an entry becomes visible (a throw keeps it
 * out), `drop` once per entry when the table is freed.
 */
export type TableHook = (t: Table, type: number, lo: number, hi: number, index: number) => void;

/** struct objhash. */
export class Table {
  nbits: number;
  /** 32 - nbits: bucket = hashHi32(...) >>> shift */
  shift: number;
  readonly fixed: boolean;
  readonly maxLoad: number;
  /** grow before linking an entry when count >= growAt */
  growAt: number;
  /** multiplier halves, as int32 */
  readonly mlo: number;
  readonly mhi: number;
  count = 0;
  /** capacity of ent, in entries */
  cap = INITIAL_CAPACITY;
  /** 1 .. EXHAUSTED */
  next = 1;
  ent: Int32Array;
  kheads: Int32Array;
  rheads: Int32Array;
  grab: TableHook | null = null;
  drop: TableHook | null = null;

  /** nbits and maxLoad 0 mean the defaults; checkConfig() has passed. */
  constructor(nbits: number, flags: number, maxLoad: number) {
    if (nbits === 0) nbits = LIMITS.DEFAULT_NBITS;
    if (maxLoad === 0) maxLoad = LIMITS.DEFAULT_MAX_LOAD;
    this.nbits = nbits;
    this.shift = 32 - nbits;
    this.fixed = (flags & FLAG_FIXED) !== 0;
    this.maxLoad = maxLoad;
    this.growAt = growLimit(this.fixed, nbits, maxLoad);
    const old = (flags & FLAG_MULT_2009) !== 0;
    this.mlo = old ? MULT_2009_LO : MULT_CURRENT_LO;
    this.mhi = old ? MULT_2009_HI : MULT_CURRENT_HI;
    // one allocation for the three (a typed array's store costs microseconds
    // to allocate, more than a small call's other work: docs/INTERNALS.md,
    // "Small calls"); they grow into stores of their own
    const n = 1 << nbits;
    const store = new ArrayBuffer((2 * n + INITIAL_CAPACITY * STRIDE) * 4);
    this.kheads = new Int32Array(store, 0, n);
    this.rheads = new Int32Array(store, 4 * n, n);
    this.ent = new Int32Array(store, 8 * n, INITIAL_CAPACITY * STRIDE);
  }
}

/** objhash_alloc's checks of its parameters: 0 or -EINVAL. */
export function checkConfig(nbits: number, flags: number, maxLoad: number): number {
  if (nbits !== 0 && (nbits < LIMITS.MIN_NBITS || nbits > LIMITS.MAX_NBITS)) return -ERRNO.EINVAL;
  if (maxLoad > LIMITS.MAX_LOAD) return -ERRNO.EINVAL;
  if ((flags & ~(FLAG_FIXED | FLAG_MULT_2009)) !== 0) return -ERRNO.EINVAL;
  return 0;
}

/** grow_limit(): the count at which 1 << nbits buckets grow. */
function growLimit(fixed: boolean, nbits: number, maxLoad: number): number {
  if (fixed || nbits >= LIMITS.MAX_NBITS) return NEVER;
  const limit = maxLoad * 2 ** nbits;
  return limit < NEVER ? limit : NEVER;
}

/* ---- buckets and chains ------------------------------------------------ */

/** ref_bucket() of an objref (key_bucket() is hashHi32(lo, hi, mlo, mhi) >>> shift). */
export function refBucket(objref: number, mlo: number, mhi: number, shift: number): number {
  return ((mulhi32(objref, mlo) + Math.imul(objref, mhi)) >>> 0) >>> shift;
}

/** The link of the entry with key (hi:lo) on the key chain from link e, or 0. */
export function walkKey(ent: Int32Array, e: number, lo: number, hi: number): number {
  while (e !== 0) {
    const b = (e - 1) * STRIDE;
    if (ent[b + K_LO] === lo && ent[b + K_HI] === hi) return e;
    e = ent[b + K_NEXT]!;
  }
  return 0;
}

/** The link of the entry with this objref on the objref chain from link e, or 0. */
export function walkRef(ent: Int32Array, e: number, objref: number): number {
  while (e !== 0) {
    const b = (e - 1) * STRIDE;
    if (ent[b + OBJREF] === objref) return e;
    e = ent[b + R_NEXT]!;
  }
  return 0;
}

/** find_key(): index of the entry with key (hi:lo), not 0:0, or -1. */
function findKey(h: Table, lo: number, hi: number): number {
  return walkKey(h.ent, h.kheads[hashHi32(lo, hi, h.mlo, h.mhi) >>> h.shift]!, lo, hi) - 1;
}

/** find_ref(): index of the entry with this objref (> 0), or -1. */
function findRef(h: Table, objref: number): number {
  return walkRef(h.ent, h.rheads[refBucket(objref, h.mlo, h.mhi, h.shift)]!, objref) - 1;
}


/**
 * grow(): double the buckets (more than once only after a failed growth)
 * so that there is room for one more entry, relinking the entries in
 * insertion order.  If the arrays cannot be allocated, keep the old ones
 * and try again once the count has grown by half.
 */
function grow(h: Table): void {
  const want = h.count; // the entry just linked included
  let nbits = h.nbits;
  while (nbits < LIMITS.MAX_NBITS && growLimit(h.fixed, nbits, h.maxLoad) < want) nbits++;
  if (nbits === h.nbits) {
    h.growAt = growLimit(h.fixed, nbits, h.maxLoad);
    return;
  }
  let kheads: Int32Array;
  let rheads: Int32Array;
  try {
    kheads = new Int32Array(1 << nbits);
    rheads = new Int32Array(1 << nbits);
  } catch {
    h.growAt = h.count + Math.floor(h.count / 2) + 1;
    return;
  }
  const ent = h.ent;
  const shift = 32 - nbits;
  const mlo = h.mlo;
  const mhi = h.mhi;
  const n = h.count;
  // link_entry() of every entry, written out: a call here, even inlined,
  // made the rehash about 30% slower (perf, 100k lookupAddMany)
  for (let i = 0, b = 0; i < n; i++, b += STRIDE) {
    const lo = ent[b + K_LO]!;
    const hi = ent[b + K_HI]!;
    if ((lo | hi) !== 0) {
      const k = hashHi32(lo, hi, mlo, mhi) >>> shift;
      ent[b + K_NEXT] = kheads[k]!;
      kheads[k] = i + 1;
    }
    const r = refBucket(ent[b + OBJREF]!, mlo, mhi, shift);
    ent[b + R_NEXT] = rheads[r]!;
    rheads[r] = i + 1;
  }
  h.kheads = kheads;
  h.rheads = rheads;
  h.nbits = nbits;
  h.shift = shift;
  h.growAt = growLimit(h.fixed, nbits, h.maxLoad);
}

/** reserve_slot(): room for entry h.count; false when out of memory. */
function reserveSlot(h: Table): boolean {
  if (h.count < h.cap) return true;
  const cap = h.cap * 2;
  let ent: Int32Array;
  try {
    ent = new Int32Array(cap * STRIDE);
  } catch {
    return false;
  }
  ent.set(h.ent);
  h.ent = ent;
  h.cap = cap;
  return true;
}

/* ---- adding ------------------------------------------------------------ */

/**
 * objhash_add_entry(): the one way in -- slot, grab, link, grow.  The caller has
 * checked key and objref.  Returns 0 or -ENOMEM; a grab exception
 * propagates.
 */
function addEntry(h: Table, lo: number, hi: number, objref: number, type: number): number {
  if (!reserveSlot(h)) return -ERRNO.ENOMEM;
  const index = h.count;
  // Everything that calls a function, and so could meet the JS stack's
  // limit and throw, happens before grab; after it come only stores, so a
  // grabbed entry is always added (and dropped at free).  Growth comes
  // last: it rehashes in insertion order, so the chains are as the core's
  // (which grows before linking), and a growth cut short leaves the entry in.
  const kb = (lo | hi) !== 0 ? hashHi32(lo, hi, h.mlo, h.mhi) >>> h.shift : -1;
  const rb = refBucket(objref, h.mlo, h.mhi, h.shift);
  const grab = h.grab;
  if (grab !== null) grab(h, type, lo, hi, index);
  const ent = h.ent;
  const b = index * STRIDE;
  ent[b + K_LO] = lo;
  ent[b + K_HI] = hi;
  ent[b + TYPE] = type;
  ent[b + OBJREF] = objref;
  if (kb >= 0) {
    ent[b + K_NEXT] = h.kheads[kb]!;
    h.kheads[kb] = index + 1;
  } else {
    ent[b + K_NEXT] = 0;
  }
  ent[b + R_NEXT] = h.rheads[rb]!;
  h.rheads[rb] = index + 1;
  h.count = index + 1;
  if (objref >= h.next) h.next = objref + 1;
  if (index >= h.growAt) grow(h);
  return 0;
}

/** add_next(): add with the next objref.  objref or -errno. */
export function addNext(h: Table, lo: number, hi: number, type: number): number {
  const objref = h.next;
  if (objref >= EXHAUSTED) return -ERRNO.E2BIG;
  const r = addEntry(h, lo, hi, objref, type);
  return r < 0 ? r : objref;
}

/** objhash_lookup() of (hi:lo): objref, 0 if absent, -EINVAL. */
export function lookupWords(h: Table, lo: number, hi: number, type: number): number {
  if ((lo | hi) === 0) return -ERRNO.EINVAL;
  const i = findKey(h, lo, hi);
  if (i < 0) return 0;
  const b = i * STRIDE;
  return h.ent[b + TYPE] === type ? h.ent[b + OBJREF]! : -ERRNO.EINVAL;
}

/** lookup_add_one() of (hi:lo): objref * 2 + first, or -errno. */
export function lookupAddWords(h: Table, lo: number, hi: number, type: number): number {
  if ((lo | hi) === 0) return -ERRNO.EINVAL;
  const i = findKey(h, lo, hi);
  if (i >= 0) {
    const b = i * STRIDE;
    return h.ent[b + TYPE] === type ? h.ent[b + OBJREF]! * 2 : -ERRNO.EINVAL;
  }
  const r = addNext(h, lo, hi, type);
  return r < 0 ? r : r * 2 + 1;
}

/** objhash_add() of (hi:lo) (0:0 = no key): objref or -errno. */
export function addWords(h: Table, lo: number, hi: number, type: number): number {
  if ((lo | hi) !== 0 && findKey(h, lo, hi) >= 0) return -ERRNO.EEXIST;
  return addNext(h, lo, hi, type);
}

/** insert_one() of (hi:lo) (0:0 = no key) under an int32 objref: 0 or -errno. */
export function insertWords(h: Table, lo: number, hi: number, objref: number, type: number): number {
  if (objref <= 0 || findRef(h, objref) >= 0) return -ERRNO.EINVAL;
  if ((lo | hi) !== 0 && findKey(h, lo, hi) >= 0) return -ERRNO.EEXIST;
  return addEntry(h, lo, hi, objref, type);
}

/** objhash_reserve(): the skipped objref, or -E2BIG. */
export function reserveObjref(h: Table): number {
  if (h.next >= EXHAUSTED) return -ERRNO.E2BIG;
  return h.next++;
}

/* ---- reading ----------------------------------------------------------- */

/** fetch_one(): index, -EINVAL absent, -ENOMSG wrong type. */
export function fetchIndex(h: Table, objref: number, type: number): number {
  if (objref <= 0) return -ERRNO.EINVAL;
  const i = findRef(h, objref);
  if (i < 0) return -ERRNO.EINVAL;
  return h.ent[i * STRIDE + TYPE] === type ? i : -ERRNO.ENOMSG;
}

/** objhash_entry()'s key of entry `index` (a number when safe, else a bigint), or -EINVAL. */
export function entryKey(h: Table, index: number): Key {
  if (index >= h.count) return -ERRNO.EINVAL;
  const b = index * STRIDE;
  return joinKey(h.ent[b + K_LO]!, h.ent[b + K_HI]!);
}

/** objhash_next_objref(). */
export function nextObjref(h: Table): number {
  return h.next >= EXHAUSTED ? -ERRNO.E2BIG : h.next;
}

/** objhash_nbuckets(). */
export function nbuckets(h: Table): number {
  return 2 ** h.nbits;
}

/** objhash_memory(): bytes of the typed arrays. */
export function tableMemory(h: Table): number {
  return h.ent.byteLength + h.kheads.byteLength + h.rheads.byteLength;
}

/**
 * objhash_free(): lets go of the arrays, then calls the drop hook (if
 * set) once per entry, in insertion order.
 */
export function tableFree(h: Table): void {
  const ent = h.ent;
  const n = h.count;
  const drop = h.drop;
  h.ent = EMPTY;
  h.kheads = EMPTY;
  h.rheads = EMPTY;
  h.grab = null;
  h.drop = null;
  if (drop === null) return;
  for (let i = 0, b = 0; i < n; i++, b += STRIDE) drop(h, ent[b + TYPE]!, ent[b + K_LO]!, ent[b + K_HI]!, i);
}
