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
  checkMaxRecord,
  recordTypeName,
  type Crc32c,
  type TypeEntry,
} from './format.js';

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
}

/** Saved state of an open record that lives in a side buffer. */
class Frame {
  buf: Uint8Array;
  dv: DataView;
  start = 0;
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

export class ImageWriter {
  // ---- current write target (main, or the innermost record's side buffer)
  private buf: Uint8Array;
  private dv: DataView;
  private pos = 0;
  /** min(buf.length, start + maxRecord) while a record is open, 0 otherwise. */
  private limit = 0;
  /** Index in buf of the innermost open record's header. */
  private start = 0;
  private depth_ = 0;
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

  private readonly crc32c: Crc32c;
  private readonly sink: ((chunk: Uint8Array) => void) | null;
  private readonly hwm: number;
  private readonly maxRecord: number;
  private readonly initialSize: number;

  constructor(opts: ImageWriterOptions) {
    if (!opts || typeof opts.crc32c !== 'function') {
      throw new ObjHashError('EINVAL', 'ImageWriter: opts.crc32c must be a function');
    }
    this.crc32c = opts.crc32c;
    this.sink = opts.sink ?? null;
    if (this.sink !== null && typeof this.sink !== 'function') {
      throw new ObjHashError('EINVAL', 'ImageWriter: opts.sink must be a function');
    }
    const hwm = opts.highWaterMark ?? 1024 * 1024;
    if (!Number.isInteger(hwm) || hwm < 0) {
      throw new ObjHashError('EINVAL', `ImageWriter: highWaterMark must be a non-negative integer, got ${String(hwm)}`);
    }
    this.hwm = hwm;
    this.maxRecord = checkMaxRecord(opts.maxRecord);
    const init = opts.initialSize ?? 64 * 1024;
    if (!Number.isInteger(init) || init < 64) {
      throw new ObjHashError('EINVAL', `ImageWriter: initialSize must be an integer >= 64, got ${String(init)}`);
    }
    this.initialSize = init;
    this.buf = this.mbuf = new Uint8Array(init);
    this.dv = this.mdv = new DataView(this.buf.buffer);
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
      seenType.add(objtype);
      seenName.add(name);
    }
    this.mode = MODE_RECORDS;
    this.openRecord(REC.HEADER);
    this.u64(HEADER_MAGIC);
    this.u32(FORMAT_VERSION);
    this.u32(flags);
    this.u32(types.length);
    for (let i = 0; i < types.length; i++) {
      const t = types[i]!;
      this.u32(t.objtype);
      this.str(t.name);
      this.align(4);
    }
    this.end();
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

  /** Opens a record without checking the type or mode (internal). */
  private openRecord(type: number): void {
    if (this.depth_ !== 0) {
      this.openNested(type);
      return;
    }
    let p = this.pos;
    if (p + 8 > this.buf.length) {
      this.growRaw(8);
      p = this.pos;
    }
    const dv = this.dv;
    dv.setUint32(p, type, true);
    dv.setUint32(p + 4, 0, true);
    this.start = p;
    this.pos = p + 8;
    this.depth_ = 1;
    this.topInMain = true;
    this.limit = Math.min(this.buf.length, p + this.maxRecord);
  }

