/**
 * `objhash/promises`: the file calls as promises (as node:fs/promises is
 * to node:fs), and the stream calls.  checkpointToFile keeps the sync
 * call's guarantees: the image goes to a temporary file beside `path`,
 * fsync'd, then renamed over it, so a failure, an abort or a crash leaves
 * the previous image intact and no temporary file behind.  See
 * lib/stream/index.ts for the consistency model.
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { ObjHashError, ioError } from './errors.js';
import { resolve, untypedOptions } from './highlevel.js';
import { isObjType, type ObjType } from './types.js';
import { checkProgress, checkSignal, throttle, throwIfAborted } from './stream/abort.js';
import { checkCompression, sniff } from './stream/compress.js';
import {
  incrementalOptions,
  restartFromStream,
  walkSliced,
  walkToChunks,
  writeSliced,
  writeChunks,
  type Progress,
  type StreamCheckpointOptions,
  type StreamCheckpointResult,
  type StreamRestartOptions,
} from './stream/index.js';

export * from './stream/public.js';

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

export type FileCheckpointOptions = Omit<StreamCheckpointOptions, 'end'>;

/** checkpointToFile - the image of root written atomically to path, asynchronously. */
export async function checkpointToFile<T>(path: string, root: T, type: ObjType<T>, opts?: FileCheckpointOptions): Promise<StreamCheckpointResult>;
export async function checkpointToFile(path: string, value: unknown, opts?: FileCheckpointOptions): Promise<StreamCheckpointResult>;
export async function checkpointToFile(path: string, value: unknown, type: undefined, opts?: FileCheckpointOptions): Promise<StreamCheckpointResult>;
export async function checkpointToFile(
  path: string,
  root: unknown,
  typeOrOpts?: ObjType<any> | FileCheckpointOptions,
  options?: FileCheckpointOptions,
): Promise<StreamCheckpointResult> {
  const where = 'checkpointToFile';
  const { type, opts } = resolve(typeOrOpts, options, where);
  if (typeof path !== 'string' || path.length === 0) throw new ObjHashError('EINVAL', `${where}: path must be a non-empty string`);
  const { signal, onProgress, compress, incremental: inc, sliceMs: sm, ...ctxOpts } = opts;
  const sig = checkSignal(signal, where);
  const progress = throttle(checkProgress<Progress>(onProgress, where));
  const comp = checkCompression(compress, where);
  const { incremental, sliceMs } = incrementalOptions({ incremental: inc, sliceMs: sm }, where);
  throwIfAborted(sig, where);
  // incremental: walked in slices while the temporary file is written;
  // else a snapshot walked at once (a failed walk writes nothing then)
  const w = incremental ? undefined : walkToChunks(root, type, ctxOpts);
  if (w !== undefined && w.error !== undefined) throw w.error; // nothing was written: the previous image stays
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o644).catch((e: unknown) => {
    throw ioError(`${where}: cannot create the temporary file beside ${path}`, e);
  });
  // (made after the file opened: its generator, once made, is run or returned by writeChunks)
  const sliced = incremental ? walkSliced(root, type, ctxOpts, sliceMs, { signal: sig, progress }, where) : undefined;
  let ok = false;
  try {
    // a Writable over the handle (a FileHandle's own write stream would hold it open)
    const out = new Writable({
      write(chunk: Uint8Array, _enc, cb) {
        writeAll(fh, chunk).then(() => cb(), cb);
      },
    });
    // a failed incremental walk throws here: the temporary file (up to its ERROR record) goes, the previous image stays
    if (sliced !== undefined) await writeSliced(sliced, out, { signal: sig, progress, compress: comp, end: true }, where);
    else await writeChunks(w!.chunks, out, w!, { signal: sig, progress, compress: comp, end: true }, where);
    throwIfAborted(sig, where);
    try {
      await fh.sync();
      await fh.close();
      await rename(tmp, path);
    } catch (e) {
      throw ioError(`${where}: cannot replace ${path}`, e);
    }
    ok = true;
  } finally {
    if (!ok) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    }
  }
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // some file systems cannot fsync a directory
  }
  return sliced !== undefined ? { bytes: sliced.result.bytes, objects: sliced.result.objects } : { bytes: w!.bytes, objects: w!.objects };
}

/** restartFromFile - the root of the image in path, read asynchronously (compressed images recognised). */
export async function restartFromFile<T>(path: string, type: ObjType<T>, opts?: StreamRestartOptions): Promise<T>;
export async function restartFromFile(path: string, opts?: StreamRestartOptions): Promise<unknown>;
export async function restartFromFile(path: string, type: undefined, opts?: StreamRestartOptions): Promise<unknown>;
export async function restartFromFile(path: string, typeOrOpts?: ObjType<any> | StreamRestartOptions, opts?: StreamRestartOptions): Promise<unknown> {
  const where = 'restartFromFile';
  if (typeof path !== 'string' || path.length === 0) throw new ObjHashError('EINVAL', `${where}: path must be a non-empty string`);
  // totalBytes for onProgress: the file's size when it holds the image itself (not compressed)
  let size: number | undefined;
  try {
    const fh = await open(path, 'r');
    try {
      const head = new Uint8Array(16);
      const { bytesRead } = await fh.read(head, 0, 16, 0);
      if (sniff(head.subarray(0, bytesRead)) === 'image') size = (await fh.stat()).size;
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new ObjHashError('EIO', `${where}: ${(e as Error).message}`, undefined, { cause: e });
  }
  const typed = isObjType(typeOrOpts);
  const o = ((typed ? opts : untypedOptions(typeOrOpts, opts, where)) ?? {}) as StreamRestartOptions;
  const withSize = size === undefined ? o : { totalBytes: size, ...o };
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
  return typed ? restartFromStream(stream, typeOrOpts as ObjType<unknown>, withSize) : restartFromStream(stream, withSize);
}
