/**
 * Fault injection (DESIGN §6: "every grabbed object is dropped exactly
 * once, also when a callback throws").  A checkpoint and a restart of the
 * process tree (examples/proctree.ts: sharing, threads, a cycle), with
 * every callback kind -- grab, drop, checkpoint, restore, key -- failing
 * at each of its calls in turn, and the backend refusing memory (ENOMEM)
 * at each call that allocates.  Each time: the error that surfaces is the
 * injected one (or ENOMEM), every hash that was used is freed, every grab
 * has exactly one drop, and a failed checkpoint's partial image restarts
 * as EIO with the message.
 *
 * The C core's own allocation failures (through struct objhash_allocator)
 * are injected by native/fuzz/faults.c at every allocation of the same
 * checkpoint and restart, replayed from traces recorded here.
 */
import diagnostics from 'node:diagnostics_channel';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjHash, ObjHashError, checkpoint, defineObjType, restart, type ObjType } from '../lib/index.js';
import type { Backend } from '../lib/backend/contract.js';
import { getBackend } from '../lib/backend/loader.js';
import { REC_FILE, REC_FILES, REC_MM, REC_TASK, buildTree, type File, type FilesStruct, type Mm, type Task } from '../examples/proctree.js';
import { IMPLS, expectCode } from './helpers.js';

const jsBackend = getBackend('js');

type Kind = 'grab' | 'drop' | 'checkpoint' | 'restore' | 'key';
const KINDS: Kind[] = ['grab', 'drop', 'checkpoint', 'restore', 'key'];

/** The fault plan and what the callbacks saw. */
const F = {
  kind: null as Kind | null,
  at: 0,
  /** also make this drop call fail (0: none): a failure while cleaning up */
  dropAlsoAt: 0,
  calls: { grab: 0, drop: 0, checkpoint: 0, restore: 0, key: 0 } as Record<Kind, number>,
  injected: [] as Error[],
  live: new Map<object, number>(),
  grabs: 0,
  drops: 0,
  bad: '',
};

function reset(kind: Kind | null = null, at = 0, dropAlsoAt = 0): void {
  F.kind = kind;
  F.at = at;
  F.dropAlsoAt = dropAlsoAt;
  for (const k of KINDS) F.calls[k] = 0;
  F.injected = [];
  F.live = new Map();
  F.grabs = F.drops = 0;
  F.bad = '';
}

function hit(kind: Kind, what: string): void {
  const n = ++F.calls[kind];
  if ((F.kind === kind && n === F.at) || (kind === 'drop' && n === F.dropAlsoAt)) {
    const e = new Error(`injected ${kind} failure at call ${n} (${what})`);
    F.injected.push(e);
    throw e;
  }
}

// grab: fails before taking the reference; drop: releases, then may fail
const grab = (o: object) => {
  hit('grab', 'grab');
  F.live.set(o, (F.live.get(o) ?? 0) + 1);
  F.grabs++;
};
const drop = (o: object) => {
  const v = F.live.get(o);
  if (!v) F.bad ||= 'a drop without a grab (or a second drop)';
  else F.live.set(o, v - 1);
  F.drops++;
  hit('drop', 'drop');
};

