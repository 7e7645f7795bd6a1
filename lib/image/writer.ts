/**
 * ImageWriter: encodes a checkpoint image (docs/FORMAT.md).
 *
 * Design (this is the hot path of checkpoint):
 * - One growing Uint8Array + DataView ("main"), doubled when full.  A
 *   record opened with no other record open is written in place at the
 *   end of main: no copy, no allocation per record.
 * - Records nest.  Records are emitted in the order they are COMPLETED,
 *   so a record completed while others are open lands before them (the
 *   kernel's nested checkpoint_obj()).  Invariant: at most one open
 *   record lives in main, the innermost one, right after the completed
 *   bytes; every other open record lives in a per-depth side buffer.
 *   Opening a record while the innermost one is in main moves that one
 *   to its side buffer once; later children go straight into main; the
 *   parent is appended to main when it ends.  So every byte of a parent
 *   is copied at most twice, however many children it has (linear).
 * - The payload writers write into the "target" (buf/dv/pos), which is
 *   main or the innermost record's side buffer.  `limit` is
 *   min(buf.length, start + maxRecord) while a record is open and 0
 *   otherwise, so a single compare (pos + n > limit) guards capacity,
 *   maxRecord and "no open record" at once.
 * - Streaming: with a sink, whenever the completed bytes in main exceed
 *   highWaterMark after a record completes, main's completed bytes are
 *   handed to the sink (never touched again) and the writer continues in
 *   a fresh buffer; the CRC-32C is extended over each chunk as it leaves.
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
import { PayloadWriter } from './payload-writer.js';
import { ObjrefSet } from './validate.js';

export interface ImageWriterOptions {
  /** CRC-32C extender from the backend. */
  crc32c: Crc32c;
  /** Receives the image in chunks (streaming); without it finish() returns the whole image. */
  sink?: (chunk: Uint8Array) => void;
  /** With a sink: flush once more than this many completed bytes are buffered (default 1 MiB). */
  highWaterMark?: number;
  /** Largest record `len` (default DEFAULT_MAX_RECORD); larger → E2BIG. */
  maxRecord?: number;
  /** Initial buffer size in bytes (default 64 KiB). */
  initialSize?: number;
  /** Format version to write: 2 (default) or 1. */
  version?: number;
}

/** Saved state of an open record that lives in a side buffer. */
class Frame {
  buf: Uint8Array;
  dv: DataView;
  start = 0;
  pay = 0;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
  }
}

const MODE_NEED_HEADER = 0;
const MODE_RECORDS = 1;
const MODE_ENDED = 2;
const MODE_FINISHED = 3;

const TWO32 = 4294967296;
const U64_MAX = 0xffffffffffffffffn;
const I64_MIN = -0x8000000000000000n;
const I64_MAX = 0x7fffffffffffffffn;
/** Side buffers larger than this are released after use. */
const SIDE_KEEP = 1 << 20;
/** Strings shorter than this are encoded by a JS loop; longer ones by TextEncoder.encodeInto. */
const SHORT_STRING = 48;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

export class ImageWriter extends PayloadWriter {
  /** Whether the innermost open record lives in main (always true at depth 0). */
  private topInMain = true;

  // ---- main buffer while the target is a side buffer (stale otherwise)
  private mbuf: Uint8Array;
  private mdv: DataView;
  private mpos = 0;

  /** frames[k]: side buffer of the open record at depth k + 1. */
  private readonly frames: Frame[] = [];
  /** Image offset of main[0] (bytes already handed to the sink). */
  private base = 0;
  /** CRC-32C of image bytes [0, base + crcIdx). */
  private crc = 0;
  private crcIdx = 0;
  private mode = MODE_NEED_HEADER;
  private endedBy = '';
  /** The format version written. */
  readonly version: number;
  private readonly v2: boolean;
  /** Version 2: the objrefs defined so far (an OBJREF of the lowest undefined one is implicit). */
  private readonly defined = new ObjrefSet();
  /** A complete record's bytes, before they are placed (OBJREF). */
  private readonly scratch = new Uint8Array(32);
  private readonly sdv = new DataView(this.scratch.buffer);

