/**
 * RestartContext - the kernel's restart-side struct ckpt_ctx: reads an
 * image back.  readRecord() consumes OBJREF records transparently,
 * restoring each object right where it was saved (the seed's `goto
 * again`), and objFetch() resolves later references (ckpt_obj_fetch).
 *
 * Every OBJREF goes through the same ObjrefValidator that `verify` runs
 * (lib/image/validate.ts), so the two refuse the same images for every
 * fault visible in the bytes; what only restart can see (a restore that
 * leaves bytes unread, an objref that does not resolve) is reported with
 * the record's offset and the restoring type's name.
 */
import { describe } from '../backend/args.js';
import { LIMITS } from '../backend/codes.js';
import { ObjHashError, isStackOverflow } from '../errors.js';
import { REC, recordTypeName } from '../image/format.js';
import { ImageReader, type RecordInfo } from '../image/reader.js';
import type { ByteSource } from '../image/source.js';
import type { ObjrefValidator } from '../image/validate.js';
import { backendFor, crc32cFor } from '../backend/loader.js';
import { ObjHash, seam } from '../hash/objhash.js';
import { nbitsFor } from '../hash/options.js';
import type { ObjType } from '../types.js';
import { ValueCodecState } from '../values/index.js';
import type { RefReader } from '../walk/refs.js';
import { ValueT, creatorOf, fieldsReadOf, isWalked, readValueBody, slicedReadOf, type ReadFields } from '../walk/walked.js';
import { SLICE_ITEMS, itemRuns, type SliceCursor, type SlicedSchema } from '../schema/index.js';
import { PAGE_BITS, PagedArray } from '../util/paged.js';
import { DEFAULT_MAX_DEPTH, checkOptions, checkTypes, positiveInt, type RestartOptions } from './options.js';


/** Objects of the last restart finished in this thread (0: none yet): the next one's hash starts at that size. */
let lastRestored = 0;

/**
 * Whether a restart puts objects of type t into its hash.  The hash is the
 * restart's own (never handed out) and is freed at its end; only grab and
 * drop need it to hold an object (the kernel's restore_obj grabs, free
 * drops).  For every other type it would hold a second copy of the
 * context's objref table, which answers objFetch itself: one insert fewer
 * per object (docs/INTERNALS.md, "Restart's table").
 */
function held(t: ObjType<any>): boolean {
  return t.grab !== undefined || t.drop !== undefined;
}

/**
 * A record of a fields type read across slices (options.deferRead): one
 * whose payload has at least SLICE_ITEMS bytes is read field by field (an
 * item takes a byte or more: a shorter one cannot hold a long field).
 */
type OpenRead = SliceCursor;

interface Frame {
  objref: number;
  type: ObjType<any>;
  obj: unknown;
  referenced: boolean;
  /** obj was made by a typed reference (#get) before its record: in #slots already */
  made: boolean;
}

/**
 * @internal
 * What lib/stream uses of a RestartContext and nobody else may: the root
 * of an async restart, begun (a nestedFirst root waits for the objects
 * nested before its record, restored by finishSome in slices) and, once
 * finishSome has returned true, taken.
 */
export interface RestartSeam {
  beginRoot(ctx: RestartContext, type: ObjType<any> | undefined): void;
  root(ctx: RestartContext): unknown;
}
/** @internal */
export let restartSeam: RestartSeam;

/** A nestedFirst root whose restore waits until the objects nested before its record are restored. */
interface WaitingRoot {
  at: number;
  objtype: number;
  objref: number;
}

export class RestartContext implements Disposable {
  readonly version: number;
  readonly flags: number;
  readonly #hash: ObjHash;
  readonly #reader: ImageReader;
  readonly #objects: ObjrefValidator;
  /** image objtype -> type (index objtype). */
  #byObjtype: (ObjType<any> | undefined)[] = [];
  /** restores under way, by depth (reused objects) */
  #frames: Frame[] = [];
  /** the root, its restore waiting for the objects nested before its record (beginRoot) */
  #waiting: WaitingRoot | undefined = undefined;
  /** a record read ahead by #restoreNested: the waiting root's own, for its readRecord */
  #held: RecordInfo | undefined = undefined;
  /** the root, for restartSeam.root */
  #root: unknown = undefined;
  #depth = 0;
  #maxDepth: number;
  #count = 0;
  /** depth of the restore that read the current record (0: the caller), -1 when none is open */
  #recDepth = -1;
  #done = false;

