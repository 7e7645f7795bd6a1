/**
 * Which objects are plain values (plainKind), why the others are not
 * (notPlainReason), and the intrinsic getters the codec reads them with:
 * a body is read through %TypedArray%.prototype's getters and the like,
 * never through properties an object may shadow.
 */
import { types } from 'node:util';
import { K, TYPED } from './encoding.js';

type Getter = (this: unknown) => unknown;
function getter(proto: object, name: PropertyKey): Getter {
  const d = Object.getOwnPropertyDescriptor(proto, name);
  const f = d?.get;
  if (typeof f !== 'function') throw new Error(`objhash: this Node has no getter ${String(name)}`);
  return f as Getter;
}
function optGetter(proto: object, name: PropertyKey): Getter | undefined {
  const f = Object.getOwnPropertyDescriptor(proto, name)?.get;
  return typeof f === 'function' ? (f as Getter) : undefined;
}

const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;

/** %TypedArray%.prototype getters (brand-checking: they throw, or the tag returns undefined, for a non-typed-array). */
export const TA_TAG = getter(TypedArrayProto, Symbol.toStringTag);
export const TA_BUFFER = getter(TypedArrayProto, 'buffer');
export const TA_OFFSET = getter(TypedArrayProto, 'byteOffset');
export const TA_BYTELENGTH = getter(TypedArrayProto, 'byteLength');
export const TA_LENGTH = getter(TypedArrayProto, 'length');
const TA_AT = (TypedArrayProto as { at: (this: unknown, i: number) => unknown }).at;
export const DV_BUFFER = getter(DataView.prototype, 'buffer');
export const DV_OFFSET = getter(DataView.prototype, 'byteOffset');
export const DV_BYTELENGTH = getter(DataView.prototype, 'byteLength');
export const AB_BYTELENGTH = getter(ArrayBuffer.prototype, 'byteLength');
/** Resizable buffers (Node 20+): resizable, maxByteLength, resize. */
export const AB_RESIZABLE = optGetter(ArrayBuffer.prototype, 'resizable');
export const AB_MAX = optGetter(ArrayBuffer.prototype, 'maxByteLength');
const AB_RESIZE = (ArrayBuffer.prototype as unknown as { resize?: (this: ArrayBuffer, n: number) => void }).resize;
export const RE_SOURCE = getter(RegExp.prototype, 'source');
/** RegExp flag getters in REGEXP_FLAGS order (d g i m s u v y); undefined where this Node lacks the flag. */
export const RE_FLAG_GETTERS: readonly (Getter | undefined)[] = [
  'hasIndices',
  'global',
  'ignoreCase',
  'multiline',
  'dotAll',
  'unicode',
  'unicodeSets',
  'sticky',
].map((n) => optGetter(RegExp.prototype, n));
export const DATE_TIME = Date.prototype.getTime as (this: unknown) => number;
export const BOOL_VALUE = Boolean.prototype.valueOf as (this: unknown) => boolean;
export const NUMBER_VALUE = Number.prototype.valueOf as (this: unknown) => number;
export const STRING_VALUE = String.prototype.valueOf as (this: unknown) => string;
export const BIGINT_VALUE = BigInt.prototype.valueOf as (this: unknown) => bigint;
export const hasOwn = Object.prototype.hasOwnProperty;

/** Whether `ab` is resizable (false where this Node has no resizable buffers). */
export function isResizable(ab: ArrayBuffer): boolean {
  return AB_RESIZABLE !== undefined && AB_RESIZABLE.call(ab) === true;
}
export function maxByteLength(ab: ArrayBuffer): number {
  return AB_MAX !== undefined ? (AB_MAX.call(ab) as number) : AB_BYTELENGTH.call(ab) as number;
}
export function resize(ab: ArrayBuffer, n: number): void {
  AB_RESIZE!.call(ab, n);
}

