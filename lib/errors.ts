import { ERRNO, type ErrnoName } from './backend/codes.js';

export type ObjHashErrorCode = ErrnoName;

const NAMES: Record<number, ErrnoName> = Object.fromEntries(
  Object.entries(ERRNO).map(([k, v]) => [v, k as ErrnoName]),
);

/**
 * Every failure objhash reports: `code` is a Linux errno name (EINVAL,
 * ENOMSG, EPIPE, EIO, EBADMSG, E2BIG, ELOOP, EBADF, ENOMEM, EEXIST) and
 * `errno` its number; `offset` is the image offset the error refers to,
 * when there is one.
 */
export class ObjHashError extends Error {
  readonly code: ObjHashErrorCode;
  readonly errno: number;
  readonly offset: number | undefined;
  /**
   * On the error of a failed checkpoint() (not enumerable): the image up to
   * its ERROR record.  An error of another class thrown by an ops callback
   * carries it too: read it as `(e as { image?: Uint8Array }).image`.
   */
  declare readonly image?: Uint8Array | undefined;

  constructor(code: ObjHashErrorCode, message: string, offset?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ObjHashError';
    this.code = code;
    this.errno = ERRNO[code];
    this.offset = offset;
  }
}

/** The errno name of a negative return value from a backend. */
export function errnoName(ret: number): ErrnoName {
  return NAMES[-ret] ?? 'EINVAL';
}

/** Throws an ObjHashError for a negative backend return value. */
export function fail(ret: number, message: string, offset?: number): never {
  throw new ObjHashError(errnoName(ret), message, offset);
}

/**
 * Whether `e` is V8's "Maximum call stack size exceeded".  No RegExp:
 * compiling one this close to the stack limit throws a SyntaxError
 * ("Invalid regular expression ... stack overflow") instead.
 */
export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && e.message.includes('call stack');
}

/**
 * The EIO an I/O failure of the host (a file that cannot be opened,
 * written, synced or renamed) becomes: the host's error, with its own
 * code (ENOENT, EISDIR, ENOSPC...), is the cause, and its message follows
 * `where`.
 */
export function ioError(where: string, e: unknown): ObjHashError {
  if (e instanceof ObjHashError) return e;
  return new ObjHashError('EIO', `${where}: ${e instanceof Error ? e.message : String(e)}`, undefined, { cause: e });
}
