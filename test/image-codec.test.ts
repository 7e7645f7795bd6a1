import { describe, it, expect, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ObjHashError } from '../lib/errors.js';
import { IMPLS, rng as prng } from './helpers.js';
import { crc32cFor, getBackend } from '../lib/backend/loader.js';
import {
  REC,
  HEADER_MAGIC,
  TAIL_MAGIC,
  FORMAT_VERSION,
  DEFAULT_MAX_RECORD,
  recordTypeName,
  type TypeEntry,
} from '../lib/image/format.js';
import { ImageWriter } from '../lib/image/writer.js';
import { ImageReader } from '../lib/image/reader.js';
import { FileSource, type ByteSource } from '../lib/image/source.js';
import { asciiApply, asciiRun } from '../lib/image/payload-reader.js';
import { spawnSync } from 'node:child_process';

// ---------------------------------------------------------------- helpers

/** Bitwise reference CRC-32C (reflected polynomial 0x82F63B78), extending `crc`. */
function crc32c(bytes: Uint8Array, crc: number): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    c ^= bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

const TYPES: TypeEntry[] = [
  { objtype: 1, name: 'file' },
  { objtype: 2, name: 'mm' },
  { objtype: 7, name: 'naïve-ü' },
];

function writer(opts: Partial<ConstructorParameters<typeof ImageWriter>[0]> = {}): ImageWriter {
  return new ImageWriter({ crc32c, version: 1, ...opts });
}
function reader(src: Uint8Array | ByteSource, opts: { maxRecord?: number; windowSize?: number; maxObjrefGap?: number } = {}): ImageReader {
  // the codec's own tests write objrefs far apart: the validator's gap bound is lifted
  return new ImageReader(src, { crc32c, maxObjrefGap: 2 ** 31, ...opts });
}

/** Runs fn, expects an ObjHashError with `code` (and a message matching re); returns it. */
function expectErr(fn: () => unknown, code: string, re?: RegExp): ObjHashError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(ObjHashError);
  const e = err as ObjHashError;
  expect(e.code, e.message).toBe(code);
  if (re) expect(e.message).toMatch(re);
  return e;
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
function le64(v: bigint): number[] {
  const out: number[] = [];
  for (let i = 0n; i < 8n; i++) out.push(Number((v >> (8n * i)) & 0xffn));
  return out;
}
/** A record as the naive reference encoder lays it out. */
function naiveRecord(type: number, payload: ArrayLike<number>): number[] {
  const len = 8 + payload.length;
  const out = [...le32(type), ...le32(len), ...Array.from(payload)];
  while (out.length % 8) out.push(0);
  return out;
}
function naiveHeader(types: TypeEntry[], flags = 0): number[] {
  const p: number[] = [...le64(HEADER_MAGIC), ...le32(1), ...le32(flags), ...le32(types.length)];
  for (const t of types) {
    const name = new TextEncoder().encode(t.name);
    p.push(...le32(t.objtype), ...le32(name.length), ...name);
    while (p.length % 4) p.push(0);
  }
  return naiveRecord(REC.HEADER, p);
}
function naiveTail(before: number[], count: number): number[] {
  const crc = crc32c(Uint8Array.from(before), 0);
  return naiveRecord(REC.TAIL, [...le64(TAIL_MAGIC), ...le32(count), ...le32(crc)]);
}

/** A small image with every kind of record, plus what it holds. */
function smallImage(w = writer()): Uint8Array {
  w.writeHeader(TYPES, 0x5);
  w.objref(1, 1);
  w.begin(101);
  w.u32(42);
  w.str('hello');
  w.end();
  w.buffer(Uint8Array.from([1, 2, 3]));
  w.string('ünïcode');
  w.objref(2, 2);
  w.begin(8999);
  w.i32(-1);
  w.u64(123n);
  w.end();
  w.tail(2);
  return w.finish();
}

/** Reads an image produced by smallImage() completely. */
function readSmall(r: ImageReader): void {
  const h = r.readHeader();
  expect(h.types).toEqual(TYPES);
  expect(h.flags).toBe(5);
  expect(r.next().type).toBe(REC.OBJREF);
  expect(r.objref()).toEqual({ objtype: 1, objref: 1 });
  expect(r.next().type).toBe(101);
  expect(r.u32()).toBe(42);
  expect(r.str()).toBe('hello');
  expect(r.next().type).toBe(REC.BUFFER);
  expect(Array.from(r.payload())).toEqual([1, 2, 3]);
  expect(r.next().type).toBe(REC.STRING);
  expect(new TextDecoder().decode(r.payload())).toBe('ünïcode');
  expect(r.next().type).toBe(REC.OBJREF);
  expect(r.objref()).toEqual({ objtype: 2, objref: 2 });
  expect(r.next().type).toBe(8999);
  expect(r.i32()).toBe(-1);
  expect(r.u64()).toBe(123n);
  expect(r.next().type).toBe(REC.TAIL);
  expect(r.tail(2).count).toBe(2);
}

/** Parses a whole image generically (every record's payload skipped), as a hostile-input driver. */
function parseAll(r: ImageReader, expectedCount?: number): string {
  r.readHeader();
  for (;;) {
    const rec = r.next();
    if (rec.type === REC.TAIL) {
      r.tail(expectedCount);
      return 'tail';
    }
    if (rec.type === REC.ERROR) return `error:${r.errorMessage()}`;
    if (rec.type === REC.OBJREF) r.objref();
    else r.payload();
  }
}


const tmpdir = fs.mkdtempSync(path.join(os.tmpdir(), 'objhash-codec-'));
afterAll(() => fs.rmSync(tmpdir, { recursive: true, force: true }));
let tmpn = 0;
function tmpFile(bytes: Uint8Array): string {
  const p = path.join(tmpdir, `img-${tmpn++}.bin`);
  fs.writeFileSync(p, bytes);
  return p;
}

/** A ByteSource of unknown size that returns at most `step` bytes per read. */
class DribbleSource implements ByteSource {
  readonly size = -1;
  reads = 0;
  constructor(
    private readonly data: Uint8Array,
    private readonly step = 1,
  ) {}
  read(dst: Uint8Array, offset: number, length: number, position: number): number {
    this.reads++;
    const n = Math.max(0, Math.min(length, this.step, this.data.length - position));
    dst.set(this.data.subarray(position, position + n), offset);
    return n;
  }
}

// ------------------------------------------------------------------ tests

describe('reference CRC-32C', () => {
  it('matches the check value and extends', () => {
    const b = new TextEncoder().encode('123456789');
    expect(crc32c(b, 0)).toBe(0xe3069283);
    expect(crc32c(b.subarray(4), crc32c(b.subarray(0, 4), 0))).toBe(0xe3069283);
  });
});

describe('format constants', () => {
  it('names record types', () => {
    expect(recordTypeName(1)).toBe('HEADER');
    expect(recordTypeName(3)).toBe('BUFFER');
    expect(recordTypeName(4)).toBe('STRING');
    expect(recordTypeName(5)).toBe('OBJREF');
    expect(recordTypeName(9001)).toBe('TAIL');
    expect(recordTypeName(9999)).toBe('ERROR');
    expect(recordTypeName(123)).toBe('USER(123)');
    expect(recordTypeName(2)).toBe('UNKNOWN(2)');
    expect(HEADER_MAGIC).toBe(0x00feed0cc0a2d200n);
    expect(TAIL_MAGIC).toBe(0x002d2a0cc0deef00n);
    expect(DEFAULT_MAX_RECORD).toBe(64 * 1024 * 1024);
  });
});

