/**
 * CheckpointContext - the kernel's checkpoint-side struct ckpt_ctx: writes
 * an image (HEADER with the type table, each object's OBJREF record and
 * state on first encounter, TAIL), with checkpoint_obj() as checkpointObj.
 */
import { ObjHashError, isStackOverflow } from '../errors.js';
import { REC, type TypeEntry } from '../image/format.js';
import { ImageWriter } from '../image/writer.js';
import { backendFor, crc32cFor } from '../backend/loader.js';
import { ObjHash, seam } from '../hash/objhash.js';
import { checkType, type ObjType } from '../types.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_OBJECTS, checkOptions, checkTypes, positiveInt, type CheckpointOptions } from './options.js';

export class CheckpointContext implements Disposable {
  readonly #hash: ObjHash;
  readonly #writer: ImageWriter;
  /** type id -> image objtype (its 1-based index in options.types). */
  #objtype: number[] = [];
  #types: readonly ObjType<any>[];
  #depth = 0;
  #maxDepth: number;
  #maxObjects: number;
  #count = 0;
  #done = false;

  constructor(opts: CheckpointOptions) {
    checkOptions(opts, 'CheckpointContext');
    this.#types = checkTypes(opts.types, 'CheckpointContext');
    this.#maxDepth = positiveInt(opts.maxDepth, 'maxDepth', DEFAULT_MAX_DEPTH);
    this.#maxObjects = positiveInt(opts.maxObjects, 'maxObjects', DEFAULT_MAX_OBJECTS);
    if (opts.sink !== undefined && typeof opts.sink !== 'function')
      throw new ObjHashError('EINVAL', 'CheckpointContext: options.sink must be a function');
    const b = backendFor(opts.impl);
    this.#writer = new ImageWriter({
      crc32c: crc32cFor(b),
      sink: opts.sink,
      highWaterMark: opts.highWaterMark,
      maxRecord: opts.maxRecord,
      version: opts.version,
    });
    const table: TypeEntry[] = this.#types.map((t, i) => {
      this.#objtype[t.id] = i + 1;
      return { objtype: i + 1, name: t.name };
    });
    this.#writer.writeHeader(table, opts.flags ?? 0);
    this.#hash = new ObjHash({ ...opts.hash, impl: b.name });
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
    const ot = this.#objtype[type?.id];
    if (ot === undefined || this.#types[ot - 1] !== type) this.#unknownType(type);
    if (this.#done) throw new ObjHashError('EBADF', 'checkpointObj: the checkpoint is finished');
    const h = this.#hash;
    const objref = seam.find(h, obj, type, 'checkpointObj');
    if (!seam.added(h)) return objref;
    if (++this.#count > this.#maxObjects)
      throw new ObjHashError('E2BIG', `checkpointObj: more than ${this.#maxObjects} objects (options.maxObjects)`);
    this.#writer.objref(ot, objref);
    const cb = type.checkpoint;
    if (cb !== undefined) {
      if (this.#depth >= this.#maxDepth)
        throw new ObjHashError('ELOOP', `checkpointObj: objects nested deeper than ${this.#maxDepth} (options.maxDepth), at ${type.name} objref ${objref}`);
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
    if (!Number.isInteger(type) || type < REC.USER_MIN || type > REC.USER_MAX)
      throw new ObjHashError('EINVAL', `begin: a user record type must be ${REC.USER_MIN}..${REC.USER_MAX} (got ${type})`);
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
  /** A BUFFER record. */
  writeBuffer(b: Uint8Array): number {
    return this.#writer.buffer(b);
  }
  /** A STRING record. */
  writeString(s: string): number {
    return this.#writer.string(s);
  }

  /** finish - write TAIL, free the hash (dropping every object once); the image, unless streamed. */
  finish(): Uint8Array {
    if (this.#done) throw new ObjHashError('EBADF', 'finish: the checkpoint is already finished');
    if (this.#writer.depth !== 0)
      throw new ObjHashError('EINVAL', `finish: ${this.#writer.depth} record(s) still open (missing end())`);
    this.#done = true;
    try {
      if (this.#count === 0)
        throw new ObjHashError('EINVAL', 'finish: no object was checkpointed (an image holds at least its root object)');
      this.#writer.tail(this.#count);
      return this.#writer.finish();
    } finally {
      this.#hash.free();
    }
  }

  /**
   * fail - end the image with an ERROR record carrying `reason` and free
   * the hash; restart of this image throws EIO with that message.
   */
  fail(reason: unknown): Uint8Array {
    if (this.#done) return new Uint8Array(0);
    this.#done = true;
    try {
      this.#writer.abort();
      this.#writer.error(reason instanceof Error ? reason.message : String(reason));
      return this.#writer.finish();
    } finally {
      this.#hash.free();
    }
  }

  /** Frees the hash if the checkpoint was neither finished nor failed. */
  [Symbol.dispose](): void {
    this.#done = true;
    this.#hash.free();
  }
}
