/**
 * The W1/W2 object graph, its objhash types, and the identity check run
 * after every restart (objhash, v8 and msgpackr alike).
 *
 * T tasks { pid, name, parent, files: 4 File refs, mm }:
 *  - T files, each in exactly 4 slots of 4 different tasks (the 4T slots
 *    shuffled);
 *  - T/8 mm objects { start, end, pages: 8 ints }, each shared by 8
 *    consecutive tasks;
 *  - parent: a random earlier task (task 0 has none);
 *  - with cycles, file.owner is the first task that references the file.
 * The root is { tasks }.  Everything is generated from a seed, so every
 * implementation sees the same graph.  The objects are plain objects and
 * arrays, so the graph is also W6's plain value (checkpoint(value), no
 * types); graphSchemaTypes() declares the same types with `fields` (W7).
 */
import {
  defineObjType,
  list,
  ref,
  refs,
  type CheckpointContext,
  type ObjType,
  type RestartContext,
} from '../lib/index.js';
import { rng } from './prng.js';

export interface Mm {
  start: number;
  end: number;
  pages: number[];
}
export interface File {
  id: number;
  path: string;
  pos: number;
  flags: number;
  owner?: Task;
}
export interface Task {
  pid: number;
  name: string;
  parent: Task | null;
  files: File[];
  mm: Mm;
}
export interface Graph {
  tasks: Task[];
}

export const FILES_PER_TASK = 4;
export const TASKS_PER_MM = 8;
export const PAGES_PER_MM = 8;

/** What the graph must look like after a restart. */
export interface GraphSpec {
  T: number;
  cycles: boolean;
  /** slots[4 * task + j]: index of the file in that slot. */
  slots: Int32Array;
  /** parent task index, -1 for none. */
  parent: Int32Array;
  /** file index -> the first task that references it. */
  firstRef: Int32Array;
}

// the shared seeded PRNG (mulberry32); re-exported for the workloads
export { rng };

export const taskName = (i: number): string => `task-${i}`;
export const filePath = (f: number): string => `/var/lib/app/data-${f}.db`;
const MM_BASE = 0x7f00_0000_0000; // 48-bit user-space addresses, page-aligned

/** True when task `t` holds file `f` in a slot other than `except`. */
function holds(slots: Int32Array, t: number, f: number, except: number): boolean {
  for (let j = 0; j < FILES_PER_TASK; j++) {
    const s = t * FILES_PER_TASK + j;
    if (s !== except && slots[s] === f) return true;
  }
  return false;
}

export function buildGraph(T: number, cycles: boolean, seed = 0x5eed): { root: Graph; spec: GraphSpec } {
  if (T % TASKS_PER_MM !== 0 || T < TASKS_PER_MM) throw new Error(`bench: T must be a multiple of ${TASKS_PER_MM}`);
  const rand = rng(seed ^ T);
  const nSlots = T * FILES_PER_TASK;
  // each file in exactly 4 slots, shuffled (Fisher-Yates) ...
  const slots = new Int32Array(nSlots);
  for (let s = 0; s < nSlots; s++) slots[s] = (s / FILES_PER_TASK) | 0;
  for (let s = nSlots - 1; s > 0; s--) {
    const r = Math.floor(rand() * (s + 1));
    const x = slots[s]!;
    slots[s] = slots[r]!;
    slots[r] = x;
  }
  // ... then repaired so that no task holds a file twice (4 different tasks per file)
  for (let s = 0; s < nSlots; s++) {
    const t = (s / FILES_PER_TASK) | 0;
    let tries = 0;
    while (holds(slots, t, slots[s]!, s)) {
      if (++tries > 10_000) throw new Error('bench: cannot place files (T too small)');
      const o = Math.floor(rand() * nSlots);
      const u = (o / FILES_PER_TASK) | 0;
      if (u === t) continue;
      const a = slots[s]!, b = slots[o]!;
      if (holds(slots, u, a, o) || holds(slots, t, b, s)) continue;
      slots[s] = b;
      slots[o] = a;
    }
  }
  const parent = new Int32Array(T);
  parent[0] = -1;
  for (let i = 1; i < T; i++) parent[i] = Math.floor(rand() * i);
  const firstRef = new Int32Array(T).fill(-1);
  for (let s = 0; s < nSlots; s++) if (firstRef[slots[s]!] === -1) firstRef[slots[s]!] = (s / FILES_PER_TASK) | 0;

  const mms: Mm[] = [];
  for (let m = 0; m < T / TASKS_PER_MM; m++) {
    const start = MM_BASE + m * 0x100_0000;
    const pages: number[] = [];
    for (let p = 0; p < PAGES_PER_MM; p++) pages.push(Math.floor(rand() * 0x8000_0000));
    mms.push({ start, end: start + PAGES_PER_MM * 4096, pages });
  }
  const files: File[] = [];
  for (let f = 0; f < T; f++) {
    const file: File = { id: f + 1, path: filePath(f), pos: Math.floor(rand() * 0x8000_0000), flags: f % 3 === 0 ? 0o2 : 0o102 };
    files.push(file);
  }
  const tasks: Task[] = [];
  for (let i = 0; i < T; i++) {
    const fs: File[] = [];
    for (let j = 0; j < FILES_PER_TASK; j++) fs.push(files[slots[i * FILES_PER_TASK + j]!]!);
    tasks.push({
      pid: i + 1,
      name: taskName(i),
      parent: parent[i]! < 0 ? null : tasks[parent[i]!]!,
      files: fs,
      mm: mms[(i / TASKS_PER_MM) | 0]!,
    });
  }
  if (cycles) for (let f = 0; f < T; f++) files[f]!.owner = tasks[firstRef[f]!]!;
  return { root: { tasks }, spec: { T, cycles, slots, parent, firstRef } };
}

