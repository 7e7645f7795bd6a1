/**
 * ImageReader: decodes a checkpoint image (docs/FORMAT.md), from memory
 * (zero-copy: a DataView over the caller's bytes) or from a ByteSource
 * (a window buffer refilled from the source; bounded memory).
 *
 * Usage:
 *   const r = new ImageReader(bytes, { crc32c });
 *   const { types } = r.readHeader();
 *   for (;;) {
 *     const rec = r.next();            // reused object: read it at once
 *     if (rec.type === REC.TAIL) { r.tail(count); break; }
 *     if (rec.type === REC.ERROR) throw ... r.errorMessage();
 *     if (rec.type === REC.OBJREF) { const { objtype, objref } = r.objref(); ... }
 *     else { r.u32(); r.str(); ... }
 *   }
 *
 * Hostile input is normal input: every length is checked against the
 * record, maxRecord and the bytes present before anything is allocated,
 * and every failure is an ObjHashError naming the offset (and record type).
 *
 * Internals: `buf` is the whole input (in memory) or the window (source);
 * all cursors are indices into `buf`, and `base` is the image offset of
 * buf[0].  A payload reader checks `pos + n > payEnd` once; with no
 * current record payEnd === pos, so the same check rejects it.
 */
import { ObjHashError, isStackOverflow } from '../errors.js';
import {
  REC,
  HEADER_MAGIC,
  TAIL_MAGIC,
  FORMAT_VERSION,
  HEADER_MIN_LEN,
  OBJREF_LEN,
  OBJREF_OBJREF_AT,
  OBJREF_OBJTYPE_AT,
  TAIL_COUNT_AT,
  TAIL_CRC_AT,
  TAIL_LEN,
  TAIL_MAGIC_AT,
  padding,
  checkMaxRecord,
  recordTypeName,
  type Crc32c,
  type TypeEntry,
} from './format.js';
import type { ByteSource } from './source.js';

export interface ImageReaderOptions {
  /** CRC-32C extender from the backend. */
  crc32c: Crc32c;
  /** Largest record `len` accepted (default DEFAULT_MAX_RECORD); larger → E2BIG. */
  maxRecord?: number;
  /** Initial window for a ByteSource (default: the source's windowSize, else 256 KiB). */
  windowSize?: number;
}

/** What next() returns.  The reader REUSES one object: copy the fields out before the next call. */
export interface RecordInfo {
  /** Record type. */
  type: number;
  /** Record length: 8-byte header + payload (padding not counted). */
  len: number;
  /** Image offset of the record header. */
  offset: number;
}

export interface ImageHeader {
  version: number;
  flags: number;
  types: TypeEntry[];
}

const STATE_NEED_HEADER = 0;
const STATE_RECORDS = 1;
const STATE_TAIL_PENDING = 2;
const STATE_ENDED_ERROR = 3;
const STATE_DONE = 4;

const TWO32 = 4294967296;
/** The first 16 bytes of every image, except len (bytes 4-7): HEADER type, then the magic. */
const HEADER_PREFIX = new Uint8Array(16);
{
  const v = new DataView(HEADER_PREFIX.buffer);
  v.setUint32(0, REC.HEADER, true);
  v.setBigUint64(8, HEADER_MAGIC, true);
}
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
/** Strings up to this many bytes are decoded in JS when pure ASCII (faster than TextDecoder). */
const SHORT_STRING = 64;

export class ImageReader {
  /** Type of the current record (set by next(); read-only). */
  type = 0;
  /** len of the current record (set by next(); read-only). */
  len = 0;
  /** Image offset of the current record (set by next(); -1 before the first; read-only). */
  recOffset = -1;

  private buf: Uint8Array;
  private dv: DataView;
  /** Image offset of buf[0]. */
  private base = 0;
  /** Valid bytes in buf. */
  private lim: number;
  /** Payload cursor. */
  private pos = 0;
  /** End of the current payload (=== pos when there is no current record). */
  private payEnd = 0;
  /** Index of the current record's header, -1 when none. */
  private recStart = -1;
  /** Index of the next record. */
  private nextIdx = 0;
  /** CRC-32C of image bytes [0, base + crcIdx). */
  private crc = 0;
  private crcIdx = 0;
  private state = STATE_NEED_HEADER;
  private readonly rec: RecordInfo = { type: 0, len: 0, offset: 0 };

