/**
 * The walker's side of a record body: what a body codec (lib/values for
 * plain JS values, lib/schema for declarative types) may ask of the
 * checkpoint or restart context while it writes or reads one object's
 * record.  docs/DESIGN.md §5, "Walked types".
 *
 * Walked objects (plain values, schema types) are written breadth first
 * from an explicit queue, never by recursion, so any depth works: an
 * object's record holds the objrefs of its children, which come later in
 * the image (forward references).  On restart a walked object is created
 * before its record's fields are read and is visible at once (no
 * reference() call).  A typed reference (getTyped) to an object of a
 * fields type not restored yet makes that object at once (its type's
 * create) and its record fills it later, so most references need no
 * fix-up; any other reference to an object not restored yet is filled in
 * when that object arrives (a fix-up).  restart() returns only when every
 * reference is resolved.
 */
import type { ObjType } from '../types.js';

/** Checkpoint: objrefs for the objects a body refers to. */
export interface RefWriter {
  /**
   * The objref of `child`: a plain value (object, array, Map, ...) or an
   * instance of a class registered in options.types.  A child seen for the
   * first time is queued and written after the current record.  Throws
   * ObjHashError (EINVAL, naming `path`) for what cannot be checkpointed.
   */
  ref(child: object, path: PathStep): number;
  /** The objref of `child` as an object of `type` (schema `ref(Type)` fields). */
  refTyped<T>(child: T, type: ObjType<T>, path: PathStep): number;
  /**
   * The objref of `child` if the walk holds it already, as an object of
   * any type (0: not): a plain object that is also reached through a
   * ref(T) field of a `fields` type is then referred to, not copied.
   */
  known(child: object): number;
  /**
   * As ref(), but a child not written yet (seen for the first time, or
   * queued earlier and still waiting) is written now, so that it lands
   * before the current record: for what a restore needs whole while it
   * reads this record (the ArrayBuffer under a typed array).
   */
  refNow(child: object, path: PathStep): number;
}

/** Restart: objects for the objrefs a body holds. */
export interface RefReader {
  /**
   * The object with `objref`, or undefined when it is not restored yet: then
   * holder[key] is set to it as soon as it is (write holder[key] = the
   * result at once, so that property order is kept).
   */
  get(objref: number, holder: object, key: string | number): unknown;
  /** As get(), the object must be of `type` (ENOMSG otherwise). */
  getTyped(objref: number, type: ObjType<any>, holder: object, key: string | number): unknown;
  /** The object with `objref`, which must be restored already (EINVAL otherwise). */
  now(objref: number): unknown;
  /**
   * Runs fn once every object of the image is restored, in the order the
   * calls were made (Map and Set contents, whose keys must be the objects
   * themselves).
   */
  later(fn: () => void): void;
  /** The image offset of the record being read, for error messages. */
  readonly offset: number;
}

/**
 * Where a value sits, for error messages ("root.a[3].f"): the step from
 * its holder, a property name or an index.  Strings that are not
 * identifiers are quoted by the formatter.
 */
export type PathStep = string | number;

/**
 * Thrown by a body codec for a value it cannot checkpoint (a function, a
 * symbol, a class instance with no registered type, a getter that throws):
 * the walker turns it into an ObjHashError (EINVAL) naming the full path
 * from the root, e.g. "root.a[3].f: a function cannot be checkpointed".
 */
export class Refusal extends Error {
  /** The steps from the holders of inline values around it, innermost first (added as it unwinds). */
  readonly outer: PathStep[] = [];
  /**
   * The value at the outermost step so far (the refused value, then each
   * holder as it unwinds; undefined: not known): the walker finds by it
   * the item of a list field that the step, the field's name, leaves out.
   */
  at: unknown;
  constructor(
    readonly step: PathStep | undefined,
    readonly why: string,
    options?: { cause?: unknown },
    at?: unknown,
  ) {
    super(why, options);
    this.name = 'Refusal';
    this.at = at;
  }

  /** The refusal unwinds out of `holder`, found at `step` from its own holder. */
  via(step: PathStep, holder: unknown): void {
    this.outer.push(step);
    this.at = holder;
  }
}