describe('tiny image fixture (docs/FORMAT.md worked example)', () => {
  const fixture = fs.readFileSync(path.join(__dirname, 'fixtures', 'tiny-image.hex'), 'utf8');
  const hexOf = (text: string): string =>
    text
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter((l) => l.length > 0)
      .join(' ')
      .split(/\s+/)
      .join(' ');

  function tiny(): Uint8Array {
    const w = writer();
    w.writeHeader([{ objtype: 1, name: 'file' }]);
    w.objref(1, 1);
    w.begin(101);
    w.u32(42);
    w.str('hi');
    w.end();
    w.tail(1);
    return w.finish();
  }

  it('the writer produces exactly the fixture bytes', () => {
    const hex = Array.from(tiny(), (b) => b.toString(16).padStart(2, '0')).join(' ');
    expect(hex).toBe(hexOf(fixture));
  });

  it('docs/FORMAT.md shows the same bytes', () => {
    const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'FORMAT.md'), 'utf8');
    const m = /<!-- tiny-image:begin -->\s*```[a-z]*\n([\s\S]*?)```\s*<!-- tiny-image:end -->/.exec(doc);
    expect(m, 'tiny-image block in docs/FORMAT.md').not.toBeNull();
    expect(hexOf(m![1]!)).toBe(hexOf(fixture));
  });

  it('reads back', () => {
    const r = reader(tiny());
    expect(r.readHeader()).toEqual({ version: 1, flags: 0, types: [{ objtype: 1, name: 'file' }] });
    expect(r.expect(REC.OBJREF).offset).toBe(40);
    expect(r.objref()).toEqual({ objtype: 1, objref: 1 });
    expect(r.expect(101)).toEqual({ type: 101, len: 18, offset: 56 });
    expect(r.u32()).toBe(42);
    expect(r.str()).toBe('hi');
    r.expectEnd();
    expect(r.next().type).toBe(REC.TAIL);
    expect(r.tail(1).count).toBe(1);
  });
});

describe('round trips', () => {
  it('every payload writer and reader', () => {
    const w = writer({ initialSize: 64 });
    w.writeHeader(TYPES, 0xdeadbeef);
    expect(w.offset).toBe(naiveHeader(TYPES, 0xdeadbeef).length);
    w.begin(200);
    expect(w.depth).toBe(1);
    w.u8(0);
    w.u8(255);
    w.u16(0xbeef);
    w.u32(0);
    w.u32(0xffffffff);
    w.i32(-2147483648);
    w.i32(2147483647);
    w.u64(0n);
    w.u64(0xffffffffffffffffn);
    w.u64(Number.MAX_SAFE_INTEGER);
    w.u64(2 ** 32 + 5);
    w.i64(-0x8000000000000000n);
    w.i64(0x7fffffffffffffffn);
    w.i64(-Number.MAX_SAFE_INTEGER);
    w.i64(-1);
    w.i64(-(2 ** 32) - 3);
    w.f64(Math.PI);
    w.f64(-0);
    w.f64(NaN);
    w.f64(-Infinity);
    w.bool(true);
    w.bool(false);
    w.bytes(Uint8Array.from([9, 8, 7]));
    w.bytes(new Uint8Array(100).fill(0xab));
    w.blob(Uint8Array.from([1, 2]));
    w.blob(new Uint8Array(0));
    w.align(8);
    w.u8(1);
    w.align(4);
    w.align(2);
    w.align(1);
    const off = w.end();
    expect(w.depth).toBe(0);
    const strOff = w.string('a STRING record');
    const bufOff = w.buffer(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]));
    const img = (w.tail(0), w.finish());

    const r = reader(img);
    expect(r.readHeader()).toEqual({ version: 1, flags: 0xdeadbeef, types: TYPES });
    const rec = r.next();
    expect(rec).toEqual({ type: 200, len: r.len, offset: off });
    expect(r.type).toBe(200);
    expect(r.recOffset).toBe(off);
    expect(r.u8()).toBe(0);
    expect(r.u8()).toBe(255);
    expect(r.u16()).toBe(0xbeef);
    expect(r.u32()).toBe(0);
    expect(r.u32()).toBe(0xffffffff);
    expect(r.i32()).toBe(-2147483648);
    expect(r.i32()).toBe(2147483647);
    expect(r.u64()).toBe(0n);
    expect(r.u64()).toBe(0xffffffffffffffffn);
    expect(r.u64n()).toBe(Number.MAX_SAFE_INTEGER);
    expect(r.u64n()).toBe(2 ** 32 + 5);
    expect(r.i64()).toBe(-0x8000000000000000n);
    expect(r.i64()).toBe(0x7fffffffffffffffn);
    expect(r.i64n()).toBe(-Number.MAX_SAFE_INTEGER);
    expect(r.i64n()).toBe(-1);
    expect(r.i64()).toBe(BigInt(-(2 ** 32) - 3));
    expect(r.f64()).toBe(Math.PI);
    expect(Object.is(r.f64(), -0)).toBe(true);
    expect(r.f64()).toBeNaN();
    expect(r.f64()).toBe(-Infinity);
    expect(r.bool()).toBe(true);
    expect(r.bool()).toBe(false);
    expect(Array.from(r.bytes(3))).toEqual([9, 8, 7]);
    expect(r.bytes(100).every((b) => b === 0xab)).toBe(true);
    expect(Array.from(r.blob())).toEqual([1, 2]);
    expect(r.blob().length).toBe(0);
    r.align(8);
    expect(r.u8()).toBe(1);
    r.align(4);
    r.align(2);
    r.align(1);
    expect(r.remaining()).toBe(0);
    r.expectEnd();
    expect(r.peek()).toBe(REC.STRING);
    expect(r.next()).toEqual({ type: REC.STRING, len: 8 + 15, offset: strOff });
    expect(new TextDecoder().decode(r.payload())).toBe('a STRING record');
    expect(r.remaining()).toBe(0);
    expect(r.next().offset).toBe(bufOff);
    expect(r.bytes(2)).toEqual(Uint8Array.from([0, 1]));
    expect(Array.from(r.payload())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.peek()).toBe(REC.TAIL);
    expect(r.next().type).toBe(REC.TAIL);
    expect(r.peek()).toBe(-1);
    const t = r.tail(0);
    expect(t.crc).toBe(crc32c(img.subarray(0, img.length - 24), 0));
    expect(r.offset).toBe(img.length);
  });

  it('strings: ASCII, empty, multi-byte, astral, lone surrogates, long', () => {
    const cases = [
      '',
      'a',
      'hello wor',
      'x'.repeat(15),
      'x'.repeat(16),
      'x'.repeat(17),
      'y'.repeat(47),
      'y'.repeat(48),
      'z'.repeat(64),
      'z'.repeat(65),
      'q'.repeat(5000),
      'é',
      'ünïcödé',
      '日本語のテキスト',
      '😀 emoji 👍🏽',
      '\uFEFFbom first',
      'abc' + 'é'.repeat(60),
      '€'.repeat(1000) + '😀',
      '\0nul\0',
    ];
    const w = writer({ initialSize: 64 });
    w.writeHeader([]);
    w.begin(101);
    for (const s of cases) w.str(s);
    // a lone surrogate has no UTF-8: refused, not turned into U+FFFD
    for (const bad of ['lone \uD800 high', 'lone \uDC00 low', 'end high \uD83D', '\uDE00 start low ' + 'long'.repeat(20) + '\uD800']) {
      expectErr(() => w.str(bad), 'EINVAL', /str: expected a string without lone surrogates/);
      expectErr(() => w.vstr(bad), 'EINVAL', /vstr: expected a string without lone surrogates/);
    }
    w.end();
    w.tail(0);
    const img = w.finish();
    const r = reader(img);
    r.readHeader();
    r.next();
    for (const s of cases) expect(r.str()).toBe(s);
    r.expectEnd();
    // The writer's JS encoder and TextEncoder agree byte for byte.
    for (const s of [...cases, 'é'.repeat(10)]) {
      const w3 = writer();
      w3.writeHeader([]);
      w3.begin(101);
      w3.str(s);
      const off = w3.end();
      const out = w3.finish();
      const enc = new TextEncoder().encode(s);
      const dv = new DataView(out.buffer, out.byteOffset);
      expect(dv.getUint32(off + 8, true)).toBe(enc.length);
      expect(Array.from(out.subarray(off + 12, off + 12 + enc.length))).toEqual(Array.from(enc));
    }
  });

  it('OBJREF, ERROR and offsets', () => {
    const w = writer();
    w.writeHeader(TYPES);
    const a = w.objref(1, 1);
    const b = w.objref(7, 0x7fffffff);
    expect(b - a).toBe(16);
    w.begin(101);
    w.u32(1);
    w.abort();
    expect(w.depth).toBe(0);
    const e = w.error('checkpoint failed: disk full ü');
    expect(e).toBe(b + 16);
    const img = w.finish();
    const r = reader(img);
    r.readHeader();
    r.next();
    expect(r.objref()).toEqual({ objtype: 1, objref: 1 });
    r.next();
    expect(r.objref()).toEqual({ objtype: 7, objref: 0x7fffffff });
    expect(r.next()).toEqual({ type: REC.ERROR, len: 8 + 31, offset: e });
    expect(r.errorMessage()).toBe('checkpoint failed: disk full ü');
    expect(parseAll(reader(img))).toBe('error:checkpoint failed: disk full ü');
    expectErr(() => r.next(), 'EINVAL', /ended with ERROR/);
    expect(r.peek()).toBe(-1);
  });

  it('reads from a subarray of a larger buffer (byteOffset != 0)', () => {
    const img = smallImage();
    const big = new Uint8Array(img.length + 24);
    big.set(img, 8);
    readSmall(reader(big.subarray(8, 8 + img.length)));
  });

  it('bytes() is zero-copy in memory', () => {
    const w = writer();
    w.writeHeader([]);
    w.buffer(Uint8Array.from([1, 2, 3, 4]));
    w.tail(0);
    const img = w.finish();
    const r = reader(img);
    r.readHeader();
    r.next();
    const v = r.bytes(4);
    expect(v.buffer).toBe(img.buffer);
    img[v.byteOffset - img.byteOffset] = 99;
    expect(v[0]).toBe(99);
  });
});

