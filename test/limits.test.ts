/**
 * Limits (DESIGN §6): record size, nesting depth and object count each
 * have a default, can be configured, and are enforced with their code
 * on both sides (checkpoint and restart); and a 1M-deep chain of shared
 * objects fails with ELOOP, not a stack overflow, wherever the stack
 * runs out, with every grab dropped.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_RECORD,
  ImageWriter,
  REC,
  checkpoint,
  defineObjType,
  restart,
  restartFromFile,
  type ObjType,
} from '../lib/index.js';
import { DEFAULT_MAX_OBJECTS } from '../lib/context/options.js';
import { crc32c } from '../lib/js/crc32c.js';
import { IMPLS, expectCode } from './helpers.js';
import type { ObjHashError } from '../lib/index.js';

const dir = mkdtempSync(join(tmpdir(), 'objhash-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Link {
  id: number;
  next: Link | null;
}
const REC_LINK = 501;

interface Counts {
  grabs: number;
  drops: number;
}

/** A linked list type; keyed: identified by id through the C table (grab/drop cross the addon). */
function linkType(name: string, counts?: Counts, keyed = false): ObjType<Link> {
  const T: ObjType<Link> = defineObjType<Link>({
    name,
    key: keyed ? (l) => l.id : undefined,
    // counted as their last statement: a grab that throws (stack overflow) is not a grab
    grab: counts ? () => void counts.grabs++ : undefined,
    drop: counts ? () => void counts.drops++ : undefined,
    checkpoint(ctx, l) {
      const next = l.next ? ctx.checkpointObj(l.next, T) : 0;
      ctx.begin(REC_LINK).u32(l.id).i32(next).end();
    },
    restore(ctx) {
      ctx.readRecord(REC_LINK);
      const id = ctx.u32();
      const r = ctx.i32();
      return { id, next: r === 0 ? null : ctx.objFetch(r, T) };
    },
  });
  return T;
}

function chain(n: number): Link {
  let head: Link | null = null;
  for (let id = n; id >= 1; id--) head = { id, next: head };
  return head!;
}

/**
 * The image of a chain of n links (type 'link'), written record by record:
 * checkpoint itself would stop at maxDepth.  n OBJREFs, then the records
 * innermost first, as checkpoint lays them out.
 */
function chainImage(n: number, name = 'link'): Uint8Array {
  const w = new ImageWriter({ crc32c, initialSize: 32 * n + 256, version: 1 });
  w.writeHeader([{ objtype: 1, name }]);
  for (let k = 1; k <= n; k++) w.objref(1, k);
  for (let k = n; k >= 1; k--) {
    w.begin(REC_LINK);
    w.u32(k);
    w.i32(k < n ? k + 1 : 0);
    w.end();
  }
  w.tail(n);
  return w.finish();
}

/** Runs fn with `pad` extra frames on the stack, so an overflow lands elsewhere. */
function withPad<R>(pad: number, fn: () => R): R {
  return pad === 0 ? fn() : withPad(pad - 1, fn);
}

const MILLION = 1_000_000;
const deepImage = chainImage(MILLION);

describe('limits: the defaults', () => {
  it('maxDepth 1000, maxRecord 64 MiB, maxObjects 2^31 - 2', () => {
    expect(DEFAULT_MAX_DEPTH).toBe(1000);
    expect(DEFAULT_MAX_RECORD).toBe(64 * 1024 * 1024);
    expect(DEFAULT_MAX_OBJECTS).toBe(0x7ffffffe);
  });
});