  private openNested(type: number): void {
    const d = this.depth_;
    if (this.topInMain) {
      // Move the innermost open record out of main into its side buffer.
      const f = this.frame(d - 1);
      const n = this.pos - this.start;
      if (f.buf.length < n) {
        let size = f.buf.length * 2;
        while (size < n) size *= 2;
        f.buf = new Uint8Array(size);
        f.dv = new DataView(f.buf.buffer);
      }
      f.buf.set(this.buf.subarray(this.start, this.pos), 0);
      f.start = 0;
      f.pos = n;
      this.pos = this.start;
    } else {
      // The innermost record is in its side buffer: save it, target main.
      const f = this.frames[d - 1]!;
      f.buf = this.buf;
      f.dv = this.dv;
      f.pos = this.pos;
      f.start = this.start;
      this.buf = this.mbuf;
      this.dv = this.mdv;
      this.pos = this.mpos;
    }
    let p = this.pos;
    if (p + 8 > this.buf.length) {
      this.growRaw(8);
      p = this.pos;
    }
    this.dv.setUint32(p, type, true);
    this.dv.setUint32(p + 4, 0, true);
    this.start = p;
    this.pos = p + 8;
    this.depth_ = d + 1;
    this.topInMain = true;
    this.limit = Math.min(this.buf.length, p + this.maxRecord);
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
    const len = p - start;
    if (len > this.maxRecord) this.tooBig(len);
    this.dv.setUint32(start + 4, len, true);
    const pad = (8 - (len & 7)) & 7;
    if (p + 8 > this.buf.length) this.growRaw(8);
    const b = this.buf;
    for (let i = 0; i < pad; i++) b[p + i] = 0;
    p += pad;
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

  /** Writes an OBJREF record { u32 objtype, s32 objref }; returns its offset. */
  objref(objtype: number, objref: number): number {
    if (this.mode !== MODE_RECORDS) this.badMode('objref');
    if (objtype >>> 0 !== objtype) {
      throw new ObjHashError('EINVAL', `objref: objtype must be a u32, got ${String(objtype)}`, this.offset);
    }
    if ((objref | 0) !== objref || objref <= 0) {
      throw new ObjHashError('EINVAL', `objref: objref must be an integer 1..2147483647, got ${String(objref)}`, this.offset);
    }
    if (this.depth_ === 0) {
      let p = this.pos;
      if (p + 16 > this.buf.length) {
        this.growRaw(16);
        p = this.pos;
      }
      const dv = this.dv;
      dv.setUint32(p, REC.OBJREF, true);
      dv.setUint32(p + 4, 16, true);
      dv.setUint32(p + 8, objtype, true);
      dv.setInt32(p + 12, objref, true);
      this.pos = p + 16;
      const off = this.base + p;
      if (p + 16 > this.hwm && this.sink !== null) this.flush();
      return off;
    }
    if (!this.topInMain) {
      // Nested, and main holds only completed bytes: append in place.
      let mp = this.mpos;
      if (mp + 16 > this.mbuf.length) this.growMain(16);
      mp = this.mpos;
      const dv = this.mdv;
      dv.setUint32(mp, REC.OBJREF, true);
      dv.setUint32(mp + 4, 16, true);
      dv.setUint32(mp + 8, objtype, true);
      dv.setInt32(mp + 12, objref, true);
      this.mpos = mp + 16;
      const off = this.base + mp;
      if (mp + 16 > this.hwm && this.sink !== null) this.flush();
      return off;
    }
    this.openRecord(REC.OBJREF);
    this.u32(objtype);
    this.i32(objref);
    return this.end();
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
    dv.setUint32(p, REC.TAIL, true);
    dv.setUint32(p + 4, 24, true);
    dv.setBigUint64(p + 8, TAIL_MAGIC, true);
    dv.setUint32(p + 16, count, true);
    dv.setUint32(p + 20, crc, true);
    this.pos = p + 24;
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

  // ---------------------------------------------------------- payload writers

  // Each writer checks its value before writing anything (EINVAL naming the
  // writer and the value): one typeof and one compare on the fast path, the
  // message built in badValue().  typeof first: `&`, `|` and `>>>` throw a
  // TypeError on a bigint and would call valueOf() on an object.

  /** An integer 0..255. */
  u8(v: number): void {
    if (typeof v !== 'number' || (v & 0xff) !== v) this.badValue('u8', v, 'an integer 0..255');
    const p = this.pos;
    if (p + 1 > this.limit) this.grow(1);
    this.buf[this.pos++] = v;
  }

  /** An integer 0..65535. */
  u16(v: number): void {
    if (typeof v !== 'number' || (v & 0xffff) !== v) this.badValue('u16', v, 'an integer 0..65535');
    let p = this.pos;
    if (p + 2 > this.limit) {
      this.grow(2);
      p = this.pos;
    }
    this.dv.setUint16(p, v, true);
    this.pos = p + 2;
  }

  /** An integer 0..4294967295. */
  u32(v: number): void {
    if (typeof v !== 'number' || v >>> 0 !== v) this.badValue('u32', v, 'an integer 0..4294967295');
    let p = this.pos;
    if (p + 4 > this.limit) {
      this.grow(4);
      p = this.pos;
    }
    this.dv.setUint32(p, v, true);
    this.pos = p + 4;
  }

  /** An integer -2147483648..2147483647. */
  i32(v: number): void {
    if (typeof v !== 'number' || (v | 0) !== v) this.badValue('i32', v, 'an integer -2147483648..2147483647');
    let p = this.pos;
    if (p + 4 > this.limit) {
      this.grow(4);
      p = this.pos;
    }
    this.dv.setInt32(p, v, true);
    this.pos = p + 4;
  }

  /** u64 from a bigint 0..2^64-1 or a safe non-negative integer number. */
  u64(v: bigint | number): void {
    let p = this.pos;
    if (p + 8 > this.limit) {
      this.grow(8);
      p = this.pos;
    }
    if (typeof v === 'number') {
      if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v)) this.badInt('u64', v);
      const lo = v >>> 0;
      this.dv.setUint32(p, lo, true);
      this.dv.setUint32(p + 4, (v - lo) / TWO32, true);
    } else {
      if (typeof v !== 'bigint') this.badValue('u64', v, 'a bigint 0..2^64-1 or a safe integer number');
      if (v < 0n || v > U64_MAX) this.badInt('u64', v);
      this.dv.setBigUint64(p, v, true);
    }
    this.pos = p + 8;
  }

