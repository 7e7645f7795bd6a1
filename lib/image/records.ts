/**
 * What a record holds, decoded: the payload of the current record of an
 * ImageReader as a plain description (the fields docs/FORMAT.md gives
 * each record type), for tools that show images (objhash dump, inspect).
 *
 * Meant for inspectImage's onRecord hook:
 *
 *   const records = new RecordDecoder();
 *   inspectImage(path, { onRecord: (rec, reader, info) => show(records.describe(rec, reader, info)) });
 *
 * A description is valid during the hook only (it reads the reader's
 * current record).  Nothing is checked here beyond what the reader checks
 * as it reads (the walk checks OBJREFs and TAIL after the hook): a TAIL's
 * count and crc are the stored ones, unverified.
 *
 * Streaming: the bytes of a BUFFER, user or STRING record are not read
 * until asked for.  `read(n)` returns the next bytes of the payload, at
 * most n at a time (with a ByteSource each piece is a copy of at most n
 * bytes; in memory a view), so a tool can show a record of any size in
 * pieces without a second copy of it; a STRING is decoded up to maxChars
 * characters, reading no more than 4 bytes per character.
 */
import { REC, recordTypeName, type TypeEntry } from './format.js';
import type { ImageReader } from './reader.js';

/** The fields every description has. */
export interface RecordBase {
  /** Record type (REC.*). */
  type: number;
  /** 'HEADER', 'OBJREF', 'USER(300)'... (recordTypeName). */
  name: string;
  /** Image offset of the record header. */
  offset: number;
  /** The record's len: 8-byte header + payload (padding not counted). */
  len: number;
  /** Payload bytes (len less the record's head). */
  size: number;
}

export interface HeaderRecord extends RecordBase {
  kind: 'header';
  version: number;
  flags: number;
  types: readonly TypeEntry[];
}

export interface ObjrefRecord extends RecordBase {
  kind: 'objref';
  objtype: number;
  objref: number;
  /** The objtype's name in the header's type table; undefined when it is not there (an invalid image). */
  typeName: string | undefined;
}

export interface StringRecord extends RecordBase {
  kind: 'string';
  /** The text: all of it, or its first maxChars characters (invalid UTF-8 shown as U+FFFD). */
  text: string;
  /** Whether the bytes read are valid UTF-8 (a character cut at the end of a partial read counts as valid). */
  utf8Valid: boolean;
  /** The payload bytes read to make `text` (the whole payload unless maxChars cut it). */
  bytes: Uint8Array;
  /** Payload bytes after the ones `text` shows (0: text is the whole string); undefined if not valid UTF-8. */
  more: number | undefined;
}

export interface BytesRecord extends RecordBase {
  kind: 'buffer' | 'user';
  /**
   * The next at most n bytes of the payload (from its start; empty once
   * all were read).  Only during the hook.
   */
  read(n: number): Uint8Array;
}

export interface TailRecord extends RecordBase {
  kind: 'tail';
  /** Object count as stored (unverified). */
  count: number;
  /** CRC32C as stored (unverified). */
  crc: number;
}

export interface ErrorRecord extends RecordBase {
  kind: 'error';
  /** The failed checkpoint's message (invalid UTF-8 shown as U+FFFD). */
  message: string;
}

export type RecordDescription = HeaderRecord | ObjrefRecord | StringRecord | BytesRecord | TailRecord | ErrorRecord;

/** The header fields a description of the HEADER and of OBJREFs needs (inspectImage's ImageInfo has them). */
export interface HeaderFields {
  version: number;
  flags: number;
  types: readonly TypeEntry[];
}

export interface DescribeOptions {
  /** Decode at most this many characters of a STRING (default: all of it). */
  maxChars?: number | undefined;
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { ignoreBOM: true });

/** Strict UTF-8, else lenient (U+FFFD) with ok = false.  `partial`: the bytes may end inside a character. */
function utf8(b: Uint8Array, partial: boolean): { text: string; ok: boolean } {
  try {
    return { text: partial ? new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b, { stream: true }) : strict.decode(b), ok: true };
  } catch {
    return { text: lenient.decode(b), ok: false };
  }
}

/** UTF-8 length of a well-formed string. */
function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Describes records of one image in turn (it keeps the type table's names
 * and the record type names between calls).
 */
export class RecordDecoder {
  private names = new Map<number, string>();
  private namesOf: readonly TypeEntry[] | undefined;
  private readonly typeNames = new Map<number, string>();

  /**
   * The current record of `reader` (`rec` as inspectImage's onRecord gets
   * it), decoded; `header` gives the HEADER's fields (the reader has
   * consumed them) and the type table for OBJREF names.
   */
  describe(rec: { type: number; len: number; offset: number }, reader: ImageReader, header: HeaderFields, opts: DescribeOptions = {}): RecordDescription {
    const { type, len, offset } = rec;
    const base = { type, name: this.typeName(type), offset, len, size: reader.payloadLength };
    switch (type) {
      case REC.HEADER:
        return { kind: 'header', ...base, version: header.version, flags: header.flags, types: header.types };
      case REC.OBJREF: {
        const { objtype, objref } = reader.objref();
        return { kind: 'objref', ...base, objtype, objref, typeName: this.namesFor(header.types).get(objtype) };
      }
      case REC.STRING:
        return { kind: 'string', ...base, ...this.string(reader, base.size, opts.maxChars) };
      case REC.TAIL: {
        reader.u64(); // magic (checked by reader.tail())
        const count = reader.u32();
        return { kind: 'tail', ...base, count, crc: reader.u32() };
      }
      case REC.ERROR:
        return { kind: 'error', ...base, message: reader.errorMessage() };
      default:
        return {
          kind: type === REC.BUFFER ? 'buffer' : 'user',
          ...base,
          read: (n: number) => reader.bytes(Math.min(n, reader.remaining())),
        };
    }
  }

  private typeName(type: number): string {
    let name = this.typeNames.get(type);
    if (name === undefined) this.typeNames.set(type, (name = recordTypeName(type)));
    return name;
  }

  private namesFor(types: readonly TypeEntry[]): Map<number, string> {
    if (types !== this.namesOf) {
      this.names = new Map(types.map((t) => [t.objtype, t.name]));
      this.namesOf = types;
    }
    return this.names;
  }

  private string(reader: ImageReader, n: number, maxChars: number | undefined): Pick<StringRecord, 'text' | 'utf8Valid' | 'bytes' | 'more'> {
    // at most 4 bytes per character: read no more than needed
    const take = maxChars === undefined ? n : Math.min(n, maxChars * 4);
    const bytes = reader.bytes(take);
    const { text, ok } = utf8(bytes, take < n);
    if (maxChars === undefined || (take === n && text.length <= maxChars)) return { text, utf8Valid: ok, bytes, more: ok ? 0 : undefined };
    const cps = Array.from(text);
    const shown = cps.length > maxChars ? cps.slice(0, maxChars).join('') : text;
    return { text: shown, utf8Valid: ok, bytes, more: ok ? n - utf8Length(shown) : undefined };
  }
}