  private readonly src: ByteSource | null;
  /** Total image bytes when known, else -1. */
  private readonly size: number;
  /** bytes()/blob()/payload() copy out of the window (sources) instead of returning views. */
  private readonly copyOut: boolean;
  private readonly crc32c: Crc32c;
  private readonly maxRecord: number;

  constructor(src: Uint8Array | ByteSource, opts: ImageReaderOptions) {
    if (!opts || typeof opts.crc32c !== 'function') {
      throw new ObjHashError('EINVAL', 'ImageReader: opts.crc32c must be a function');
    }
    this.crc32c = opts.crc32c;
    this.maxRecord = checkMaxRecord(opts.maxRecord);
    if (src instanceof Uint8Array) {
      this.src = null;
      this.buf = src;
      this.dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
      this.lim = src.length;
      this.size = src.length;
      this.copyOut = false;
    } else if (src !== null && typeof src === 'object' && typeof src.read === 'function') {
      this.src = src;
      const sz = src.size;
      this.size = typeof sz === 'number' && Number.isInteger(sz) && sz >= 0 ? sz : -1;
      let w = opts.windowSize ?? src.windowSize ?? 256 * 1024;
      if (!Number.isInteger(w) || w < 16) {
        throw new ObjHashError('EINVAL', `ImageReader: windowSize must be an integer >= 16, got ${String(w)}`);
      }
      if (this.size >= 0 && w > this.size) w = Math.max(16, this.size);
      this.buf = new Uint8Array(w);
      this.dv = new DataView(this.buf.buffer);
      this.lim = 0;
      this.copyOut = true;
    } else {
      throw new ObjHashError('EINVAL', 'ImageReader: expected a Uint8Array or a ByteSource');
    }
  }

  /** Image offset of the next unread record. */
  get offset(): number {
    return this.base + this.nextIdx;
  }

  /** Current window size in bytes (the input length in memory). */
  get windowBytes(): number {
    return this.buf.length;
  }

  /** Closes the ByteSource, if any. */
  close(): void {
    this.src?.close?.();
  }

  // ------------------------------------------------------------------ header

  /** Reads the HEADER, which must be the first record. */
  readHeader(): ImageHeader {
    if (this.state !== STATE_NEED_HEADER) {
      throw new ObjHashError('EINVAL', 'readHeader: the HEADER has already been read', 0);
    }
    const want = this.size >= 0 ? Math.min(16, this.size) : 16;
    if (this.lim < want) this.fill(0, want);
    const have = Math.min(this.lim, 16);
    const b = this.buf;
    for (let i = 0; i < have; i++) {
      if ((i < 4 || i >= 8) && b[i] !== HEADER_PREFIX[i]) {
        const what =
          i < 4
            ? `the first record is not a HEADER`
            : `the HEADER magic is not 0x00feed0cc0a2d200`;
        throw new ObjHashError('EINVAL', `bad magic at offset 0: not an objhash image (${what})`, 0);
      }
    }
    if (have < 16) {
      if (have === 0) throw new ObjHashError('EPIPE', 'truncated: expected a record at offset 0', 0);
      throw new ObjHashError('EPIPE', `truncated: HEADER at offset 0 needs at least 16 bytes, only ${have} present`, 0);
    }
    const len = this.dv.getUint32(4, true);
    if (len < HEADER_MIN_LEN) {
      throw new ObjHashError('EINVAL', `malformed HEADER at offset 0: len ${len} is less than ${HEADER_MIN_LEN}`, 0);
    }
    this.openAt(0, REC.HEADER, len);
    this.pos = 16;
    const version = this.u32();
    if (version !== FORMAT_VERSION) {
      throw new ObjHashError(
        'EINVAL',
        `unsupported format version ${version} at offset 16 (this reader reads version ${FORMAT_VERSION})`,
        16,
      );
    }
    const flags = this.u32();
    const count = this.u32();
    if (count > (len - HEADER_MIN_LEN) / 8) {
      throw new ObjHashError(
        'EINVAL',
        `malformed type table in HEADER at offset 0: ${count} entries cannot fit in len ${len}`,
        24,
      );
    }
    const types: TypeEntry[] = [];
    const seenType = new Set<number>();
    const seenName = new Set<string>();
    for (let i = 0; i < count; i++) {
      const at = this.base + this.pos;
      if (this.pos + 8 > this.payEnd) this.badTable(i, at, 'entry runs past the end of the record');
      const objtype = this.u32();
      const n = this.u32();
      if (n === 0) this.badTable(i, at, 'empty type name');
      if (n > this.payEnd - this.pos) this.badTable(i, at, `name length ${n} runs past the end of the record`);
      let name: string;
      try {
        name = strict.decode(this.buf.subarray(this.pos, this.pos + n));
      } catch {
        this.badTable(i, at, 'type name is not valid UTF-8');
      }
      this.pos += n;
      const k = (4 - (n & 3)) & 3;
      if (this.pos + k > this.payEnd) this.badTable(i, at, 'name padding runs past the end of the record');
      for (let j = 0; j < k; j++) {
        if (this.buf[this.pos + j] !== 0) this.badTable(i, at, 'non-zero padding after the type name');
      }
      this.pos += k;
      if (seenType.has(objtype)) this.badTable(i, at, `duplicate objtype ${objtype}`);
      if (seenName.has(name)) this.badTable(i, at, `duplicate type name '${name}'`);
      seenType.add(objtype);
      seenName.add(name);
      types.push({ objtype, name });
    }
    if (this.pos !== this.payEnd) {
      this.badTable(count, this.base + this.pos, `${this.payEnd - this.pos} unexpected byte(s) after the last entry`);
    }
    this.state = STATE_RECORDS;
    return { version, flags, types };
  }

