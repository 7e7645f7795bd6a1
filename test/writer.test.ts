/**
 * The payload writers refuse what they cannot write: every writer at both
 * bounds and one past each, NaN, fractions and wrong types, through a
 * CheckpointContext, a checkpoint() and an ImageWriter, on every backend;
 * a refused value writes nothing; every in-range bound value round-trips.
 */
import { describe, expect, it } from 'vitest';
import { CheckpointContext, ImageWriter, ObjHashError, REC, checkpoint, defineObjType, restart } from '../lib/index.js';
import { getBackend } from '../lib/backend/loader.js';
import { IMPLS, expectCode } from './helpers.js';

type Writer = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f64' | 'bool' | 'uv' | 'sv';

interface Case {
  w: Writer;
  /** In-range values: the bounds (and a few more) */
  ok: unknown[];
  /** One past each bound, NaN, fractions, infinities, wrong types. */
  bad: unknown[];
}

const MAX = Number.MAX_SAFE_INTEGER;
/** Values of the wrong type for a writer of numbers. */
const NOT_NUMBERS = ['1', '', true, false, null, undefined, {}, [1], Symbol('s'), () => 1];
/** ...and for a writer that takes no bigint. */
const NOT_NUMBERS_NOR_BIGINTS = [...NOT_NUMBERS, 1n, 0n];
const NOT_FINITE = [NaN, Infinity, -Infinity];

/** An integer writer lo..hi (numbers only). */
function ints(w: Writer, lo: number, hi: number): Case {
  // (hi - 0.5 is not a double near 2^53: it rounds to an integer there)
  const fractions = [0.5, -0.5, 1.5, lo + 0.5, hi - 0.5].filter((f) => !Number.isInteger(f));
  return { w, ok: [lo, hi, 0, -0, 1, lo + 1, hi - 1], bad: [lo - 1, hi + 1, ...NOT_FINITE, ...new Set(fractions), ...NOT_NUMBERS_NOR_BIGINTS] };
}

const CASES: Case[] = [
  ints('u8', 0, 0xff),
  ints('u16', 0, 0xffff),
  ints('u32', 0, 0xffffffff),
  ints('i32', -0x80000000, 0x7fffffff),
  ints('uv', 0, MAX),
  ints('sv', -(2 ** 52), 2 ** 52 - 1),
  {
    w: 'u64',
    ok: [0, MAX, 0n, 2n ** 64n - 1n, 1, 1n],
    bad: [-1, MAX + 1, -1n, 2n ** 64n, ...NOT_FINITE, 0.5, 1.5, ...NOT_NUMBERS],
  },
  {
    w: 'i64',
    ok: [-MAX, MAX, -(2n ** 63n), 2n ** 63n - 1n, 0, -1, -1n],
    bad: [-MAX - 2, MAX + 1, -(2n ** 63n) - 1n, 2n ** 63n, ...NOT_FINITE, 0.5, -1.5, ...NOT_NUMBERS],
  },
  {
    w: 'f64',
    ok: [-Number.MAX_VALUE, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, 0, -0, 0.5, NaN, Infinity, -Infinity],
    bad: NOT_NUMBERS_NOR_BIGINTS,
  },
  { w: 'bool', ok: [false, true], bad: [0, 1, NaN, 'true', '', null, undefined, {}, [true], 1n] },
];

/** How the error message must show a refused value. */
function shown(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return `${v}n`;
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'object':
      return v === null ? 'null' : Array.isArray(v) ? 'array' : v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? v.constructor.name : 'object';
    case 'symbol':
      return 'symbol';
    case 'function':
      return 'function';
    default:
      return String(v);
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const label = (v: unknown) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? JSON.stringify(v) : typeof v === 'symbol' ? 'Symbol' : Array.isArray(v) ? `[${String(v)}]` : typeof v === 'function' ? 'function' : v !== null && typeof v === 'object' ? '{}' : Object.is(v, -0) ? '-0' : String(v));

/** The len field of the record at `offset`. */
function lenAt(image: Uint8Array, offset: number): number {
  return new DataView(image.buffer, image.byteOffset, image.byteLength).getUint32(offset + 4, true);
}

const ANY = defineObjType<object>({ name: 'any' });
const USER = 200;

/** target[w](v) throws EINVAL, its message naming the writer and showing the value. */
function expectRefused(target: object, w: string, v: unknown, prefix = `${w}: `): void {
  const f = (target as Record<string, (x: unknown) => unknown>)[w]!;
  const e = expectCode(() => f.call(target, v), 'EINVAL');
  expect(e.message.startsWith(prefix), e.message).toBe(true);
  expect(e.message).toMatch(new RegExp(escape(shown(v))));
}

/** An ImageWriter with the backend's CRC, its HEADER written, a user record open. */
function openWriter(impl: (typeof IMPLS)[number]): ImageWriter {
  const b = getBackend(impl);
  const wr = new ImageWriter({ crc32c: (x, crc) => b.crc32c(x, crc), version: 1 });
  wr.writeHeader([{ objtype: 1, name: 'any' }]);
  wr.begin(USER);
  return wr;
}

