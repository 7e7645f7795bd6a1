/**
 * The path an EINVAL refusal names (root.a[3].f), on both backends, when
 * the value is reached through typed objects: the item of a refs(T) field
 * and of a list(...) field (ref, opt(ref), 'value', nested lists), refs
 * items whose own fields fail (and deeper), registered class instances and
 * plain values met inside plain values, records queued for want of room
 * (64 inline levels, 1,024 inline objects of an incremental walk), and
 * long refs fields written in runs (checkpointToFile/checkpointToStream
 * with `incremental`, CheckpointContext with deferWalk); and objects of
 * hand-written types on the way, whose checkpoint names no step: found
 * again in the holder's own properties, else <type.checkpoint>.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointContext, ObjHashError, checkpoint, checkpointToStream, defineObjType, list, opt, ref, refs, type ObjType } from '../lib/index.js';
import * as promises from '../lib/promises.js';
import { IMPLS, expectCode } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'objhash-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fn = (): number => 0;
const FN = 'a function cannot be checkpointed';

interface Leaf {
  v: unknown;
}
const LeafT = defineObjType<Leaf>({ name: 'leaf', fields: { v: 'value' } });
const RootT = defineObjType<{ leaves: (Leaf | null)[] }>({ name: 'root', fields: { leaves: refs(LeafT) } });
const MidT = defineObjType<{ kids: Leaf[]; one: Leaf | null }>({ name: 'mid', fields: { kids: refs(LeafT), one: ref(LeafT) } });
const TopT = defineObjType<{ mids: unknown[] }>({ name: 'top', fields: { mids: refs(MidT) } });
const ValuesT = defineObjType<{ xs: unknown[] }>({ name: 'values', fields: { xs: list('value') } });
const GridT = defineObjType<{ xs: unknown[][] }>({ name: 'grid', fields: { xs: list(list('value')) } });
const LinksT = defineObjType<{ xs: Leaf[] }>({ name: 'links', fields: { xs: list(ref(LeafT)) } });
const MaybeT = defineObjType<{ x: Leaf | null | undefined }>({ name: 'maybe', fields: { x: opt(ref(LeafT)) } });
const MaybesT = defineObjType<{ xs: (Leaf | null | undefined)[] }>({ name: 'maybes', fields: { xs: list(opt(ref(LeafT))) } });
/** A type with a list field before its long refs field (written field by field, then in runs). */
const LongT = defineObjType<{ tag: unknown[]; leaves: Leaf[] }>({ name: 'long', fields: { tag: list('value'), leaves: refs(LeafT) } });

class Foo {
  v: unknown = 1;
}
const FooT = defineObjType<Foo>({ name: 'foo', fields: { v: 'value' }, create: Foo });

/** A 'value' field before a ref field, and after one. */
const BagFirstT = defineObjType<{ v: unknown; foo: Foo | null }>({ name: 'bagFirst', fields: { v: 'value', foo: ref(FooT) } });
const BagLastT = defineObjType<{ foo: Foo | null; v: unknown }>({ name: 'bagLast', fields: { foo: ref(FooT), v: 'value' } });

/** Hand-written types: a job checkpoints its items (leaves), an outer its inner.job, a byId a leaf it looks up. */
interface Job {
  items: Leaf[];
}
const JobT = defineObjType<Job>({
  name: 'job',
  checkpoint(ctx, job) {
    const r = job.items.map((x) => ctx.checkpointObj(x, LeafT));
    ctx.begin(300);
    for (const x of r) ctx.uv(x);
    ctx.end();
  },
  restore: () => ({ items: [] }),
});
const OuterT = defineObjType<{ inner: { job: Job } }>({
  name: 'outer',
  checkpoint(ctx, o) {
    const r = ctx.checkpointObj(o.inner.job, JobT);
    ctx.begin(301).uv(r).end();
  },
  restore: () => ({ inner: { job: { items: [] } } }),
});
const byId = new Map<number, Leaf>();
const ByIdT = defineObjType<{ id: number }>({
  name: 'byId',
  checkpoint(ctx, o) {
    const r = ctx.checkpointObj(byId.get(o.id)!, LeafT);
    ctx.begin(302).uv(r).end();
  },
  restore: () => ({ id: 0 }),
});
/** Asks for o.a.b.c.d.e, or o.a.b.c.d when that has no e. */
type Deep = { a: { b: { c: { d: { e?: Leaf } & Partial<Leaf> } } } };
const DeepT = defineObjType<Deep>({
  name: 'deep',
  checkpoint(ctx, o) {
    const d = o.a.b.c.d;
    const r = ctx.checkpointObj((d.e ?? d) as Leaf, LeafT);
    ctx.begin(303).uv(r).end();
  },
  restore: () => ({ a: { b: { c: { d: {} } } } }),
});
const WrapT = defineObjType<{ j: Job | null; v: unknown }>({ name: 'wrap', fields: { j: ref(JobT), v: 'value' } });

