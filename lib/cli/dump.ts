/**
 * objhash dump IMAGE [--json]: every record with its offset, type and len,
 * payloads decoded.  Built on inspectImage's walk (so dump, inspect and
 * verify agree on what is valid), printing from its onRecord hook: the
 * image is read through the FileSource window and the output is written as
 * it goes (FdSink), so memory stays bounded by the largest record.  The
 * payloads are decoded by lib/image/records.ts; this file only formats,
 * with every text from the image escaped (escape.ts).
 */
import { inspectImage, type ImageInfo } from '../image/inspect.js';
import { RecordDecoder, type BytesRecord, type HeaderRecord, type ObjrefRecord, type RecordDescription, type StringRecord, type TailRecord } from '../image/records.js';
import { EXIT_FAIL, EXIT_OK, hex32, hexBytes, hexString, imageArg, invalidLine, parseArgs, type Io } from './common.js';
import { escapeText, jsonText } from './escape.js';
import { REC } from '../image/format.js';
import { BodyDescriber } from '../walk/describe.js';
import { Progress } from './io.js';

/** Text mode shows this many payload bytes of BUFFER and user records... */
export const TEXT_HEX_BYTES = 64;
/** ...and this many characters of a STRING. */
export const TEXT_STRING_CHARS = 80;
/** --json writes a payload's hex in pieces of this many bytes. */
const HEX_PIECE = 32 * 1024;

function head(d: RecordDescription): string {
  return `${String(d.offset).padStart(10)}  ${d.name.padEnd(10)}  len ${d.len}`;
}

/** JSON of a record's common fields, without the closing brace. */
function jsonHead(d: RecordDescription): string {
  return `{"offset":${d.offset},"type":${d.type},"name":"${d.name}","len":${d.len}`;
}

export function dump(args: string[], io: Io): number {
  const parsed = parseArgs('dump', args, ['--json']);
  const json = parsed.flags.has('--json');
  const { path, size, image } = imageArg('dump', parsed);
  const out = io.out;
  // (on a terminal the listing itself shows how far it got: no progress line across it)
  const progress = new Progress(io.err, 'objhash dump', size, out.isTTY ? Infinity : undefined);
  const records = new RecordDecoder();
  const bodies = new BodyDescriber();
  const opts = json ? {} : { maxChars: TEXT_STRING_CHARS };
  let tail: TailRecord | undefined;

  const header = (d: HeaderRecord) => {
    const types = d.types.map((t) => ({ objtype: t.objtype, name: t.name, ...(t.schema !== undefined && t.schema.length > 0 ? { schema: hexString(t.schema) } : {}) }));
    if (json) out.write(`${jsonHead(d)},"version":${d.version},"flags":${d.flags},"types":${jsonText(types)}}\n`);
    else
      out.write(
        `${head(d)}  version ${d.version}, flags ${hex32(d.flags)}, types ` +
          (d.types.length ? d.types.map((t) => `${t.objtype}=${escapeText(t.name)}`).join(' ') : '(none)') +
          '\n',
      );
  };

  const objref = (d: ObjrefRecord) => {
    if (json) out.write(`${jsonHead(d)},"objtype":${d.objtype},"typeName":${jsonText(d.typeName ?? null)},"objref":${d.objref}}\n`);
    else out.write(`${head(d)}  objref ${d.objref}, objtype ${d.objtype} (${d.typeName === undefined ? 'not in the type table' : escapeText(d.typeName)})\n`);
  };

  const string = (d: StringRecord) => {
    if (json) {
      out.write(`${jsonHead(d)},"text":${jsonText(d.text)}`);
      if (!d.utf8Valid) {
        out.write(',"hex":"');
        for (let i = 0; i < d.bytes.length; i += HEX_PIECE) out.write(hexString(d.bytes.subarray(i, i + HEX_PIECE)));
        out.write('"');
      }
      out.write('}\n');
      return;
    }
    const more = d.more ?? 0;
    out.write(`${head(d)}  ${jsonText(d.text)}${more > 0 ? `…(+${more} bytes)` : ''}${d.utf8Valid ? '' : ' (not valid UTF-8)'}\n`);
  };

  const bytes = (d: BytesRecord) => {
    if (json) {
      // the payload in pieces: never a second copy of a large record
      out.write(jsonHead(d) + ',"hex":"');
      for (let b = d.read(HEX_PIECE); b.length > 0; b = d.read(HEX_PIECE)) out.write(hexString(b));
      out.write('"}\n');
    } else {
      out.write(`${head(d)}  ${d.size === 0 ? '(empty)' : hexBytes(d.read(TEXT_HEX_BYTES), d.size, TEXT_HEX_BYTES)}\n`);
    }
  };

  let info: ImageInfo;
  try {
    info = inspectImage(image ?? path, {
      onRecord: (rec, reader, sofar) => {
        progress.update(rec.offset);
        const d = records.describe(rec, reader, sofar, opts);
        switch (d.kind) {
          case 'header':
            bodies.header(d.types);
            return header(d);
          case 'objref':
            bodies.objref(d.objtype);
            return objref(d);
          case 'string':
            return string(d);
          case 'tail':
            // printed once checked (below): the walk checks the CRC after this hook
            tail = d;
            return;
          case 'error':
            if (json) out.write(`${jsonHead(d)},"message":${jsonText(d.message)}}\n`);
            else out.write(`${head(d)}  the checkpoint failed: ${escapeText(d.message)}\n`);
            return;
          default:
            if (d.type === REC.FIELDS || d.type === REC.VALUE) {
              const b = bodies.body(d.type, reader, d.offset);
              if (json) out.write(`${jsonHead(d)},${b.fields ? `"typeName":${jsonText(b.type)},"fields":${jsonText(b.fields)}` : `"value":${jsonText(b.value)}`}}\n`);
              else if (b.fields)
                out.write(`${head(d)}  ${escapeText(b.type!)} ${b.fields.map((f) => `${escapeText(f.name)}=${jsonText(f.value)}`).join(', ')}\n`);
              else out.write(`${head(d)}  ${jsonText(b.value)}\n`);
              return;
            }
            return bytes(d);
        }
      },
    });
  } finally {
    progress.done();
  }
  if (tail) {
    const d = tail;
    if (json) out.write(`${jsonHead(d)},"count":${d.count},"crc":${d.crc},"ok":${info.valid}}\n`);
    else out.write(`${head(d)}  object count ${d.count}, crc32c ${hex32(d.crc)}${info.valid ? ' ok' : ''}\n`);
  }
  if (info.error) {
    const e = info.error;
    if (json) out.write(jsonText({ error: e.code, offset: e.offset ?? null, message: e.message }) + '\n');
    out.flush();
    io.err.write(invalidLine(path, e));
    return EXIT_FAIL;
  }
  return EXIT_OK;
}
