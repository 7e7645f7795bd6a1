/**
 * Output for the objhash command: synchronous writes to a file descriptor,
 * buffered in small chunks, and the progress line.
 *
 * The command is synchronous (the image reader is), so it cannot use
 * process.stdout: on a pipe, writes that do not fit queue up in memory
 * until the event loop runs again, i.e. until the whole dump is done
 * (`objhash dump big.img | less` would hold all of it), and a closed pipe
 * (`| head`) is only reported afterwards.  An FdSink writes with
 * fs.writeSync: it waits for a slow reader (backpressure, memory stays at
 * one chunk) and turns EPIPE into OutputClosed at once.
 */
import * as fs from 'node:fs';
import { isatty } from 'node:tty';

/** The reader of our output went away (EPIPE): stop quietly. */
export class OutputClosed extends Error {
  constructor() {
    super('output closed');
  }
}

/** Where the command writes text. */
export interface Sink {
  /** Appends text (it may stay buffered until flush()). */
  write(s: string): void;
  /** Writes what is buffered. */
  flush(): void;
  /** True when this is a terminal. */
  readonly isTTY: boolean;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** A Sink on a file descriptor (1 or 2), written with fs.writeSync. */
export class FdSink implements Sink {
  readonly isTTY: boolean;
  private buf = '';

  constructor(
    readonly fd: number,
    private readonly chunk = 64 * 1024,
  ) {
    this.isTTY = isatty(fd);
  }

  write(s: string): void {
    this.buf += s;
    if (this.buf.length >= this.chunk) this.flush();
  }

  flush(): void {
    if (this.buf.length === 0) return;
    const b = Buffer.from(this.buf, 'utf8');
    this.buf = '';
    for (let off = 0; off < b.length; ) {
      try {
        off += fs.writeSync(this.fd, b, off, b.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // a non-blocking descriptor (shared with a stream that set O_NONBLOCK): wait for the reader
        if (code === 'EAGAIN') Atomics.wait(sleepCell, 0, 0, 2);
        else if (code === 'EPIPE') throw new OutputClosed();
        else throw e;
      }
    }
  }
}

/** Images bigger than this show a progress line (when stderr is a terminal). */
export const PROGRESS_MIN = 64 * 1024 * 1024;

/**
 * A single updating line on a terminal: "objhash verify: 42% of 96.0 MiB",
 * rewritten (\r) when the percentage changes, erased by done().  Off unless
 * the sink is a TTY and the image is over `min` bytes; update() then costs
 * one comparison.
 */
export class Progress {
  private next: number;
  private shown = false;

  constructor(
    private readonly sink: Sink,
    private readonly label: string,
    private readonly size: number,
    min = PROGRESS_MIN,
  ) {
    this.next = sink.isTTY && size > min ? 0 : Infinity;
  }

  /** Reports that the walk reached image offset `offset`. */
  update(offset: number): void {
    if (offset < this.next) return;
    const pct = Math.min(100, Math.floor((offset * 100) / this.size));
    this.sink.write(`\r${this.label}: ${pct}% of ${mib(this.size)}`);
    this.sink.flush();
    this.shown = true;
    this.next = pct >= 100 ? Infinity : Math.ceil(((pct + 1) * this.size) / 100);
  }

  /** Erases the line (before the result or an error is printed) and stops. */
  done(): void {
    this.next = Infinity;
    if (!this.shown) return;
    this.shown = false;
    this.sink.write('\r\x1b[K');
    this.sink.flush();
  }
}

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}
