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
 * The payload readers and the type table are payload-reader.ts's; this
 * file frames records (both versions), keeps the window and the CRC.
 */
import { ObjHashError, isStackOverflow } from '../errors.js';
import {
  REC,
  HEADER_MAGIC,
  TAIL_MAGIC,
  HEADER_MIN_LEN,
  FORMAT_VERSIONS,
  OBJREF_LEN,
  OBJREF_OBJREF_AT,
  OBJREF_OBJTYPE_AT,
  TAIL_COUNT_AT,
  TAIL_CRC_AT,
  TAIL_LEN,
  TAIL_MAGIC_AT,
  TAIL_PAYLOAD,
  V1_HEADER,
  V2_VARINT_MAX,
  lengthRule,
  padding,
  checkMaxRecord,
  recordTypeName,
  type Crc32c,
  type TypeEntry,
} from './format.js';
import { PayloadReader } from './payload-reader.js';
import type { ByteSource } from './source.js';
import { ObjrefValidator, type ValidateOptions } from './validate.js';

export interface ImageReaderOptions extends ValidateOptions {
  /** CRC-32C extender from the backend. */
  crc32c: Crc32c;
  /** Largest record `len` accepted (default DEFAULT_MAX_RECORD); larger → E2BIG. */
  maxRecord?: number | undefined;
  /** Initial window for a ByteSource (default: the source's windowSize, else 256 KiB). */
  windowSize?: number | undefined;
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

/** Largest objtype of a version 2 image (its implicit OBJREF heads are 2 x objtype). */
const MAX_V2_OBJTYPE = 0xffff;
/** The first 16 bytes of every image, except len (bytes 4-7): HEADER type, then the magic. */
const HEADER_PREFIX = new Uint8Array(16);
{
  const v = new DataView(HEADER_PREFIX.buffer);
  v.setUint32(0, REC.HEADER, true);
  v.setBigUint64(8, HEADER_MAGIC, true);
}
const lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

const EMPTY_BYTES = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY_BYTES.buffer);
/** The last reader that checked its TAIL in this thread, its bytes let go: its hidden class stays alive between restarts (writer.ts, lastFinished). */
let lastDone: ImageReader | undefined;

export class ImageReader extends PayloadReader {
  /** Format version of the image (after readHeader). */
  version = 0;
  /** Valid bytes in buf. */
  private lim: number;
  /** Index of the next record. */
  private nextIdx = 0;
  /** CRC-32C of image bytes [0, base + crcIdx). */
  private crc = 0;
  private crcIdx = 0;
  private state = STATE_NEED_HEADER;
  private v2 = false;
  private readonly rec: RecordInfo = { type: 0, len: 0, offset: 0 };
  /** The current OBJREF's fields (checked by the validator when it was read). */
  private curObjtype = 0;
  private curObjref = 0;
  /** The OBJREF rules shared by restart and verify; set by readHeader. */
  private validator: ObjrefValidator | null = null;
  private readonly validateOpts: ValidateOptions;

  private src: ByteSource | null;
  /** Total image bytes when known, else -1. */
  private readonly size: number;
  private readonly crc32c: Crc32c;
  private readonly maxRecord: number;

  constructor(src: Uint8Array | ByteSource, opts: ImageReaderOptions) {
    if (!opts || typeof opts.crc32c !== 'function') {
      throw new ObjHashError('EINVAL', 'ImageReader: opts.crc32c must be a function');
    }
    const maxRecord = checkMaxRecord(opts.maxRecord);
    if (src instanceof Uint8Array) {
      super(src, false);
      this.src = null;
      this.lim = src.length;
      this.size = src.length;
    } else if (src !== null && typeof src === 'object' && typeof src.read === 'function') {
      const sz = src.size;
      const size = typeof sz === 'number' && Number.isInteger(sz) && sz >= 0 ? sz : -1;
      let w = opts.windowSize ?? src.windowSize ?? 256 * 1024;
      if (!Number.isInteger(w) || w < 16) {
        throw new ObjHashError('EINVAL', `ImageReader: windowSize must be an integer >= 16, got ${String(w)}`);
      }
      if (size >= 0 && w > size) w = Math.max(16, size);
      super(new Uint8Array(w), true);
      this.src = src;
      this.size = size;
      this.lim = 0;
    } else {
      throw new ObjHashError('EINVAL', 'ImageReader: expected a Uint8Array or a ByteSource');
    }
    this.crc32c = opts.crc32c;
    this.maxRecord = maxRecord;
    this.validateOpts = { maxObjrefGap: opts.maxObjrefGap, maxObjects: opts.maxObjects };
  }

