/**
 * A simulated process tree, as the kernel's c/r saw one: tasks whose
 * threads share a file table and an mm, file tables that share open files,
 * and files that point back at their owner task (a cycle).
 */
import { defineObjType, type CheckpointContext, type RestartContext } from '../lib/index.js';

export interface Mm {
  start: number;
  end: number;
  pages: number[];
}
export interface File {
  path: string;
  pos: number;
  flags: number;
  owner: Task; // the task that opened it: a cycle back into the tree
}
export interface FilesStruct {
  fds: (File | null)[];
}
export interface Task {
  pid: number;
  comm: string;
  parent: Task | null;
  children: Task[];
  files: FilesStruct;
  mm: Mm;
}

// user record types (101..8999)
export const REC_TASK = 101;
export const REC_FILES = 102;
export const REC_FILE = 103;
export const REC_MM = 104;

/** How often each type's restore ran: each shared object must be restored once. */
export const restores = { task: 0, files: 0, file: 0, mm: 0 };

export const MmType = defineObjType<Mm>({
  name: 'mm',
  checkpoint(ctx: CheckpointContext, mm) {
    ctx.begin(REC_MM).u64(mm.start).u64(mm.end).u32(mm.pages.length);
    for (const p of mm.pages) ctx.u32(p);
    ctx.end();
  },
  restore(ctx: RestartContext) {
    restores.mm++;
    ctx.readRecord(REC_MM);
    const mm: Mm = { start: ctx.u64n(), end: ctx.u64n(), pages: [] };
    for (let n = ctx.u32(); n > 0; n--) mm.pages.push(ctx.u32());
    return mm;
  },
});

export const FileType = defineObjType<File>({
  name: 'file',
  checkpoint(ctx, f) {
    const owner = ctx.checkpointObj(f.owner, TaskType); // already in the hash: just its objref
    ctx.begin(REC_FILE).str(f.path).f64(f.pos).u32(f.flags).i32(owner).end();
  },
  restore(ctx) {
    restores.file++;
    ctx.readRecord(REC_FILE);
    const path = ctx.str(), pos = ctx.f64(), flags = ctx.u32();
    return { path, pos, flags, owner: ctx.objFetch(ctx.i32(), TaskType) };
  },
});

export const FilesType = defineObjType<FilesStruct>({
  name: 'files_struct',
  checkpoint(ctx, fs) {
    const refs = fs.fds.map((f) => (f ? ctx.checkpointObj(f, FileType) : 0));
    ctx.begin(REC_FILES).u32(refs.length);
    for (const r of refs) ctx.i32(r);
    ctx.end();
  },
  restore(ctx) {
    restores.files++;
    ctx.readRecord(REC_FILES);
    const fds: (File | null)[] = [];
    for (let n = ctx.u32(); n > 0; n--) {
      const r = ctx.i32();
      fds.push(r === 0 ? null : ctx.objFetch(r, FileType));
    }
    return { fds };
  },
});

export const TaskType = defineObjType<Task>({
  name: 'task',
  checkpoint(ctx, t) {
    // children and shared state first: their records land before ours
    const files = ctx.checkpointObj(t.files, FilesType);
    const mm = ctx.checkpointObj(t.mm, MmType);
    const kids = t.children.map((c) => ctx.checkpointObj(c, TaskType));
    const parent = t.parent ? ctx.checkpointObj(t.parent, TaskType) : 0;
    ctx.begin(REC_TASK).u32(t.pid).str(t.comm).i32(parent).i32(files).i32(mm).u32(kids.length);
    for (const k of kids) ctx.i32(k);
    ctx.end();
  },
  restore(ctx) {
    restores.task++;
    // visible before the children are read: files point back at their owner
    const t = ctx.reference({} as Task);
    ctx.readRecord(REC_TASK);
    t.pid = ctx.u32();
    t.comm = ctx.str();
    const parent = ctx.i32();
    t.parent = parent === 0 ? null : ctx.objFetch(parent, TaskType);
    t.files = ctx.objFetch(ctx.i32(), FilesType);
    t.mm = ctx.objFetch(ctx.i32(), MmType);
    t.children = [];
    for (let n = ctx.u32(); n > 0; n--) t.children.push(ctx.objFetch(ctx.i32(), TaskType));
    return t;
  },
});

export const TYPES = [TaskType, FilesType, FileType, MmType];