// the process tree's types (examples/proctree.ts), with every callback
const MmT = defineObjType<Mm>({
  name: 'mm',
  key: (mm) => (hit('key', 'mm'), mm.start),
  grab,
  drop,
  checkpoint(ctx, mm) {
    hit('checkpoint', 'mm');
    ctx.begin(REC_MM).u64(mm.start).u64(mm.end).u32(mm.pages.length);
    for (const p of mm.pages) ctx.u32(p);
    ctx.end();
  },
  restore(ctx) {
    hit('restore', 'mm');
    ctx.readRecord(REC_MM);
    const mm: Mm = { start: ctx.u64n(), end: ctx.u64n(), pages: [] };
    for (let n = ctx.u32(); n > 0; n--) mm.pages.push(ctx.u32());
    return mm;
  },
});
const FileT: ObjType<File> = defineObjType<File>({
  name: 'file',
  grab,
  drop,
  checkpoint(ctx, f) {
    hit('checkpoint', 'file');
    const owner = ctx.checkpointObj(f.owner, TaskT);
    ctx.begin(REC_FILE).str(f.path).f64(f.pos).u32(f.flags).i32(owner).end();
  },
  restore(ctx) {
    hit('restore', 'file');
    ctx.readRecord(REC_FILE);
    const path = ctx.str(), pos = ctx.f64(), flags = ctx.u32();
    return { path, pos, flags, owner: ctx.objFetch(ctx.i32(), TaskT) };
  },
});
const FilesT = defineObjType<FilesStruct>({
  name: 'files_struct',
  grab,
  drop,
  checkpoint(ctx, fs) {
    hit('checkpoint', 'files');
    const refs = fs.fds.map((f) => (f ? ctx.checkpointObj(f, FileT) : 0));
    ctx.begin(REC_FILES).u32(refs.length);
    for (const r of refs) ctx.i32(r);
    ctx.end();
  },
  restore(ctx) {
    hit('restore', 'files');
    ctx.readRecord(REC_FILES);
    const fds: (File | null)[] = [];
    for (let n = ctx.u32(); n > 0; n--) {
      const r = ctx.i32();
      fds.push(r === 0 ? null : ctx.objFetch(r, FileT));
    }
    return { fds };
  },
});
const TaskT: ObjType<Task> = defineObjType<Task>({
  name: 'task',
  grab,
  drop,
  checkpoint(ctx, t) {
    hit('checkpoint', 'task');
    const files = ctx.checkpointObj(t.files, FilesT);
    const mm = ctx.checkpointObj(t.mm, MmT);
    const kids = t.children.map((c) => ctx.checkpointObj(c, TaskT));
    const parent = t.parent ? ctx.checkpointObj(t.parent, TaskT) : 0;
    ctx.begin(REC_TASK).u32(t.pid).str(t.comm).i32(parent).i32(files).i32(mm).u32(kids.length);
    for (const k of kids) ctx.i32(k);
    ctx.end();
  },
  restore(ctx) {
    hit('restore', 'task');
    const t = ctx.reference({} as Task);
    ctx.readRecord(REC_TASK);
    t.pid = ctx.u32();
    t.comm = ctx.str();
    const parent = ctx.i32();
    t.parent = parent === 0 ? null : ctx.objFetch(parent, TaskT);
    t.files = ctx.objFetch(ctx.i32(), FilesT);
    t.mm = ctx.objFetch(ctx.i32(), MmT);
    t.children = [];
    for (let n = ctx.u32(); n > 0; n--) t.children.push(ctx.objFetch(ctx.i32(), TaskT));
    return t;
  },
});
const TYPES = [TaskT, FilesT, FileT, MmT];

// Every ObjHash that a checkpoint or restart created, as the library
// publishes them on its diagnostics channel.
const hashes = new Set<ObjHash>();
const onHash = (h: unknown) => void hashes.add(h as ObjHash);
beforeEach(() => {
  hashes.clear();
  diagnostics.subscribe('objhash:hash-created', onHash);
});
afterEach(() => {
  diagnostics.unsubscribe('objhash:hash-created', onHash);
});

/** After a run: every hash freed, every grab dropped exactly once. */
function expectClean(label: string): void {
  expect(hashes.size, `${label}: a hash was used`).toBeGreaterThan(0);
  for (const h of hashes) expect(h.freed, `${label}: hash freed`).toBe(true);
  expect(F.bad, label).toBe('');
  expect(F.drops, `${label}: drops = grabs`).toBe(F.grabs);
  for (const v of F.live.values()) expect(v, `${label}: each object dropped once`).toBe(0);
}

