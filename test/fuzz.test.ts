/**
 * The short seeded pass of the JS fuzzer (scripts/fuzz.js; `npm run fuzz`
 * runs it for longer, with the libFuzzer targets), and the replay of the
 * inputs it found, kept in test/corpus/images/.
 *
 * For every mutated image, on each backend: restart succeeds or throws an
 * ObjHashError; every object grabbed is dropped exactly once; a restored
 * graph checkpoints to an image that is a fixpoint of restart+checkpoint;
 * streaming the image from a chunked ByteSource gives the same outcome.
 * Across backends: the same outcome (code and message, or graph).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as lib from '../lib/index.js';
import { IMPLS } from './helpers.js';

/** What the tests use of scripts/fuzz.js (plain CommonJS, loaded with require). */
interface Engine {
  seeds: Uint8Array[];
  deep: Uint8Array[];
  check(input: Uint8Array, label?: string): string;
  next(): Uint8Array;
  attempt(input: Uint8Array, impl: string, source?: unknown, restartOptions?: object): string;
  same(a: string, b: string): boolean;
  stats: { inputs: number; restarted: number; errors: Record<string, number>; byImpl: Record<string, number> };
}
const fuzz = createRequire(__filename)('../scripts/fuzz.js') as {
  createEngine(o: object, opts: { seed: number; impls: string[] }): Engine;
  deepImage(o: object, depth: number): Uint8Array;
};

/** Inputs per pass: bounded so the whole file stays well under a minute. */
const N_ONE = 5000;
const N_BOTH = 3000;
const SEED = 20240601;

function pass(engine: Engine, n: number): void {
  for (const s of [...engine.seeds, ...engine.deep]) engine.check(s, 'seed');
  for (let i = 0; i < n; i++) engine.check(engine.next(), `mutated input ${i}`);
}

const corpusDir = join(__dirname, 'corpus', 'images');
const corpus = readdirSync(corpusDir)
  .filter((f) => f.endsWith('.img') || f.endsWith('.img.gz'))
  .sort()
  .map((f) => {
    const raw = readFileSync(join(corpusDir, f));
    return { name: f, bytes: new Uint8Array(f.endsWith('.gz') ? gunzipSync(raw) : raw) };
  });

describe.each(IMPLS)('fuzzing restart (%s)', (impl) => {
  it(`${N_ONE} seeded mutated images: ObjHashErrors only, no leaked grab, round trips are fixpoints`, () => {
    const engine = fuzz.createEngine(lib, { seed: SEED, impls: [impl] });
    pass(engine, N_ONE);
    const s = engine.stats;
    expect(s.inputs).toBe(N_ONE + engine.seeds.length + engine.deep.length);
    // the pass reached both ends: graphs that restart and every kind of refusal
    expect(s.restarted).toBeGreaterThan(20);
    for (const code of ['EINVAL', 'EPIPE', 'E2BIG', 'EBADMSG', 'ENOMSG', 'ELOOP', 'EIO']) expect(s.errors[code], code).toBeGreaterThan(0);
  });

  it(`replays the kept inputs (test/corpus/images: ${corpus.length})`, () => {
    expect(corpus.length).toBeGreaterThan(0);
    const engine = fuzz.createEngine(lib, { seed: SEED, impls: [impl] });
    for (const { name, bytes } of corpus) {
      for (const ropts of [{}, { maxDepth: 1e9 }]) {
        const out = engine.attempt(bytes, impl, undefined, ropts);
        expect(out, name).toMatch(/^(ok|E[A-Z0-9]+ )/);
      }
    }
  });

  it('the engine reports what it must: a non-ObjHashError, a leaked grab, an unequal round trip', () => {
    const o = { ...lib };
    const engine = fuzz.createEngine(o, { seed: 1, impls: [impl] });
    const seed = engine.seeds[0]!;
    expect(engine.attempt(seed, impl)).toMatch(/^ok /);
    o.restart = (() => {
      throw new TypeError('boom');
    }) as typeof lib.restart;
    expect(() => engine.attempt(seed, impl)).toThrow(/not-objhash-error/);
    o.restart = ((img: Uint8Array, T: lib.ObjType<unknown>) => {
      T.grab!({}); // grabbed, never dropped
      throw new lib.ObjHashError('EINVAL', 'refused');
    }) as unknown as typeof lib.restart;
    expect(() => engine.attempt(seed, impl)).toThrow(/leak/);
    let n = 0;
    o.restart = ((img: Uint8Array, T: lib.ObjType<unknown>, opts: lib.ContextOptions) => {
      const root = lib.restart(img, T, opts) as { pid: number };
      root.pid += ++n; // each restart differs
      return root;
    }) as typeof lib.restart;
    expect(() => engine.attempt(seed, impl)).toThrow(/roundtrip/);
  });
});

describe.skipIf(IMPLS.length < 2)('fuzzing restart: native and js agree', () => {
  it(`${N_BOTH} seeded mutated images give the same outcome on both backends`, () => {
    const engine = fuzz.createEngine(lib, { seed: SEED + 1, impls: ['native', 'js'] });
    pass(engine, N_BOTH);
    expect(engine.stats.byImpl).toEqual({ native: engine.stats.inputs, js: engine.stats.inputs });
  });

  it('the kept inputs give the same outcome on both backends', () => {
    const engine = fuzz.createEngine(lib, { seed: SEED, impls: ['native', 'js'] });
    for (const { name, bytes } of corpus) {
      for (const ropts of [{}, { maxDepth: 1e9 }]) {
        const a = engine.attempt(bytes, 'native', undefined, ropts);
        const b = engine.attempt(bytes, 'js', undefined, ropts);
        expect(engine.same(a, b), `${name}: ${a.slice(0, 200)} / ${b.slice(0, 200)}`).toBe(true);
      }
    }
  });
});
