/**
 * ByteSource: where an ImageReader pulls image bytes from when the image
 * is not one Uint8Array in memory.  The reader keeps a window buffer and
 * asks the source to fill it; the source only copies bytes.
 */
import * as fs from 'node:fs';
import { ObjHashError } from '../errors.js';

export interface ByteSource {
  /**
   * Total bytes in the source when known (a regular file's fstat size),
   * else -1.  The reader checks record lengths against it before
   * allocating; with -1 it grows its window only as bytes arrive.
   */
  readonly size: number;
  /** Window size the reader should start with (optional hint, bytes). */
  readonly windowSize?: number;
  /**
   * Copies up to `length` bytes starting at image offset `position` into
   * `dst[offset..]`; returns how many (0 only at the end of the source).
   * The reader asks for increasing, contiguous positions.
   */
  read(dst: Uint8Array, offset: number, length: number, position: number): number;
  /** Releases the source (closes a file it opened). */
  close?(): void;
}

export interface FileSourceOptions {
  /** Initial reader window in bytes (default 256 KiB). */
  windowSize?: number | undefined;
}

/**
 * A file read with fs.readSync.  Pass a path (opened read-only, closed by
 * close()) or an open file descriptor (not closed by close()).  Regular
 * files are read with positional reads; other files (pipes) sequentially,
 * with size -1.
 */
export class FileSource implements ByteSource {
  readonly fd: number;
  readonly size: number;
  readonly windowSize: number;
  private readonly owned: boolean;
  private readonly positional: boolean;
  private closed = false;

  constructor(file: string | number, opts: FileSourceOptions = {}) {
    const w = opts.windowSize ?? 256 * 1024;
    if (!Number.isInteger(w) || w < 16) {
      throw new ObjHashError('EINVAL', `FileSource: windowSize must be an integer >= 16, got ${String(w)}`);
    }
    this.windowSize = w;
    const what = typeof file === 'number' ? `file descriptor ${file}` : `image file '${file}'`;
    if (typeof file === 'number') {
      this.fd = file;
      this.owned = false;
    } else {
      try {
        this.fd = fs.openSync(file, 'r');
      } catch (e) {
        throw new ObjHashError('EIO', `cannot open ${what}: ${(e as Error).message}`, undefined, { cause: e });
      }
      this.owned = true;
    }
    try {
      const st = fs.fstatSync(this.fd);
      this.positional = st.isFile();
      this.size = this.positional ? st.size : -1;
    } catch (e) {
      if (this.owned) fs.closeSync(this.fd);
      throw new ObjHashError('EIO', `cannot stat ${what}: ${(e as Error).message}`, undefined, { cause: e });
    }
  }

  read(dst: Uint8Array, offset: number, length: number, position: number): number {
    if (this.closed) throw new ObjHashError('EBADF', 'FileSource: read after close', position);
    return fs.readSync(this.fd, dst, offset, length, this.positional ? position : null);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) fs.closeSync(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
