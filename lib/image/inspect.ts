/**
 * inspectImage - a structural walk over an image, without restoring it:
 * header, record counts and bytes by type, objects by objtype, and whether
 * the image is valid (structure, objrefs, TAIL count and CRC).
 */
import { ObjHashError } from '../errors.js';
import { REC, recordTypeName, type TypeEntry } from './format.js';
import { ImageReader } from './reader.js';
import { FileSource } from './source.js';
import { defaultBackend, getBackend, type ImplName } from '../backend/loader.js';

export interface RecordStats {
  type: number;
  name: string;
  count: number;
  /** bytes including record headers and padding */
  bytes: number;
}

export interface ImageInfo {
  version: number;
  flags: number;
  types: TypeEntry[];
  /** bytes walked (the whole image when valid) */
  bytes: number;
  records: RecordStats[];
  objects: { objtype: number; name: string; count: number }[];
  tail: { count: number; crc: number } | undefined;
  /** message of an ERROR record (a failed checkpoint), if any */
  errorRecord: string | undefined;
  valid: boolean;
  /** why the image is not valid */
  error: ObjHashError | undefined;
}

export interface InspectOptions {
  impl?: ImplName;
  maxRecord?: number;
  /**
   * Called for each record as it is walked (e.g. for a dump), before the
   * walk checks it (an OBJREF's objtype and objref, TAIL's CRC): the hook
   * may read the payload.  `info` is the report so far (the header fields
   * are set from the HEADER record on).
   */
  onRecord?: (rec: { type: number; len: number; offset: number }, reader: ImageReader, info: Readonly<ImageInfo>) => void;
}

/**
 * The objrefs defined so far: a bitmap while they are dense (as the
 * checkpoint context numbers them, 1, 2, 3...), so a walk over millions of
 * objects costs a bit each instead of a Set entry; outliers far above the
 * count go to a Set, so an image cannot make the bitmap big.
 */
class ObjrefSet {
  private bits = new Uint8Array(8192);
  private readonly sparse = new Set<number>();
  size = 0;

  /** Adds objref (> 0); false if it was already there. */
  add(objref: number): boolean {
    if (objref >= this.bits.length * 8 && objref < 64 * (this.size + 1024)) {
      let n = this.bits.length;
      while (objref >= n * 8) n *= 2;
      const b = new Uint8Array(n);
      b.set(this.bits);
      this.bits = b;
    }
    if (objref < this.bits.length * 8) {
      const i = objref >>> 3;
      const m = 1 << (objref & 7);
      if (this.bits[i]! & m || this.sparse.has(objref)) return false;
      this.bits[i]! |= m;
    } else {
      if (this.sparse.has(objref)) return false;
      this.sparse.add(objref);
    }
    this.size++;
    return true;
  }
}

/** Walks an image (a path, or the bytes) and reports what is in it. */
export function inspectImage(image: string | Uint8Array, opts: InspectOptions = {}): ImageInfo {
  const b = opts.impl === undefined ? defaultBackend : getBackend(opts.impl);
  const src = typeof image === 'string' ? new FileSource(image) : image;
  const info: ImageInfo = {
    version: 0,
    flags: 0,
    types: [],
    bytes: 0,
    records: [],
    objects: [],
    tail: undefined,
    errorRecord: undefined,
    valid: false,
    error: undefined,
  };
  const byType = new Map<number, RecordStats>();
  const byObjtype = new Map<number, number>();
  const seen = new ObjrefSet();
  const count = (type: number, len: number) => {
    let s = byType.get(type);
    if (!s) byType.set(type, (s = { type, name: recordTypeName(type), count: 0, bytes: 0 }));
    s.count++;
    s.bytes += (len + 7) & ~7;
  };
  const reader = new ImageReader(src, { crc32c: (bytes, crc) => b.crc32c(bytes, crc), maxRecord: opts.maxRecord });
  try {
    const hdr = reader.readHeader();
    info.version = hdr.version;
    info.flags = hdr.flags;
    info.types = hdr.types;
    count(REC.HEADER, reader.len);
    if (opts.onRecord) opts.onRecord({ type: REC.HEADER, len: reader.len, offset: 0 }, reader, info);
    const names = new Map(hdr.types.map((t) => [t.objtype, t.name]));
    for (;;) {
      const rec = reader.next();
      const { type, len, offset } = rec;
      count(type, len);
      if (opts.onRecord) opts.onRecord({ type, len, offset }, reader, info);
      if (type === REC.OBJREF) {
        const { objtype, objref } = reader.objref();
        if (!names.has(objtype))
          throw new ObjHashError('EINVAL', `OBJREF at offset ${offset}: objtype ${objtype} is not in the header's type table`, offset);
        if (objref <= 0) throw new ObjHashError('EINVAL', `OBJREF at offset ${offset}: objref ${objref} <= 0`, offset);
        if (!seen.add(objref)) throw new ObjHashError('EINVAL', `OBJREF at offset ${offset}: objref ${objref} defined twice`, offset);
        byObjtype.set(objtype, (byObjtype.get(objtype) ?? 0) + 1);
      } else if (type === REC.ERROR) {
        info.errorRecord = reader.errorMessage();
        throw new ObjHashError('EIO', `ERROR record at offset ${offset}: checkpoint failed: ${info.errorRecord}`, offset);
      } else if (type === REC.TAIL) {
        info.tail = reader.tail(seen.size);
        break;
      }
    }
    info.valid = true;
  } catch (e) {
    if (!(e instanceof ObjHashError)) throw e;
    info.error = e;
  } finally {
    info.bytes = reader.offset;
    reader.close();
  }
  info.records = [...byType.values()].sort((x, y) => x.type - y.type);
  const names = new Map(info.types.map((t) => [t.objtype, t.name]));
  info.objects = [...byObjtype.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([objtype, n]) => ({ objtype, name: names.get(objtype) ?? `?${objtype}`, count: n }));
  return info;
}
