/**
 * PayloadReader: the payload readers of an image record (u8 ... vstr,
 * payload, align), over the current record of the window `buf`.
 * ImageReader (reader.ts) extends it with the framing: the window over a
 * source, HEADER, record heads of both format versions, OBJREF, TAIL.
 *
 * All cursors are indices into `buf`; `base` is the image offset of buf[0].
 * A payload reader checks `pos + n > payEnd` once; with no current record
 * payEnd === pos, so the same check rejects it.
 */
import { ObjHashError } from '../errors.js';
import { recordTypeName, type TypeEntry } from './format.js';
import { codegen } from '../util/codegen.js';

const TWO32 = 4294967296;
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Strings up to this many bytes are decoded in JS when pure ASCII (faster than TextDecoder). */
const SHORT_STRING = 64;

export abstract class PayloadReader {
  /** Type of the current record (set by next(); read-only). */
  type = 0;
  /** len of the current record: head + payload, padding not counted (set by next(); read-only). */
  len = 0;
  /** Image offset of the current record (set by next(); -1 before the first; read-only). */
  recOffset = -1;

  protected buf: Uint8Array;
  protected dv: DataView;
  /** Image offset of buf[0]. */
  protected base = 0;
  /** Payload cursor. */
  protected pos = 0;
  /** End of the current payload (=== pos when there is no current record). */
  protected payEnd = 0;
  /** Index of the current payload's first byte. */
  protected payStart = 0;
  /** Index of the current record's head, -1 when none. */
  protected recStart = -1;
  /** bytes()/blob()/payload() copy out of the window (sources) instead of returning views. */
  protected readonly copyOut: boolean;
  /** Whether the image has been read to its end (TAIL checked). */
  protected done = false;

  protected constructor(buf: Uint8Array, copyOut: boolean) {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.copyOut = copyOut;
  }

  /** Image offset of the next unread record. */
  abstract get offset(): number;