function attempt(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const dir = mkdtempSync(join(tmpdir(), 'objhash-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(IMPLS)('fault injection in the callbacks (%s)', (impl) => {
  const opts = { impl, types: TYPES };

  /** Calls of each kind in a run without faults. */
  function census(fn: () => unknown): Record<Kind, number> {
    reset();
    fn();
    return { ...F.calls };
  }

  it('a checkpoint of the process tree fails at every callback call in turn', () => {
    const calls = census(() => checkpoint(buildTree(), TaskT, opts));
    expect(calls).toEqual({ grab: 24, drop: 24, checkpoint: 24, restore: 0, key: expect.any(Number) });
    expect(calls.key).toBeGreaterThanOrEqual(8); // every mm lookup, shared ones included
    let runs = 0;
    for (const kind of KINDS) {
      for (let at = 1; at <= calls[kind]; at++) {
        reset(kind, at);
        hashes.clear();
        const err = attempt(() => checkpoint(buildTree(), TaskT, opts));
        const label = `${kind} #${at}`;
        expect(err, label).toBe(F.injected[0]); // the injected error itself
        expectClean(label);
        if (kind !== 'drop') {
          // the partial image ends with an ERROR record carrying the message
          const image = (err as { image?: Uint8Array }).image;
          expect(image, label).toBeInstanceOf(Uint8Array);
          reset();
          expectCode(() => restart(image!, TaskT, opts), 'EIO', new RegExp(`injected ${kind} failure at call ${at}`));
        } else {
          // drops run at the end: every one of them ran, once
          expect(F.drops, label).toBe(24);
        }
        runs++;
      }
    }
    expect(runs).toBe(calls.grab + calls.drop + calls.checkpoint + calls.key);
  });

  it('a restart of the process tree fails at every callback call in turn', () => {
    reset();
    const image = checkpoint(buildTree(), TaskT, opts);
    const calls = census(() => restart(image, TaskT, opts));
    expect(calls).toEqual({ grab: 24, drop: 24, checkpoint: 0, restore: 24, key: 0 });
    for (const kind of ['grab', 'drop', 'restore'] as const) {
      for (let at = 1; at <= calls[kind]; at++) {
        reset(kind, at);
        hashes.clear();
        const err = attempt(() => restart(image, TaskT, opts));
        const label = `${kind} #${at}`;
        expect(err, label).toBe(F.injected[0]);
        expectClean(label);
      }
    }
  });

  it('a drop that fails while cleaning up after another failure: the first error wins, all drops still run', () => {
    reset();
    const image = checkpoint(buildTree(), TaskT, opts);
    for (const [kind, at] of [['restore', 12], ['grab', 20]] as const) {
      reset(kind, at, 1);
      hashes.clear();
      const err = attempt(() => restart(image, TaskT, opts));
      expect(F.injected.length).toBe(2);
      expect(err).toBe(F.injected[0]);
      expectClean(`${kind} #${at} then drop #1`);
    }
    reset('checkpoint', 10, 2);
    hashes.clear();
    const err = attempt(() => checkpoint(buildTree(), TaskT, opts));
    expect(err).toBe(F.injected[0]);
    expectClean('checkpoint #10 then drop #2');
  });
});

const ENOMEM = -12;
// the Backend calls that can allocate in the core
const ALLOCATING = ['create', 'addMany', 'insertTyped', 'lookupAdd', 'add', 'insert'] as const;

/**
 * Makes the k-th allocating backend call return -ENOMEM, as the core does
 * when an allocation fails (nothing added; a batch keeps what it added
 * before).  Every export of both backends is a writable data property,
 * so every allocating call is wrapped on both.
 */
function failingBackend(b: Backend, plan: { calls: number; at: number }): { wrapped: string[]; restore(): void } {
  const undo: (() => void)[] = [];
  const wrapped: string[] = [];
  const rec = b as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ALLOCATING) {
    const d = Object.getOwnPropertyDescriptor(b, name);
    if (!d || !d.writable) continue;
    const orig = rec[name]!;
    rec[name] = function (...a: unknown[]) {
      if (++plan.calls === plan.at) {
        if (name === 'addMany') {
          const part = Math.floor((a[2] as number) / 2);
          if (part > 0) orig.call(b, a[0], a[1], part);
        } else if (name === 'insertTyped') {
          const part = Math.floor((a[3] as number) / 2);
          if (part > 0) orig.call(b, a[0], a[1], a[2], part);
        }
        return ENOMEM;
      }
      return orig.apply(b, a);
    };
    wrapped.push(name);
    undo.push(() => void (rec[name] = orig));
  }
  return { wrapped, restore: () => undo.forEach((f) => f()) };
}

