/**
 * 64-bit arithmetic for the JS twin without BigInt on the hot path.
 *
 * A 64-bit key is carried as two 32-bit halves (lo, hi).  The bucket of a
 * key is the kernel's hash_long():
 *
 *     hash_long(key, bits) = ((key * M) mod 2^64) >> (64 - bits)
 *
 * For bits <= 32 only the high word of the low 64 bits of the product is
 * needed:
 *
 *     hi32(key * M) = mulhi32(lo, Mlo) + lo*Mhi + hi*Mlo   (mod 2^32)
 *
 * where the two cross products only matter mod 2^32 (Math.imul) and
 * mulhi32, the high word of the 32x32 -> 64 product, is built from 16-bit
 * partial products, all exact in doubles.
 */

import { isBigintKey, isNumberKey } from '../backend/args.js';

/** today's kernel hash_64 multiplier, 0x61C8864680B583EB */
export const MULT_CURRENT_LO = 0x80b583eb | 0;
export const MULT_CURRENT_HI = 0x61c88646 | 0;
/** the 2009 kernel's multiplier, 0x9e37fffffffc0001 */
export const MULT_2009_LO = 0xfffc0001 | 0;
export const MULT_2009_HI = 0x9e37ffff | 0;

export const MULT_CURRENT = 0x61c8864680b583ebn;
export const MULT_2009 = 0x9e37fffffffc0001n;

const TWO32 = 4294967296;
/** hi words below this make a key <= Number.MAX_SAFE_INTEGER (2^53 - 1) */
const SAFE_HI_LIMIT = 0x200000;

/** High 32 bits (as uint32) of the unsigned 64-bit product a * b. */
export function mulhi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * High word (uint32) of the low 64 bits of (hi:lo) * (mhi:mlo): the top 32
 * bits of hash_long's product.  hash_long(key, bits) for bits <= 32 is this
 * >>> (32 - bits).
 */
export function hashHi32(lo: number, hi: number, mlo: number, mhi: number): number {
  return (mulhi32(lo, mlo) + Math.imul(lo, mhi) + Math.imul(hi, mlo)) >>> 0;
}

/** hash_long(key, bits) for bits 1..32, key as (lo, hi) words. */
export function hashLong32(lo: number, hi: number, bits: number, mult2009: boolean): number {
  const h = mult2009
    ? hashHi32(lo, hi, MULT_2009_LO, MULT_2009_HI)
    : hashHi32(lo, hi, MULT_CURRENT_LO, MULT_CURRENT_HI);
  return h >>> (32 - bits);
}

/** hash_long(key, bits) for bits 1..64 with BigInt (reference; tests, bits > 32). */
export function hashLongBig(key: bigint, bits: number, mult2009: boolean): bigint {
  const m = mult2009 ? MULT_2009 : MULT_CURRENT;
  return BigInt.asUintN(64, key * m) >> BigInt(64 - bits);
}

/**
 * Scratch output of splitKey(): the last key split, as signed 32-bit
 * words (compare with `| 0` values).  A single object so the hot paths
 * allocate nothing.
 */
export const keyWords = { lo: 0, hi: 0 };

/**
 * Splits a key (an integer number 0..MAX_SAFE_INTEGER or a bigint
 * 0..2^64-1) into keyWords.  Returns false for anything else (the caller
 * throws the TypeError).  Zero is accepted here; callers that need a
 * non-zero key check keyWords themselves.
 */
export function splitKey(key: unknown): boolean {
  if (typeof key === 'number') {
    if (key !== 0 && !isNumberKey(key)) return false;
    // splitNumber(), written out: the per-call paths are at V8's inlining budget
    keyWords.lo = key | 0;
    keyWords.hi = (key / TWO32) | 0;
    return true;
  }
  if (typeof key === 'bigint') {
    if (key !== 0n && !isBigintKey(key)) return false;
    splitBigint(key);
    return true;
  }
  return false;
}

/** A key number 0..MAX_SAFE_INTEGER (checked by the caller) into keyWords. */
export function splitNumber(key: number): void {
  keyWords.lo = key | 0;
  keyWords.hi = (key / TWO32) | 0;
}

/** A key bigint 0..2^64-1 (checked by the caller) into keyWords. */
export function splitBigint(key: bigint): void {
  keyWords.lo = Number(key & 0xffffffffn) | 0;
  keyWords.hi = Number(key >> 32n) | 0;
}

/** The key (hi:lo) as a number, or -1 when it is over MAX_SAFE_INTEGER. */
export function keyNumber(lo: number, hi: number): number {
  const h = hi >>> 0;
  return h < SAFE_HI_LIMIT ? h * TWO32 + (lo >>> 0) : -1;
}

/** The key (hi:lo) as the API returns it: a number when safe, else a bigint. */
export function joinKey(lo: number, hi: number): number | bigint {
  const k = keyNumber(lo, hi);
  return k >= 0 ? k : joinKeyBig(lo, hi);
}

/** The key (hi:lo) as a bigint. */
export function joinKeyBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