function fail(label: string, msg: string): never {
  throw new Error(`bench: ${label}: restored graph is wrong: ${msg}`);
}

/**
 * Throws unless `g` is a faithful restored copy of the graph of `spec`:
 * same values, one object per file (the same object in its 4 slots), one
 * mm per 8 consecutive tasks, parent pointers to the restored tasks, and
 * with cycles file.owner === the restored first task.  `original` must not
 * be reused (a restored copy is new objects).
 */
export function verifyGraph(g: Graph, spec: GraphSpec, original: Graph, label: string): void {
  const { T } = spec;
  if (!g || !Array.isArray(g.tasks)) fail(label, 'no tasks array');
  const tasks = g.tasks;
  if (tasks.length !== T) fail(label, `${tasks.length} tasks, expected ${T}`);
  if (tasks[0] === original.tasks[0]) fail(label, 'task 0 is the original object, not a restored one');
  const fileObj: (File | undefined)[] = new Array(T);
  const mmSeen = new Set<Mm>();
  const taskSeen = new Set<Task>();
  for (let i = 0; i < T; i++) {
    const t = tasks[i]!;
    if (typeof t !== 'object' || t === null) fail(label, `task ${i} is not an object`);
    taskSeen.add(t);
    if (t.pid !== i + 1 || t.name !== taskName(i)) fail(label, `task ${i}: pid/name ${t.pid}/${t.name}`);
    const p = spec.parent[i]!;
    if (p < 0 ? t.parent !== null : t.parent !== tasks[p]) fail(label, `task ${i}: parent is not restored task ${p}`);
    // mm: shared by 8 consecutive tasks
    const lead = i - (i % TASKS_PER_MM);
    if (i !== lead) {
      if (t.mm !== tasks[lead]!.mm) fail(label, `task ${i}: mm is not the same object as task ${lead}'s`);
    } else {
      const mm = t.mm;
      if (mmSeen.has(mm)) fail(label, `task ${i}: mm shared across groups of ${TASKS_PER_MM}`);
      mmSeen.add(mm);
      const m = i / TASKS_PER_MM;
      const start = MM_BASE + m * 0x100_0000;
      if (mm.start !== start || mm.end !== start + PAGES_PER_MM * 4096 || !Array.isArray(mm.pages) || mm.pages.length !== PAGES_PER_MM)
        fail(label, `mm ${m}: wrong values`);
      for (const pg of mm.pages) if (!Number.isInteger(pg) || pg < 0 || pg >= 0x8000_0000) fail(label, `mm ${m}: bad page ${pg}`);
    }
    // files: the same File object in all 4 slots that hold it
    if (!Array.isArray(t.files) || t.files.length !== FILES_PER_TASK) fail(label, `task ${i}: files is not an array of ${FILES_PER_TASK}`);
    for (let j = 0; j < FILES_PER_TASK; j++) {
      const f = t.files[j]!;
      const fi = spec.slots[i * FILES_PER_TASK + j]!;
      const seen = fileObj[fi];
      if (seen === undefined) {
        if (typeof f !== 'object' || f === null) fail(label, `task ${i} slot ${j}: not an object`);
        if (f.id !== fi + 1 || f.path !== filePath(fi) || !Number.isInteger(f.pos) || !Number.isInteger(f.flags))
          fail(label, `file ${fi}: wrong values (id ${f.id}, path ${f.path})`);
        if (spec.cycles) {
          if (f.owner !== tasks[spec.firstRef[fi]!]) fail(label, `file ${fi}: owner is not restored task ${spec.firstRef[fi]}`);
        } else if (f.owner !== undefined) fail(label, `file ${fi}: has an owner without cycles`);
        fileObj[fi] = f;
      } else if (seen !== f) {
        fail(label, `task ${i} slot ${j}: file ${fi} is a different object than in its other slots (identity lost)`);
      }
    }
  }
  if (taskSeen.size !== T) fail(label, 'two task slots hold the same object');
  if (mmSeen.size !== T / TASKS_PER_MM) fail(label, `${mmSeen.size} distinct mm objects, expected ${T / TASKS_PER_MM}`);
  const distinct = new Set(fileObj);
  if (distinct.size !== T || distinct.has(undefined)) fail(label, `${distinct.size} distinct files, expected ${T}`);
  // files are not tasks or mms
  for (const f of fileObj) if (taskSeen.has(f as unknown as Task) || mmSeen.has(f as unknown as Mm)) fail(label, 'a file is also a task/mm');
}

