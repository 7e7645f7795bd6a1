/**
 * Checkpoint and restart contexts: the kernel's struct ckpt_ctx with its
 * checkpoint_obj() / restore_obj() / ckpt_obj_fetch(), over the record
 * stream of DESIGN §4.
 */
import type { Backend } from '../backend/contract.js';
import { ObjHashError } from '../errors.js';
import { REC, recordTypeName, type TypeEntry } from '../image/format.js';
import { ImageReader } from '../image/reader.js';
import type { ByteSource } from '../image/source.js';
import { ImageWriter } from '../image/writer.js';
import { defaultBackend, getBackend, type ImplName } from '../backend/loader.js';
import { ObjHash, type ObjHashOptions } from '../hash/objhash.js';
import { checkType, type ObjType } from '../types.js';

/** Default limit on nested checkpointObj/restoreObj calls. */
export const DEFAULT_MAX_DEPTH = 2000;
/** Default limit on how far an objref may run ahead of the objects restored. */
export const DEFAULT_MAX_OBJREF_GAP = 1 << 20;
/** Default limit on the objects in one image. */
export const DEFAULT_MAX_OBJECTS = 0x7ffffffe;

export interface ContextOptions {
  /** Every object type the image may hold (the header's type table). */
  types: readonly ObjType<any>[];
  /** Backend (default: the loader's choice). */
  impl?: ImplName;
  /** Options of the objhash (nbits, fixed, maxLoad, multiplier). */
  hash?: Omit<ObjHashOptions, 'impl'>;
  /** Nesting limit for objects inside objects (ELOOP past it). */
  maxDepth?: number;
  /** Largest record, in bytes (E2BIG past it); default 64 MiB. */
  maxRecord?: number;
  /** Most objects in one image (E2BIG past it). */
  maxObjects?: number;
  /**
   * Restart: how far an objref may lie beyond the objects restored so far
   * (EINVAL past it; default 2^20).  Images from checkpoint() number their
   * objects 1, 2, 3... in order; the bound keeps a hostile image from
   * choosing objrefs that all fall into one bucket of the hash.
   */
  maxObjrefGap?: number;
}

export interface CheckpointOptions extends ContextOptions {
  /** Stream the image: complete chunks go here instead of into memory. */
  sink?: (chunk: Uint8Array) => void;
  /** Bytes buffered before a chunk goes to the sink (default 1 MiB). */
  highWaterMark?: number;
  /** Header flags (a u32 of yours). */
  flags?: number;
}

function positiveInt(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new ObjHashError('EINVAL', `options.${name} must be a positive integer (got ${String(v)})`);
  return v;
}

function checkTypes(types: unknown, where: string): readonly ObjType<any>[] {
  if (!Array.isArray(types) || types.length === 0)
    throw new ObjHashError('EINVAL', `${where}: options.types must be a non-empty array of ObjTypes`);
  const names = new Set<string>();
  for (const t of types) {
    checkType(t, where, 'options.types[]');
    if (names.has(t.name)) throw new ObjHashError('EINVAL', `${where}: two types are named '${t.name}'`);
    names.add(t.name);
  }
  return types;
}

function isStackOverflow(e: unknown): boolean {
  // No RegExp: compiling one this close to the stack limit throws a
  // SyntaxError ("Invalid regular expression ... stack overflow"), which
  // then escaped instead of ELOOP.
  return e instanceof RangeError && e.message.includes('call stack');
}

function backendOf(impl: ImplName | undefined): Backend {
  return impl === undefined ? defaultBackend : getBackend(impl);
}

/**
 * CheckpointContext - writes an image: HEADER (with the type table), then
 * each object's OBJREF record and state on first encounter, then TAIL.
 */
export class CheckpointContext implements Disposable {
  readonly hash: ObjHash;
  readonly writer: ImageWriter;
  /** type id -> image objtype (its 1-based index in options.types). */
  #objtype: number[] = [];
  #types: readonly ObjType<any>[];
  #depth = 0;
  #maxDepth: number;
  #maxObjects: number;
  #count = 0;
  #done = false;