  /** The image's objects so far, under the rules restart and verify share (after readHeader). */
  get objects(): ObjrefValidator {
    if (this.validator === null) this.badState('objects');
    return this.validator;
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
    checkHeaderPrefix(this.buf, have);
    if (have < 16) {
      if (have === 0) throw new ObjHashError('EPIPE', 'truncated: expected a record at offset 0', 0);
      throw new ObjHashError('EPIPE', `truncated: HEADER at offset 0 needs at least 16 bytes, only ${have} present`, 0);
    }
    const len = this.dv.getUint32(4, true);
    if (len < HEADER_MIN_LEN) {
      throw new ObjHashError('EINVAL', `malformed HEADER at offset 0: len ${len} is less than ${HEADER_MIN_LEN}`, 0);
    }
    this.openAt(0, REC.HEADER, len, V1_HEADER, padding(len));
    this.pos = 16;
    const version = this.u32();
    if (!FORMAT_VERSIONS.includes(version)) {
      throw new ObjHashError(
        'EINVAL',
        `unsupported format version ${version} at offset 16 (this reader reads versions ${FORMAT_VERSIONS.join(' and ')})`,
        16,
      );
    }
    const v2 = version === 2;
    const flags = this.u32();
    const count = this.u32();
    if (count > (len - HEADER_MIN_LEN) / (v2 ? 12 : 8)) {
      throw new ObjHashError(
        'EINVAL',
        `malformed type table in HEADER at offset 0: ${count} entries cannot fit in len ${len}`,
        24,
      );
    }
    const types = this.readTypeTable(count, v2);
    this.state = STATE_RECORDS;
    this.version = version;
    this.v2 = v2;
    this.validator = new ObjrefValidator(types, this.validateOpts);
    return { version, flags, types };
  }


  // ----------------------------------------------------------------- records

  /**
   * Reads the next record header and positions the payload cursor at its
   * payload.  Unread payload of the previous record is skipped.  Returns
   * a REUSED object (also available as reader.type/len/recOffset).
   */
  next(): RecordInfo {
    if (this.state !== STATE_RECORDS) this.badState('next');
    if (this.v2) return this.nextV2();
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
    this.openAt(p, type, len, V1_HEADER, padding(len));
    if (type === REC.OBJREF) {
      const q = this.payStart;
      this.define(this.dv.getUint32(q + OBJREF_OBJTYPE_AT, true), this.dv.getInt32(q + OBJREF_OBJREF_AT, true));
    }
    return this.current();
  }

  /** The reused RecordInfo, filled from the current record. */
  private current(): RecordInfo {
    const rec = this.rec;
    rec.type = this.type;
    rec.len = this.len;
    rec.offset = this.recOffset;
    return rec;
  }

  /** Checks the current OBJREF's fields with the validator and keeps them for objref(). */
  private define(objtype: number, objref: number): void {
    this.validator!.define(objtype, objref, this.recOffset);
    this.curObjtype = objtype;
    this.curObjref = objref;
    this.pos = this.payEnd;
  }