  /**
   * The HEADER's type table (docs/FORMAT.md §4, §12): `count` entries of
   * objtype, name and (version 2) schema, each 4-byte aligned with zero
   * padding, then nothing.  Every fault is EINVAL "malformed type table".
   */
  protected readTypeTable(count: number, v2: boolean): TypeEntry[] {
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
      this.pad4(n, i, at, 'the type name');
      if (seenType.has(objtype)) this.badTable(i, at, `duplicate objtype ${objtype}`);
      if (seenName.has(name)) this.badTable(i, at, `duplicate type name '${name}'`);
      seenType.add(objtype);
      seenName.add(name);
      if (!v2) {
        types.push({ objtype, name });
        continue;
      }
      if (objtype === 0 || objtype > 0xffff) this.badTable(i, at, `objtype ${objtype} is not 1..65535`);
      if (this.pos + 4 > this.payEnd) this.badTable(i, at, 'schema length runs past the end of the record');
      const m = this.u32();
      if (m > this.payEnd - this.pos) this.badTable(i, at, `schema length ${m} runs past the end of the record`);
      const schema = this.buf.slice(this.pos, this.pos + m);
      this.pos += m;
      this.pad4(m, i, at, 'the schema');
      types.push({ objtype, name, schema });
    }
    if (this.pos !== this.payEnd) {
      this.badTable(count, this.base + this.pos, `${this.payEnd - this.pos} unexpected byte(s) after the last entry`);
    }
    return types;
  }

  /** Skips the zero padding after n bytes of entry i, up to a multiple of 4. */
  private pad4(n: number, i: number, at: number, what: string): void {
    const k = (4 - (n & 3)) & 3;
    if (this.pos + k > this.payEnd) this.badTable(i, at, `padding after ${what} runs past the end of the record`);
    for (let j = 0; j < k; j++) {
      if (this.buf[this.pos + j] !== 0) this.badTable(i, at, `non-zero padding after ${what}`);
    }
    this.pos += k;
  }

  private badTable(i: number, at: number, why: string): never {
    throw new ObjHashError('EINVAL', `malformed type table in HEADER at offset 0: entry ${i} at offset ${at}: ${why}`, at);
  }

  /** Payload bytes of the current record (its len less its head and padding). */
  get payloadLength(): number {
    return this.payEnd - this.payStart;
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

  /**
   * n bytes of UTF-8 (no length before them) as a string, decoded in place
   * (nothing allocated for short ASCII); undefined when they are not valid
   * UTF-8.  Consumed either way.  For callers that word their own error.
   */
  utf8(n: number): string | undefined {
    const p = this.pos;
    if (n >>> 0 !== n) {
      throw new ObjHashError('EINVAL', `utf8: n must be a u32, got ${String(n)}`, this.base + p);
    }
    if (p + n > this.payEnd) this.overrun(n);
    this.pos = p + n;
    if (n <= SHORT_STRING) {
      const s = asciiRun(this.buf, p, n);
      if (s !== undefined) return s;
    }
    try {
      return strict.decode(this.buf.subarray(p, p + n));
    } catch {
      return undefined;
    }
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
  protected text(q: number, n: number): string {
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
    return this.text(this.payStart, this.payEnd - this.payStart);
  }

  /** The whole payload of the current record (from its start, whatever was read); consumes it. */
  payload(): Uint8Array {
    if (this.recStart < 0) this.overrun(0);
    const s = this.payStart;
    this.pos = this.payEnd;
    return this.copyOut ? this.buf.slice(s, this.payEnd) : this.buf.subarray(s, this.payEnd);
  }

  /** Skips zero bytes until the payload position (from the payload's start) is a multiple of n (1, 2, 4, 8). */
  align(n: number): void {
    if (n !== 1 && n !== 2 && n !== 4 && n !== 8) {
      throw new ObjHashError('EINVAL', `align: n must be 1, 2, 4 or 8, got ${String(n)}`, this.base + this.pos);
    }
    const p = this.pos;
    const k = (n - ((p - this.payStart) & (n - 1))) & (n - 1);
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

  protected overrun(n: number): never {
    if (this.recStart < 0 || this.done) {
      const off = this.offset;
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

  protected overrunLen(p: number, n: number, what: string): never {
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


/**
 * buf[q, q + n) (n <= SHORT_STRING) as a string if it is all ASCII, else
 * undefined: one fromCharCode call, no intermediate array (the one ASCII
 * decoder of the readers; lib/values uses it too).  One call, not one per
 * 16 bytes joined with +: a join of strings of 13 or more characters is a
 * rope (a cons string of the pieces), which takes about twice the memory,
 * is copied again by the first read of a character, and gives the
 * scavenger more live objects to copy (docs/INTERNALS.md, "Strings and
 * arrays a restart makes").
 */
export function asciiRun(b: Uint8Array, q: number, n: number): string | undefined {
  let a = 0;
  for (let j = 0; j < n; j++) a |= b[q + j]!;
  return a < 0x80 ? ascii(b, q, n) : undefined;
}

/**
 * ascii(b, q, n): the string of the n (0..SHORT_STRING) ASCII bytes at
 * b[q], in one String.fromCharCode call with n arguments.  Generated once:
 * a switch on n with literal labels (one jump table), the arguments
 * written out, which is what a hand-written switch would be at 64 cases.
 * Where code generation is off (lib/util/codegen.ts), the same call
 * through apply() on a view of the bytes.
 */
const ascii: (b: Uint8Array, q: number, n: number) => string = codegen
  ? (new Function(
      'f',
      `'use strict'; return function ascii(b, q, n) { switch (n) { ${Array.from(
        { length: SHORT_STRING },
        (_, i) => `case ${i + 1}: return f(${Array.from({ length: i + 1 }, (_, j) => (j === 0 ? 'b[q]' : `b[q + ${j}]`)).join(', ')});`,
      ).join(' ')} default: return ''; } };`,
    )(String.fromCharCode) as (b: Uint8Array, q: number, n: number) => string)
  : asciiApply;

/** @internal ascii() without generated code. */
export function asciiApply(b: Uint8Array, q: number, n: number): string {
  return String.fromCharCode.apply(null, b.subarray(q, q + n) as unknown as number[]);
}
