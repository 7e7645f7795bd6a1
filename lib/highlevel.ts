/**
 * One-call checkpoint and restart, in memory and to/from files.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { CheckpointContext } from './context/checkpoint.js';
import { RestartContext } from './context/restart.js';
import type { CheckpointOptions, ContextOptions } from './context/options.js';
import { ObjHashError, ioError } from './errors.js';
import { FileSource } from './image/source.js';
import type { ByteSource } from './image/source.js';
import { isObjType, type ObjType } from './types.js';
import { ValueT } from './walk/walked.js';

/**
 * The options of a call given no ObjType: its second argument, or its
 * third when the second is undefined (`checkpoint(v, undefined, opts)`, as
 * a wrapper forwarding an optional type calls it); both is EINVAL.
 */
export function untypedOptions<O>(second: O | undefined, third: O | undefined, where: string): O | undefined {
  if (third === undefined) return second;
  if (second !== undefined)
    throw new ObjHashError('EINVAL', `${where}: options given twice: the second argument is no ObjType, so it is the options (give undefined there to pass them third)`);
  return third;
}

/**
 * The root type and the options of a call that may name no type: with a
 * type, options.types gains it if missing; without, the root is a plain
 * value (format version 2).
 */
export function resolve<O extends { types?: readonly ObjType<any>[]; version?: number }>(
  typeOrOpts: ObjType<any> | O | undefined,
  opts: O | undefined,
  where: string,
): { type: ObjType<any>; opts: O } {
  if (isObjType(typeOrOpts)) {
    const o = (opts ?? {}) as O;
    if (typeof o !== 'object' || o === null) throw new ObjHashError('EINVAL', `${where}: options must be an object`);
    const types = o.types ?? [];
    return { type: typeOrOpts, opts: Array.isArray(types) && !types.includes(typeOrOpts) ? { ...o, types: [typeOrOpts, ...types] } : o };
  }
  const o = (untypedOptions(typeOrOpts, opts, where) ?? {}) as O;
  if (typeof o !== 'object' || o === null)
    throw new ObjHashError('EINVAL', `${where}: the second argument must be an ObjType or an options object`);
  return { type: ValueT, opts: o.version === undefined ? { ...o, version: 2 } : o };
}

function attachImage(err: unknown, image: Uint8Array | undefined): void {
  if (image !== undefined && typeof err === 'object' && err !== null && Object.isExtensible(err))
    Object.defineProperty(err, 'image', { value: image, enumerable: false, configurable: true });
}

/** Runs the checkpoint of root in ctx; on failure ends the image with ERROR and rethrows. */
export function run<T>(ctx: CheckpointContext, root: T, type: ObjType<T>): Uint8Array {
  try {
    ctx.checkpointObj(root, type);
  } catch (err) {
    let image: Uint8Array | undefined;
    try {
      image = ctx.fail(err);
    } catch {
      // a drop that throws while cleaning up: the first error wins
    }
    attachImage(err, image);
    throw err;
  }
  return ctx.finish();
}

/**
 * checkpoint - the image of the graph reachable from `root` through the
 * types' checkpoint callbacks.  On failure the error is rethrown after the
 * hash is freed; in memory it carries the partial image, ending with an
 * ERROR record, as `err.image` (with `sink`, that record was streamed).
 */
export function checkpoint<T>(root: T, type: ObjType<T>, opts?: CheckpointOptions): Uint8Array;
/** checkpoint - the image of a plain JS value (what structuredClone takes), shared objects and cycles included. */
export function checkpoint(value: unknown, opts?: CheckpointOptions): Uint8Array;
/** checkpoint - as above, the options third (`type` undefined: a plain value). */
export function checkpoint(value: unknown, type: undefined, opts?: CheckpointOptions): Uint8Array;
export function checkpoint(root: unknown, typeOrOpts?: ObjType<any> | CheckpointOptions, opts?: CheckpointOptions): Uint8Array {
  const r = resolve(typeOrOpts, opts, 'checkpoint');
  return run(new CheckpointContext(r.opts), root, r.type);
}

/**
 * restart - the root object of an image written by checkpoint(), with
 * every shared object restored once.  Checks TAIL, count and CRC.
 */