// ---------------------------------------------------------------- objhash types

/**
 * Keys share one table whatever their type: task keys are pids (< 2^32),
 * file keys live above 2^40 (as inode numbers and pids would be told apart).
 */
export const FILE_KEY_BASE = 2 ** 40;

const REC_GRAPH = 201;
const REC_TASK = 202;
const REC_FILE = 203;
const REC_MM = 204;

export interface GraphTypes {
  GraphT: ObjType<Graph>;
  TaskT: ObjType<Task>;
  FileT: ObjType<File>;
  MmT: ObjType<Mm>;
  types: ObjType<any>[];
}

/**
 * The objhash types of the graph, written as a user would: each object's
 * references with ctx.ref() inside its own record (the referenced objects'
 * records land first), restore with ctx.ref(Type).  With `cycles`, a task
 * calls ctx.reference() before reading, so its files can point back at it.
 * With `keyed`, tasks and files are identified by key(obj) (pid, id): the
 * numeric path of the core.
 */
export function graphTypes(cycles: boolean, keyed: boolean): GraphTypes {
  // Records are packed with varints (uv, vstr, vref), and each object's
  // shared children are checkpointed before its own record is opened, so
  // no record is ever open while another is written (the writer's fast path).
  const MmT = defineObjType<Mm>({
    name: 'mm',
    checkpoint(ctx: CheckpointContext, mm) {
      const pages = mm.pages;
      ctx.begin(REC_MM).uv(mm.start).uv(mm.end).uv(pages.length);
      for (let i = 0; i < pages.length; i++) ctx.uv(pages[i]!);
      ctx.end();
    },
    restore(ctx: RestartContext) {
      ctx.readRecord(REC_MM);
      const start = ctx.uv();
      const end = ctx.uv();
      const n = ctx.uv();
      const pages: number[] = [];
      for (let i = 0; i < n; i++) pages.push(ctx.uv());
      return { start, end, pages };
    },
  });

  // TaskT is referenced by FileT (owner) and by itself (parent).
  // eslint-disable-next-line prefer-const
  let TaskT: ObjType<Task>;

  const FileT = defineObjType<File>({
    name: 'file',
    key: keyed ? (f) => FILE_KEY_BASE + f.id : undefined,
    checkpoint: cycles
      ? (ctx, f) => {
          const owner = f.owner ? ctx.checkpointObj(f.owner, TaskT) : 0;
          ctx.begin(REC_FILE).uv(f.id).vstr(f.path).uv(f.pos).uv(f.flags).uv(owner).end();
        }
      : (ctx, f) => void ctx.begin(REC_FILE).uv(f.id).vstr(f.path).uv(f.pos).uv(f.flags).end(),
    restore: cycles
      ? (ctx) => {
          ctx.readRecord(REC_FILE);
          const id = ctx.uv(), path = ctx.vstr(), pos = ctx.uv(), flags = ctx.uv();
          return { id, path, pos, flags, owner: ctx.vref(TaskT)! };
        }
      : (ctx) => {
          ctx.readRecord(REC_FILE);
          const id = ctx.uv(), path = ctx.vstr(), pos = ctx.uv(), flags = ctx.uv();
          return { id, path, pos, flags };
        },
  });

  const checkpointTask = (ctx: CheckpointContext, t: Task): void => {
    const files = t.files;
    const parent = t.parent ? ctx.checkpointObj(t.parent, TaskT) : 0;
    const mm = ctx.checkpointObj(t.mm, MmT);
    const f0 = ctx.checkpointObj(files[0]!, FileT);
    const f1 = ctx.checkpointObj(files[1]!, FileT);
    const f2 = ctx.checkpointObj(files[2]!, FileT);
    const f3 = ctx.checkpointObj(files[3]!, FileT);
    ctx.begin(REC_TASK).uv(t.pid).vstr(t.name).uv(parent).uv(mm).uv(f0).uv(f1).uv(f2).uv(f3).end();
  };

  const readTask = (ctx: RestartContext, t: Task): Task => {
    ctx.readRecord(REC_TASK);
    t.pid = ctx.uv();
    t.name = ctx.vstr();
    t.parent = ctx.vref(TaskT);
    t.mm = ctx.vref(MmT)!;
    t.files = [ctx.vref(FileT)!, ctx.vref(FileT)!, ctx.vref(FileT)!, ctx.vref(FileT)!];
    return t;
  };

  TaskT = defineObjType<Task>({
    name: 'task',
    key: keyed ? (t) => t.pid : undefined,
    checkpoint: checkpointTask,
    restore: cycles
      ? // visible to objFetch before its files are read: they point back at it
        (ctx) => readTask(ctx, ctx.reference<Task>({ pid: 0, name: '', parent: null, files: [], mm: null as unknown as Mm }))
      : (ctx) => readTask(ctx, { pid: 0, name: '', parent: null, files: [], mm: null as unknown as Mm }),
  });

  const GraphT = defineObjType<Graph>({
    name: 'graph',
    // nothing refers to the graph: an async restart may restore the tasks
    // (written inside its checkpoint, before its record) first, in slices
    nestedFirst: true,
    checkpoint(ctx, g) {
      const tasks = g.tasks;
      const refs = new Array<number>(tasks.length);
      for (let i = 0; i < tasks.length; i++) refs[i] = ctx.checkpointObj(tasks[i]!, TaskT);
      ctx.begin(REC_GRAPH).uv(tasks.length);
      for (let i = 0; i < refs.length; i++) ctx.uv(refs[i]!);
      ctx.end();
    },
    restore(ctx) {
      ctx.readRecord(REC_GRAPH);
      const n = ctx.uv();
      const tasks: Task[] = new Array(n);
      for (let i = 0; i < n; i++) tasks[i] = ctx.vref(TaskT)!;
      return { tasks };
    },
  });

  return { GraphT, TaskT, FileT, MmT, types: [GraphT, TaskT, FileT, MmT] };
}

