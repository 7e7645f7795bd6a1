/**
 * ImageWriter: encodes a checkpoint image (docs/FORMAT.md), in format
 * version 2 (default) or 1: the HEADER and its type table, OBJREF records
 * (version 2: implicit objrefs where they come in order), BUFFER, STRING,
 * user, FIELDS and VALUE records, TAIL or ERROR.  The records and their
 * nesting are record-writer.ts's, the payload writers payload-writer.ts's.
 */
import { ObjHashError } from '../errors.js';
import {
  REC,
  HEADER_MAGIC,
  TAIL_MAGIC,
  FORMAT_VERSION,
  FORMAT_VERSIONS,
  TAIL_COUNT_AT,
  TAIL_CRC_AT,
  TAIL_LEN,
  TAIL_MAGIC_AT,
  TAIL_PAYLOAD,
  V1_HEADER,
  checkMaxRecord,
  padding,
  recordTypeName,
  uvLength,
  v2Head,
  type Crc32c,
  type TypeEntry,
} from './format.js';
import { RecordWriter, putUv } from './record-writer.js';
import { ObjrefSet } from './validate.js';
import { wellFormed } from '../util/strings.js';

export interface ImageWriterOptions {
  /** CRC-32C extender from the backend. */
  crc32c: Crc32c;
  /** Receives the image in chunks (streaming); without it finish() returns the whole image. */
  sink?: ((chunk: Uint8Array) => void) | undefined;
  /** With a sink: flush once more than this many completed bytes are buffered (default 1 MiB). */
  highWaterMark?: number | undefined;
  /** Largest record `len` (default DEFAULT_MAX_RECORD); larger → E2BIG. */
  maxRecord?: number | undefined;
  /** Initial buffer size in bytes (default 64 KiB). */
  initialSize?: number | undefined;
  /** Format version to write: 2 (default) or 1. */
  version?: number | undefined;
}

const MODE_NEED_HEADER = 0;
const MODE_RECORDS = 1;
const MODE_ENDED = 2;
const MODE_FINISHED = 3;


const EMPTY = new Uint8Array(0);
const EMPTY_DV = new DataView(EMPTY.buffer);

/**
 * The last writer finished in this thread, its buffers let go: it keeps
 * the writer's hidden class alive between checkpoints.  Optimised code
 * holds the maps it was made for weakly; a writer's map can move on from
 * the one lib/warm.ts keeps (a field's representation widens, e.g. a CRC
 * past 2^30 stored as a double), and when the last object of a map dies
 * in a full GC, V8 throws away every function optimised for it ("embedded
 * weak objects cleared": 50-100 functions per GC in W1 at 10k, measured
 * with --trace-deopt).  The writer of the last call holds the map of the
 * next one.
 */
let lastFinished: ImageWriter | undefined;

export class ImageWriter extends RecordWriter {
  private mode = MODE_NEED_HEADER;
  private endedBy = '';
  /** Version 2: the objrefs defined so far (an OBJREF of the lowest undefined one is implicit). */
  private readonly defined = new ObjrefSet();
  /** A complete record's bytes, before they are placed (OBJREF). */
  private readonly scratch = new Uint8Array(32);
  private readonly sdv = new DataView(this.scratch.buffer);

  constructor(opts: ImageWriterOptions) {
    if (!opts || typeof opts.crc32c !== 'function') {
      throw new ObjHashError('EINVAL', 'ImageWriter: opts.crc32c must be a function');
    }
    const hwm = opts.highWaterMark ?? 1024 * 1024;
    if (!Number.isInteger(hwm) || hwm < 0) {
      throw new ObjHashError('EINVAL', `ImageWriter: highWaterMark must be a non-negative integer, got ${String(hwm)}`);
    }
    const init = opts.initialSize ?? 64 * 1024;
    if (!Number.isInteger(init) || init < 64) {
      throw new ObjHashError('EINVAL', `ImageWriter: initialSize must be an integer >= 64, got ${String(init)}`);
    }
    const version = opts.version ?? FORMAT_VERSION;
    if (!FORMAT_VERSIONS.includes(version)) {
      throw new ObjHashError('EINVAL', `ImageWriter: version must be ${FORMAT_VERSIONS.join(' or ')}, got ${String(version)}`);
    }
    const sink = opts.sink ?? null;
    if (sink !== null && typeof sink !== 'function') {
      throw new ObjHashError('EINVAL', 'ImageWriter: opts.sink must be a function');
    }
    super(init, checkMaxRecord(opts.maxRecord), version, opts.crc32c, sink, hwm);
  }