  constructor(opts: CheckpointOptions) {
    if (typeof opts !== 'object' || opts === null)
      throw new ObjHashError('EINVAL', 'CheckpointContext: options must be an object');
    this.#types = checkTypes(opts.types, 'CheckpointContext');
    this.#maxDepth = positiveInt(opts.maxDepth, 'maxDepth', DEFAULT_MAX_DEPTH);
    this.#maxObjects = positiveInt(opts.maxObjects, 'maxObjects', DEFAULT_MAX_OBJECTS);
    if (opts.sink !== undefined && typeof opts.sink !== 'function')
      throw new ObjHashError('EINVAL', 'CheckpointContext: options.sink must be a function');
    const b = backendOf(opts.impl);
    this.writer = new ImageWriter({
      crc32c: (bytes, crc) => b.crc32c(bytes, crc),
      sink: opts.sink,
      highWaterMark: opts.highWaterMark,
      maxRecord: opts.maxRecord,
    });
    const table: TypeEntry[] = this.#types.map((t, i) => {
      this.#objtype[t.id] = i + 1;
      return { objtype: i + 1, name: t.name };
    });
    this.writer.writeHeader(table, opts.flags ?? 0);
    this.hash = new ObjHash({ ...opts.hash, impl: b.name });
  }

  /** Objects written so far. */
  get count(): number {
    return this.#count;
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
    const r = this.hash._lookupAdd(obj, type, 'checkpointObj');
    if (r % 2 === 0) return r / 2;
    const objref = (r - 1) / 2;
    if (++this.#count > this.#maxObjects)
      throw new ObjHashError('E2BIG', `checkpointObj: more than ${this.#maxObjects} objects (options.maxObjects)`);
    this.writer.objref(ot, objref);
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
    return this.hash.lookup(obj as never, type);
  }

  /** lookupAdd - find or add without writing anything (ckpt_obj_lookup_add). */
  lookupAdd<T>(obj: T, type: ObjType<T>): { objref: number; first: boolean } {
    return this.hash.lookupAdd(obj as never, type);
  }

  /** Opens a user record (type 101..8999); close it with end(). */
  begin(type: number): this {
    if (!Number.isInteger(type) || type < REC.USER_MIN || type > REC.USER_MAX)
      throw new ObjHashError('EINVAL', `begin: a user record type must be ${REC.USER_MIN}..${REC.USER_MAX} (got ${type})`);
    this.writer.begin(type);
    return this;
  }
  /** Closes the innermost open record; returns its offset. */
  end(): number {
    return this.writer.end();
  }
  u8(v: number): this {
    this.writer.u8(v);
    return this;
  }
  u16(v: number): this {
    this.writer.u16(v);
    return this;
  }
  u32(v: number): this {
    this.writer.u32(v);
    return this;
  }
  i32(v: number): this {
    this.writer.i32(v);
    return this;
  }
  u64(v: number | bigint): this {
    this.writer.u64(v);
    return this;
  }
  i64(v: number | bigint): this {
    this.writer.i64(v);
    return this;
  }
  f64(v: number): this {
    this.writer.f64(v);
    return this;
  }
  bool(v: boolean): this {
    this.writer.bool(v);
    return this;
  }
  /** Unsigned varint (LEB128) of an integer 0..2^53-1: 1 byte below 128. */
  uv(v: number): this {
    this.writer.uv(v);
    return this;
  }
  /** Signed (zigzag) varint of an integer -2^52..2^52-1. */
  sv(v: number): this {
    this.writer.sv(v);
    return this;
  }
  /** A UTF-8 string with a varint length (1 byte for short strings). */
  vstr(s: string): this {
    this.writer.vstr(s);
    return this;
  }
  /** A length-prefixed UTF-8 string inside the current record. */
  str(s: string): this {
    this.writer.str(s);
    return this;
  }
  /** Length-prefixed bytes inside the current record. */
  blob(b: Uint8Array): this {
    this.writer.blob(b);
    return this;
  }
  /** checkpointObj(obj, type), its objref written into the current record (0 for null/undefined). */
  ref<T>(obj: T | null | undefined, type: ObjType<T>): this {
    const ref = obj === null || obj === undefined ? 0 : this.checkpointObj(obj, type);
    this.writer.i32(ref);
    return this;
  }
  /** As ref(), the objref as a varint (uv). */
  vref<T>(obj: T | null | undefined, type: ObjType<T>): this {
    const ref = obj === null || obj === undefined ? 0 : this.checkpointObj(obj, type);
    this.writer.uv(ref);
    return this;
  }
  /** A BUFFER record. */
  writeBuffer(b: Uint8Array): number {
    return this.writer.buffer(b);
  }
  /** A STRING record. */
  writeString(s: string): number {
    return this.writer.string(s);
  }

  /** finish - write TAIL, free the hash (dropping every object once); the image, unless streamed. */
  finish(): Uint8Array {
    if (this.#done) throw new ObjHashError('EBADF', 'finish: the checkpoint is already finished');
    if (this.writer.depth !== 0)
      throw new ObjHashError('EINVAL', `finish: ${this.writer.depth} record(s) still open (missing end())`);
    this.#done = true;
    try {
      this.writer.tail(this.#count);
      return this.writer.finish();
    } finally {
      this.hash.free();
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
      this.writer.abort();
      this.writer.error(reason instanceof Error ? reason.message : String(reason));
      return this.writer.finish();
    } finally {
      this.hash.free();
    }
  }

  /** Frees the hash if the checkpoint was neither finished nor failed. */
  [Symbol.dispose](): void {
    this.#done = true;
    this.hash.free();
  }
}

interface Frame {
  objref: number;
  type: ObjType<any>;
  obj: unknown;
  referenced: boolean;
}


/**
 * RestartContext - reads an image back: readRecord() consumes OBJREF
 * records transparently, restoring each object right where it was saved
 * (the seed's `goto again`), and objFetch() resolves later references.
 */
export class RestartContext implements Disposable {
  readonly hash: ObjHash;
  readonly reader: ImageReader;
  readonly version: number;
  readonly flags: number;
  /** image objtype -> type (index objtype). */
  #byObjtype: (ObjType<any> | undefined)[] = [];
  /** restores under way, by depth (reused objects) */
  #frames: Frame[] = [];
  #depth = 0;
  #maxDepth: number;
  #maxObjects: number;
  #maxGap: number;
  #count = 0;
  #done = false;

  constructor(image: Uint8Array | ByteSource, opts: ContextOptions) {
    if (typeof opts !== 'object' || opts === null)
      throw new ObjHashError('EINVAL', 'RestartContext: options must be an object');
    const types = checkTypes(opts.types, 'RestartContext');
    if (!(image instanceof Uint8Array) && (typeof image !== 'object' || image === null))
      throw new ObjHashError('EINVAL', 'RestartContext: image must be a Uint8Array or a ByteSource');
    this.#maxDepth = positiveInt(opts.maxDepth, 'maxDepth', DEFAULT_MAX_DEPTH);
    this.#maxObjects = positiveInt(opts.maxObjects, 'maxObjects', DEFAULT_MAX_OBJECTS);
    this.#maxGap = positiveInt(opts.maxObjrefGap, 'maxObjrefGap', DEFAULT_MAX_OBJREF_GAP);
    const b = backendOf(opts.impl);
    this.reader = new ImageReader(image, { crc32c: (bytes, crc) => b.crc32c(bytes, crc), maxRecord: opts.maxRecord });
    const hdr = this.reader.readHeader();
    this.version = hdr.version;
    this.flags = hdr.flags;
    const byName = new Map(types.map((t) => [t.name, t]));
    for (const e of hdr.types) {
      const t = byName.get(e.name);
      if (t === undefined)
        throw new ObjHashError('EINVAL', `restart: the image has type '${e.name}' (objtype ${e.objtype}), which is not in options.types`, 0);
      if (this.#byObjtype[e.objtype] !== undefined)
        throw new ObjHashError('EINVAL', `restart: objtype ${e.objtype} appears twice in the header`, 0);
      this.#byObjtype[e.objtype] = t;
    }
    this.hash = new ObjHash({ ...opts.hash, impl: b.name });
  }

  /** Objects restored so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * readRecord - the next record that is not an OBJREF, restoring every
   * object whose OBJREF comes first.  With `type`, any other record type
   * is EINVAL.  Then read its payload with u32(), str(), ...  Returns the
   * record's type; recordOffset and recordLen tell where it is.
   */
  readRecord(type?: number): number {
    for (;;) {
      const rec = this.reader.next();
      if (rec.type === REC.OBJREF) {
        this.#restoreCurrent(rec.offset, undefined);
        continue;
      }
      if (rec.type === REC.ERROR) this.#errorRecord(rec.offset);
      if (type !== undefined && rec.type !== type)
        throw new ObjHashError(
          'EINVAL',
          `restart: expected a ${recordTypeName(type)} record at offset ${rec.offset}, found ${recordTypeName(rec.type)}`,
          rec.offset,
        );
      return rec.type;
    }
  }

  /** The kernel-named alias of readRecord. */
  readObj(type?: number): number {
    return this.readRecord(type);
  }

  /** Offset of the record last read. */
  get recordOffset(): number {
    return this.reader.recOffset;
  }

  /** len of the record last read (header included, padding not). */
  get recordLen(): number {
    return this.reader.len;
  }

  #errorRecord(offset: number): never {
    throw new ObjHashError('EIO', `checkpoint failed: ${this.reader.errorMessage()}`, offset);
  }

  /**
   * restoreObj - read the next OBJREF record and restore its object
   * (restore_obj); returns the object.  With `type`, the object must be
   * of that type (ENOMSG otherwise).
   */
  restoreObj<T>(type?: ObjType<T>): T {
    const rec = this.reader.next();
    if (rec.type === REC.ERROR) this.#errorRecord(rec.offset);
    if (rec.type !== REC.OBJREF)
      throw new ObjHashError('EINVAL', `restart: expected an OBJREF record at offset ${rec.offset}, found ${recordTypeName(rec.type)}`, rec.offset);
    return this.#restoreCurrent(rec.offset, type) as T;
  }

  #restoreCurrent(at: number, want: ObjType<any> | undefined): unknown {
    const { objtype, objref } = this.reader.objref();
    const type = this.#byObjtype[objtype];
    if (type === undefined) throw new ObjHashError('EINVAL', `restart: unknown objtype ${objtype} in OBJREF at offset ${at}`, at);
    if (want !== undefined && type !== want)
      throw new ObjHashError('ENOMSG', `restart: OBJREF at offset ${at} is a ${type.name}, expected a ${want.name}`, at);
    if (objref <= 0) throw new ObjHashError('EINVAL', `restart: objref ${objref} <= 0 in OBJREF at offset ${at}`, at);
    if (objref - (this.#count + this.#depth) > this.#maxGap)
      throw new ObjHashError(
        'EINVAL',
        `restart: objref ${objref} in OBJREF at offset ${at} is more than ${this.#maxGap} (options.maxObjrefGap) beyond the ${this.#count + this.#depth} objects read`,
        at,
      );
    // An objref defined again inside its own restore is caught when the
    // outer restore inserts it (the hash refuses a used objref).
    if (this.hash._has(objref)) throw new ObjHashError('EINVAL', `restart: objref ${objref} defined twice (OBJREF at offset ${at})`, at);
    const restore = type.restore;
    if (restore === undefined) throw new ObjHashError('EINVAL', `restart: type '${type.name}' has no restore (OBJREF at offset ${at})`, at);
    // restores under way (this.#depth) are objects too: nested ones are
    // counted only when they return
    if (this.#count + this.#depth >= this.#maxObjects)
      throw new ObjHashError('E2BIG', `restart: more than ${this.#maxObjects} objects (options.maxObjects), at offset ${at}`, at);
    const depth = this.#depth;
    if (depth >= this.#maxDepth)
      throw new ObjHashError('ELOOP', `restart: objects nested deeper than ${this.#maxDepth} (options.maxDepth), at offset ${at}`, at);
    // frames are reused by depth: no allocation per object
    let frame = this.#frames[depth];
    if (frame === undefined) this.#frames[depth] = frame = { objref, type, obj: undefined, referenced: false };
    else {
      frame.objref = objref;
      frame.type = type;
      frame.obj = undefined;
      frame.referenced = false;
    }
    this.#depth = depth + 1;
    let obj: unknown;
    try {
      obj = restore(this);
    } catch (e) {
      if (isStackOverflow(e))
        throw new ObjHashError('ELOOP', `restart: stack overflow at depth ${depth + 1} (offset ${at}); lower options.maxDepth`, at);
      throw e;
    } finally {
      this.#depth = depth;
    }
    if (obj === undefined)
      throw new ObjHashError('EINVAL', `restart: ${type.name}.restore returned undefined (objref ${objref}, offset ${at})`, at);
    if (frame.referenced) {
      if (frame.obj !== obj)
        throw new ObjHashError('EINVAL', `restart: ${type.name}.restore returned another object than it passed to reference() (objref ${objref})`, at);
    } else {
      this.hash._insertRestored(obj, objref, type, 'restart');
    }
    this.#count++;
    return obj;
  }

  /**
   * reference - inside restore: make the object being restored visible to
   * objFetch now, before its children are read, so cycles restore.
   */
  reference<T>(obj: T): T {
    const frame = this.#depth > 0 ? this.#frames[this.#depth - 1] : undefined;
    if (frame === undefined) throw new ObjHashError('EINVAL', 'reference: only inside a restore callback');
    if (frame.referenced) {
      if (frame.obj !== obj) throw new ObjHashError('EINVAL', 'reference: called twice with different objects');
      return obj;
    }
    if (obj === undefined) throw new ObjHashError('EINVAL', 'reference: obj must not be undefined');
    this.hash._insertRestored(obj, frame.objref, frame.type, 'reference');
    frame.obj = obj;
    frame.referenced = true;
    return obj;
  }

  /** objFetch - the restored object with that objref (ckpt_obj_fetch). */
  objFetch<T>(objref: number, type: ObjType<T>): T {
    return this.hash.fetch(objref, type);
  }

  /** objFetch of an objref read from the current record (0 gives null). */
  ref<T>(type: ObjType<T>): T | null {
    const r = this.reader.i32();
    return r === 0 ? null : this.hash.fetch(r, type);
  }
  /** As ref(), for an objref written by vref(). */
  vref<T>(type: ObjType<T>): T | null {
    const r = this.reader.uv();
    return r === 0 ? null : this.hash.fetch(r, type);
  }

  u8(): number {
    return this.reader.u8();
  }
  u16(): number {
    return this.reader.u16();
  }
  u32(): number {
    return this.reader.u32();
  }
  i32(): number {
    return this.reader.i32();
  }
  u64(): bigint {
    return this.reader.u64();
  }
  /** A u64 that must fit a number (EINVAL otherwise). */
  u64n(): number {
    return this.reader.u64n();
  }
  i64(): bigint {
    return this.reader.i64();
  }
  f64(): number {
    return this.reader.f64();
  }
  bool(): boolean {
    return this.reader.bool();
  }
  str(): string {
    return this.reader.str();
  }
  uv(): number {
    return this.reader.uv();
  }
  sv(): number {
    return this.reader.sv();
  }
  vstr(): string {
    return this.reader.vstr();
  }
  blob(): Uint8Array {
    return this.reader.blob();
  }
  /** Unread payload bytes of the current record. */
  remaining(): number {
    return this.reader.remaining();
  }

  /** Reads a BUFFER record (objects before it restored); its bytes. */
  readBuffer(): Uint8Array {
    this.readRecord(REC.BUFFER);
    return this.reader.payload();
  }

  /** Reads a STRING record; its text. */
  readString(): string {
    this.readRecord(REC.STRING);
    return new TextDecoder('utf-8', { fatal: false }).decode(this.reader.payload());
  }

  /**
   * finish - the next record must be TAIL with the right object count and
   * CRC, and nothing may follow it; then free the hash.
   */
  finish(): void {
    if (this.#done) throw new ObjHashError('EBADF', 'finish: the restart is already finished');
    this.#done = true;
    try {
      const rec = this.reader.next();
      if (rec.type === REC.ERROR) this.#errorRecord(rec.offset);
      if (rec.type !== REC.TAIL)
        throw new ObjHashError('EINVAL', `restart: expected TAIL at offset ${rec.offset}, found ${recordTypeName(rec.type)}`, rec.offset);
      this.reader.tail(this.#count);
    } finally {
      this.hash.free();
    }
  }

  /** Frees the hash if the restart was not finished. */
  [Symbol.dispose](): void {
    this.#done = true;
    this.hash.free();
  }
}
