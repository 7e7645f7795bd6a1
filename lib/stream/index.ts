/**
 * Async checkpoint and restart over Node streams (issue #15).
 *
 * Consistency: a checkpoint is a snapshot.  The object walk runs
 * synchronously, as in checkpoint(): no other JS runs while it reads the
 * graph, so the image is the state at one instant (the kernel gets the
 * same by freezing the tasks it checkpoints).  The walk writes into
 * memory (the image's size), then the chunks go to the destination
 * asynchronously, honouring backpressure; the event loop is blocked for
 * the walk only, not for the I/O.  With options.incremental the walk
 * itself runs in slices (walkSliced): for applications that promise not
 * to change the graph until the call settles; each slice's chunks are
 * pulled by the destination before the next slice runs.  A restart reads its source
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
import { RestartContext, restartSeam } from '../context/restart.js';
import type { ObjType } from '../types.js';
import { AbortError, checkProgress, checkSignal, raceAbort, throttle, throwIfAborted } from './abort.js';
import { checkCompression, compressor, decompressor, sniff, type Compression } from './compress.js';
import { checkHeaderPrefix } from '../image/reader.js';
import { ChunkSource, WindowSource, chunksOf, type StreamSource } from './sources.js';

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
  totalBytes?: number | undefined;
}

export interface AsyncOptions {
  /** Aborting rejects the call with an AbortError (name 'AbortError', the reason as cause). */
  signal?: AbortSignal | undefined;
  onProgress?: ((p: Progress) => void) | undefined;
}

export interface StreamCheckpointOptions extends Omit<CheckpointOptions, 'sink' | 'deferWalk'>, AsyncOptions {
  /**
   * Walk the graph in slices of about sliceMs, writing each slice's
   * records before the next and yielding to the event loop between them
   * (bounded delay and memory).  The application must not change the
   * graph until the call settles (see "In a server" in the README).
   * Objects of fields types and plain values come in slices; an object of
   * a hand-written type is written with all its checkpoint reaches by
   * recursion, in one slice.  Default false: one synchronous snapshot walk.
   */
  incremental?: boolean | undefined;
  /** With incremental: milliseconds per slice (default 10). */
  sliceMs?: number | undefined;
  /** Compress the image on its way out (zstd where node:zlib has it). */
  compress?: Compression | undefined;
  /** End the destination when the image is written (default true, as stream.pipeline does). */
  end?: boolean | undefined;
}

