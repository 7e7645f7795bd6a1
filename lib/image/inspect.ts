/**
 * inspectImage - a structural walk over an image, without restoring it:
 * header, record counts and bytes by type, objects by objtype, and whether
 * the image is valid (structure, objrefs, TAIL count and CRC).
 */
import { ObjHashError } from '../errors.js';
import { REC, padding, recordTypeName, type TypeEntry } from './format.js';
import { ImageReader } from './reader.js';
import { FileSource } from './source.js';
import type { ObjrefValidator, ValidateOptions } from './validate.js';
import { backendFor, crc32cFor, type ImplName } from '../backend/loader.js';

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

export interface InspectOptions extends ValidateOptions {
  impl?: ImplName | undefined;
  maxRecord?: number | undefined;
  /**
   * Called for each record as it is walked (e.g. for a dump), before the
   * walk checks it (an OBJREF's objtype and objref, TAIL's CRC): the hook
   * may read the payload.  `info` is the report so far (the header fields
   * are set from the HEADER record on).
   */
  onRecord?: ((rec: { type: number; len: number; offset: number }, reader: ImageReader, info: Readonly<ImageInfo>) => void) | undefined;
}

/** Walks an image (a path, or the bytes) and reports what is in it. */
export function inspectImage(image: string | Uint8Array, opts: InspectOptions = {}): ImageInfo {
  const crc32c = crc32cFor(backendFor(opts.impl));
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
  const count = (type: number, len: number) => {
    let s = byType.get(type);
    if (!s) byType.set(type, (s = { type, name: recordTypeName(type), count: 0, bytes: 0 }));
    s.count++;
    s.bytes += reader.version === 1 ? len + padding(len) : len;
  };
  let objects: ObjrefValidator | undefined;
  const reader = new ImageReader(src, {
    crc32c,
    maxRecord: opts.maxRecord,
    maxObjrefGap: opts.maxObjrefGap,
    maxObjects: opts.maxObjects,
  });
  try {
    const hdr = reader.readHeader();
    info.version = hdr.version;
    info.flags = hdr.flags;
    info.types = hdr.types;
    objects = reader.objects;
    count(REC.HEADER, reader.len);
    if (opts.onRecord) opts.onRecord({ type: REC.HEADER, len: reader.len, offset: 0 }, reader, info);
    for (;;) {
      const rec = reader.next();
      const { type, len, offset } = rec;
      count(type, len);
      if (opts.onRecord) opts.onRecord({ type, len, offset }, reader, info);
      // (an OBJREF was checked by the reader, against the rules restart shares)
      if (type === REC.ERROR) {
        info.errorRecord = reader.errorMessage();
        throw new ObjHashError('EIO', `ERROR record at offset ${offset}: checkpoint failed: ${info.errorRecord}`, offset);
      } else if (type === REC.TAIL) {
        objects.end(offset);
        info.tail = reader.tail();
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
  info.objects = objects?.perType() ?? [];
  return info;
}