  private badTable(i: number, at: number, why: string): never {
    throw new ObjHashError('EINVAL', `malformed type table in HEADER at offset 0: entry ${i} at offset ${at}: ${why}`, at);
  }

  // ----------------------------------------------------------------- records

  /**
   * Reads the next record header and positions the payload cursor at its
   * payload.  Unread payload of the previous record is skipped.  Returns
   * a REUSED object (also available as reader.type/len/recOffset).
   */
  next(): RecordInfo {
    if (this.state !== STATE_RECORDS) this.badState('next');
    let p = this.nextIdx;
    if (p + 8 > this.lim) {
      if (!this.fill(p, p + 8)) this.truncatedHeader(this.nextIdx);
      p = this.nextIdx;
    }
    const dv = this.dv;
    const type = dv.getUint32(p, true);
    const len = dv.getUint32(p + 4, true);
    if (type < REC.USER_MIN || type > REC.USER_MAX) this.checkSpecial(p, type, len);
    else if (len < 8) this.badLen(p, type, len);
    this.openAt(p, type, len);
    const rec = this.rec;
    rec.type = type;
    rec.len = len;
    rec.offset = this.recOffset;
    return rec;
  }

  /** next(), then checks that the record is of `type` (EINVAL otherwise). */
  expect(type: number): RecordInfo {
    const rec = this.next();
    if (rec.type !== type) {
      throw new ObjHashError(
        'EINVAL',
        `expected a ${recordTypeName(type)} record at offset ${rec.offset}, found ${recordTypeName(rec.type)}`,
        rec.offset,
      );
    }
    return rec;
  }

  /** Type of the next record without consuming it; -1 at the end (or after TAIL/ERROR). */
  peek(): number {
    if (this.state === STATE_TAIL_PENDING || this.state === STATE_ENDED_ERROR || this.state === STATE_DONE) return -1;
    let p = this.nextIdx;
    if (p + 4 > this.lim) {
      if (!this.fill(this.recStart >= 0 ? this.recStart : p, p + 4)) return -1;
      p = this.nextIdx;
    }
    return this.dv.getUint32(p, true);
  }

  /** Checks a non-user record header (kept out of next() to keep it small). */
  private checkSpecial(p: number, type: number, len: number): void {
    if (len < 8) this.badLen(p, type, len);
    switch (type) {
      case REC.BUFFER:
      case REC.STRING:
      case REC.ERROR:
        return;
      case REC.OBJREF:
        if (len !== OBJREF_LEN) this.wrongLen(p, type, len, OBJREF_LEN);
        return;
      case REC.TAIL:
        if (len !== TAIL_LEN) this.wrongLen(p, type, len, TAIL_LEN);
        return;
      case REC.HEADER:
        throw new ObjHashError('EINVAL', `unexpected HEADER record at offset ${this.base + p}: only the first record may be a HEADER`, this.base + p);
      default:
        throw new ObjHashError('EINVAL', `unknown record type ${type} at offset ${this.base + p}`, this.base + p);
    }
  }