describe('ASCII decoding', () => {
  // the readers decode short ASCII in one String.fromCharCode call: a
  // generated switch, or apply() where code generation is off
  const text = Array.from({ length: 80 }, (_, i) => String.fromCharCode(32 + ((i * 37) % 95))).join('');
  const bytes = new TextEncoder().encode('##' + text);

  it('gives the bytes as a string at every length up to 64, and undefined for a byte >= 0x80 anywhere', () => {
    for (let n = 0; n <= 64; n++) {
      expect(asciiRun(bytes, 2, n)).toBe(text.slice(0, n));
      expect(asciiApply(bytes, 2, n)).toBe(text.slice(0, n));
      for (let at = 0; at < n; at++) {
        const b = bytes.slice();
        b[2 + at] = 0x80 + (at % 0x80);
        expect(asciiRun(b, 2, n)).toBeUndefined();
      }
    }
  });

  describe.each(IMPLS)('with code generation off (%s)', (impl) => {
    // node --disallow-code-generation-from-strings: the generated helpers
    // have plain twins; a fields type is refused with an ObjHashError
    const run = (body: string) => {
      const dist = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
      const script = `const o = require(${JSON.stringify(dist)}); const impl = ${JSON.stringify(impl)};\n${body}`;
      const r = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', script], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).toBe('');
      return r.stdout;
    };

    it('restart() reads strings of every short length, and many objects of one shape', () => {
      const out = run(`
        const v = { s: Array.from({ length: 70 }, (_, n) => ${JSON.stringify(text)}.slice(0, n)),
                    objs: Array.from({ length: 200 }, (_, i) => ({ a: i, b: 'x' + i, c: [i, -i] })) };
        const back = o.restart(o.checkpoint(v, { impl }), { impl });
        process.stdout.write(JSON.stringify(back) === JSON.stringify(v) ? 'same' : 'differs');`);
      expect(out).toBe('same');
    });

    it('a type with fields is an ObjHashError EINVAL that says why, not an EvalError', () => {
      const out = run(`
        const T = o.defineObjType({ name: 'node', fields: { a: 'uv' } });
        try { o.checkpoint({ a: 1 }, T, { types: [T], impl }); process.stdout.write('no error'); }
        catch (e) { process.stdout.write(JSON.stringify([e instanceof o.ObjHashError, e.code, e.message])); }`);
      const [isOurs, code, message] = JSON.parse(out) as [boolean, string, string];
      expect(isOurs).toBe(true);
      expect(code).toBe('EINVAL');
      expect(message).toContain("type 'node'");
      expect(message).toContain('--disallow-code-generation-from-strings');
    });
  });
});

