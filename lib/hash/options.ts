/**
 * ObjHash's options and how the core's refusals read: the parts of the
 * facade that are rules, not state.  Ranges come from the core's limits
 * (lib/backend/codes.ts, generated from native/objhash.h).
 */
import { describe } from '../backend/args.js';
import { ERRNO, FLAG_FIXED, FLAG_MULT_2009, LIMITS } from '../backend/codes.js';
import type { ImplName } from '../backend/loader.js';
import { ObjHashError, errnoName } from '../errors.js';

export interface ObjHashOptions {
  /** log2 of the initial bucket count, 1..28 (default 10: the kernel's 1024). */
  nbits?: number | undefined;
  /** Keep 1 << nbits buckets forever, as the kernel does (default false: grow). */
  fixed?: boolean | undefined;
  /** Average chain length that triggers doubling, 1..1024 (default 1). */
  maxLoad?: number | undefined;
  /** hash_long multiplier: today's kernel (default) or the 2009 one. */
  multiplier?: 'current' | '2009' | undefined;
  /** Backend for this hash (default: the loader's choice). */
  impl?: ImplName | undefined;
}

/** Result of lookupAdd: the objref, and whether the object was added now. */
export interface LookupAddResult {
  objref: number;
  first: boolean;
}

/** The core's create() arguments for opts (0: the core's default); EINVAL naming a bad option. */
export function hashParams(opts: unknown): { nbits: number; flags: number; maxLoad: number; mult2009: boolean; impl: ImplName | undefined } {
  if (typeof opts !== 'object' || opts === null) throw new ObjHashError('EINVAL', 'ObjHash: options must be an object');
  const { nbits = 0, fixed = false, maxLoad = 0, multiplier = 'current', impl } = opts as ObjHashOptions;
  const { MIN_NBITS, MAX_NBITS, MAX_LOAD } = LIMITS;
  if (nbits !== 0 && (!Number.isInteger(nbits) || nbits < MIN_NBITS || nbits > MAX_NBITS))
    throw new ObjHashError('EINVAL', `ObjHash: options.nbits must be an integer ${MIN_NBITS}..${MAX_NBITS} (got ${describe(nbits)})`);
  if (maxLoad !== 0 && (!Number.isInteger(maxLoad) || maxLoad < 1 || maxLoad > MAX_LOAD))
    throw new ObjHashError('EINVAL', `ObjHash: options.maxLoad must be an integer 1..${MAX_LOAD} (got ${describe(maxLoad)})`);
  if (multiplier !== 'current' && multiplier !== '2009')
    throw new ObjHashError('EINVAL', `ObjHash: options.multiplier must be 'current' or '2009'`);
  const mult2009 = multiplier === '2009';
  return { nbits, flags: (fixed ? FLAG_FIXED : 0) | (mult2009 ? FLAG_MULT_2009 : 0), maxLoad, mult2009, impl };
}

/** The ObjHashError for a negative return `ret` of the core, at `where`; `what` says it when the code alone does not. */
export function coreFailure(ret: number, where: string, what = ''): ObjHashError {
  const code = errnoName(ret);
  let msg: string;
  switch (ret) {
    case -ERRNO.EBUSY:
      msg = 'the hash is busy: called from inside a grab or drop callback';
      break;
    case -ERRNO.E2BIG:
      msg = `out of objrefs (${LIMITS.MAX_OBJREF})`;
      break;
    case -ERRNO.ENOMEM:
      msg = 'out of memory';
      break;
    case -ERRNO.EBADF:
      msg = 'the hash was freed';
      break;
    default:
      msg = what || code;
  }
  return new ObjHashError(code, `${where}: ${msg}`);
}

/**
 * Bucket bits for a growing table that will hold about `objects` entries
 * (a context sizes its hash like the last one of its kind in this thread):
 * it then starts that big instead of doubling up from 1024 buckets,
 * rehashing every entry at each step (the step past 524,288 entries alone
 * takes ~30 ms).  The native core's big table is zeroed lazily
 * (objhash.c, alloc_heads), so an unused part costs nothing.  undefined
 * (the default, 10) for none or a few.
 */
export function nbitsFor(objects: number): number | undefined {
  if (!(objects > 1024)) return undefined;
  let nbits = 10;
  while (nbits < 22 && 1 << nbits < objects) nbits++;
  return nbits;
}
