/**
 * Typed object types: the kernel's `struct ckpt_obj_ops`, one per kind of
 * shared object, with callbacks typed by the object they handle.
 */
import { MAX_TYPE_ID } from './backend/codes.js';
import type { CheckpointContext } from './context/checkpoint.js';
import type { Fields, FieldsFor, FieldsType } from './schema/index.js';
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
  /**
   * Declarative fields instead of checkpoint/restore: both are generated
   * (lib/schema), objects are walked from a queue (any depth), cycles need
   * no reference(), and the field list travels in the image.
   */
  readonly fields?: Fields;
  /**
   * With `fields`: how restore makes the object before filling its fields,
   * a class (an object with its prototype; the constructor is not called)
   * or a factory.  Default: a plain object.  A class also lets plain values
   * hold its instances.
   */
  readonly create?: (() => T) | (abstract new (...args: never[]) => T);
  /**
   * For the root type of an image, with checkpoint/restore: an async
   * restart (objhash/promises, restartFromStream) may restore the objects
   * written inside the root's checkpoint (before its own record) first, in
   * slices with the event loop running between them, and call `restore`
   * after them, instead of restoring them all inside its `readRecord()`.
   * Give it when none of those objects refers to the root (its `restore`
   * calls no `reference()` that they need) and `restore` calls no
   * `restoreObj()` before `readRecord()`.  A synchronous restart is not
   * changed by it.  Default false.
   */
  readonly nestedFirst?: boolean;
}

/** What every kind of type may have. */
interface CommonOps<T> {
  readonly name: string;
  readonly key?: ((obj: T) => NumericKey) | undefined;
  readonly grab?: ((obj: T) => void) | undefined;
  readonly drop?: ((obj: T) => void) | undefined;
}

/** A type with hand-written ops (or none: a type only for an ObjHash). */
export interface HandWrittenOps<T> extends CommonOps<T> {
  readonly checkpoint?: ((ctx: CheckpointContext, obj: T) => void) | undefined;
  readonly restore?: ((ctx: RestartContext) => T) | undefined;
  readonly nestedFirst?: boolean | undefined;
  readonly fields?: undefined;
  readonly create?: undefined;
}

/** A type declared with fields, checked against T field by field (FieldsFor). */
export interface FieldsOps<T> extends CommonOps<T> {
  readonly fields: FieldsFor<T>;
  readonly create?: (() => T) | (abstract new (...args: never[]) => T) | undefined;
  readonly checkpoint?: undefined;
  readonly restore?: undefined;
  readonly nestedFirst?: false | undefined;
}

/** What defineObjType<T> takes: hand-written ops or fields, not both. */
export type DefineOps<T> = HandWrittenOps<T> | FieldsOps<T>;

/** defineObjType with fields and no T: T is what the fields describe. */
export interface InferredFieldsOps<F extends Fields> extends CommonOps<FieldsType<F>> {
  readonly fields: F;
  readonly create?: (() => FieldsType<F>) | undefined;
  readonly checkpoint?: undefined;
  readonly restore?: undefined;
  readonly nestedFirst?: false | undefined;
}

/** A registered object type; `objFetch(ref, FileType)` returns a `File`. */
export interface ObjType<T = any> extends ObjTypeOps<T> {
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
export function defineObjType<F extends Fields>(ops: InferredFieldsOps<F>): ObjType<FieldsType<F>>;
export function defineObjType<T>(ops: DefineOps<T>): ObjType<T>;
export function defineObjType<T>(arg: DefineOps<T>): ObjType<T> {
  const ops = arg as ObjTypeOps<T>;
  if (typeof ops !== 'object' || ops === null)
    throw new ObjHashError('EINVAL', 'defineObjType: ops must be an object');
  if (typeof ops.name !== 'string' || ops.name.length === 0 || ops.name.length > 255)
    throw new ObjHashError('EINVAL', 'defineObjType: ops.name must be a non-empty string of at most 255 characters');
  for (const f of ['key', 'grab', 'drop', 'checkpoint', 'restore', 'create'] as const) {
    if (ops[f] !== undefined && typeof ops[f] !== 'function')
      throw new ObjHashError('EINVAL', `defineObjType(${ops.name}): ops.${f} must be a function`);
  }
  if (ops.fields !== undefined) {
    if (typeof ops.fields !== 'object' || ops.fields === null)
      throw new ObjHashError('EINVAL', `defineObjType(${ops.name}): ops.fields must be an object of field kinds`);
    if (ops.checkpoint !== undefined || ops.restore !== undefined)
      throw new ObjHashError('EINVAL', `defineObjType(${ops.name}): give either fields or checkpoint/restore, not both`);
  } else if (ops.create !== undefined) {
    throw new ObjHashError('EINVAL', `defineObjType(${ops.name}): ops.create goes with ops.fields`);
  }
  if (ops.nestedFirst !== undefined && typeof ops.nestedFirst !== 'boolean')
    throw new ObjHashError('EINVAL', `defineObjType(${ops.name}): ops.nestedFirst must be a boolean`);
  if (ops.nestedFirst === true && ops.fields !== undefined)
    throw new ObjHashError('EINVAL', `defineObjType(${ops.name}): ops.nestedFirst goes with checkpoint/restore (objects of fields types are restored in slices already)`);
  if (ops.name.startsWith('objhash:'))
    throw new ObjHashError('EINVAL', `defineObjType(${ops.name}): names starting with 'objhash:' are reserved`);
  if (nextTypeId > MAX_TYPE_ID)
    throw new ObjHashError('E2BIG', `defineObjType(${ops.name}): more than ${MAX_TYPE_ID} types defined`);
  return makeType(ops);
}

/** The frozen handle of ops (names already checked). */
function makeType<T>(ops: ObjTypeOps<T>): ObjType<T> {
  const type = {
    name: ops.name,
    key: ops.key,
    grab: ops.grab,
    drop: ops.drop,
    checkpoint: ops.checkpoint,
    restore: ops.restore,
    fields: ops.fields === undefined ? undefined : Object.freeze({ ...ops.fields }),
    create: ops.create,
    nestedFirst: ops.nestedFirst === true ? true : undefined,
    id: nextTypeId++,
    [TYPE_MARK]: true,
  };
  return Object.freeze(type) as ObjType<T>;
}

/** @internal A builtin type (name 'objhash:...'), for lib/walk. */
export function builtinType<T>(name: string): ObjType<T> {
  return makeType<T>({ name });
}

/** Whether v came from defineObjType() (or is a builtin type). */
export function isObjType(v: unknown): v is ObjType<unknown> {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[TYPE_MARK] === true;
}

/** Throws EINVAL unless `type` came from defineObjType(). */
export function checkType(type: unknown, where: string, arg = 'type'): asserts type is ObjType<unknown> {
  if (!isObjType(type))
    throw new ObjHashError('EINVAL', `${where}: ${arg} must be an ObjType from defineObjType()`);
}