describe('nesting', () => {
  it('a record completed inside another lands before it', () => {
    const w = writer({ initialSize: 64 });
    w.writeHeader(TYPES);
    w.begin(300); // parent
    w.u32(0xaaaa);
    expect(w.depth).toBe(1);
    const o1 = w.objref(1, 1); // child 1, nested
    w.begin(301); // child 1's state
    expect(w.depth).toBe(2);
    w.str('child-1');
    const c1 = w.end();
    w.u32(1); // parent refers to child 1
    const o2 = w.objref(1, 2);
    w.begin(301);
    w.begin(302); // grandchild inside child 2
    w.u8(7);
    expect(w.depth).toBe(3);
    const g = w.end();
    w.str('child-2');
    const c2 = w.end();
    w.u32(2);
    const p = w.end();
    w.tail(2);
    const img = w.finish();

    const h = naiveHeader(TYPES);
    expect(o1).toBe(h.length);
    const s1 = new TextEncoder().encode('child-1');
    const s2 = new TextEncoder().encode('child-2');
    const recs = [
      naiveRecord(REC.OBJREF, [...le32(1), ...le32(1)]),
      naiveRecord(301, [...le32(s1.length), ...s1]),
      naiveRecord(REC.OBJREF, [...le32(1), ...le32(2)]),
      naiveRecord(302, [7]),
      naiveRecord(301, [...le32(s2.length), ...s2]),
      naiveRecord(300, [...le32(0xaaaa), ...le32(1), ...le32(2)]),
    ];
    const body = [...h, ...recs.flat()];
    expect(Array.from(img)).toEqual([...body, ...naiveTail(body, 2)]);
    let at = h.length;
    const offs = recs.map((r) => ((at += r.length), at - r.length));
    expect([o1, c1, o2, g, c2, p]).toEqual(offs);
    readBack(img, offs);
  });

  function readBack(img: Uint8Array, offs: number[]): void {
    const r = reader(img);
    r.readHeader();
    const seen: number[] = [];
    for (;;) {
      const rec = r.next();
      if (rec.type === REC.TAIL) break;
      seen.push(rec.offset);
    }
    expect(seen).toEqual(offs);
    r.tail();
  }

  it('offset reports where the next completed record lands', () => {
    const w = writer();
    w.writeHeader([]);
    const h = w.offset;
    w.begin(101);
    w.u32(1);
    expect(w.offset).toBe(h);
    w.begin(102);
    expect(w.offset).toBe(h);
    w.u32(2);
    expect(w.end()).toBe(h);
    expect(w.offset).toBe(h + 16);
    w.u32(3);
    expect(w.end()).toBe(h + 16);
    expect(w.offset).toBe(h + 32);
  });

  it('abort discards nested open records but keeps completed ones', () => {
    const w = writer();
    w.writeHeader(TYPES);
    w.begin(101);
    w.u32(1);
    w.objref(1, 1);
    w.begin(102);
    w.u32(2);
    w.begin(103);
    w.abort();
    expect(w.depth).toBe(0);
    w.tail(1);
    const img = w.finish();
    const r = reader(img);
    r.readHeader();
    expect(r.next().type).toBe(REC.OBJREF);
    expect(r.next().type).toBe(REC.TAIL);
    r.tail(1);
  });

  it('error() discards open records and ends the image', () => {
    const w = writer();
    w.writeHeader([]);
    w.begin(101);
    w.begin(102);
    w.error('boom');
    expect(w.depth).toBe(0);
    expectErr(() => w.begin(101), 'EINVAL', /ended with ERROR/);
    expect(parseAll(reader(w.finish()))).toBe('error:boom');
  });

  it('random nesting matches a naive model, in memory and streaming', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = prng(seed);
      const ops: ((w: ImageWriter) => void)[] = [];
      // Model: open stack of payloads; completed records in completion order.
      const stack: { type: number; payload: number[] }[] = [];
      const done: number[][] = [];
      let objref = 0;
      const n = 50 + Math.floor(rnd() * 300);
      for (let i = 0; i < n || stack.length > 0; i++) {
        const x = rnd();
        if (i >= n || (stack.length > 0 && x < 0.2)) {
          const r = stack.pop()!;
          done.push(naiveRecord(r.type, r.payload));
          ops.push((w) => void w.end());
        } else if (x < 0.4 && stack.length < 6) {
          const type = 101 + Math.floor(rnd() * 8000);
          stack.push({ type, payload: [] });
          ops.push((w) => w.begin(type));
        } else if (x < 0.5) {
          const ref = ++objref;
          done.push(naiveRecord(REC.OBJREF, [...le32(7), ...le32(ref)]));
          ops.push((w) => void w.objref(7, ref));
        } else if (stack.length > 0 && x < 0.7) {
          const v = Math.floor(rnd() * 2 ** 32);
          stack[stack.length - 1]!.payload.push(...le32(v));
          ops.push((w) => w.u32(v));
        } else if (stack.length > 0 && x < 0.85) {
          const len = Math.floor(rnd() * 40);
          let s = '';
          for (let k = 0; k < len; k++) s += String.fromCharCode(rnd() < 0.8 ? 32 + Math.floor(rnd() * 90) : 0x100 + Math.floor(rnd() * 0x5000));
          const enc = new TextEncoder().encode(s);
          stack[stack.length - 1]!.payload.push(...le32(enc.length), ...enc);
          ops.push((w) => w.str(s));
        } else if (stack.length > 0) {
          const b = Uint8Array.from({ length: Math.floor(rnd() * 700) }, () => Math.floor(rnd() * 256));
          stack[stack.length - 1]!.payload.push(...b);
          ops.push((w) => w.bytes(b));
        } else {
          const b = Uint8Array.from({ length: Math.floor(rnd() * 30) }, (_, k) => k);
          done.push(naiveRecord(REC.BUFFER, b));
          ops.push((w) => void w.buffer(b));
        }
      }
      const body = [...naiveHeader(TYPES), ...done.flat()];
      const expected = [...body, ...naiveTail(body, objref)];

      const run = (w: ImageWriter): Uint8Array => {
        w.writeHeader(TYPES);
        for (const op of ops) op(w);
        w.tail(objref);
        return w.finish();
      };
      const mem = run(writer({ initialSize: 64 }));
      expect(Array.from(mem), `seed ${seed}`).toEqual(expected);
      for (const hwm of [0, 1, 100, 4096]) {
        const chunks: Uint8Array[] = [];
        const rest = run(writer({ initialSize: 64, highWaterMark: hwm, sink: (c) => chunks.push(c) }));
        expect(rest.length).toBe(0);
        const all = Buffer.concat(chunks);
        expect(Array.from(all), `seed ${seed} hwm ${hwm}`).toEqual(expected);
      }
      expect(parseAll(reader(mem))).toBe('tail');
    }
  });
});

describe('streaming writer', () => {
  it('gives the same bytes as in memory, in bounded chunks', () => {
    const build = (w: ImageWriter): Uint8Array => {
      w.writeHeader(TYPES);
      for (let i = 0; i < 2000; i++) {
        w.begin(101 + (i % 50));
        w.u32(i);
        w.str(`record ${i}`);
        if (i % 100 === 0) w.bytes(new Uint8Array(300).fill(i & 0xff));
        w.end();
        if (i % 7 === 0) w.objref(1, i + 1);
      }
      w.tail(286); // the objects defined
      return w.finish();
    };
    const mem = build(writer());
    const chunks: Uint8Array[] = [];
    let emitted = 0;
    const w = writer({
      highWaterMark: 256,
      initialSize: 64,
      sink: (c) => {
        chunks.push(c.slice());
        c.fill(0xee); // the writer must never touch a chunk again
        emitted += c.length;
      },
    });
    const rest = build(w);
    expect(rest.length).toBe(0);
    expect(w.offset).toBe(mem.length);
    expect(emitted).toBe(mem.length);
    expect(chunks.length).toBeGreaterThan(50);
    // Each chunk is just over the high-water mark (plus at most one record).
    for (const c of chunks.slice(0, -1)) expect(c.length).toBeLessThan(256 + 400);
    expect(Buffer.compare(Buffer.concat(chunks), Buffer.from(mem))).toBe(0);
    expect(parseAll(reader(mem))).toBe('tail');
  });
});