  // ---- the walker's side: objects by objref, and references waiting for them
  /** image objtype -> how its records' fields are read, for fields types (undefined: plain values, hand-written ops) */
  #fieldReads: (ReadFields | undefined)[] = [];
  /** options.deferRead: image objtype -> its body in pieces (undefined: read whole) */
  #sliced: (SlicedSchema | undefined)[] = [];
  readonly #deferRead: boolean;
  /** options.deferRead: the record left open by a slice that ended inside it */
  #open: OpenRead | undefined = undefined;
  /**
   * objref -> restored object (slot 2 * objref) and its type (the slot
   * after): side by side, so a reference finds both in one page and one
   * cache line.
   */
  #slots = new PagedArray<unknown>();
  /**
   * References waiting for their object, as lists threaded through flat
   * arrays (no allocation per reference): #fixHead[objref] is the first
   * waiting slot + 1, #fixNext[slot] the next one + 1.
   */
  #fixHead = new Int32Array(1024);
  /** the same for objrefs far beyond the objects defined (a hostile image's: no array sized by them) */
  #fixFar = new Map<number, number>();
  #fixNext: number[] = [];
  #fixHolder: object[] = [];
  #fixKey: (string | number)[] = [];
  #fixType: (ObjType<any> | undefined)[] = [];
  #fixAt: number[] = [];
  #pending = 0;
  /**
   * Objects of fields types made by the first typed reference to them,
   * before their records: #preAt[objref] is that reference's record
   * offset + 1 until the record arrives (then 0).  No fix-up is needed
   * for them.  #creators by type id.
   */
  #preAt = new PagedArray<number>();
  /** The object restored last (its type and objref), for the error of a record nobody read. */
  #lastType: ObjType<any> | undefined = undefined;
  #lastObjref = 0;
  #preCount = 0;
  #creators: ((() => object) | undefined)[] = [];
  #later: (() => void)[] = [];
  #values = new ValueCodecState();
  readonly #refs: RefReader;
  readonly #created: (obj: unknown) => void;

