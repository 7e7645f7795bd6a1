/**
 * Compressed images: gzip, brotli and (where this Node has it) zstd,
 * through node:zlib.  A compressed image is recognised by its first bytes
 * (gzip 1f 8b, zstd 28 b5 2f fd); brotli has no magic number, so it is
 * named (`compress: 'brotli'` when reading) or, for the command, tried
 * when the bytes are neither an image nor another format.
 */
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { ObjHashError } from '../errors.js';
import { HEADER_MAGIC, V1_HEADER } from '../image/format.js';

export type Compression = 'gzip' | 'brotli' | 'zstd';
export const COMPRESSIONS: readonly Compression[] = ['gzip', 'brotli', 'zstd'];

type Z = typeof zlib & {
  createZstdCompress?: () => Transform;
  createZstdDecompress?: () => Transform;
  zstdDecompressSync?: (b: Uint8Array, o: object) => Buffer | Decoded;
};
/** What a *Sync decompressor returns with `info: true`. */
interface Decoded {
  buffer: Buffer;
  engine: { bytesWritten: number };
}
const z = zlib as Z;

/** Whether this Node's zlib has zstd (Node >= 22.15 / 23.8). */
export const zstdAvailable = typeof z.createZstdCompress === 'function';

/** options.compress: undefined or one of COMPRESSIONS this Node has. */
export function checkCompression(c: unknown, where: string): Compression | undefined {
  if (c === undefined) return undefined;
  if (!COMPRESSIONS.includes(c as Compression))
    throw new ObjHashError('EINVAL', `${where}: options.compress must be one of ${COMPRESSIONS.join(', ')} (got ${String(c)})`);
  if (c === 'zstd' && !zstdAvailable) throw new ObjHashError('EINVAL', `${where}: this Node (${process.version}) has no zstd in node:zlib`);
  return c as Compression;
}

/**
 * Brotli's quality for images: zlib's default (11, the slowest) took 130 s
 * for the 33 MiB W10 image; 5 compresses about as fast as gzip's default
 * and still smaller.
 */
const BROTLI_QUALITY = 5;

export function compressor(c: Compression): Transform {
  if (c === 'gzip') return zlib.createGzip();
  if (c === 'brotli') return zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } });
  return z.createZstdCompress!();
}

export function decompressor(c: Compression): Transform {
  if (c === 'gzip') return zlib.createGunzip();
  if (c === 'brotli') return zlib.createBrotliDecompress();
  return z.createZstdDecompress!();
}

/** The compression the first bytes announce (gzip, zstd), 'image' for an objhash image, or undefined. */
export function sniff(head: Uint8Array): Compression | 'image' | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= V1_HEADER + 8 && head[0] === 1 && head[1] === 0 && head[2] === 0 && head[3] === 0) {
    // a HEADER record: type 1, then its magic at the start of its payload
    const dv = new DataView(head.buffer, head.byteOffset, head.length);
    if (dv.getBigUint64(V1_HEADER, true) === HEADER_MAGIC) return 'image';
  }
  return undefined;
}

/**
 * For the command: the image inside `bytes` if they are gzip, zstd or
 * brotli (tried last), else `bytes` as they are.  Returns which.  At most
 * `maxOutput` bytes are made (more is EIO), and a stream whose first bytes
 * are no image header is known from a prefix of the input before the whole
 * is decompressed: then only those first bytes are returned (the reader
 * says what they are not).  Bytes after the compressed stream are EIO.
 */
export function decompressSync(bytes: Uint8Array, maxOutput: number): { image: Uint8Array; compression: Compression | undefined } {
  const kind = sniff(bytes);
  if (kind === 'image') return { image: bytes, compression: undefined };
  if (kind === 'zstd' && z.zstdDecompressSync === undefined) throw new ObjHashError('EINVAL', `a zstd image, and this Node (${process.version}) has no zstd`);
  const k: Compression = kind ?? 'brotli';
  const head = probe(k, bytes);
  if (head !== undefined && head.length >= 16 && sniff(head) !== 'image')
    return kind === undefined ? { image: bytes, compression: undefined } : { image: head.subarray(0, 16), compression: k };
  // brotli has no magic number: it is only tried, and taken for brotli
  // once its first bytes decompress to an image's header
  const known = kind !== undefined || (head !== undefined && sniff(head) === 'image');
  let out: Decoded;
  try {
    out = decode(k, bytes, { maxOutputLength: maxOutput, info: true });
  } catch (e) {
    if (!known) return { image: bytes, compression: undefined }; // not brotli either: the reader says what it is not
    // (gunzip reads bytes after a member as the next member: "incorrect header check")
    const end = k === 'gzip' ? gzipMembersEnd(bytes, maxOutput) : undefined;
    if (end !== undefined) throw trailing(k, bytes.length - end);
    throw new ObjHashError('EIO', `cannot decompress the ${k} image: ${e instanceof Error ? e.message : String(e)}`, undefined, { cause: e });
  }
  if (out.engine.bytesWritten < bytes.length) {
    if (!known) return { image: bytes, compression: undefined };
    throw trailing(k, bytes.length - out.engine.bytesWritten);
  }
  return { image: out.buffer, compression: k };
}