  /** Makes the record at buf[p] (type, len already checked) current: maxRecord, presence, padding. */
  private openAt(p: number, type: number, len: number): void {
    if (len > this.maxRecord) {
      throw new ObjHashError(
        'E2BIG',
        `record ${recordTypeName(type)} at offset ${this.base + p} has len ${len}, over maxRecord ${this.maxRecord}`,
        this.base + p,
      );
    }
    let end = p + len + padding(len);
    if (end > this.lim) {
      if (!this.fill(p, end)) this.truncatedRecord(this.nextIdx, type, len);
      const shift = p - this.nextIdx;
      p -= shift;
      end -= shift;
    }
    const b = this.buf;
    for (let i = p + len; i < end; i++) {
      if (b[i] !== 0) {
        throw new ObjHashError(
          'EINVAL',
          `non-zero padding after record ${recordTypeName(type)} at offset ${this.base + p} (byte at offset ${this.base + i})`,
          this.base + i,
        );
      }
    }
    this.recStart = p;
    this.pos = p + 8;
    this.payEnd = p + len;
    this.nextIdx = end;
    this.type = type;
    this.len = len;
    this.recOffset = this.base + p;
    if (type === REC.TAIL) this.state = STATE_TAIL_PENDING;
    else if (type === REC.ERROR) this.state = STATE_ENDED_ERROR;
  }

  // ------------------------------------------------------- special records

  /** The payload of the current OBJREF record. */
  objref(): { objtype: number; objref: number } {
    if (this.recStart < 0 || this.type !== REC.OBJREF) this.notCurrent('objref', REC.OBJREF);
    if (this.len !== OBJREF_LEN) this.wrongLen(this.recStart, REC.OBJREF, this.len, OBJREF_LEN);
    const p = this.recStart;
    this.pos = this.payEnd;
    return { objtype: this.dv.getUint32(p + OBJREF_OBJTYPE_AT, true), objref: this.dv.getInt32(p + OBJREF_OBJREF_AT, true) };
  }

  /**
   * Verifies the current TAIL record: magic, CRC-32C of every byte before
   * it, the object count (if expectedCount is given), and that nothing
   * follows it.
   */
  tail(expectedCount?: number): { count: number; crc: number } {
    if (this.state !== STATE_TAIL_PENDING || this.type !== REC.TAIL) this.notCurrent('tail', REC.TAIL);
    const p = this.recStart;
    const off = this.base + p;
    const dv = this.dv;
    if (dv.getBigUint64(p + TAIL_MAGIC_AT, true) !== TAIL_MAGIC) {
      throw new ObjHashError('EBADMSG', `bad TAIL magic at offset ${off + TAIL_MAGIC_AT} (TAIL at offset ${off})`, off);
    }
    const count = dv.getUint32(p + TAIL_COUNT_AT, true);
    const stored = dv.getUint32(p + TAIL_CRC_AT, true);
    if (p > this.crcIdx) {
      this.crc = this.crc32c(this.buf.subarray(this.crcIdx, p), this.crc) >>> 0;
      this.crcIdx = p;
    }
    const crc = this.crc;
    if (crc !== stored) {
      throw new ObjHashError(
        'EBADMSG',
        `checksum mismatch: TAIL at offset ${off} records CRC32C 0x${hex32(stored)} but the ${off} bytes before it give 0x${hex32(crc)}`,
        off,
      );
    }
    if (expectedCount !== undefined && count !== expectedCount) {
      throw new ObjHashError(
        'EBADMSG',
        `object count mismatch: TAIL at offset ${off} says ${count} objects, ${expectedCount} were read`,
        off,
      );
    }
    const after = this.nextIdx;
    this.pos = this.payEnd;
    let extra: boolean;
    if (this.size >= 0) extra = this.base + after < this.size;
    else extra = after < this.lim || this.fill(after, after + 1);
    if (extra) {
      const at = this.base + this.nextIdx;
      throw new ObjHashError('EINVAL', `trailing bytes after TAIL at offset ${off}: the image must end at offset ${at}`, at);
    }
    this.state = STATE_DONE;
    return { count, crc: stored };
  }