// A graph of objects keyed by identity only: their adds are queued in the
// facade and the last ones go into the core when the hash is freed.
interface Node {
  name: string;
  kids: Node[];
}
const NodeT: ObjType<Node> = defineObjType<Node>({
  name: 'node',
  grab,
  drop,
  checkpoint(ctx, n) {
    const kids = n.kids.map((k) => ctx.checkpointObj(k, NodeT));
    ctx.begin(601).str(n.name).u32(kids.length);
    for (const k of kids) ctx.i32(k);
    ctx.end();
  },
  restore(ctx) {
    ctx.readRecord(601);
    const name = ctx.str();
    const kids: Node[] = [];
    for (let n = ctx.u32(); n > 0; n--) kids.push(ctx.objFetch(ctx.i32(), NodeT));
    return { name, kids };
  },
});
function nodes(): Node {
  const leaf = { name: 'leaf', kids: [] };
  const a = { name: 'a', kids: [leaf] };
  return { name: 'root', kids: [a, { name: 'b', kids: [a, leaf] }, leaf] };
}

describe.each(IMPLS)('ENOMEM from the backend at every allocating call (%s)', (impl) => {
  const graphs = {
    'the process tree': { root: buildTree, type: TaskT, types: TYPES },
    'objects keyed by identity only': { root: nodes, type: NodeT, types: [NodeT] },
  } as const;

  for (const [phase, graph] of [
    ['checkpoint', 'the process tree'],
    ['restart', 'the process tree'],
    ['checkpoint', 'objects keyed by identity only'],
  ] as const) {
    it(`${phase} of ${graph}`, () => {
      const { root, type, types } = graphs[graph];
      const opts = { impl, types: types as ObjType<any>[] };
      reset();
      const image = checkpoint(root() as never, type as ObjType<any>, opts);
      const run = () => (phase === 'checkpoint' ? checkpoint(root() as never, type as ObjType<any>, opts) : restart(image, type as ObjType<any>, opts));
      const b = getBackend(impl);
      const count = { calls: 0, at: 0 };
      const w = failingBackend(b, count);
      try {
        reset();
        run();
      } finally {
        w.restore();
      }
      const n = count.calls;
      expect(w.wrapped).toEqual([...ALLOCATING]);
      expect(n).toBeGreaterThanOrEqual(2);
      for (let at = 1; at <= n; at++) {
        const plan = { calls: 0, at };
        const f = failingBackend(b, plan);
        let err: unknown;
        try {
          reset();
          hashes.clear();
          err = attempt(run);
        } finally {
          f.restore();
        }
        const label = `${phase}: allocating call ${at} of ${n} (${f.wrapped.join(', ')})`;
        expect(err, label).toBeInstanceOf(ObjHashError);
        expect((err as ObjHashError).code, `${label}: ${(err as Error).message}`).toBe('ENOMEM');
        if (hashes.size > 0) expectClean(label);
        else expect(F.grabs, label).toBe(0); // create failed: nothing was added
      }
    });
  }
});

