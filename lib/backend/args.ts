/**
 * Argument rules shared by the facade and the backends: what a numeric
 * key, an objref and a key array are, and how a bad one is described in
 * a message.  One place, so that the twin, the binding's last line of
 * defence and the facade cannot drift apart.
 */
import type { NumericKey } from '../types.js';
import { ObjHashError } from '../errors.js';
import { MAX_OBJREF } from './codes.js';
import type { KeyArray } from './contract.js';

export const MAX_U64 = (1n << 64n) - 1n;

/** k if it is a valid numeric key, else undefined. */
export function asNumericKey(k: unknown): NumericKey | undefined {
  if (typeof k === 'number') return Number.isSafeInteger(k) && k > 0 ? k : undefined;
  if (typeof k === 'bigint') return k > 0n && k <= MAX_U64 ? k : undefined;
  return undefined;
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
  if (typeof objref !== 'number' || !Number.isInteger(objref) || objref < 1 || objref > MAX_OBJREF)
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