  /** The message of the current ERROR record (invalid UTF-8 is replaced by U+FFFD). */
  errorMessage(): string {
    if (this.recStart < 0 || this.type !== REC.ERROR) this.notCurrent('errorMessage', REC.ERROR);
    const s = lenient.decode(this.buf.subarray(this.recStart + 8, this.payEnd));
    this.pos = this.payEnd;
    return s;
  }

  // ----------------------------------------------------------- payload readers

  /** Unread payload bytes of the current record. */
  remaining(): number {
    return this.payEnd - this.pos;
  }

  /** Throws EINVAL unless the current payload has been read completely. */
  expectEnd(): void {
    if (this.pos !== this.payEnd) {
      throw new ObjHashError(
        'EINVAL',
        `${this.payEnd - this.pos} unread byte(s) at the end of record ${recordTypeName(this.type)} at offset ${this.recOffset}`,
        this.recOffset,
      );
    }
  }

  u8(): number {
    const p = this.pos;
    if (p + 1 > this.payEnd) this.overrun(1);
    this.pos = p + 1;
    return this.buf[p]!;
  }

  u16(): number {
    const p = this.pos;
    if (p + 2 > this.payEnd) this.overrun(2);
    this.pos = p + 2;
    return this.dv.getUint16(p, true);
  }

  u32(): number {
    const p = this.pos;
    if (p + 4 > this.payEnd) this.overrun(4);
    this.pos = p + 4;
    return this.dv.getUint32(p, true);
  }

  i32(): number {
    const p = this.pos;
    if (p + 4 > this.payEnd) this.overrun(4);
    this.pos = p + 4;
    return this.dv.getInt32(p, true);
  }

  u64(): bigint {
    const p = this.pos;
    if (p + 8 > this.payEnd) this.overrun(8);
    this.pos = p + 8;
    return this.dv.getBigUint64(p, true);
  }

  /** A u64 as a number; EINVAL if above Number.MAX_SAFE_INTEGER. */
  u64n(): number {
    const p = this.pos;
    if (p + 8 > this.payEnd) this.overrun(8);
    const lo = this.dv.getUint32(p, true);
    const hi = this.dv.getUint32(p + 4, true);
    if (hi > 0x1fffff) this.unsafe(p, 'u64');
    this.pos = p + 8;
    return hi * TWO32 + lo;
  }

  i64(): bigint {
    const p = this.pos;
    if (p + 8 > this.payEnd) this.overrun(8);
    this.pos = p + 8;
    return this.dv.getBigInt64(p, true);
  }

  /** An i64 as a number; EINVAL outside the safe-integer range. */
  i64n(): number {
    const p = this.pos;
    if (p + 8 > this.payEnd) this.overrun(8);
    const lo = this.dv.getUint32(p, true);
    const hi = this.dv.getInt32(p + 4, true);
    const v = hi * TWO32 + lo;
    if (hi > 0x1fffff || hi < -0x200000 || v < -Number.MAX_SAFE_INTEGER) this.unsafe(p, 'i64');
    this.pos = p + 8;
    return v;
  }

  f64(): number {
    const p = this.pos;
    if (p + 8 > this.payEnd) this.overrun(8);
    this.pos = p + 8;
    return this.dv.getFloat64(p, true);
  }

  /** One byte, 0 or 1 (anything else: EINVAL). */
  bool(): boolean {
    const p = this.pos;
    if (p + 1 > this.payEnd) this.overrun(1);
    const v = this.buf[p]!;
    if (v > 1) {
      throw new ObjHashError(
        'EINVAL',
        `bad bool ${v} at offset ${this.base + p} in record ${recordTypeName(this.type)} at offset ${this.recOffset}`,
        this.base + p,
      );
    }
    this.pos = p + 1;
    return v === 1;
  }

  /** n raw bytes: a view of the input in memory (zero copy), a copy with a ByteSource. */
  bytes(n: number): Uint8Array {
    const p = this.pos;
    if (n >>> 0 !== n) {
      throw new ObjHashError('EINVAL', `bytes: n must be a u32, got ${String(n)}`, this.base + p);
    }
    if (p + n > this.payEnd) this.overrun(n);
    this.pos = p + n;
    return this.copyOut ? this.buf.slice(p, p + n) : this.buf.subarray(p, p + n);
  }

