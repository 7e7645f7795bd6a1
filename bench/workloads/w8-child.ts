/**
 * W8's memory probe, one call per process (spawned by w8.ts with
 * --expose-gc):
 *
 *   node --expose-gc w8-child.js checkpoint|restart plain|fields native|js N FILE
 *
 * checkpoint: builds the N-deep list, full GC, RSS before, checkpoints it,
 * maxRSS after, writes the image to FILE.  restart: reads FILE, full GC,
 * RSS before, restarts it, maxRSS after, walks the result.  Prints one
 * line of JSON (w8.ts ChildMemory).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { ImplName } from '../../lib/index.js';
import { gc } from '../harness.js';
import { buildChain, chainCodec, verifyChain, type ChainKind, type ChildMemory } from './w8.js';

function main(): void {
  const [mode, kind, impl, nArg, file] = process.argv.slice(2);
  const n = Number(nArg);
  if ((mode !== 'checkpoint' && mode !== 'restart') || (kind !== 'plain' && kind !== 'fields') || (impl !== 'native' && impl !== 'js') || !(n > 0) || !file)
    throw new Error('usage: w8-child.js checkpoint|restart plain|fields native|js N FILE');
  const codec = chainCodec(kind as ChainKind, impl as ImplName);
  const head = mode === 'checkpoint' ? buildChain(n) : null;
  const image = mode === 'restart' ? new Uint8Array(readFileSync(file)) : null;
  gc();
  gc();
  const rssBefore = process.memoryUsage().rss;
  const maxBefore = process.resourceUsage().maxRSS * 1024;
  const t0 = process.hrtime.bigint();
  const out = head ? codec.ckpt(head) : codec.rst(image!);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const maxAfter = process.resourceUsage().maxRSS * 1024;
  if (out instanceof Uint8Array) writeFileSync(file, out);
  else verifyChain(out, buildChain(1), n, `W8 child ${kind} ${impl}`);
  const r: ChildMemory = { ms, rssBefore, peakGrowth: Math.max(0, maxAfter - rssBefore), raisedPeak: maxAfter > maxBefore };
  process.stdout.write(JSON.stringify(r) + '\n');
}

main();