const TYPES = [RootT, LeafT, MidT, TopT, ValuesT, GridT, LinksT, MaybeT, MaybesT, LongT, FooT, BagFirstT, BagLastT, JobT, OuterT, ByIdT, DeepT, WrapT];

/** The message of the EINVAL that fn throws. */
function refused(fn: () => unknown): string {
  return expectCode(fn, 'EINVAL').message;
}

/** The message of the EINVAL that p rejects with. */
async function rejected(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ObjHashError);
  expect((e as ObjHashError).code).toBe('EINVAL');
  return (e as Error).message;
}

/** 5000 leaves (a refs field written in runs when the walk is incremental); leaf 3500 holds a function. */
function longRoot(): { tag: unknown[]; leaves: Leaf[] } {
  const leaves: Leaf[] = [];
  for (let i = 0; i < 5000; i++) leaves.push({ v: i });
  leaves[3500] = { v: { q: [0, fn] } };
  return { tag: [1, 2], leaves };
}

/** 3000 plain objects in one array: past 1,024 inline objects an incremental walk gives them records of their own. */
function bigArray(): { a: { b: unknown } }[] {
  const big: { a: { b: unknown } }[] = [];
  for (let i = 0; i < 3000; i++) big.push({ a: { b: i } });
  big[2500]!.a.b = fn;
  return big;
}

