/**
 * A payload writer and reader over plain bytes, outside any image: for the
 * schema's own bytes (encoding.ts) and for replaying a failed record to
 * find the field at fault (runtime.ts).
 */
import { ObjHashError } from '../errors.js';
import { REC } from '../image/format.js';
import { PayloadReader } from '../image/payload-reader.js';
import { PayloadWriter } from '../image/payload-writer.js';

/** A PayloadWriter over a growing buffer of its own, with a "record" always open. */
export class BytesWriter extends PayloadWriter {
  constructor() {
    super(256, 0x7fffffff);
    this.depth_ = 1;
    this.curType = REC.HEADER;
    this.limit = this.buf.length;
  }
  get offset(): number {
    return this.pos;
  }
  protected noRecord(): never {
    throw new ObjHashError('EINVAL', 'schema encoder: no record');
  }
  take(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
  /** Drops what was written (the buffer stays), for the next scratch write. */
  rewind(): void {
    this.pos = 0;
  }
}

/** A PayloadReader over bytes, all of them one payload; copies out what it returns. */
export class BytesReader extends PayloadReader {
  constructor(b: Uint8Array) {
    super(b, true);
    this.type = REC.HEADER;
    this.recOffset = 0;
    this.recStart = 0;
    this.len = b.length;
    this.payEnd = b.length;
  }
  get offset(): number {
    return this.pos;
  }
}
