/**
 * What restartFromStream reads: a Node Readable, a web ReadableStream or
 * any AsyncIterable of Uint8Array chunks; and ChunkSource, the ByteSource
 * over the chunks received, so the one synchronous reader (lib/image)
 * reads them with its own rules, offsets and errors.
 */
import { ObjHashError } from '../errors.js';
import type { ByteSource } from '../image/source.js';

/** A Readable, a ReadableStream<Uint8Array> or an AsyncIterable<Uint8Array>. */
export type StreamSource = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | NodeJS.ReadableStream;

/** The chunks of source, each checked to be bytes. */
export async function* chunksOf(source: unknown, where: string): AsyncGenerator<Uint8Array> {
  const it = source as { [Symbol.asyncIterator]?: () => AsyncIterator<unknown> } | null;
  if (it === null || typeof it !== 'object' || typeof it[Symbol.asyncIterator] !== 'function')
    throw new ObjHashError('EINVAL', `${where}: source must be a Readable, a ReadableStream or an AsyncIterable of Uint8Array`);
  for await (const c of it as AsyncIterable<unknown>) {
    if (!(c instanceof Uint8Array))
      throw new ObjHashError('EINVAL', `${where}: the source gave a ${typeof c === 'string' ? 'string (a Readable with an encoding set?)' : typeof c}, not bytes`);
    yield c;
  }
}

/** A ByteSource over chunks already received (whole: size is their total). */
export class ChunkSource implements ByteSource {
  readonly size: number;
  /** chunk i covers image offsets starts[i] .. starts[i] + chunks[i].length */
  private readonly starts: number[] = [];
  private i = 0;

  constructor(private readonly chunks: readonly Uint8Array[]) {
    let n = 0;
    for (const c of chunks) {
      this.starts.push(n);
      n += c.length;
    }
    this.size = n;
  }

  read(dst: Uint8Array, offset: number, length: number, position: number): number {
    const { chunks, starts } = this;
    // positions increase: move forward from the last chunk read (back only if asked)
    while (this.i > 0 && starts[this.i]! > position) this.i--;
    while (this.i < chunks.length && starts[this.i]! + chunks[this.i]!.length <= position) this.i++;
    let done = 0;
    for (let i = this.i; i < chunks.length && done < length; i++) {
      const c = chunks[i]!;
      const from = position + done - starts[i]!;
      const n = Math.min(c.length - from, length - done);
      dst.set(c.subarray(from, from + n), offset + done);
      done += n;
    }
    return done;
  }
}

/**
 * A ByteSource over chunks still arriving (restartFromStream's window):
 * append() adds them, end() says there are no more.  Chunks wholly
 * before the position the reader asks for are let go, so it holds the
 * bytes from there to the last chunk received.  A read past the bytes
 * received before the end is a read the window cannot serve: E2BIG
 * naming options.windowBytes (restartFromStream starts an object only
 * with a window of bytes ahead of it, so only an object larger than the
 * window gets there).  The size is unknown (-1): the reader grows its
 * buffer only as bytes arrive.
 */
export class WindowSource implements ByteSource {
  readonly size = -1;
  private chunks: Uint8Array[] = [];
  private first = 0;
  /** image offset of chunks[first] */
  private start = 0;
  /** image offset just past the last byte received */
  received = 0;
  ended = false;

  constructor(private readonly window: number, private readonly where: string) {}

  append(c: Uint8Array): void {
    if (c.length === 0) return;
    this.chunks.push(c);
    this.received += c.length;
  }

  end(): void {
    this.ended = true;
  }

  /** Bytes held (received, not yet let go). */
  get held(): number {
    return this.received - this.start;
  }

  read(dst: Uint8Array, offset: number, length: number, position: number): number {
    // let go of the chunks before position
    while (this.first < this.chunks.length && this.start + this.chunks[this.first]!.length <= position) {
      this.start += this.chunks[this.first]!.length;
      this.chunks[this.first++] = undefined as never;
    }
    if (this.first > 1024 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
    if (position >= this.received) {
      if (this.ended) return 0;
      throw new ObjHashError(
        'E2BIG',
        `${this.where}: at offset ${position}, one object with what its restore reads needs more than options.windowBytes (${this.window}) bytes at once; give a larger window`,
        position,
      );
    }
    let done = 0;
    let at = this.start;
    for (let i = this.first; i < this.chunks.length && done < length; i++) {
      const c = this.chunks[i]!;
      const end = at + c.length;
      if (end > position + done) {
        const from = position + done - at;
        const n = Math.min(c.length - from, length - done);
        dst.set(c.subarray(from, from + n), offset + done);
        done += n;
      }
      at = end;
    }
    return done;
  }
}