/** Records the core calls of one checkpoint and one restart, as native/fuzz/faults.c reads them. */
function recordTrace(run: () => unknown): string {
  const lines: string[] = [];
  const rec = jsBackend as unknown as Record<string, (...a: unknown[]) => unknown>;
  const key = (k: unknown) => String(k);
  const hooks: Record<string, (a: unknown[], r: unknown) => void> = {
    create: (a) => lines.push(`create ${a[0]} ${a[1]} ${a[2]}`),
    setTypeFlags: (a) => lines.push(`flags ${a[1]} ${a[2]}`),
    add: (a) => lines.push(`add ${key(a[1])} ${a[2]}`),
    addMany: (a) => {
      const types = a[1] as Uint16Array;
      for (let i = 0; i < (a[2] as number); i++) lines.push(`add_nograb 0 ${types[i]}`);
    },
    insertTyped: (a) => {
      const refs = a[1] as Int32Array;
      const types = a[2] as Uint16Array;
      for (let i = 0; i < (a[3] as number); i++) lines.push(`insert 0 ${refs[i]} ${types[i]}`);
    },
    lookupAdd: (a) => lines.push(`lookup_add ${key(a[1])} ${a[2]}`),
    lookup: (a) => lines.push(`lookup ${key(a[1])} ${a[2]}`),
    insert: (a) => lines.push(`insert ${key(a[1])} ${a[2]} ${a[3]}`),
    fetch: (a) => lines.push(`fetch ${a[1]} ${a[2]}`),
    reserve: () => lines.push('reserve'),
    free: () => lines.push('free'),
  };
  const origs = new Map<string, (...a: unknown[]) => unknown>();
  for (const [name, hook] of Object.entries(hooks)) {
    const orig = rec[name]!;
    origs.set(name, orig);
    rec[name] = function (...a: unknown[]) {
      hook(a, undefined); // before: the calls inside grab/drop callbacks come after
      return orig.apply(jsBackend, a);
    };
  }
  try {
    run();
  } finally {
    for (const [name, f] of origs) rec[name] = f;
  }
  return lines.join('\n') + '\n';
}

const haveCc = spawnSync('cc', ['--version']).status === 0 && spawnSync('make', ['--version']).status === 0;

describe('the C core: allocation failure and grab refusal at every point (native/fuzz/faults.c)', () => {
  it.skipIf(!haveCc)('of the core calls of a checkpoint and a restart of the process tree: -ENOMEM, all dropped, nothing leaked', () => {
    reset();
    const image = checkpoint(buildTree(), TaskT, { impl: 'js', types: TYPES });
    const traces: Record<string, string> = {
      checkpoint: recordTrace(() => checkpoint(buildTree(), TaskT, { impl: 'js', types: TYPES })),
      restart: recordTrace(() => restart(image, TaskT, { impl: 'js', types: TYPES })),
      // a small table (2 buckets) grows five times: growth failures too
      'checkpoint-nbits1': recordTrace(() => checkpoint(buildTree(), TaskT, { impl: 'js', types: TYPES, hash: { nbits: 1 } })),
      'restart-nbits1': recordTrace(() => restart(image, TaskT, { impl: 'js', types: TYPES, hash: { nbits: 1 } })),
    };
    expect(traces.checkpoint).toMatch(/^create /);
    expect(traces.checkpoint).toMatch(/add_nograb 0 \d+/);
    expect(traces.checkpoint).toMatch(/lookup_add \d+ \d+/); // the keyed mm
    expect(traces.restart).toMatch(/insert 0 \d+ \d+/);
    const files = Object.entries(traces).map(([name, text]) => {
      const f = join(dir, `${name}.trace`);
      writeFileSync(f, text);
      return f;
    });
    const root = join(__dirname, '..');
    const build = spawnSync('make', ['-s', '-C', join(root, 'native', 'fuzz'), 'faults'], { encoding: 'utf8' });
    expect(build.status, build.stdout + build.stderr).toBe(0);
    const r = spawnSync(join(root, 'native', 'fuzz', 'build', 'faults'), files, {
      encoding: 'utf8',
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', LD_PRELOAD: '' },
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(files.length);
    for (const line of lines) {
      const m = /(\d+) allocation points x2 \((\d+) -ENOMEM, (\d+) tolerated\), (\d+) grab refusals: ok$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(Number(m![1]), line).toBeGreaterThanOrEqual(5); // the hash, its two head arrays, the chunk array, a chunk
      expect(Number(m![2]), line).toBeGreaterThan(0);
    }
    // nbits 1: some of the failed allocations were table growth, which is not an error
    expect(Number(/(\d+) tolerated/.exec(lines[2]!)![1])).toBeGreaterThan(0);
    // grabs cross the core for the keyed mm (checkpoint) and for every restored object
    expect(Number(/(\d+) grab refusals/.exec(lines[1]!)![1])).toBe(24);
  });
});
