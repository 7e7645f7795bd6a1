/**
 * CheckpointContext - the kernel's checkpoint-side struct ckpt_ctx: writes
 * an image (HEADER with the type table, each object's OBJREF record and
 * state on first encounter, TAIL), with checkpoint_obj() as checkpointObj.
 */
import { ObjHashError, isStackOverflow } from '../errors.js';
import { FORMAT_VERSION, REC, type TypeEntry } from '../image/format.js';
import { ImageWriter } from '../image/writer.js';
import { backendFor, crc32cFor } from '../backend/loader.js';
import { describe } from '../backend/args.js';
import { StampSession } from '../hash/stamped-ids.js';
import { ObjHash, seam } from '../hash/objhash.js';
import { nbitsFor } from '../hash/options.js';
import { checkType, type ObjType } from '../types.js';
import { notPlainReason, plainKind, ValueCodecState } from '../values/index.js';
import { Refusal, type PathStep, type RefWriter } from '../walk/refs.js';
import { ValueT, classOf, isWalked, schemaOf, slicedOf, writeBodyOf, type WriteBody } from '../walk/walked.js';
import { SLICE_ITEMS, itemRuns, type SliceCursor, type SlicedSchema } from '../schema/index.js';
import { PAGE_BITS, PAGE_MASK, PagedArray, PagedInt32 } from '../util/paged.js';
import { Via, findPath, formatPath, itemIndices } from '../walk/path.js';
import { BytesWriter } from '../schema/bytes.js';
import { leafOf } from '../schema/spec.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_OBJECTS, checkOptions, checkTypes, positiveInt, type CheckpointOptions } from './options.js';

/** The version a context writes when options.version is not given and no type needs version 2. */
const DEFAULT_VERSION: number = FORMAT_VERSION;

/** options.deferWalk: objects a plain-value record holds inline, at most (the rest get records of their own). */
const INLINE_SLICE = 1024;

/** A walked object whose record is open across slices (options.deferWalk): a long refs field in runs of SLICE_ITEMS. */
interface OpenRecord extends SliceCursor {
  objref: number;
  type: ObjType<any>;
}

/** #written: an object of a walked type waits in the queue (its objtype << 2 | QUEUED), or its record is written. */
const QUEUED = 1;
const WRITTEN = 2;

/** Length of the last in-memory image finished in this thread (0: none yet). */
let lastImage = 0;
/** Objects of the last checkpoint finished in this thread (0: none yet): the walker's typed tables start at that size. */
let lastCount = 0;
const TYPED_HINT_MAX = 1 << 22;
const HINT_MAX = 64 * 1024 * 1024;

/** Where the next in-memory image starts: an eighth more than the last one (undefined: the writer's default). */
function sizeHint(): number | undefined {
  return lastImage === 0 ? undefined : Math.min(HINT_MAX, Math.max(256, lastImage + (lastImage >>> 3)));
}

export class CheckpointContext implements Disposable {
  readonly #hash: ObjHash;
  readonly #writer: ImageWriter;
  /** type id -> image objtype (its 1-based index in options.types). */
  #objtype: number[] = [];
  /** image objtype -> how its objects are written, for walked types */
  #bodies: (WriteBody | undefined)[] = [];
  #types: readonly ObjType<any>[];
  #depth = 0;
  #maxDepth: number;
  #maxObjects: number;
  #count = 0;
  #done = false;
  /** options.deferWalk: the queue is written by walkSome()/finish() only */
  readonly #defer: boolean;
  /** options.deferWalk: the record left open by a slice that ended inside it */
  #open: OpenRecord | undefined = undefined;
  /** image objtype -> its sliced body (null: none), made at first use */
  #sliced: (SlicedSchema | null | undefined)[] = [];

  // ---- the walker: walked objects (plain values, fields types) are written
  // from this queue, breadth first, never by recursion
  #queue = new PagedArray<unknown>();
  #qref = new PagedInt32();
  /** objects the walker's tables start with (#grow) */
  readonly #hint: number;
  #head = 0;
  #tail = 0;
  #draining = false;
  /** by objref, for error paths: the objref of the holder that first referred to it, and the step */
  #parent = new Int32Array(0); // holder's objref + 1 (0: none)
  #step = new PagedArray<PathStep>();
  /** by objref: QUEUED (with its objtype) while a walked object waits in the queue, WRITTEN once its OBJREF is written */
  #written = new Uint32Array(0); // 0 neither, objtype << 2 | QUEUED, WRITTEN
  /** objref of the walked object whose body is being written (0: none) */
  #current = 0;
  /**
   * the step to a child written at once (refNow, a hand-written type's
   * object), taken by the checkpointObj it is set for (undefined: none
   * given, as for a child a hand-written checkpoint asks for)
   */
  #pendingStep: PathStep | undefined = undefined;
  /** objrefs of the hand-written checkpoints under way, by depth (#depth of them): each one's holder is the one before */
  #hands: number[] = [];
  /** instances of these classes in plain values are objects of these types */
  #byClass = new Map<Function, ObjType<any>>();
  #values = new ValueCodecState();
  /** identities kept on the objects (undefined: in Maps; see lib/hash/stamped-ids.ts) */
  #stamps: StampSession | undefined = undefined;
  readonly #refs: RefWriter;