  constructor(image: Uint8Array | ByteSource, opts: RestartOptions) {
    checkOptions(opts, 'RestartContext');
    const types = checkTypes(opts.types, 'RestartContext');
    if (!(image instanceof Uint8Array) && (typeof image !== 'object' || image === null))
      throw new ObjHashError('EINVAL', 'RestartContext: image must be a Uint8Array or a ByteSource');
    this.#maxDepth = positiveInt(opts.maxDepth, 'maxDepth', DEFAULT_MAX_DEPTH);
    if (opts.deferRead !== undefined && typeof opts.deferRead !== 'boolean')
      throw new ObjHashError('EINVAL', 'RestartContext: options.deferRead must be a boolean');
    this.#deferRead = opts.deferRead === true;
    const b = backendFor(opts.impl);
    this.#reader = new ImageReader(image, {
      crc32c: crc32cFor(b),
      maxRecord: opts.maxRecord,
      maxObjrefGap: opts.maxObjrefGap,
      maxObjects: opts.maxObjects,
    });
    const hdr = this.#reader.readHeader();
    this.version = hdr.version;
    this.flags = hdr.flags;
    this.#objects = this.#reader.objects;
    const byName = new Map(types.map((t) => [t.name, t]));
    byName.set(ValueT.name, ValueT);
    for (const e of hdr.types) {
      const t = byName.get(e.name);
      if (t === undefined)
        throw new ObjHashError('EINVAL', `restart: the image has type '${e.name}' (objtype ${e.objtype}), which is not in options.types`, 0);
      this.#byObjtype[e.objtype] = t;
      if (isWalked(t)) {
        if (t !== ValueT) {
          this.#fieldReads[e.objtype] = fieldsReadOf(t, e.schema);
          this.#creators[t.id] = creatorOf(t);
        }
        if (this.#deferRead) this.#sliced[e.objtype] = slicedReadOf(t, e.schema);
      }
      else if (e.schema !== undefined && e.schema.length > 0)
        throw new ObjHashError('EINVAL', `restart: the image wrote type '${e.name}' with fields, but the type given has hand-written ops`, 0);
    }
    // sized like the last restart's (an eighth more), unless the caller
    // says; at its smallest when no type of the image goes into it (held())
    const holds = hdr.types.some((e) => held(this.#byObjtype[e.objtype]!));
    const hint = holds ? lastRestored + (lastRestored >>> 3) : 0;
    this.#hash = new ObjHash({ ...opts.hash, impl: b.name, nbits: opts.hash?.nbits ?? (opts.hash?.fixed ? undefined : nbitsFor(hint)) });
    const ctx = this;
    this.#refs = {
      get: (objref, holder, key) => ctx.#get(objref, undefined, holder, key),
      getTyped: (objref, type, holder, key) => ctx.#get(objref, type, holder, key),
      now: (objref) => ctx.#now(objref),
      later: (fn) => void ctx.#later.push(fn),
      get offset() {
        return ctx.#at();
      },
    };
    this.#created = (obj) => ctx.#onCreated(obj);
  }

  /** Objects restored so far. */
  get count(): number {
    return this.#count;
  }

  /** Offset of the record last read. */
  get recordOffset(): number {
    return this.#reader.recOffset;
  }

  /** Image offset of the next unread record. */
  get offset(): number {
    return this.#reader.offset;
  }

  /** len of the record last read (header included, padding not). */
  get recordLen(): number {
    return this.#reader.len;
  }

  /** The next record, after checking that the current one was read to its end. */
  #next() {
    const held = this.#held;
    if (held !== undefined) {
      this.#held = undefined;
      return held;
    }
    if (this.#recDepth >= 0 && this.#reader.remaining() !== 0) this.#leftover(this.#recDepth);
    this.#recDepth = -1;
    return this.#reader.next();
  }

  /**
   * readRecord - the next record that is not an OBJREF, restoring every
   * object whose OBJREF comes first.  With `type`, any other record type
   * is EINVAL.  Then read its payload with u32(), str(), ... to its last
   * byte (bytes left unread are EINVAL).  Returns the record's type;
   * recordOffset and recordLen tell where it is.
   */
  readRecord(type?: number): number {
    if (this.#open !== undefined && this.#depth === 0) this.#readOpen(Infinity);
    for (;;) {
      const rec = this.#next();
      if (rec.type === REC.OBJREF) {
        this.#restoreCurrent(rec.offset, undefined);
        continue;
      }
      if (rec.type === REC.ERROR) this.#errorRecord(rec.offset);
      if (type !== undefined && rec.type !== type)
        throw new ObjHashError(
          'EINVAL',
          `restart: expected a ${recordTypeName(type)} record at offset ${rec.offset}, found ${recordTypeName(rec.type)}${this.#inRestore()}`,
          rec.offset,
        );
      if (rec.type === REC.TAIL)
        throw new ObjHashError('EINVAL', `restart: the image ends (TAIL at offset ${rec.offset})${this.#inRestore()}`, rec.offset);
      this.#recDepth = this.#depth;
      return rec.type;
    }
  }

  /** The kernel-named alias of readRecord. */
  readObj(type?: number): number {
    return this.readRecord(type);
  }

  #errorRecord(offset: number): never {
    throw new ObjHashError('EIO', `checkpoint failed: ${this.#reader.errorMessage()}`, offset);
  }

  /** ", while restoring <type> objref N" when a restore is under way. */
  #inRestore(): string {
    const f = this.#depth > 0 ? this.#frames[this.#depth - 1]! : undefined;
    return f === undefined ? '' : `, while restoring ${f.type.name} objref ${f.objref}`;
  }

  #leftover(depth: number): never {
    const r = this.#reader;
    const f = depth > 0 ? this.#frames[depth - 1]! : undefined;
    const who = f === undefined ? 'the caller' : `${f.type.name}.restore (objref ${f.objref})`;
    throw new ObjHashError(
      'EINVAL',
      `restart: ${r.remaining()} unread byte(s) at the end of record ${recordTypeName(r.type)} at offset ${r.recOffset}, left by ${who}`,
      r.recOffset,
    );
  }

  /**
   * The root of an async restart (restartSeam.beginRoot): restored now as
   * restoreObj would, or, for a nestedFirst type with hand-written ops,
   * left waiting with its frame set up, so that finishSome restores the
   * objects nested before its record first, as its readRecord would (in
   * its frame: depth, messages), in slices, and calls its restore after.
   */
  #beginRoot(want: ObjType<any> | undefined): void {
    const rec = this.#next();
    if (rec.type === REC.ERROR) this.#errorRecord(rec.offset);
    if (rec.type !== REC.OBJREF) {
      if (rec.type === REC.TAIL) this.#objects.end(rec.offset);
      throw new ObjHashError('EINVAL', `restart: expected an OBJREF record at offset ${rec.offset}, found ${recordTypeName(rec.type)}`, rec.offset);
    }
    const { objtype, objref } = this.#reader.objref();
    const type = this.#byObjtype[objtype]!;
    if (type.nestedFirst !== true || type.restore === undefined || isWalked(type) || !this.#deferRead) {
      this.#root = this.#restoreCurrent(rec.offset, want, 0, objtype, objref);
      return;
    }
    if (want !== undefined && type !== want)
      throw new ObjHashError('ENOMSG', `restart: OBJREF at offset ${rec.offset} is a ${type.name}, expected a ${want.name}`, rec.offset);
    this.#waiting = { at: rec.offset, objtype, objref };
    this.#frameAt(0, objref, type);
    this.#depth = 1;
  }

  /** The frame of the restore at `depth`, set for objref (frames are reused by depth: no allocation per object). */
  #frameAt(depth: number, objref: number, type: ObjType<any>): Frame {
    let frame = this.#frames[depth];
    if (frame === undefined) this.#frames[depth] = frame = { objref, type, obj: undefined, referenced: false, made: false };
    else {
      frame.objref = objref;
      frame.type = type;
      frame.obj = undefined;
      frame.referenced = false;
      frame.made = false;
    }
    return frame;
  }

  /**
   * Restores the objects nested before the waiting root's record until
   * `until` or the offset `before`; false if some are left.  At its own
   * record, calls its restore (which reads that record) and returns true.
   */
  #restoreNested(until: number, before: number): boolean {
    for (;;) {
      const rec = this.#next();
      if (rec.type !== REC.OBJREF) {
        const w = this.#waiting!;
        this.#waiting = undefined;
        this.#held = rec;
        this.#depth = 0;
        this.#root = this.#restoreCurrent(w.at, undefined, undefined, w.objtype, w.objref);
        return true;
      }
      this.#restoreCurrent(rec.offset, undefined);
      if (performance.now() >= until || this.#reader.offset >= before) return false;
    }
  }

  /**
   * restoreObj - read the next OBJREF record and restore its object
   * (restore_obj); returns the object.  With `type`, the object must be
   * of that type (ENOMSG otherwise).
   */
  restoreObj<T>(type?: ObjType<T>): T {
    if (this.#open !== undefined && this.#depth === 0) this.#readOpen(Infinity);
    const rec = this.#next();
    if (rec.type === REC.ERROR) this.#errorRecord(rec.offset);
    if (rec.type !== REC.OBJREF) {
      if (rec.type === REC.TAIL) this.#objects.end(rec.offset);
      throw new ObjHashError(
        'EINVAL',
        `restart: expected an OBJREF record at offset ${rec.offset}, found ${recordTypeName(rec.type)}${this.#inRestore()}`,
        rec.offset,
      );
    }
    return this.#restoreCurrent(rec.offset, type, this.#deferRead && this.#depth === 0 ? 0 : undefined) as T;
  }

  /**
   * Restores the object of the OBJREF record just read.  With `until` (a
   * deferred read at the top), a long record of a fields type is read
   * until then and left open (#open) if unfinished: the object is
   * returned, made and visible, its long field still to come.
   */
  /**
   * Restores the object of the OBJREF record just read (or, given
   * `objtype`, the one read before: a waiting root).  One function, not
   * two: each nesting level of hand-written restores costs its frames of
   * JS stack (test/limits.test.ts checks the headroom).
   */
  #restoreCurrent(at: number, want: ObjType<any> | undefined, until?: number, objtype = -1, objref = 0): unknown {
    if (objtype < 0) {
      // the reader has checked it against the rules verify shares (validate.ts)
      const head = this.#reader.objref();
      objtype = head.objtype;
      objref = head.objref;
    }
    const type = this.#byObjtype[objtype]!;
    if (want !== undefined && type !== want)
      throw new ObjHashError('ENOMSG', `restart: OBJREF at offset ${at} is a ${type.name}, expected a ${want.name}`, at);
    const fields = this.#fieldReads[objtype];
    const walked = fields !== undefined || type === ValueT;
    const restore = type.restore;
    if (restore === undefined && !walked)
      throw new ObjHashError('EINVAL', `restart: type '${type.name}' has no restore (OBJREF at offset ${at})`, at);
    const depth = this.#depth;
    if (depth >= this.#maxDepth)
      throw new ObjHashError('ELOOP', `restart: objects nested deeper than ${this.#maxDepth} (options.maxDepth), at offset ${at}`, at);
    const frame = this.#frameAt(depth, objref, type);
    this.#depth = depth + 1;
    let obj: unknown;
    try {
      if (walked) {
        this.readRecord(fields !== undefined ? REC.FIELDS : REC.VALUE);
        const existing = this.#preCount !== 0 && this.#preAt.get(objref) ? this.#takePre(objref, type, at) : undefined;
        frame.made = existing !== undefined;
        if (fields !== undefined) {
          // made (or taken) and visible before its fields are read: they may refer to it
          obj = existing ?? this.#creators[type.id]!();
          this.#onCreated(obj);
          const sliced = until !== undefined ? this.#sliced[objtype] : undefined;
          if (sliced !== undefined && this.#reader.remaining() >= SLICE_ITEMS) {
            this.#open = { obj, sliced, field: 0, arr: undefined, n: 0, item: 0 };
            this.#readOpen(until!);
          } else fields(this.#reader, obj, this.#refs, this.#values);
        } else {
          obj = readValueBody(this.#reader, this.#refs, this.#values, this.#created);
          if (!frame.referenced) this.#onCreated(obj);
        }
      } else obj = restore!(this);
      if (this.#open === undefined && this.#recDepth === depth + 1 && this.#reader.remaining() !== 0) this.#leftover(depth + 1);
    } catch (e) {
      if (isStackOverflow(e))
        throw new ObjHashError('ELOOP', `restart: stack overflow at depth ${depth + 1} (offset ${at}); lower options.maxDepth`, at);
      throw e;
    } finally {
      this.#depth = depth;
    }
    if (obj === undefined && !walked)
      throw new ObjHashError('EINVAL', `restart: ${type.name}.restore returned undefined (objref ${objref}, offset ${at})`, at);
    if (frame.referenced) {
      if (!Object.is(frame.obj, obj))
        throw new ObjHashError('EINVAL', `restart: ${type.name}.restore returned another object than it passed to reference() (objref ${objref}, offset ${at})`, at);
    } else {
      if (held(type)) seam.insertRestored(this.#hash, obj, objref, type, 'restart');
      this.#define(objref, obj, type);
    }
    this.#count++;
    this.#lastType = type;
    this.#lastObjref = objref;
    return obj;
  }

  /** For a record nobody read: whose restore it probably was (the object restored last, if it has hand-written ops). */
  #unreadBy(recType: number): string {
    const t = this.#lastType;
    if (t === undefined || t.restore === undefined || recType === REC.TAIL || recType === REC.OBJREF) return '';
    return ` (no restore read it: was it the record of ${t.name} objref ${this.#lastObjref}, whose restore returned without readRecord()?)`;
  }

  /**
   * Reads the open record on until performance.now() passes `until`
   * (looked at after each run of SLICE_ITEMS items of a refs field); true
   * once it is read to its end.  Its restore's frame (frames[0]) is the
   * current one meanwhile, for errors.  A failure leaves nothing open.
   */
  #readOpen(until: number): boolean {
    const o = this.#open!;
    const s = o.sliced;
    const r = this.#reader;
    const depth = this.#depth;
    this.#depth = 1;
    try {
      for (; o.field < s.names.length; o.field++) {
        const items = s.readItems[o.field];
        if (o.arr === undefined) {
          if (items === undefined) {
            s.readField[o.field]!(r, o.obj, this.#refs, this.#values);
            continue;
          }
          o.n = s.readCount(r);
          o.arr = [];
          o.item = 0;
        }
        const arr = o.arr;
        if (!itemRuns(o, until, (from, to) => items!(r, arr, this.#refs, from, to))) return false;
        o.obj[s.names[o.field]!] = o.arr;
        o.arr = undefined;
      }
      this.#open = undefined;
      if (r.remaining() !== 0) this.#leftover(1);
      return true;
    } catch (e) {
      this.#open = undefined;
      throw e;
    } finally {
      this.#depth = depth;
    }
  }

  /** The object a typed reference made for objref, now that its record (at `at`, of `type`) arrives. */
  #takePre(objref: number, type: ObjType<any>, at: number): object {
    const want = this.#slots.get(2 * objref + 1) as ObjType<any>;
    if (want !== type)
      throw new ObjHashError('ENOMSG', `restart: objref ${objref}, referred to as a ${want.name} by the record at offset ${this.#preAt.get(objref)! - 1}, is a ${type.name}`, at);
    this.#preAt.set(objref, 0);
    this.#preCount--;
    return this.#slots.get(2 * objref) as object;
  }

  /** A walked object exists (its fields not read yet): visible from now on. */
  #onCreated(obj: unknown): void {
    const frame = this.#frames[this.#depth - 1]!;
    // (a primitive, an image whose root is one, holds its objref with a stand-in)
    if (held(frame.type)) {
      const stand = (typeof obj === 'object' && obj !== null) || typeof obj === 'function' ? obj : {};
      seam.insertRestored(this.#hash, stand, frame.objref, frame.type, 'restart');
    }
    frame.obj = obj;
    frame.referenced = true;
    if (frame.made) this.#resolve(frame.objref, obj, frame.type);
    else this.#define(frame.objref, obj, frame.type);
  }

  /** objref now stands for obj: references waiting for it get it. */
  static {
    restartSeam = {
      beginRoot: (ctx, type) => ctx.#beginRoot(type),
      root: (ctx) => ctx.#root,
    };
  }

  #define(objref: number, obj: unknown, type: ObjType<any>): void {
    this.#slots.set(2 * objref, obj);
    this.#slots.set(2 * objref + 1, type);
    this.#resolve(objref, obj, type);
  }

  /** The fix-ups waiting for objref get obj. */
  #resolve(objref: number, obj: unknown, type: ObjType<any>): void {
    let slot: number;
    if (objref < this.#fixHead.length) {
      slot = this.#fixHead[objref]!;
      this.#fixHead[objref] = 0;
    } else {
      slot = this.#fixFar.get(objref) ?? 0;
      this.#fixFar.delete(objref);
    }
    if (slot === 0) return;
    while (slot !== 0) {
      const i = slot - 1;
      const want = this.#fixType[i];
      if (want !== undefined && want !== type)
        throw new ObjHashError('ENOMSG', `restart: objref ${objref}, referred to as a ${want.name} by the record at offset ${this.#fixAt[i]}, is a ${type.name}`, this.#fixAt[i]);
      (this.#fixHolder[i] as Record<string | number, unknown>)[this.#fixKey[i]!] = obj;
      this.#fixHolder[i] = undefined as never; // let it be collected
      this.#pending--;
      slot = this.#fixNext[i]!;
    }
  }

  /** RefReader.get / getTyped: the object, or undefined and a fix-up. */
  #get(objref: number, type: ObjType<any> | undefined, holder: object, key: string | number): unknown {
    // (an objref read from the image: no paged access past MAX_OBJREF)
    const o = objref <= LIMITS.MAX_OBJREF ? this.#slots.get(2 * objref) : undefined;
    if (o !== undefined) {
      if (type !== undefined && this.#slots.get(2 * objref + 1) !== type)
        throw new ObjHashError('ENOMSG', `restart: objref ${objref} in the record at offset ${this.#at()} is a ${(this.#slots.get(2 * objref + 1) as ObjType<any>).name}, not a ${type.name}`, this.#at());
      return o;
    }
    if (!(objref > 0 && objref <= LIMITS.MAX_OBJREF))
      throw new ObjHashError('EINVAL', `restart: objref ${objref} in the record at offset ${this.#at()} is not an objref`, this.#at());
    const near = 2 * (this.#objects.count + this.#objects.maxObjrefGap);
    if (type !== undefined && objref <= near && !this.#objects.has(objref)) {
      const make = this.#creators[type.id];
      if (make !== undefined) {
        // a fields type: made now, filled when its record comes
        const obj = make();
        this.#slots.set(2 * objref, obj);
        this.#slots.set(2 * objref + 1, type);
        this.#preAt.set(objref, this.#at() + 1);
        this.#preCount++;
        return obj;
      }
    }
    const i = this.#fixNext.length;
    let heads = this.#fixHead;
    if (objref >= heads.length && objref <= near) {
      let n = heads.length * 2;
      while (n <= objref) n *= 2;
      const grown = new Int32Array(n);
      grown.set(heads);
      this.#fixHead = heads = grown;
    }
    const far = objref >= heads.length;
    this.#fixNext.push(far ? (this.#fixFar.get(objref) ?? 0) : heads[objref]!);
    this.#fixHolder.push(holder);
    this.#fixKey.push(key);
    this.#fixType.push(type);
    this.#fixAt.push(this.#at());
    if (far) this.#fixFar.set(objref, i + 1);
    else heads[objref] = i + 1;
    this.#pending++;
    return undefined;
  }

  /** RefReader.now: an object that must be restored already. */
  #now(objref: number): unknown {
    const o = objref <= LIMITS.MAX_OBJREF ? this.#slots.get(2 * objref) : undefined;
    if (o === undefined || this.#preAt.get(objref)! > 0)
      throw new ObjHashError('EINVAL', `restart: objref ${objref} in the record at offset ${this.#at()} is not restored before it (it must be)`, this.#at());
    return o;
  }

  /** At TAIL: every reference resolved, then the deferred fills (Map and Set contents). */
  #settle(tailAt: number): void {
    if (this.#preCount > 0) {
      const objref = firstPositive(this.#preAt);
      const at = this.#preAt.get(objref)! - 1;
      throw new ObjHashError(
        'EINVAL',
        `restart: objref ${objref} is referred to by the record at offset ${at} but no object has it (TAIL at offset ${tailAt})`,
        at,
      );
    }
    if (this.#pending > 0) {
      let objref = this.#fixHead.findIndex((h) => h !== 0);
      let slot = objref >= 0 ? this.#fixHead[objref]! : 0;
      if (objref < 0) [objref, slot] = this.#fixFar.entries().next().value as [number, number];
      const at = this.#fixAt[slot - 1]!;
      throw new ObjHashError(
        'EINVAL',
        `restart: objref ${objref} is referred to by the record at offset ${at} but no object has it (TAIL at offset ${tailAt})`,
        at,
      );
    }
    const later = this.#later;
    this.#later = [];
    for (const fn of later) fn();
  }

  /** Offset of the record being read (else of the next one), for errors. */
  #at(): number {
    const r = this.#reader;
    return r.recOffset >= 0 ? r.recOffset : r.offset;
  }

  /**
   * reference - inside restore: make the object being restored visible to
   * objFetch now, before its children are read, so cycles restore.
   */
  reference<T>(obj: T): T {
    const frame = this.#depth > 0 ? this.#frames[this.#depth - 1] : undefined;
    if (frame === undefined) throw new ObjHashError('EINVAL', 'reference: only inside a restore callback', this.#at());
    if (frame.referenced) {
      if (!Object.is(frame.obj, obj))
        throw new ObjHashError('EINVAL', `reference: called twice with different objects${this.#inRestore()}`, this.#at());
      return obj;
    }
    if (obj === undefined) throw new ObjHashError('EINVAL', `reference: obj must not be undefined${this.#inRestore()}`, this.#at());
    if (held(frame.type)) seam.insertRestored(this.#hash, obj, frame.objref, frame.type, 'reference');
    frame.obj = obj;
    frame.referenced = true;
    this.#define(frame.objref, obj, frame.type);
    return obj;
  }

  /** objFetch - the restored object with that objref (ckpt_obj_fetch). */
  objFetch<T>(objref: number, type: ObjType<T>): T {
    // as in vref: an object restored before, of this type, from the context's table
    if ((objref | 0) === objref && objref > 0 && objref <= LIMITS.MAX_OBJREF && this.#slots.get(2 * objref + 1) === type && (this.#preCount === 0 || !this.#preAt.get(objref)))
      return this.#slots.get(2 * objref) as T;
    try {
      return this.#hash.fetch(objref, type);
    } catch (e) {
      throw this.#fetchError(this.#otherType(e, objref, type), objref, type);
    }
  }

  /**
   * The hash's "no object" for an objref restored as an object of another
   * type that the hash does not hold (see held()): ENOMSG, as the hash
   * says for one it holds.
   */
  #otherType(e: unknown, objref: number, type: ObjType<any>): unknown {
    if (!(e instanceof ObjHashError) || e.code !== 'EINVAL' || !((objref | 0) === objref && objref > 0 && objref <= LIMITS.MAX_OBJREF)) return e;
    const t = this.#slots.get(2 * objref + 1) as ObjType<any> | undefined;
    if (t === undefined || t === type || (this.#preCount !== 0 && this.#preAt.get(objref))) return e;
    return new ObjHashError('ENOMSG', `fetch: objref ${objref} is not a ${type.name}`);
  }

  /** Why objFetch failed, said with the record, the restoring type and what to do. */
  #fetchError(e: unknown, objref: unknown, type: ObjType<any>): unknown {
    if (!(e instanceof ObjHashError) || e.code === 'EBADF') return e;
    const r = this.#reader;
    const where =
      `restart: objFetch(${describe(objref)}, ${type?.name ?? describe(type)}) in ` +
      (r.recOffset >= 0 ? `record ${recordTypeName(r.type)} at offset ${r.recOffset}` : `the image at offset ${r.offset}`) +
      this.#inRestore();
    let why: string;
    if (typeof objref !== 'number' || !Number.isInteger(objref) || objref <= 0) why = 'not an objref (an integer 1..2^31-1)';
    else if (e.code === 'ENOMSG') why = e.message.replace(/^fetch: /, '');
    else {
      const running = this.#frames.slice(0, this.#depth).find((f) => f.objref === objref && !f.referenced);
      if (running !== undefined && this.#waiting !== undefined && running === this.#frames[0])
        why =
          `objref ${objref} is the ${running.type.name} whose restore waits: ${running.type.name} is declared nestedFirst, ` +
          `so an async restart restores the objects nested before its record first, and none of them may refer to it`;
      else if (running !== undefined)
        why =
          `objref ${objref} is the ${running.type.name} whose restore is still running: ` +
          `call ctx.reference(obj) in ${running.type.name}.restore before reading the records that refer to it`;
      else if (!this.#objects.has(objref)) why = `no object with objref ${objref} has been restored before this point (a forward reference, or no such object)`;
      else why = e.message.replace(/^fetch: /, '');
    }
    return new ObjHashError(e.code, `${where}: ${why}`, this.#at(), { cause: e });
  }

  /** objFetch of an objref read from the current record (0 gives null). */
  ref<T>(type: ObjType<T>): T | null {
    const r = this.#reader.i32();
    return r === 0 ? null : this.objFetch(r, type);
  }
  /** As ref(), for an objref written by vref(). */
  vref<T>(type: ObjType<T>): T | null {
    const r = this.#reader.uv();
    if (r === 0) return null;
    // an object restored (or referenced) before, of this type: the
    // context's own table answers as the hash would (one made ahead of its
    // record, for a fields type, is not restored yet: the hash says so)
    if (r <= LIMITS.MAX_OBJREF && this.#slots.get(2 * r + 1) === type && (this.#preCount === 0 || !this.#preAt.get(r)))
      return this.#slots.get(2 * r) as T;
    return this.objFetch(r, type);
  }

  /** As ref(), but an objref of 0 (null) is EINVAL: the object must be there. */
  requireRef<T>(type: ObjType<T>): T {
    const r = this.#reader.i32();
    if (r === 0) throw this.#nullRef(type);
    return this.objFetch(r, type);
  }
  /** As vref(), but 0 (null) is EINVAL. */
  requireVref<T>(type: ObjType<T>): T {
    const r = this.#reader.uv();
    if (r === 0) throw this.#nullRef(type);
    return this.objFetch(r, type);
  }
  #nullRef(type: ObjType<any>): ObjHashError {
    return new ObjHashError('EINVAL', `restart: a ${type?.name} is required in the record at offset ${this.#at()}${this.#inRestore()}, found null`, this.#at());
  }
  /** What CheckpointContext.refs() wrote: the objects (null where it wrote null or undefined). */
  readRefs<T>(type: ObjType<T>): (T | null)[] {
    const n = this.#reader.uv();
    // each objref takes at least one byte: a count the record cannot hold is refused before allocating
    if (n > this.#reader.remaining())
      throw new ObjHashError('EINVAL', `restart: readRefs: count ${n} is more than the ${this.#reader.remaining()} bytes left in the record at offset ${this.#at()}`, this.#at());
    const out: (T | null)[] = [];
    for (let i = 0; i < n; i++) out.push(this.vref(type));
    return out;
  }
  /** What CheckpointContext.optStr() wrote. */
  readOptStr(): string | null | undefined {
    const tag = this.#reader.u8();
    if (tag === 2) return this.#reader.vstr();
    if (tag === 1) return null;
    if (tag === 0) return undefined;
    throw new ObjHashError('EINVAL', `restart: readOptStr: bad tag ${tag} in the record at offset ${this.#at()}`, this.#at());
  }

  u8(): number {
    return this.#reader.u8();
  }
  u16(): number {
    return this.#reader.u16();
  }
  u32(): number {
    return this.#reader.u32();
  }
  i32(): number {
    return this.#reader.i32();
  }
  u64(): bigint {
    return this.#reader.u64();
  }
  /** A u64 that must fit a number (EINVAL otherwise). */
  u64n(): number {
    return this.#reader.u64n();
  }
  i64(): bigint {
    return this.#reader.i64();
  }
  f64(): number {
    return this.#reader.f64();
  }
  bool(): boolean {
    return this.#reader.bool();
  }
  str(): string {
    return this.#reader.str();
  }
  uv(): number {
    return this.#reader.uv();
  }
  sv(): number {
    return this.#reader.sv();
  }
  vstr(): string {
    return this.#reader.vstr();
  }
  blob(): Uint8Array {
    return this.#reader.blob();
  }
  /** Skips zero padding until the payload position is a multiple of n (1, 2, 4 or 8). */
  align(n: number): this {
    this.#reader.align(n);
    return this;
  }
  /** Unread payload bytes of the current record. */
  remaining(): number {
    return this.#reader.remaining();
  }

  /** Reads a BUFFER record (objects before it restored); its bytes. */
  readBuffer(): Uint8Array {
    this.readRecord(REC.BUFFER);
    return this.#reader.payload();
  }

  /** Reads a STRING record; its text (exactly, a leading U+FEFF included; invalid UTF-8 is EINVAL). */
  readString(): string {
    this.readRecord(REC.STRING);
    return this.#reader.payloadText();
  }

  /**
   * finish - the next record must be TAIL (objects defined before it are
   * restored first, as readRecord does), with the right object count and
   * CRC, and nothing may follow it; then free the hash.
   */
  finish(): void {
    this.finishSome(Infinity);
  }

  /**
   * finishSome - finish() in slices, for a caller that yields to the event
   * loop between them (restartFromStream): restores the objects defined
   * before TAIL for about `ms` milliseconds and returns false while some
   * remain; returns true once TAIL is checked and the hash freed, as
   * finish() does.  A failure frees the hash too.  Only objects written
   * from the walker's queue (fields types, plain values deeper than one
   * record) come one by one; the others restore with the object that
   * holds them.  With `before`, it also stops (false) before a record
   * that starts at that image offset or later: restartFromStream keeps a
   * window of bytes ahead of each object it starts.
   */
  finishSome(ms: number, before = Infinity): boolean {
    if (this.#done) throw new ObjHashError('EBADF', 'finish: the restart is already finished');
    const sliced = ms !== Infinity || before !== Infinity;
    const until = ms !== Infinity ? performance.now() + ms : Infinity;
    let more = false;
    try {
      // an open record's bytes are all in the reader already
      if (this.#open !== undefined && !this.#readOpen(until)) {
        more = true;
        return false;
      }
      if (this.#reader.offset >= before) {
        more = true;
        return false;
      }
      if (this.#waiting !== undefined && !this.#restoreNested(until, before)) {
        more = true;
        return false;
      }
      let rec = this.#next();
      while (rec.type === REC.OBJREF) {
        this.#restoreCurrent(rec.offset, undefined, this.#deferRead && sliced ? until : undefined);
        if (sliced && (this.#open !== undefined || performance.now() >= until || this.#reader.offset >= before)) {
          more = true;
          return false;
        }
        rec = this.#next();
      }
      this.#done = true;
      if (rec.type === REC.ERROR) this.#errorRecord(rec.offset);
      if (rec.type !== REC.TAIL)
        throw new ObjHashError('EINVAL', `restart: expected TAIL at offset ${rec.offset}, found ${recordTypeName(rec.type)}${this.#unreadBy(rec.type)}`, rec.offset);
      this.#objects.end(rec.offset);
      this.#settle(rec.offset);
      this.#reader.tail(this.#count);
      lastRestored = this.#count;
      return true;
    } finally {
      if (!more) {
        this.#done = true;
        this.#release();
      }
    }
  }

  /** Frees the hash if the restart was not finished. */
  [Symbol.dispose](): void {
    this.#done = true;
    this.#release();
  }

  /** Frees the hash and lets go of every object the walker's tables hold. */
  #release(): void {
    this.#open = undefined;
    this.#waiting = undefined;
    this.#held = undefined;
    this.#slots = new PagedArray();
    this.#fixHead = new Int32Array(0);
    this.#fixFar = new Map();
    this.#fixNext = [];
    this.#fixHolder = [];
    this.#fixKey = [];
    this.#fixType = [];
    this.#fixAt = [];
    this.#later = [];
    this.#frames = [];
    this.#preAt = new PagedArray();
    this.#creators = [];
    this.#hash.free();
  }
}

/** The first index whose value is > 0 (-1: none). */
function firstPositive(a: PagedArray<number>): number {
  for (let k = 0; k < a.pages.length; k++) {
    const p = a.pages[k];
    if (p === undefined) continue;
    for (let j = 0; j < p.length; j++) if (p[j]! > 0) return (k << PAGE_BITS) + j;
  }
  return -1;
}
