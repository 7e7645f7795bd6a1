/**
 * Walked types: the builtin type of plain values and the types declared
 * with `fields`.  Their objects are written from the walker's queue (never
 * by recursion) and their records' bodies come from lib/values and
 * lib/schema; this module is the one place that maps a type to its body.
 */
import { ObjHashError } from '../errors.js';
import { REC } from '../image/format.js';
import type { PayloadReader } from '../image/payload-reader.js';
import type { PayloadWriter } from '../image/payload-writer.js';
import { compileSchema, compileSliced, decodeSchema, resolveSchema, type CompiledSchema, type SlicedSchema } from '../schema/index.js';
import { builtinType, type ObjType } from '../types.js';
import { VALUE_TYPE_NAME, readValue, writeValue, type ValueCodecState } from '../values/index.js';
import type { RefReader, RefWriter } from './refs.js';

/** The builtin object type of plain JS values ('objhash:value'). */
export const ValueT: ObjType<unknown> = builtinType<unknown>(VALUE_TYPE_NAME);

export interface WriteBody {
  /** REC.VALUE or REC.FIELDS */
  readonly record: number;
  write(w: PayloadWriter, obj: unknown, refs: RefWriter, state: ValueCodecState): void;
}

/**
 * Reads one plain value's record: creates the object, calls created(obj)
 * before reading references, returns it.
 */
export type ReadBody = (r: PayloadReader, refs: RefReader, state: ValueCodecState, created: (obj: unknown) => void) => unknown;

const VALUE_BODY: WriteBody = { record: REC.VALUE, write: writeValue };
/** How records of plain values (REC.VALUE) are read. */
export const readValueBody: ReadBody = (r, refs, state, created) => readValue(r, refs, created, state);

const compiled = new WeakMap<ObjType<any>, CompiledSchema>();
const writeBodies = new WeakMap<ObjType<any>, WriteBody>();

/** Whether objects of t are walked (plain values, fields). */
export function isWalked(t: ObjType<any>): boolean {
  return t === ValueT || t.fields !== undefined;
}

/** t's compiled schema (compiled once, at first use: every type it refers to exists by then). */
export function schemaOf(t: ObjType<any>): CompiledSchema {
  let c = compiled.get(t);
  if (c === undefined) {
    c = compileSchema(t.name, t.fields!);
    compiled.set(t, c);
  }
  return c;
}

/** How objects of a walked type are written. */
export function writeBodyOf(t: ObjType<any>): WriteBody {
  if (t === ValueT) return VALUE_BODY;
  let b = writeBodies.get(t);
  if (b === undefined) {
    const c = schemaOf(t);
    b = { record: REC.FIELDS, write: c.write };
    writeBodies.set(t, b);
  }
  return b;
}

const slicedBodies = new WeakMap<ObjType<any>, SlicedSchema | null>();

/**
 * A fields type's body in pieces, for its records written or read over
 * several slices (a long refs field); undefined for plain values and for
 * types with no top-level refs field.
 */
export function slicedOf(t: ObjType<any>): SlicedSchema | undefined {
  if (t === ValueT) return undefined;
  let s = slicedBodies.get(t);
  if (s === undefined) {
    s = compileSliced(t.name, schemaOf(t).fields) ?? null;
    slicedBodies.set(t, s);
  }
  return s ?? undefined;
}

/**
 * The sliced body for reading records of t written with `imageSchema`:
 * only when the image's schema is t's own (a resolving reader is read
 * whole); undefined otherwise.
 */
export function slicedReadOf(t: ObjType<any>, imageSchema: Uint8Array | undefined): SlicedSchema | undefined {
  if (t === ValueT || imageSchema === undefined || !equalBytes(imageSchema, schemaOf(t).encoded)) return undefined;
  return slicedOf(t);
}

/** The class of a fields type whose `create` is a class, else undefined. */
export function classOf(t: ObjType<any>): (abstract new (...args: never[]) => unknown) | undefined {
  const c = t.create;
  return c !== undefined && isClass(c) ? (c as abstract new (...args: never[]) => unknown) : undefined;
}

function isClass(f: Function): boolean {
  return typeof f === 'function' && Function.prototype.toString.call(f).startsWith('class');
}

const compiledCreators = new WeakMap<ObjType<any>, () => object>();

/**
 * A function making an empty object of the fields type t, before its
 * fields are read.  With no `create`: a compiled object literal with every
 * field (undefined until read), so that the object has its final hidden
 * class at once instead of one transition per field; the reader assigns
 * every field in this order anyway.  Field names are validated
 * identifiers (schema/spec.ts), written as JSON string literals.
 */
export function creatorOf(t: ObjType<any>): () => object {
  const c = t.create;
  if (c === undefined) {
    let f = compiledCreators.get(t);
    if (f === undefined) {
      const props = schemaOf(t).fields.map((fd) => `${JSON.stringify(fd.name)}: undefined`).join(', ');
      f = new Function(`'use strict'; return () => ({ ${props} });`)() as () => object;
      compiledCreators.set(t, f);
    }
    return f;
  }
  if (isClass(c)) return classCreator(t, (c as { prototype: object }).prototype);
  return () => {
    const o = (c as () => unknown)();
    if (typeof o !== 'object' || o === null)
      throw new ObjHashError('EINVAL', `restart: ${t.name}.create() returned ${o === null ? 'null' : typeof o}, not an object`);
    return o;
  };
}

/**
 * An empty object with the class's prototype, its constructor not run.
 * A generated constructor whose prototype is the class's: it defines every
 * field (undefined until read), so that the object has its fields in
 * itself from the start, as the plain types' literal does (an object made
 * by Object.create and given seven fields one by one keeps three of them
 * outside itself).  Where the prototype chain has a field's name (a
 * setter, a getter, a read-only value), that definition would run it: such
 * a class keeps Object.create, and the reader's assignments alone.
 */
function classCreator(t: ObjType<any>, proto: object): () => object {
  const names = schemaOf(t).fields.map((fd) => fd.name);
  if (names.some((n) => n in proto)) return () => Object.create(proto) as object;
  let f = compiledCreators.get(t);
  if (f === undefined) {
    const Make = new Function(`'use strict'; return function () { ${names.map((n) => `this[${JSON.stringify(n)}] = undefined;`).join(' ')} };`)() as {
      new (): object;
      prototype: object;
    };
    Make.prototype = proto;
    f = () => new Make();
    compiledCreators.set(t, f);
  }
  return f;
}

/** Reads a fields record's fields into obj (made before, by creatorOf). */
export type ReadFields = (r: PayloadReader, obj: unknown, refs: RefReader, state: ValueCodecState) => void;

/**
 * How the fields of records of the fields type t written with
 * `imageSchema` (the image's type table entry) are read: the compiled
 * reader when the schemas are equal, a resolving one when they differ by
 * the evolution rules, else EINVAL listing every differing field.
 */
export function fieldsReadOf(t: ObjType<any>, imageSchema: Uint8Array | undefined): ReadFields {
  const c = schemaOf(t);
  if (imageSchema === undefined || imageSchema.length === 0)
    throw new ObjHashError('EINVAL', `restart: type '${t.name}' has fields, but the image wrote it with hand-written ops (no schema)`, 0);
  return equalBytes(imageSchema, c.encoded) ? c.read : resolveSchema(decodeSchema(imageSchema, t.name), c, t.name);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
