/**
 * The body codec of plain JS values (issue #10): what structuredClone
 * handles, written as one VALUE record per object, children by objref.
 * The walker (lib/context) owns identity, objrefs, order and fix-ups; this
 * module only encodes one object's body and inline primitives.  The bytes
 * are specified in encoding.ts.
 */
import type { PayloadReader } from '../image/payload-reader.js';
import type { PayloadWriter } from '../image/payload-writer.js';
import type { PathStep, RefReader, RefWriter } from '../walk/refs.js';
import { describeTagged as describeTaggedImpl, describeValue as describeValueImpl } from './describe.js';
import { notPlainReason as notPlainReasonImpl, plainKind as plainKindImpl } from './kinds.js';
import { readTagged as readTaggedImpl, readValue as readValueImpl } from './read.js';
import { ValueCodecState } from './state.js';
import { writeTagged as writeTaggedImpl, writeValue as writeValueImpl } from './write.js';

export { ValueCodecState };

/** Name of the builtin object type of plain values in an image's type table. */
export const VALUE_TYPE_NAME = 'objhash:value';

/**
 * The plain kind of v if it is an object the codec encodes as a plain
 * value (object, array, Map, Set, Date, RegExp, wrapper, Error,
 * ArrayBuffer, view), else undefined (a class instance, a function, a
 * SharedArrayBuffer, a WeakMap...).  Cheap: one prototype read and compare
 * for objects and arrays.  Does not look through proxies (writeValue
 * refuses a proxy that looks plain).
 */
export function plainKind(v: object): number | undefined {
  return plainKindImpl(v);
}

/**
 * Why v cannot be checkpointed as a plain value ("a WeakMap cannot be
 * checkpointed", "an instance of class Foo with no registered type ..."),
 * for the walker's refusal of a child that is neither plain nor of a
 * registered type.
 */
export function notPlainReason(v: unknown): string {
  return notPlainReasonImpl(v);
}

/**
 * Writes the whole body of one plain value `v` (an object with plainKind,
 * or any primitive for an image whose root is a primitive) into the open
 * record.  Children objects: refs.ref(child, step) -> objref (queued by the
 * walker); a view's buffer: refs.refNow(buffer, 'buffer'), called before
 * the state is touched.  Primitives inline.  Throws Refusal(step, why)
 * for what cannot be written (step undefined: v itself).
 */
export function writeValue(w: PayloadWriter, v: unknown, refs: RefWriter, state: ValueCodecState): void {
  writeValueImpl(w, v, refs, state);
}

/**
 * Reads one body: creates the object first and calls created(obj) before
 * reading any child reference (so cycles resolve), fills it, returns it
 * (a primitive body: created(primitive), returns it).  Children through
 * refs.get(objref, holder, key); Map and Set entries, from the first that
 * holds an object, through refs.later and refs.now; a view's buffer
 * through refs.now.  A malformed body is an ObjHashError EINVAL whose
 * offset and message give refs.offset.
 */
export function readValue(r: PayloadReader, refs: RefReader, created: (obj: unknown) => void, state: ValueCodecState): unknown {
  return readValueImpl(r, refs, created, state);
}

/** Inline tagged value for schema 'value' fields: primitives inline, objects via refs.ref(v, step). */
export function writeTagged(w: PayloadWriter, v: unknown, refs: RefWriter, step: PathStep, state: ValueCodecState): void {
  writeTaggedImpl(w, v, refs, step, state);
}

/** Reads a tagged value written by writeTagged; object refs via refs.get(objref, holder, key). */
export function readTagged(r: PayloadReader, refs: RefReader, holder: object, key: string | number, state: ValueCodecState): unknown {
  return readTaggedImpl(r, refs, holder, key, state);
}

/**
 * For `objhash dump`: a JSON-able description of a VALUE body (kind,
 * entries with primitives shown and objrefs as {ref: n}), reading from r;
 * never throws anything but ObjHashError.  One state per dump run, fed
 * every VALUE body (and every tagged value, describeTagged) in order.
 */
export function describeValue(r: PayloadReader, state: ValueCodecState): unknown {
  return describeValueImpl(r, state);
}

/** For `objhash dump`: a tagged value written by writeTagged (keeps the state in step). */
export function describeTagged(r: PayloadReader, state: ValueCodecState): unknown {
  return describeTaggedImpl(r, state);
}