/** Whether `ab` is detached (Node 20 has no ArrayBuffer.prototype.detached: a detached buffer cannot be viewed). */
export function isDetached(ab: ArrayBuffer): boolean {
  if ((AB_BYTELENGTH.call(ab) as number) !== 0) return false;
  try {
    new Uint8Array(ab);
    return false;
  } catch {
    return true;
  }
}

/** Whether a typed array (or, with dv, a DataView) is out of the bounds of its (resized) buffer. */
export function outOfBounds(view: object, dv: boolean): boolean {
  try {
    if (dv) DV_BYTELENGTH.call(view);
    else TA_AT.call(view, 0);
    return false;
  } catch {
    return true;
  }
}

const ObjectProto = Object.prototype;
const ArrayProto = Array.prototype;

/** Prototype -> kind, for the kinds past object, array and null-prototype object. */
const PROTO_KIND = new Map<object, number>([
  [Map.prototype, K.MAP],
  [Set.prototype, K.SET],
  [Date.prototype, K.DATE],
  [RegExp.prototype, K.REGEXP],
  [Boolean.prototype, K.FALSE_OBJ],
  [Number.prototype, K.NUMBER_OBJ],
  [String.prototype, K.STRING_OBJ],
  [BigInt.prototype, K.BIGINT_OBJ],
  [Error.prototype, K.ERROR],
  [EvalError.prototype, K.ERROR],
  [RangeError.prototype, K.ERROR],
  [ReferenceError.prototype, K.ERROR],
  [SyntaxError.prototype, K.ERROR],
  [TypeError.prototype, K.ERROR],
  [URIError.prototype, K.ERROR],
  [ArrayBuffer.prototype, K.ARRAYBUFFER],
  [DataView.prototype, K.DATAVIEW],
]);
if (typeof AggregateError === 'function') PROTO_KIND.set(AggregateError.prototype, K.ERROR);
for (let i = 0; i < TYPED.length; i++) {
  const c = TYPED[i]!.ctor;
  if (c !== undefined) PROTO_KIND.set(c.prototype as object, K.TYPED + i);
}

/** The brand check of a rarer kind: v really is what its prototype says. */
function branded(v: object, k: number): boolean {
  switch (k) {
    case K.MAP:
      return types.isMap(v);
    case K.SET:
      return types.isSet(v);
    case K.DATE:
      return types.isDate(v);
    case K.REGEXP:
      return types.isRegExp(v);
    case K.FALSE_OBJ:
      return types.isBooleanObject(v);
    case K.NUMBER_OBJ:
      return types.isNumberObject(v);
    case K.STRING_OBJ:
      return types.isStringObject(v);
    case K.BIGINT_OBJ:
      return types.isBigIntObject(v);
    case K.ERROR:
      return types.isNativeError(v);
    case K.ARRAYBUFFER:
      return types.isArrayBuffer(v);
    case K.DATAVIEW:
      return types.isDataView(v);
    default:
      return TA_TAG.call(v) === TYPED[k - K.TYPED]!.name;
  }
}

/**
 * The kind of `v` if the codec writes it as a plain value, else
 * undefined: K.OBJECT (prototype Object.prototype), K.NULL_OBJECT, K.ARRAY,
 * K.MAP, K.SET, K.DATE, K.REGEXP, K.FALSE_OBJ (any Boolean wrapper),
 * K.NUMBER_OBJ, K.STRING_OBJ, K.BIGINT_OBJ, K.ERROR, K.ARRAYBUFFER (fixed
 * or resizable), K.DATAVIEW, K.TYPED + type index.  One prototype read
 * and compare for objects and arrays; a brand check for the rarer kinds.
 * Proxies are not looked through here (that is a C++ call): a proxy whose
 * prototype looks plain gets a kind, and writeValue refuses it.
 */
