import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { expect } from 'vitest';
import type { ImplName } from '../lib/backend/loader.js';
import { ObjHashError } from '../lib/errors.js';
import type { ByteSource } from '../lib/image/source.js';

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

/** The seeded PRNG (mulberry32) shared with the benchmark and the fuzzer, so random tests are reproducible. */
export { rng } from '../bench/prng.js';

/** fn's outcome: 'ok', or the code of the ObjHashError it threw (anything else is rethrown). */
export function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ObjHashError)) throw e;
    return e.code;
  }
}

/**
 * A ByteSource over img that hands out at most `piece` bytes per read (size
 * unknown unless given), or whose read is `read`.
 */
export function chunked(img: Uint8Array, opts: { piece?: number; size?: number; read?: ByteSource['read'] } = {}): ByteSource {
  const piece = opts.piece ?? 7;
  return {
    size: opts.size ?? -1,
    read:
      opts.read ??
      ((dst, off, len, pos) => {
        const n = Math.max(0, Math.min(len, img.length - pos, piece));
        dst.set(img.subarray(pos, pos + n), off);
        return n;
      }),
  };
}
