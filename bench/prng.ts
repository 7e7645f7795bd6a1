/**
 * The one seeded PRNG of the tests, the benchmark and the fuzzer:
 * mulberry32, uniform in [0, 1).  The same seed gives the same sequence
 * everywhere, which the seeded tests, the benchmark's graphs and the fuzz
 * corpus rely on: do not change the arithmetic.
 *
 * It lives in bench/ (not lib/) so the library does not export it; tests
 * import the TypeScript (test/helpers.ts re-exports it), the benchmark
 * gets it compiled into dist/bench/, and scripts/fuzz.js requires
 * dist/bench/prng.js.
 */

/** A seeded PRNG: each call returns the next number in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
