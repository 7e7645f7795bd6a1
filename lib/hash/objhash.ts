/**
 * ObjHash - the typed facade over a backend's one-way object hash.
 *
 * Keys are of two kinds (docs/DESIGN.md §3):
 *  - JS objects, by identity.  Node-API has no identity hash, so identity is
 *    resolved here with a Map in both backends; the core still hands out the
 *    objref, indexes the entry by objref and calls grab/drop.
 *  - numeric keys (number or bigint, or what a type's `key(obj)` returns):
 *    they live in the core's table (C in the native backend).
 */
import { ERRNO, MAX_OBJREF, TYPE_DROP, TYPE_GRAB } from '../backend/codes.js';
import type { Backend, CoreHandle, DropFn, GrabFn, Key, KeyArray } from '../backend/contract.js';
import * as diagnostics from 'node:diagnostics_channel';
import { ObjHashError, errnoName } from '../errors.js';
import { backendFor, type ImplName } from '../backend/loader.js';
import { checkType, type NumericKey, type ObjType } from '../types.js';
import { ShardedIds } from './sharded-ids.js';
import type { StampedIds } from './stamped-ids.js';
import { PagedArray, PagedInt32 } from '../util/paged.js';
import { coreFailure, hashParams, type LookupAddResult, type ObjHashOptions } from './options.js';
import { asNumericKey, checkInt32Array, checkKeyArray, checkObjref, describe, isObjectKey, isObjref } from '../backend/args.js';

export type { ObjHashOptions, LookupAddResult } from './options.js';

const NONE: unique symbol = Symbol('none');
const REF_CACHE = 1 << 22; // objrefs cached on the JS side
/**
 * The values of #ids: objref * TID_FOLD + type id while the objref is
 * below REF_CACHE and the type id below TID_FOLD (at most 2^30 - 1, a Smi
 * on every build), so that a hit checks its type with no other table
 * (a random read per reference at 200k objects); else -objref, with the
 * type id in #refTid / #bigTid.
 */
const TID_SHIFT = 8;
const TID_FOLD = 1 << TID_SHIFT;
const TID_MASK = TID_FOLD - 1;

/** The #ids value of an entry. */
/**
 * Frames of stackRoom() called before a JS object's grab: more stack than
 * the entry's bookkeeping after it takes (StampedIds.set -> Stamp.put0,
 * PagedArray.set -> page, #growQueue), so that the grab runs only when the
 * stack has room to record what it grabbed.  A RangeError there would
 * leave a grabbed object with no entry, never dropped (test/limits.test.ts
 * overflows the stack at many depths and counts grabs and drops).
 */
const STACK_ROOM = 16;

/** Recurses n frames deep: a RangeError (stack overflow) now rather than after a grab. */
function stackRoom(n: number): number {
  return n === 0 ? 0 : stackRoom(n - 1) + 1;
}

function idValue(objref: number, tid: number): number {
  return objref < REF_CACHE && tid < TID_FOLD ? objref * TID_FOLD + tid : -objref;
}

/** The objref of an #ids value. */
function idObjref(v: number): number {
  return v >= 0 ? v >>> TID_SHIFT : -v;
}
const QUEUE = 1024; // JS-keyed adds queued before one addMany into the core
/** Entries the queues start with: they double as needed (a small call allocates little; docs/INTERNALS.md, "Small calls"). */
const FIRST_QUEUE = 16;

/**
 * What the contexts use of an ObjHash and nobody else may: module-private
 * (set by the class's static block, marked @internal so that it does not
 * reach the published .d.ts).
 */
export interface HashSeam {
  /** The objref of key (a JS object or numeric key), added and grabbed if absent. */
  find(h: ObjHash, key: unknown, type: ObjType<any>, where: string): number;
  /** Whether the last find() on h added its key. */
  added(h: ObjHash): boolean;
  /** Adds a restored object under objref (no key): the kernel's restore_obj. */
  insertRestored(h: ObjHash, obj: unknown, objref: number, type: ObjType<any>, where: string): void;
  /** Whether h has an entry with this objref. */
  has(h: ObjHash, objref: number): boolean;
  /** The objref of a JS object h holds, whatever its type (0: none). */
  objrefOf(h: ObjHash, key: object): number;
  /**
   * The JS object h holds under objref and its type (undefined: none, or
   * not a JS object's entry).  For error messages only: the first call
   * mirrors every entry (see #unmirrored).
   */
  objectAt(h: ObjHash, objref: number): { obj: unknown; type: ObjType<any> } | undefined;
  /** Keeps h's identities in Maps that never rehash much at once (an empty hash; sharded-ids.ts). */
  shardIds(h: ObjHash): void;
  /** Keeps h's identities on the objects, in a stamping session's table (an empty hash; stamped-ids.ts). */
  stampIds(h: ObjHash, table: StampedIds): void;
}

