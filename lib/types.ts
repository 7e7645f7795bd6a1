/**
 * Typed object types: the kernel's `struct ckpt_obj_ops`, one per kind of
 * shared object, with callbacks typed by the object they handle.
 */
import { MAX_TYPE_ID } from './backend/codes.js';
import type { CheckpointContext } from './context/checkpoint.js';
import type { RestartContext } from './context/restart.js';
import { ObjHashError } from './errors.js';

/** A numeric key: an integer 1..MAX_SAFE_INTEGER or a bigint 1..2^64-1. */
export type NumericKey = number | bigint;

export interface ObjTypeOps<T> {
  /** Unique name; the image's type table records it, restart matches it. */
  readonly name: string;
  /**
   * Identity by key instead of by JS object identity: objects with the same
   * key are the same object.  Keys live in the C table (native path).
   */
  readonly key?: (obj: T) => NumericKey;
  /** Take a reference when the object enters a hash (throw to refuse). */
  readonly grab?: (obj: T) => void;
  /** Release it when the hash is freed: exactly once per grab. */
  readonly drop?: (obj: T) => void;
  /** Write the object's state (records, nested checkpointObj calls). */
  readonly checkpoint?: (ctx: CheckpointContext, obj: T) => void;
  /** Read the state back and return the new object. */
  readonly restore?: (ctx: RestartContext) => T;
}

/** A registered object type; `objFetch(ref, FileType)` returns a `File`. */
export interface ObjType<T = unknown> extends ObjTypeOps<T> {
  /** Process-wide type id, 1..65535 (the hash's objtype). */
  readonly id: number;
  /** @internal phantom, for inference only */
  readonly __type?: T;
}

/** The object type an ObjType handles. */
export type ObjOf<X> = X extends ObjType<infer T> ? T : never;

let nextTypeId = 1;
const TYPE_MARK = Symbol('objhash.type');

/**
 * defineObjType - register a kind of shared object and its ops.
 *
 * The handle is frozen; its `id` is unique in this JS realm (each worker
 * has its own).  Images record types by `name`, not by id.
 */
export function defineObjType<T>(ops: ObjTypeOps<T>): ObjType<T> {
  if (typeof ops !== 'object' || ops === null)
    throw new ObjHashError('EINVAL', 'defineObjType: ops must be an object');
  if (typeof ops.name !== 'string' || ops.name.length === 0 || ops.name.length > 255)
    throw new ObjHashError('EINVAL', 'defineObjType: ops.name must be a non-empty string of at most 255 characters');
  for (const f of ['key', 'grab', 'drop', 'checkpoint', 'restore'] as const) {
    if (ops[f] !== undefined && typeof ops[f] !== 'function')
      throw new ObjHashError('EINVAL', `defineObjType(${ops.name}): ops.${f} must be a function`);
  }
  if (nextTypeId > MAX_TYPE_ID)
    throw new ObjHashError('E2BIG', `defineObjType(${ops.name}): more than ${MAX_TYPE_ID} types defined`);
  const type = {
    name: ops.name,
    key: ops.key,
    grab: ops.grab,
    drop: ops.drop,
    checkpoint: ops.checkpoint,
    restore: ops.restore,
    id: nextTypeId++,
    [TYPE_MARK]: true,
  };
  return Object.freeze(type) as ObjType<T>;
}

/** Throws EINVAL unless `type` came from defineObjType(). */
export function checkType(type: unknown, where: string, arg = 'type'): asserts type is ObjType<unknown> {
  if (typeof type !== 'object' || type === null || (type as Record<symbol, unknown>)[TYPE_MARK] !== true)
    throw new ObjHashError('EINVAL', `${where}: ${arg} must be an ObjType from defineObjType()`);
}
