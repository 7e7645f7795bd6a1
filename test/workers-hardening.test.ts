/**
 * Workers and GC: the addon loads and checkpoints in 4 worker_threads at
 * once (same bytes as the main thread; to one path at once, the last
 * rename wins and no temporary file is left); terminating a worker in the
 * middle of a checkpoint or restart -- inside a JS callback, inside a grab
 * or drop that the addon called from C -- does not abort the process; and
 * objects held by a live hash survive forced GC, then are collected once
 * the hash is freed (FinalizationRegistry).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointContext, RestartContext, checkpoint, defineObjType, type ObjType } from '../lib/index.js';
import { IMPLS, gc } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'objhash-workers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const dist = join(__dirname, '..', 'dist', 'lib', 'index.js');

/**
 * A world both the workers and this thread build (CommonJS source, `o` is
 * objhash): `run(o, impl, seed, path)` checkpoints a graph of 3000 shared
 * nodes, some keyed (the C table), to memory and to `path`, restarts the
 * file, checkpoints the result again, and returns what it saw.
 */
const WORLD = `
function world(o) {
  const Leaf = o.defineObjType({
    name: 'leaf',
    key: (l) => l.id,
    checkpoint: (ctx, l) => void ctx.begin(801).u64(l.id).str(l.name).end(),
    restore: (ctx) => (ctx.readRecord(801), { id: ctx.u64n(), name: ctx.str() }),
  });
  const Node = o.defineObjType({
    name: 'node',
    checkpoint(ctx, n) {
      const kids = n.kids.map((k) => ctx.checkpointObj(k, Node));
      const leaf = ctx.checkpointObj(n.leaf, Leaf);
      ctx.begin(802).u32(n.v).i32(leaf).u32(kids.length);
      for (const k of kids) ctx.i32(k);
      ctx.end();
    },
    restore(ctx) {
      const n = ctx.reference({});
      ctx.readRecord(802);
      n.v = ctx.u32();
      n.leaf = ctx.objFetch(ctx.i32(), Leaf);
      n.kids = [];
      for (let k = ctx.u32(); k > 0; k--) n.kids.push(ctx.objFetch(ctx.i32(), Node));
      return n;
    },
  });
  function build(seed) {
    let s = seed >>> 0;
    const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
    const leaves = Array.from({ length: 300 }, (_, i) => ({ id: 1 + i * 4096, name: 'leaf' + i }));
    const nodes = [];
    for (let i = 0; i < 3000; i++) {
      const kids = [];
      for (let k = Math.floor(r() * 3); k > 0 && nodes.length; k--) kids.push(nodes[Math.floor(r() * nodes.length)]);
      nodes.push({ v: i, leaf: leaves[Math.floor(r() * leaves.length)], kids });
    }
    return { v: -1 >>> 0, leaf: leaves[0], kids: nodes };
  }
  function run(impl, seed, path) {
    const opts = { impl, types: [Node, Leaf] };
    const root = build(seed);
    const image = o.checkpoint(root, Node, opts);
    const file = o.checkpointToFile(path, root, Node, opts);
    const back = o.restartFromFile(path, Node, opts);
    const again = o.checkpoint(back, Node, opts);
    const hex = (b) => require('node:crypto').createHash('sha1').update(b).digest('hex');
    return { bytes: image.length, sha1: hex(image), fileBytes: file.bytes, objects: file.objects, roundTrip: hex(again) };
  }
  return { run };
}
`;