/**
 * The numeric keys lookupAdd and insert take for a type: any, when T holds
 * them (`defineObjType<number | bigint>`), else none at compile time.  An
 * entry added by numeric key alone holds no object: fetch gives the key
 * back, so T must say it can be one.  (lookup takes any numeric key: it
 * adds nothing.)
 */
export type AddedKey<T> = [Extract<T, NumericKey>] extends [never] ? never : NumericKey;
/** T, not inferred from this position (T comes from the ObjType argument); NoInfer before TS 5.4. */
type Same<T> = [T][T extends any ? 0 : never];

/** @internal */
export let seam: HashSeam;

/**
 * Every new ObjHash is published here (node:diagnostics_channel; free when
 * nobody subscribes): tests and tools can follow the hashes a checkpoint
 * or restart creates, e.g. to check that each one was freed.
 */
export const hashCreated = diagnostics.channel('objhash:hash-created');

export class ObjHash implements Disposable {
  /** The backend this hash runs on. */
  readonly impl: ImplName;
  #b: Backend;
  #h: CoreHandle | null;
  /** JS object key -> its entry (idValue: objref and type id, a Smi); sharded for an incremental checkpoint. */
  #ids: Map<object, number> | ShardedIds | StampedIds = new Map<object, number>();
  /** #ids when it is a stamping session's table (stampIds), else undefined */
  #stamped: StampedIds | undefined = undefined;
  /** per type id: the JS object last looked up or added, and its objref */
  #lastKey: unknown[] = [];
  #lastRef: number[] = [];
  /** type id of JS-keyed entries whose objref is >= REF_CACHE. */
  #bigTid = new Map<number, number>();
  /** entry index -> the object, when the entry has one (undefined otherwise). */
  #objects = new PagedArray<unknown>();
  /**
   * objref -> object and type id, for entries that carry an object and an
   * objref below REF_CACHE: fetch() of restored objects stays in JS.  The
   * core remains the authority (a miss asks it).
   */
  #refObj = new PagedArray<unknown>();
  #refTid = new PagedInt32();
  /** entries not in #refObj: while 0, a miss there means "no such objref". */
  #uncached = 0;
  /**
   * JS-keyed entries added by lookupAdd whose #objects and #refObj slots
   * are not written: types with no grab and no drop, which never need
   * their object back from the core's side.  Nothing but fetch/has (and
   * a failed batch) asks for those slots, and #mirror() writes them from
   * #ids first (once: from then on every entry is mirrored as it is
   * added, #eager): a checkpoint pays one Map entry per object, no mirror.
   */
  #unmirrored = 0;
  #eager = false;
  /** type id -> type, for the types used in this hash. */
  #types: (ObjType<any> | undefined)[] = [];
  /** number of entries: the index the next entry gets. */
  #count = 0;
  /**
   * New JS-keyed entries not yet in the core: they take the objrefs after
   * the core's next one, are grabbed here, and go into the core in one
   * addMany call before any other core call, so the core sees them in the
   * same order (insertion order = drop order).  The queue grows as long as
   * nothing asks the core: a checkpoint that only walks objects adds none
   * of them to the core, and free() discards them unless one has a drop
   * (#qDrops), in which case they go in first and are dropped in order.
   */
  #qTypes = new Uint16Array(FIRST_QUEUE);
  #q = 0;
  #qBase = 0;
  /** queued entries whose type has a drop */
  #qDrops = 0;
  /**
   * Restored objects (types without grab) queued for one insertTyped into
   * the core: objrefs and type ids in the order the core will get them,
   * their JS-side slots written already.  Restores finish out of objref
   * order (a holder after the children it reads), so this queue names
   * each objref.  At most one of the two queues holds entries.
   */
  #rqRefs = new Int32Array(FIRST_QUEUE);
  #rqTypes = new Uint16Array(FIRST_QUEUE);
  #rq = 0;
  /** a grab or drop may be running (a JS grab, or a core call that runs callbacks: free, numeric adds): adds and free() are EBUSY, as in the core */
  #inGrab = false;
  /** the object being added, for the grab callback. */
  #pending: unknown = NONE;
  #mult2009: boolean;
  /** the grab and drop callbacks given to the core, alive as long as the hash */
  readonly #callbacks: readonly [GrabFn, DropFn];
  /** whether the last #find added its key */
  #added = false;

