/**
 * Crash safety (DESIGN §5: a file checkpoint is written to a temporary
 * file, fsync'd and renamed, so a crash never destroys the previous
 * image).  A child process writes a big image with checkpointToFile and a
 * slow checkpoint callback, and is killed with SIGKILL part-way: early,
 * half-way, and at the last object (everything written but the TAIL, the
 * fsync and the rename).  The image at the path must be the previous one,
 * byte for byte, and restart; the half-written temporary file must not be
 * mistaken for an image; and the next checkpointToFile must work.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointToFile, defineObjType, restartFromFile, type ObjType } from '../lib/index.js';
import { IMPLS, expectCode } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'objhash-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const dist = join(__dirname, '..', 'dist', 'lib', 'index.js');

const OBJECTS = 400;
const BLOB = 8192;

// The same type in the child (CommonJS source below) and here: a list of
// items, each a record with a blob.
interface Item {
  n: number;
  data: Uint8Array;
}
const ItemT = defineObjType<Item>({
  name: 'item',
  checkpoint: (ctx, it) => void ctx.begin(701).u32(it.n).blob(it.data).end(),
  restore: (ctx) => (ctx.readRecord(701), { n: ctx.u32(), data: ctx.blob().slice() }),
});
const ListT: ObjType<Item[]> = defineObjType<Item[]>({
  name: 'list',
  checkpoint(ctx, items) {
    const refs = items.map((i) => ctx.checkpointObj(i, ItemT));
    ctx.begin(702).u32(refs.length);
    for (const r of refs) ctx.i32(r);
    ctx.end();
  },
  restore(ctx) {
    ctx.readRecord(702);
    const out: Item[] = [];
    for (let n = ctx.u32(); n > 0; n--) out.push(ctx.objFetch(ctx.i32(), ItemT));
    return out;
  },
});
const items = (tag: number, count: number): Item[] =>
  Array.from({ length: count }, (_, n) => ({ n, data: new Uint8Array(BLOB).fill((n + tag) & 0xff) }));

// The child: checkpointToFile(path) of OBJECTS items; after each item's
// record is complete (and so handed to the file: highWaterMark is below
// one record) it prints "item N" and waits 5 ms (5 s after the last one).
const CHILD = `
'use strict';
const fs = require('node:fs');
const o = require(${JSON.stringify(dist)});
const [path, impl, count, blob] = process.argv.slice(2);
const pause = new Int32Array(new SharedArrayBuffer(4));
const ItemT = o.defineObjType({
  name: 'item',
  checkpoint(ctx, it) {
    ctx.begin(701).u32(it.n).blob(it.data).end();
    fs.writeSync(1, 'item ' + (it.n + 1) + '\\n');
    // after the last item, long enough for the parent's SIGKILL to land
    // before TAIL, fsync and rename even on a loaded machine
    Atomics.wait(pause, 0, 0, it.n + 1 === +count ? 5000 : 5);
  },
});
const ListT = o.defineObjType({
  name: 'list',
  checkpoint(ctx, items) {
    const refs = items.map((i) => ctx.checkpointObj(i, ItemT));
    ctx.begin(702).u32(refs.length);
    for (const r of refs) ctx.i32(r);
    ctx.end();
  },
});
const items = Array.from({ length: +count }, (_, n) => ({ n, data: new Uint8Array(+blob).fill((n + 7) & 0xff) }));
o.checkpointToFile(path, items, ListT, { impl, types: [ListT, ItemT], highWaterMark: 1024 });
fs.writeSync(1, 'done\\n');
`;
const childFile = join(dir, 'child.js');
writeFileSync(childFile, CHILD);

/** Temporary files checkpointToFile left beside `path`. */
function temps(path: string): string[] {
  const base = path.slice(dir.length + 1);
  return readdirSync(dir).filter((f) => f.startsWith(`.${base}.`) && f.endsWith('.tmp'));
}

/**
 * Runs the child on `path` and SIGKILLs it once it has printed "item
 * killAt" and its temporary file holds bytes.  Resolves with the child's
 * pid, its exit signal and the temporary files seen at the kill.
 */
function killMidway(path: string, impl: string, killAt: number): Promise<{ pid: number; signal: string | null; code: number | null; tmpAtKill: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childFile, path, impl, String(OBJECTS), String(BLOB)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', tmpAtKill: string[] = [];
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      if (tmpAtKill.length === 0 && out.includes(`item ${killAt}\n`)) {
        const t = temps(path);
        if (t.length > 0 && statSync(join(dir, t[0]!)).size > 0) {
          tmpAtKill = t;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (tmpAtKill.length === 0) reject(new Error(`the child was not killed (exit ${code}): ${out.slice(-200)} ${err}`));
      else resolve({ pid: child.pid!, signal, code, tmpAtKill });
    });
  });
}

describe.each(IMPLS)('crash safety of checkpointToFile (%s)', (impl) => {
  const opts = { impl, types: [ListT, ItemT] };

  for (const [when, killAt] of [
    ['early', 2],
    ['half-way', OBJECTS / 2],
    ['at the last object (before TAIL, fsync and rename)', OBJECTS],
  ] as const) {
    it(`SIGKILL ${when}: the previous image is intact and restarts; the temporary file is not taken for an image`, async () => {
      const path = join(dir, `state-${impl}-${killAt}.img`);
      checkpointToFile(path, items(1, 50), ListT, opts);
      const before = readFileSync(path);

      const { pid, signal, tmpAtKill } = await killMidway(path, impl, killAt);
      expect(signal).toBe('SIGKILL');

      // the previous image, byte for byte, and it restarts
      expect(readFileSync(path).equals(before)).toBe(true);
      const back = restartFromFile(path, ListT, opts);
      expect(back.length).toBe(50);
      expect(back[49]!.data[0]).toBe((49 + 1) & 0xff);

      // the dead child's temporary file stays (nothing can remove it), under
      // its own name: the child's pid and a random part, never the path
      const left = temps(path);
      expect(left).toEqual(tmpAtKill);
      expect(left.length).toBe(1);
      expect(left[0]).toMatch(new RegExp(`^\\.state-${impl}-${killAt}\\.img\\.${pid}\\.[0-9a-f]{12}\\.tmp$`));
      // half an image is refused, not restarted: it has no TAIL
      const e = expectCode(() => restartFromFile(join(dir, left[0]!), ListT, opts), 'EPIPE');
      expect(e.message).toMatch(/truncated/);

      // the next checkpoint to the path works beside the leftover, and replaces the image
      const r = checkpointToFile(path, items(2, 60), ListT, opts);
      expect(readFileSync(path).length).toBe(r.bytes);
      expect(restartFromFile(path, ListT, opts).length).toBe(60);
      expect(temps(path)).toEqual(left);
    });
  }

  it('SIGKILL during the first checkpoint to a path: no file appears at the path', async () => {
    const path = join(dir, `first-${impl}.img`);
    await killMidway(path, impl, OBJECTS / 2);
    expect(existsSync(path)).toBe(false);
    expectCode(() => restartFromFile(path, ListT, opts), 'EIO', /cannot open/);
  });

  it('the child, not killed, writes an image that restarts (the scenario is real)', async () => {
    const path = join(dir, `complete-${impl}.img`);
    const child = spawn(process.execPath, [childFile, path, impl, '20', String(BLOB)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(out).toMatch(/item 20\ndone\n$/);
    const back = restartFromFile(path, ListT, opts);
    expect(back.map((i) => i.n)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(back[3]!.data[BLOB - 1]).toBe(10);
    expect(temps(path)).toEqual([]);
  });
});
