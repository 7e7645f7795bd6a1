/**
 * Async checkpoint and restart over Node streams (issue #15).
 *
 * Consistency: a checkpoint is a snapshot.  The object walk runs
 * synchronously, as in checkpoint(): no other JS runs while it reads the
 * graph, so the image is the state at one instant (the kernel gets the
 * same by freezing the tasks it checkpoints).  The walk writes into
 * memory (the image's size), then the chunks go to the destination
 * asynchronously, honouring backpressure; the event loop is blocked for
 * the walk only, not for the I/O.  A restart reads its source
 * asynchronously (the event loop runs between chunks), then restores
 * synchronously from the chunks received, with the one image reader of
 * lib/image (the same rules, error codes and offsets as restart()); the
 * objects are private to the call until it returns.
 */
import { Readable, Writable, addAbortSignal } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CheckpointContext } from '../context/checkpoint.js';
import type { CheckpointOptions, ContextOptions } from '../context/options.js';
import { ObjHashError } from '../errors.js';
import { resolve, run } from '../highlevel.js';
import { RestartContext } from '../context/restart.js';
import type { ObjType } from '../types.js';
import { AbortError, checkProgress, checkSignal, throttle, throwIfAborted } from './abort.js';
import { checkCompression, compressor, decompressor, sniff, type Compression } from './compress.js';
import { ChunkSource, chunksOf, type StreamSource } from './sources.js';

export { AbortError } from './abort.js';
export { zstdAvailable, type Compression } from './compress.js';
export type { StreamSource } from './sources.js';

/** What onProgress is told (throttled: at most every 100 ms, and once at the end). */
export interface Progress {
  /** Objects checkpointed or restored so far (known once the walk or the restore has run). */
  objects: number;
  /** Image bytes written or received so far (before compression / after decompression). */
  bytes: number;
  /** The image's size, when known. */
  totalBytes?: number;
}

export interface AsyncOptions {
  /** Aborting rejects the call with an AbortError (name 'AbortError', the reason as cause). */
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export interface StreamCheckpointOptions extends Omit<CheckpointOptions, 'sink'>, AsyncOptions {
  /** Compress the image on its way out (zstd where node:zlib has it). */
  compress?: Compression;
  /** End the destination when the image is written (default true, as stream.pipeline does). */
  end?: boolean;
}

export interface StreamRestartOptions extends ContextOptions, AsyncOptions {
  /** The source is compressed with this; gzip and zstd are also recognised by their first bytes, brotli only when named. */
  compress?: Compression;
  /** Refuse (E2BIG) a source whose image is larger (default 1 GiB). */
  maxImageBytes?: number;
  /** The image's size, when the caller knows it (for onProgress). */
  totalBytes?: number;
  /**
   * Restore in slices of about this many milliseconds, yielding to the
   * event loop between them (default 10).  Objects written from the
   * walker's queue (fields types) come one by one; an object of a
   * hand-written type restores with everything it holds, in one slice.
   */
  sliceMs?: number;
}

export interface StreamCheckpointResult {
  /** Image bytes (before compression). */
  bytes: number;
  /** Objects in the image. */
  objects: number;
}

const DEFAULT_MAX_IMAGE = 1024 * 1024 * 1024;
const DEFAULT_SLICE_MS = 10;

/** The options of the async calls, checked, and what is left for the context. */
function asyncOptions<O extends AsyncOptions & { compress?: Compression }>(o: O, where: string) {
  const { signal, onProgress, compress, ...rest } = o;
  return {
    signal: checkSignal(signal, where),
    progress: throttle(checkProgress<Progress>(onProgress, where)),
    compress: checkCompression(compress, where),
    rest,
  };
}

/**
 * The image of root, walked synchronously into chunks (see the top of
 * this file).  A failed walk gives the chunks up to an ERROR record, as a
 * sink of checkpoint() receives them, and the error.
 */
export function walkToChunks<T>(
  root: T,
  type: ObjType<T>,
  opts: Omit<CheckpointOptions, 'sink'>,
): { chunks: Uint8Array[]; bytes: number; objects: number; error: unknown } {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const ctx = new CheckpointContext({
    ...opts,
    sink: (c) => {
      chunks.push(c);
      bytes += c.length;
    },
  });
  try {
    run(ctx, root, type);
  } catch (error) {
    return { chunks, bytes, objects: ctx.count, error };
  }
  return { chunks, bytes, objects: ctx.count, error: undefined };
}

/** The chunks, one by one, released as they go, reporting progress. */
async function* feed(chunks: Uint8Array[], total: number, objects: number, progress: (p: Progress, last?: boolean) => void): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    chunks[i] = undefined as never;
    yield c;
    bytes += c.length;
    progress({ objects, bytes, totalBytes: total });
  }
  progress({ objects, bytes, totalBytes: total }, true);
}

