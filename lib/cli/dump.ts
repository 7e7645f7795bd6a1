/**
 * objhash dump IMAGE [--json]: every record with its offset, type and len,
 * payloads decoded.  Built on inspectImage's walk (so dump, inspect and
 * verify agree on what is valid), printing from its onRecord hook: the
 * image is read through the FileSource window and the output is written as
 * it goes (FdSink), so memory stays bounded by the largest record.
 */
import { REC, recordTypeName, type TypeEntry } from '../image/format.js';
import type { ImageReader } from '../image/reader.js';
import { inspectImage, type ImageInfo } from '../image/inspect.js';
import { EXIT_FAIL, EXIT_OK, hex32, hexBytes, hexString, imageArg, invalidLine, parseArgs, type Io } from './common.js';
import { Progress } from './io.js';

/** Text mode shows this many payload bytes of BUFFER and user records... */
export const TEXT_HEX_BYTES = 64;
/** ...and this many characters of a STRING. */
export const TEXT_STRING_CHARS = 80;
/** --json writes a payload's hex in pieces of this many bytes. */
const HEX_PIECE = 32 * 1024;

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { ignoreBOM: true });

/** Strict UTF-8, else lenient (U+FFFD) with ok = false.  `partial`: bytes may end mid-character. */
function utf8(b: Uint8Array, partial = false): { text: string; ok: boolean } {
  try {
    return { text: partial ? new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b, { stream: true }) : strict.decode(b), ok: true };
  } catch {
    return { text: lenient.decode(b), ok: false };
  }
}

function head(offset: number, name: string, len: number): string {
  return `${String(offset).padStart(10)}  ${name.padEnd(10)}  len ${len}`;
}

/** JSON of a record's common fields, without the closing brace. */
function jsonHead(offset: number, type: number, name: string, len: number): string {
  return `{"offset":${offset},"type":${type},"name":"${name}","len":${len}`;
}

export function dump(args: string[], io: Io): number {
  const parsed = parseArgs('dump', args, ['--json']);
  const json = parsed.flags.has('--json');
  const { path, size } = imageArg('dump', parsed);
  const out = io.out;
  // (on a terminal the listing itself shows how far it got: no progress line across it)
  const progress = new Progress(io.err, 'objhash dump', size, out.isTTY ? Infinity : undefined);
  let names = new Map<number, string>();
  let tail: { offset: number; len: number; count: number; crc: number } | undefined;

  const header = (len: number, version: number, flags: number, types: TypeEntry[]) => {
    names = new Map(types.map((t) => [t.objtype, t.name]));
    if (json) out.write(`${jsonHead(0, REC.HEADER, 'HEADER', len)},"version":${version},"flags":${flags},"types":${JSON.stringify(types)}}\n`);
    else
      out.write(
        `${head(0, 'HEADER', len)}  version ${version}, flags ${hex32(flags)}, types ` +
          (types.length ? types.map((t) => `${t.objtype}=${t.name}`).join(' ') : '(none)') +
          '\n',
      );
  };

  const objref = (offset: number, len: number, reader: ImageReader) => {
    const { objtype, objref } = reader.objref();
    const tn = names.get(objtype);
    if (json) out.write(`${jsonHead(offset, REC.OBJREF, 'OBJREF', len)},"objtype":${objtype},"typeName":${JSON.stringify(tn ?? null)},"objref":${objref}}\n`);
    else out.write(`${head(offset, 'OBJREF', len)}  objref ${objref}, objtype ${objtype} (${tn ?? 'not in the type table'})\n`);
  };

  const string = (offset: number, len: number, reader: ImageReader) => {
    const n = len - 8;
    if (json) {
      const b = reader.payload();
      const { text, ok } = utf8(b);
      out.write(`${jsonHead(offset, REC.STRING, 'STRING', len)},"text":${JSON.stringify(text)}`);
      if (!ok) writeHex(b);
      out.write('}\n');
      return;
    }
    // at most 4 bytes per character: read no more than needed
    const take = Math.min(n, TEXT_STRING_CHARS * 4);
    const { text, ok } = utf8(reader.bytes(take), take < n);
    const cps = Array.from(text);
    const shown = cps.length > TEXT_STRING_CHARS ? cps.slice(0, TEXT_STRING_CHARS).join('') : text;
    const rest = n - Buffer.byteLength(shown, 'utf8');
    out.write(`${head(offset, 'STRING', len)}  ${JSON.stringify(shown)}${rest > 0 && ok ? `…(+${rest} bytes)` : ''}${ok ? '' : ' (not valid UTF-8)'}\n`);
  };

  /** `,"hex":"…"`, written in pieces. */
  const writeHex = (b: Uint8Array) => {
    if (b.length <= 64) {
      out.write(`,"hex":"${hexString(b)}"`);
      return;
    }
    out.write(',"hex":"');
    for (let i = 0; i < b.length; i += HEX_PIECE) {
      const e = Math.min(b.length, i + HEX_PIECE);
      out.write(Buffer.from(b.buffer, b.byteOffset + i, e - i).toString('hex'));
    }
    out.write('"');
  };

  const typeNames = new Map<number, string>();
  const bytes = (offset: number, type: number, len: number, reader: ImageReader) => {
    let name = typeNames.get(type);
    if (name === undefined) typeNames.set(type, (name = recordTypeName(type)));
    if (json) {
      out.write(jsonHead(offset, type, name, len));
      writeHex(reader.payload());
      out.write('}\n');
    } else {
      const n = len - 8;
      out.write(`${head(offset, name, len)}  ${n === 0 ? '(empty)' : hexBytes(reader.bytes(Math.min(n, TEXT_HEX_BYTES)), n, TEXT_HEX_BYTES)}\n`);
    }
  };

  const error = (offset: number, len: number, reader: ImageReader) => {
    const m = reader.errorMessage();
    if (json) out.write(`${jsonHead(offset, REC.ERROR, 'ERROR', len)},"message":${JSON.stringify(m)}}\n`);
    else out.write(`${head(offset, 'ERROR', len)}  the checkpoint failed: ${m}\n`);
  };

  let info: ImageInfo;
  try {
    info = inspectImage(path, {
      onRecord: (rec, reader, sofar) => {
        const { type, len, offset } = rec;
        progress.update(offset);
        if (type === REC.OBJREF) objref(offset, len, reader);
        else if (type === REC.STRING) string(offset, len, reader);
        else if (type === REC.HEADER) header(len, sofar.version, sofar.flags, sofar.types);
        else if (type === REC.TAIL) {
          // printed once checked (below): the walk checks the CRC after this hook
          const p = reader.payload();
          const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
          tail = { offset, len, count: dv.getUint32(8, true), crc: dv.getUint32(12, true) };
        } else if (type === REC.ERROR) error(offset, len, reader);
        else bytes(offset, type, len, reader);
      },
    });
  } finally {
    progress.done();
  }
  if (tail) {
    const { offset, len, count, crc } = tail;
    if (json) out.write(`${jsonHead(offset, REC.TAIL, 'TAIL', len)},"count":${count},"crc":${crc},"ok":${info.valid}}\n`);
    else out.write(`${head(offset, 'TAIL', len)}  object count ${count}, crc32c ${hex32(crc)}${info.valid ? ' ok' : ''}\n`);
  }
  if (info.error) {
    const e = info.error;
    if (json) out.write(JSON.stringify({ error: e.code, offset: e.offset ?? null, message: e.message }) + '\n');
    out.flush();
    io.err.write(invalidLine(path, e));
    return EXIT_FAIL;
  }
  return EXIT_OK;
}
