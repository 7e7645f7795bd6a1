/**
 * Cancellation of the async calls: an AbortSignal in their options.  An
 * aborted call rejects with an AbortError as Node's own APIs do (name
 * 'AbortError', code 'ABORT_ERR', the signal's reason as `cause`): an
 * abort is the caller's decision, not bad input, so it is not an
 * ObjHashError.
 */
import { ObjHashError } from '../errors.js';

export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** options.signal: undefined or an AbortSignal (EINVAL naming the call otherwise). */
export function checkSignal(signal: unknown, where: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new ObjHashError('EINVAL', `${where}: options.signal must be an AbortSignal`);
  return signal;
}

/** Throws the AbortError of an aborted signal. */
export function throwIfAborted(signal: AbortSignal | undefined, where: string): void {
  if (signal?.aborted) throw new AbortError(`${where}: aborted`, { cause: signal.reason });
}

/** options.onProgress: undefined or a function. */
export function checkProgress<P>(fn: unknown, where: string): ((p: P) => void) | undefined {
  if (fn === undefined) return undefined;
  if (typeof fn !== 'function') throw new ObjHashError('EINVAL', `${where}: options.onProgress must be a function`);
  return fn as (p: P) => void;
}

/** Calls report at most every `ms` milliseconds (and always when `last`). */
export function throttle<P>(report: ((p: P) => void) | undefined, ms = 100): (p: P, last?: boolean) => void {
  if (report === undefined) return () => {};
  let at = 0;
  return (p, last = false) => {
    const now = performance.now();
    if (!last && now - at < ms) return;
    at = now;
    report(p);
  };
}

/**
 * p, or a rejection with the signal's reason as soon as it aborts: a
 * stream that never settles (a peer that sends nothing more, a web
 * WritableStream whose write() hangs) cannot hold an aborted call.  p
 * goes on in the background, its failure handled.
 */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      p.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