describe.each(IMPLS)('streaming writer: chunk memory (%s)', (impl) => {
  it('hands out each chunk but the last in a buffer of its own length, and keeps writing in one buffer', () => {
    const crc = crc32cFor(getBackend(impl));
    const build = (w: ImageWriter): Uint8Array => {
      w.writeHeader(TYPES);
      for (let i = 0; i < 3000; i++) {
        w.begin(101);
        w.str(`record ${i}`);
        w.end();
      }
      w.tail(0);
      return w.finish();
    };
    const mem = build(writer({ crc32c: crc }));
    const chunks: Uint8Array[] = [];
    build(writer({ crc32c: crc, highWaterMark: 1024, initialSize: 64, sink: (c) => chunks.push(c) }));
    expect(chunks.length).toBeGreaterThan(20);
    expect(Buffer.compare(Buffer.concat(chunks), Buffer.from(mem))).toBe(0);
    // a view of a larger buffer would keep that buffer alive with the chunk
    for (const c of chunks.slice(0, -1)) {
      expect(c.byteOffset).toBe(0);
      expect(c.buffer.byteLength).toBe(c.length);
    }
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
  });
});

describe('FileSource', () => {
  it('reads a temp file through a small window', () => {
    const img = smallImage();
    for (const windowSize of [16, 24, 40, 64, 4096]) {
      const src = new FileSource(tmpFile(img), { windowSize });
      expect(src.size).toBe(img.length);
      const r = reader(src);
      readSmall(r);
      r.close();
    }
  });

  it('grows the window only to hold a record, copies bytes out, CRC spans refills', () => {
    const w = writer();
    w.writeHeader(TYPES);
    const big = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
    for (let i = 0; i < 50; i++) {
      w.begin(101);
      w.u32(i);
      w.blob(i === 25 ? big : big.subarray(0, i));
      w.end();
    }
    w.tail(0);
    const img = w.finish();
    const src = new FileSource(tmpFile(img), { windowSize: 64 });
    const r = reader(src);
    r.readHeader();
    const held: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      r.expect(101);
      expect(r.u32()).toBe(i);
      const b = r.blob();
      held.push(b);
      expect(r.windowBytes).toBeLessThanOrEqual(i >= 25 ? 2 * 5024 : 128);
    }
    for (let i = 0; i < 50; i++) expect(Array.from(held[i]!)).toEqual(Array.from(i === 25 ? big : big.subarray(0, i)));
    r.expect(REC.TAIL);
    r.tail(0);
    src.close();
    src.close();
  });

  it('accepts a file descriptor (and does not close it)', () => {
    const img = smallImage();
    const fd = fs.openSync(tmpFile(img), 'r');
    try {
      const src = new FileSource(fd, { windowSize: 32 });
      readSmall(reader(src));
      src.close();
      expect(fs.fstatSync(fd).size).toBe(img.length);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('reads from a source of unknown size, one byte per read', () => {
    const img = smallImage();
    readSmall(reader(new DribbleSource(img, 1), { windowSize: 16 }));
    readSmall(reader(new DribbleSource(img, 5), { windowSize: 16 }));
    const withTrailer = new Uint8Array(img.length + 1);
    withTrailer.set(img);
    const r = reader(new DribbleSource(withTrailer, 3), { windowSize: 16 });
    expectErr(() => readSmall(r), 'EINVAL', /trailing bytes after TAIL/);
  });

  it('open failures are ObjHashError EIO', () => {
    const e = expectErr(() => new FileSource(path.join(tmpdir, 'missing.img')), 'EIO', /cannot open image file .*missing\.img.*ENOENT/);
    expect((e.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('wraps read errors as EIO', () => {
    const img = smallImage();
    const src: ByteSource = {
      size: img.length,
      read(dst, offset, length, position) {
        if (position >= 48) throw new Error('disk on fire');
        const n = Math.min(length, img.length - position, 8);
        dst.set(img.subarray(position, position + n), offset);
        return n;
      },
    };
    expectErr(() => parseAll(reader(src, { windowSize: 16 })), 'EIO', /read error at offset 48: disk on fire/);
  });
});

describe('hostile images', () => {
  const img = smallImage();
  const hlen = naiveHeader(TYPES).length;
  const put32 = (b: Uint8Array, off: number, v: number): Uint8Array => {
    const c = b.slice();
    new DataView(c.buffer).setUint32(off, v, true);
    return c;
  };
  /** Every way of reading: in memory, file with a tiny window, unknown-size dribble. */
  const readers = (b: Uint8Array, opts: { maxRecord?: number } = {}): ImageReader[] => [
    reader(b, opts),
    reader(new FileSource(tmpFile(b), { windowSize: 16 }), opts),
    reader(new DribbleSource(b, 7), { ...opts, windowSize: 16 }),
  ];

  it('truncated at every byte length → EPIPE', () => {
    for (let n = 0; n < img.length; n++) {
      for (const r of readers(img.subarray(0, n))) {
        const e = expectErr(() => readSmall(r), 'EPIPE', /^truncated: /);
        expect(typeof e.offset).toBe('number');
        expect(e.message).toMatch(new RegExp(`offset ${e.offset}`));
        r.close();
      }
    }
  });

  it('generic parse of every truncation and single-byte corruption: only ObjHashError', () => {
    for (let n = 0; n < img.length; n++) {
      expectErr(() => parseAll(reader(img.subarray(0, n))), 'EPIPE');
    }
    const rnd = prng(99);
    for (let i = 0; i < img.length; i++) {
      for (const v of [0x00, 0xff, 0x80, (img[i]! + 1) & 0xff, Math.floor(rnd() * 256)]) {
        if (v === img[i]) continue;
        const c = img.slice();
        c[i] = v;
        let res: unknown;
        try {
          res = parseAll(reader(c), 2);
        } catch (e) {
          res = e;
        }
        if (!(res instanceof ObjHashError)) {
          // A corruption that still parses is impossible: the CRC covers everything before TAIL,
          // and TAIL's own bytes are checked field by field.
          throw new Error(`byte ${i} = ${v}: parsed without error (${String(res)})`);
        }
        expect(typeof res.offset).toBe('number');
      }
    }
  });

  it('random garbage never escapes as anything but ObjHashError', () => {
    const rnd = prng(7);
    for (let k = 0; k < 300; k++) {
      const c = img.slice();
      const flips = 1 + Math.floor(rnd() * 6);
      for (let j = 0; j < flips; j++) c[Math.floor(rnd() * c.length)] = Math.floor(rnd() * 256);
      const cut = rnd() < 0.3 ? c.subarray(0, Math.floor(rnd() * c.length)) : c;
      for (const r of readers(cut)) {
        try {
          parseAll(r);
        } catch (e) {
          expect(e).toBeInstanceOf(ObjHashError);
        } finally {
          r.close();
        }
      }
    }
  });

  it('empty input', () => {
    expectErr(() => reader(new Uint8Array(0)).readHeader(), 'EPIPE', /expected a record at offset 0/);
  });

  it('bad magic', () => {
    const e = expectErr(() => reader(put32(img, 8, 0x12345678)).readHeader(), 'EINVAL', /^bad magic at offset 0/);
    expect(e.offset).toBe(0);
    expectErr(() => reader(put32(img, 0, REC.BUFFER)).readHeader(), 'EINVAL', /^bad magic at offset 0/);
    expectErr(() => reader(new TextEncoder().encode('hello')).readHeader(), 'EINVAL', /^bad magic at offset 0/);
    expectErr(() => reader(new FileSource(tmpFile(new TextEncoder().encode('{"json": true}')))).readHeader(), 'EINVAL', /^bad magic/);
  });

  it('bad version', () => {
    const e = expectErr(() => reader(put32(img, 16, 3)).readHeader(), 'EINVAL', /unsupported format version 3 at offset 16/);
    expect(e.offset).toBe(16);
  });

  it('malformed type tables', () => {
    // count too large for len
    expectErr(() => reader(put32(img, 24, 1000)).readHeader(), 'EINVAL', /malformed type table.*1000 entries/);
    expectErr(() => reader(put32(img, 24, 0xffffffff)).readHeader(), 'EINVAL', /malformed type table/);
    // fewer entries than bytes → trailing bytes in the HEADER
    expectErr(() => reader(put32(img, 24, 2)).readHeader(), 'EINVAL', /unexpected byte/);
    // name length past the end
    expectErr(() => reader(put32(img, 32, 500)).readHeader(), 'EINVAL', /entry 0 .*name length 500/);
    expectErr(() => reader(put32(img, 32, 0)).readHeader(), 'EINVAL', /empty type name/);
    // invalid UTF-8 in a name
    const bad = img.slice();
    bad[36] = 0xff;
    expectErr(() => reader(bad).readHeader(), 'EINVAL', /not valid UTF-8/);
    // non-zero name padding ('mm' is followed by 2 pad bytes)
    const pad = img.slice();
    const mmAt = 28 + 12 + 8 + 2; // after entry 0 ('file'), entry 1's name 'mm' ends here
    expect(String.fromCharCode(pad[mmAt - 2]!, pad[mmAt - 1]!)).toBe('mm');
    pad[mmAt] = 1;
    expectErr(() => reader(pad).readHeader(), 'EINVAL', /non-zero padding after the type name/);
    // duplicates
    for (const types of [
      [{ objtype: 1, name: 'a' }, { objtype: 1, name: 'b' }],
      [{ objtype: 1, name: 'a' }, { objtype: 2, name: 'a' }],
    ]) {
      const body = naiveHeader(types);
      expectErr(() => reader(Uint8Array.from(body)).readHeader(), 'EINVAL', /duplicate/);
    }
    // HEADER len below the minimum
    expectErr(() => reader(put32(img, 4, 20)).readHeader(), 'EINVAL', /malformed HEADER at offset 0: len 20/);
  });

  it('len < 8', () => {
    for (const len of [0, 1, 7]) {
      const e = expectErr(() => readSmall(reader(put32(img, hlen + 4, len))), 'EINVAL', new RegExp(`OBJREF at offset ${hlen} has len ${len}, less than 8`));
      expect(e.offset).toBe(hlen);
    }
    const userAt = hlen + 16;
    expectErr(() => readSmall(reader(put32(img, userAt + 4, 3))), 'EINVAL', /USER\(101\) at offset \d+ has len 3/);
  });

  it('len beyond the end → EPIPE, before any allocation', () => {
    const userAt = hlen + 16;
    for (const r of readers(put32(img, userAt + 4, 1000000))) {
      const before = r.windowBytes;
      const e = expectErr(() => readSmall(r), 'EPIPE', new RegExp(`truncated: record USER\\(101\\) at offset ${userAt} has len 1000000`));
      expect(e.offset).toBe(userAt);
      // Known size: checked before growing. Unknown size: grown only as bytes arrive.
      expect(r.windowBytes).toBeLessThanOrEqual(Math.max(before, 2 * img.length));
      r.close();
    }
  });

  it('len > maxRecord → E2BIG, no big allocation', () => {
    const userAt = hlen + 16;
    const huge = put32(img, userAt + 4, 0xfffffff0);
    for (const r of readers(huge)) {
      const before = r.windowBytes;
      const e = expectErr(() => readSmall(r), 'E2BIG', /USER\(101\) at offset \d+ has len 4294967280, over maxRecord 67108864/);
      expect(e.offset).toBe(userAt);
      // The window held the 72-byte HEADER at most; nothing was allocated for the huge record.
      expect(r.windowBytes).toBeLessThanOrEqual(Math.max(before, 256));
      r.close();
    }
    for (const r of readers(img, { maxRecord: 32 })) {
      expectErr(() => readSmall(r), 'E2BIG', /HEADER at offset 0 has len \d+, over maxRecord 32/);
      r.close();
    }
  });

  it('non-zero padding', () => {
    // USER(101) record: 8 + 4 + 4 + 5 = 21 bytes, 3 padding bytes.
    const userAt = hlen + 16;
    const c = img.slice();
    c[userAt + 22] = 1;
    const e = expectErr(() => readSmall(reader(c)), 'EINVAL', new RegExp(`non-zero padding after record USER\\(101\\) at offset ${userAt}`));
    expect(e.offset).toBe(userAt + 22);
  });

  it('OBJREF len != 16', () => {
    for (const len of [8, 12, 20, 24]) {
      const e = expectErr(() => readSmall(reader(put32(img, hlen + 4, len))), 'EINVAL', new RegExp(`OBJREF at offset ${hlen} has len ${len}, must be 16`));
      expect(e.offset).toBe(hlen);
    }
  });

  it('TAIL: len, magic, CRC, count, trailing bytes', () => {
    const tailAt = img.length - 24;
    expectErr(() => readSmall(reader(put32(img, tailAt + 4, 32))), 'EINVAL', /TAIL at offset \d+ has len 32, must be 24/);
    expectErr(() => readSmall(reader(put32(img, tailAt + 8, 1))), 'EBADMSG', /bad TAIL magic/);
    expectErr(() => readSmall(reader(put32(img, tailAt + 20, 1))), 'EBADMSG', /^checksum mismatch: TAIL at offset/);
    // Corrupt a payload byte that still parses: 'hello' → 'hellp'.
    const c = img.slice();
    const at = Buffer.from(c).indexOf('hello');
    c[at + 4] = 'p'.charCodeAt(0);
    for (const r of readers(c)) {
      const e = expectErr(() => parseAll(r), 'EBADMSG', /checksum mismatch/);
      expect(e.offset).toBe(tailAt);
      r.close();
    }
    // count
    const r = reader(img);
    r.readHeader();
    while (r.next().type !== REC.TAIL);
    expectErr(() => r.tail(3), 'EBADMSG', /object count mismatch: TAIL at offset \d+ says 2 objects, 3 were read/);
    // trailing bytes
    for (const extra of [1, 8, 100]) {
      const t = new Uint8Array(img.length + extra);
      t.set(img);
      for (const rr of readers(t)) {
        const e = expectErr(() => readSmall(rr), 'EINVAL', new RegExp(`trailing bytes after TAIL at offset ${tailAt}`));
        expect(e.offset).toBe(img.length);
        rr.close();
      }
    }
    // nothing may be read after TAIL
    const r2 = reader(img);
    readSmall(r2);
    expectErr(() => r2.next(), 'EINVAL', /ended with TAIL/);
    expectErr(() => r2.u32(), 'EINVAL', /no current record/);
  });

  it('unknown record types and a second HEADER', () => {
    for (const t of [0, 2, 6, 100, 9000, 9002, 9998, 10000, 0xffffffff]) {
      const e = expectErr(() => readSmall(reader(put32(img, hlen, t))), 'EINVAL', new RegExp(`unknown record type ${t} at offset ${hlen}`));
      expect(e.offset).toBe(hlen);
    }
    expectErr(() => readSmall(reader(put32(img, hlen, REC.HEADER))), 'EINVAL', /unexpected HEADER record at offset/);
  });

  it('reading past the payload names the record offset and type', () => {
    const r = reader(img);
    const u = hlen + 16;
    r.readHeader();
    r.next();
    r.next();
    expect(r.u32()).toBe(42);
    expect(r.remaining()).toBe(9);
    expect(r.u32()).toBe(5);
    const e = expectErr(() => r.u64(), 'EINVAL', new RegExp(`read past the end of record USER\\(101\\) at offset ${u}: wanted 8 byte\\(s\\) at offset ${u + 16}, 5 left`));
    expect(e.offset).toBe(u + 16);
    expectErr(() => r.bytes(10), 'EINVAL', /read past the end of record USER\(101\)/);
    expectErr(() => r.bytes(-1), 'EINVAL');
    expectErr(() => r.str(), 'EINVAL', /string length \d+ at offset \d+ runs past the end of record USER\(101\)/);
    expectErr(() => r.expectEnd(), 'EINVAL', new RegExp(`5 unread byte\\(s\\) at the end of record USER\\(101\\) at offset ${u}`));
    expectErr(() => r.objref(), 'EINVAL', new RegExp(`current record is USER\\(101\\) at offset ${u}, not OBJREF`));
    expectErr(() => r.tail(), 'EINVAL', /not TAIL/);
    expectErr(() => r.errorMessage(), 'EINVAL', /not ERROR/);
    expectErr(() => r.expect(REC.OBJREF), 'EINVAL', new RegExp(`expected a OBJREF record at offset ${u + 24}, found BUFFER`));
  });

  it('string/blob lengths past the payload, invalid UTF-8, bad bool, unsafe integers', () => {
    const w = writer();
    w.writeHeader([]);
    w.begin(101);
    w.u32(100); // a string/blob length of 100 with 4 bytes after it
    w.u32(0);
    w.end();
    w.begin(102);
    w.u32(2);
    w.u8(0xc3);
    w.u8(0x28); // invalid UTF-8
    w.u8(2); // bad bool
    w.u64(2n ** 53n);
    w.i64(-(2n ** 53n));
    w.i64(2n ** 60n);
    w.end();
    w.tail(0);
    const b = w.finish();
    const r = reader(b);
    r.readHeader();
    r.next();
    expectErr(() => r.str(), 'EINVAL', /string length 100 at offset \d+ runs past the end of record USER\(101\)/);
    expectErr(() => r.blob(), 'EINVAL', /blob length 100/);
    r.next();
    expectErr(() => r.str(), 'EINVAL', /invalid UTF-8 in a string at offset \d+ in record USER\(102\)/);
    expect(r.remaining()).toBe(4 + 2 + 1 + 24); // a failed read does not move the cursor
    r.bytes(6);
    expectErr(() => r.bool(), 'EINVAL', /bad bool 2/);
    r.u8();
    expectErr(() => r.u64n(), 'EINVAL', /not a safe integer/);
    expect(r.u64()).toBe(2n ** 53n);
    expectErr(() => r.i64n(), 'EINVAL', /not a safe integer/);
    expect(r.i64()).toBe(-(2n ** 53n));
    expectErr(() => r.i64n(), 'EINVAL', /not a safe integer/);
    expect(r.i64()).toBe(2n ** 60n);
  });

  it('misuse of the reader', () => {
    const r = reader(img);
    expectErr(() => r.next(), 'EINVAL', /readHeader\(\) must come first/);
    expectErr(() => r.u32(), 'EINVAL', /no current record/);
    expect(r.peek()).toBe(REC.HEADER);
    r.readHeader();
    expectErr(() => r.readHeader(), 'EINVAL', /already been read/);
    expectErr(() => reader(img, { maxRecord: 7 }), 'EINVAL', /maxRecord/);
    expectErr(() => new ImageReader(img, {} as never), 'EINVAL', /crc32c/);
    expectErr(() => new ImageReader({} as never, { crc32c }), 'EINVAL', /Uint8Array or a ByteSource/);
  });
});

describe('writer errors', () => {
  it('payload writers need an open record', () => {
    const w = writer();
    w.writeHeader([]);
    for (const f of [
      () => w.u8(1),
      () => w.u16(1),
      () => w.u32(1),
      () => w.i32(1),
      () => w.u64(1),
      () => w.i64(1),
      () => w.f64(1),
      () => w.bool(true),
      () => w.bytes(Uint8Array.of(1)),
      () => w.blob(Uint8Array.of(1)),
      () => w.str('x'),
      () => w.str('é'),
      () => w.str('x'.repeat(100)),
      () => w.align(8),
      () => w.end(),
    ]) {
      expectErr(f, 'EINVAL', /no open record/);
    }
    // Nothing was written by the failed calls.
    w.tail(0);
    expect(parseAll(reader(w.finish()))).toBe('tail');
  });

  it('order: HEADER first, nothing after TAIL or finish', () => {
    const w = writer();
    expectErr(() => w.begin(101), 'EINVAL', /writeHeader\(\) must come first/);
    expectErr(() => w.objref(1, 1), 'EINVAL', /writeHeader\(\) must come first/);
    expectErr(() => w.tail(0), 'EINVAL', /writeHeader\(\) must come first/);
    w.writeHeader([]);
    expectErr(() => w.writeHeader([]), 'EINVAL', /already/);
    w.begin(101);
    expectErr(() => w.tail(0), 'EINVAL', /1 record\(s\) still open/);
    expectErr(() => w.finish(), 'EINVAL', /still open/);
    w.end();
    w.tail(0);
    expectErr(() => w.begin(101), 'EINVAL', /ended with TAIL/);
    expectErr(() => w.objref(1, 1), 'EINVAL', /ended with TAIL/);
    expectErr(() => w.error('x'), 'EINVAL', /ended with TAIL/);
    w.finish();
    expectErr(() => w.finish(), 'EINVAL', /already finished/);
    expectErr(() => w.u32(1), 'EINVAL', /finished/);
  });

  it('bad arguments', () => {
    const w = writer();
    expectErr(() => w.writeHeader([{ objtype: -1, name: 'x' }]), 'EINVAL', /objtype must be a u32/);
    expectErr(() => w.writeHeader([{ objtype: 1, name: '' }]), 'EINVAL', /non-empty/);
    expectErr(() => w.writeHeader([{ objtype: 1, name: 'a' }, { objtype: 1, name: 'b' }]), 'EINVAL', /duplicate objtype 1/);
    expectErr(() => w.writeHeader([{ objtype: 1, name: 'a' }, { objtype: 2, name: 'a' }]), 'EINVAL', /duplicate type name/);
    expectErr(() => w.writeHeader([], -1), 'EINVAL', /flags/);
    w.writeHeader([]);
    for (const t of [0, 1, 2, 5, 100, 9000, 9001, 9999, 101.5, NaN]) expectErr(() => w.begin(t), 'EINVAL', /cannot be opened with begin/);
    for (const ref of [0, -1, 2 ** 31, 1.5]) expectErr(() => w.objref(1, ref), 'EINVAL', /objref must be an integer/);
    expectErr(() => w.objref(-1, 1), 'EINVAL', /objtype must be a u32/);
    expectErr(() => w.tail(-1), 'EINVAL', /count must be a u32/);
    w.begin(101);
    expectErr(() => w.u64(-1), 'EINVAL', /out of range/);
    expectErr(() => w.u64(2 ** 53), 'EINVAL', /safe integers; pass a bigint/);
    expectErr(() => w.u64(1.5), 'EINVAL', /out of range/);
    expectErr(() => w.u64(2n ** 64n), 'EINVAL', /out of range/);
    expectErr(() => w.i64(2n ** 63n), 'EINVAL', /out of range/);
    expectErr(() => w.i64(Number.MIN_SAFE_INTEGER - 2), 'EINVAL', /out of range/);
    expectErr(() => w.align(3), 'EINVAL', /align/);
    w.end();
    expectErr(() => writer({ maxRecord: 8 }), 'EINVAL', /maxRecord/);
    expectErr(() => writer({ highWaterMark: -1 }), 'EINVAL', /highWaterMark/);
    expectErr(() => new ImageWriter({} as never), 'EINVAL', /crc32c/);
  });

  it('E2BIG over maxRecord, through every growth path', () => {
    const w = writer({ maxRecord: 64 });
    w.writeHeader([]);
    w.begin(101);
    w.bytes(new Uint8Array(56)); // len 64: fits exactly
    expect(w.end()).toBe(32);
    for (const f of [
      () => w.bytes(new Uint8Array(57)),
      () => w.str('x'.repeat(53)),
      () => w.str('é'.repeat(27)),
      () => w.str('x'.repeat(1000)),
      () => {
        for (let i = 0; i < 15; i++) w.u32(i);
      },
      () => {
        for (let i = 0; i < 57; i++) w.u8(i);
      },
    ]) {
      w.begin(102);
      const e = expectErr(f, 'E2BIG', /USER\(102\).* over maxRecord 64/);
      expect(e.offset).toBe(w.offset);
      w.abort();
    }
    expectErr(() => w.buffer(new Uint8Array(100)), 'E2BIG');
    w.abort();
    expectErr(() => w.string('s'.repeat(100)), 'E2BIG');
    w.abort();
    // Nested: the inner record's own size counts.
    w.begin(101);
    w.bytes(new Uint8Array(40));
    w.begin(102);
    w.bytes(new Uint8Array(50));
    w.end();
    w.bytes(new Uint8Array(16));
    w.end();
    // A long error message is cut to fit.
    const off = w.error('e'.repeat(1000));
    const img = w.finish();
    const r = reader(img, { maxRecord: 64 });
    r.readHeader();
    r.next();
    r.next();
    r.next();
    expect(r.next().offset).toBe(off);
    expect(r.errorMessage()).toBe('e'.repeat(18));
  });

  it('a huge string is rejected before a huge allocation', () => {
    const w = writer({ maxRecord: 1024 });
    w.writeHeader([]);
    w.begin(101);
    expectErr(() => w.str('x'.repeat(10_000_000)), 'E2BIG');
  });

  it('a sink that receives chunks synchronously; finish flushes the rest', () => {
    const got: number[] = [];
    const w = writer({ sink: (c) => got.push(c.length), highWaterMark: 1 << 20 });
    w.writeHeader([]);
    w.tail(0);
    expect(got.length).toBe(0);
    expect(w.finish().length).toBe(0);
    expect(got).toEqual([28 + 4 + 24]);
  });
});

describe('varints', () => {
  const crc32c = (b: Uint8Array, c: number) => {
    let crc = ~c >>> 0;
    for (const x of b) {
      crc ^= x;
      for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
    return ~crc >>> 0;
  };
  it('uv, sv and vstr round-trip, with the documented sizes', async () => {
    const { ImageWriter } = await import('../lib/image/writer.js');
    const { ImageReader } = await import('../lib/image/reader.js');
    const uvs = [0, 1, 127, 128, 16383, 16384, 2 ** 32, Number.MAX_SAFE_INTEGER];
    const svs = [0, -1, 1, -64, 63, -(2 ** 40), -(2 ** 52), 2 ** 52 - 1];
    const strs = ['', 'a', 'x'.repeat(127), 'y'.repeat(128), 'héllo ✓', 'é'.repeat(100)];
    const w = new ImageWriter({ crc32c, version: 1 });
    w.writeHeader([{ objtype: 1, name: 't' }]);
    w.begin(101);
    for (const v of uvs) w.uv(v);
    for (const v of svs) w.sv(v);
    for (const s of strs) w.vstr(s);
    w.end();
    w.begin(102);
    w.uv(127);
    w.uv(128);
    w.vstr('abc');
    w.end();
    w.tail(0);
    const img = w.finish();
    const r = new ImageReader(img, { crc32c });
    r.readHeader();
    r.next();
    for (const v of uvs) expect(r.uv()).toBe(v);
    for (const v of svs) expect(r.sv()).toBe(v);
    for (const s of strs) expect(r.vstr()).toBe(s);
    const rec = r.next();
    expect(rec.len).toBe(8 + 1 + 2 + 4);
    expect([r.uv(), r.uv(), r.vstr()]).toEqual([127, 128, 'abc']);
    expect(() => w.uv(-1)).toThrow(ObjHashError);
    expect(() => w.uv(2 ** 53)).toThrow(ObjHashError);
    expect(() => w.sv(0.5)).toThrow(ObjHashError);
    expect(() => w.sv(2 ** 52)).toThrow(ObjHashError);
  });

  it('a varint that runs past its record, or past 8 bytes, is EINVAL', async () => {
    const { ImageWriter } = await import('../lib/image/writer.js');
    const { ImageReader } = await import('../lib/image/reader.js');
    const w = new ImageWriter({ crc32c });
    w.writeHeader([{ objtype: 1, name: 't' }]);
    w.begin(101);
    w.bytes(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]));
    w.end();
    w.begin(102);
    w.u8(0xff);
    w.end();
    w.begin(103);
    w.uv(5);
    w.bytes(new Uint8Array([0x61, 0x62]));
    w.end();
    w.tail(0);
    const r = new ImageReader(w.finish(), { crc32c });
    r.readHeader();
    r.next();
    expect(() => r.uv()).toThrow(/longer than 8 bytes/);
    r.next();
    expect(() => r.uv()).toThrow(ObjHashError);
    r.next();
    let err: unknown;
    try {
      r.vstr();
    } catch (e) {
      err = e;
    }
    expect((err as ObjHashError).code).toBe('EINVAL');
  });
});
