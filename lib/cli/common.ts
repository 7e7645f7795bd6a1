/**
 * Pieces the objhash commands share: argument parsing, the IMAGE argument,
 * the error line, tables and hex.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { decompressSync, sniff } from '../stream/compress.js';
import type { ObjHashError } from '../errors.js';
import { escapeText } from './escape.js';
import type { Sink } from './io.js';

/** A usage error: one line on stderr, exit 2. */
export class UsageError extends Error {}

/** A failed command that is not about the image (a missing file...): one line, exit 1. */
export class CommandError extends Error {}

/** Exit codes. */
export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** The command's streams. */
export interface Io {
  out: Sink;
  err: Sink;
}

export interface ParsedArgs {
  flags: Set<string>;
  positional: string[];
}

/**
 * Splits args into flags (from `allowed`) and positional arguments; `--`
 * ends the flags; "-" alone is positional.  Anything else that starts with
 * "-" is a usage error.
 */
export function parseArgs(cmd: string, args: string[], allowed: readonly string[]): ParsedArgs {
  const flags = new Set<string>();
  const positional: string[] = [];
  let ended = false;
  for (const a of args) {
    if (ended || a === '-' || !a.startsWith('-')) positional.push(a);
    else if (a === '--') ended = true;
    else if (allowed.includes(a)) flags.add(a);
    else throw new UsageError(`objhash ${cmd}: unknown option '${a}' (objhash ${cmd} --help)`);
  }
  return { flags, positional };
}

/** Largest decompressed image the commands read into memory (restartFromStream's default maxImageBytes). */
const MAX_DECOMPRESSED = 2 ** 30;

/**
 * The one IMAGE argument: a readable regular file (else CommandError), or
 * a usage error.  A gzip, zstd or brotli file is decompressed into memory:
 * `image` holds it (and `size` its length); otherwise the commands read
 * the file through its window.
 */
export function imageArg(cmd: string, p: ParsedArgs): { path: string; size: number; image?: Uint8Array } {
  if (p.positional.length !== 1) {
    throw new UsageError(
      p.positional.length === 0
        ? `objhash ${cmd}: missing IMAGE argument (objhash ${cmd} --help)`
        : `objhash ${cmd}: expected one IMAGE argument, got ${p.positional.length} (objhash ${cmd} --help)`,
    );
  }
  const path = p.positional[0]!;
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CommandError(`objhash ${cmd}: ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (st.isDirectory()) throw new CommandError(`objhash ${cmd}: ${path}: is a directory`);
  if (st.isFile() && st.size > 0 && sniff(head(path)) !== 'image') {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new CommandError(`objhash ${cmd}: ${path}: ${(e as Error).message}`);
    }
    const { image, compression } = decompressSync(bytes, MAX_DECOMPRESSED);
    if (compression !== undefined) return { path, size: image.length, image };
  }
  return { path, size: st.isFile() ? st.size : -1 };
}

/** The first 16 bytes of a file (fewer if it is shorter; none if it cannot be read). */
function head(path: string): Uint8Array {
  const b = new Uint8Array(16);
  try {
    const fd = openSync(path, 'r');
    try {
      return b.subarray(0, readSync(fd, b, 0, 16, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return b.subarray(0, 0);
  }
}

/** "EPIPE at offset 968: truncated: ..." */
export function describeError(e: ObjHashError): string {
  return `${e.code} at offset ${e.offset ?? '?'}: ${e.message}`;
}

/** The one line a command prints on stderr for an invalid image (the path and the message escaped). */
export function invalidLine(path: string, e: ObjHashError): string {
  return `${escapeText(path)}: invalid: ${escapeText(describeError(e))}\n`;
}

/** Rows as an indented table: numbers (and "12.5%") right-aligned, text left-aligned. */
export function table(rows: (string | number)[][], indent = '  '): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows
    .map((r) =>
      (indent + r.map((c, i) => (typeof c === 'number' || /^[\d.]+%$/.test(c) ? String(c).padStart(w[i]!) : String(c).padEnd(w[i]!))).join('  ')).trimEnd(),
    )
    .join('\n');
}

/** 0x-prefixed 8-digit hex of a u32. */
export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** "de ad be ef", at most `max` bytes, then "…(+N bytes)" for the rest of `total`. */
export function hexBytes(b: Uint8Array, total: number, max: number): string {
  const n = Math.min(b.length, max);
  let s = '';
  for (let i = 0; i < n; i++) s += (i === 0 ? '' : ' ') + HEX_BYTE[b[i]!];
  if (total > n) s += `${n > 0 ? ' ' : ''}…(+${total - n} bytes)`;
  return s;
}

/** "deadbeef" (a loop for short byte strings, Buffer's hex for long ones). */
export function hexString(b: Uint8Array): string {
  if (b.length > 64) return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX_BYTE[b[i]!];
  return s;
}
