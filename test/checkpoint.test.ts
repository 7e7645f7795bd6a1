import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CheckpointContext,
  ObjHashError,
  REC,
  RestartContext,
  checkpoint,
  checkpointToFile,
  defineObjType,
  ref,
  restart,
  restartFromFile,
  type CheckpointOptions,
  type ObjType,
} from '../lib/index.js';
import { crc32c as jsCrc32c } from '../lib/js/crc32c.js';
import { quickstart } from '../examples/quickstart.js';
import { TYPES, TaskType, buildTree, collect, restores, type Task } from '../examples/proctree.js';
import { IMPLS, expectCode } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'objhash-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Rec {
  offset: number;
  type: number;
  len: number;
}

/** The records of a well-formed image, by walking the headers. */
function records(img: Uint8Array): Rec[] {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const out: Rec[] = [];
  for (let off = 0; off + 8 <= img.length; ) {
    const type = dv.getUint32(off, true), len = dv.getUint32(off + 4, true);
    out.push({ offset: off, type, len });
    off += (len + 7) & ~7;
  }
  return out;
}

function u32(img: Uint8Array, off: number): number {
  return new DataView(img.buffer, img.byteOffset).getUint32(off, true);
}
function setU32(img: Uint8Array, off: number, v: number): Uint8Array {
  const c = img.slice();
  new DataView(c.buffer).setUint32(off, v >>> 0, true);
  return c;
}
/** Recomputes the TAIL's CRC, so a test isolates the corruption it makes. */
function fixCrc(img: Uint8Array): Uint8Array {
  const tail = records(img).find((r) => r.type === REC.TAIL)!;
  return setU32(img, tail.offset + 20, jsCrc32c(img.subarray(0, tail.offset), 0));
}

// A small graph with sharing: node -> children, shared leaves.
interface Node {
  name: string;
  kids: Node[];
}
const REC_NODE = 201;
function nodeType(name = 'node', hooks: Partial<{ grab: (n: Node) => void; drop: (n: Node) => void }> = {}): ObjType<Node> {
  const T: ObjType<Node> = defineObjType<Node>({
    name,
    ...hooks,
    checkpoint(ctx, n) {
      const kids = n.kids.map((k) => ctx.checkpointObj(k, T));
      ctx.begin(REC_NODE).str(n.name).u32(kids.length);
      for (const k of kids) ctx.i32(k);
      ctx.end();
    },
    restore(ctx) {
      ctx.readRecord(REC_NODE);
      const name = ctx.str();
      const kids: Node[] = [];
      for (let n = ctx.u32(); n > 0; n--) kids.push(ctx.objFetch(ctx.i32(), T));
      return { name, kids };
    },
  });
  return T;
}
const NodeT = nodeType();
function diamond(): Node {
  const leaf = { name: 'leaf', kids: [] };
  const a = { name: 'a', kids: [leaf] }, b = { name: 'b', kids: [leaf, a] };
  return { name: 'root', kids: [a, b, leaf] };
}
function chain(n: number): Node {
  let cur: Node = { name: 'n0', kids: [] };
  for (let i = 1; i < n; i++) cur = { name: `n${i}`, kids: [cur] };
  return cur;
}