/**
 * Builds init -> {sshd -> bash -> (make + 3 threads), cron}, where threads
 * share their leader's files_struct and mm, and some files are shared
 * between processes (inherited fds).
 */
export function buildTree(): Task {
  let nextPage = 0x1000;
  const mm = (npages: number): Mm => {
    const m = { start: nextPage * 4096, end: (nextPage + npages) * 4096, pages: [] as number[] };
    for (let i = 0; i < npages; i++) m.pages.push(nextPage + i);
    nextPage += npages + 16;
    return m;
  };
  const task = (pid: number, comm: string, parent: Task | null, files: FilesStruct, m: Mm): Task => {
    const t: Task = { pid, comm, parent, children: [], files, mm: m };
    parent?.children.push(t);
    return t;
  };
  const file = (path: string, owner: Task, pos = 0): File => ({ path, pos, flags: 0o2, owner });

  const init = task(1, 'init', null, { fds: [] }, mm(8));
  const console_ = file('/dev/console', init);
  init.files.fds.push(console_, console_, console_);

  const sshd = task(410, 'sshd', init, { fds: [console_, null, null] }, mm(6));
  const log = file('/var/log/auth.log', sshd, 8192);
  sshd.files.fds[1] = log;
  sshd.files.fds[2] = log;

  const bash = task(1022, 'bash', sshd, { fds: [] }, mm(4));
  const tty = file('/dev/pts/0', bash);
  bash.files.fds.push(tty, tty, tty);

  // make and its threads: one files_struct, one mm
  const make = task(2048, 'make', bash, { fds: [tty, tty, tty] }, mm(12));
  const out = file('/home/user/build/out.o', make, 65536);
  const src = file('/home/user/src/main.c', make, 1234);
  make.files.fds.push(out, src);
  for (let i = 1; i <= 3; i++) task(2048 + i, `make:${i}`, make, make.files, make.mm);

  const cron = task(512, 'cron', init, { fds: [console_, log, log] }, mm(3));
  cron.files.fds.push(file('/var/spool/cron/crontab', cron, 42));
  return init;
}

/** Walks the graph once per object; returns every object by type. */
export function collect(root: Task): { task: Set<Task>; files: Set<FilesStruct>; file: Set<File>; mm: Set<Mm> } {
  const s = { task: new Set<Task>(), files: new Set<FilesStruct>(), file: new Set<File>(), mm: new Set<Mm>() };
  const visit = (t: Task) => {
    if (s.task.has(t)) return;
    s.task.add(t);
    s.files.add(t.files);
    s.mm.add(t.mm);
    for (const f of t.files.fds) if (f) s.file.add(f);
    for (const c of t.children) visit(c);
    for (const f of t.files.fds) if (f) visit(f.owner);
  };
  visit(root);
  return s;
}

/** Differences between two trees, walked in parallel: "path: a -> b" lines. */
export function diffTrees(a: Task, b: Task): string[] {
  const out: string[] = [];
  const seen = new Set<Task>();
  const seenFiles = new Set<File>();
  const walk = (x: Task, y: Task, where: string) => {
    if (seen.has(x)) return;
    seen.add(x);
    if (x.pid !== y.pid) out.push(`${where}.pid: ${x.pid} -> ${y.pid}`);
    if (x.comm !== y.comm) out.push(`${where}.comm: ${x.comm} -> ${y.comm}`);
    if (x.mm.start !== y.mm.start || x.mm.end !== y.mm.end || x.mm.pages.join() !== y.mm.pages.join())
      out.push(`${where}.mm: differs`);
    x.files.fds.forEach((f, i) => {
      const g = y.files.fds[i];
      if (!f || !g) {
        if (f !== g) out.push(`${where}.fd[${i}]: ${f?.path ?? 'closed'} -> ${g?.path ?? 'closed'}`);
        return;
      }
      if (seenFiles.has(f)) return; // a shared file is compared once
      seenFiles.add(f);
      if (f.path !== g.path) out.push(`${where}.fd[${i}].path: ${f.path} -> ${g.path}`);
      if (f.pos !== g.pos) out.push(`${where}.fd[${i}] (${f.path}).pos: ${f.pos} -> ${g.pos}`);
    });
    x.children.forEach((c, i) => walk(c, y.children[i]!, `${c.comm}[${c.pid}]`));
  };
  walk(a, b, `${a.comm}[${a.pid}]`);
  return out;
}
