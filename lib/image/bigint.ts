/**
 * Bigints in images: a magnitude as little-endian bytes, shortest form (no
 * high zero byte; 0n has none), the sign carried by whoever frames it
 * (schema 'bigint' fields, value tags).  One rule for both codecs.
 */

/** Longest magnitude a reader accepts, in bytes (V8's bigints hold at most 2^30 bits). */
export const MAX_BIGINT_BYTES = 1 << 27;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));

/** The magnitude bytes of m >= 0n. */
export function magnitudeBytes(m: bigint): Uint8Array {
  if (m <= 0x1fffffffffffffn) {
    let x = Number(m);
    let n = 0;
    for (let y = x; y > 0; y = Math.floor(y / 256)) n++;
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++, x = Math.floor(x / 256)) b[i] = x % 256;
    return b;
  }
  const hex = m.toString(16);
  const h = hex.length;
  const n = (h + 1) >> 1;
  const b = new Uint8Array(n);
  for (let i = 0, e = h; i < n; i++, e -= 2) b[i] = parseInt(hex.slice(Math.max(0, e - 2), e), 16);
  return b;
}

/** The magnitude that b (non-empty, its last byte non-zero: the caller checks) holds. */
export function fromMagnitude(b: Uint8Array): bigint {
  const n = b.length;
  if (n <= 6) {
    let x = 0;
    for (let i = n - 1; i >= 0; i--) x = x * 256 + b[i]!;
    return BigInt(x);
  }
  let hex = '0x';
  for (let i = n - 1; i >= 0; i--) hex += HEX[b[i]!];
  return BigInt(hex);
}