export interface StreamRestartOptions extends ContextOptions, AsyncOptions {
  /** The source is compressed with this; gzip and zstd are also recognised by their first bytes, brotli only when named. */
  compress?: Compression | undefined;
  /** Refuse (E2BIG) a source whose image is larger (default 1 GiB). */
  maxImageBytes?: number | undefined;
  /**
   * Restore while the image arrives, holding at most about this many
   * bytes of it (default: maxImageBytes, so an image that fits is
   * received whole first).  Each object restored from the walker's queue
   * (fields types, plain values in records of their own) starts with a
   * window of bytes ahead of it; one object with what its restore reads
   * (a hand-written type's object and all it holds, a plain value's
   * record) larger than the window is E2BIG naming this option.
   */
  windowBytes?: number | undefined;
  /** The image's size, when the caller knows it (for onProgress). */
  totalBytes?: number | undefined;
  /**
   * Restore in slices of about this many milliseconds, yielding to the
   * event loop between them (default 10).  Objects written from the
   * walker's queue (fields types) come one by one; an object of a
   * hand-written type restores with everything it holds, in one slice.
   */
  sliceMs?: number | undefined;
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

/** Bytes buffered before a chunk leaves an incremental walk (unless highWaterMark is given). */
const SLICED_HWM = 64 * 1024;

/** options.sliceMs, checked (default DEFAULT_SLICE_MS). */
function sliceOption(v: unknown, where: string): number {
  const sliceMs = v ?? DEFAULT_SLICE_MS;
  if (typeof sliceMs !== 'number' || !(sliceMs >= 0)) throw new ObjHashError('EINVAL', `${where}: options.sliceMs must be a number >= 0`);
  return sliceMs;
}

/** options.incremental and options.sliceMs, checked. */
export function incrementalOptions(o: { incremental?: unknown; sliceMs?: unknown }, where: string): { incremental: boolean; sliceMs: number } {
  if (o.incremental !== undefined && typeof o.incremental !== 'boolean') throw new ObjHashError('EINVAL', `${where}: options.incremental must be a boolean`);
  return { incremental: o.incremental === true, sliceMs: sliceOption(o.sliceMs, where) };
}

/** What an incremental walk tells its caller once its chunks are consumed. */
export interface SlicedWalk {
  chunks: AsyncGenerator<Uint8Array>;
  /** Set when the generator has returned. */
  result: { bytes: number; objects: number; error: unknown; done: boolean };
  /**
   * Settles once the walk let go of everything: frees the hash if the
   * generator never ran, else waits for it to finish (its finally frees
   * the hash if the walk did not end; an abort may come while it awaits).
   */
  close(): Promise<void>;
}

/**
 * The image of root as an async generator of chunks, walked in slices of
 * about sliceMs (the event loop runs between them): the consumer pulls,
 * so a slow destination holds the walk back (backpressure).  A failed
 * walk yields the image up to its ERROR record and sets result.error; an
 * abandoned generator (an abort, a destination that failed) frees the
 * hash, dropping every grab once.
 */
export function walkSliced<T>(root: T, type: ObjType<T>, opts: Omit<CheckpointOptions, 'sink' | 'deferWalk'>, sliceMs: number, o: { signal?: AbortSignal; progress: (p: Progress, last?: boolean) => void }, where: string): SlicedWalk {
  const result = { bytes: 0, objects: 0, error: undefined as unknown, done: false };
  let out: Uint8Array[] = [];
  const ctx = new CheckpointContext({
    highWaterMark: SLICED_HWM,
    ...opts,
    deferWalk: true,
    sink: (c) => {
      out.push(c);
      result.bytes += c.length;
    },
  });
  function take(): Uint8Array[] {
    const t = out;
    out = [];
    return t;
  }
  let started = false;
  /** An error thrown in at a yield is the consumer's (a destination that failed), not the walk's. */
  let yielding = false;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    started = true;
    let settled = false;
    try {
      try {
        ctx.checkpointObj(root, type);
        // making the context (its tables) and the root's first run were a slice
        await new Promise((resolve) => setImmediate(resolve));
        throwIfAborted(o.signal, where);
        while (!ctx.walkSome(sliceMs)) {
          result.objects = ctx.count;
          for (const c of take()) {
            yielding = true;
            yield c;
            yielding = false;
          }
          o.progress({ objects: ctx.count, bytes: result.bytes });
          await new Promise((resolve) => setImmediate(resolve));
          throwIfAborted(o.signal, where);
        }
        result.objects = ctx.count;
        ctx.finish();
      } catch (e) {
        // the consumer's failure: the finally below frees the hash (every grab dropped once)
        if (yielding) throw e;
        result.error = e;
        result.objects = ctx.count;
        if (o.signal?.aborted) throw e;
        try {
          ctx.fail(e);
        } catch {
          // a drop that throws while cleaning up: the first error wins
        }
      }
      settled = true;
      for (const c of take()) yield c;
      o.progress({ objects: result.objects, bytes: result.bytes, totalBytes: result.bytes }, true);
      result.done = true;
    } finally {
      if (!settled) ctx[Symbol.dispose]();
    }
  }
  const gen = chunks();
  return {
    chunks: gen,
    result,
    close: async () => {
      if (!started) ctx[Symbol.dispose]();
      else await gen.return(undefined).catch(() => {});
    },
  };
}

/**
 * Writes an incremental walk to dest (writeChunks) and settles once the
 * walk let go of everything: with its size and object count, or the
 * walk's own error (a failed walk's image, up to its ERROR record, is
 * written first), or the destination's or the abort's.
 */