/** Writes chunks to dest through an optional compressor, with backpressure; rejects with AbortError on abort. */
export async function writeChunks(
  chunks: Uint8Array[],
  dest: NodeJS.WritableStream | WritableStream<Uint8Array>,
  info: { bytes: number; objects: number },
  o: { signal?: AbortSignal; progress: (p: Progress, last?: boolean) => void; compress?: Compression; end?: boolean },
  where: string,
): Promise<void> {
  const out: NodeJS.WritableStream = dest instanceof WritableStream ? Writable.fromWeb(dest) : dest;
  const source = Readable.from(feed(chunks, info.bytes, info.objects, o.progress), { objectMode: false });
  const stages: NodeJS.ReadWriteStream[] = o.compress !== undefined ? [compressor(o.compress)] : [];
  try {
    await pipeline([source, ...stages, out] as never, { signal: o.signal, end: o.end ?? true } as never);
  } catch (e) {
    if (o.signal?.aborted) throw new AbortError(`${where}: aborted`, { cause: o.signal.reason });
    throw new ObjHashError('EIO', `${where}: writing the image failed: ${e instanceof Error ? e.message : String(e)}`, undefined, { cause: e });
  }
}

/**
 * checkpointToStream - the image of root written to a Writable (or a web
 * WritableStream): a snapshot walked synchronously, then written with
 * backpressure (see the top of this file).  Resolves with its size and
 * object count.  A failed walk writes the image up to its ERROR record
 * (a restart of it fails with that message) and rejects with the error.
 */
export async function checkpointToStream<T>(dest: NodeJS.WritableStream | WritableStream<Uint8Array>, root: T, type: ObjType<T>, opts?: StreamCheckpointOptions): Promise<StreamCheckpointResult>;
export async function checkpointToStream(dest: NodeJS.WritableStream | WritableStream<Uint8Array>, value: unknown, opts?: StreamCheckpointOptions): Promise<StreamCheckpointResult>;
export async function checkpointToStream(
  dest: NodeJS.WritableStream | WritableStream<Uint8Array>,
  root: unknown,
  typeOrOpts?: ObjType<any> | StreamCheckpointOptions,
  opts?: StreamCheckpointOptions,
): Promise<StreamCheckpointResult> {
  const where = 'checkpointToStream';
  const r = resolve(typeOrOpts, opts, where);
  const isWritable = dest instanceof WritableStream || (typeof dest === 'object' && dest !== null && typeof (dest as Writable).write === 'function');
  if (!isWritable) throw new ObjHashError('EINVAL', `${where}: dest must be a Writable or a WritableStream`);
  const { signal, progress, compress, rest } = asyncOptions(r.opts, where);
  const { end, ...ctxOpts } = rest as typeof rest & { end?: boolean };
  throwIfAborted(signal, where);
  const w = walkToChunks(root, r.type, ctxOpts);
  throwIfAborted(signal, where);
  await writeChunks(w.chunks, dest, w, { signal, progress, compress, end }, where);
  if (w.error !== undefined) throw w.error;
  return { bytes: w.bytes, objects: w.objects };
}

/** The decompressed chunks of the source (gzip/zstd recognised, or opts' compress). */
async function* decoded(src: AsyncIterable<Uint8Array>, compress: Compression | undefined, where: string): AsyncGenerator<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let n = 0;
  let done = false;
  while (n < 16) {
    const x = await it.next();
    if (x.done) {
      done = true;
      break;
    }
    head.push(x.value);
    n += x.value.length;
  }
  const first = head.length === 1 ? head[0]! : Buffer.concat(head);
  const seen = sniff(first);
  // an image as it is needs no decompressing, whatever opts said
  const kind = seen === 'image' ? undefined : compress ?? (seen === 'gzip' || seen === 'zstd' ? seen : undefined);
  async function* all(): AsyncGenerator<Uint8Array> {
    if (first.length > 0) yield first;
    if (done) return;
    for (;;) {
      const x = await it.next();
      if (x.done) return;
      yield x.value;
    }
  }
  if (kind === undefined) {
    yield* all();
    return;
  }
  if (kind === 'zstd') checkCompression('zstd', where);
  const d = decompressor(kind);
  const input = Readable.from(all(), { objectMode: false });
  let sourceError: unknown;
  input.on('error', (e) => {
    sourceError = e;
    d.destroy(e);
  });
  input.pipe(d);
  try {
    for await (const c of d) yield c as Uint8Array;
  } catch (e) {
    if (e === sourceError) throw e; // the source failed (receive() says so)
    throw new ObjHashError('EIO', `${where}: the ${kind} stream is corrupt: ${(e as Error).message}`, undefined, { cause: e });
  }
}

