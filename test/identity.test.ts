/**
 * Identity on the objects (lib/hash/stamped-ids.ts): a checkpoint walked
 * in one call keeps the identity of the objects it meets in private
 * fields on them instead of a Map.  What must hold: the images are the
 * bytes a Map gives, whatever happened to the objects since an earlier
 * checkpoint stamped them; nothing a program can see on an object
 * changes; two checkpoints of one thread never stamp at once; a failed,
 * abandoned or nested checkpoint leaves the next ones right; an object
 * that refuses private fields (a later V8's rule) falls back to the Map.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { CheckpointContext, ValueT, checkpoint, defineObjType, ref, restart, type ObjType } from '../lib/index.js';
import { buildGraph, graphSchemaTypes, graphTypes, type File, type Graph, type Mm, type Task } from '../bench/graph.js';
import { IMPLS, expectCode, gc, rng } from './helpers.js';
import { MAX_SERIAL as MAX_SERIAL_FOR_TEST, setSerialForTest } from '../lib/hash/stamped-ids.js';

const root = join(__dirname, '..');

/** One random change to the graph's sharing: a parent, a file, an mm re-pointed, or a fresh object in a slot. */
function mutate(g: Graph, rand: () => number): void {
  const tasks = g.tasks;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const t = pick(tasks);
  switch (Math.floor(rand() * 6)) {
    case 0:
      t.parent = rand() < 0.2 ? null : pick(tasks);
      break;
    case 1:
      t.files[Math.floor(rand() * t.files.length)] = pick(pick(tasks).files);
      break;
    case 2:
      t.mm = pick(tasks).mm;
      break;
    case 3: {
      const f: File = { ...pick(t.files) };
      t.files[Math.floor(rand() * t.files.length)] = f;
      break;
    }
    case 4: {
      const mm: Mm = { start: t.mm.start + 1, end: t.mm.end + 1, pages: [...t.mm.pages] };
      t.mm = mm;
      break;
    }
    default: {
      // a task leaves the list, another comes in (still reachable through parents, or not)
      const fresh: Task = { pid: 1e6 + Math.floor(rand() * 1e6), name: 'new', parent: pick(tasks), files: [...t.files], mm: t.mm };
      tasks[Math.floor(rand() * tasks.length)] = fresh;
    }
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

let hasSameMap: ((a: object, b: object) => boolean) | undefined;
/** V8's %HaveSameMap: whether two objects have one hidden class. */
function sameHiddenClass(a: object, b: object): boolean {
  if (!hasSameMap) {
    v8.setFlagsFromString('--allow-natives-syntax');
    hasSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b);') as (a: object, b: object) => boolean;
    v8.setFlagsFromString('--no-allow-natives-syntax');
  }
  // (the flag on for the call too: after enough GCs V8 may flush the
  // function's bytecode, and its next call compiles it again)
  v8.setFlagsFromString('--allow-natives-syntax');
  try {
    return hasSameMap(a, b);
  } finally {
    v8.setFlagsFromString('--no-allow-natives-syntax');
  }
}

describe.each(IMPLS)('identity on the objects (%s)', (impl) => {
  it.each(['hand-written', 'fields', 'plain values'] as const)(
    'the bytes of a Map-keyed checkpoint, over 120 changes to the sharing of a graph stamped before (%s)',
    (kind) => {
      const { root: g } = buildGraph(64, true, 7);
      // (cycles: the changes make parents point anywhere)
      const X = kind === 'fields' ? graphSchemaTypes(true) : graphTypes(true, false);
      const ck = (identity: 'stamp' | 'map'): Uint8Array =>
        kind === 'plain values' ? checkpoint(g, { impl, identity }) : checkpoint(g, X.GraphT, { impl, types: X.types, identity });
      const rand = rng(11);
      for (let step = 0; step < 120; step++) {
        // the stamped one first, then last: stale fields from either order
        const a = step % 2 ? ck('stamp') : ck('map');
        const b = step % 2 ? ck('map') : ck('stamp');
        expect(same(a, b), `step ${step}`).toBe(true);
        mutate(g, rand);
      }
      // and what it restores is the graph, sharing and all (the bench's
      // hand-written file type cannot restore an owner cycle through a file)
      if (kind === 'hand-written') return;
      const back = (kind === 'plain values' ? restart(ck('stamp'), { impl }) : restart(ck('stamp'), X.GraphT, { impl, types: X.types })) as Graph;
      expect(back.tasks.length).toBe(g.tasks.length);
      const files = new Map<File, File>();
      g.tasks.forEach((t, i) =>
        t.files.forEach((f, j) => {
          const r = back.tasks[i]!.files[j]!;
          if (files.has(f)) expect(files.get(f)).toBe(r);
          else files.set(f, r);
          expect(r.path).toBe(f.path);
        }),
      );
    },
  );

  it('leaves nothing a program can see on the objects (keys, symbols, JSON, clones, frozenness)', () => {
    const shared = Object.freeze({ k: 1, s: 'shared' });
    const arr = [shared, shared, { n: 2 }];
    const value = { arr, map: new Map([[1, shared]]), set: new Set([arr]), date: new Date(0), bytes: new Uint8Array([1, 2]) };
    const look = (o: object) => ({ keys: Reflect.ownKeys(o), json: JSON.stringify(o), ser: Buffer.from(v8.serialize(o)).toString('hex'), frozen: Object.isFrozen(o), ext: Object.isExtensible(o) });
    const objs: object[] = [value, arr, shared, arr[2]!, value.map, value.set, value.date, value.bytes];
    const before = objs.map(look);
    const cx = new CheckpointContext({ impl });
    expect(cx.identity).toBe('stamp');
    cx.checkpointObj(value, ValueT);
    cx.finish();
    expect(objs.map(look)).toEqual(before);
    expect(structuredClone(value)).toEqual(structuredClone(value));
  });

  it("options.identity: 'map' leaves the hidden classes alone; 'stamp' (the default) changes each object's once", () => {
    const make = () => ({ a: 1, b: 'x' });
    const untouched = make(), stamped = make(), fresh = make();
    expect(sameHiddenClass(untouched, fresh)).toBe(true);
    checkpoint(untouched, { impl, identity: 'map' });
    checkpoint(stamped, { impl });
    expect(sameHiddenClass(untouched, fresh)).toBe(true);
    expect(sameHiddenClass(stamped, fresh)).toBe(false);
    // stamped again: no further change
    const again = make();
    checkpoint(again, { impl });
    checkpoint(again, { impl });
    expect(sameHiddenClass(again, stamped)).toBe(true);
  });

  it('one stamping checkpoint at a time: an open context makes the next ones use a Map, and both images are right', () => {
    const { root: g } = buildGraph(16, false, 3);
    const X = graphTypes(false, false);
    const opts = { impl, types: X.types };
    const alone = checkpoint(g, X.GraphT, { ...opts, identity: 'map' });
    const alone2 = checkpoint(g.tasks[5]!, X.TaskT, { ...opts, identity: 'map' });
    const outer = new CheckpointContext(opts);
    expect(outer.identity).toBe('stamp');
    // the same objects, interleaved: the inner one must not see the outer one's entries
    const inner = new CheckpointContext(opts);
    expect(inner.identity).toBe('map');
    expect(same(checkpoint(g.tasks[5]!, X.TaskT, opts), alone2)).toBe(true);
    inner.checkpointObj(g.tasks[5]!, X.TaskT);
    outer.checkpointObj(g, X.GraphT);
    expect(same(inner.finish(), alone2)).toBe(true);
    expect(same(outer.finish(), alone)).toBe(true);
    // closed: the next one stamps
    const next = new CheckpointContext(opts);
    expect(next.identity).toBe('stamp');
    next.checkpointObj(g, X.GraphT);
    expect(same(next.finish(), alone)).toBe(true);
  });

  it('a checkpoint inside a checkpoint callback: the inner one uses a Map, both images right', () => {
    const leaf = { v: 1 };
    const pair = { a: leaf, b: leaf };
    const inner: Uint8Array[] = [];
    // eslint-disable-next-line prefer-const
    let HolderT: ObjType<{ pair: typeof pair }>;
    HolderT = defineObjType<{ pair: typeof pair }>({
      name: 'holder',
      checkpoint(ctx, h) {
        inner.push(checkpoint(h.pair, { impl }));
        ctx.begin(250).uv(ctx.checkpointObj(h.pair, ValueT)).end();
      },
      restore(ctx) {
        ctx.readRecord(250);
        return { pair: ctx.vref(ValueT) as typeof pair };
      },
    });
    const img = checkpoint({ pair }, HolderT, { impl, types: [HolderT] });
    expect(same(inner[0]!, checkpoint(pair, { impl, identity: 'map' }))).toBe(true);
    const back = restart(img, HolderT, { impl, types: [HolderT] });
    expect(back.pair.a).toBe(back.pair.b);
    const p = restart(inner[0]!, { impl }) as typeof pair;
    expect(p.a).toBe(p.b);
  });

  it('session serials starting over (after 2^30 - 1 checkpoints) never read the fields of the serial they reuse', () => {
    const a = { n: 1 };
    const b = { n: 2 };
    const first = { a, b, pair: [a, b] };
    const second = { b, a, pair: [b, a], more: [a] };
    try {
      // serial 1 stamps a and b (b: objref 3 of that image)
      setSerialForTest(0);
      checkpoint(first, { impl });
      // the serial after the last one is 1 again: a new session, whose fields
      // a and b do not have yet, whatever serial 1 wrote on them
      setSerialForTest(MAX_SERIAL_FOR_TEST);
      const img = checkpoint(second, { impl });
      expect(same(img, checkpoint(second, { impl, identity: 'map' }))).toBe(true);
      const back = restart(img, { impl }) as typeof second;
      expect(back.pair[0]).toBe(back.b);
      expect(back.more[0]).toBe(back.a);
      // and the new era stamps as before: a later checkpoint reads its own entries
      expect(same(checkpoint(second, { impl }), img)).toBe(true);
    } finally {
      setSerialForTest(0);
    }
  });

  it('after a failed checkpoint the next one stamps, and is right', () => {
    const shared = { s: 1 };
    const bad = { x: shared, y: shared, f: () => 0 };
    expectCode(() => checkpoint(bad, { impl }), 'EINVAL', /root\.f/);
    const good = { x: shared, y: shared };
    const cx = new CheckpointContext({ impl });
    expect(cx.identity).toBe('stamp');
    cx.checkpointObj(good, ValueT);
    expect(same(cx.finish(), checkpoint(good, { impl, identity: 'map' }))).toBe(true);
  });

  it('a context dropped unfinished does not keep the next ones from stamping once it is collected', async () => {
    (() => {
      const cx = new CheckpointContext({ impl });
      cx.checkpointObj({ a: 1 }, ValueT);
      expect(cx.identity).toBe('stamp');
    })();
    expect(new CheckpointContext({ impl }).identity).toBe('map');
    // collected, then closed by a FinalizationRegistry callback, which runs in a later task
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
      await new Promise((r) => setImmediate(r));
      const probe = new CheckpointContext({ impl });
      const stamped = probe.identity === 'stamp';
      probe[Symbol.dispose]();
      if (stamped) break;
    }
    const cx = new CheckpointContext({ impl });
    expect(cx.identity).toBe('stamp');
    cx[Symbol.dispose]();
  });

  it('a loop of checkpoints that never yields keeps nothing per call (the stamping session of each is let go)', () => {
    const v = { a: 1 };
    for (let i = 0; i < 200; i++) checkpoint(v, { impl });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20000; i++) checkpoint(v, { impl });
    gc();
    const perCall = (process.memoryUsage().heapUsed - before) / 20000;
    // it was ~700 bytes a call, held until the loop yielded
    expect(perCall).toBeLessThan(100);
  });

  it('proxies are stamped on themselves: no trap runs, and the bytes are the Map\'s', () => {
    const trap = () => {
      throw new Error('a trap ran');
    };
    const handler = { get: trap, has: trap, set: trap, defineProperty: trap, getOwnPropertyDescriptor: trap, ownKeys: trap, getPrototypeOf: trap };
    const target = { id: 7 };
    const p = new Proxy(target, handler);
    const ids = new Map<object, number>([[p, 1], [target, 2]]);
    const BoxT = defineObjType<object>({
      name: 'box',
      checkpoint(ctx, o) {
        ctx.begin(251).uv(ids.get(o)!).end();
      },
      restore(ctx) {
        ctx.readRecord(251);
        return { id: ctx.uv() };
      },
    });
    const PairT = defineObjType<{ a: object; b: object; c: object }>({
      name: 'pair',
      checkpoint(ctx, o) {
        ctx.begin(252).uv(ctx.checkpointObj(o.a, BoxT)).uv(ctx.checkpointObj(o.b, BoxT)).uv(ctx.checkpointObj(o.c, BoxT)).end();
      },
      restore(ctx) {
        ctx.readRecord(252);
        return { a: ctx.objFetch(ctx.uv(), BoxT), b: ctx.objFetch(ctx.uv(), BoxT), c: ctx.objFetch(ctx.uv(), BoxT) };
      },
    });
    const root = { a: p, b: target, c: p };
    const opts = { impl, types: [PairT, BoxT] };
    const a = checkpoint(root, PairT, opts);
    expect(same(a, checkpoint(root, PairT, { ...opts, identity: 'map' }))).toBe(true);
    expect(same(checkpoint(root, PairT, opts), a)).toBe(true);
    const back = restart(a, PairT, opts);
    expect(back.a).toBe(back.c);
    expect(back.a).not.toBe(back.b);
  });

  it('a deferred walk (the incremental checkpoint) uses the fields objects have, adds none, and a checkpoint between its slices uses a Map', () => {
    const { root: g } = buildGraph(64, false, 5);
    const X = graphSchemaTypes(false);
    const opts = { impl, types: X.types };
    // half the tasks (and what they hold) stamped by a checkpoint in one call
    checkpoint({ tasks: g.tasks.slice(0, 32) }, X.GraphT, opts);
    const stampedTask = g.tasks[0]!;
    const freshTask = g.tasks[63]!;
    const twin = (t: Task): Task => ({ pid: t.pid, name: t.name, parent: t.parent, files: t.files, mm: t.mm });
    const before = twin(freshTask);
    expect(sameHiddenClass(freshTask, before)).toBe(true);
    const cx = new CheckpointContext({ ...opts, deferWalk: true });
    expect(cx.identity).toBe('stamp');
    cx.checkpointObj(g, X.GraphT);
    let slices = 0;
    while (!cx.walkSome(0)) {
      // a checkpoint between two slices, of objects the slices meet too: each image right
      const t = g.tasks[slices % g.tasks.length]!;
      const between = new CheckpointContext(opts);
      expect(between.identity).toBe('map');
      between.checkpointObj(t, X.TaskT);
      expect(same(between.finish(), checkpoint(t, X.TaskT, { ...opts, identity: 'map' }))).toBe(true);
      slices++;
    }
    expect(slices).toBeGreaterThan(0);
    expect(same(cx.finish(), checkpoint(g, X.GraphT, { ...opts, identity: 'map' }))).toBe(true);
    // the walk gave no fields to the objects that had none
    expect(sameHiddenClass(freshTask, before)).toBe(true);
    expect(sameHiddenClass(stampedTask, twin(stampedTask))).toBe(false);
    // and the next checkpoint in one call stamps again, and is right
    const next = new CheckpointContext(opts);
    expect(next.identity).toBe('stamp');
    next.checkpointObj(g, X.GraphT);
    expect(same(next.finish(), checkpoint(g, X.GraphT, { ...opts, identity: 'map' }))).toBe(true);
  });

  it('a typed object met again inside a plain value is one object: the hash is asked about every plain object, and both identities write the same bytes', () => {
    type N = { id: number; peer: N | null; meta: unknown };
    const NodeT: ObjType<N> = defineObjType<N>({ name: 'peer-node', fields: { id: 'uv', peer: ref(() => NodeT), meta: 'value' } });
    const types = [NodeT];
    const b: N = { id: 2, peer: null, meta: [1, 2] };
    const shared = { tag: 's' };
    // a.peer makes b typed first; a.meta then meets b (referred to), plain objects, arrays and a Map (copied)
    const a: N = { id: 1, peer: b, meta: { b, list: [shared, shared, [b]], m: new Map([[shared, b]]) } };
    const stamp = checkpoint(a, NodeT, { impl, types });
    expect(same(stamp, checkpoint(a, NodeT, { impl, types, identity: 'map' }))).toBe(true);
    // and again, with every object stamped by the one before
    expect(same(checkpoint(a, NodeT, { impl, types }), stamp)).toBe(true);
    const back = restart(stamp, NodeT, { impl, types });
    const meta = back.meta as { b: N; list: [object, object, N[]]; m: Map<object, N> };
    expect(meta.b).toBe(back.peer);
    expect(meta.list[2][0]).toBe(back.peer);
    expect(meta.list[0]).toBe(meta.list[1]);
    expect(meta.m.get(meta.list[0])).toBe(back.peer);
    expect(back.peer!.meta).toEqual([1, 2]);
  });

  it('options.identity other than stamp or map: EINVAL naming it', () => {
    expectCode(() => new CheckpointContext({ impl, identity: 'weak' as never }), 'EINVAL', /options\.identity must be 'stamp' or 'map' \(got "weak"\)/);
    expectCode(() => checkpoint({}, { impl, identity: 1 as never }), 'EINVAL', /options\.identity/);
  });

  it("objects that refuse private fields (V8's --js-nonextensible-applies-to-private) fall back to the Map", () => {
    const lib = JSON.stringify(join(root, 'dist', 'lib', 'index.js'));
    const script = `
      const { checkpoint, restart } = require(${lib});
      const leaf = Object.freeze({ v: 1 });
      const row = Object.freeze([leaf, leaf, { open: leaf }]);
      const value = { rows: [row, row], leaf };
      try { new (class extends (class { constructor(o) { return o; } }) { #p = 0; })(Object.freeze({})); console.log('no refusal'); process.exit(0); } catch (e) { if (!(e instanceof TypeError)) throw e; }
      const o = { impl: ${JSON.stringify(impl)} };
      const a = checkpoint(value, o), b = checkpoint(value, { ...o, identity: 'map' }), c = checkpoint(value, o);
      if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0 || Buffer.compare(Buffer.from(c), Buffer.from(b)) !== 0) throw new Error('bytes differ');
      const r = restart(a, o);
      if (r.rows[0] !== r.rows[1] || r.rows[0][0] !== r.leaf || r.rows[0][2].open !== r.leaf) throw new Error('sharing lost');
      console.log('refused and right');
    `;
    const r = spawnSync(process.execPath, ['--js-nonextensible-applies-to-private', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    if (/bad option|unrecognized flag/.test(r.stderr)) return; // this Node's V8 has no such rule yet
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^(refused and right|no refusal)$/);
  });
});
