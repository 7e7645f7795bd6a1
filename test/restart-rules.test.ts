/**
 * The rules restart and verify share, and the record-level faults that
 * only restart can see, on both backends and from every kind of source
 * (memory, a file, a ByteSource that hands out a few bytes at a time):
 *
 * - verify (inspectImage) and restart agree on every fault visible in the
 *   bytes: no root object, an objtype outside the type table, an objref
 *   <= 0, defined twice or past maxObjrefGap, too many objects, a TAIL
 *   count or CRC that does not match, an ERROR record; an object defined
 *   after the root (nothing refers to it) is restored by both, not refused;
 * - whatever verify refuses, restart refuses (seeded mutations);
 * - bytes a restore leaves unread are EINVAL naming the record and type;
 * - STRING records restart exactly (leading U+FEFF) and refuse bad UTF-8;
 * - a stack overflow inside a source's read is ELOOP, a read error EIO;
 * - objFetch failures carry the record's offset and the restoring type.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ImageWriter,
  ObjHashError,
  RestartContext,
  checkpoint,
  defineObjType,
  inspectImage,
  restart,
  restartFromFile,
  type ByteSource,
  type ContextOptions,
  type ObjType,
} from '../lib/index.js';
import { getBackend } from '../lib/backend/loader.js';
import { IMPLS, chunked as chunks, expectCode, outcome, rng } from './helpers.js';

const chunked = (img: Uint8Array, read?: ByteSource['read']) => chunks(img, { read });

const crc32c = (b: Uint8Array, c: number) => getBackend('js').crc32c(b, c);
const REC_NODE = 201;
const REC_TOP = 202;
const REC_PTR = 203;

interface Node {
  id: number;
  kids: Node[];
}
const live = { grabs: 0, drops: 0 };
const NodeT: ObjType<Node> = defineObjType<Node>({
  name: 'node',
  grab: () => void live.grabs++,
  drop: () => void live.drops++,
  checkpoint(ctx, n) {
    for (const k of n.kids) ctx.checkpointObj(k, NodeT);
    ctx.begin(REC_NODE).u32(n.id).uv(n.kids.length);
    for (const k of n.kids) ctx.vref(k, NodeT);
    ctx.end();
  },
  restore(ctx) {
    ctx.readRecord(REC_NODE);
    const n: Node = { id: ctx.u32(), kids: [] };
    for (let c = ctx.uv(); c > 0; c--) n.kids.push(ctx.vref(NodeT)!);
    return n;
  },
});
/** Reads only the id of a node record: leaves the child count unread. */
const LazyT = defineObjType<{ id: number }>({
  name: 'node',
  restore(ctx) {
    ctx.readRecord(REC_NODE);
    return { id: ctx.u32() };
  },
});
/** A record holding an i32 objref of a node, fetched as is. */
const PtrT = defineObjType<{ to: Node }>({
  name: 'ptr',
  restore(ctx) {
    ctx.readRecord(REC_PTR);
    return { to: ctx.objFetch(ctx.i32(), NodeT) };
  },
});
const TABLE = [
  { objtype: 1, name: 'node' },
  { objtype: 2, name: 'ptr' },
];

/** An image written record by record. */
function craft(build: (w: ImageWriter) => void): Uint8Array {
  // exact offsets below are those of format version 1 (test/format-v2.test.ts covers version 2)
  const w = new ImageWriter({ crc32c, version: 1 });
  w.writeHeader(TABLE);
  build(w);
  return w.finish();
}
function node(w: ImageWriter, objref: number, id: number, kids: number[] = []): void {
  w.objref(1, objref);
  w.begin(REC_NODE);
  w.u32(id);
  w.uv(kids.length);
  for (const k of kids) w.uv(k);
  w.end();
}

/** Size of the HEADER record (padded): the first OBJREF's offset. */
const H = (() => {
  const w = new ImageWriter({ crc32c, version: 1 });
  w.writeHeader(TABLE);
  return w.offset;
})();