  // ------------------------------------------------------------------ header

  /** Writes the HEADER record; must be the first record. */
  writeHeader(types: readonly TypeEntry[], flags = 0): void {
    if (this.mode !== MODE_NEED_HEADER) {
      throw new ObjHashError('EINVAL', 'writeHeader: the HEADER has already been written', this.offset);
    }
    if (!Array.isArray(types)) throw new ObjHashError('EINVAL', 'writeHeader: types must be an array', 0);
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) {
      throw new ObjHashError('EINVAL', `writeHeader: flags must be a u32, got ${String(flags)}`, 0);
    }
    const seenType = new Set<number>();
    const seenName = new Set<string>();
    for (let i = 0; i < types.length; i++) {
      const t = types[i];
      if (t === null || typeof t !== 'object') {
        throw new ObjHashError('EINVAL', `writeHeader: type table entry ${i} is not an object`, 0);
      }
      const { objtype, name } = t;
      if (!Number.isInteger(objtype) || objtype < 0 || objtype > 0xffffffff) {
        throw new ObjHashError('EINVAL', `writeHeader: type table entry ${i}: objtype must be a u32, got ${String(objtype)}`, 0);
      }
      if (typeof name !== 'string' || name.length === 0) {
        throw new ObjHashError('EINVAL', `writeHeader: type table entry ${i} (objtype ${objtype}): name must be a non-empty string`, 0);
      }
      if (seenType.has(objtype)) {
        throw new ObjHashError('EINVAL', `writeHeader: duplicate objtype ${objtype} in the type table`, 0);
      }
      if (seenName.has(name)) {
        throw new ObjHashError('EINVAL', `writeHeader: duplicate type name '${name}' in the type table`, 0);
      }
      if (t.schema !== undefined && !(t.schema instanceof Uint8Array)) {
        throw new ObjHashError('EINVAL', `writeHeader: type table entry ${i} (${name}): schema must be a Uint8Array`, 0);
      }
      if (t.schema !== undefined && t.schema.length > 0 && !this.v2) {
        throw new ObjHashError('EINVAL', `writeHeader: type '${name}' has a schema, which needs format version 2`, 0);
      }
      seenType.add(objtype);
      seenName.add(name);
    }
    this.mode = MODE_RECORDS;
    // The HEADER keeps version 1 framing in every version: a reader learns
    // the version from it before it reads anything else.
    this.openHeader();
    this.u64(HEADER_MAGIC);
    this.u32(this.version);
    this.u32(flags);
    this.u32(types.length);
    for (let i = 0; i < types.length; i++) {
      const t = types[i]!;
      this.u32(t.objtype);
      this.str(t.name);
      this.align(4);
      if (this.v2) {
        this.blob(t.schema ?? EMPTY);
        this.align(4);
      }
    }
    this.closeV1(this.start, this.pos);
    this.pos += padding(this.pos - this.start);
    this.depth_ = 0;
    this.limit = 0;
  }

  /** Opens the HEADER record at offset 0, in version 1 framing. */
  private openHeader(): void {
    this.dv.setUint32(0, REC.HEADER, true);
    this.start = 0;
    this.pay = this.pos = V1_HEADER;
    this.curType = REC.HEADER;
    this.depth_ = 1;
    this.limit = Math.min(this.buf.length, this.maxRecord);
  }




  // ----------------------------------------------------------------- records

  /** Opens a record of `type` (BUFFER, STRING or a user type 101-8999). */
  begin(type: number): void {
    if (type < REC.USER_MIN || type > REC.USER_MAX || (type | 0) !== type) {
      if (type !== REC.BUFFER && type !== REC.STRING) this.badType(type);
    }
    if (this.mode !== MODE_RECORDS) this.badMode('begin');
    this.openRecord(type);
  }

  /** Opens a FIELDS or VALUE record (version 2: the bodies of lib/schema and lib/values). */
  beginBuiltin(type: number): void {
    if ((type !== REC.FIELDS && type !== REC.VALUE) || !this.v2) this.badType(type);
    if (this.mode !== MODE_RECORDS) this.badMode('begin');
    this.openRecord(type);
  }








  // --------------------------------------------------- complete-record helpers

  /**
   * Writes an OBJREF record for objtype/objref; returns its offset.
   * Version 1: { u32 objtype, s32 objref }.  Version 2: one varint when
   * objref is the lowest one not defined yet (an implicit objref), else an
   * explicit OBJREF record { uv objtype, uv objref }.
   */
  objref(objtype: number, objref: number): number {
    if (this.mode !== MODE_RECORDS) this.badMode('objref');
    if (objtype >>> 0 !== objtype || (this.v2 && (objtype === 0 || objtype > MAX_V2_OBJTYPE))) {
      throw new ObjHashError('EINVAL', `objref: objtype must be a u32${this.v2 ? ' 1..65535' : ''}, got ${String(objtype)}`, this.offset);
    }
    if ((objref | 0) !== objref || objref <= 0) {
      throw new ObjHashError('EINVAL', `objref: objref must be an integer 1..2147483647, got ${String(objref)}`, this.offset);
    }
    const b = this.scratch;
    let n: number;
    if (!this.v2) {
      const dv = this.sdv;
      dv.setUint32(0, REC.OBJREF, true);
      dv.setUint32(4, 16, true);
      dv.setUint32(8, objtype, true);
      dv.setInt32(12, objref, true);
      n = 16;
    } else if (objref === this.defined.low) {
      n = putUv(b, 0, 2 * objtype);
    } else {
      // (an objref defined twice is written as asked: readers refuse it)
      b[0] = v2Head(REC.OBJREF); // < 128: one byte
      const end = putUv(b, putUv(b, 2, objtype), objref);
      b[1] = end - 2;
      n = end;
    }
    if (this.v2 && !this.defined.has(objref)) this.defined.add(objref);
    return this.complete(b, n);
  }




  /** Writes a BUFFER record holding `b`; returns its offset. */
  buffer(b: Uint8Array): number {
    if (!(b instanceof Uint8Array)) throw new ObjHashError('EINVAL', 'buffer: expected a Uint8Array', this.offset);
    this.begin(REC.BUFFER);
    this.bytes(b);
    return this.end();
  }

  /** Writes a STRING record holding the UTF-8 of `s`; returns its offset. */
  string(s: string): number {
    if (typeof s !== 'string') throw new ObjHashError('EINVAL', 'string: expected a string', this.offset);
    if (!wellFormed(s)) throw new ObjHashError('EINVAL', 'string: expected a string without lone surrogates (UTF-8 cannot hold one)', this.offset);
    this.begin(REC.STRING);
    this.utf8(s);
    return this.end();
  }

  /**
   * Writes an ERROR record with `message` (UTF-8; cut to fit maxRecord)
   * and ends the image.  Any open records are discarded first (abort()).
   */
  error(message: string): number {
    if (this.mode !== MODE_RECORDS) this.badMode('error');
    this.abort();
    let m = String(message);
    const room = Math.floor((this.maxRecord - 8) / 3);
    if (m.length > room) m = m.slice(0, room);
    this.openRecord(REC.ERROR);
    this.utf8(m);
    const off = this.end();
    this.mode = MODE_ENDED;
    this.endedBy = 'ERROR';
    return off;
  }

  /** Writes the TAIL record (object count, CRC-32C of every byte before it) and ends the image. */
  tail(count: number): number {
    if (this.mode !== MODE_RECORDS) this.badMode('tail');
    if (this.depth_ !== 0) {
      throw new ObjHashError('EINVAL', `tail: ${this.depth_} record(s) still open`, this.offset);
    }
    if (count >>> 0 !== count) {
      throw new ObjHashError('EINVAL', `tail: count must be a u32, got ${String(count)}`, this.offset);
    }
    let p = this.pos;
    if (p + 24 > this.buf.length) {
      this.growRaw(24);
      p = this.pos;
    }
    const crc = this.crc32c(this.buf.subarray(this.crcIdx, p), this.crc) >>> 0;
    this.crc = crc;
    this.crcIdx = p;
    const dv = this.dv;
    let q: number;
    if (this.v2) {
      q = putUv(this.buf, p, v2Head(REC.TAIL));
      this.buf[q++] = TAIL_PAYLOAD;
    } else {
      dv.setUint32(p, REC.TAIL, true);
      dv.setUint32(p + 4, TAIL_LEN, true);
      q = p + V1_HEADER;
    }
    dv.setBigUint64(q + TAIL_MAGIC_AT, TAIL_MAGIC, true);
    dv.setUint32(q + TAIL_COUNT_AT, count, true);
    dv.setUint32(q + TAIL_CRC_AT, crc, true);
    this.pos = q + TAIL_PAYLOAD;
    this.mode = MODE_ENDED;
    this.endedBy = 'TAIL';
    return this.base + p;
  }

  /**
   * Ends writing.  Without a sink: the whole image, exactly its length (a
   * view of the writer's buffer when it fills half of it or more, else a
   * copy with a buffer of its own).  With a sink: the rest
   * goes to the sink and an empty array is returned.
   */
  finish(): Uint8Array {
    if (this.mode === MODE_FINISHED) throw new ObjHashError('EINVAL', 'finish: already finished', this.offset);
    if (this.depth_ !== 0) {
      throw new ObjHashError('EINVAL', `finish: ${this.depth_} record(s) still open`, this.offset);
    }
    this.mode = MODE_FINISHED;
    this.finished = true;
    this.limit = 0;
    let out: Uint8Array = EMPTY;
    // the image shares the buffer only when it fills most of it: a small
    // image in a big buffer (the 64 KiB start, or a size hinted by a big
    // checkpoint before) is copied out, so that keeping it does not keep
    // the buffer (40k images of 100 bytes held 2.5 GB as views)
    if (this.sink === null) out = this.pos < this.buf.length >>> 1 ? this.buf.slice(0, this.pos) : this.buf.subarray(0, this.pos);
    else if (this.pos > 0) this.flush();
    // the image is the caller's now (and the sink theirs); this writer
    // only keeps its map alive
    this.buf = this.mbuf = EMPTY;
    this.dv = this.mdv = EMPTY_DV;
    this.sink = null;
    lastFinished = this;
    return out;
  }


  // ----------------------------------------------------------------- errors

  protected noRecord(): never {
    if (this.mode === MODE_FINISHED) throw new ObjHashError('EINVAL', 'writer already finished', this.offset);
    throw new ObjHashError('EINVAL', `no open record at offset ${this.offset}: call begin() first`, this.offset);
  }

  private badType(type: number): never {
    throw new ObjHashError(
      'EINVAL',
      `begin: record type ${String(type)} (${recordTypeName(Number(type))}) cannot be opened with begin(); ` +
        `use BUFFER, STRING or a user type ${REC.USER_MIN}..${REC.USER_MAX}`,
      this.offset,
    );
  }

  private badMode(what: string): never {
    if (this.mode === MODE_NEED_HEADER) {
      throw new ObjHashError('EINVAL', `${what}: writeHeader() must come first`, this.offset);
    }
    if (this.mode === MODE_ENDED) {
      throw new ObjHashError('EINVAL', `${what}: the image already ended with ${this.endedBy}; nothing may follow it`, this.offset);
    }
    throw new ObjHashError('EINVAL', `${what}: writer already finished`, this.offset);
  }

}

/** Largest objtype a version 2 implicit OBJREF carries (the type table's ids are 1..65535). */
const MAX_V2_OBJTYPE = 0xffff;