  constructor(opts: CheckpointOptions) {
    // the walker's tables: made at first use (#grow), sized for a checkpoint like the last one
    this.#hint = Math.max(256, lastCount + (lastCount >>> 3));
    checkOptions(opts, 'CheckpointContext');
    const given = checkTypes(opts.types, 'CheckpointContext');
    const walked = given.some(isWalked);
    const version = opts.version ?? (walked ? 2 : undefined);
    // version 2 images can always hold plain values: their type is in every table
    this.#types = (version ?? DEFAULT_VERSION) === 2 && !given.includes(ValueT) ? [...given, ValueT] : given;
    this.#maxDepth = positiveInt(opts.maxDepth, 'maxDepth', DEFAULT_MAX_DEPTH);
    this.#maxObjects = positiveInt(opts.maxObjects, 'maxObjects', DEFAULT_MAX_OBJECTS);
    if (opts.deferWalk !== undefined && typeof opts.deferWalk !== 'boolean')
      throw new ObjHashError('EINVAL', 'CheckpointContext: options.deferWalk must be a boolean');
    this.#defer = opts.deferWalk === true;
    if (opts.identity !== undefined && opts.identity !== 'stamp' && opts.identity !== 'map')
      throw new ObjHashError('EINVAL', `CheckpointContext: options.identity must be 'stamp' or 'map' (got ${describe(opts.identity)})`);
    if (this.#defer) this.#values.maxInlined = INLINE_SLICE;
    if (opts.sink !== undefined && typeof opts.sink !== 'function')
      throw new ObjHashError('EINVAL', 'CheckpointContext: options.sink must be a function');
    const b = backendFor(opts.impl);
    this.#writer = new ImageWriter({
      crc32c: crc32cFor(b),
      sink: opts.sink,
      highWaterMark: opts.highWaterMark,
      maxRecord: opts.maxRecord,
      version,
      initialSize: opts.initialSize ?? (opts.sink === undefined ? sizeHint() : undefined),
    });
    if (walked && this.#writer.version < 2)
      throw new ObjHashError('EINVAL', 'CheckpointContext: types with fields and plain values need format version 2 (options.version)');
    const table: TypeEntry[] = this.#types.map((t, i) => {
      this.#objtype[t.id] = i + 1;
      this.#bodies[i + 1] = isWalked(t) ? writeBodyOf(t) : undefined;
      const cls = t.fields !== undefined ? classOf(t) : undefined;
      if (cls !== undefined) this.#byClass.set(cls, t);
      return { objtype: i + 1, name: t.name, schema: t.fields !== undefined ? schemaOf(t).encoded : undefined };
    });
    this.#writer.writeHeader(table, opts.flags ?? 0);
    this.#hash = new ObjHash({ ...opts.hash, impl: b.name, nbits: opts.hash?.nbits ?? (opts.hash?.fixed || lastCount === 0 ? undefined : nbitsFor(this.#hint)) });
    // identities on the objects, if no other checkpoint of the thread has
    // them.  An incremental one adds no fields: objects met for the first
    // time go to shards (see StampSession.start)
    if (opts.identity !== 'map') {
      this.#stamps = StampSession.start(this, !this.#defer);
      if (this.#stamps !== undefined) {
        seam.stampIds(this.#hash, this.#stamps.ids);
        this.#values.ids = this.#stamps.values;
      }
    }
    // else in Maps; slices stay short: none that rehashes 500k entries at once
    if (this.#stamps === undefined && this.#defer) seam.shardIds(this.#hash);
    const ctx = this;
    this.#refs = {
      ref: (child, step) => ctx.#ref(child, step, false),
      refNow: (child, step) => ctx.#ref(child, step, true),
      refTyped: (child, type, step) => ctx.#refTyped(child, type, step, false),
      known: (child) => seam.objrefOf(ctx.#hash, child),
    };
  }

  /**
   * Where this checkpoint keeps the identity of the objects it meets:
   * 'stamp' (on the objects, options.identity's default) or 'map' (asked
   * for, a deferred walk, or another checkpoint of this thread stamping
   * meanwhile).
   */
  get identity(): 'stamp' | 'map' {
    return this.#stamps !== undefined ? 'stamp' : 'map';
  }

  /** Objects written so far. */
  get count(): number {
    return this.#count;
  }

  /** Image offset at which the next completed record will land. */
  get offset(): number {
    return this.#writer.offset;
  }

  /**
   * checkpointObj - the objref of `obj`; on first encounter, add it to the
   * hash (grabbing it), write its OBJREF record and call type.checkpoint,
   * whose own nested checkpointObj calls land before the records that
   * refer to them (checkpoint_obj).
   */
  checkpointObj<T>(obj: T, type: ObjType<T>): number {
    if (type === ValueT && typeof obj === 'object' && obj !== null && plainKind(obj) === undefined) {
      // a plain value that is an instance of a registered class (the root of checkpoint(p, { types })): of its type
      const t = this.#classType(obj);
      if (t !== undefined) return this.checkpointObj(obj, t as ObjType<T>);
    }
    const ot = this.#objtype[type?.id];
    if (ot === undefined || this.#types[ot - 1] !== type) this.#unknownType(type);
    if (this.#done) throw new ObjHashError('EBADF', 'checkpointObj: the checkpoint is finished');
    if (this.#open !== undefined && !this.#draining) this.#closeOpen();
    const h = this.#hash;
    // a primitive as a plain value (the root of checkpoint(42)) is an object of its own
    const key = type === ValueT && (typeof obj !== 'object' || obj === null) && typeof obj !== 'function' ? {} : obj;
    const objref = seam.find(h, key, type, 'checkpointObj');
    const step = this.#pendingStep;
    this.#pendingStep = undefined;
    if (!seam.added(h)) {
      // a walked object queued but not written yet: whoever asks through
      // here needs it before its own record (a view its buffer, a
      // hand-written ops its child), so it is written now
      if (objref < this.#written.length && (this.#written[objref]! & QUEUED) !== 0) this.#writeWalked(obj, type, objref);
      return objref;
    }
    if (++this.#count > this.#maxObjects)
      throw new ObjHashError('E2BIG', `checkpointObj: more than ${this.#maxObjects} objects (options.maxObjects)`);
    if (type === ValueT && key === obj && !this.#values.ids.has(obj as object)) this.#values.ids.set(obj as object, -objref);
    const walked = type.fields !== undefined || type === ValueT;
    if (this.#current !== 0) {
      // (from a hand-written type's checkpoint: no step; #refusal finds it in the holder)
      if (objref >= this.#parent.length) this.#grow(objref);
      this.#parent[objref] = this.#current + 1;
      if (step !== undefined) this.#step.set(objref, step);
    } else if (walked && this.#depth !== 0) {
      // asked for by the innermost hand-written checkpoint (the links
      // between those are the stack's: #hands)
      if (objref >= this.#parent.length) this.#grow(objref);
      this.#parent[objref] = this.#hands[this.#depth - 1]! + 1;
    }
    if (walked) {
      // a walked object asked for by a caller (or a hand-written ops): its
      // own record now, before the record that refers to it; what it
      // refers to from the queue.  Deferred, at the top (no record open),
      // it may be left open after its first run of items, for walkSome
      const top = this.#defer && !this.#draining && this.#depth === 0 && this.#writer.depth === 0;
      this.#writeWalked(obj, type, objref, top ? 0 : undefined);
      if (!this.#draining && !this.#defer) this.#drain();
      return objref;
    }
    this.#writer.objref(ot, objref);
    const cb = type.checkpoint;
    if (cb !== undefined) {
      if (this.#depth >= this.#maxDepth)
        throw new ObjHashError('ELOOP', `checkpointObj: objects nested deeper than ${this.#maxDepth} (options.maxDepth), at ${type.name} objref ${objref}`);
      this.#hands[this.#depth] = objref;
      this.#depth++;
      try {
        cb(this, obj);
      } catch (e) {
        if (isStackOverflow(e))
          throw new ObjHashError('ELOOP', `checkpointObj: stack overflow at depth ${this.#depth} (${type.name} objref ${objref}); lower options.maxDepth`);
        throw e;
      } finally {
        this.#depth--;
      }
    }
    return objref;
  }

  /** Writes the queued walked objects, first in first out, until none is left. */
  #drain(): void {
    this.#drainUntil(Infinity);
  }

  /**
   * Writes queued walked objects, first in first out, until none is left
   * (true) or performance.now() passes `until` (false; looked at every
   * 16 objects).
   */
  #drainUntil(until: number): boolean {
    this.#draining = true;
    let done = false;
    try {
      if (this.#open !== undefined && !this.#writeOpen(until)) return false;
      const q = this.#queue;
      const qref = this.#qref;
      const sliced = until !== Infinity ? until : undefined;
      let n = 0;
      while (this.#head < this.#tail) {
        const i = this.#head++;
        const k = i >>> PAGE_BITS;
        const j = i & PAGE_MASK;
        const qp = q.pages[k]!;
        const obj = qp[j];
        const objref = qref.pages[k]![j]!;
        // a page read to its end goes
        if (j === PAGE_MASK) q.pages[k] = qref.pages[k] = undefined;
        else qp[j] = undefined;
        const w = this.#written[objref]!;
        if ((w & WRITTEN) === 0) {
          this.#writeWalked(obj, this.#types[(w >>> 2) - 1]!, objref, sliced);
          if (this.#open !== undefined) return false;
        }
        if ((++n & 15) === 0 && sliced !== undefined && performance.now() >= until) return false;
      }
      done = true;
      return true;
    } finally {
      this.#draining = false;
      // a failed walk ends the checkpoint: its queue goes too
      if ((done || until === Infinity) && this.#tail !== 0) {
        this.#head = this.#tail = 0;
        this.#queue = new PagedArray();
        this.#qref = new PagedInt32();
      }
    }
  }

  /**
   * walkSome - with options.deferWalk, writes the objects waiting in the
   * walker's queue for about `ms` milliseconds; true once none is left
   * (then finish()), false while some remain.  An object of a hand-written
   * type is written with everything its checkpoint reaches by recursion,
   * inside one slice.
   */
  walkSome(ms: number): boolean {
    if (this.#done) throw new ObjHashError('EBADF', 'walkSome: the checkpoint is finished');
    if (typeof ms !== 'number' || !(ms >= 0)) throw new ObjHashError('EINVAL', 'walkSome: ms must be a number >= 0');
    if (this.#draining) throw new ObjHashError('EBUSY', 'walkSome: called while the walker writes (from a checkpoint callback)');
    return this.#drainUntil(ms === Infinity ? Infinity : performance.now() + ms);
  }

  /**
   * OBJREF and the body record of one walked object.  With `until` (a
   * deferred walk's slice), a record with a refs field longer than
   * SLICE_ITEMS is written until then and left open (#open) if unfinished.
   */
  #writeWalked(obj: unknown, type: ObjType<any>, objref: number, until?: number): void {
    const w = this.#writer;
    if (objref >= this.#written.length) this.#grow(objref);
    this.#written[objref] = WRITTEN;
    const ot = this.#objtype[type.id]!;
    w.objref(ot, objref);
    const body = this.#bodies[ot]!;
    if (until !== undefined) {
      let sl = this.#sliced[ot];
      if (sl === undefined) this.#sliced[ot] = sl = slicedOf(type) ?? null;
      if (sl !== null && hasLongRefs(sl, obj)) {
        w.beginBuiltin(body.record);
        this.#open = { obj, objref, type, sliced: sl, field: 0, arr: undefined, n: 0, item: 0 };
        this.#writeOpen(until);
        return;
      }
    }
    const outer = this.#current;
    const st = this.#values;
    const inlined = st.inlined;
    this.#current = objref;
    st.inlined = 0;
    w.beginBuiltin(body.record);
    try {
      body.write(w, obj, this.#refs, st);
    } catch (e) {
      if (e instanceof Refusal) throw this.#refusal(e, objref, obj, type);
      throw e;
    } finally {
      this.#current = outer;
      st.inlined = inlined;
    }
    w.end();
  }

  /**
   * Writes the open record on until performance.now() passes `until`
   * (looked at after each run of SLICE_ITEMS items); true once it is
   * closed.  A failure leaves nothing open (the caller fails the image).
   */
  #writeOpen(until: number): boolean {
    const o = this.#open!;
    const s = o.sliced;
    const w = this.#writer;
    const st = this.#values;
    const outer = this.#current;
    const inlined = st.inlined;
    const draining = this.#draining;
    this.#current = o.objref;
    st.inlined = 0;
    // what the record's items reach writes inside it, not around it
    this.#draining = true;
    try {
      for (; o.field < s.names.length; o.field++) {
        const items = s.writeItems[o.field];
        if (o.arr === undefined) {
          const a: unknown = items === undefined ? undefined : o.obj[s.names[o.field]!];
          if (!Array.isArray(a) || a.length <= SLICE_ITEMS) {
            s.writeField[o.field]!(w, o.obj, this.#refs, st);
            continue;
          }
          // its items and count are fixed now (the application promised no change)
          o.arr = a;
          o.n = a.length;
          o.item = 0;
        }
        const arr = o.arr;
        if (!itemRuns(o, until, (from, to) => items!(w, arr, this.#refs, from, to))) return false;
        o.item = 0;
        o.arr = undefined;
      }
      w.end();
      this.#open = undefined;
      return true;
    } catch (e) {
      this.#open = undefined;
      if (e instanceof Refusal) throw this.#refusal(e, o.objref, o.obj, o.type);
      throw e;
    } finally {
      this.#current = outer;
      st.inlined = inlined;
      this.#draining = draining;
    }
  }

  /** Finishes the open record now: something else is about to be written. */
  #closeOpen(): void {
    this.#writeOpen(Infinity);
  }

  /** RefWriter.ref / refNow: a plain value, or an instance of a registered class. */
  #ref(child: object, step: PathStep, now: boolean): number {
    if (plainKind(child) !== undefined) return this.#refTyped(child, ValueT, step, now);
    const t = this.#classType(child);
    if (t !== undefined) return this.#refTyped(child, t, step, now);
    throw new Refusal(step, notPlainReason(child), undefined, child);
  }

  /**
   * Refuses, as an object of `type`, a plain object this checkpoint wrote
   * before inline in a plain value: the image would hold it twice (the
   * copy and the typed object), and the sharing would be lost.
   */
  #notInlined(child: unknown, type: ObjType<any>, step: PathStep | undefined): void {
    if (typeof child !== 'object' || child === null) return;
    const id = this.#values.ids.get(child);
    if (id !== undefined && id >= 0)
      throw new Refusal(
        step,
        `this object was written before inside a plain value (a 'value' field or a plain value), and cannot also be a ${type.name}: ` +
          `reach it through its typed field first, or give ${type.name} a create class`,
        undefined,
        child,
      );
  }

  /** The registered type whose `create` class made obj (its prototype the class's), if any. */
  #classType(obj: object): ObjType<any> | undefined {
    const t = this.#byClass.get((obj as { constructor?: Function }).constructor as Function);
    return t !== undefined && Object.getPrototypeOf(obj) === (t.create as { prototype?: object }).prototype ? t : undefined;
  }

  /** RefWriter.refTyped: queued when walked and new; a hand-written type's checkpoint runs now. */
  #refTyped(child: unknown, type: ObjType<any>, step: PathStep, now: boolean): number {
    if (child === null || child === undefined) return 0;
    if (!isWalked(type) || now) {
      this.#pendingStep = step;
      return this.checkpointObj(child, type);
    }
    const ot = this.#objtype[type.id];
    if (ot === undefined || this.#types[ot - 1] !== type) this.#unknownType(type);
    if (type !== ValueT && this.#values.nextIndex !== 0) this.#notInlined(child, type, step);
    const h = this.#hash;
    const objref = seam.find(h, child, type, 'checkpoint');
    if (!seam.added(h)) return objref;
    if (++this.#count > this.#maxObjects)
      throw new ObjHashError('E2BIG', `checkpoint: more than ${this.#maxObjects} objects (options.maxObjects)`);
    if (type === ValueT && !this.#values.ids.has(child as object)) this.#values.ids.set(child as object, -objref);
    if (objref >= this.#written.length) this.#grow(objref);
    const t = this.#tail++;
    this.#queue.set(t, child);
    this.#qref.set(t, objref);
    this.#written[objref] = (ot << 2) | QUEUED;
    this.#parent[objref] = this.#current + 1;
    this.#step.set(objref, step);
    return objref;
  }

  /** Room in #written and #parent for objref. */
  #grow(objref: number): void {
    // first use: room for as many objects as the last checkpoint had
    let n = Math.max(this.#written.length * 2, Math.min(this.#hint, TYPED_HINT_MAX));
    while (n <= objref) n *= 2;
    const w = new Uint32Array(n);
    w.set(this.#written);
    this.#written = w;
    const p = new Int32Array(n);
    p.set(this.#parent);
    this.#parent = p;
  }

  /**
   * The ObjHashError for a refusal inside the body of objref (obj, of
   * type), with the path from the root.  Off the fast path, what the walk
   * did not keep is found again here: the item of a list field (a schema
   * writer's step names the field), and the steps inside each holder's
   * record to the object it queued (#step keeps the last one only: a list
   * field's name, or the key in the innermost inline value).
   */
  #refusal(e: Refusal, objref: number, obj: unknown, type: ObjType<any>): ObjHashError {
    const steps: (PathStep | Via)[] = [];
    recordSteps(e, obj, type, steps as PathStep[]);
    const parent = this.#parent;
    let child: unknown = obj;
    const scratch = new BytesWriter();
    // (the replays' markers need no stack: a chain of a million records)
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (let r = objref, p = 0; ; r = p - 1) {
        p = r < parent.length ? parent[r]! : 0;
        // (undefined: the holder is of a hand-written type, which names no step)
        let step = this.#step.get(r);
        if (p === 0) {
          // the root, or a hand-written object asked for by the hand-written checkpoint before it on the stack
          const k = this.#depth === 0 ? -1 : this.#hands.lastIndexOf(r, this.#depth - 1);
          if (k <= 0) break;
          p = this.#hands[k - 1]! + 1;
          step = undefined;
        }
        const holder = child === undefined ? undefined : seam.objectAt(this.#hash, p - 1);
        const n = steps.length;
        try {
          if (holder === undefined || step === undefined) handSteps(holder?.obj, holder?.type, child, step, steps);
          else if (!typedSteps(holder.obj, holder.type, child, step, steps as PathStep[])) {
            const found = this.#findChild(holder.obj, holder.type, child, scratch);
            if (found !== undefined) recordSteps(found, holder.obj, holder.type, steps as PathStep[], step);
            else steps.push(step);
          }
        } catch {
          // (a getter of the holder that throws now): the step the walk kept
          steps.length = n;
          steps.push(step ?? new Via(holder?.type.name ?? '?'));
        }
        child = holder?.obj;
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
    return new ObjHashError('EINVAL', `checkpoint: ${formatPath(steps.reverse())}: ${e.why}`, undefined, { cause: e.cause });
  }

  /**
   * Writes the record of `holder` (of `type`) again, into scratch bytes,
   * until it first meets `child`: a Refusal whose steps lead from the
   * holder to the child (undefined: it never does).  Its step is
   * undefined when the value codec met the child (the step it queued the
   * child with is #step's).  The walk's choices are made again as they
   * were: an object the hash holds is referred to, any other is written
   * inline (one met inline in an earlier record is walked again: it
   * reaches no object of this record first).  The holder's getters run
   * twice.
   */
  #findChild(holder: unknown, type: ObjType<any>, child: unknown, scratch: BytesWriter): Refusal | undefined {
    if (!isWalked(type)) return undefined;
    const h = this.#hash;
    const ask = (c: unknown, step: PathStep): number => {
      if (c === child) throw new Found(step, c);
      return 1;
    };
    const refs: RefWriter = {
      ref: ask,
      refNow: ask,
      refTyped: (c, _t, step) => ask(c, step),
      // (the value codec asks this first of an object it meets anew: a
      // plain child that was queued for want of room would go inline now)
      known: (c) => {
        if (c === child) throw new Found(undefined, c);
        return seam.objrefOf(h, c);
      },
    };
    scratch.rewind();
    try {
      writeBodyOf(type).write(scratch, holder, refs, new ValueCodecState());
    } catch (e) {
      if (e instanceof Found) return e;
    }
    return undefined;
  }

  #unknownType(type: unknown): never {
    checkType(type, 'checkpointObj');
    throw new ObjHashError('EINVAL', `checkpointObj: type '${type.name}' is not in options.types`);
  }

  /** lookup - objref of obj, or 0 (ckpt_obj_lookup). */
  lookup<T>(obj: T, type: ObjType<T>): number {
    return this.#hash.lookup(obj as never, type);
  }

  /** lookupAdd - find or add without writing anything (ckpt_obj_lookup_add). */
  lookupAdd<T>(obj: T, type: ObjType<T>): { objref: number; first: boolean } {
    return this.#hash.lookupAdd(obj as never, type);
  }

  /** Opens a user record (type 101..8999); close it with end(). */
  begin(type: number): this {
    if (this.#done) throw new ObjHashError('EBADF', 'begin: the checkpoint is finished');
    if (!Number.isInteger(type) || type < REC.USER_MIN || type > REC.USER_MAX)
      throw new ObjHashError('EINVAL', `begin: a user record type must be ${REC.USER_MIN}..${REC.USER_MAX} (got ${type})`);
    if (this.#open !== undefined && !this.#draining) this.#closeOpen();
    this.#writer.begin(type);
    return this;
  }
  /** Closes the innermost open record; returns its offset. */
  end(): number {
    return this.#writer.end();
  }
  u8(v: number): this {
    this.#writer.u8(v);
    return this;
  }
  u16(v: number): this {
    this.#writer.u16(v);
    return this;
  }
  u32(v: number): this {
    this.#writer.u32(v);
    return this;
  }
  i32(v: number): this {
    this.#writer.i32(v);
    return this;
  }
  u64(v: number | bigint): this {
    this.#writer.u64(v);
    return this;
  }
  i64(v: number | bigint): this {
    this.#writer.i64(v);
    return this;
  }
  f64(v: number): this {
    this.#writer.f64(v);
    return this;
  }
  bool(v: boolean): this {
    this.#writer.bool(v);
    return this;
  }
  /** Unsigned varint (LEB128) of an integer 0..2^53-1: 1 byte below 128. */
  uv(v: number): this {
    this.#writer.uv(v);
    return this;
  }
  /** Signed (zigzag) varint of an integer -2^52..2^52-1. */
  sv(v: number): this {
    this.#writer.sv(v);
    return this;
  }
  /** A UTF-8 string with a varint length (1 byte for short strings). */
  vstr(s: string): this {
    this.#writer.vstr(s);
    return this;
  }
  /** A length-prefixed UTF-8 string inside the current record. */
  str(s: string): this {
    this.#writer.str(s);
    return this;
  }
  /** Length-prefixed bytes inside the current record. */
  blob(b: Uint8Array): this {
    this.#writer.blob(b);
    return this;
  }
  /** Zero bytes until the payload position is a multiple of n (1, 2, 4 or 8). */
  align(n: number): this {
    this.#writer.align(n);
    return this;
  }
  /** checkpointObj(obj, type), its objref written into the current record (0 for null/undefined). */
  ref<T>(obj: T | null | undefined, type: ObjType<T>): this {
    const ref = obj === null || obj === undefined ? 0 : this.checkpointObj(obj, type);
    this.#writer.i32(ref);
    return this;
  }
  /** As ref(), the objref as a varint (uv). */
  vref<T>(obj: T | null | undefined, type: ObjType<T>): this {
    const ref = obj === null || obj === undefined ? 0 : this.checkpointObj(obj, type);
    this.#writer.uv(ref);
    return this;
  }
  /** An array of objects of `type` (nulls allowed): uv count, then vref() each. */
  refs<T>(objs: readonly (T | null | undefined)[], type: ObjType<T>): this {
    if (!Array.isArray(objs)) throw new ObjHashError('EINVAL', `refs: expected an array of ${type?.name ?? 'objects'}`);
    this.#writer.uv(objs.length);
    for (let i = 0; i < objs.length; i++) this.vref(objs[i], type);
    return this;
  }
  /** A string, null or undefined (readOptStr() gives back which): one tag byte, then vstr. */
  optStr(s: string | null | undefined): this {
    if (s === undefined) this.#writer.u8(0);
    else if (s === null) this.#writer.u8(1);
    else {
      if (typeof s !== 'string') throw new ObjHashError('EINVAL', `optStr: expected a string, null or undefined, got ${typeof s}`);
      this.#writer.u8(2);
      this.#writer.vstr(s);
    }
    return this;
  }
  /** A BUFFER record. */
  writeBuffer(b: Uint8Array): number {
    if (this.#done) throw new ObjHashError('EBADF', 'writeBuffer: the checkpoint is finished');
    if (this.#open !== undefined && !this.#draining) this.#closeOpen();
    return this.#writer.buffer(b);
  }
  /** A STRING record. */
  writeString(s: string): number {
    if (this.#done) throw new ObjHashError('EBADF', 'writeString: the checkpoint is finished');
    if (this.#open !== undefined && !this.#draining) this.#closeOpen();
    return this.#writer.string(s);
  }

  /** finish - write TAIL, free the hash (dropping every object once); the image, unless streamed. */
  finish(): Uint8Array {
    if (this.#done) throw new ObjHashError('EBADF', 'finish: the checkpoint is already finished');
    if (this.#open !== undefined) this.#closeOpen();
    if (this.#writer.depth !== 0)
      throw new ObjHashError('EINVAL', `finish: ${this.#writer.depth} record(s) still open (missing end())`);
    // deferred walk: what still waits in the queue (on failure, the caller fails the image)
    if (this.#defer && this.#head < this.#tail) this.#drain();
    this.#done = true;
    try {
      if (this.#count === 0)
        throw new ObjHashError('EINVAL', 'finish: no object was checkpointed (an image holds at least its root object)');
      this.#writer.tail(this.#count);
      const image = this.#writer.finish();
      if (image.length > 0) lastImage = image.length;
      lastCount = this.#count;
      return image;
    } finally {
      this.#freeHash();
    }
  }

  /**
   * fail - end the image with an ERROR record carrying `reason` and free
   * the hash; restart of this image throws EIO with that message.  After
   * finish(), fail() or dispose: EBADF (there is no image left to end).
   */
  fail(reason: unknown): Uint8Array {
    if (this.#done) throw new ObjHashError('EBADF', 'fail: the checkpoint is already finished');
    this.#done = true;
    this.#open = undefined;
    try {
      this.#writer.abort();
      this.#writer.error(reason instanceof Error ? reason.message : String(reason));
      return this.#writer.finish();
    } finally {
      this.#freeHash();
    }
  }

  /** Frees the hash if the checkpoint was neither finished nor failed. */
  [Symbol.dispose](): void {
    this.#done = true;
    this.#open = undefined;
    this.#freeHash();
  }

  /** Frees the hash (its drops may throw) and ends the stamping session either way. */
  #freeHash(): void {
    try {
      this.#hash.free();
    } finally {
      this.#stamps?.close();
    }
  }
}

/** What CheckpointContext.#findChild throws when the holder's record asks for the child. */
class Found extends Refusal {
  constructor(step: PathStep | undefined, child: unknown) {
    super(step, 'found', undefined, child);
  }
}

/**
 * Adds to `out` (innermost first) the steps of e inside the record of obj,
 * of type (`step` first when e has none); for a fields type, with the item
 * of the list field that holds the value e unwound out of (e.at), which
 * the writer's step, the field's name, leaves out.
 */
function recordSteps(e: Refusal, obj: unknown, type: ObjType<any>, out: PathStep[], step?: PathStep): void {
  const from = out.length;
  const first = e.step ?? step;
  if (first !== undefined) out.push(first);
  for (const s of e.outer) out.push(s);
  if (type.fields === undefined || out.length === from || e.at === undefined || typeof obj !== 'object' || obj === null) return;
  const name = out[out.length - 1];
  const fd = schemaOf(type).fields.find((f) => f.name === name);
  if (fd === undefined) return;
  let idx: number[] | undefined;
  try {
    idx = itemIndices(fd.kind, (obj as Record<string, unknown>)[fd.name], e.at);
  } catch {
    // (a getter that throws now: the field's name alone)
  }
  if (idx === undefined || idx.length === 0) return;
  out.pop();
  for (let i = idx.length - 1; i >= 0; i--) out.push(idx[i]!);
  out.push(fd.name);
}

/**
 * The steps (innermost first) to `child` inside `holder`, an object of a
 * hand-written type (no step given) or one that could not be fetched (the
 * step the walk kept): the step if there is one, else the path by which
 * the holder's own properties reach the child (the object its checkpoint
 * most likely asked for), else a Via naming the type.
 */
function handSteps(holder: unknown, type: ObjType<any> | undefined, child: unknown, step: PathStep | undefined, out: (PathStep | Via)[]): void {
  if (step !== undefined) {
    out.push(step);
    return;
  }
  const path = findPath(holder, child);
  if (path === undefined) out.push(new Via(type?.name ?? '?'));
  else for (let i = path.length - 1; i >= 0; i--) out.push(path[i]!);
}

/**
 * The steps to `child` that the fields object obj queued at `step`, added
 * to `out` (innermost first) when they need no replay: `step` names a
 * ref/refs field (of any lists) that holds child, and no field before it
 * holds an object in a 'value' (whose inline values may have met child
 * first, under a key that is also the field's name).  False: not known so.
 */
function typedSteps(obj: unknown, type: ObjType<any>, child: unknown, step: PathStep, out: PathStep[]): boolean {
  if (type.fields === undefined || typeof step !== 'string' || typeof obj !== 'object' || obj === null) return false;
  const o = obj as Record<string, unknown>;
  for (const fd of schemaOf(type).fields) {
    const value = leafOf(fd.kind).leaf.k === 'value';
    if (fd.name !== step) {
      if (value && typeof o[fd.name] === 'object' && o[fd.name] !== null) return false;
      continue;
    }
    const idx = value ? undefined : itemIndices(fd.kind, o[fd.name], child);
    if (idx === undefined) return false;
    for (let i = idx.length - 1; i >= 0; i--) out.push(idx[i]!);
    out.push(fd.name);
    return true;
  }
  return false;
}

/** Whether obj has a top-level refs field with more than SLICE_ITEMS items. */
function hasLongRefs(s: SlicedSchema, obj: any): boolean {
  for (let i = 0; i < s.names.length; i++) {
    if (s.writeItems[i] === undefined) continue;
    const a: unknown = obj[s.names[i]!];
    if (Array.isArray(a) && a.length > SLICE_ITEMS) return true;
  }
  return false;
}