describe.each(IMPLS)('payload writers refuse what they cannot write (%s)', (impl) => {
  describe.each(CASES.map((c) => [c.w, c] as const))('%s', (w, c) => {
    it.each(c.bad.map((v) => [label(v), v]))(`CheckpointContext.${w}(%s): EINVAL naming ${w} and the value, nothing written`, (_, v) => {
      const ctx = new CheckpointContext({ types: [ANY], impl, version: 1 });
      ctx.checkpointObj({}, ANY); // (an image holds at least one object)
      ctx.begin(USER);
      expectRefused(ctx, w, v);
      const at = ctx.end();
      const image = ctx.finish();
      expect(lenAt(image, at)).toBe(8); // the record is still empty
    });

    it.each(c.bad.map((v) => [label(v), v]))(`ImageWriter.${w}(%s): EINVAL, nothing written`, (_, v) => {
      const wr = openWriter(impl);
      expectRefused(wr, w, v);
      const at = wr.end();
      wr.tail(0);
      expect(lenAt(wr.finish(), at)).toBe(8);
    });

    it(`checkpoint() of an op whose ${w} is out of range fails with EINVAL, the image ends in an ERROR record`, () => {
      const v = c.bad[1];
      const T = defineObjType<object>({
        name: 't',
        checkpoint: (ctx) => {
          ctx.begin(USER);
          (ctx[w] as (x: unknown) => unknown).call(ctx, v);
          ctx.end();
        },
        restore: (ctx) => (ctx.readRecord(USER), {}),
      });
      let err: unknown;
      try {
        checkpoint({}, T, { types: [T], impl, version: 1 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ObjHashError);
      expect((err as ObjHashError).code).toBe('EINVAL');
      expect((err as ObjHashError).message).toContain(`${w}: `);
      const image = (err as { image: Uint8Array }).image;
      expect(new DataView(image.buffer, image.byteOffset).getUint32(56, true)).toBe(REC.ERROR); // HEADER 40, OBJREF 16, then ERROR
      expectCode(() => restart(image, T, { types: [T], impl }), 'EIO', new RegExp(`${w}: `));
    });
  });

  it.each([
    ['str', [5, 5n, null, undefined, {}, ['a'], new Uint8Array(2)]],
    ['vstr', [5, 5n, null, undefined, {}, ['a'], new Uint8Array(2)]],
    ['blob', ['ab', [1, 2], null, undefined, 5, {}, new ArrayBuffer(2), new Uint16Array(2)]],
  ] as const)('CheckpointContext.%s of the wrong type: EINVAL naming the writer and the value, nothing written', (w, bad) => {
    const ctx = new CheckpointContext({ types: [ANY], impl, version: 1 });
    ctx.checkpointObj({}, ANY);
    ctx.begin(USER);
    for (const v of bad) expectRefused(ctx, w, v, `${w}: expected `);
    const at = ctx.end();
    expect(lenAt(ctx.finish(), at)).toBe(8);
  });

  it('ImageWriter.bytes of the wrong type: EINVAL, nothing written', () => {
    const wr = openWriter(impl);
    for (const v of ['ab', [1, 2], null, 5, new ArrayBuffer(2)]) expectRefused(wr, 'bytes', v, 'bytes: expected a Uint8Array, got ');
    const at = wr.end();
    wr.tail(0);
    expect(lenAt(wr.finish(), at)).toBe(8);
  });

  it('every in-range bound value round-trips through checkpoint and restart', () => {
    type Got = { w: Writer; v: unknown }[];
    const T = defineObjType<Got>({
      name: 'bounds',
      checkpoint: (ctx, vals) => {
        ctx.begin(USER);
        for (const { w, v } of vals) (ctx[w] as (x: unknown) => unknown).call(ctx, v);
        ctx.end();
      },
      restore: (ctx) => {
        ctx.readRecord(USER);
        const back: Got = [];
        for (const { w } of all) back.push({ w, v: (ctx[w] as () => unknown).call(ctx) });
        expect(ctx.remaining()).toBe(0);
        return back;
      },
    });
    const all: Got = CASES.flatMap((c) => c.ok.map((v) => ({ w: c.w, v })));
    const image = checkpoint(all, T, { types: [T], impl, version: 1 });
    const back = restart(image, T, { types: [T], impl });
    expect(back).toHaveLength(all.length);
    for (let i = 0; i < all.length; i++) {
      const { w, v } = all[i]!;
      const got = back[i]!.v;
      // u64/i64 read back as bigints; -0 written by an integer writer is 0
      const want = w === 'u64' || w === 'i64' ? BigInt(v as number) : w !== 'f64' && Object.is(v, -0) ? 0 : v;
      expect(Object.is(got, want) || (typeof got === 'bigint' && got === want), `${w}(${label(v)}) read back ${label(got)}`).toBe(true);
    }
  });
});