  /** Version 2: a varint head, then (odd heads) a varint length and the payload. */
  private nextV2(): RecordInfo {
    let p = this.nextIdx;
    if (p + 2 * V2_VARINT_MAX > this.lim) {
      this.fillSome(p, 2 * V2_VARINT_MAX);
      p = this.nextIdx;
    }
    if (p >= this.lim) this.truncatedHeader(p);
    const h = this.varintAt(p, 'record head');
    let q = this.vend;
    if (h % 2 === 0) {
      if (h === 0) throw new ObjHashError('EINVAL', `bad record head 0 at offset ${this.base + p}`, this.base + p);
      this.openAt(p, REC.OBJREF, q - p, q - p, 0);
      this.define(h / 2, this.validator!.next);
      return this.current();
    }
    const type = (h - 1) / 2;
    const n = this.varintAt(q, 'record length');
    const hdr = this.vend - p;
    const len = hdr + n;
    if (type < REC.USER_MIN || type > REC.USER_MAX) this.checkSpecial(p, type, n);
    this.openAt(p, type, len, hdr, 0);
    if (type === REC.OBJREF) {
      const objtype = this.uv();
      const objref = this.uv();
      if (this.pos !== this.payEnd || objtype === 0 || objtype > MAX_V2_OBJTYPE) {
        throw new ObjHashError('EINVAL', `malformed OBJREF record at offset ${this.recOffset}`, this.recOffset);
      }
      this.define(objtype, objref);
    }
    return this.current();
  }

  /** End index of the varint varintAt() read last. */
  private vend = 0;