/** img with the u32 at off set to v, and the TAIL's CRC (the last record) made right again. */
function patch(img: Uint8Array, off: number, v: number): Uint8Array {
  const m = img.slice();
  const dv = new DataView(m.buffer);
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(m.length - 4, crc32c(m.subarray(0, m.length - 24), 0), true);
  return m;
}

const dir = mkdtempSync(join(tmpdir(), 'objhash-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

type Source = 'memory' | 'file' | 'chunked';
const SOURCES: Source[] = ['memory', 'file', 'chunked'];

describe.each(IMPLS)('restart rules (%s)', (impl) => {
  const opts = (o: Partial<ContextOptions> = {}): ContextOptions => ({ impl, types: [NodeT, PtrT], ...o });

  function restartFrom<T>(src: Source, img: Uint8Array, type: ObjType<T>, o: Partial<ContextOptions> = {}): T {
    if (src === 'memory') return restart(img, type, opts(o));
    if (src === 'chunked') return restart(chunked(img) as never, type, opts(o));
    const path = join(dir, `img-${files++}`);
    writeFileSync(path, img);
    return restartFromFile(path, type, opts(o));
  }
  function verifyFrom(src: Source, img: Uint8Array, o: Partial<ContextOptions> = {}) {
    if (src !== 'file') return inspectImage(img, { impl, ...o });
    const path = join(dir, `img-${files++}`);
    writeFileSync(path, img);
    return inspectImage(path, { impl, ...o });
  }
  /** Faults visible in the bytes: [what, image, options, code or 'ok', message]. */
  const visible: [string, Uint8Array, Partial<ContextOptions>, string, RegExp | undefined][] = [
    ['no root object', craft((w) => w.tail(0)), {}, 'EINVAL', /holds no object \(no root object\)/],
    ['an objtype outside the table', craft((w) => (w.objref(7, 1), w.tail(1))), {}, 'EINVAL', /objtype 7 is not in the header's type table/],
    ['objref 0', patch(craft((w) => (node(w, 1, 5), w.tail(1))), H + 12, 0), {}, 'EINVAL', /objref 0 <= 0/],
    ['a negative objref', patch(craft((w) => (node(w, 1, 5), w.tail(1))), H + 12, -5), {}, 'EINVAL', /objref -5 <= 0/],
    ['an objref past maxObjrefGap', craft((w) => (node(w, 2 ** 21, 5), w.tail(1))), {}, 'EINVAL', /maxObjrefGap/],
    ['a smaller maxObjrefGap', craft((w) => (node(w, 9, 5), w.tail(1))), { maxObjrefGap: 4 }, 'EINVAL', /more than 4 \(options\.maxObjrefGap\)/],
    ['an objref defined twice', craft((w) => (node(w, 1, 5), node(w, 1, 6), w.tail(2))), {}, 'EINVAL', /objref 1 defined twice/],
    ['more objects than maxObjects', craft((w) => (node(w, 1, 5), node(w, 2, 6), w.tail(2))), { maxObjects: 1 }, 'E2BIG', /maxObjects/],
    ['a TAIL count that does not match', craft((w) => (node(w, 1, 5), w.tail(3))), {}, 'EBADMSG', /says 3 objects, 1 were read/],
    ['an ERROR record', craft((w) => (node(w, 1, 5), w.error('disk full'))), {}, 'EIO', /disk full/],
    ['an object after the root that nothing refers to', craft((w) => (node(w, 1, 5), node(w, 2, 6), w.tail(2))), {}, 'ok', undefined],
    ['a root with its children', craft((w) => (node(w, 2, 7), node(w, 3, 8), node(w, 1, 5, [2, 3]), w.tail(3))), {}, 'ok', undefined],
  ];

  describe.each(SOURCES)('from %s', (src) => {
    it.each(visible)('verify and restart agree: %s', (_what, img, o, code, message) => {
      live.grabs = live.drops = 0;
      const info = verifyFrom(src, img, o);
      const got = outcome(() => restartFrom(src, img, NodeT, o));
      expect(info.valid ? 'ok' : info.error!.code).toBe(code);
      expect(got).toBe(code);
      expect(live.drops).toBe(live.grabs);
      if (message) {
        expect(info.error!.message).toMatch(message);
        expect(info.error!.offset).toBeTypeOf('number');
        expectCode(() => restartFrom(src, img, NodeT, o), code, message);
      }
    });

    it('the object after the root is restored (and dropped once) by restart', () => {
      live.grabs = live.drops = 0;
      const root = restartFrom(src, visible.find((v) => v[0].startsWith('an object after'))![1], NodeT);
      expect(root.id).toBe(5);
      expect(live.grabs).toBe(2);
      expect(live.drops).toBe(2);
    });

    it('bytes a restore leaves unread are EINVAL naming the record, its offset and the type', () => {
      const img = craft((w) => (node(w, 1, 5, []), w.tail(1)));
      const e = expectCode(
        () => restartFrom(src, img, LazyT, { types: [LazyT, PtrT] }),
        'EINVAL',
        new RegExp(`1 unread byte\\(s\\) at the end of record USER\\(201\\) at offset ${H + 16}, left by node\\.restore \\(objref 1\\)`),
      );
      expect(e.offset).toBe(H + 16);
    });

    it('a record no restore read is EINVAL naming the object restored just before it, whose restore did not read it', () => {
      const img = craft((w) => (node(w, 1, 5, []), w.tail(1)));
      const Skip = defineObjType<object>({ name: 'node', restore: () => ({}) });
      expectCode(
        () => restartFrom(src, img, Skip, { types: [Skip, PtrT] }),
        'EINVAL',
        /found USER\(201\) \(no restore read it: was it the record of node objref 1, whose restore returned without readRecord\(\)\?\)/,
      );
    });

    it('objFetch failures carry the offset of the record, the restoring type and what to do', () => {
      // the ptr is the root (objref 1); the node it may point at is objref 2
      const ptr = (to: number) =>
        craft((w) => {
          w.objref(2, 1);
          node(w, 2, 5);
          w.begin(REC_PTR);
          w.i32(to);
          w.end();
          w.tail(2);
        });
      const at = H + 16 + 16 + 16; // the PTR record, after the ptr's OBJREF and the node's OBJREF and record
      const cases: [number, string, RegExp][] = [
        [9, 'EINVAL', /objFetch\(9, node\) in record USER\(203\) at offset \d+, while restoring ptr objref 1: no object with objref 9 has been restored before this point/],
        [-3, 'EINVAL', /objFetch\(-3, node\) in record USER\(203\) at offset \d+, while restoring ptr objref 1: not an objref/],
        [1, 'EINVAL', /objref 1 is the ptr whose restore is still running: call ctx\.reference\(obj\) in ptr\.restore/],
      ];
      for (const [to, code, re] of cases) {
        const e = expectCode(() => restartFrom(src, ptr(to), PtrT), code, re);
        expect(e.offset).toBe(at);
      }
      // the wrong type: a ptr's objref where a node is wanted
      const wrong = craft((w) => {
        w.objref(2, 1);
        w.begin(REC_PTR);
        w.i32(0);
        w.end();
        w.objref(2, 2);
        w.begin(REC_PTR);
        w.i32(1);
        w.end();
        w.tail(2);
      });
      const PtrOrNullT = defineObjType<{ to: Node | null }>({
          name: 'ptr',
          restore(ctx) {
            ctx.readRecord(REC_PTR);
            const r = ctx.i32();
            return { to: r === 0 ? null : ctx.objFetch(r, NodeT) };
          },
        });
      const e = expectCode(() => restartFrom(src, wrong, PtrOrNullT, { types: [NodeT, PtrOrNullT] }), 'ENOMSG', /objref 1 is not a node/);
      expect(e.offset).toBe(H + 16 + 16 + 16);
    });
  });

  it('a caller reading records itself is told the bytes it left', () => {
    const img = craft((w) => {
      node(w, 1, 5);
      w.begin(REC_TOP);
      w.u32(1);
      w.u32(2);
      w.end();
      w.tail(1);
    });
    const ctx = new RestartContext(img, opts());
    expect(ctx.restoreObj(NodeT).id).toBe(5);
    expect(ctx.readRecord(REC_TOP)).toBe(REC_TOP);
    expect(ctx.u32()).toBe(1);
    expectCode(() => ctx.finish(), 'EINVAL', /4 unread byte\(s\) at the end of record USER\(202\) at offset \d+, left by the caller/);
  });

  describe('STRING records', () => {
    const TextT = defineObjType<{ s: string }>({
      name: 'text',
      checkpoint: (ctx, t) => void ctx.writeString(t.s),
      restore: (ctx) => ({ s: ctx.readString() }),
    });
    it.each(['\uFEFFhello', '\uFEFF', 'a\uFEFFb', 'žluťoučký kůň 🐎'])('restart exactly: %j, and checkpoint(restart(image)) is the same image', (s) => {
      const img = checkpoint({ s }, TextT, { impl, types: [TextT], version: 1 });
      for (const src of SOURCES) {
        const back = restartFrom(src, img, TextT, { types: [TextT] });
        expect(back.s).toBe(s);
        expect(checkpoint(back, TextT, { impl, types: [TextT], version: 1 })).toEqual(img);
      }
    });
    it('invalid UTF-8 is EINVAL with its offset', () => {
      const img = checkpoint({ s: 'abcd' }, TextT, { impl, types: [TextT], version: 1 });
      const bad = img.slice();
      const at = bad.indexOf(0x61); // 'a', inside the STRING record
      bad[at] = 0xff;
      const fixed = (() => {
        // recompute the TAIL's CRC so that only the UTF-8 is wrong
        const tail = bad.length - 24;
        new DataView(bad.buffer).setUint32(tail + 20, crc32c(bad.subarray(0, tail), 0), true);
        return bad;
      })();
      for (const src of SOURCES) {
        const e = expectCode(() => restartFrom(src, fixed, TextT, { types: [TextT] }), 'EINVAL', /invalid UTF-8/);
        expect(e.offset).toBe(at);
      }
    });
  });

  describe('errors inside a ByteSource read', () => {
    const img = craft((w) => (node(w, 1, 5), w.tail(1)));
    it('a stack overflow is ELOOP', () => {
      const deep = (n: number): number => (n === 0 ? 0 : 1 + deep(n - 1));
      const overflowing = chunked(img, () => deep(1e9));
      expectCode(() => restart(overflowing as never, NodeT, opts()), 'ELOOP', /stack overflow while reading the image at offset 0/);
    });
    it('a read error is EIO with its message', () => {
      const failing = chunked(img, () => {
        throw new Error('connection reset');
      });
      expectCode(() => restart(failing as never, NodeT, opts()), 'EIO', /read error at offset 0: connection reset/);
    });
  });

  it('whatever verify refuses, restart refuses (5000 seeded mutations)', () => {
    const tree = { id: 1, kids: [{ id: 2, kids: [] }, { id: 3, kids: [] }] };
    tree.kids.push(tree.kids[0]!);
    const img = checkpoint(tree, NodeT, { impl, types: [NodeT, PtrT], version: 1 });
    const rnd = rng(12);
    let refused = 0;
    for (let i = 0; i < 5000; i++) {
      const m = img.slice();
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
      const info = inspectImage(m, { impl });
      live.grabs = live.drops = 0;
      const r = outcome(() => restart(m, NodeT, opts()));
      expect(live.drops).toBe(live.grabs);
      if (!info.valid) {
        refused++;
        expect(r, `mutation ${i}: verify said ${info.error!.message}`).not.toBe('ok');
      }
    }
    expect(refused).toBeGreaterThan(4000);
  });
});
