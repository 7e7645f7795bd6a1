import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { expect } from 'vitest';
import type { ImplName } from '../lib/backend/loader.js';
import { ObjHashError } from '../lib/errors.js';

/**
 * The backends every behavioural suite runs over.  OBJHASH_IMPL=js (the
 * CI's no-addon pass) or =native narrows it to one.
 */
export const IMPLS: ImplName[] =
  process.env.OBJHASH_IMPL === 'js' ? ['js'] : process.env.OBJHASH_IMPL === 'native' ? ['native'] : ['native', 'js'];

/** Runs fn and expects an ObjHashError with that code; returns it. */
export function expectCode(fn: () => unknown, code: string, message?: RegExp): ObjHashError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ObjHashError ${code}`).toBeInstanceOf(ObjHashError);
  expect((err as ObjHashError).code).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
  return err as ObjHashError;
}

let gcFn: (() => void) | undefined;
/** A full GC, without needing --expose-gc on the command line. */
export function gc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** A small seeded PRNG (mulberry32), so random tests are reproducible. */
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
