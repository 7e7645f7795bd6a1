/**
 * PayloadWriter: the payload writers of an image record (u8 ... vstr,
 * align), over the current write target.  ImageWriter (writer.ts) extends
 * it with the framing: records, nesting, streaming, HEADER, OBJREF, TAIL.
 *
 * The target is buf/dv/pos; `limit` is min(buf.length, start + maxRecord)
 * while a record is open and 0 otherwise, so one compare (pos + n > limit)
 * guards capacity, maxRecord and "no open record" at once.  `start` is the
 * index of the innermost open record's first byte, `pay` of its payload.
 */
import { ObjHashError } from '../errors.js';
import { recordTypeName } from './format.js';
import { wellFormed } from '../util/strings.js';

/** What str() and vstr() take: UTF-8 has no lone surrogates (TextEncoder would make each a U+FFFD). */
const NOT_UTF8 = "a string without lone surrogates (UTF-8 cannot hold one; a plain value or a 'value' field keeps it)";

const TWO32 = 4294967296;
const U64_MAX = 0xffffffffffffffffn;
const I64_MIN = -0x8000000000000000n;
const I64_MAX = 0x7fffffffffffffffn;
/** Strings shorter than this are encoded by a JS loop; longer ones by TextEncoder.encodeInto. */
const SHORT_STRING = 48;

const encoder = new TextEncoder();

export abstract class PayloadWriter {
  protected buf: Uint8Array;
  protected dv: DataView;
  protected pos = 0;
  /** min(buf.length, start + maxRecord) while a record is open, 0 otherwise. */
  protected limit = 0;
  /** Index in buf of the innermost open record's first byte. */
  protected start = 0;
  /** Index in buf of the innermost open record's payload. */
  protected pay = 0;
  /** Type of the innermost open record. */
  protected curType = 0;
  protected depth_ = 0;
  protected readonly maxRecord: number;

  protected constructor(size: number, maxRecord: number) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
    this.maxRecord = maxRecord;
  }

  /** Image offset at which the next completed record will land. */
  abstract get offset(): number;
  /** Throws: no record is open (or the writer is finished). */
  protected abstract noRecord(): never;

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
    if (!wellFormed(s)) this.badValue('str', s, NOT_UTF8);
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
    if (!wellFormed(s)) this.badValue('vstr', s, NOT_UTF8);
    const bytes = encoder.encode(s);
    this.uv(bytes.length);
    this.bytes(bytes);
  }

  /** Zero bytes until the payload position (from the payload's start) is a multiple of n (1, 2, 4 or 8). */
  align(n: number): void {
    if (n !== 1 && n !== 2 && n !== 4 && n !== 8) {
      throw new ObjHashError('EINVAL', `align: n must be 1, 2, 4 or 8, got ${String(n)}`, this.offset);
    }
    const k = (n - ((this.pos - this.pay) & (n - 1))) & (n - 1);
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
  protected utf8(s: string): number {
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
  protected grow(n: number): void {
    if (this.depth_ === 0) this.noRecord();
    const len = this.pos + n - this.start;
    if (len > this.maxRecord) this.tooBig(len);
    this.growRaw(n);
  }

  /** Makes room for n more bytes (+ 8 for padding) in the target. */
  protected growRaw(n: number): void {
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

  protected tooBig(len: number): never {
    throw new ObjHashError(
      'E2BIG',
      `record ${recordTypeName(this.curType)} (open at depth ${this.depth_}) grows to ${len} bytes, ` +
        `over maxRecord ${this.maxRecord}; it would land at offset ${this.offset} ` +
        `(raise options.maxRecord, and give restart the same: it refuses a longer record before reading it)`,
      this.offset,
    );
  }

  /**
   * A payload writer's refusal (cold: the message is built only here):
   * "u8: 300 is out of range (an integer 0..255)" for a number,
   * "bool: expected a boolean, got 1" for a value of the wrong type.
   */
  protected badValue(what: string, v: unknown, want: string): never {
    const shown = showValue(v);
    throw new ObjHashError(
      'EINVAL',
      typeof v === 'number' && want.startsWith('an integer')
        ? `${what}: ${shown} is out of range (${want})`
        : `${what}: expected ${want}, got ${shown}`,
      this.offset,
    );
  }

  protected badInt(what: string, v: unknown): never {
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