  /** u32 length, then that many bytes (as bytes()). */
  blob(): Uint8Array {
    const p = this.pos;
    if (p + 4 > this.payEnd) this.overrun(4);
    const n = this.dv.getUint32(p, true);
    if (p + 4 + n > this.payEnd) this.overrunLen(p, n, 'blob');
    this.pos = p + 4 + n;
    return this.copyOut ? this.buf.slice(p + 4, p + 4 + n) : this.buf.subarray(p + 4, p + 4 + n);
  }

  /** Unsigned LEB128 varint (writer.uv): at most 8 bytes, value <= 2^53-1 (else EINVAL). */
  uv(): number {
    const b = this.buf;
    const end = this.payEnd;
    let p = this.pos;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (p >= end) this.overrun(1);
      const c = b[p++]!;
      v += (c & 0x7f) * mul;
      if (c < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) break;
        this.pos = p;
        return v;
      }
      mul *= 128;
    }
    throw new ObjHashError(
      'EINVAL',
      `varint at offset ${this.base + this.pos} in record ${recordTypeName(this.type)} at offset ${this.recOffset} is longer than 8 bytes or over 2^53-1`,
      this.base + this.pos,
    );
  }

  /** Signed (zigzag) LEB128 varint (writer.sv). */
  sv(): number {
    const u = this.uv();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** uv byte length, then UTF-8 (writer.vstr). */
  vstr(): string {
    const start = this.pos;
    const n = this.uv();
    const q = this.pos;
    if (q + n > this.payEnd) {
      this.pos = start;
      this.overrunLen(start, n, 'string');
    }
    return this.text(q, n);
  }

  /** The UTF-8 text at buf[q, q + n); consumes it. */
  private text(q: number, n: number): string {
    if (n <= SHORT_STRING) {
      const s = asciiRun(this.buf, q, n);
      if (s !== undefined) {
        this.pos = q + n;
        return s;
      }
    }
    const s = this.decode(q, n);
    this.pos = q + n;
    return s;
  }

  /** u32 byte length, then UTF-8 (invalid UTF-8: EINVAL). */
  str(): string {
    const p = this.pos;
    if (p + 4 > this.payEnd) this.overrun(4);
    const n = this.dv.getUint32(p, true);
    const q = p + 4;
    if (q + n > this.payEnd) this.overrunLen(p, n, 'string');
    return this.text(q, n);
  }

  private decode(q: number, n: number): string {
    try {
      return strict.decode(this.buf.subarray(q, q + n));
    } catch {
      throw new ObjHashError(
        'EINVAL',
        `invalid UTF-8 in a string at offset ${this.base + q} in record ${recordTypeName(this.type)} at offset ${this.recOffset}`,
        this.base + q,
      );
    }
  }

  /**
   * The whole payload of the current record as UTF-8 text, exactly (a
   * leading U+FEFF is kept); invalid UTF-8 is EINVAL.  Consumes it.
   */
  payloadText(): string {
    if (this.recStart < 0) this.overrun(0);
    const s = this.recStart + 8;
    return this.text(s, this.payEnd - s);
  }

  /** The whole payload of the current record (from its start, whatever was read); consumes it. */
  payload(): Uint8Array {
    if (this.recStart < 0) this.overrun(0);
    const s = this.recStart + 8;
    this.pos = this.payEnd;
    return this.copyOut ? this.buf.slice(s, this.payEnd) : this.buf.subarray(s, this.payEnd);
  }

  /** Skips zero bytes until the payload position (from the record start) is a multiple of n (1, 2, 4, 8). */
  align(n: number): void {
    if (n !== 1 && n !== 2 && n !== 4 && n !== 8) {
      throw new ObjHashError('EINVAL', `align: n must be 1, 2, 4 or 8, got ${String(n)}`, this.base + this.pos);
    }
    const p = this.pos;
    const k = (n - ((p - this.recStart) & (n - 1))) & (n - 1);
    if (p + k > this.payEnd) this.overrun(k);
    for (let i = 0; i < k; i++) {
      if (this.buf[p + i] !== 0) {
        throw new ObjHashError(
          'EINVAL',
          `non-zero alignment padding at offset ${this.base + p + i} in record ${recordTypeName(this.type)} at offset ${this.recOffset}`,
          this.base + p + i,
        );
      }
    }
    this.pos = p + k;
  }

  // ------------------------------------------------------------------ window

  /**
   * Makes buf[.., needEnd) valid, keeping bytes from `keep` on (bytes
   * before it are CRC'd, then dropped).  Indices stored in fields are
   * adjusted; callers reload theirs.  False when the source has fewer
   * bytes (in memory: always false).  Never allocates beyond the bytes
   * the source has (known size: checked first; unknown: grows by
   * doubling only as bytes arrive).
   */
  private fill(keep: number, needEnd: number): boolean {
    const src = this.src;
    if (src === null) return false;
    const need = needEnd - keep;
    const keepOff = this.base + keep;
    if (this.size >= 0 && keepOff + need > this.size) return false;
    if (keep > this.crcIdx) {
      this.crc = this.crc32c(this.buf.subarray(this.crcIdx, keep), this.crc) >>> 0;
      this.crcIdx = keep;
    }
    if (keep > 0) {
      this.buf.copyWithin(0, keep, this.lim);
      this.lim -= keep;
      this.base += keep;
      this.crcIdx -= keep;
      this.pos -= keep;
      this.payEnd -= keep;
      if (this.recStart >= 0) this.recStart -= keep;
      this.nextIdx -= keep;
    }
    if (need > this.buf.length && this.size >= 0) {
      const left = this.size - this.base;
      this.resize(Math.min(Math.max(need, 2 * this.buf.length), left));
    }
    while (this.lim < need) {
      if (this.lim === this.buf.length) this.resize(Math.min(need, 2 * this.buf.length));
      let got: number;
      try {
        got = src.read(this.buf, this.lim, this.buf.length - this.lim, this.base + this.lim);
      } catch (e) {
        if (e instanceof ObjHashError) throw e;
        const at = this.base + this.lim;
        // a stack overflow is ELOOP wherever it happens; a real read error is EIO
        if (isStackOverflow(e))
          throw new ObjHashError('ELOOP', `stack overflow while reading the image at offset ${at}; lower options.maxDepth`, at, { cause: e });
        throw new ObjHashError('EIO', `read error at offset ${at}: ${(e as Error)?.message ?? String(e)}`, at, { cause: e });
      }
      if (!(got > 0)) break;
      this.lim += got;
    }
    return this.lim >= need;
  }

  private resize(size: number): void {
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.lim), 0);
    this.buf = nb;
    this.dv = new DataView(nb.buffer);
  }

  /** Bytes present from buf index i to the end of the image. */
  private present(i: number): number {
    return this.size >= 0 ? this.size - (this.base + i) : this.lim - i;
  }

  // ------------------------------------------------------------------ errors

  private truncatedHeader(p: number): never {
    const off = this.base + p;
    const k = this.present(p);
    if (k <= 0) throw new ObjHashError('EPIPE', `truncated: expected a record at offset ${off}`, off);
    throw new ObjHashError('EPIPE', `truncated: record header at offset ${off} needs 8 bytes, only ${k} present`, off);
  }

  private truncatedRecord(p: number, type: number, len: number): never {
    const off = this.base + p;
    const pad = padding(len);
    throw new ObjHashError(
      'EPIPE',
      `truncated: record ${recordTypeName(type)} at offset ${off} has len ${len}` +
        (pad ? ` (+${pad} padding)` : '') +
        ` but only ${this.present(p)} bytes remain`,
      off,
    );
  }

  private badLen(p: number, type: number, len: number): never {
    const off = this.base + p;
    throw new ObjHashError('EINVAL', `record ${recordTypeName(type)} at offset ${off} has len ${len}, less than 8`, off);
  }

  private wrongLen(p: number, type: number, len: number, want: number): never {
    const off = this.base + p;
    throw new ObjHashError('EINVAL', `record ${recordTypeName(type)} at offset ${off} has len ${len}, must be ${want}`, off);
  }

  private badState(what: string): never {
    const off = this.base + this.nextIdx;
    switch (this.state) {
      case STATE_NEED_HEADER:
        throw new ObjHashError('EINVAL', `${what}: readHeader() must come first`, 0);
      case STATE_TAIL_PENDING:
      case STATE_DONE:
        throw new ObjHashError('EINVAL', `${what}: the image ended with TAIL at offset ${this.recOffset}; nothing may follow it`, off);
      default:
        throw new ObjHashError('EINVAL', `${what}: the image ended with ERROR at offset ${this.recOffset}`, off);
    }
  }

  private notCurrent(what: string, type: number): never {
    const off = this.recStart >= 0 ? this.recOffset : this.base + this.nextIdx;
    throw new ObjHashError(
      'EINVAL',
      `${what}: the current record is ${this.recStart >= 0 ? `${recordTypeName(this.type)} at offset ${off}` : 'none'}, not ${recordTypeName(type)}`,
      off,
    );
  }

  private overrun(n: number): never {
    if (this.recStart < 0 || this.state === STATE_DONE) {
      const off = this.base + this.nextIdx;
      throw new ObjHashError('EINVAL', `no current record at offset ${off}: call next() first`, off);
    }
    const at = this.base + this.pos;
    throw new ObjHashError(
      'EINVAL',
      `read past the end of record ${recordTypeName(this.type)} at offset ${this.recOffset}: ` +
        `wanted ${n} byte(s) at offset ${at}, ${this.payEnd - this.pos} left`,
      at,
    );
  }

  private overrunLen(p: number, n: number, what: string): never {
    const at = this.base + p;
    throw new ObjHashError(
      'EINVAL',
      `${what} length ${n} at offset ${at} runs past the end of record ${recordTypeName(this.type)} at offset ${this.recOffset} ` +
        `(${this.payEnd - p - 4} byte(s) left)`,
      at,
    );
  }

  private unsafe(p: number, what: string): never {
    const at = this.base + p;
    throw new ObjHashError(
      'EINVAL',
      `${what} at offset ${at} in record ${recordTypeName(this.type)} at offset ${this.recOffset} is not a safe integer (use ${what}())`,
      at,
    );
  }
}