export async function writeSliced(
  s: SlicedWalk,
  dest: NodeJS.WritableStream | WritableStream<Uint8Array>,
  o: { signal?: AbortSignal; progress: (p: Progress, last?: boolean) => void; compress?: Compression; end?: boolean },
  where: string,
): Promise<StreamCheckpointResult> {
  try {
    await writeChunks(s.chunks, dest, s.result, o, where);
  } catch (e) {
    // the walk's own error, if it failed before the destination did
    if (s.result.error !== undefined && !o.signal?.aborted) throw s.result.error;
    throw e;
  } finally {
    await s.close();
  }
  if (s.result.error !== undefined) throw s.result.error;
  return { bytes: s.result.bytes, objects: s.result.objects };
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
  chunks: Uint8Array[] | AsyncGenerator<Uint8Array>,
  dest: NodeJS.WritableStream | WritableStream<Uint8Array>,
  info: { bytes: number; objects: number },
  o: { signal?: AbortSignal; progress: (p: Progress, last?: boolean) => void; compress?: Compression; end?: boolean },
  where: string,
): Promise<void> {
  const out: NodeJS.WritableStream = dest instanceof WritableStream ? Writable.fromWeb(dest) : dest;
  const gen = Array.isArray(chunks) ? feed(chunks, info.bytes, info.objects, o.progress) : chunks;
  const source = Readable.from(gen, { objectMode: false });
  const stages: NodeJS.ReadWriteStream[] = o.compress !== undefined ? [compressor(o.compress)] : [];
  try {
    await raceAbort(pipeline([source, ...stages, out] as never, { signal: o.signal, end: o.end ?? true } as never), o.signal);
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
export async function checkpointToStream(dest: NodeJS.WritableStream | WritableStream<Uint8Array>, value: unknown, type: undefined, opts?: StreamCheckpointOptions): Promise<StreamCheckpointResult>;
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
  const { end, incremental: inc, sliceMs: sm, ...ctxOpts } = rest as typeof rest & { end?: boolean };
  const { incremental, sliceMs } = incrementalOptions({ incremental: inc, sliceMs: sm }, where);
  throwIfAborted(signal, where);
  if (incremental) return writeSliced(walkSliced(root, r.type, ctxOpts, sliceMs, { signal, progress }, where), dest, { signal, progress, compress, end }, where);
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
  let fed = 0;
  async function* all(): AsyncGenerator<Uint8Array> {
    fed += first.length;
    if (first.length > 0) yield first;
    if (done) return;
    for (;;) {
      const x = await it.next();
      if (x.done) return;
      fed += x.value.length;
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
  // brotli and zstd stop at the end of their stream and say nothing of bytes after it
  const used = (d as unknown as { bytesWritten: number }).bytesWritten;
  if (used < fed) throw new ObjHashError('EIO', `${where}: the ${kind} stream is corrupt: ${fed - used} bytes follow its end`);
}

/**
 * Pulls the image from a source, decompressed, one chunk at a time; the
 * event loop runs while it waits.  More than `max` bytes is E2BIG,
 * source failures are EIO, an abort the AbortError.
 */
class Receiver {
  bytes = 0;
  done = false;
  /** The first 16 bytes received. */
  private readonly head = new Uint8Array(16);
  private readonly readable: Readable;
  private readonly it: AsyncIterator<Uint8Array>;

  constructor(
    private readonly source: unknown,
    private readonly o: { signal?: AbortSignal; progress: (p: Progress, last?: boolean) => void; compress?: Compression; max: number; total?: number },
    private readonly where: string,
  ) {
    this.readable = Readable.from(chunksOf(source, where), { objectMode: true });
    if (o.signal !== undefined) addAbortSignal(o.signal, this.readable);
    this.it = decoded(this.readable, o.compress, where)[Symbol.asyncIterator]();
  }

  /** The next chunk, or undefined at the end. */
  async next(): Promise<Uint8Array | undefined> {
    const { o, where } = this;
    try {
      // an abort ends the wait at once, even for a source that sends nothing
      const x = await raceAbort(this.it.next(), o.signal);
      if (x.done) {
        this.done = true;
        return undefined;
      }
      if (this.bytes < 16) {
        // the HEADER's fixed bytes as they come (the reader checks them again)
        const n = Math.min(16 - this.bytes, x.value.length);
        this.head.set(x.value.subarray(0, n), this.bytes);
        checkHeaderPrefix(this.head, this.bytes + n);
      }
      this.bytes += x.value.length;
      if (this.bytes > o.max) throw new ObjHashError('E2BIG', `${where}: the image is larger than ${o.max} bytes (options.maxImageBytes)`, o.max);
      o.progress({ objects: 0, bytes: this.bytes, totalBytes: o.total });
      return x.value;
    } catch (e) {
      this.close();
      if (o.signal?.aborted) throw new AbortError(`${where}: aborted`, { cause: o.signal.reason });
      if (e instanceof ObjHashError) throw e;
      throw new ObjHashError('EIO', `${where}: reading the image failed after ${this.bytes} bytes: ${e instanceof Error ? e.message : String(e)}`, this.bytes, { cause: e });
    }
  }

  /**
   * Stops reading the source (a restore that failed, an abort): a Node
   * stream is destroyed at once (its pending read may never end, and our
   * iterator's return waits for it); a web stream is cancelled when it is
   * not locked to a pending read.
   */
  close(): void {
    this.readable.destroy();
    const src = this.source as { destroy?: unknown; locked?: unknown; cancel?: unknown };
    if (typeof src?.destroy === 'function') (src as NodeJS.ReadableStream & { destroy(): void }).destroy();
    else if (src instanceof ReadableStream && !src.locked) src.cancel().catch(() => {});
  }
}

/**
 * restartFromStream - the root of the image a source delivers (a Node
 * Readable, a web ReadableStream or an AsyncIterable of Uint8Array),
 * read asynchronously, then restored as restart() does (see the top of
 * this file).  gzip and zstd images are recognised and decompressed.
 */
export async function restartFromStream<T>(source: StreamSource, type: ObjType<T>, opts?: StreamRestartOptions): Promise<T>;
export async function restartFromStream(source: StreamSource, opts?: StreamRestartOptions): Promise<unknown>;
export async function restartFromStream(source: StreamSource, type: undefined, opts?: StreamRestartOptions): Promise<unknown>;
export async function restartFromStream(source: StreamSource, typeOrOpts?: ObjType<any> | StreamRestartOptions, opts?: StreamRestartOptions): Promise<unknown> {
  const where = 'restartFromStream';
  const r = resolve(typeOrOpts, opts, where);
  const { signal, progress, compress, rest } = asyncOptions(r.opts, where);
  const { maxImageBytes, totalBytes, sliceMs: slice, windowBytes, ...ctxOpts } = rest as typeof rest & { maxImageBytes?: number; totalBytes?: number; sliceMs?: number; windowBytes?: number };
  const sliceMs = sliceOption(slice, where);
  const max = maxImageBytes ?? DEFAULT_MAX_IMAGE;
  if (!Number.isSafeInteger(max) || max < 1) throw new ObjHashError('EINVAL', `${where}: options.maxImageBytes must be a positive integer`);
  const window = windowBytes ?? max;
  if (!Number.isSafeInteger(window) || window < 1) throw new ObjHashError('EINVAL', `${where}: options.windowBytes must be a positive integer`);
  throwIfAborted(signal, where);
  const rx = new Receiver(source, { signal, progress, compress, max, total: totalBytes }, where);
  // the image's first window (all of it, when it fits)
  const first: Uint8Array[] = [];
  let held = 0;
  for (let c; held < window && (c = await rx.next()) !== undefined; held += c.length) first.push(c);
  throwIfAborted(signal, where);
  let src: ChunkSource | WindowSource;
  if (rx.done) src = new ChunkSource(first); // whole: restored as restart() would, with the size known
  else {
    const w = new WindowSource(window, where);
    for (const c of first) w.append(c);
    first.length = 0;
    src = w;
  }
  /** Reads until the window ahead of `at` is full or the source ends. */
  const fillFrom = async (at: number): Promise<boolean> => {
    if (!(src instanceof WindowSource)) return false;
    let pulled = false;
    while (!src.ended && src.received - at < window) {
      const c = await rx.next();
      pulled = true;
      if (c === undefined) src.end();
      else src.append(c);
    }
    return pulled;
  };
  const typed = typeOrOpts !== undefined && r.type === typeOrOpts;
  let ctx: RestartContext | undefined;
  try {
    ctx = new RestartContext(src, { ...ctxOpts, deferRead: true });
    restartSeam.beginRoot(ctx, typed ? r.type : undefined);
    // the objects written from the walker's queue (and those nested in a
    // nestedFirst root) restore in slices, the event loop running between
    // them; with a window, each starts with a window of bytes ahead of it
    for (;;) {
      const pulled = await fillFrom(ctx.offset);
      // the loop runs between slices (the first came with the context and the root)
      if (!pulled) await new Promise((resolve) => setImmediate(resolve));
      throwIfAborted(signal, where);
      // an object starts only with `window` bytes received ahead of it
      const before = src instanceof WindowSource && !src.ended ? src.received - window + 1 : Infinity;
      if (ctx.finishSome(sliceMs, before)) break;
      progress({ objects: ctx.count, bytes: rx.bytes, totalBytes: totalBytes ?? (rx.done ? rx.bytes : undefined) });
    }
  } catch (e) {
    rx.close();
    try {
      ctx?.[Symbol.dispose]();
    } catch {
      // the first error wins
    }
    throw e;
  }
  progress({ objects: ctx.count, bytes: rx.bytes, totalBytes: rx.bytes }, true);
  return restartSeam.root(ctx);
}