  constructor(opts: ObjHashOptions = {}) {
    const { nbits, flags, maxLoad, mult2009, impl } = hashParams(opts);
    this.#b = backendFor(impl);
    this.impl = this.#b.name;
    this.#mult2009 = mult2009;
    // kept here: the native backend holds them weakly (contract.ts)
    this.#callbacks = [(tid: number, key: Key) => this.#grab(tid, key), (tid: number, key: Key, index: number) => this.#drop(tid, key, index)];
    const h = this.#b.create(nbits, flags, maxLoad, this.#callbacks[0], this.#callbacks[1]);
    if (typeof h === 'number') throw new ObjHashError(errnoName(h), `ObjHash: cannot create the table (${errnoName(h)})`);
    this.#h = h;
    if (hashCreated.hasSubscribers) hashCreated.publish(this);
  }

  #grab(tid: number, key: Key): void {
    const o = this.#pending;
    this.#types[tid]!.grab!(o === NONE ? key : o);
  }

  #drop(tid: number, key: Key, index: number): void {
    const o = this.#objects.get(index);
    this.#types[tid]!.drop!(o === undefined ? key : o);
  }

  /** The live handle, or EBADF; the queue is in the core when it returns. */
  #handle(where: string): CoreHandle {
    if (this.#h === null) throw new ObjHashError('EBADF', `${where}: the hash was freed`);
    if (this.#q !== 0 || this.#rq !== 0) this.#flush(where);
    return this.#h;
  }

  /** #handle for the calls that add to the hash: EBUSY inside a JS grab. */
  #mutating(where: string): CoreHandle {
    const h = this.#handle(where);
    if (this.#inGrab) this.#fail(-ERRNO.EBUSY, where);
    return h;
  }

  /** Doubles the queue of JS-keyed adds (#qTypes). */
  #growQueue(): void {
    const grown = new Uint16Array(this.#qTypes.length * 2);
    grown.set(this.#qTypes);
    this.#qTypes = grown;
  }

  /** Doubles the queue of restored objects (#rqRefs, #rqTypes), up to QUEUE entries (then it is flushed). */
  #growRestored(): void {
    const n = Math.min(QUEUE, this.#rqRefs.length * 2);
    const refs = new Int32Array(n);
    refs.set(this.#rqRefs);
    this.#rqRefs = refs;
    const types = new Uint16Array(n);
    types.set(this.#rqTypes);
    this.#rqTypes = types;
  }

  /** Moves the queued entries (JS-keyed adds, or restored objects) into the core. */
  #flush(where: string): void {
    if (this.#rq !== 0) {
      this.#flushRestored(where);
      return;
    }
    let n = this.#q;
    if (this.#inGrab) this.#fail(-ERRNO.EBUSY, where);
    // The queue is emptied only once addMany has returned: an exception
    // (a stack overflow, in the twin midway through) leaves it queued, so
    // that the next flush or free() moves it and each entry is dropped
    // once.  Entries such a cut-short flush did move are skipped here.
    const moved = this.#b.size(this.#h!) - (this.#count - n);
    if (moved > 0) {
      this.#qTypes.copyWithin(0, moved, n);
      this.#qBase += moved;
      this.#q = n -= moved;
      if (n === 0) return;
    }
    const r = this.#b.addMany(this.#h!, this.#qTypes, n);
    this.#q = 0;
    this.#qDrops = 0;
    if (r === n) return;
    // The core refused some (ENOMEM): they were grabbed and made visible
    // here, so take them back out and drop them, once each.
    const added = Math.max(0, this.#b.size(this.#h!) - (this.#count - n));
    const first = this.#count - n;
    this.#mirror();
    for (let i = first + added; i < this.#count; i++) {
      // queued entries have consecutive objrefs (restored ones are in no #ids)
      const objref = this.#qBase + (i - first);
      const obj = (this.#objects.get(i) ?? (objref < REF_CACHE ? this.#refObj.get(objref) : undefined)) as object;
      const tid = this.#tidOf(objref);
      const t = this.#types[tid]!;
      if (this.#lastKey[tid] === obj) this.#lastKey[tid] = undefined;
      this.#ids.delete(obj);
      this.#objects.set(i, undefined);
      if (objref < REF_CACHE) this.#refObj.set(objref, undefined);
      else this.#bigTid.delete(objref);
      if (t.drop) t.drop(obj);
    }
    this.#count = first + added;
    this.#fail(r < 0 ? r : -ERRNO.ENOMEM, where);
  }

  /**
   * Moves the queued restored objects into the core in one insertTyped
   * call, as #flush does for adds (an exception midway leaves the rest
   * queued).  A refused entry and those after it are taken back out; they
   * were never grabbed, so nothing is dropped.
   */
  #flushRestored(where: string): void {
    let n = this.#rq;
    if (this.#inGrab) this.#fail(-ERRNO.EBUSY, where);
    const moved = this.#b.size(this.#h!) - (this.#count - n);
    if (moved > 0) {
      this.#rqRefs.copyWithin(0, moved, n);
      this.#rqTypes.copyWithin(0, moved, n);
      this.#rq = n -= moved;
      if (n === 0) return;
    }
    const r = this.#b.insertTyped(this.#h!, this.#rqRefs, this.#rqTypes, n);
    this.#rq = 0;
    if (r === n) return;
    const first = this.#count - n;
    const added = Math.max(0, this.#b.size(this.#h!) - first);
    for (let i = added; i < n; i++) {
      this.#objects.set(first + i, undefined);
      this.#refObj.set(this.#rqRefs[i]!, undefined);
    }
    this.#count = first + added;
    this.#fail(r < 0 ? r : -ERRNO.ENOMEM, where);
  }

  /** The type's id, registering its grab/drop with the core on first use. */
  #use(type: ObjType<any>, where: string): number {
    const id = (type as ObjType<unknown> | undefined)?.id;
    if (id !== undefined && this.#types[id] === type) return id;
    checkType(type, where);
    const r = this.#b.setTypeFlags(this.#h!, type.id, (type.grab ? TYPE_GRAB : 0) | (type.drop ? TYPE_DROP : 0));
    if (r < 0) this.#fail(r, where);
    this.#types[type.id] = type;
    return type.id;
  }

  #typeName(tid: number): string {
    return this.#types[tid]?.name ?? `type ${tid}`;
  }

  #fail(ret: number, where: string, what = ''): never {
    throw coreFailure(ret, where, what);
  }

  /** Resynchronise the entry count after a batch that stopped midway. */
  #resync(): void {
    const n = this.#b.size(this.#h!);
    if (n >= 0) {
      this.#uncached += n - this.#count;
      this.#count = n;
    }
  }

  /** The numeric key of `key` for `type`, or undefined for an identity key. */
  #numeric(key: unknown, type: ObjType<any>, where: string): NumericKey | undefined {
    if (isObjectKey(key)) {
      if (type.key === undefined) return undefined;
      const k = asNumericKey(type.key(key));
      if (k === undefined)
        throw new ObjHashError('EINVAL', `${where}: ${type.name}.key(obj) must return an integer 1..2^53-1 or a bigint 1..2^64-1`);
      return k;
    }
    const k = asNumericKey(key);
    if (k === undefined)
      throw new ObjHashError(
        'EINVAL',
        `${where}: key must be an object, an integer 1..2^53-1 or a bigint 1..2^64-1 (got ${describe(key)})`,
      );
    return k;
  }

  /**
   * lookup - the objref of `key` (ckpt_obj_lookup), or 0 if absent.
   * EINVAL if it is in the hash as another type.
   */
  lookup<T>(key: T | NumericKey, type: ObjType<T>): number {
    const h = this.#handle('lookup');
    const tid = this.#use(type, 'lookup');
    const k = this.#numeric(key, type, 'lookup');
    if (k === undefined) {
      const v = this.#ids.get(key as object);
      if (v === undefined) return 0;
      const t = v >= 0 ? v & TID_MASK : this.#tidOf(-v);
      if (t !== tid) this.#mismatch('lookup', t, tid);
      return idObjref(v);
    }
    const r = this.#b.lookup(h, k, tid);
    if (r < 0) this.#fail(r, 'lookup', `key ${describe(k)} is in the hash with another type than ${type.name}`);
    return r;
  }

  /** Type id of the JS-keyed entry with this objref. */
  #tidOf(objref: number): number {
    return objref < REF_CACHE ? this.#refTid.get(objref) : this.#bigTid.get(objref)!;
  }

  #mismatch(where: string, have: number, want: number): never {
    throw new ObjHashError(
      'EINVAL',
      `${where}: the object is in the hash as a ${this.#typeName(have)}, not a ${this.#typeName(want)}`,
    );
  }

  /**
   * lookupAdd as the backends return it, objref * 2 + (first ? 1 : 0):
   * the checkpoint context's hot path, with no result object.  Decoded
   * only by #find (the seam) and lookupAdd.
   */
  #lookupAddPacked(key: unknown, type: ObjType<any>, where: string): number {
    const h = this.#h;
    if (h === null) throw new ObjHashError('EBADF', `${where}: the hash was freed`);
    const tid = this.#types[type.id] === type ? type.id : this.#use(type, where);
    if (type.key === undefined && isObjectKey(key)) {
      // the last object of each type: objects shared by neighbours (an mm
      // by a process's threads) skip the Map; entries never change, so it
      // cannot go stale
      if (this.#lastKey[tid] === key) return this.#lastRef[tid]! * 2;
      const v = this.#ids.get(key);
      if (v !== undefined) {
        const t = v >= 0 ? v & TID_MASK : this.#tidOf(-v);
        if (t !== tid) this.#mismatch(where, t, tid);
        const o = idObjref(v);
        this.#lastKey[tid] = key;
        this.#lastRef[tid] = o;
        return o * 2;
      }
      if (this.#inGrab) this.#fail(-ERRNO.EBUSY, where);
      if (this.#q === 0) {
        if (this.#rq !== 0) this.#flush(where);
        const next = this.#b.nextObjref(h);
        if (next < 0) this.#fail(next, where);
        this.#qBase = next;
      }
      const r = this.#qBase + this.#q;
      if (r > MAX_OBJREF) this.#fail(-ERRNO.E2BIG, where);
      if (this.#stamped !== undefined) this.#stamped.prepare();
      if (type.grab !== undefined) {
        // before the object is visible; if it throws, nothing is added.
        // The queue goes first, so that reads inside grab see the core
        // as it is; writes inside grab are EBUSY, as in the core.
        if (this.#q !== 0) {
          this.#flush(where);
          const next = this.#b.nextObjref(h);
          if (next < 0) this.#fail(next, where);
          this.#qBase = next;
        }
        stackRoom(STACK_ROOM);
        this.#inGrab = true;
        try {
          type.grab(key);
        } finally {
          this.#inGrab = false;
        }
      }
      if (this.#q === this.#qTypes.length) this.#growQueue();
      this.#qTypes[this.#q++] = tid;
      if (type.drop !== undefined) this.#qDrops++;
      this.#ids.set(key, idValue(r, tid));
      this.#lastKey[tid] = key;
      this.#lastRef[tid] = r;
      if (r < REF_CACHE && !this.#eager && type.grab === undefined && type.drop === undefined) {
        this.#count++;
        this.#refTid.set(r, tid);
        this.#unmirrored++;
      } else if (r < REF_CACHE) {
        this.#objects.set(this.#count++, key);
        this.#refObj.set(r, key);
        this.#refTid.set(r, tid);
      } else {
        this.#objects.set(this.#count++, key);
        this.#bigTid.set(r, tid);
        this.#uncached++;
      }
      return r * 2 + 1;
    }
    const k = this.#numeric(key, type, where)!;
    if (this.#q !== 0 || this.#rq !== 0) this.#flush(where);
    if (this.#inGrab) this.#fail(-ERRNO.EBUSY, where);
    const isObj = isObjectKey(key);
    if (isObj) this.#pending = key;
    let r: number;
    // (a numeric key's grab runs in the core: adds of JS objects from it are EBUSY too)
    this.#inGrab = true;
    try {
      r = this.#b.lookupAdd(h, k, tid);
    } finally {
      this.#pending = NONE;
      this.#inGrab = false;
    }
    if (r < 0) this.#fail(r, where, `key ${describe(k)} is in the hash with another type than ${type.name}`);
    if (r % 2 === 1) {
      const objref = (r - 1) / 2;
      if (isObj && objref < REF_CACHE) {
        this.#objects.set(this.#count, key);
        this.#refObj.set(objref, key);
        this.#refTid.set(objref, tid);
      } else {
        if (isObj) this.#objects.set(this.#count, key);
        this.#uncached++;
      }
      this.#count++;
    }
    return r;
  }

  /**
   * lookupAdd - find `key`, or add it with the next objref and grab it
   * (ckpt_obj_lookup_add).  `first` is true when it was added now.
   */
  lookupAdd<T>(key: Same<T> | AddedKey<T>, type: ObjType<T>): LookupAddResult {
    checkType(type, 'lookupAdd');
    const objref = this.#find(key, type, 'lookupAdd');
    return { objref, first: this.#added };
  }

  /**
   * insert - add `key` under a given objref (ckpt_obj_insert), as restart
   * does.  EINVAL if the objref is <= 0 or taken; EEXIST if the key is.
   */
  insert<T>(key: Same<T> | AddedKey<T>, objref: number, type: ObjType<T>): void {
    const h = this.#mutating('insert');
    const tid = this.#use(type, 'insert');
    checkObjref(objref, 'insert');
    const k = this.#numeric(key, type, 'insert');
    if (k === undefined && this.#ids.has(key as object))
      throw new ObjHashError('EEXIST', 'insert: the object is already in the hash');
    this.#insert(h, k ?? 0, isObjectKey(key) ? key : undefined, objref, tid, 'insert');
    if (k === undefined) {
      this.#ids.set(key as object, idValue(objref, tid));
      if (objref >= REF_CACHE) this.#bigTid.set(objref, tid);
    }
  }

  /** insert with the key resolved; obj is stored for fetch/drop. */
  #insert(h: CoreHandle, k: Key, obj: unknown, objref: number, tid: number, where: string): void {
    this.#pending = obj === undefined ? NONE : obj;
    let r: number;
    this.#inGrab = true;
    try {
      r = this.#b.insert(h, k, objref, tid);
    } finally {
      this.#pending = NONE;
      this.#inGrab = false;
    }
    if (r < 0) {
      const what =
        r === -ERRNO.EEXIST ? `key ${describe(k)} is already in the hash` : `objref ${objref} is already in the hash`;
      this.#fail(r, where, what);
    }
    if (obj !== undefined) this.#objects.set(this.#count, obj);
    if (obj !== undefined && objref < REF_CACHE) {
      this.#refObj.set(objref, obj);
      this.#refTid.set(objref, tid);
    } else this.#uncached++;
    this.#count++;
  }

  /**
   * The objref of `key`, adding it (and grabbing it) if absent; #added
   * says which.  The one place the packed result is decoded.
   */
  #find(key: unknown, type: ObjType<any>, where: string): number {
    const r = this.#lookupAddPacked(key, type, where);
    const added = (r & 1) === 1;
    this.#added = added;
    return added ? (r - 1) / 2 : r / 2;
  }

  /**
   * restart's insert: by objref only (the kernel's restore_obj), the
   * object kept for objFetch and drop.
   */
  #insertRestored(obj: unknown, objref: number, type: ObjType<any>, where: string): void {
    const h = this.#h;
    if (h === null) throw new ObjHashError('EBADF', `${where}: the hash was freed`);
    const tid = this.#types[type.id] === type ? type.id : this.#use(type, where);
    // Restored objects of types without grab go into the core 1024 at a
    // time (insertTyped), in the order they finish, instead of one
    // crossing each.  Only while #refObj knows every entry (so a taken
    // objref is seen here, not at the flush); anything else goes in at once.
    if (
      type.grab === undefined &&
      !this.#inGrab &&
      objref > 0 &&
      objref < REF_CACHE &&
      obj !== undefined &&
      this.#uncached === 0 &&
      this.#unmirrored === 0 &&
      this.#refObj.get(objref) === undefined
    ) {
      if (type.drop === undefined) {
        // nothing to drop, no key to find it by: the core would hold the
        // entry only for fetch and has, which #refObj answers (a restart's
        // hash is only fetched from, and freed)
        this.#refObj.set(objref, obj);
        this.#refTid.set(objref, tid);
        return;
      }
      if (this.#q !== 0) this.#flush(where);
      if (this.#rq === this.#rqRefs.length) this.#growRestored();
      this.#rqRefs[this.#rq] = objref;
      this.#rqTypes[this.#rq++] = tid;
      this.#objects.set(this.#count++, obj);
      this.#refObj.set(objref, obj);
      this.#refTid.set(objref, tid);
      if (this.#rq === QUEUE) this.#flush(where);
      return;
    }
    this.#insert(this.#mutating(where), 0, obj, objref, tid, where);
  }

  /** Writes the #refObj slots of the entries lookupAdd left unmirrored (see #unmirrored). */
  #mirror(): void {
    this.#eager = true;
    if (this.#unmirrored === 0) return;
    const refObj = this.#refObj;
    for (const [obj, v] of this.#ids) {
      const r = idObjref(v);
      if (r < REF_CACHE && refObj.get(r) === undefined) refObj.set(r, obj);
    }
    this.#unmirrored = 0;
  }

  /** Whether any entry has this objref (type 0 is never used). */
  #has(objref: number): boolean {
    this.#mirror();
    if (objref < REF_CACHE && this.#refObj.get(objref) !== undefined) return true;
    if (this.#uncached === 0 && objref > 0 && objref < REF_CACHE) return false;
    return this.#b.fetch(this.#handle('restart'), objref, 0) !== -ERRNO.EINVAL;
  }

  /**
   * fetch - the object stored under `objref` (ckpt_obj_fetch): EINVAL if
   * there is none, ENOMSG if it is of another type.  Entries added with a
   * numeric key and no object give the key back (a number when it is at
   * most 2^53-1, else a bigint).
   */
  fetch<T>(objref: number, type: ObjType<T>): T {
    if (this.#h === null) throw new ObjHashError('EBADF', 'fetch: the hash was freed');
    const tid = type !== undefined && this.#types[type.id] === type ? type.id : this.#use(type, 'fetch');
    this.#mirror();
    // (typeof first: `|` throws on a bigint or a symbol, and runs an object's valueOf)
    if (typeof objref === 'number' && (objref | 0) === objref && objref > 0 && objref < REF_CACHE) {
      const o = this.#refObj.get(objref);
      if (o !== undefined) {
        if (this.#refTid.get(objref) === tid) return o as T;
        this.#fail(-ERRNO.ENOMSG, 'fetch', `objref ${objref} is not a ${type.name}`);
      }
    }
    if (this.#uncached === 0 && typeof objref === 'number' && objref > 0 && objref < REF_CACHE && Number.isInteger(objref))
      this.#fail(-ERRNO.EINVAL, 'fetch', `no object with objref ${objref}`);
    if (typeof objref !== 'number' || !Number.isInteger(objref))
      throw new ObjHashError('EINVAL', `fetch: objref must be an integer (got ${describe(objref)})`);
    // the core is asked only now: the queues go in first (a JS-side hit above needs neither)
    const h = this.#handle('fetch');
    const r = isObjref(objref) ? this.#b.fetch(h, objref, tid) : -ERRNO.EINVAL;
    if (r < 0) {
      if (r === -ERRNO.ENOMSG) this.#fail(r, 'fetch', `objref ${objref} is not a ${type.name}`);
      this.#fail(r, 'fetch', `no object with objref ${objref}`);
    }
    const o = this.#objects.get(r);
    return (o === undefined ? this.#b.entryKey(h, r) : o) as T;
  }

  /** reserve - skip an objref (later kernels' ckpt_obj_reserve); returns it. */
  reserve(): number {
    const r = this.#b.reserve(this.#mutating('reserve'));
    if (r < 0) this.#fail(r, 'reserve');
    return r;
  }

  /**
   * lookupAddMany - lookupAdd for each numeric key, in one call: out[i] is
   * the objref of keys[i]; first[i] = 1 where keys[i] was added now.
   * Returns `out`.  Stops at the first failure (earlier adds stay).
   */
  lookupAddMany(keys: KeyArray, type: ObjType<any>, out?: Int32Array, first?: Uint8Array): Int32Array {
    const h = this.#mutating('lookupAddMany');
    const tid = this.#use(type, 'lookupAddMany');
    checkKeyArray(keys, 'lookupAddMany', 'keys');
    const n = keys.length;
    if (out === undefined) out = new Int32Array(n);
    else checkInt32Array(out, 'lookupAddMany', 'out', n);
    if (first !== undefined && (!(first instanceof Uint8Array) || first.length < n))
      throw new ObjHashError('EINVAL', `lookupAddMany: first must be a Uint8Array of at least ${n} elements`);
    let r: number;
    this.#inGrab = true;
    try {
      r = this.#b.lookupAddMany(h, keys, tid, out, first ?? null);
    } catch (e) {
      this.#resync();
      throw e;
    } finally {
      this.#inGrab = false;
    }
    if (r < 0) {
      this.#resync();
      this.#fail(r, 'lookupAddMany', `a key is not an integer 1..2^53-1, or is in the hash with another type than ${type.name}`);
    }
    this.#count += r;
    this.#uncached += r;
    return out;
  }

  /** insertMany - insert (keys[i], objrefs[i]) for each i; keys may be null. */
  insertMany(keys: KeyArray | null, objrefs: Int32Array, type: ObjType<any>): void {
    const h = this.#mutating('insertMany');
    const tid = this.#use(type, 'insertMany');
    checkInt32Array(objrefs, 'insertMany', 'objrefs', 0);
    if (keys !== null) {
      checkKeyArray(keys, 'insertMany', 'keys');
      if (keys.length < objrefs.length)
        throw new ObjHashError('EINVAL', `insertMany: keys has ${keys.length} elements, needs ${objrefs.length}`);
    }
    let r: number;
    this.#inGrab = true;
    try {
      r = this.#b.insertMany(h, keys, objrefs, tid);
    } catch (e) {
      this.#resync();
      throw e;
    } finally {
      this.#inGrab = false;
    }
    if (r < 0) {
      this.#resync();
      this.#fail(r, 'insertMany', 'an objref is <= 0 or already in the hash, or a key is invalid or taken');
    }
    this.#count += r;
    this.#uncached += r;
  }

  /**
   * fetchMany - the key of each objref (0 for entries without one), into
   * `out` (a BigUint64Array by default).  Fails like fetch.
   */
  fetchMany<A extends KeyArray = BigUint64Array>(objrefs: Int32Array, type: ObjType<any>, out?: A): A {
    const h = this.#handle('fetchMany');
    const tid = this.#use(type, 'fetchMany');
    checkInt32Array(objrefs, 'fetchMany', 'objrefs', 0);
    const n = objrefs.length;
    const dst = (out ?? new BigUint64Array(n)) as A;
    checkKeyArray(dst, 'fetchMany', 'out');
    if (dst.length < n) throw new ObjHashError('EINVAL', `fetchMany: out has ${dst.length} elements, needs ${n}`);
    const r = this.#b.fetchMany(h, objrefs, tid, dst, null);
    if (r < 0) this.#fail(r, 'fetchMany', r === -ERRNO.ENOMSG ? `an objref is not a ${type.name}` : 'an objref is not in the hash (or a key does not fit a Float64Array)');
    return dst;
  }

  /** Number of objects in the hash. */
  get size(): number {
    const r = this.#b.size(this.#handle('size'));
    if (r < 0) this.#fail(r, 'size');
    return r;
  }

  /** The objref the next added object gets. */
  get nextObjref(): number {
    const r = this.#b.nextObjref(this.#handle('nextObjref'));
    if (r < 0) this.#fail(r, 'nextObjref'); // E2BIG: objref 2^31-1 is used
    return r;
  }

  /** Current bucket count (1024 by default; grows unless `fixed`). */
  get buckets(): number {
    return this.#b.buckets(this.#handle('buckets'));
  }

  /** Bytes held by the table (the core's allocations). */
  get memoryBytes(): number {
    return this.#b.memory(this.#handle('memoryBytes'));
  }

  /**
   * The bucket a numeric key falls in now: hash_long(key, log2(buckets))
   * with this hash's multiplier.
   */
  bucketOf(key: NumericKey): number {
    const h = this.#handle('bucketOf');
    const k = asNumericKey(key);
    if (k === undefined)
      throw new ObjHashError('EINVAL', `bucketOf: key must be an integer 1..2^53-1 or a bigint 1..2^64-1 (got ${describe(key)})`);
    return this.#b.hashLong(k, Math.log2(this.#b.buckets(h)), this.#mult2009);
  }

  /** Whether free() has been called. */
  get freed(): boolean {
    return this.#h === null;
  }

  /**
   * free - drop every object once, in insertion order, and discard the
   * hash (ckpt_obj_hash_free).  If drops throw, all objects are still
   * dropped and the first error is rethrown.  A second free is a no-op.
   */
  free(): void {
    const h = this.#h;
    if (h === null) return;
    if (this.#inGrab) this.#fail(-ERRNO.EBUSY, 'free');
    // The core refusing the last queued adds (ENOMEM: #flush has dropped
    // those) must not keep the others from being dropped: free all the
    // same, then rethrow that first error.
    let first: { e: unknown } | undefined;
    // queued adds with nothing to drop: the core never needs them
    if (this.#q !== 0 && this.#qDrops === 0) this.#q = 0;
    if (this.#q !== 0 || this.#rq !== 0) {
      try {
        this.#flush('free');
      } catch (e) {
        first = { e };
      }
    }
    let r: unknown;
    // the drops run now: a free() from one of them is EBUSY, adds too (#inGrab)
    this.#inGrab = true;
    try {
      r = this.#b.free(h);
    } catch (e) {
      first ??= { e };
    } finally {
      this.#inGrab = false;
      // A drop that threw still leaves the hash freed (all others dropped).
      if (r !== -ERRNO.EBUSY) this.#release();
    }
    if (first) throw first.e;
    if (r === -ERRNO.EBUSY) this.#fail(-ERRNO.EBUSY, 'free');
  }

  #release(): void {
    this.#h = null;
    this.#ids = new Map();
    this.#stamped = undefined;
    this.#bigTid = new Map();
    this.#lastKey = [];
    this.#lastRef = [];
    this.#objects = new PagedArray();
    this.#refObj = new PagedArray();
    this.#refTid = new PagedInt32();
    this.#uncached = 0;
    this.#unmirrored = 0;
    this.#eager = false;
    this.#types = [];
  }

  [Symbol.dispose](): void {
    this.free();
  }

  static {
    seam = {
      find: (h, key, type, where) => h.#find(key, type, where),
      added: (h) => h.#added,
      insertRestored: (h, obj, objref, type, where) => h.#insertRestored(obj, objref, type, where),
      has: (h, objref) => h.#has(objref),
      objrefOf: (h, key) => {
        if (h.#h === null) return 0;
        // (peek: a query gives key no fields, and has inline caches of its own; stamped-ids.ts)
        const st = h.#stamped;
        const v = st !== undefined ? st.peek(key) : h.#ids.get(key);
        return v === undefined ? 0 : idObjref(v);
      },
      objectAt: (h, objref) => {
        if (h.#h === null || !Number.isInteger(objref) || objref <= 0) return undefined;
        const type = h.#types[h.#tidOf(objref) ?? -1];
        if (type === undefined) return undefined;
        try {
          return { obj: h.fetch(objref, type), type };
        } catch {
          return undefined;
        }
      },
      shardIds: (h) => {
        if (h.#count !== 0) throw new ObjHashError('EBUSY', 'shardIds: the hash is not empty');
        h.#ids = new ShardedIds();
      },
      stampIds: (h, table) => {
        if (h.#count !== 0) throw new ObjHashError('EBUSY', 'stampIds: the hash is not empty');
        h.#ids = h.#stamped = table;
      },
    };
  }
}