describe.each(IMPLS)('limits (%s)', (impl) => {
  const LinkT = linkType('link');
  // byte-level limits of format version 1 (format-v2.test.ts checks version 2's)
  const opts = (o: object = {}) => ({ impl, types: [LinkT], version: 1, ...o });

  describe('maxDepth (ELOOP)', () => {
    it('default: a chain of 1000 nested objects passes, 1001 is ELOOP, on both sides', () => {
      expect(restart(checkpoint(chain(1000), LinkT, opts()), LinkT, opts()).id).toBe(1);
      expectCode(() => checkpoint(chain(1001), LinkT, opts()), 'ELOOP', /deeper than 1000 \(options\.maxDepth\)/);
      const img = chainImage(1001);
      expectCode(() => restart(img, LinkT, opts()), 'ELOOP', /deeper than 1000 \(options\.maxDepth\)/);
      expect(restart(img, LinkT, opts({ maxDepth: 1001 })).id).toBe(1);
    });

    it('the default is safe by construction: the real stack runs out at least 1.6x deeper, cold or warm', () => {
      // Measured inside vitest, which itself starts deep in the stack, with a
      // fresh type each time (unoptimised frames are the largest).
      for (let round = 0; round < 3; round++) {
        const T = linkType(`headroom-${round}`);
        const o = { impl, types: [T], maxDepth: 10 * MILLION };
        const depthOf = (e: ObjHashError) => Number(/stack overflow at depth (\d+)/.exec(e.message)![1]);
        const c = depthOf(expectCode(() => checkpoint(chain(MILLION), T, o), 'ELOOP'));
        const r = depthOf(expectCode(() => restart(chainImage(MILLION, `headroom-${round}`), T, o), 'ELOOP'));
        expect(c, 'checkpoint').toBeGreaterThanOrEqual(1.6 * DEFAULT_MAX_DEPTH);
        expect(r, 'restart').toBeGreaterThanOrEqual(1.6 * DEFAULT_MAX_DEPTH);
      }
    });

    it('at the default both backends stop at the same depth with the same error', () => {
      const other = impl === 'native' ? 'js' : 'native';
      if (!IMPLS.includes(other)) return;
      const msg = (i: typeof impl) => expectCode(() => checkpoint(chain(5000), LinkT, { impl: i, types: [LinkT] }), 'ELOOP').message;
      expect(msg(impl)).toBe(msg(other));
      const rmsg = (i: typeof impl) => expectCode(() => restart(chainImage(5000), LinkT, { impl: i, types: [LinkT] }), 'ELOOP');
      expect(rmsg(impl).message).toBe(rmsg(other).message);
      expect(rmsg(impl).offset).toBe(rmsg(other).offset);
    });

    it('configured: maxDepth 10 allows 10 and refuses 11; the error names the offset', () => {
      expect(checkpoint(chain(10), LinkT, opts({ maxDepth: 10 })).length).toBeGreaterThan(0);
      expectCode(() => checkpoint(chain(11), LinkT, opts({ maxDepth: 10 })), 'ELOOP', /deeper than 10/);
      expect(restart(chainImage(10), LinkT, opts({ maxDepth: 10 })).id).toBe(1);
      const e = expectCode(() => restart(chainImage(11), LinkT, opts({ maxDepth: 10 })), 'ELOOP', /deeper than 10/);
      expect(e.offset).toBeGreaterThan(0);
    });

    it('bad values are EINVAL', () => {
      for (const v of [0, -1, 1.5, '10', Number.NaN])
        expectCode(() => checkpoint(chain(1), LinkT, opts({ maxDepth: v })), 'EINVAL', /maxDepth/);
      expectCode(() => restart(chainImage(1), LinkT, opts({ maxDepth: 0 })), 'EINVAL', /maxDepth/);
    });
  });

  describe('maxObjects (E2BIG)', () => {
    it('configured on both sides, every grab dropped when it is hit', () => {
      const counts = { grabs: 0, drops: 0 };
      const T = linkType('link', counts);
      const o = (x: object) => ({ impl, types: [T], ...x });
      expect(restart(checkpoint(chain(5), T, o({ maxObjects: 5 })), T, o({ maxObjects: 5 })).id).toBe(1);
      expectCode(() => checkpoint(chain(6), T, o({ maxObjects: 5 })), 'E2BIG', /more than 5 objects \(options\.maxObjects\)/);
      expectCode(() => restart(chainImage(6), T, o({ maxObjects: 5 })), 'E2BIG', /more than 5 objects/);
      expect(counts.grabs).toBeGreaterThan(10);
      expect(counts.drops).toBe(counts.grabs);
      expectCode(() => checkpoint(chain(1), T, o({ maxObjects: 0 })), 'EINVAL', /maxObjects/);
    });
  });

  describe('maxRecord (E2BIG)', () => {
    const Blob = defineObjType<Uint8Array>({
      name: 'blob',
      checkpoint: (ctx, b) => void ctx.begin(502).blob(b).end(),
      restore: (ctx) => (ctx.readRecord(502), ctx.blob().slice()),
    });
    const bo = (o: object = {}) => ({ impl, types: [Blob], version: 1, ...o });
    // a record of len L holds a blob of L - 12 bytes (header 8, length 4)

    it('default 64 MiB: a record of exactly 64 MiB round-trips, one byte more is E2BIG before it is written', () => {
      const img = checkpoint(new Uint8Array(DEFAULT_MAX_RECORD - 12), Blob, bo());
      expect(restart(img, Blob, bo()).length).toBe(DEFAULT_MAX_RECORD - 12);
      expectCode(() => checkpoint(new Uint8Array(DEFAULT_MAX_RECORD - 11), Blob, bo()), 'E2BIG', /over maxRecord 67108864/);
    });

    it('default 64 MiB on restart: a longer len is E2BIG before the bytes are looked for, in memory and from a file', () => {
      const img = checkpoint(new Uint8Array(100), Blob, bo());
      const bad = img.slice();
      const at = 40 + 16; // HEADER (40 bytes for one 4-letter type), OBJREF (16), then the blob record
      expect(new DataView(bad.buffer).getUint32(at, true)).toBe(502);
      new DataView(bad.buffer).setUint32(at + 4, DEFAULT_MAX_RECORD + 8, true);
      expectCode(() => restart(bad, Blob, bo()), 'E2BIG', new RegExp(`offset ${at} has len ${DEFAULT_MAX_RECORD + 8}, over maxRecord`));
      const path = join(dir, `big-len-${impl}.img`);
      writeFileSync(path, bad);
      expectCode(() => restartFromFile(path, Blob, bo()), 'E2BIG', /over maxRecord/);
      // within the limit but beyond the bytes present: truncated, nothing allocated
      new DataView(bad.buffer).setUint32(at + 4, DEFAULT_MAX_RECORD, true);
      expectCode(() => restart(bad, Blob, bo()), 'EPIPE', /truncated/);
    });

    it('configured: 1024 allows a record of 1024 bytes and refuses 1025, on both sides', () => {
      const ok = checkpoint(new Uint8Array(1024 - 12), Blob, bo({ maxRecord: 1024 }));
      expect(restart(ok, Blob, bo({ maxRecord: 1024 })).length).toBe(1012);
      expectCode(() => checkpoint(new Uint8Array(1013), Blob, bo({ maxRecord: 1024 })), 'E2BIG', /over maxRecord 1024/);
      const big = checkpoint(new Uint8Array(1013), Blob, bo());
      expectCode(() => restart(big, Blob, bo({ maxRecord: 1024 })), 'E2BIG', /len 1025, over maxRecord 1024/);
    });

    it('bad values are EINVAL', () => {
      for (const v of [31, 0xfffffff9, 1.5, -1])
        expectCode(() => checkpoint(new Uint8Array(1), Blob, bo({ maxRecord: v })), 'EINVAL', /maxRecord/);
      expectCode(() => restart(checkpoint(new Uint8Array(1), Blob, bo()), Blob, bo({ maxRecord: 31 })), 'EINVAL', /maxRecord/);
    });
  });

  describe('a 1M-deep chain of shared objects through user ops', () => {
    const deep = chain(MILLION);

    it('checkpoint: ELOOP at the default maxDepth, and ELOOP (not a RangeError) past the stack', () => {
      for (const keyed of [false, true]) {
        const counts = { grabs: 0, drops: 0 };
        const T = linkType('link', counts, keyed);
        expectCode(() => checkpoint(deep, T, { impl, types: [T] }), 'ELOOP', /deeper than 1000 \(options\.maxDepth\)/);
        expect(counts.drops).toBe(counts.grabs);
        // no depth limit to speak of: the JS stack runs out first, wherever it lands
        for (const pad of [0, 1, 2, 3, 5, 8, 13, 21, 34, 200]) {
          counts.grabs = counts.drops = 0;
          const e = withPad(pad, () => expectCode(() => checkpoint(deep, T, { impl, types: [T], maxDepth: 10 * MILLION }), 'ELOOP'));
          expect(e.message).toMatch(/stack overflow at depth \d+/);
          expect(counts.grabs).toBeGreaterThan(1000);
          expect(counts.drops, `pad ${pad}, keyed ${keyed}`).toBe(counts.grabs);
        }
      }
    });

    it('restart: ELOOP at the default maxDepth, and ELOOP (not a RangeError) past the stack', () => {
      for (const keyed of [false, true]) {
        const counts = { grabs: 0, drops: 0 };
        const T = linkType('link', counts, keyed);
        expectCode(() => restart(deepImage, T, { impl, types: [T] }), 'ELOOP', /deeper than 1000 \(options\.maxDepth\)/);
        for (const pad of [0, 1, 2, 3, 5, 8, 13, 21, 34, 200]) {
          counts.grabs = counts.drops = 0;
          const e = withPad(pad, () => expectCode(() => restart(deepImage, T, { impl, types: [T], maxDepth: 10 * MILLION }), 'ELOOP'));
          expect(e.message).toMatch(/stack overflow at depth \d+/);
          expect(counts.drops, `pad ${pad}, keyed ${keyed}`).toBe(counts.grabs);
        }
      }
    });

    it('restart from a chunked source of unknown size: the same', () => {
      let pos = 0;
      const src = {
        size: -1,
        read(dst: Uint8Array, off: number, len: number, position: number) {
          expect(position).toBe(pos);
          const n = Math.min(len, deepImage.length - position, 4096);
          dst.set(deepImage.subarray(position, position + n), off);
          pos += n;
          return n;
        },
      };
      expectCode(() => restart(src as never, LinkT, opts({ maxDepth: 10 * MILLION })), 'ELOOP', /stack overflow/);
      expect(pos).toBeLessThan(deepImage.length); // stopped early: bounded work
    });

    it('the image itself is well formed: it restarts one level at a time (REC sanity)', () => {
      expect(new DataView(deepImage.buffer, deepImage.byteOffset).getUint32(40, true)).toBe(REC.OBJREF);
      expect(restart(chainImage(3), LinkT, opts()).next!.next!.id).toBe(3);
    });
  });
});
