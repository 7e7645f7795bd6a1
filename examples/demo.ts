/**
 * npm start: checkpoint a simulated process tree to a file, inspect the
 * image, restart it, and verify that every shared object came back once,
 * with identity and cycles preserved.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointToFile, impl, inspectImage, restartFromFile } from '../lib/index.js';
import { TYPES, TaskType, buildTree, collect, diffTrees, restores, type Task } from './proctree.js';

function table(rows: (string | number)[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) => '  ' + r.map((c, i) => (typeof c === 'number' ? String(c).padStart(w[i]!) : String(c).padEnd(w[i]!))).join('  '))
    .join('\n');
}

function check(ok: boolean, what: string): boolean {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  return ok;
}

/** Runs the demo; with `keep`, the image stays at that path (npm start keeps ./proctree.objhash). */
export function main(keep?: string): number {
  const dir = keep === undefined ? mkdtempSync(join(tmpdir(), 'objhash-demo-')) : undefined;
  const path = keep ?? join(dir!, 'proctree.objhash');
  try {
    console.log(`objhash demo — backend: ${impl}, Node ${process.version}\n`);
    const live = buildTree();
    const before = collect(live);
    const refs = new Map<object, number>();
    for (const t of before.task) {
      for (const o of [t.files, t.mm, ...t.files.fds]) if (o) refs.set(o, (refs.get(o) ?? 0) + 1);
    }
    const shared = [...refs.values()].filter((n) => n > 1).length;
    console.log(
      `1. live process tree: ${before.task.size} tasks, ${before.files.size} file tables, ` +
        `${before.file.size} open files, ${before.mm.size} mms; ${shared} objects are shared`,
    );

    const { bytes, objects } = checkpointToFile(path, live, TaskType, { types: TYPES });
    console.log(`2. checkpointed to ${path}: ${bytes} bytes, ${objects} objects (atomic write: temp file, fsync, rename)\n`);

    const info = inspectImage(path);
    console.log(`3. inspect: format v${info.version}, types ${info.types.map((t) => `${t.objtype}=${t.name}`).join(' ')}`);
    console.log(table([['record', 'count', 'bytes'], ...info.records.map((r) => [r.name, r.count, r.bytes])]));
    console.log(table([['objects', 'count'], ...info.objects.map((o) => [o.name, o.count])]));
    console.log(`  tail: ${info.tail ? `count ${info.tail.count}, crc32c 0x${info.tail.crc.toString(16).padStart(8, '0')}, ${info.valid ? 'valid' : 'INVALID'}` : 'missing'}\n`);

    // change the live tree after the checkpoint: the restored one must not see it
    const make = [...before.task].find((t) => t.comm === 'make')!;
    make.files.fds[3]!.pos += 4096;

    for (const k of Object.keys(restores) as (keyof typeof restores)[]) restores[k] = 0;
    const back: Task = restartFromFile(path, TaskType, { types: TYPES });
    const after = collect(back);
    console.log('4. restarted and verified:');
    let ok = true;
    ok &&= check(
      restores.task === before.task.size && restores.files === before.files.size && restores.file === before.file.size && restores.mm === before.mm.size,
      `each shared object restored exactly once (${restores.task} tasks, ${restores.files} file tables, ${restores.file} files, ${restores.mm} mms)`,
    );
    ok &&= check(after.task.size === before.task.size && after.file.size === before.file.size, 'same number of distinct objects as the live tree');
    const bmake = [...after.task].find((t) => t.comm === 'make')!;
    const threads = bmake.children.filter((t) => t.comm.startsWith('make:'));
    ok &&= check(threads.length === 3 && threads.every((t) => t.files === bmake.files && t.mm === bmake.mm), 'threads share their leader\'s file table and mm (identity)');
    const bcron = [...after.task].find((t) => t.comm === 'cron')!;
    const bsshd = [...after.task].find((t) => t.comm === 'sshd')!;
    ok &&= check(bcron.files.fds[1] === bsshd.files.fds[1], 'a file inherited by two processes is one object');
    ok &&= check([...after.file].every((f) => after.task.has(f.owner)), 'file -> owner task cycles point into the restored tree');
    ok &&= check(back.children.every((c) => c.parent === back), 'children point at their restored parent');
    const diff = diffTrees(back, live);
    ok &&= check(diff.length === 1, `a diff against the live tree shows the one change made after the checkpoint:`);
    for (const d of diff) console.log(`         ${d}`);
    console.log(ok ? '\nall checks passed' : '\nSOME CHECKS FAILED');
    if (keep !== undefined) console.log(`\nthe image is kept at ${keep}: try \`npx objhash inspect ${keep}\` (README, "The objhash command")`);
    return ok ? 0 : 1;
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

// npm start: the image stays in the current folder
if (require.main === module) process.exitCode = main(process.argv[2] ?? 'proctree.objhash');
