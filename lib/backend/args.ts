/**
 * Argument rules shared by the facade and the backends: what a numeric
 * key, an objref and a key array are, and how a bad one is described in
 * a message.  One place, so that the twin, the binding's last line of
 * defence and the facade cannot drift apart.
 *
 * The predicates (isIntIn ... typedArrayKind) are the rules themselves;
 * each layer words its own failure: the facade throws an ObjHashError
 * EINVAL naming the argument (check* below), the pure-JS twin throws the
 * native binding's TypeError, word for word (lib/js/adapter.ts).
 */
import type { NumericKey } from '../types.js';
import { ObjHashError } from '../errors.js';
import { MAX_OBJREF } from './codes.js';
import type { KeyArray } from './contract.js';

export const MAX_U64 = (1n << 64n) - 1n;

/** An integer number lo..hi: no coercion, so a string, a bigint or NaN is not one. */
export function isIntIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && v >= lo && v <= hi && Math.floor(v) === v;
}

/** An integer number in int32 range (the binding's int32 arguments). */
export function isInt32(v: unknown): v is number {
  return typeof v === 'number' && (v | 0) === v;
}

/** A numeric key held in a number: an integer 1..Number.MAX_SAFE_INTEGER. */
export function isNumberKey(k: number): boolean {
  return k >= 1 && k <= Number.MAX_SAFE_INTEGER && Math.floor(k) === k;
}

/** A numeric key held in a bigint: 1..2^64-1. */
export function isBigintKey(k: bigint): boolean {
  return k > 0n && k <= MAX_U64;
}

/** k if it is a valid numeric key, else undefined. */
export function asNumericKey(k: unknown): NumericKey | undefined {
  if (typeof k === 'number') return isNumberKey(k) ? k : undefined;
  if (typeof k === 'bigint') return isBigintKey(k) ? k : undefined;
  return undefined;
}

/** An objref: an integer 1..MAX_OBJREF. */
export function isObjref(v: unknown): v is number {
  return isIntIn(v, 1, MAX_OBJREF);
}

const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
)!.get as (this: unknown) => string | undefined;

/**
 * The kind of a typed array ('Int32Array', 'Float64Array', ...), from any
 * realm, as Node-API's napi_is_typedarray sees it; undefined for anything
 * else (a DataView and an ArrayBuffer too).
 */
export function typedArrayKind(v: unknown): string | undefined {
  return ArrayBuffer.isView(v) ? typedArrayTag.call(v) : undefined;
}

/** The kinds a key array may be (contract.ts KeyArray). */
export function isKeyArrayKind(kind: string | undefined): boolean {
  return kind === 'BigUint64Array' || kind === 'Float64Array';
}

export function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'object') return v === null ? 'null' : `an object`;
  return String(v);
}

export function isObjectKey(k: unknown): k is object {
  return (typeof k === 'object' && k !== null) || typeof k === 'function';
}

export function checkObjref(objref: unknown, where: string): asserts objref is number {
  if (!isObjref(objref))
    throw new ObjHashError('EINVAL', `${where}: objref must be an integer 1..2147483647 (got ${describe(objref)})`);
}

export function checkKeyArray(a: unknown, where: string, arg: string): asserts a is KeyArray {
  if (!(a instanceof BigUint64Array) && !(a instanceof Float64Array))
    throw new ObjHashError('EINVAL', `${where}: ${arg} must be a BigUint64Array or a Float64Array`);
}

export function checkInt32Array(a: unknown, where: string, arg: string, n: number): asserts a is Int32Array {
  if (!(a instanceof Int32Array))
    throw new ObjHashError('EINVAL', `${where}: ${arg} must be an Int32Array`);
  if (a.length < n)
    throw new ObjHashError('EINVAL', `${where}: ${arg} has ${a.length} elements, needs ${n}`);
}