  /** i64 from a bigint -2^63..2^63-1 or a safe integer number. */
  i64(v: bigint | number): void {
    let p = this.pos;
    if (p + 8 > this.limit) {
      this.grow(8);
      p = this.pos;
    }
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) this.badInt('i64', v);
      const hi = Math.floor(v / TWO32);
      this.dv.setUint32(p, v - hi * TWO32, true);
      this.dv.setInt32(p + 4, hi, true);
    } else {
      if (typeof v !== 'bigint') this.badValue('i64', v, 'a bigint -2^63..2^63-1 or a safe integer number');
      if (v < I64_MIN || v > I64_MAX) this.badInt('i64', v);
      this.dv.setBigInt64(p, v, true);
    }
    this.pos = p + 8;
  }

  /** Any number (NaN and the infinities included). */
  f64(v: number): void {
    if (typeof v !== 'number') this.badValue('f64', v, 'a number');
    let p = this.pos;
    if (p + 8 > this.limit) {
      this.grow(8);
      p = this.pos;
    }
    this.dv.setFloat64(p, v, true);
    this.pos = p + 8;
  }

  /** One byte: 1 for true, 0 for false. */
  bool(v: boolean): void {
    if (typeof v !== 'boolean') this.badValue('bool', v, 'a boolean');
    const p = this.pos;
    if (p + 1 > this.limit) this.grow(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  /** Raw bytes, no length. */
  bytes(b: Uint8Array): void {
    if (!(b instanceof Uint8Array)) this.badValue('bytes', b, 'a Uint8Array');
    const n = b.length;
    let p = this.pos;
    if (p + n > this.limit) {
      this.grow(n);
      p = this.pos;
    }
    if (n < 16) {
      const d = this.buf;
      for (let i = 0; i < n; i++) d[p + i] = b[i]!;
    } else {
      this.buf.set(b, p);
    }
    this.pos = p + n;
  }

  /** u32 byte length, then the bytes. */
  blob(b: Uint8Array): void {
    if (!(b instanceof Uint8Array)) this.badValue('blob', b, 'a Uint8Array');
    this.u32(b.length);
    this.bytes(b);
  }

  /** u32 byte length, then the UTF-8 of `s` (lone surrogates become U+FFFD, as TextEncoder does). */
  str(s: string): void {
    if (typeof s !== 'string') this.badValue('str', s, 'a string');
    const n = s.length;
    const p = this.pos;
    const q = p + 4;
    if (n < SHORT_STRING && q + n <= this.limit) {
      // Fast path: short ASCII string that fits.
      const b = this.buf;
      let j = 0;
      for (; j < n; j++) {
        const c = s.charCodeAt(j);
        if (c >= 0x80) break;
        b[q + j] = c;
      }
      if (j === n) {
        this.dv.setUint32(p, n, true);
        this.pos = q + n;
        return;
      }
    }
    this.strSlow(s);
  }

  private strSlow(s: string): void {
    let p = this.pos;
    if (p + 4 > this.limit) {
      this.grow(4);
      p = this.pos;
    }
    this.pos = p + 4;
    const n = this.utf8(s);
    this.dv.setUint32(p, n, true);
  }

  /**
   * Unsigned LEB128 varint of an integer 0..2^53-1: 1 byte below 128, 2
   * below 16384, ... at most 8.  The compact choice for ids, counts, objrefs.
   */
  uv(v: number): void {
    if (typeof v !== 'number' || !(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v)) this.badValue('uv', v, 'an integer 0..2^53-1');
    let p = this.pos;
    if (p + 8 > this.limit) {
      this.grow(8);
      p = this.pos;
    }
    const b = this.buf;
    while (v >= 0x80) {
      b[p++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    b[p++] = v;
    this.pos = p;
  }

  /** Signed (zigzag) LEB128 varint of an integer -2^52..2^52-1. */
  sv(v: number): void {
    if (!Number.isInteger(v) || v < -(2 ** 52) || v >= 2 ** 52) this.badValue('sv', v, 'an integer -2^52..2^52-1');
    this.uv(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** uv byte length, then the UTF-8 of `s`: str() with a 1-byte length for short strings. */
  vstr(s: string): void {
    if (typeof s !== 'string') this.badValue('vstr', s, 'a string');
    const n = s.length;
    if (n < 128) {
      let p = this.pos;
      if (p + 1 + n > this.limit) {
        this.grow(1 + n);
        p = this.pos;
      }
      const b = this.buf;
      let j = 0;
      for (; j < n; j++) {
        const c = s.charCodeAt(j);
        if (c >= 0x80) break;
        b[p + 1 + j] = c;
      }
      if (j === n) {
        b[p] = n;
        this.pos = p + 1 + n;
        return;
      }
    }
    const bytes = encoder.encode(s);
    this.uv(bytes.length);
    this.bytes(bytes);
  }

  /** Zero bytes until the payload position (from the record start) is a multiple of n (1, 2, 4 or 8). */
  align(n: number): void {
    if (n !== 1 && n !== 2 && n !== 4 && n !== 8) {
      throw new ObjHashError('EINVAL', `align: n must be 1, 2, 4 or 8, got ${String(n)}`, this.offset);
    }
    const k = (n - ((this.pos - this.start) & (n - 1))) & (n - 1);
    if (k === 0) {
      if (this.depth_ === 0) this.noRecord();
      return;
    }
    const p = this.pos;
    if (p + k > this.limit) this.grow(k);
    const b = this.buf;
    for (let i = 0; i < k; i++) b[p + i] = 0;
    this.pos = p + k;
  }

  /** Encodes `s` as UTF-8 at pos; returns the byte count. */
  private utf8(s: string): number {
    const n = s.length;
    let p = this.pos;
    // Every UTF-16 unit takes at least 1 byte: reject hopeless sizes before growing.
    // Called with a record open.  Every UTF-16 unit takes at least 1 byte:
    // reject hopeless sizes before growing; the exact check follows.
    if (p + n - this.start > this.maxRecord) this.tooBig(p + n - this.start);
    if (p + 3 * n > this.buf.length) {
      this.growRaw(3 * n);
      p = this.pos;
    }
    let q = p;
    if (n < SHORT_STRING) {
      const b = this.buf;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x80) {
          b[q++] = c;
        } else if (c < 0x800) {
          b[q++] = 0xc0 | (c >> 6);
          b[q++] = 0x80 | (c & 0x3f);
        } else if (c < 0xd800 || c > 0xdfff) {
          b[q++] = 0xe0 | (c >> 12);
          b[q++] = 0x80 | ((c >> 6) & 0x3f);
          b[q++] = 0x80 | (c & 0x3f);
        } else {
          let d: number;
          if (c <= 0xdbff && i + 1 < n && (d = s.charCodeAt(i + 1)) >= 0xdc00 && d <= 0xdfff) {
            const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            b[q++] = 0xf0 | (cp >> 18);
            b[q++] = 0x80 | ((cp >> 12) & 0x3f);
            b[q++] = 0x80 | ((cp >> 6) & 0x3f);
            b[q++] = 0x80 | (cp & 0x3f);
            i++;
          } else {
            b[q++] = 0xef;
            b[q++] = 0xbf;
            b[q++] = 0xbd;
          }
        }
      }
    } else {
      q += encoder.encodeInto(s, this.buf.subarray(p, p + 3 * n)).written;
    }
    if (q - this.start > this.maxRecord) this.tooBig(q - this.start);
    this.pos = q;
    return q - p;
  }

  // ----------------------------------------------------------------- growth

  /** Slow path of the payload writers: no record open, record too big, or buffer full. */
  private grow(n: number): void {
    if (this.depth_ === 0) this.noRecord();
    const len = this.pos + n - this.start;
    if (len > this.maxRecord) this.tooBig(len);
    this.growRaw(n);
  }

  /** Makes room for n more bytes (+ 8 for padding) in the target. */
  private growRaw(n: number): void {
    const need = this.pos + n + 8;
    const old = this.buf;
    if (need <= old.length) return;
    let size = old.length * 2;
    while (size < need) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(old.subarray(0, this.pos), 0);
    this.buf = nb;
    this.dv = new DataView(nb.buffer);
    if (this.depth_ !== 0) this.limit = Math.min(size, this.start + this.maxRecord);
  }

  // ----------------------------------------------------------------- errors

  private noRecord(): never {
    if (this.mode === MODE_FINISHED) throw new ObjHashError('EINVAL', 'writer already finished', this.offset);
    throw new ObjHashError('EINVAL', `no open record at offset ${this.offset}: call begin() first`, this.offset);
  }

  private tooBig(len: number): never {
    const type = this.dv.getUint32(this.start, true);
    throw new ObjHashError(
      'E2BIG',
      `record ${recordTypeName(type)} (open at depth ${this.depth_}) grows to ${len} bytes, ` +
        `over maxRecord ${this.maxRecord}; it would land at offset ${this.offset}`,
      this.offset,
    );
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

  /**
   * A payload writer's refusal (cold: the message is built only here):
   * "u8: 300 is out of range (an integer 0..255)" for a number,
   * "bool: expected a boolean, got 1" for a value of the wrong type.
   */
  private badValue(what: string, v: unknown, want: string): never {
    const shown = showValue(v);
    throw new ObjHashError(
      'EINVAL',
      typeof v === 'number' && want.startsWith('an integer')
        ? `${what}: ${shown} is out of range (${want})`
        : `${what}: expected ${want}, got ${shown}`,
      this.offset,
    );
  }

  private badInt(what: string, v: unknown): never {
    throw new ObjHashError(
      'EINVAL',
      `${what}: ${typeof v === 'bigint' ? `${v}n` : String(v)} is out of range` +
        (typeof v === 'number' ? ' (numbers must be safe integers; pass a bigint)' : ''),
      this.offset,
    );
  }
}

/** A rejected value in an error message: 300, -0, NaN, 5n, "text" (cut), true, null, an array... */
function showValue(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint':
      return `${v}n`;
    case 'string':
      return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      if (v === null) return 'null';
      if (Array.isArray(v)) return 'an array';
      const tag = Object.prototype.toString.call(v).slice(8, -1);
      return tag === 'Object' ? 'an object' : `a ${tag}`;
  }
}