describe.each(IMPLS)('refusal paths through typed objects (%s)', (impl) => {
  const o = { impl, types: TYPES };
  const ck = <T>(root: T, type: ObjType<T>): string => refused(() => checkpoint(root, type, o));

  it('an item of a refs(T) field: its index, then the item own fields', () => {
    expect(ck({ leaves: [{ v: 1 }, { v: { f: [1, fn] } }] }, RootT)).toBe(`checkpoint: root.leaves[1].v.f[1]: ${FN}`);
    expect(ck({ leaves: [{ v: 1 }, null, { v: fn }] }, RootT)).toBe(`checkpoint: root.leaves[2].v: ${FN}`);
    expect(ck({ leaves: [{ v: 1 }, { v: Symbol('s') }] }, RootT)).toBe('checkpoint: root.leaves[1].v: a symbol cannot be checkpointed');
  });

  it('an item met twice: the index where the walk met it first', () => {
    const ok = { v: 1 };
    const bad = { v: { a: fn } };
    expect(ck({ leaves: [ok, ok, bad, bad] }, RootT)).toBe(`checkpoint: root.leaves[2].v.a: ${FN}`);
  });

  it('refs items of refs items, and a ref(T) field of one', () => {
    const mids = [
      { kids: [], one: null },
      { kids: [{ v: 1 }, { v: 2 }, { v: [fn] }], one: null },
    ];
    expect(ck({ mids }, TopT)).toBe(`checkpoint: root.mids[1].kids[2].v[0]: ${FN}`);
    const mids2 = [{ kids: [], one: null }, { kids: [], one: null }, { kids: [{ v: 1 }], one: { v: new Map([[1, fn]]) } }];
    expect(ck({ mids: mids2 }, TopT)).toBe(`checkpoint: root.mids[2].one.v["<value 0>"]: ${FN}`);
  });

  it("an item of a list('value') field: refused itself, or inside", () => {
    expect(ck({ xs: [1, fn] }, ValuesT)).toBe(`checkpoint: root.xs[1]: ${FN}`);
    expect(ck({ xs: [1, 'a', { a: fn }] }, ValuesT)).toBe(`checkpoint: root.xs[2].a: ${FN}`);
    expect(ck({ xs: [{ a: 1 }, [0, [0, 0, new WeakMap()]]] }, ValuesT)).toMatch(/^checkpoint: root\.xs\[1\]\[1\]\[2\]: .*WeakMap/);
  });

  it("list(list('value')): both indices", () => {
    expect(ck({ xs: [[1], [2, { a: [0, fn] }]] }, GridT)).toBe(`checkpoint: root.xs[1][1].a[1]: ${FN}`);
    expect(ck({ xs: [[], [], [0, 0, 0, fn]] }, GridT)).toBe(`checkpoint: root.xs[2][3]: ${FN}`);
  });

  it('list(ref(T)), list(opt(ref(T))), opt(ref(T))', () => {
    expect(ck({ xs: [{ v: 1 }, { v: { a: fn } }] }, LinksT)).toBe(`checkpoint: root.xs[1].v.a: ${FN}`);
    expect(ck({ xs: [null, undefined, { v: 0 }, { v: { a: fn } }] }, MaybesT)).toBe(`checkpoint: root.xs[3].v.a: ${FN}`);
    expect(ck({ x: { v: { a: fn } } }, MaybeT)).toBe(`checkpoint: root.x.v.a: ${FN}`);
  });

  it('a refs item that was written before inside a plain value', () => {
    const leaf = { v: 1 };
    expect(ck({ tag: [0, { x: leaf }], leaves: [{ v: 0 }, leaf] }, LongT)).toBe(
      "checkpoint: root.leaves[1]: this object was written before inside a plain value (a 'value' field or a plain value), and cannot also be a leaf: " +
        'reach it through its typed field first, or give leaf a create class',
    );
  });

  it('an instance of a registered class inside a plain value: the steps to it inside the holder record', () => {
    const foo = new Foo();
    foo.v = { q: fn };
    expect(ck({ v: { a: [0, { c: foo }] } }, LeafT)).toBe(`checkpoint: root.v.a[1].c.v.q: ${FN}`);
    expect(refused(() => checkpoint({ a: [0, { c: foo }] }, o))).toBe(`checkpoint: root.a[1].c.v.q: ${FN}`);
    expect(ck({ xs: [0, [{ c: foo }]] }, ValuesT)).toBe(`checkpoint: root.xs[1][0].c.v.q: ${FN}`);
  });

  it("an object met first inside a 'value' field under a key that is also a ref field's name", () => {
    const foo = new Foo();
    foo.v = { q: fn };
    expect(ck({ v: { foo }, foo }, BagFirstT)).toBe(`checkpoint: root.v.foo.v.q: ${FN}`);
    expect(ck({ foo, v: { foo } }, BagLastT)).toBe(`checkpoint: root.foo.v.q: ${FN}`);
    expect(ck({ v: 7, foo }, BagFirstT)).toBe(`checkpoint: root.foo.v.q: ${FN}`);
  });

  it('a plain value deeper than 64 inline levels (records of its own): every level', () => {
    let d: unknown = fn;
    for (let i = 0; i < 150; i++) d = { a: d };
    expect(ck({ v: d }, LeafT)).toBe(`checkpoint: root.v${'.a'.repeat(150)}: ${FN}`);
    expect(ck({ leaves: [{ v: 0 }, { v: [d] }] }, RootT)).toBe(`checkpoint: root.leaves[1].v[0]${'.a'.repeat(150)}: ${FN}`);
  });

  it('a long refs field: the same path written whole and in runs (checkpointToFile, checkpointToStream, deferWalk)', async () => {
    const want = `checkpoint: root.leaves[3500].v.q[1]: ${FN}`;
    expect(ck(longRoot(), LongT)).toBe(want);
    expect(await rejected(promises.checkpointToFile(join(dir, `long-${impl}.img`), longRoot(), LongT, { ...o, incremental: true, sliceMs: 0 }))).toBe(want);
    const pt = new PassThrough();
    pt.resume();
    expect(await rejected(promises.checkpointToStream(pt, longRoot(), LongT, { ...o, incremental: true, sliceMs: 0 }))).toBe(want);
    const pt2 = new PassThrough();
    pt2.resume();
    expect(await rejected(checkpointToStream(pt2, longRoot(), LongT, { ...o, incremental: true, sliceMs: 0 }))).toBe(want);
    const ctx = new CheckpointContext({ ...o, deferWalk: true });
    try {
      expect(
        refused(() => {
          ctx.checkpointObj(longRoot(), LongT);
          while (!ctx.walkSome(0));
        }),
      ).toBe(want);
    } finally {
      ctx.fail('test');
    }
  });

  it('a refusal inside a run of a long refs field, and in the list field before it', () => {
    const root = longRoot();
    root.leaves[3500] = { v: 1 };
    root.tag = [0, { x: root.leaves[3000] }];
    const ctx = new CheckpointContext({ ...o, deferWalk: true });
    try {
      expect(
        refused(() => {
          ctx.checkpointObj(root, LongT);
          while (!ctx.walkSome(0));
        }),
      ).toMatch(/^checkpoint: root\.leaves\[3000\]: this object was written before inside a plain value/);
    } finally {
      ctx.fail('test');
    }
    const root2 = longRoot();
    root2.leaves[3500] = { v: 1 };
    root2.tag = [0, 1, fn];
    const ctx2 = new CheckpointContext({ ...o, deferWalk: true });
    try {
      expect(
        refused(() => {
          ctx2.checkpointObj(root2, LongT);
          while (!ctx2.walkSome(0));
        }),
      ).toBe(`checkpoint: root.tag[2]: ${FN}`);
    } finally {
      ctx2.fail('test');
    }
  });

  it('an incremental walk: plain objects past 1,024 inline ones, in records of their own', async () => {
    const pt = new PassThrough();
    pt.resume();
    expect(await rejected(checkpointToStream(pt, { big: bigArray() }, { impl, incremental: true, sliceMs: 0 }))).toBe(`checkpoint: root.big[2500].a.b: ${FN}`);
    const pt2 = new PassThrough();
    pt2.resume();
    expect(await rejected(checkpointToStream(pt2, { tag: [0, { big: bigArray() }], leaves: [] }, LongT, { ...o, incremental: true, sliceMs: 0 }))).toBe(
      `checkpoint: root.tag[1].big[2500].a.b: ${FN}`,
    );
  });

  it('through objects of hand-written types: the steps found in their own properties', () => {
    const bad = (): Leaf => ({ v: { f: [0, fn] } });
    // the root's own checkpoint asks for it (before: root.v.f[1], as if the leaf were the root)
    expect(ck({ items: [{ v: 1 }, bad()] }, JobT)).toBe(`checkpoint: root.items[1].v.f[1]: ${FN}`);
    // a hand-written type's checkpoint asks for another's object, which asks for the leaf
    expect(ck({ inner: { job: { items: [bad()] } } }, OuterT)).toBe(`checkpoint: root.inner.job.items[0].v.f[1]: ${FN}`);
    // a fields type's ref(T) field holds one (before: root.j.v.f[1])
    expect(ck({ j: { items: [{ v: 2 }, { v: 3 }, bad()] }, v: 0 }, WrapT)).toBe(`checkpoint: root.j.items[2].v.f[1]: ${FN}`);
    // a Map entry of the holder, and an item met again after its own record
    const m = { items: [] as Leaf[], more: new Map([['k', bad()]]) };
    m.items.push(m.more.get('k')!);
    expect(ck(m, JobT)).toBe(`checkpoint: root.items[0].v.f[1]: ${FN}`);
  });

  it('through a hand-written checkpoint that found the object elsewhere: <type.checkpoint>', () => {
    byId.set(7, { v: [fn] });
    expect(ck({ id: 7 }, ByIdT)).toBe(`checkpoint: root<byId.checkpoint>.v[0]: ${FN}`);
    // deeper in its own properties than the search goes (4 steps): the same; 4 steps: found
    expect(ck({ a: { b: { c: { d: { e: { v: { g: fn } } } } } } }, DeepT)).toBe(`checkpoint: root<deep.checkpoint>.v.g: ${FN}`);
    expect(ck({ a: { b: { c: { d: { v: { g: fn } } } } } } as never, DeepT)).toBe(`checkpoint: root.a.b.c.d.v.g: ${FN}`);
  });
});