/**
 * Receives the image: its chunks in memory (at most maxImageBytes), the
 * event loop running between them.  Source failures are EIO, an abort
 * the AbortError.
 */
export async function receive(
  source: unknown,
  o: { signal?: AbortSignal; progress: (p: Progress, last?: boolean) => void; compress?: Compression; max: number; total?: number },
  where: string,
): Promise<Uint8Array[]> {
  const readable = Readable.from(chunksOf(source, where), { objectMode: true });
  if (o.signal !== undefined) addAbortSignal(o.signal, readable);
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    for await (const c of decoded(readable, o.compress, where)) {
      bytes += c.length;
      if (bytes > o.max)
        throw new ObjHashError('E2BIG', `${where}: the image is larger than ${o.max} bytes (options.maxImageBytes)`, o.max);
      chunks.push(c);
      o.progress({ objects: 0, bytes, totalBytes: o.total });
    }
  } catch (e) {
    readable.destroy();
    if (o.signal?.aborted) throw new AbortError(`${where}: aborted`, { cause: o.signal.reason });
    if (e instanceof ObjHashError) throw e;
    throw new ObjHashError('EIO', `${where}: reading the image failed after ${bytes} bytes: ${e instanceof Error ? e.message : String(e)}`, bytes, { cause: e });
  }
  return chunks;
}

/**
 * restartFromStream - the root of the image a source delivers (a Node
 * Readable, a web ReadableStream or an AsyncIterable of Uint8Array),
 * read asynchronously, then restored as restart() does (see the top of
 * this file).  gzip and zstd images are recognised and decompressed.
 */
export async function restartFromStream<T>(source: StreamSource, type: ObjType<T>, opts?: StreamRestartOptions): Promise<T>;
export async function restartFromStream(source: StreamSource, opts?: StreamRestartOptions): Promise<unknown>;
export async function restartFromStream(source: StreamSource, typeOrOpts?: ObjType<any> | StreamRestartOptions, opts?: StreamRestartOptions): Promise<unknown> {
  const where = 'restartFromStream';
  const r = resolve(typeOrOpts, opts, where);
  const { signal, progress, compress, rest } = asyncOptions(r.opts, where);
  const { maxImageBytes, totalBytes, sliceMs: slice, ...ctxOpts } = rest as typeof rest & { maxImageBytes?: number; totalBytes?: number; sliceMs?: number };
  const sliceMs = slice ?? DEFAULT_SLICE_MS;
  if (typeof sliceMs !== 'number' || !(sliceMs >= 0)) throw new ObjHashError('EINVAL', `${where}: options.sliceMs must be a number >= 0`);
  const max = maxImageBytes ?? DEFAULT_MAX_IMAGE;
  if (!Number.isSafeInteger(max) || max < 1) throw new ObjHashError('EINVAL', `${where}: options.maxImageBytes must be a positive integer`);
  throwIfAborted(signal, where);
  const chunks = await receive(source, { signal, progress, compress, max, total: totalBytes }, where);
  throwIfAborted(signal, where);
  const src = new ChunkSource(chunks);
  const typed = typeOrOpts !== undefined && r.type === typeOrOpts;
  const ctx = new RestartContext(src, ctxOpts);
  let root: unknown;
  try {
    root = ctx.restoreObj(typed ? r.type : undefined);
    // the objects written from the walker's queue restore in slices, the
    // event loop running between them
    while (!ctx.finishSome(sliceMs)) {
      await new Promise((resolve) => setImmediate(resolve));
      throwIfAborted(signal, where);
      progress({ objects: ctx.count, bytes: src.size, totalBytes: src.size });
    }
  } catch (e) {
    try {
      ctx[Symbol.dispose]();
    } catch {
      // the first error wins
    }
    throw e;
  }
  progress({ objects: ctx.count, bytes: src.size, totalBytes: src.size }, true);
  return root;
}
