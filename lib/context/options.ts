/**
 * Options and limits shared by the checkpoint and restart contexts.
 */
import { ObjHashError } from '../errors.js';
import type { ImplName } from '../backend/loader.js';
import type { ObjHashOptions } from '../hash/objhash.js';
import { positiveInt, type ValidateOptions } from '../image/validate.js';
import { checkType, type ObjType } from '../types.js';

export { DEFAULT_MAX_OBJECTS, DEFAULT_MAX_OBJREF_GAP } from '../image/validate.js';

/**
 * Default limit on nested checkpointObj/restoreObj calls of hand-written
 * ops (ELOOP past it).  Chosen so that the limit, not a stack overflow,
 * stops a deep chain on both backends with half of the default stack to
 * spare (test/limits.test.ts measures it); docs/DESIGN.md.
 */
export const DEFAULT_MAX_DEPTH = 1000;

export interface ContextOptions extends ValidateOptions {
  /**
   * Every object type the image may hold (the header's type table); plain
   * values need none.
   */
  types?: readonly ObjType<any>[] | undefined;
  /** Backend (default: the loader's choice). */
  impl?: ImplName | undefined;
  /** Options of the objhash (nbits, fixed, maxLoad, multiplier). */
  hash?: Omit<ObjHashOptions, 'impl'> | undefined;
  /** Nesting limit for objects inside objects (ELOOP past it). */
  maxDepth?: number | undefined;
  /** Largest record, in bytes (E2BIG past it); default 64 MiB. */
  maxRecord?: number | undefined;
}

export interface CheckpointOptions extends ContextOptions {
  /** Stream the image: complete chunks go here instead of into memory. */
  sink?: ((chunk: Uint8Array) => void) | undefined;
  /** Bytes buffered before a chunk goes to the sink (default 1 MiB). */
  highWaterMark?: number | undefined;
  /** Header flags (a u32 of yours). */
  flags?: number | undefined;
  /** Image format version to write: 2 (default, compact) or 1 (readers of version 1 only). */
  version?: number | undefined;
  /**
   * Bytes the in-memory image starts with (default: an eighth more than
   * the last in-memory image this thread finished, at most 64 MiB; 64 KiB
   * for the first): a checkpoint repeated on a similar state grows its
   * buffer once or never.  The image returned is a view of that buffer.
   */
  initialSize?: number | undefined;
  /**
   * Objects of walked types (fields types, plain values) wait in the
   * walker's queue until walkSome() or finish() writes them, and a record
   * of plain values holds at most INLINE_SLICE objects inline (the rest
   * get records of their own), so that a caller can write the image in
   * slices and yield to the event loop between them (the incremental
   * checkpoint of objhash/promises).  Default false: checkpointObj writes
   * everything it reaches before it returns.
   */
  deferWalk?: boolean | undefined;
  /**
   * Where a walk in one call (not deferWalk, which keeps Maps) keeps the
   * identity of the objects it has met.  'stamp' (default): on the objects, in private
   * class fields that objhash adds the first time it meets an object and
   * overwrites on every later checkpoint; invisible to JS (no key, no
   * symbol, not serialized), but each object's hidden class changes once,
   * and it carries three more fields.  Two checkpoints of one thread never
   * stamp at once (the second one falls back to a Map).  'map': in a
   * `Map` for the call, objects untouched: ~270 ns more per object on this
   * project's VM (docs/INTERNALS.md, "Identity on the objects").
   */
  identity?: 'stamp' | 'map' | undefined;
}

export interface RestartOptions extends ContextOptions {
  /**
   * A record of a fields type with a long refs field (more than 1024
   * items: a root holding every task) may be read over several slices:
   * restoreObj() can return its object before that field is filled, and
   * finishSome() reads on, so that a caller can yield to the event loop
   * between slices (restartFromStream).  The object is complete once
   * finishSome() (or finish()) returns true.  Default false: each object
   * is whole when restoreObj returns it.
   */
  deferRead?: boolean | undefined;
}

export { positiveInt };

/** options.types: a non-empty array of distinct ObjTypes. */
export function checkTypes(types: unknown, where: string): readonly ObjType<any>[] {
  if (types === undefined) return [];
  if (!Array.isArray(types)) throw new ObjHashError('EINVAL', `${where}: options.types must be an array of ObjTypes`);
  const names = new Set<string>();
  for (const t of types) {
    checkType(t, where, 'options.types[]');
    if (names.has(t.name)) throw new ObjHashError('EINVAL', `${where}: two types are named '${t.name}'`);
    names.add(t.name);
  }
  return types;
}

/** options: an object. */
export function checkOptions(opts: unknown, where: string): void {
  if (typeof opts !== 'object' || opts === null) throw new ObjHashError('EINVAL', `${where}: options must be an object`);
}
