/** objhash inspect IMAGE / objhash verify IMAGE. */
import { REC } from '../image/format.js';
import { inspectImage, type ImageInfo } from '../image/inspect.js';
import { RecordDecoder, type ErrorRecord, type TailRecord } from '../image/records.js';
import { EXIT_FAIL, EXIT_OK, hex32, imageArg, invalidLine, parseArgs, table, type Io } from './common.js';
import { escapeText } from './escape.js';
import { Progress } from './io.js';

/** Walks the image with a progress line; also notes the TAIL/ERROR record, checked or not. */
function walk(cmd: string, path: string, size: number, io: Io, image?: Uint8Array): { info: ImageInfo; end: TailRecord | ErrorRecord | undefined } {
  const progress = new Progress(io.err, `objhash ${cmd}`, size);
  /** The TAIL or ERROR record as met in the walk (before it was checked). */
  let end: TailRecord | ErrorRecord | undefined;
  const records = new RecordDecoder();
  try {
    const info = inspectImage(image ?? path, {
      onRecord: (rec, reader, sofar) => {
        progress.update(rec.offset);
        if (rec.type === REC.TAIL || rec.type === REC.ERROR) end = records.describe(rec, reader, sofar) as TailRecord | ErrorRecord;
      },
    });
    return { info, end };
  } finally {
    progress.done();
  }
}

/** Bytes of object state: BUFFER, STRING and user records. */
/** A record holding objects' state: a user record, BUFFER, STRING, or the FIELDS / VALUE body of a fields type or plain value. */
function isState(type: number): boolean {
  return (
    type === REC.BUFFER || type === REC.STRING || type === REC.FIELDS || type === REC.VALUE || (type >= REC.USER_MIN && type <= REC.USER_MAX)
  );
}

function pct(n: number, of: number): string {
  return of > 0 ? `${((n * 100) / of).toFixed(1)}%` : '-';
}

export function inspect(args: string[], io: Io): number {
  const { path, size, image } = imageArg('inspect', parseArgs('inspect', args, []));
  const { info, end } = walk('inspect', path, size, io, image);
  const out = (s = '') => io.out.write(s + '\n');
  const headerOk = info.error === undefined || info.version !== 0;

  out(`${escapeText(path)}: ${size >= 0 ? size : info.bytes} bytes, ${info.valid ? 'valid' : 'INVALID'}`);
  out();
  if (!headerOk) {
    out('header: unreadable');
  } else {
    out(`header: format version ${info.version}, flags ${hex32(info.flags)}, ${info.types.length} object type(s)`);
    if (info.types.length > 0) out(table([['objtype', 'name'], ...info.types.map((t) => [t.objtype, escapeText(t.name)])]));
  }
  out();

  const walked = info.records.reduce((a, r) => a + r.bytes, 0);
  const nrec = info.records.reduce((a, r) => a + r.count, 0);
  out(`records${info.valid ? '' : ' (up to the error)'}:`);
  out(
    table([
      ['type', 'count', 'bytes', 'share'],
      ...info.records.map((r) => [r.name, r.count, r.bytes, pct(r.bytes, walked)]),
      ['total', nrec, walked, ''],
    ]),
  );
  out();

  const defined = new Map(info.objects.map((o) => [o.objtype, o.count]));
  const rows: (string | number)[][] = info.types.map((t) => [t.objtype, escapeText(t.name), defined.get(t.objtype) ?? 0]);
  // (an OBJREF of a type not in the table makes the image invalid; list it anyway)
  for (const o of info.objects) if (!info.types.some((t) => t.objtype === o.objtype)) rows.push([o.objtype, escapeText(o.name), o.count]);
  const objects = info.objects.reduce((a, o) => a + o.count, 0);
  out('objects (OBJREF records) by objtype:');
  out(table([['objtype', 'name', 'objects'], ...rows, ['total', '', objects]]));
  out();

  const state = info.records.filter((r) => isState(r.type));
  const stateBytes = state.reduce((a, r) => a + r.bytes, 0);
  const stateRecs = state.reduce((a, r) => a + r.count, 0);
  out('sharing:');
  out(
    objects === 0
      ? '  no objects'
      : `  ${objects} object(s), each stored once: one OBJREF + ${(stateRecs / objects).toFixed(1)} state records, ` +
          `${(stateBytes / objects).toFixed(1)} state bytes per object`,
  );
  out('  references per object: not recorded in the image (see objhash inspect --help)');
  out();

  if (end?.kind === 'error') {
    out(`tail: none: ERROR record at offset ${end.offset}, the checkpoint failed: ${escapeText(end.message)}`);
  } else if (end?.kind === 'tail') {
    const ok = info.valid && info.tail !== undefined;
    out(`tail: TAIL at offset ${end.offset}: object count ${end.count}, crc32c ${hex32(end.crc)}: ${ok ? 'ok' : 'BAD (see the error)'}`);
  } else {
    out('tail: missing');
  }
  io.out.flush();
  if (info.error) {
    io.err.write(invalidLine(path, info.error));
    return EXIT_FAIL;
  }
  return EXIT_OK;
}

export function verify(args: string[], io: Io): number {
  const { path, size, image } = imageArg('verify', parseArgs('verify', args, []));
  const { info } = walk('verify', path, size, io, image);
  if (info.valid && info.tail && !info.error) {
    const objects = info.objects.reduce((a, o) => a + o.count, 0);
    const records = info.records.reduce((a, r) => a + r.count, 0);
    io.out.write(`${escapeText(path)}: valid: ${info.bytes} bytes, ${records} records, ${objects} objects, crc32c ${hex32(info.tail.crc)}\n`);
    return EXIT_OK;
  }
  // (inspectImage only returns valid with a TAIL; an error is always set otherwise)
  io.err.write(info.error ? invalidLine(path, info.error) : `${escapeText(path)}: invalid: no TAIL\n`);
  return EXIT_FAIL;
}
