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