export function plainKind(v: object): number | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  let p: object | null;
  try {
    p = Object.getPrototypeOf(v) as object | null;
  } catch {
    return undefined; // a proxy's trap threw
  }
  if (p === ObjectProto) return K.OBJECT;
  if (p === ArrayProto) return Array.isArray(v) ? K.ARRAY : undefined;
  if (p === null) return K.NULL_OBJECT;
  const k = PROTO_KIND.get(p);
  return k !== undefined && branded(v, k) ? k : undefined;
}

/**
 * Why `v` cannot be checkpointed as a plain value, for a Refusal:
 * "a function cannot be checkpointed", "a WeakMap ...", "an instance of
 * class Foo with no registered type ...".
 */
export function notPlainReason(v: unknown): string {
  switch (typeof v) {
    case 'function':
      return types.isProxy(v) ? 'a Proxy cannot be checkpointed' : 'a function cannot be checkpointed';
    case 'symbol':
      return 'a symbol cannot be checkpointed';
    case 'object':
      if (v === null) return 'null is not an object';
      break;
    default:
      return `${typeof v} is not an object`;
  }
  const o = v as object;
  if (types.isProxy(o)) return 'a Proxy cannot be checkpointed';
  if (types.isSharedArrayBuffer(o))
    return 'a SharedArrayBuffer cannot be checkpointed: its memory is shared with other threads and an image can only hold a copy (copy it into an ArrayBuffer)';
  if (types.isWeakMap(o)) return 'a WeakMap cannot be checkpointed';
  if (types.isWeakSet(o)) return 'a WeakSet cannot be checkpointed';
  if (typeof WeakRef === 'function' && o instanceof WeakRef) return 'a WeakRef cannot be checkpointed';
  if (typeof FinalizationRegistry === 'function' && o instanceof FinalizationRegistry)
    return 'a FinalizationRegistry cannot be checkpointed';
  if (types.isPromise(o)) return 'a Promise cannot be checkpointed';
  if (types.isSymbolObject(o)) return 'a Symbol wrapper object cannot be checkpointed';
  if (types.isGeneratorObject(o)) return 'a generator cannot be checkpointed';
  if (types.isMapIterator(o) || types.isSetIterator(o)) return 'an iterator cannot be checkpointed';
  if (types.isModuleNamespaceObject(o)) return 'a module namespace object cannot be checkpointed';
  if (types.isExternal(o)) return 'a native external value cannot be checkpointed';
  let name = '';
  try {
    const p = Object.getPrototypeOf(o) as { constructor?: unknown } | null;
    const c = p !== null && hasOwn.call(p, 'constructor') ? p.constructor : undefined;
    if (typeof c === 'function' && typeof c.name === 'string') name = c.name;
  } catch {
    // a throwing getter: no name
  }
  if (plainKindOfProto(o) !== undefined) return `an object that only looks like a ${name || 'builtin'} (its prototype) cannot be checkpointed`;
  return name
    ? `an instance of class ${name} with no registered type cannot be checkpointed (pass its type in options.types)`
    : 'an object whose prototype is not Object.prototype or null, with no registered type, cannot be checkpointed';
}

/** The kind v's prototype promises (no brand check), for messages. */
function plainKindOfProto(v: object): number | undefined {
  try {
    const p = Object.getPrototypeOf(v) as object | null;
    return p === null ? undefined : PROTO_KIND.get(p);
  } catch {
    return undefined;
  }
}

/** Whether k is an array index: a canonical decimal integer 0..2^32-2. */
export function isIndex(k: string): boolean {
  const n = k.length;
  if (n === 0 || n > 10) return false;
  const c0 = k.charCodeAt(0);
  if (c0 < 48 || c0 > 57) return false;
  if (c0 === 48) return n === 1;
  for (let i = 1; i < n; i++) {
    const c = k.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return n < 10 || +k < 4294967295;
}

/** Whether `v` is a Proxy (writeValue refuses plain-looking proxies). */
export const isProxy = types.isProxy;
/** Whether `v` is an ArrayBuffer of this realm's kind (not a SharedArrayBuffer). */
export const isArrayBuffer = types.isArrayBuffer;
