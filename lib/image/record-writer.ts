/**
 * RecordWriter: the records of an image and how they nest, over the
 * payload writers (payload-writer.ts).  ImageWriter (writer.ts) adds the
 * image itself: HEADER, OBJREF, TAIL, ERROR, modes.
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
 * - Framing: version 1 heads are { u32 type; u32 len; } and records are
 *   padded to 8; version 2 heads are a varint (2 x type + 1) and a varint
 *   payload length, one byte kept for it when the record opens and the
 *   payload moved up if it turns out longer (docs/FORMAT.md §12).
 * - Streaming: with a sink, whenever the completed bytes in main exceed
 *   highWaterMark after a record completes, main's completed bytes are
 *   handed to the sink as a copy of exactly those bytes, and the writer
 *   continues in the same buffer; the CRC-32C is extended over each chunk
 *   as it leaves.
 */
import { ObjHashError } from '../errors.js';
import { V1_HEADER, padding, uvLength, v2Head, type Crc32c } from './format.js';
import { PayloadWriter } from './payload-writer.js';

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

/** Side buffers larger than this are released after use. */
const SIDE_KEEP = 1 << 20;
const EMPTY = new Uint8Array(0);

export abstract class RecordWriter extends PayloadWriter {
  /** Whether the innermost open record lives in main (always true at depth 0). */
  protected topInMain = true;

  // ---- main buffer while the target is a side buffer (stale otherwise)
  protected mbuf: Uint8Array;
  protected mdv: DataView;
  protected mpos = 0;

  /** frames[k]: side buffer of the open record at depth k + 1. */
  protected readonly frames: Frame[] = [];
  /** Image offset of main[0] (bytes already handed to the sink). */
  protected base = 0;
  /** CRC-32C of image bytes [0, base + crcIdx). */
  protected crc = 0;
  protected crcIdx = 0;
  /** finish() has run: a flush leaves no buffer behind. */
  protected finished = false;
  /** The format version written. */
  readonly version: number;
  protected readonly v2: boolean;

  protected readonly crc32c: Crc32c;
  protected sink: ((chunk: Uint8Array) => void) | null;
  protected readonly hwm: number;
  protected readonly initialSize: number;

  protected constructor(
    initialSize: number,
    maxRecord: number,
    version: number,
    crc32c: Crc32c,
    sink: ((chunk: Uint8Array) => void) | null,
    hwm: number,
  ) {
    super(initialSize, maxRecord);
    this.initialSize = initialSize;
    this.version = version;
    this.v2 = version === 2;
    this.crc32c = crc32c;
    this.sink = sink;
    this.hwm = hwm;
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

  /** Version 1: sets the len of the record at buf[start] that ends at p, and zeroes its padding. */
  protected closeV1(start: number, p: number): void {
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
  protected closeV2(): number {
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
  protected head(p: number, type: number): number {
    if (this.v2) {
      const q = putUv(this.buf, p, v2Head(type));
      this.buf[q] = 0;
      return q + 1;
    }
    this.dv.setUint32(p, type, true);
    this.dv.setUint32(p + 4, 0, true);
    return p + V1_HEADER;
  }

  /** Opens a record without checking the type or mode (internal). */
  protected openRecord(type: number): void {
    if (this.depth_ !== 0) {
      this.openNested(type);
      return;
    }
    this.openAtPos(type, 1);
  }

  /** Opens a `type` record at pos in the target (main), as the innermost one, at `depth`. */
  private openAtPos(type: number, depth: number): void {
    let p = this.pos;
    if (p + 16 > this.buf.length) {
      this.growRaw(16);
      p = this.pos;
    }
    this.start = p;
    this.pay = this.pos = this.head(p, type);
    this.curType = type;
    this.depth_ = depth;
    this.topInMain = true;
    this.limit = Math.min(this.buf.length, p + this.maxRecord);
  }

  protected openNested(type: number): void {
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
    this.openAtPos(type, d + 1);
  }

  /**
   * Moves the innermost open record, which lives in main, into its side
   * buffer, and makes that the target; main then holds only completed bytes.
   */
  protected toSide(): void {
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

  protected frame(k: number): Frame {
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

  protected endSlow(): number {
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

  /** Places a complete record (bytes[0, n)) where the next completed record lands; returns its offset. */
  protected complete(bytes: Uint8Array, n: number): number {
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
  protected recordType(b: Uint8Array, start: number): number {
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
  protected growMain(n: number): void {
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

  /** Hands main's completed bytes to the sink (no open record is in main). */
  protected flush(): void {
    const targetIsMain = this.depth_ === 0;
    const m = targetIsMain ? this.buf : this.mbuf;
    const n = targetIsMain ? this.pos : this.mpos;
    if (this.crcIdx < n) this.crc = this.crc32c(m.subarray(this.crcIdx, n), this.crc) >>> 0;
    this.crcIdx = 0;
    this.base += n;
    // A chunk is a copy of exactly its bytes, and the writer goes on in
    // the same buffer (unless a long record grew it past twice the high
    // water mark, or this is the last chunk): a view of a fresh buffer per
    // chunk kept up to twice the image alive in half-filled buffers, and
    // the extra external memory started V8's incremental marking in the
    // middle of the walk (docs/INTERNALS.md, "Pauses").
    const last = this.finished;
    const keep = !last && m.length <= 2 * this.hwm + 64;
    const chunk = keep ? m.slice(0, n) : m.subarray(0, n);
    if (!keep) {
      const fresh = last ? EMPTY : new Uint8Array(Math.max(this.initialSize, 2 * this.hwm + 64));
      this.mbuf = fresh;
      this.mdv = new DataView(fresh.buffer);
    } else {
      if (targetIsMain) this.mdv = this.dv;
      this.mbuf = m;
    }
    this.mpos = 0;
    if (targetIsMain) {
      this.buf = this.mbuf;
      this.dv = this.mdv;
      this.pos = 0;
    }
    this.sink!(chunk);
  }
}

/** Writes the unsigned LEB128 varint of v (0 <= v < 2^35) at b[p]; returns the index after it. */
export function putUv(b: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    b[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  b[p++] = v;
  return p;
}