/** String of n (0..16) ASCII bytes at b[q]: one fromCharCode call, no intermediate array. */
/** buf[q, q + n) as a string if it is all ASCII, else undefined. */
function asciiRun(b: Uint8Array, q: number, n: number): string | undefined {
  let s = '';
  for (let i = 0; i < n; ) {
    const k = n - i < 16 ? n - i : 16;
    let a = 0;
    for (let j = 0; j < k; j++) a |= b[q + i + j]!;
    if (a >= 0x80) return undefined;
    s += ascii(b, q + i, k);
    i += k;
  }
  return s;
}

function ascii(b: Uint8Array, q: number, n: number): string {
  const f = String.fromCharCode;
  switch (n) {
    case 1: return f(b[q]!);
    case 2: return f(b[q]!, b[q + 1]!);
    case 3: return f(b[q]!, b[q + 1]!, b[q + 2]!);
    case 4: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!);
    case 5: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!);
    case 6: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!);
    case 7: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!);
    case 8: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!, b[q + 7]!);
    case 9: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!, b[q + 7]!, b[q + 8]!);
    case 10: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!, b[q + 7]!, b[q + 8]!, b[q + 9]!);
    case 11: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!, b[q + 7]!, b[q + 8]!, b[q + 9]!, b[q + 10]!);
    case 12: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!, b[q + 7]!, b[q + 8]!, b[q + 9]!, b[q + 10]!, b[q + 11]!);
    case 13: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!, b[q + 7]!, b[q + 8]!, b[q + 9]!, b[q + 10]!, b[q + 11]!, b[q + 12]!);
    case 14: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!, b[q + 7]!, b[q + 8]!, b[q + 9]!, b[q + 10]!, b[q + 11]!, b[q + 12]!, b[q + 13]!);
    case 15: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!, b[q + 7]!, b[q + 8]!, b[q + 9]!, b[q + 10]!, b[q + 11]!, b[q + 12]!, b[q + 13]!, b[q + 14]!);
    case 16: return f(b[q]!, b[q + 1]!, b[q + 2]!, b[q + 3]!, b[q + 4]!, b[q + 5]!, b[q + 6]!, b[q + 7]!, b[q + 8]!, b[q + 9]!, b[q + 10]!, b[q + 11]!, b[q + 12]!, b[q + 13]!, b[q + 14]!, b[q + 15]!);
    default: return '';
  }
}

function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}