function trailing(k: Compression, n: number): ObjHashError {
  return new ObjHashError('EIO', `cannot decompress the ${k} image: ${n} bytes follow the end of its stream`);
}

/**
 * Where the gzip members at the start of b end, when bytes that are not
 * another member follow them (gunzip reads those as a next member: "incorrect
 * header check"); undefined when gunzip's error is inside a member (its data,
 * CRC-32 or size, its header's flags or CRC, a truncated member, more than
 * maxOutput in all), so that the caller reports that error instead.
 */
function gzipMembersEnd(b: Uint8Array, maxOutput: number): number | undefined {
  let at = 0;
  let left = maxOutput;
  while (at < b.length - 1 && b[at] === 0x1f && b[at + 1] === 0x8b) {
    const m = gzipMember(b, at, left);
    if (m === undefined) return undefined;
    at = m.end;
    left -= m.size;
  }
  return at > 0 && at < b.length ? at : undefined;
}

/** The end and output size of the gzip member at b[at] (RFC 1952: header, deflate data, CRC-32 and size), if it is whole and valid; else undefined. */
function gzipMember(b: Uint8Array, at: number, maxOutput: number): { end: number; size: number } | undefined {
  if (b.length - at < 18 || b[at + 2] !== 8) return undefined;
  const flags = b[at + 3]!;
  let p = at + 10;
  if (flags & 4) p += 2 + (b[p]! | (b[p + 1]! << 8)); // FEXTRA (past the end: undefined below)
  for (const bit of [8, 16]) {
    // FNAME, FCOMMENT: zero-terminated
    if (flags & bit) {
      while (p < b.length && b[p] !== 0) p++;
      p++;
    }
  }
  if (flags & 2) p += 2; // FHCRC
  if (p >= b.length) return undefined;
  try {
    // raw inflate finds where the deflate data end; gunzip of exactly that
    // member then checks what raw inflate does not (header flags and CRC,
    // the trailer's CRC-32 and size)
    const r = zlib.inflateRawSync(b.subarray(p), { info: true, maxOutputLength: maxOutput }) as unknown as Decoded;
    const end = p + r.engine.bytesWritten + 8;
    if (end > b.length) return undefined;
    const size = zlib.gunzipSync(b.subarray(at, end), { maxOutputLength: maxOutput }).length;
    return { end, size };
  } catch {
    return undefined;
  }
}

function decode(k: Compression, bytes: Uint8Array, o: object): Decoded {
  if (k === 'gzip') return zlib.gunzipSync(bytes, o) as unknown as Decoded;
  if (k === 'brotli') return zlib.brotliDecompressSync(bytes, o) as unknown as Decoded;
  return z.zstdDecompressSync!(bytes, o) as Decoded;
}

/** The first bytes a short prefix of the input decompresses to (undefined: it cannot tell). */
function probe(k: Compression, bytes: Uint8Array): Uint8Array | undefined {
  const C = zlib.constants as Record<string, number>;
  const flush = k === 'gzip' ? C.Z_SYNC_FLUSH : k === 'brotli' ? C.BROTLI_OPERATION_FLUSH : C.ZSTD_e_flush;
  // a few bytes of a bomb already make megabytes: growing prefixes, each up to 16 MiB out
  for (const n of [16, 32, 64, 256, 1024, 4096]) {
    try {
      const r = decode(k, bytes.subarray(0, Math.min(n, bytes.length)), { finishFlush: flush, maxOutputLength: 1 << 24, info: true });
      if (r.buffer.length >= 16) return r.buffer;
    } catch {
      // too short to say, or more than 16 MiB from those bytes: try the next, then the whole (to maxOutput)
    }
    if (n >= bytes.length) break;
  }
  return undefined;
}
