/**
 * A full GC between calls throws away no code optimised for objhash's
 * own objects (issue #11, "no deopt after GC").  V8 holds the hidden
 * classes an optimised function was made for weakly; when the last object
 * of one dies in a GC, every function made for it is thrown away
 * ("embedded weak objects cleared" under --trace-deopt), and the next
 * call runs cold.  The last writer and reader of each thread are kept
 * (lib/image/writer.ts, reader.ts) so that their maps live on.
 *
 * Counted, not timed: a child process under --trace-deopt warms a
 * checkpoint + restart of the W1 graph up, then makes a full GC before
 * each of a few more calls; no line after the warm-up may say that code
 * was marked for deoptimization because weak objects were cleared.  Run
 * on the built dist (npm test builds it first), on both backends, for
 * hand-written types and for a plain value.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IMPLS } from './helpers.js';

const root = join(__dirname, '..');

function lostAfterWarmUp(impl: string, kind: 'hand' | 'plain'): { lost: string[]; status: number | null; stderr: string } {
  const lib = JSON.stringify(join(root, 'dist', 'lib', 'index.js'));
  const graph = JSON.stringify(join(root, 'dist', 'bench', 'graph.js'));
  const script = `
    const { checkpoint, restart } = require(${lib});
    const { buildGraph, graphTypes } = require(${graph});
    const { root } = buildGraph(10000, false);
    const { GraphT, types } = graphTypes(false, false);
    const o = { types, impl: ${JSON.stringify(impl)} };
    const once = ${kind === 'plain' ? `() => restart(checkpoint(root, { impl: o.impl }), { impl: o.impl })` : `() => restart(checkpoint(root, GraphT, o), GraphT, o)`};
    for (let i = 0; i < 60; i++) once();
    console.log('--- warm');
    for (let i = 0; i < 4; i++) { gc(); once(); }
    console.log('--- done');
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--trace-deopt', '-e', script], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  const after = r.stdout.split('--- warm')[1] ?? '';
  expect(after).toContain('--- done');
  return { lost: after.split('\n').filter((l) => l.includes('embedded weak objects cleared')), status: r.status, stderr: r.stderr };
}

describe.each(IMPLS)('a full GC between calls (%s)', (impl) => {
  it.each(['hand', 'plain'] as const)('throws away no code optimised for objhash objects (%s)', (kind) => {
    const { lost, status, stderr } = lostAfterWarmUp(impl, kind);
    expect(status, stderr).toBe(0);
    expect(lost).toEqual([]);
  });
});