describe.each(IMPLS)('checkpoint/restart (%s)', (impl) => {
  // this suite checks bytes of format version 1 (test/format-v2.test.ts has version 2's)
  const opts = <T extends object>(o: T) => ({ impl, version: 1, ...o });

  it('round-trips the process tree: each shared object restored once, identity and cycles kept', () => {
    const live = buildTree();
    const before = collect(live);
    const image = checkpoint(live, TaskType, opts({ types: TYPES }));
    for (const k of Object.keys(restores) as (keyof typeof restores)[]) restores[k] = 0;
    const back: Task = restart(image, TaskType, opts({ types: TYPES }));
    const after = collect(back);
    expect(restores).toEqual({ task: before.task.size, files: before.files.size, file: before.file.size, mm: before.mm.size });
    expect(after.task.size).toBe(before.task.size);
    const make = [...after.task].find((t) => t.comm === 'make')!;
    expect(make.children.length).toBe(3);
    for (const th of make.children) {
      expect(th.files).toBe(make.files);
      expect(th.mm).toBe(make.mm);
      expect(th.parent).toBe(make);
    }
    for (const f of after.file) expect(after.task.has(f.owner)).toBe(true);
    expect(back.files.fds[0]!.owner).toBe(back); // file -> owner cycle
    // image layout: HEADER first, OBJREF of the root next, TAIL last with the count
    const recs = records(image);
    expect(recs[0]!.type).toBe(REC.HEADER);
    expect(recs[1]!.type).toBe(REC.OBJREF);
    expect(u32(image, recs[1]!.offset + 12)).toBe(1);
    const tail = recs[recs.length - 1]!;
    expect(tail.type).toBe(REC.TAIL);
    expect(u32(image, tail.offset + 16)).toBe(recs.filter((r) => r.type === REC.OBJREF).length);
    expect(tail.offset + 24).toBe(image.length);
  });

  it('the quick start example works', () => {
    const { back } = quickstart();
    expect(back.length).toBe(2);
    expect(back[0]!.author).toBe(back[1]!.author);
    expect(back[0]!.author.name).toBe('Le Guin');
  });

  it.each(['stamp', 'map'] as const)('an object met again as another type is an EINVAL naming both types (identity %s)', (identity) => {
    const shared = { name: 'x', kids: [] };
    const OtherT = nodeType('other');
    // checkpointObj: the second time the object is met, from the same record
    const Pair = defineObjType<Node>({
      name: 'pair',
      checkpoint(ctx, n) {
        const a = ctx.checkpointObj(n.kids[0]!, NodeT);
        const b = ctx.checkpointObj(n.kids[1]!, OtherT);
        ctx.begin(REC_NODE).i32(a).i32(b).end();
      },
      restore: () => ({ name: '', kids: [] }),
    });
    const e = expectCode(() => checkpoint({ name: 'p', kids: [shared, shared] }, Pair, opts({ types: [Pair, NodeT, OtherT], identity })), 'EINVAL');
    expect(e.message).toContain('the object is in the hash as a node, not a other');
    // a fields ref, walked from the queue
    const A = defineObjType<{ v: number }>({ name: 'fa', fields: { v: 'uv' } });
    const B = defineObjType<{ v: number }>({ name: 'fb', fields: { v: 'uv' } });
    const Holder = defineObjType<{ a: { v: number }; b: { v: number } }>({ name: 'holder', fields: { a: ref(A), b: ref(B) } });
    const o = { v: 1 };
    const e3 = expectCode(() => checkpoint({ a: o, b: o }, Holder, { impl, types: [Holder, A, B], identity }), 'EINVAL');
    expect(e3.message).toContain('as a fa, not a fb');
    // the same objects as one type each round-trip
    const back = restart(checkpoint({ a: o, b: { v: 2 } }, Holder, { impl, types: [Holder, A, B], identity }), Holder, { impl, types: [Holder, A, B] });
    expect(back).toEqual({ a: { v: 1 }, b: { v: 2 } });
  });

  it('writes an object before the first record that refers to it, even from inside an open record', () => {
    const Leaf = defineObjType<{ v: number }>({
      name: 'leaf',
      checkpoint: (ctx, l) => void ctx.begin(301).u32(l.v).end(),
      restore: (ctx) => (ctx.readRecord(301), { v: ctx.u32() }),
    });
    const Pair = defineObjType<{ l: { v: number }; r: { v: number } }>({
      name: 'pair',
      checkpoint(ctx, p) {
        ctx.begin(302).u32(7);
        ctx.ref(p.l, Leaf); // nested checkpointObj while 302 is open
        ctx.ref(p.r, Leaf);
        ctx.end();
      },
      restore(ctx) {
        ctx.readRecord(302);
        expect(ctx.u32()).toBe(7);
        return { l: ctx.ref(Leaf)!, r: ctx.ref(Leaf)! };
      },
    });
    const leaf = { v: 5 };
    const image = checkpoint({ l: leaf, r: leaf }, Pair, opts({ types: [Pair, Leaf] }));
    expect(records(image).map((r) => r.type)).toEqual([REC.HEADER, REC.OBJREF, REC.OBJREF, 301, 302, REC.TAIL]);
    const back = restart(image, Pair, opts({ types: [Pair, Leaf] }));
    expect(back.l).toBe(back.r);
    expect(back.l.v).toBe(5);
  });

  it('types with key(obj) are identified by key through the numeric table', () => {
    interface Inode {
      ino: number;
      size: number;
    }
    const InodeT = defineObjType<Inode>({
      name: 'inode',
      key: (i) => i.ino,
      checkpoint: (ctx, i) => void ctx.begin(310).u64(i.ino).u32(i.size).end(),
      restore: (ctx) => (ctx.readRecord(310), { ino: ctx.u64n(), size: ctx.u32() }),
    });
    const Dir = defineObjType<Inode[]>({
      name: 'dir',
      checkpoint(ctx, list) {
        ctx.begin(311).u32(list.length);
        for (const i of list) ctx.ref(i, InodeT);
        ctx.end();
      },
      restore(ctx) {
        ctx.readRecord(311);
        const out: Inode[] = [];
        for (let n = ctx.u32(); n > 0; n--) out.push(ctx.ref(InodeT)!);
        return out;
      },
    });
    // two JS objects with one inode number are one object
    const list = [{ ino: 2 ** 40, size: 1 }, { ino: 7, size: 2 }, { ino: 2 ** 40, size: 1 }];
    const image = checkpoint(list, Dir, opts({ types: [Dir, InodeT] }));
    expect(records(image).filter((r) => r.type === REC.OBJREF).length).toBe(3);
    const back = restart(image, Dir, opts({ types: [Dir, InodeT] }));
    expect(back[0]).toBe(back[2]);
    expect(back[0]!.ino).toBe(2 ** 40);
  });

  it('reference() restores cycles; without it a cycle is a clear EINVAL', () => {
    interface Ring {
      id: number;
      next: Ring;
    }
    const mk = (withRef: boolean) => {
      const T: ObjType<Ring> = defineObjType<Ring>({
        name: 'ring',
        checkpoint(ctx, r) {
          const next = ctx.checkpointObj(r.next, T);
          ctx.begin(320).u32(r.id).i32(next).end();
        },
        restore(ctx) {
          const r = (withRef ? ctx.reference({} as Ring) : {}) as Ring;
          ctx.readRecord(320);
          r.id = ctx.u32();
          r.next = ctx.objFetch(ctx.i32(), T);
          return r;
        },
      });
      return T;
    };
    const a = { id: 1 } as Ring, b = { id: 2 } as Ring, c = { id: 3 } as Ring;
    a.next = b;
    b.next = c;
    c.next = a;
    const T = mk(true);
    const back = restart(checkpoint(a, T, opts({ types: [T] })), T, opts({ types: [T] }));
    expect(back.next.next.next).toBe(back);
    expect([back.id, back.next.id, back.next.next.id]).toEqual([1, 2, 3]);
    const U = mk(false);
    expectCode(() => restart(checkpoint(a, U, opts({ types: [U] })), U, opts({ types: [U] })), 'EINVAL', /objref 1 is the \w+ whose restore is still running: call ctx\.reference\(obj\)/);
  });

  it('grabs and drops each object exactly once: after success, a failed checkpoint, and a failed restart', () => {
    const live = new Map<Node, number>();
    let grabs = 0, drops = 0;
    const T = nodeType('counted', {
      grab: (n) => {
        grabs++;
        live.set(n, (live.get(n) ?? 0) + 1);
      },
      drop: (n) => {
        drops++;
        live.set(n, live.get(n)! - 1);
      },
    });
    const root = diamond();
    const image = checkpoint(root, T, opts({ types: [T] }));
    expect(grabs).toBe(4);
    expect(drops).toBe(4);
    restart(image, T, opts({ types: [T] }));
    expect(grabs).toBe(8);
    expect(drops).toBe(8);
    expect([...live.values()].every((v) => v === 0)).toBe(true);

    // a checkpoint whose 3rd object fails
    let n = 0;
    const boom = new Error('disk on fire');
    const F = defineObjType<Node>({
      name: 'counted',
      grab: () => void grabs++,
      drop: () => void drops++,
      checkpoint(ctx, node) {
        if (++n === 3) throw boom;
        for (const k of node.kids) ctx.checkpointObj(k, F);
        ctx.begin(REC_NODE).str(node.name).u32(0).end();
      },
    });
    grabs = drops = 0;
    let err: unknown;
    try {
      checkpoint(root, F, opts({ types: [F] }));
    } catch (e) {
      err = e;
    }
    expect(err).toBe(boom);
    expect(grabs).toBe(3);
    expect(drops).toBe(3);
    // it carries the partial image, ending with an ERROR record
    const partial = (err as { image: Uint8Array }).image;
    const recs = records(partial);
    expect(recs[recs.length - 1]!.type).toBe(REC.ERROR);
    const e2 = expectCode(() => restart(partial, T, opts({ types: [T] })), 'EIO', /disk on fire/);
    expect(e2.offset).toBe(recs[recs.length - 1]!.offset);

    // a restart whose 4th restore fails: root, a and the leaf have begun,
    // the leaf and a are in the hash (restored depth first), root and b not
    let r = 0;
    const R: ObjType<Node> = defineObjType<Node>({
      name: 'counted',
      grab: () => void grabs++,
      drop: () => void drops++,
      restore(ctx) {
        if (++r === 4) throw boom;
        ctx.readRecord(REC_NODE);
        const name = ctx.str();
        const kids: Node[] = [];
        for (let k = ctx.u32(); k > 0; k--) kids.push(ctx.objFetch(ctx.i32(), R));
        return { name, kids };
      },
    });
    grabs = drops = 0;
    expect(() => restart(image, R, opts({ types: [R] }))).toThrow(boom);
    expect(r).toBe(4);
    expect(grabs).toBe(2);
    expect(drops).toBe(2);
  });

  it('a failed checkpoint streamed to a sink ends with an ERROR record', () => {
    const chunks: Uint8Array[] = [];
    const Bad = defineObjType<object>({
      name: 'bad',
      checkpoint: () => {
        throw new Error('cannot read /proc/1/mem');
      },
      restore: (ctx) => (ctx.readRecord(400), {}),
    });
    expect(() => checkpoint({}, Bad, opts({ types: [Bad], sink: (c: Uint8Array) => chunks.push(c) }))).toThrow('cannot read');
    const img = Buffer.concat(chunks);
    expect(records(img).map((r) => r.type)).toEqual([REC.HEADER, REC.OBJREF, REC.ERROR]);
    expectCode(() => restart(img, Bad, opts({ types: [Bad] })), 'EIO', /cannot read \/proc\/1\/mem/);
  });

  it('checkpointToFile is atomic and restartFromFile streams the file back', () => {
    const path = join(dir, `tree-${impl}.img`);
    const { bytes, objects } = checkpointToFile(path, buildTree(), TaskType, opts({ types: TYPES, highWaterMark: 64 }));
    expect(readFileSync(path).length).toBe(bytes);
    expect(objects).toBe(24);
    const before = readFileSync(path);
    // a checkpoint that fails midway leaves the previous image and no temp file
    const Bad = defineObjType<Task>({
      name: 'task',
      checkpoint: () => {
        throw new Error('midway');
      },
    });
    expect(() => checkpointToFile(path, buildTree(), Bad, opts({ types: [Bad, ...TYPES.slice(1)] }))).toThrow('midway');
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const back = restartFromFile(path, TaskType, opts({ types: TYPES }));
    expect(collect(back).task.size).toBe(8);
    expectCode(() => restartFromFile(join(dir, 'missing.img'), TaskType, opts({ types: TYPES })), 'EIO');
  });

  it('checkpointToFile: a file that cannot be made or replaced is EIO, with the host error as cause; nothing is left behind', () => {
    // no such directory: the temporary file cannot be made
    const e1 = expectCode(() => checkpointToFile(join(dir, 'no-such-dir', 'x.img'), { a: 1 }, opts({ version: 2 })), 'EIO', /checkpointToFile: cannot create the temporary file beside .*no-such-dir.*ENOENT/);
    expect((e1.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    // a directory in the way: the image is written, then cannot replace it
    const sub = join(dir, `a-dir-${impl}`);
    mkdirSync(sub);
    const e2 = expectCode(() => checkpointToFile(sub, { a: 1 }, opts({ version: 2 })), 'EIO', /checkpointToFile: cannot replace .*a-dir.*EISDIR/);
    expect((e2.cause as NodeJS.ErrnoException).code).toBe('EISDIR');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // the callback's own error is still the callback's
    const Bad = defineObjType<{ a: number }>({
      name: 'bad',
      checkpoint: () => {
        throw new TypeError('mine');
      },
    });
    expect(() => checkpointToFile(join(dir, 'no-such-dir', 'x.img'), { a: 1 }, Bad, opts({ types: [Bad] }))).toThrow(ObjHashError);
    expect(() => checkpointToFile(join(dir, `bad-${impl}.img`), { a: 1 }, Bad, opts({ types: [Bad] }))).toThrow(TypeError);
  });

  it('a small image does not keep a big buffer: after the first call, and after a big checkpoint', () => {
    const small = checkpoint({ a: 1 }, { impl });
    expect(small.buffer.byteLength).toBeLessThan(2 * small.length);
    const big = checkpoint(Array.from({ length: 50_000 }, (_, i) => ({ i })), { impl });
    expect(big.buffer.byteLength).toBeLessThan(2 * big.length);
    // the next buffer is sized for one like the big one: the small image is copied out of it
    const after = checkpoint({ a: 1 }, { impl });
    expect(after.length).toBe(small.length);
    expect(after.buffer.byteLength).toBe(after.length);
    expect(restart(after, { impl })).toEqual({ a: 1 });
  });

  it('the contexts can be driven by hand: several roots, BUFFER and STRING records', () => {
    const ctx = new CheckpointContext(opts({ types: [NodeT] }));
    const d = diamond();
    expect(ctx.checkpointObj(d, NodeT)).toBe(1);
    ctx.writeBuffer(new Uint8Array([1, 2, 3]));
    ctx.writeString('héllo');
    expect(ctx.checkpointObj(d.kids[2]!, NodeT)).toBe(3); // the leaf: already saved
    const image = ctx.finish();
    expectCode(() => ctx.checkpointObj(d, NodeT), 'EBADF');
    // every call that would write, after finish(): EBADF as well
    expectCode(() => ctx.begin(101), 'EBADF', /begin: the checkpoint is finished/);
    expectCode(() => ctx.writeBuffer(new Uint8Array(1)), 'EBADF', /writeBuffer: the checkpoint is finished/);
    expectCode(() => ctx.writeString('x'), 'EBADF', /writeString: the checkpoint is finished/);
    expectCode(() => ctx.finish(), 'EBADF');
    expectCode(() => ctx.fail(new Error('late')), 'EBADF', /fail: the checkpoint is already finished/);
    const rc = new RestartContext(image, opts({ types: [NodeT] }));
    const root = rc.restoreObj(NodeT);
    expect([...rc.readBuffer()]).toEqual([1, 2, 3]);
    expect(rc.readString()).toBe('héllo');
    expect(rc.objFetch(3, NodeT)).toBe(root.kids[2]);
    rc.finish();
    expect(rc.count).toBe(4);
  });

  describe('bad input', () => {
    const image = checkpoint(diamond(), NodeT, opts({ types: [NodeT] }));
    const recs = records(image);
    const objrefs = recs.filter((r) => r.type === REC.OBJREF);
    const user = recs.filter((r) => r.type === REC_NODE);
    const tail = recs[recs.length - 1]!;
    const load = (img: Uint8Array, o: Partial<CheckpointOptions> = {}) => restart(img, NodeT, opts({ types: [NodeT], ...o }));

    it('the untouched image restarts', () => {
      const root = load(image);
      expect(root.kids[1]!.kids[0]).toBe(root.kids[2]);
      expect(root.kids[1]!.kids[1]).toBe(root.kids[0]);
    });

    it('a truncated image is EPIPE at every length past the header', () => {
      for (let n = 0; n < image.length; n++) {
        const e = expectCode(() => load(image.subarray(0, n)), 'EPIPE');
        expect(e.message).toMatch(/offset \d+/);
      }
    });

    it('bad magic, bad version', () => {
      expectCode(() => load(setU32(image, 8, 0xdeadbeef)), 'EINVAL', /magic/);
      expectCode(() => load(setU32(image, 16, 99)), 'EINVAL', /version/);
    });

    it('an unknown type name in the header, or a type without restore', () => {
      const Other = nodeType('other');
      expectCode(() => restart(image, Other, opts({ types: [Other] })), 'EINVAL', /type 'node'.*not in options\.types/);
      const NoRestore = defineObjType<Node>({ name: 'node' });
      expectCode(() => restart(image, NoRestore, opts({ types: [NoRestore] })), 'EINVAL', /has no restore/);
    });

    it('unknown objtype, duplicate objref, objref <= 0, OBJREF len != 16', () => {
      const o = objrefs[1]!.offset;
      expectCode(() => load(fixCrc(setU32(image, o + 8, 77))), 'EINVAL', new RegExp(`OBJREF at offset ${o}: objtype 77 is not in the header's type table`));
      expectCode(() => load(fixCrc(setU32(image, o + 12, 1))), 'EINVAL', new RegExp(`OBJREF at offset ${o}: objref 1 defined twice`)); // inside its own restore
      expectCode(() => load(fixCrc(setU32(image, objrefs[3]!.offset + 12, 2))), 'EINVAL', /defined twice/);
      expectCode(() => load(fixCrc(setU32(image, o + 12, 0))), 'EINVAL', /objref 0 <= 0/);
      expectCode(() => load(fixCrc(setU32(image, o + 12, -7))), 'EINVAL', /objref -7 <= 0/);
      expectCode(() => load(fixCrc(setU32(image, o + 4, 24))), 'EINVAL', new RegExp(`offset ${o}`));
    });

    it('an objref far beyond the objects read is EINVAL (maxObjrefGap), so objrefs cannot be chosen to collide', () => {
      const o = objrefs[0]!.offset; // the root: nothing refers to it
      const far = fixCrc(setU32(image, o + 12, 2 ** 30));
      expectCode(() => load(far), 'EINVAL', new RegExp(`OBJREF at offset ${o}: objref ${2 ** 30} is more than 1048576`));
      expect(load(far, { maxObjrefGap: 2 ** 31 } as never).kids.length).toBe(3);
      expectCode(() => load(fixCrc(setU32(image, o + 12, 5)), { maxObjrefGap: 2 } as never), 'EINVAL', /maxObjrefGap/);
      expectCode(() => load(image, { maxObjrefGap: 0 } as never), 'EINVAL', /maxObjrefGap must be/);
    });

    it('record len < 8, or beyond the bytes present (nothing allocated for it)', () => {
      const u = user[0]!.offset;
      expectCode(() => load(setU32(image, u + 4, 4)), 'EINVAL', new RegExp(`offset ${u}`));
      expectCode(() => load(setU32(image, u + 4, 0)), 'EINVAL');
      expectCode(() => load(setU32(image, u + 4, 1_000_000)), 'EPIPE', new RegExp(`offset ${u}`));
      expectCode(() => load(setU32(image, u + 4, 0xfffffff0)), 'E2BIG');
      const big = checkpoint({ name: 'x'.repeat(5000), kids: [] }, NodeT, opts({ types: [NodeT] }));
      expectCode(() => load(big, { maxRecord: 4096 }), 'E2BIG', /over maxRecord 4096/);
      expectCode(() => checkpoint({ name: 'x'.repeat(5000), kids: [] }, NodeT, opts({ types: [NodeT], maxRecord: 4096 })), 'E2BIG');
    });

    it('non-zero padding, bytes after TAIL, a record after TAIL', () => {
      const padded = user.find((r) => r.len % 8 !== 0)!;
      const bad = image.slice();
      bad[padded.offset + padded.len] = 0xff;
      expectCode(() => load(fixCrc(bad)), 'EINVAL', /padding/);
      const extra = new Uint8Array(image.length + 8);
      extra.set(image);
      expectCode(() => load(extra), 'EINVAL', /after TAIL/);
    });

    it('a CRC or count mismatch is EBADMSG', () => {
      expectCode(() => load(setU32(image, tail.offset + 20, u32(image, tail.offset + 20) ^ 1)), 'EBADMSG', /checksum/);
      // a changed payload byte that still parses: only the CRC catches it
      const s = user[0]!.offset + 12; // first char of the node's name
      const flipped = image.slice();
      flipped[s] = flipped[s]! ^ 0x01;
      expectCode(() => load(flipped), 'EBADMSG');
      expectCode(() => load(fixCrc(setU32(image, tail.offset + 16, 3))), 'EBADMSG', /count/);
    });

    it('nesting deeper than the limit is ELOOP, on both sides', () => {
      const deep = chain(60);
      expectCode(() => checkpoint(deep, NodeT, opts({ types: [NodeT], maxDepth: 50 })), 'ELOOP', /deeper than 50/);
      const img = checkpoint(deep, NodeT, opts({ types: [NodeT] }));
      expectCode(() => load(img, { maxDepth: 50 }), 'ELOOP', /deeper than 50/);
      expect(load(img, { maxDepth: 60 }).name).toBe('n59');
    });

    it('an ERROR record is EIO carrying its message', () => {
      const ctx = new CheckpointContext(opts({ types: [NodeT] }));
      ctx.checkpointObj({ name: 'x', kids: [] }, NodeT);
      const img = ctx.fail(new Error('out of space'));
      expectCode(() => load(img), 'EIO', /out of space/);
      // the image is ended: a second fail() has nothing to end
      expectCode(() => ctx.fail(new Error('again')), 'EBADF', /fail: the checkpoint is already finished/);
      // and after dispose, every call that would write
      const gone = new CheckpointContext(opts({ types: [NodeT] }));
      gone.checkpointObj({ name: 'y', kids: [] }, NodeT);
      gone[Symbol.dispose]();
      expectCode(() => gone.checkpointObj({ name: 'z', kids: [] }, NodeT), 'EBADF');
      expectCode(() => gone.begin(101), 'EBADF');
      expectCode(() => gone.finish(), 'EBADF');
      expectCode(() => gone.fail(new Error('late')), 'EBADF', /fail: the checkpoint is already finished/);
    });
  });
});

describe.skipIf(IMPLS.length < 2)('images across backends', () => {
  it('native and js write byte-identical images, and each restarts the other\'s', () => {
    const a = checkpoint(buildTree(), TaskType, { impl: 'native', types: TYPES });
    const b = checkpoint(buildTree(), TaskType, { impl: 'js', types: TYPES });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const viaJs = restart(a, TaskType, { impl: 'js', types: TYPES });
    const viaNative = restart(b, TaskType, { impl: 'native', types: TYPES });
    expect(collect(viaJs).file.size).toBe(6);
    expect(collect(viaNative).file.size).toBe(6);
    const path = join(dir, 'cross.img');
    checkpointToFile(path, buildTree(), TaskType, { impl: 'native', types: TYPES });
    expect(existsSync(path)).toBe(true);
    expect(collect(restartFromFile(path, TaskType, { impl: 'js', types: TYPES })).task.size).toBe(8);
    writeFileSync(path, b);
    expect(collect(restartFromFile(path, TaskType, { impl: 'native', types: TYPES })).task.size).toBe(8);
  });

  it('corrupt images give the same error code and message on both backends', () => {
    const img = checkpoint(buildTree(), TaskType, { impl: 'native', types: TYPES });
    for (let i = 0; i < img.length; i += 3) {
      const bad = img.slice();
      bad[i] = bad[i]! ^ (1 << (i % 8));
      const run = (impl: 'native' | 'js') => {
        try {
          restart(bad, TaskType, { impl, types: TYPES });
          return 'ok';
        } catch (e) {
          expect(e).toBeInstanceOf(ObjHashError);
          return `${(e as ObjHashError).code} ${(e as Error).message}`;
        }
      };
      expect(run('native'), `byte ${i}`).toBe(run('js'));
    }
  });
});
