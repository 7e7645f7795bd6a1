/**
 * The core's error codes and limits, as native/objhash.h defines them
 * (OBJHASH_E*, OBJHASH_MAX_*, flag bits).  objhash.h is the one source:
 * the native binding exports the same table (`codes`, `limits`), the twin
 * and the facade import this file, and a test checks all three agree.
 *
 * The codes are objhash's own numbers (they happen to be Linux's errno
 * values), the same on every platform: a host's errno is never reported.
 */

export const ERRNO = {
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  ENOMEM: 12,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  EPIPE: 32,
  ELOOP: 40,
  ENOMSG: 42,
  EBADMSG: 74,
} as const;
export type ErrnoName = keyof typeof ERRNO;
export type Codes = typeof ERRNO;

export const LIMITS = {
  DEFAULT_NBITS: 10,
  MIN_NBITS: 1,
  MAX_NBITS: 28,
  DEFAULT_MAX_LOAD: 1,
  MAX_LOAD: 1024,
  MAX_OBJREF: 0x7fffffff,
  MAX_TYPE_ID: 0xffff,
  FIXED: 0x1,
  MULT_OLD: 0x2,
  TYPE_GRAB: 0x1,
  TYPE_DROP: 0x2,
} as const;
export type Limits = typeof LIMITS;

/** create() flags: OBJHASH_FIXED and OBJHASH_MULT_OLD. */
export const FLAG_FIXED = LIMITS.FIXED;
export const FLAG_MULT_2009 = LIMITS.MULT_OLD;
/** setTypeFlags() bits. */
export const TYPE_GRAB = LIMITS.TYPE_GRAB;
export const TYPE_DROP = LIMITS.TYPE_DROP;
/** Largest type id a backend accepts. */
export const MAX_TYPE_ID = LIMITS.MAX_TYPE_ID;
/** Largest objref. */
export const MAX_OBJREF = LIMITS.MAX_OBJREF;