  private readonly crc32c: Crc32c;
  private readonly sink: ((chunk: Uint8Array) => void) | null;
  private readonly hwm: number;
  private readonly initialSize: number;

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
    super(init, checkMaxRecord(opts.maxRecord));
    this.crc32c = opts.crc32c;
    this.sink = opts.sink ?? null;
    if (this.sink !== null && typeof this.sink !== 'function') {
      throw new ObjHashError('EINVAL', 'ImageWriter: opts.sink must be a function');
    }
    this.hwm = hwm;
    this.initialSize = init;
    this.version = version;
    this.v2 = version === 2;
    this.mbuf = this.buf;
    this.mdv = this.dv;
  }

  /** Image offset at which the next completed record will land. */
  get offset(): number {
    if (this.depth_ === 0) return this.base + this.pos;
    return this.base + (this.topInMain ? this.start : this.mpos);
  }

  /** Number of open records. */
  get depth(): number {
    return this.depth_;
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

  /** Version 1: sets the len of the record at buf[start] that ends at p, and zeroes its padding. */
  private closeV1(start: number, p: number): void {
    const len = p - start;
    if (len > this.maxRecord) this.tooBig(len);
    this.dv.setUint32(start + 4, len, true);
    if (p + 8 > this.buf.length) this.growRaw(8);
    const b = this.buf;
    for (let i = padding(len); i > 0; i--) b[p + i - 1] = 0;
  }

  /**
   * Version 2: writes the payload length of the record at buf[start] (its
   * head written, one byte kept for the length at pay - 1) that ends at
   * pos; a length of 128 or more moves the payload up.  Returns the end.
   */
  private closeV2(): number {
    const pay = this.pay;
    let p = this.pos;
    const n = p - pay;
    if (n < 0x80) {
      this.buf[pay - 1] = n;
    } else {
      const k = uvLength(n);
      if (p + k > this.buf.length) this.growRaw(k);
      const b = this.buf;
      b.copyWithin(pay + k - 1, pay, p);
      putUv(b, pay - 1, n);
      p += k - 1;
    }
    if (p - this.start > this.maxRecord) this.tooBig(p - this.start);
    return p;
  }

  /** Writes the head of a `type` record at buf[p] (room checked); returns its payload's index. */
  private head(p: number, type: number): number {
    if (this.v2) {
      const q = putUv(this.buf, p, v2Head(type));
      this.buf[q] = 0;
      return q + 1;
    }
    this.dv.setUint32(p, type, true);
    this.dv.setUint32(p + 4, 0, true);
    return p + V1_HEADER;
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

  /** Opens a record without checking the type or mode (internal). */
  private openRecord(type: number): void {
    if (this.depth_ !== 0) {
      this.openNested(type);
      return;
    }
    let p = this.pos;
    if (p + 16 > this.buf.length) {
      this.growRaw(16);
      p = this.pos;
    }
    this.start = p;
    this.pay = this.pos = this.head(p, type);
    this.curType = type;
    this.depth_ = 1;
    this.topInMain = true;
    this.limit = Math.min(this.buf.length, p + this.maxRecord);
  }

  private openNested(type: number): void {
    const d = this.depth_;
    if (this.topInMain) this.toSide();
    // The innermost record is in its side buffer: save it, target main.
    const f = this.frames[d - 1]!;
    f.buf = this.buf;
    f.dv = this.dv;
    f.pos = this.pos;
    f.start = this.start;
    f.pay = this.pay;
    this.buf = this.mbuf;
    this.dv = this.mdv;
    this.pos = this.mpos;
    let p = this.pos;
    if (p + 16 > this.buf.length) {
      this.growRaw(16);
      p = this.pos;
    }
    this.start = p;
    this.pay = this.pos = this.head(p, type);
    this.curType = type;
    this.depth_ = d + 1;
    this.topInMain = true;
    this.limit = Math.min(this.buf.length, p + this.maxRecord);
  }

  /**
   * Moves the innermost open record, which lives in main, into its side
   * buffer, and makes that the target; main then holds only completed bytes.
   */
  private toSide(): void {
    const f = this.frame(this.depth_ - 1);
    const n = this.pos - this.start;
    if (f.buf.length < n + 16) {
      let size = f.buf.length * 2;
      while (size < n + 16) size *= 2;
      f.buf = new Uint8Array(size);
      f.dv = new DataView(f.buf.buffer);
    }
    f.buf.set(this.buf.subarray(this.start, this.pos), 0);
    this.mbuf = this.buf;
    this.mdv = this.dv;
    this.mpos = this.start;
    this.buf = f.buf;
    this.dv = f.dv;
    this.pay -= this.start;
    this.start = 0;
    this.pos = n;
    this.topInMain = false;
    this.limit = Math.min(this.buf.length, this.maxRecord);
  }

  private frame(k: number): Frame {
    let f = this.frames[k];
    if (f === undefined) {
      for (let i = this.frames.length; i <= k; i++) this.frames.push(new Frame(256));
      f = this.frames[k]!;
    }
    return f;
  }

  /** Closes the innermost record; returns the image offset where it landed. */
  end(): number {
    if (this.depth_ !== 1 || !this.topInMain) return this.endSlow();
    const start = this.start;
    let p = this.pos;
    if (this.v2) p = this.closeV2();
    else {
      const len = p - start;
      if (len > this.maxRecord) this.tooBig(len);
      this.dv.setUint32(start + 4, len, true);
      if ((len & 7) !== 0) {
        if (p + 8 > this.buf.length) this.growRaw(8);
        // Zero the padding (and maybe a few bytes beyond it, which are free space).
        this.dv.setUint32(p, 0, true);
        this.dv.setUint32(p + 4, 0, true);
        p += (8 - (len & 7)) & 7;
      }
    }
    this.pos = p;
    this.depth_ = 0;
    this.limit = 0;
    const off = this.base + start;
    if (p > this.hwm && this.sink !== null) this.flush();
    return off;
  }

  private endSlow(): number {
    const d = this.depth_;
    if (d === 0) {
      throw new ObjHashError('EINVAL', 'end: no open record', this.offset);
    }
    // Finalize the innermost record in its buffer (main or side).
    const start = this.start;
    let p = this.pos;
    if (this.v2) p = this.closeV2();
    else {
      this.closeV1(start, p);
      p += padding(p - start);
    }
    let off: number;
    if (this.topInMain) {
      // Nested, in place in main (d >= 2): it lands right here.
      off = this.base + start;
      this.mbuf = this.buf;
      this.mdv = this.dv;
      this.mpos = p;
    } else {
      // In its side buffer: append it to main.
      const f = this.frames[d - 1]!;
      if (this.buf.length > SIDE_KEEP) {
        f.buf = new Uint8Array(256);
        f.dv = new DataView(f.buf.buffer);
      } else {
        f.buf = this.buf;
        f.dv = this.dv;
      }
      const n = p - start;
      const mp = this.mpos;
      if (mp + n > this.mbuf.length) this.growMain(n);
      this.mbuf.set(this.buf.subarray(start, p), mp);
      off = this.base + mp;
      this.mpos = mp + n;
    }
    this.depth_ = d - 1;
    if (d - 1 === 0) {
      this.buf = this.mbuf;
      this.dv = this.mdv;
      this.pos = this.mpos;
      this.topInMain = true;
      this.limit = 0;
    } else {
      const g = this.frames[d - 2]!;
      this.buf = g.buf;
      this.dv = g.dv;
      this.pos = g.pos;
      this.start = g.start;
      this.pay = g.pay;
      this.curType = this.recordType(g.buf, g.start);
      this.topInMain = false;
      this.limit = Math.min(g.buf.length, g.start + this.maxRecord);
    }
    if (this.mpos > this.hwm && this.sink !== null) this.flush();
    return off;
  }

  /** Discards all open records (before writing ERROR after a failure). */
  abort(): void {
    if (this.depth_ === 0) return;
    let mainPos: number;
    if (this.topInMain) {
      mainPos = this.start;
      this.mbuf = this.buf;
      this.mdv = this.dv;
    } else {
      const f = this.frames[this.depth_ - 1]!;
      if (this.buf.length <= SIDE_KEEP) {
        f.buf = this.buf;
        f.dv = this.dv;
      }
      mainPos = this.mpos;
    }
    for (let k = 0; k < this.frames.length; k++) {
      const f = this.frames[k]!;
      if (f.buf.length > SIDE_KEEP) {
        f.buf = new Uint8Array(256);
        f.dv = new DataView(f.buf.buffer);
      }
    }
    this.buf = this.mbuf;
    this.dv = this.mdv;
    this.pos = this.mpos = mainPos;
    this.depth_ = 0;
    this.topInMain = true;
    this.limit = 0;
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

  /** Places a complete record (bytes[0, n)) where the next completed record lands; returns its offset. */
  private complete(bytes: Uint8Array, n: number): number {
    if (this.depth_ === 0) {
      let p = this.pos;
      if (p + n + 8 > this.buf.length) {
        this.growRaw(n + 8);
        p = this.pos;
      }
      const b = this.buf;
      for (let i = 0; i < n; i++) b[p + i] = bytes[i]!;
      this.pos = p + n;
      const off = this.base + p;
      if (p + n > this.hwm && this.sink !== null) this.flush();
      return off;
    }
    // Nested: main must hold only completed bytes, then append in place.
    if (this.topInMain) this.toSide();
    if (this.mpos + n > this.mbuf.length) this.growMain(n);
    const mp = this.mpos;
    const m = this.mbuf;
    for (let i = 0; i < n; i++) m[mp + i] = bytes[i]!;
    this.mpos = mp + n;
    const off = this.base + mp;
    if (mp + n > this.hwm && this.sink !== null) this.flush();
    return off;
  }

  /** The type of the record whose first byte is b[start]. */
  private recordType(b: Uint8Array, start: number): number {
    if (!this.v2) return new DataView(b.buffer, b.byteOffset).getUint32(start, true);
    let h = 0;
    for (let i = 0, mul = 1; i < 5; i++, mul *= 128) {
      const c = b[start + i]!;
      h += (c & 0x7f) * mul;
      if (c < 0x80) break;
    }
    return (h - 1) / 2;
  }

  /** Makes room for n more bytes in main while the target is a side buffer. */
  private growMain(n: number): void {
    const m = this.mbuf;
    const need = this.mpos + n;
    if (need <= m.length) return;
    let size = m.length * 2;
    while (size < need) size *= 2;
    const nm = new Uint8Array(size);
    nm.set(m.subarray(0, this.mpos), 0);
    this.mbuf = nm;
    this.mdv = new DataView(nm.buffer);
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
   * Ends writing.  Without a sink: the whole image (a view of the
   * writer's buffer, exactly the image length).  With a sink: the rest
   * goes to the sink and an empty array is returned.
   */
  finish(): Uint8Array {
    if (this.mode === MODE_FINISHED) throw new ObjHashError('EINVAL', 'finish: already finished', this.offset);
    if (this.depth_ !== 0) {
      throw new ObjHashError('EINVAL', `finish: ${this.depth_} record(s) still open`, this.offset);
    }
    this.mode = MODE_FINISHED;
    this.limit = 0;
    const out = this.buf.subarray(0, this.pos);
    if (this.sink === null) return out;
    if (this.pos > 0) this.flush();
    return EMPTY;
  }

  /** Hands main's completed bytes to the sink (no open record is in main). */
  private flush(): void {
    const targetIsMain = this.depth_ === 0;
    const m = targetIsMain ? this.buf : this.mbuf;
    const n = targetIsMain ? this.pos : this.mpos;
    if (this.crcIdx < n) this.crc = this.crc32c(m.subarray(this.crcIdx, n), this.crc) >>> 0;
    this.crcIdx = 0;
    this.base += n;
    const chunk = m.subarray(0, n);
    const fresh =
      this.mode === MODE_FINISHED
        ? EMPTY
        : new Uint8Array(Math.max(this.initialSize, Math.min(m.length, 2 * this.hwm + 64)));
    this.mbuf = fresh;
    this.mdv = new DataView(fresh.buffer);
    this.mpos = 0;
    if (targetIsMain) {
      this.buf = this.mbuf;
      this.dv = this.mdv;
      this.pos = 0;
    }
    this.sink!(chunk);
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

/** Writes the unsigned LEB128 varint of v (0 <= v < 2^35) at b[p]; returns the index after it. */
function putUv(b: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    b[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  b[p++] = v;
  return p;
}