/**
 * The same four types declared with `fields` (W7): the same names and the
 * same fields in the order the hand-written records write them.  The
 * encodings differ (FIELDS records; `refs` writes its count, the
 * hand-written task its 4 file objrefs without one; the type table
 * carries each schema), so the images are not the same bytes.
 */
export function graphSchemaTypes(cycles: boolean): GraphTypes {
  const MmT = defineObjType<Mm>({ name: 'mm', fields: { start: 'uv', end: 'uv', pages: list('uv') } });
  // eslint-disable-next-line prefer-const
  let TaskT: ObjType<Task>;
  // with cycles every file has its owner (a ref field, as the hand-written
  // record writes it; File's owner is optional only for the graph without)
  const FileT: ObjType<File> = cycles
    ? (defineObjType<File & { owner: Task }>({
        name: 'file',
        fields: { id: 'uv', path: 'vstr', pos: 'uv', flags: 'uv', owner: ref(() => TaskT) },
      }) as ObjType<File>)
    : defineObjType<File>({ name: 'file', fields: { id: 'uv', path: 'vstr', pos: 'uv', flags: 'uv' } });
  TaskT = defineObjType<Task>({
    name: 'task',
    fields: { pid: 'uv', name: 'vstr', parent: ref(() => TaskT), mm: ref(MmT), files: refs(FileT) },
  });
  const GraphT = defineObjType<Graph>({ name: 'graph', fields: { tasks: refs(TaskT) } });
  return { GraphT, TaskT, FileT, MmT, types: [GraphT, TaskT, FileT, MmT] };
}
