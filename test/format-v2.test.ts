/**
 * Format version 2 (the default): varint record heads, objrefs implicit
 * in the order objects are defined, no padding (docs/FORMAT.md §12).  On
 * both backends: round trips from memory, a file and a chunked source; the
 * bytes of the framing; version 1 images still restart to the same graph;
 * hostile version 2 images give ObjHashErrors only, drop every grab, and
 * verify refuses what restart refuses; the objhash command reads them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CheckpointContext,
  ImageReader,
  ImageWriter,
  ObjHashError,
  REC,
  checkpoint,
  defineObjType,
  inspectImage,
  ref,
  restart,
  restartFromFile,
  type ObjType,
} from '../lib/index.js';
import { getBackend } from '../lib/backend/loader.js';
import { schemaOf } from '../lib/walk/walked.js';
import { TYPES, TaskType, buildTree, diffTrees } from '../examples/proctree.js';
import { IMPLS, chunked as chunks, expectCode, outcome, rng } from './helpers.js';

const chunked = (img: Uint8Array, size = -1) => chunks(img, { piece: 5, size });

const crc32c = (b: Uint8Array, c: number) => getBackend('js').crc32c(b, c);
const dir = mkdtempSync(join(tmpdir(), 'objhash-v2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describe.each(IMPLS)('format version 2 (%s)', (impl) => {
  const opts = { impl, types: TYPES };

  it('is the default, and the process tree round-trips from memory, a file and a chunked source', () => {
    const tree = buildTree();
    const img = checkpoint(tree, TaskType, opts);
    expect(new DataView(img.buffer, img.byteOffset).getUint32(16, true)).toBe(2);
    const path = join(dir, `tree-${files++}.img`);
    writeFileSync(path, img);
    for (const back of [
      restart(img, TaskType, opts),
      restartFromFile(path, TaskType, opts),
      restart(chunked(img) as never, TaskType, opts),
      restart(chunked(img, img.length) as never, TaskType, opts),
    ]) {
      expect(diffTrees(tree, back)).toEqual([]);
      // a restored graph checkpoints to the same image (a fixpoint)
      expect(checkpoint(back, TaskType, opts)).toEqual(img);
    }
  });

  it('an image written by the previous release (format version 1, commit 814df13) restarts to the same tree, and version 1 is still written byte for byte', () => {
    const old = new Uint8Array(readFileSync(join(__dirname, 'fixtures', 'proctree-v1-814df13.img')));
    const back = restart(old, TaskType, opts);
    expect(diffTrees(buildTree(), back)).toEqual([]);
    expect(inspectImage(old, { impl }).valid).toBe(true);
    expect(checkpoint(back, TaskType, { ...opts, version: 1 })).toEqual(old);
  });

  it('a plain value written by the previous main (commit 6904d4f: a VALUE record per object, no inline values) restarts to the same value', () => {
    // test/fixtures/values-v2-6904d4f.img = that commit's checkpoint(fixtureValue())
    const old = new Uint8Array(readFileSync(join(__dirname, 'fixtures', 'values-v2-6904d4f.img')));
    const back = restart(old, { impl }) as ReturnType<typeof fixtureValue>;
    const want = fixtureValue();
    expect(back).toEqual(want);
    expect(back.self).toBe(back);
    expect(back.list[1]).toBe(back.list[0]);
    expect(back.map.get('k')).toBe(back.list[0]);
    expect(back.bytes.buffer).toBe(back.words.buffer);
    expect(Object.is((back.list[0] as { n: number }).n, -0)).toBe(true);
    expect(inspectImage(old, { impl }).valid).toBe(true);
    // today's writer puts the same value in fewer bytes (inline values)
    expect(checkpoint(want, { impl }).length).toBeLessThan(old.length);
  });

  it('a version 1 image of the same graph restarts to the same graph, and is larger', () => {
    const tree = buildTree();
    const v1 = checkpoint(tree, TaskType, { ...opts, version: 1 });
    const v2 = checkpoint(tree, TaskType, opts);
    expect(new DataView(v1.buffer, v1.byteOffset).getUint32(16, true)).toBe(1);
    expect(diffTrees(restart(v1, TaskType, opts), restart(v2, TaskType, opts))).toEqual([]);
    expect(v2.length).toBeLessThan(v1.length * 0.8);
  });

  it('framing: an implicit OBJREF is one varint, 2 x objtype; records have a varint head and length; TAIL', () => {
    const T = defineObjType<{ n: number }>({
      name: 'n',
      checkpoint: (ctx, o) => void ctx.begin(101).uv(o.n).end(),
      restore: (ctx) => (ctx.readRecord(101), { n: ctx.uv() }),
    });
    const img = checkpoint({ n: 5 }, T, { impl, types: [T] });
    const r = new ImageReader(img, { crc32c });
    r.readHeader();
    const h = r.offset;
    // objtype 1 (T is first in the table): head 2, nothing else
    expect(img[h]).toBe(2);
    const rec = r.next();
    expect(rec).toEqual({ type: REC.OBJREF, len: 1, offset: h });
    expect(r.objref()).toEqual({ objtype: 1, objref: 1 });
    // user record 101: head 2 x 101 + 1 = 203 (two varint bytes), length 1, payload uv 5
    expect(Array.from(img.subarray(h + 1, h + 5))).toEqual([203, 1, 1, 5]);
    expect(r.next()).toEqual({ type: 101, len: 4, offset: h + 1 });
    expect(r.uv()).toBe(5);
    // TAIL: head 18003 (3 bytes), length 16, magic, count, CRC
    expect(Array.from(img.subarray(h + 5, h + 9))).toEqual([0xd3, 0x8c, 0x01, 16]);
    expect(r.next().type).toBe(REC.TAIL);
    expect(r.tail()).toEqual({ count: 1, crc: crc32c(img.subarray(0, h + 5), 0) });
    expect(img.length).toBe(h + 9 + 16);
  });

  it('an objref out of order (reserve, lookupAdd without a record) is written explicitly', () => {
    const T = defineObjType<{ n: number }>({
      name: 'n',
      checkpoint: (ctx, o) => void ctx.begin(101).uv(o.n).end(),
      restore: (ctx) => (ctx.readRecord(101), { n: ctx.uv() }),
    });
    const ctx = new CheckpointContext({ impl, types: [T] });
    const skipped = { n: 0 };
    expect(ctx.lookupAdd(skipped, T)).toEqual({ objref: 1, first: true }); // objref 1: never written
    const root = { n: 9 };
    expect(ctx.checkpointObj(root, T)).toBe(2);
    const img = ctx.finish();
    const r = new ImageReader(img, { crc32c });
    r.readHeader();
    const at = r.offset;
    expect(Array.from(img.subarray(at, at + 4))).toEqual([2 * REC.OBJREF + 1, 2, 1, 2]); // head 11, length 2, objtype 1, objref 2
    expect(restart(img, T, { impl, types: [T] }).n).toBe(9);
  });

  it('records of 128 bytes and more take a longer length varint, nested records still land before', () => {
    interface Blobs {
      b: Uint8Array;
      kid?: Blobs;
    }
    const Big: ObjType<Blobs> = defineObjType<Blobs>({
      name: 'big',
      checkpoint(ctx, o) {
        ctx.begin(101).blob(o.b);
        ctx.vref(o.kid, Big); // the kid's records land before this one
        ctx.end();
      },
      restore(ctx): Blobs {
        ctx.readRecord(101);
        const b = ctx.blob().slice();
        const kid: Blobs | undefined = ctx.vref(Big) ?? undefined;
        return kid === undefined ? { b } : { b, kid };
      },
    });
    for (const n of [0, 1, 120, 127, 128, 200, 16383, 16384, 70000]) {
      const root: Blobs = { b: new Uint8Array(n).fill(7), kid: { b: new Uint8Array(n + 3).fill(9) } };
      const img = checkpoint(root, Big, { impl, types: [Big] });
      const back = restart(img, Big, { impl, types: [Big] });
      expect(back.b).toEqual(root.b);
      expect(back.kid!.b).toEqual(root.kid!.b);
      expect(restart(chunked(img) as never, Big, { impl, types: [Big] }).kid!.b.length).toBe(n + 3);
    }
  });

  it.each(['vref', 'objFetch'] as const)('ctx.%s: the wrong type is ENOMSG, an object made ahead of its record (fields) is not restored yet', (via) => {
    const F = defineObjType<{ v: number }>({ name: 'f', fields: { v: 'uv' } });
    const Hd = defineObjType<{ f: { v: number } | null }>({
      name: 'h',
      checkpoint: (ctx, h) => void ctx.begin(301).uv(ctx.checkpointObj(h.f!, F)).end(),
      restore(ctx) {
        ctx.readRecord(301);
        return { f: via === 'vref' ? ctx.vref(F) : ctx.objFetch(ctx.uv(), F) };
      },
    });
    const Holder = defineObjType<{ a: { v: number }; h: { f: { v: number } | null } }>({ name: 'holder', fields: { a: ref(F), h: ref(Hd) } });
    const types = [Holder, F, Hd];
    // as checkpoint writes it: the f the hand-written record names comes first
    const f = { v: 7 };
    const back = restart(checkpoint({ a: f, h: { f } }, Holder, { impl, types }), Holder, { impl, types });
    expect(back.h.f).toBe(back.a);
    expect(back.a).toEqual({ v: 7 });
    // crafted: holder (1) refers to f (2) and h (3); h's record comes before f's
    const table = types.map((t, i) => ({ objtype: i + 1, name: t.name, schema: t.fields !== undefined ? schemaOf(t).encoded : undefined }));
    const craftV2 = (hRef: number) => {
      const w = new ImageWriter({ crc32c });
      w.writeHeader(table);
      w.objref(1, 1);
      w.beginBuiltin(REC.FIELDS);
      w.uv(2);
      w.uv(3);
      w.end();
      w.objref(3, 3);
      w.begin(301);
      w.uv(hRef);
      w.end();
      w.objref(2, 2);
      w.beginBuiltin(REC.FIELDS);
      w.uv(7);
      w.end();
      w.tail(3);
      return w.finish();
    };
    expectCode(() => restart(craftV2(2), Holder, { impl, types }), 'EINVAL', /no object with objref 2 has been restored before this point/);
    // objref 1 is the holder, not an f
    expectCode(() => restart(craftV2(1), Holder, { impl, types }), 'ENOMSG', /objref 1 is not a f/);
  });

  describe('hostile images', () => {
    const tree = buildTree();
    const img = checkpoint(tree, TaskType, opts);
    const H = (() => {
      const r = new ImageReader(img, { crc32c });
      r.readHeader();
      return r.offset;
    })();
    /** A version 2 image of the proctree's type table, then `after`, then a TAIL (count 1, the right CRC). */
    function craft(after: number[]): Uint8Array {
      const w = new ImageWriter({ crc32c });
      w.writeHeader(TYPES.map((t, i) => ({ objtype: i + 1, name: t.name })));
      const head = w.finish();
      const tail = new Uint8Array(20);
      const out = new Uint8Array(head.length + after.length + tail.length);
      out.set(head);
      out.set(after, head.length);
      const t = head.length + after.length;
      out.set([0xd3, 0x8c, 0x01, 16], t);
      const dv = new DataView(out.buffer);
      dv.setBigUint64(t + 4, 0x002d2a0cc0deef00n, true);
      dv.setUint32(t + 12, 1, true);
      dv.setUint32(t + 16, crc32c(out.subarray(0, t), 0), true);
      return out;
    }

    const cases: [string, Uint8Array, string, RegExp][] = [
      ['a record head of 0', craft([0]), 'EINVAL', /bad record head 0/],
      ['a head longer than 5 bytes', craft([0x81, 0x81, 0x81, 0x81, 0x81, 0x01]), 'EINVAL', /longer than 5 bytes/],
      ['an unknown record type', craft([2 * 50 + 1, 0]), 'EINVAL', /unknown record type 50/],
      ['a second HEADER', craft([3, 0]), 'EINVAL', /only the first record may be a HEADER/],
      ['a length past the end', craft([2, 203, 1, 0x90, 0x4e]), 'EPIPE', /truncated/],
      ['a length over maxRecord', craft([2, 203, 1, 0xff, 0xff, 0xff, 0x7f]), 'E2BIG', /over maxRecord/],
      ['an implicit OBJREF of an objtype outside the table', craft([2 * 9]), 'EINVAL', /objtype 9 is not in the header's type table/],
      ['an explicit OBJREF of objref 0', craft([11, 2, 1, 0]), 'EINVAL', /objref 0 <= 0/],
      ['an explicit OBJREF with a byte left over', craft([11, 3, 1, 1, 0]), 'EINVAL', /malformed OBJREF/],
      ['an explicit OBJREF far past maxObjrefGap', craft([11, 5, 1, 0xff, 0xff, 0xff, 0x07]), 'EINVAL', /maxObjrefGap/],
      ['no object', craft([]), 'EINVAL', /no root object/],
    ];
    it.each(cases)('%s: verify and restart refuse it alike', (_what, bad, code, re) => {
      const info = inspectImage(bad, { impl });
      expect(info.valid).toBe(false);
      expect(info.error!.code).toBe(code);
      expect(info.error!.message).toMatch(re);
      expectCode(() => restart(bad, TaskType, opts), code, re);
      expectCode(() => restart(chunked(bad) as never, TaskType, opts), code, re);
    });

    it('truncated at every length: EPIPE or EINVAL, never anything else', () => {
      for (let n = 0; n < img.length; n++) {
        const cut = img.subarray(0, n);
        const a = outcome(() => restart(cut, TaskType, opts));
        const b = outcome(() => restart(chunked(cut) as never, TaskType, opts));
        expect(['EPIPE', 'EINVAL', 'EBADMSG']).toContain(a);
        expect(b).toBe(a);
      }
    });

    it('3000 seeded mutations: ObjHashErrors only, grabs dropped, verify refuses what restart refuses', () => {
      const rnd = rng(22);
      let refused = 0;
      for (let i = 0; i < 3000; i++) {
        const m = img.slice();
        for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) m[H + Math.floor(rnd() * (m.length - H))] = Math.floor(rnd() * 256);
        const info = inspectImage(m, { impl });
        const r = outcome(() => restart(m, TaskType, opts));
        expect(outcome(() => restart(chunked(m) as never, TaskType, opts))).toBe(r);
        if (!info.valid) {
          refused++;
          expect(r, `mutation ${i}: verify said ${info.error!.message}`).not.toBe('ok');
        }
      }
      expect(refused).toBeGreaterThan(2500);
    });
  });

  it('the objhash command verifies, inspects and dumps a version 2 image', () => {
    const path = join(dir, `cli-${files++}.img`);
    writeFileSync(path, checkpoint(buildTree(), TaskType, opts));
    const bin = join(__dirname, '..', 'bin', 'objhash.js');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, OBJHASH_IMPL: impl } });
    const v = run('verify', path);
    expect(v.status, v.stderr).toBe(0);
    const i = run('inspect', path);
    expect(i.status, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/version\s+2/);
    const d = run('dump', path);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/OBJREF\s+len 1\s+objref 1, objtype 1 \(task\)/);
    expect(d.stdout).toMatch(/TAIL\s+len 20/);
  });
});


/** The value of test/fixtures/values-v2-6904d4f.img. */
function fixtureValue() {
  const buf = new ArrayBuffer(16);
  new Uint8Array(buf).forEach((_, i, a) => (a[i] = i * 3));
  const shared = { name: 'shared', n: -0 };
  const root = {
    list: [shared, shared, { deep: [[1, 2], 'x'] }] as unknown[],
    map: new Map<unknown, unknown>([['k', shared], [7, new Set([1, 'two'])]]),
    when: new Date(86400000),
    bytes: new Uint8Array(buf, 4, 8),
    words: new Uint16Array(buf, 0, 2),
    big: 12345678901234567890n,
    self: null as unknown,
  };
  root.self = root;
  return root;
}
