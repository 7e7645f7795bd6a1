/**
 * One-call checkpoint and restart, in memory and to/from files.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { CheckpointContext } from './context/checkpoint.js';
import { RestartContext } from './context/restart.js';
import type { CheckpointOptions, ContextOptions } from './context/options.js';
import { ObjHashError } from './errors.js';
import { FileSource } from './image/source.js';
import type { ObjType } from './types.js';

function attachImage(err: unknown, image: Uint8Array | undefined): void {
  if (image !== undefined && typeof err === 'object' && err !== null && Object.isExtensible(err))
    Object.defineProperty(err, 'image', { value: image, enumerable: false, configurable: true });
}

/** Runs the checkpoint of root in ctx; on failure ends the image with ERROR and rethrows. */
function run<T>(ctx: CheckpointContext, root: T, type: ObjType<T>): Uint8Array {
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
export function checkpoint<T>(root: T, type: ObjType<T>, opts: CheckpointOptions): Uint8Array {
  return run(new CheckpointContext(opts), root, type);
}

/**
 * restart - the root object of an image written by checkpoint(), with
 * every shared object restored once.  Checks TAIL, count and CRC.
 */
export function restart<T>(image: Uint8Array | FileSource, type: ObjType<T>, opts: ContextOptions): T {
  const ctx = new RestartContext(image, opts);
  let root: T;
  try {
    root = ctx.restoreObj(type);
  } catch (err) {
    try {
      ctx[Symbol.dispose]();
    } catch {
      // the first error wins
    }
    throw err;
  }
  ctx.finish();
  return root;
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
export function checkpointToFile<T>(
  path: string,
  root: T,
  type: ObjType<T>,
  opts: Omit<CheckpointOptions, 'sink'>,
): FileCheckpointResult {
  if (typeof path !== 'string' || path.length === 0)
    throw new ObjHashError('EINVAL', 'checkpointToFile: path must be a non-empty string');
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  let bytes = 0;
  let ok = false;
  try {
    const ctx = new CheckpointContext({
      ...opts,
      sink: (chunk) => {
        writeAll(fd, chunk);
        bytes += chunk.length;
      },
    });
    run(ctx, root, type);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
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
      try {
        closeSync(fd);
      } catch {
        // already closed
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
export function restartFromFile<T>(path: string, type: ObjType<T>, opts: ContextOptions): T {
  if (typeof path !== 'string' || path.length === 0)
    throw new ObjHashError('EINVAL', 'restartFromFile: path must be a non-empty string');
  const src = new FileSource(path);
  try {
    return restart(src, type, opts);
  } finally {
    src.close();
  }
}