function inWorker(body: string, data: object): Promise<{ ok: boolean; v?: unknown; e?: string }> {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const o = require(workerData.dist);
    ${WORLD}
    Promise.resolve().then(() => { ${body} }).then(
      (v) => parentPort.postMessage({ ok: true, v }),
      (e) => parentPort.postMessage({ ok: false, e: String((e && e.stack) || e) }),
    );`;
  return new Promise((resolve, reject) => {
    const w = new Worker(src, { eval: true, workerData: { dist, ...data } });
    w.once('message', (m) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
}

const distLib = createRequire(__filename)(dist) as object;
const mainWorld = new Function('o', 'require', `${WORLD}; return world(o);`)(distLib, createRequire(__filename)) as {
  run(impl: string, seed: number, path: string): Record<string, unknown>;
};

describe.each(IMPLS)('4 worker_threads checkpointing at once (%s)', (impl) => {
  it('each writes the same bytes as the main thread, to memory and to its own file, and restarts them', async () => {
    const expected = mainWorld.run(impl, 7, join(dir, `main-${impl}.img`));
    expect(expected.roundTrip).toBe(expected.sha1);
    expect(expected.objects).toBe(3000 + 300 + 1);
    // all four start together (a barrier in shared memory), so their checkpoints overlap
    const barrier = new Int32Array(new SharedArrayBuffer(4));
    const body = `
      const b = new Int32Array(workerData.barrier);
      Atomics.add(b, 0, 1);
      while (Atomics.load(b, 0) < 4) Atomics.wait(b, 0, Atomics.load(b, 0), 10);
      const { run } = world(o);
      const out = [];
      for (let i = 0; i < 3; i++) out.push(run(workerData.impl, 7, workerData.path + '.' + i));
      return out;`;
    const results = await Promise.all(
      [0, 1, 2, 3].map((w) => inWorker(body, { impl, barrier: barrier.buffer, path: join(dir, `w${w}-${impl}.img`) })),
    );
    for (const r of results) {
      expect(r.e).toBeUndefined();
      expect(r.v).toEqual([expected, expected, expected]);
    }
  });

  it('four workers checkpointing to one path at once: the file is one complete image, no temporary file is left', async () => {
    const path = join(dir, `shared-${impl}.img`);
    const barrier = new Int32Array(new SharedArrayBuffer(4));
    const body = `
      const b = new Int32Array(workerData.barrier);
      Atomics.add(b, 0, 1);
      while (Atomics.load(b, 0) < 4) Atomics.wait(b, 0, Atomics.load(b, 0), 10);
      const { run } = world(o);
      const r = [];
      for (let i = 0; i < 3; i++) r.push(run(workerData.impl, workerData.seed, workerData.path).sha1);
      return r[0];`;
    const results = await Promise.all([11, 12, 13, 14].map((seed) => inWorker(body, { impl, seed, barrier: barrier.buffer, path })));
    const shas = results.map((r) => (expect(r.e).toBeUndefined(), r.v as string));
    expect(new Set(shas).size).toBe(4); // four different images
    const onDisk = createHash('sha1').update(readFileSync(path)).digest('hex');
    expect(shas).toContain(onDisk);
    expect(readdirSync(dir).filter((f) => f.startsWith('.shared-') && f.endsWith('.tmp'))).toEqual([]);
  });
});

/**
 * The child: for each place, 2 workers at once run a checkpoint or a
 * restart of 2000 keyed leaves and, at the 500th call of that callback,
 * tell the parent and spin; the parent terminates them there.  Then the
 * main thread checkpoints and restarts, and prints "main ok".
 */
const TERMINATE = `
const { Worker } = require('node:worker_threads');
const [dist, impl] = process.argv.slice(2);
const src = \`
const { parentPort, workerData } = require('node:worker_threads');
const o = require(workerData.dist);
const where = workerData.where, impl = workerData.impl;
let n = 0;
const spin = () => { parentPort.postMessage('in ' + where); for (;;) {} };
const Leaf = o.defineObjType({ name: 'leaf', key: (l) => l.id,
  grab: () => { if (where === 'grab' && ++n === 500) spin(); },
  drop: () => { if (where === 'drop' && ++n === 500) spin(); },
  checkpoint: (ctx, l) => { if (where === 'checkpoint' && ++n === 500) spin(); ctx.begin(101).u32(l.id).end(); },
  restore: (ctx) => { if (where === 'restore' && ++n === 500) spin(); ctx.readRecord(101); return { id: ctx.u32() }; } });
const Root = o.defineObjType({ name: 'root',
  checkpoint(ctx, r) { const refs = r.map((l) => ctx.checkpointObj(l, Leaf)); ctx.begin(102).u32(refs.length); for (const x of refs) ctx.i32(x); ctx.end(); },
  restore(ctx) { ctx.readRecord(102); const out = []; for (let k = ctx.u32(); k > 0; k--) out.push(ctx.objFetch(ctx.i32(), Leaf)); return out; } });
const leaves = Array.from({ length: 2000 }, (_, i) => ({ id: i + 1 }));
const opts = { impl, types: [Root, Leaf] };
if (where === 'restore' || where === 'restore-grab') {
  const image = o.checkpoint(leaves, Root, opts);
  n = 0;
  o.restart(image, Root, opts);
} else {
  o.checkpoint(leaves, Root, opts);
}
parentPort.postMessage('finished');
\`;
(async () => {
  for (const where of ['checkpoint', 'grab', 'drop', 'restore']) {
    const ws = [0, 1].map(() => new Worker(src, { eval: true, workerData: { dist, impl, where } }));
    const msgs = await Promise.all(ws.map((w) => new Promise((r) => w.once('message', r))));
    const codes = await Promise.all(ws.map((w) => w.terminate()));
    console.log('terminated ' + where + ': ' + msgs.join(',') + ' exit ' + codes.join(','));
  }
  const o = require(dist);
  const T = o.defineObjType({ name: 't', checkpoint: (c) => void c.begin(101).end(), restore: (c) => (c.readRecord(101), {}) });
  o.restart(o.checkpoint({}, T, { impl, types: [T] }), T, { impl, types: [T] });
  console.log('main ok');
})();
`;
const terminateFile = join(dir, 'terminate.js');
writeFileSync(terminateFile, TERMINATE);

describe.each(IMPLS)('terminating a worker mid-checkpoint (%s)', (impl) => {
  it('in a checkpoint callback, in a grab or drop called from the core, in a restore: the process goes on', () => {
    const r = spawnSync(process.execPath, [terminateFile, dist, impl], { encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'terminated checkpoint: in checkpoint,in checkpoint exit 1,1',
      'terminated grab: in grab,in grab exit 1,1',
      'terminated drop: in drop,in drop exit 1,1',
      'terminated restore: in restore,in restore exit 1,1',
      'main ok',
    ]);
  });
});

describe.each(IMPLS)('objects held by a live hash and GC (%s)', (impl) => {
  interface Obj {
    n: number;
  }
  const ObjT = defineObjType<Obj>({
    name: 'obj',
    checkpoint: (ctx, o) => void ctx.begin(901).u32(o.n).end(),
    restore: (ctx) => (ctx.readRecord(901), { n: ctx.u32() }),
  });
  const ListT: ObjType<Obj[]> = defineObjType<Obj[]>({
    name: 'list',
    checkpoint(ctx, l) {
      ctx.begin(902).u32(l.length);
      for (const o of l) ctx.ref(o, ObjT);
      ctx.end();
    },
    restore(ctx) {
      ctx.readRecord(902);
      const out: Obj[] = [];
      for (let n = ctx.u32(); n > 0; n--) out.push(ctx.ref(ObjT)!);
      return out;
    },
  });

  async function collectGarbage(until: () => boolean): Promise<void> {
    for (let i = 0; i < 20 && !until(); i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('a CheckpointContext keeps its objects alive until finish(); then they can be collected', async () => {
    let collected = 0;
    const reg = new FinalizationRegistry(() => void collected++);
    const ctx = new CheckpointContext({ impl, types: [ObjT, ListT] });
    // objects referenced by nothing but the hash
    (() => {
      for (let n = 0; n < 2000; n++) {
        const o = { n };
        reg.register(o, n);
        ctx.checkpointObj(o, ObjT);
      }
    })();
    await collectGarbage(() => collected > 0);
    expect(collected).toBe(0);
    expect(ctx.count).toBe(2000);
    ctx.finish();
    await collectGarbage(() => collected === 2000);
    expect(collected).toBe(2000);
  });

  it('a RestartContext keeps the restored objects alive until finish(); then they can be collected', async () => {
    const list = Array.from({ length: 2000 }, (_, n) => ({ n }));
    const image = checkpoint(list, ListT, { impl, types: [ListT, ObjT] });
    let collected = 0;
    const reg = new FinalizationRegistry(() => void collected++);
    const Tracked = defineObjType<Obj>({
      name: 'obj',
      restore(ctx) {
        ctx.readRecord(901);
        const o = { n: ctx.u32() };
        reg.register(o, o.n);
        return o;
      },
    });
    const TrackedList = defineObjType<Obj[]>({
      name: 'list',
      restore(ctx) {
        ctx.readRecord(902);
        const out: Obj[] = [];
        for (let n = ctx.u32(); n > 0; n--) out.push(ctx.ref(Tracked)!);
        return out;
      },
    });
    const rc = new RestartContext(image, { impl, types: [TrackedList, Tracked] });
    // the root (the list) is let go at once: only the hash holds the objects
    (() => void rc.restoreObj(TrackedList))();
    await collectGarbage(() => collected > 0);
    expect(collected).toBe(0);
    expect(rc.objFetch(2, Tracked).n).toBe(0);
    rc.finish();
    await collectGarbage(() => collected === 2000);
    expect(collected).toBe(2000);
  });
});