  /** The varint at buf[p] (present bytes only; EPIPE if it runs past them); vend is set after it. */
  private varintAt(p: number, what: string): number {
    const b = this.buf;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < V2_VARINT_MAX; i++) {
      if (p + i >= this.lim) {
        const off = this.base + this.nextIdx;
        throw new ObjHashError('EPIPE', `truncated: ${what} of the record at offset ${off} runs past the end of the image`, off);
      }
      const c = b[p + i]!;
      v += (c & 0x7f) * mul;
      if (c < 0x80) {
        this.vend = p + i + 1;
        return v;
      }
      mul *= 128;
    }
    const off = this.base + this.nextIdx;
    throw new ObjHashError('EINVAL', `${what} of the record at offset ${off} is longer than ${V2_VARINT_MAX} bytes`, off);
  }

  /** Makes up to n bytes from buf[p] present (fewer at the end of the image); p moves to nextIdx's place. */
  private fillSome(p: number, n: number): void {
    const left = this.size >= 0 ? this.size - (this.base + p) : n;
    const want = Math.min(n, left);
    if (want > 0 && p + want > this.lim) this.fill(p, p + want);
  }

  /** Checks a version 2 non-user record's payload length n. */
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
    const n = this.v2 ? 1 : 4;
    if (p + n > this.lim) {
      if (!this.fill(this.recStart >= 0 ? this.recStart : p, p + n)) return -1;
      p = this.nextIdx;
    }
    if (!this.v2) return this.dv.getUint32(p, true);
    this.fillSome(p, V2_VARINT_MAX);
    const h = this.varintAt(this.nextIdx, 'record head');
    return h % 2 === 0 ? REC.OBJREF : (h - 1) / 2;
  }

  /** Checks a non-user record header (kept out of next() to keep it small). */
  /** Checks a non-user record's length (version 1: len; version 2: the payload's n) by format.ts's rule. */
  private checkSpecial(p: number, type: number, size: number): void {
    if (!this.v2 && size < V1_HEADER) this.badLen(p, type, size);
    const want = lengthRule(this.v2, type, size);
    if (want === null) this.unknownType(p, type);
    if (want !== undefined) this.wrongLen(p, type, size, want);
  }

  private unknownType(p: number, type: number): never {
    if (type === REC.HEADER)
      throw new ObjHashError('EINVAL', `unexpected HEADER record at offset ${this.base + p}: only the first record may be a HEADER`, this.base + p);
    throw new ObjHashError('EINVAL', `unknown record type ${type} at offset ${this.base + p}`, this.base + p);
  }

  /**
   * Makes the record at buf[p] (type, len already checked) current:
   * maxRecord, presence, padding.  hdr: bytes before the payload; pad:
   * zero bytes after the record (version 1 pads to 8).
   */
  private openAt(p: number, type: number, len: number, hdr: number, pad: number): void {
    if (len > this.maxRecord) {
      throw new ObjHashError(
        'E2BIG',
        `record ${recordTypeName(type)} at offset ${this.base + p} has len ${len}, over maxRecord ${this.maxRecord}`,
        this.base + p,
      );
    }
    let end = p + len + pad;
    if (end > this.lim) {
      if (!this.fill(p, end)) this.truncatedRecord(this.nextIdx, type, len, pad);
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
    this.payStart = this.pos = p + hdr;
    this.payEnd = p + len;
    this.nextIdx = end;
    this.type = type;
    this.len = len;
    this.recOffset = this.base + p;
    if (type === REC.TAIL) this.state = STATE_TAIL_PENDING;
    else if (type === REC.ERROR) this.state = STATE_ENDED_ERROR;
  }

  // ------------------------------------------------------- special records

  /** The fields of the current OBJREF record (checked by the validator when next() read it). */
  objref(): { objtype: number; objref: number } {
    if (this.recStart < 0 || this.type !== REC.OBJREF) this.notCurrent('objref', REC.OBJREF);
    this.pos = this.payEnd;
    return { objtype: this.curObjtype, objref: this.curObjref };
  }

  /**
   * Verifies the current TAIL record: magic, CRC-32C of every byte before it, the object count (the objects
   * defined, or expectedCount when given), and that nothing follows it.
   */
  tail(expectedCount?: number): { count: number; crc: number } {
    if (this.state !== STATE_TAIL_PENDING || this.type !== REC.TAIL) this.notCurrent('tail', REC.TAIL);
    const p = this.recStart;
    const q = this.payStart;
    const off = this.base + p;
    const dv = this.dv;
    if (dv.getBigUint64(q + TAIL_MAGIC_AT, true) !== TAIL_MAGIC) {
      throw new ObjHashError('EBADMSG', `bad TAIL magic at offset ${this.base + q + TAIL_MAGIC_AT} (TAIL at offset ${off})`, off);
    }
    const count = dv.getUint32(q + TAIL_COUNT_AT, true);
    const stored = dv.getUint32(q + TAIL_CRC_AT, true);
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
    const expected = expectedCount ?? this.validator!.count;
    if (count !== expected) {
      throw new ObjHashError(
        'EBADMSG',
        `object count mismatch: TAIL at offset ${off} says ${count} objects, ${expected} were read`,
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
    this.done = true;
    // kept (without the image) for its map, as the writer's (writer.ts,
    // lastFinished); a source with close() stays for the caller's close()
    // (a FileSource holds a descriptor, not the bytes)
    this.buf = EMPTY_BYTES;
    this.dv = EMPTY_VIEW;
    if (this.src !== null && this.src.close === undefined) this.src = null;
    lastDone = this;
    return { count, crc: stored };
  }

  /** The message of the current ERROR record (invalid UTF-8 is replaced by U+FFFD). */
  errorMessage(): string {
    if (this.recStart < 0 || this.type !== REC.ERROR) this.notCurrent('errorMessage', REC.ERROR);
    const s = lenient.decode(this.buf.subarray(this.payStart, this.payEnd));
    this.pos = this.payEnd;
    return s;
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

  private truncatedRecord(p: number, type: number, len: number, pad: number): never {
    const off = this.base + p;
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

  private wrongLen(p: number, type: number, len: number, want: string): never {
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

}

function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}

/**
 * The first `have` (<= 16) bytes of an image against the HEADER's fixed
 * bytes (record type, magic): EINVAL "bad magic" at the first that
 * differs.  The reader checks them first; a stream restart checks them as
 * the first bytes arrive, so that a source that is no image (a
 * decompression bomb of zeros) fails before its window fills.
 */
export function checkHeaderPrefix(b: Uint8Array, have: number): void {
  for (let i = 0; i < have; i++) {
    if ((i < 4 || i >= 8) && b[i] !== HEADER_PREFIX[i]) {
      const what = i < 4 ? `the first record is not a HEADER` : `the HEADER magic is not 0x00feed0cc0a2d200`;
      throw new ObjHashError('EINVAL', `bad magic at offset 0: not an objhash image (${what})`, 0);
    }
  }
}
