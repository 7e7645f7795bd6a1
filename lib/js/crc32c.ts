/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) in plain JS, the
 * twin of native/crc32c.c's table path.  "123456789" gives 0xE3069283.
 *
 * Slicing-by-16 over one flat Int32Array of 16 x 256 entries; the
 * 4-byte-aligned middle of the input is read through an Int32Array view of
 * the same buffer (little-endian hosts), the unaligned edges byte by byte.
 */

const POLY = 0x82f63b78;

/** T[k * 256 + b]: the CRC of byte b followed by k zero bytes. */
const T = /* @__PURE__ */ buildTable();

function buildTable(): Int32Array {
  const t = new Int32Array(16 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c;
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b]!;
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + b] = c;
    }
  }
  return t;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Byte-at-a-time over bytes[i, end); c is the pre-inverted running value. */
function bytewise(c: number, bytes: Uint8Array, i: number, end: number): number {
  const t = T;
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c;
}

/**
 * CRC-32C of `bytes`, extending `crc` (the CRC of the bytes before; 0 to
 * start): crc32c(b, crc32c(a, 0)) === crc32c(a || b, 0).  Returns an
 * unsigned 32-bit number.
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  let c = ~crc | 0;
  const len = bytes.length;
  let i = 0;
  if (len >= 64 && LITTLE_ENDIAN) {
    // bytes up to the first 4-byte-aligned address
    const mis = (bytes.byteOffset & 3) === 0 ? 0 : 4 - (bytes.byteOffset & 3);
    c = bytewise(c, bytes, 0, mis);
    i = mis;
    const words = (len - mis) >>> 4 << 2; // whole 16-byte blocks, in words
    const w = new Int32Array(bytes.buffer, bytes.byteOffset + mis, words);
    const t = T;
    for (let j = 0; j < words; j += 4) {
      const a = c ^ w[j]!;
      const b = w[j + 1]!;
      const d = w[j + 2]!;
      const e = w[j + 3]!;
      c =
        t[0xf00 + (a & 0xff)]! ^
        t[0xe00 + ((a >>> 8) & 0xff)]! ^
        t[0xd00 + ((a >>> 16) & 0xff)]! ^
        t[0xc00 + (a >>> 24)]! ^
        t[0xb00 + (b & 0xff)]! ^
        t[0xa00 + ((b >>> 8) & 0xff)]! ^
        t[0x900 + ((b >>> 16) & 0xff)]! ^
        t[0x800 + (b >>> 24)]! ^
        t[0x700 + (d & 0xff)]! ^
        t[0x600 + ((d >>> 8) & 0xff)]! ^
        t[0x500 + ((d >>> 16) & 0xff)]! ^
        t[0x400 + (d >>> 24)]! ^
        t[0x300 + (e & 0xff)]! ^
        t[0x200 + ((e >>> 8) & 0xff)]! ^
        t[0x100 + ((e >>> 16) & 0xff)]! ^
        t[e >>> 24]!;
    }
    i += words << 2;
  }
  c = bytewise(c, bytes, i, len);
  return ~c >>> 0;
}