export function restart<T>(image: Uint8Array | ByteSource, type: ObjType<T>, opts?: ContextOptions): T;
/** restart - the plain value (or root of any type) of an image, with no type named. */
export function restart(image: Uint8Array | ByteSource, opts?: ContextOptions): unknown;
export function restart(image: Uint8Array | ByteSource, type: undefined, opts?: ContextOptions): unknown;
export function restart(image: Uint8Array | ByteSource, typeOrOpts?: ObjType<any> | ContextOptions, opts?: ContextOptions): unknown {
  return restartCounted(image, typeOrOpts, opts, 'restart').root;
}

/** restart(), also giving the number of objects restored. */
function restartCounted(
  image: Uint8Array | ByteSource,
  typeOrOpts: ObjType<any> | ContextOptions | undefined,
  opts: ContextOptions | undefined,
  where: string,
): { root: unknown; objects: number } {
  const typed = isObjType(typeOrOpts);
  const r = resolve(typeOrOpts, opts, where);
  const ctx = new RestartContext(image, r.opts);
  let root: unknown;
  try {
    root = ctx.restoreObj(typed ? r.type : undefined);
  } catch (err) {
    try {
      ctx[Symbol.dispose]();
    } catch {
      // the first error wins
    }
    throw err;
  }
  ctx.finish();
  return { root, objects: ctx.count };
}

export interface FileCheckpointResult {
  /** Bytes in the image. */
  bytes: number;
  /** Objects in the image. */
  objects: number;
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
}

/**
 * checkpointToFile - stream the image to `path` with bounded memory,
 * atomically: it is written to a temporary file beside `path`, fsync'd,
 * then renamed over it, so a crash leaves the previous image intact.
 */
export function checkpointToFile<T>(path: string, root: T, type: ObjType<T>, opts?: Omit<CheckpointOptions, 'sink'>): FileCheckpointResult;
export function checkpointToFile(path: string, value: unknown, opts?: Omit<CheckpointOptions, 'sink'>): FileCheckpointResult;
export function checkpointToFile(path: string, value: unknown, type: undefined, opts?: Omit<CheckpointOptions, 'sink'>): FileCheckpointResult;
export function checkpointToFile(
  path: string,
  root: unknown,
  typeOrOpts?: ObjType<any> | Omit<CheckpointOptions, 'sink'>,
  options?: Omit<CheckpointOptions, 'sink'>,
): FileCheckpointResult {
  const { type, opts } = resolve(typeOrOpts, options, 'checkpointToFile');
  if (typeof path !== 'string' || path.length === 0)
    throw new ObjHashError('EINVAL', 'checkpointToFile: path must be a non-empty string');
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o644);
  } catch (e) {
    throw ioError(`checkpointToFile: cannot create the temporary file beside ${path}`, e);
  }
  let bytes = 0;
  let ok = false;
  let closed = false;
  try {
    const ctx = new CheckpointContext({
      ...opts,
      sink: (chunk) => {
        try {
          writeAll(fd, chunk);
        } catch (e) {
          throw ioError(`checkpointToFile: writing ${tmp} failed`, e);
        }
        bytes += chunk.length;
      },
    });
    run(ctx, root, type);
    try {
      fsyncSync(fd);
      closed = true; // (a failed close leaves the descriptor closed too)
      closeSync(fd);
      renameSync(tmp, path);
    } catch (e) {
      throw ioError(`checkpointToFile: cannot replace ${path}`, e);
    }
    ok = true;
    try {
      const dfd = openSync(dirname(path), 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch {
      // some file systems cannot fsync a directory
    }
    return { bytes, objects: ctx.count };
  } finally {
    if (!ok) {
      if (!closed) {
        try {
          closeSync(fd);
        } catch {
          // nothing more to do
        }
      }
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
    }
  }
}

/** restartFromFile - restart() streaming from a file, with bounded memory. */
export function restartFromFile<T>(path: string, type: ObjType<T>, opts?: ContextOptions): T;
export function restartFromFile(path: string, opts?: ContextOptions): unknown;
export function restartFromFile(path: string, type: undefined, opts?: ContextOptions): unknown;
export function restartFromFile(path: string, typeOrOpts?: ObjType<any> | ContextOptions, opts?: ContextOptions): unknown {
  if (typeof path !== 'string' || path.length === 0)
    throw new ObjHashError('EINVAL', 'restartFromFile: path must be a non-empty string');
  const src = new FileSource(path);
  try {
    return restartCounted(src, typeOrOpts, opts, 'restart').root;
  } finally {
    src.close();
  }
}
