/**
 * The objhash command (bin/objhash.js -> dist/lib/cli/), run as a child
 * process on images this file writes, corrupt ones included.  The
 * image-reading commands run once per backend (OBJHASH_IMPL).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageWriter, REC, checkpoint, checkpointToFile, defineObjType, inspectImage, ref, refs, type ObjType } from '../lib/index.js';
import { getBackend } from '../lib/backend/loader.js';
import { Progress, type Sink } from '../lib/cli/io.js';
import { RecordDecoder } from '../lib/image/records.js';
import { TYPES, TaskType, buildTree } from '../examples/proctree.js';
import { IMPLS, expectCode } from './helpers.js';
import * as zlib from 'node:zlib';
import { decompressSync, zstdAvailable, type Compression } from '../lib/stream/compress.js';

const root = join(__dirname, '..');
const bin = join(root, 'bin', 'objhash.js');
const dir = mkdtempSync(join(tmpdir(), 'objhash-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'lib', 'cli', 'main.js'))) {
    const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { encoding: 'utf8' });
    if (!existsSync(join(root, 'dist', 'lib', 'cli', 'main.js'))) throw new Error(`tsc failed: ${r.stdout}`);
  }
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function run(impl: string, args: string[], opts: SpawnSyncOptions & { node?: string[] } = {}): Run {
  const r = spawnSync(process.execPath, [...(opts.node ?? []), bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, OBJHASH_IMPL: impl },
    timeout: 120_000,
    maxBuffer: 256 << 20,
    ...opts,
  });
  return { code: r.status, out: String(r.stdout), err: String(r.stderr) };
}
const cli = (impl: string, ...args: string[]) => run(impl, args);

/** The error line: exactly one line on stderr. */
function oneLine(r: Run): string {
  const lines = r.err.split('\n').filter((l) => l !== '');
  expect(lines, r.err).toHaveLength(1);
  return lines[0]!;
}

const crc32c = (b: Uint8Array, c: number) => getBackend('js').crc32c(b, c);

/** Record offsets/types/lens of a well-formed image. */
function walk(image: Uint8Array): { offset: number; type: number; len: number }[] {
  const recs = [];
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let off = 0; off < image.length; ) {
    const type = dv.getUint32(off, true);
    const len = dv.getUint32(off + 4, true);
    recs.push({ offset: off, type, len });
    off += (len + 7) & ~7;
  }
  return recs;
}

/** Recomputes TAIL's CRC after a patch (so the structural checks, not the CRC, catch it). */
function recrc(image: Uint8Array): Uint8Array {
  const t = walk(image).pop()!;
  new DataView(image.buffer, image.byteOffset).setUint32(t.offset + 20, crc32c(image.subarray(0, t.offset), 0) >>> 0, true);
  return image;
}

function save(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

// --- the images ------------------------------------------------------------

const image = checkpoint(buildTree(), TaskType, { types: TYPES, version: 1 });
const good = save('tree.img', image);
const recs = walk(image);
const tail = recs[recs.length - 1]!;
const objrefs = recs.filter((r) => r.type === REC.OBJREF);
const padded = recs.find((r) => r.len % 8 !== 0)!;

/** One object of type "w" whose state is a STRING, BUFFERs and a user record. */
const W = defineObjType<object>({
  name: 'w',
  checkpoint: (ctx) => {
    ctx.writeString('héllo, "world"');
    ctx.writeString('x'.repeat(200));
    ctx.writeBuffer(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    ctx.writeBuffer(new Uint8Array(100).fill(7));
    ctx.begin(300).u32(7).end();
  },
});
const wBytes = checkpoint({}, W, { types: [W], version: 1 });
const wImage = save('w.img', wBytes);
/** The same with the first STRING's first byte made invalid UTF-8 (0xff). */
const wBadUtf8 = save(
  'w-utf8.img',
  (() => {
    const b = wBytes.slice();
    b[56 + 8] = 0xff;
    return recrc(b);
  })(),
);

/** A checkpoint whose op throws: the partial image ends in an ERROR record. */
const Bad = defineObjType<object>({
  name: 'bad',
  checkpoint: (ctx) => {
    ctx.writeString('half written');
    throw new Error('no space left on device');
  },
});
let errImage: Uint8Array | undefined;
try {
  checkpoint({}, Bad, { types: [Bad], version: 1 });
} catch (e) {
  errImage = (e as { image?: Uint8Array }).image;
}
const errPath = save('err.img', errImage!);

// The images below are format version 1, whose dump output these tests spell
// out byte for byte; test/format-v2.test.ts dumps version 2 images.

/** Images with a valid CRC written by ImageWriter, wrong for the objhash rules. */
function written(name: string, body: (w: ImageWriter) => void, count: number): string {
  const w = new ImageWriter({ crc32c, version: 1 });
  w.writeHeader([
    { objtype: 1, name: 'a' },
    { objtype: 2, name: 'b' },
  ]);
  body(w);
  w.tail(count);
  return save(name, w.finish());
}

/**
 * Text that must not reach a terminal raw: newline, ESC [ 2 J (clear the
 * screen), U+009B (CSI), CR, BEL, RLO and LRI (bidi), U+2028/2029, DEL,
 * TAB, ALM; and how the command shows it in text and in JSON.
 */
const NASTY = 'a\nb\x1b[2J\u009b31m\rc\x07d\u202ee\u2066f\u2028g\u2029h\x7fi\tj\u061ck';
const NASTY_TEXT = String.raw`a\nb\x1b[2J\u009b31m\rc\x07d\u202ee\u2066f\u2028g\u2029h\x7fi\tj\u061ck`;
const NASTY_JSON = String.raw`a\nb\u001b[2J\u009b31m\rc\u0007d\u202ee\u2066f\u2028g\u2029h\u007fi\tj\u061ck`;
/** Any character the command must not print raw (a newline only ends a line). */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** A type named NASTY whose state is a STRING of NASTY; it fails with the message NASTY when asked to. */
const Nasty = defineObjType<{ fail: boolean }>({
  name: NASTY,
  checkpoint: (ctx, o) => {
    ctx.writeString(NASTY);
    if (o.fail) throw new Error(NASTY);
  },
});
/** Saved under a file name that is NASTY too. */
const nastyDir = join(dir, 'nasty');
mkdirSync(nastyDir);
const nastyGood = join(nastyDir, `${NASTY}.img`);
writeFileSync(nastyGood, checkpoint({ fail: false }, Nasty, { types: [Nasty], version: 1 }));
const nastyFailed = join(nastyDir, `${NASTY}-failed.img`);
try {
  checkpoint({ fail: true }, Nasty, { types: [Nasty], version: 1 });
} catch (e) {
  writeFileSync(nastyFailed, (e as { image: Uint8Array }).image);
}
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** nastyDir/NASTY..., as the command shows it. */
const shownPath = (p: string) => join(nastyDir, NASTY_TEXT) + p.slice(nastyDir.length + 1 + NASTY.length);

function corrupt(name: string, f: (b: Uint8Array) => Uint8Array): string {
  return save(name, f(image.slice()));
}

/** [path, what the one error line must say] */
const invalid: [string, RegExp][] = [
  [corrupt('truncated.img', (b) => b.subarray(0, b.length - 13)), /EPIPE at offset \d+: truncated/],
  [corrupt('cut-header.img', (b) => b.subarray(0, 20)), /EPIPE at offset 0: /],
  [save('empty.img', new Uint8Array(0)), /EPIPE at offset 0: truncated/],
  [
    corrupt('crc.img', (b) => {
      b[tail.offset + 20]! ^= 1;
      return b;
    }),
    new RegExp(`EBADMSG at offset ${tail.offset}: checksum mismatch`),
  ],
  [
    corrupt('flip.img', (b) => {
      b[recs.find((x) => x.type >= REC.USER_MIN && x.type <= REC.USER_MAX)!.offset + 9]! ^= 0x40; // user data: only the CRC can tell
      return b;
    }),
    new RegExp(`EBADMSG at offset ${tail.offset}: checksum mismatch`),
  ],
  [
    corrupt('magic.img', (b) => {
      b[8]! ^= 0xff;
      return b;
    }),
    /EINVAL at offset 0: bad magic/,
  ],
  [corrupt('trailing.img', (b) => Uint8Array.from([...b, 0, 0, 0, 0, 0, 0, 0, 0])), new RegExp(`EINVAL at offset ${image.length}: trailing bytes after TAIL`)],
  [
    corrupt('padding.img', (b) => {
      b[padded.offset + padded.len]! = 1;
      return b;
    }),
    new RegExp(`EINVAL at offset ${padded.offset + padded.len}: non-zero padding`),
  ],
  [
    corrupt('type.img', (b) => {
      new DataView(b.buffer).setUint32(recs[2]!.offset, 77, true);
      return b;
    }),
    new RegExp(`EINVAL at offset ${recs[2]!.offset}: unknown record type 77`),
  ],
  [
    corrupt('objreflen.img', (b) => {
      new DataView(b.buffer).setUint32(objrefs[0]!.offset + 4, 24, true);
      return b;
    }),
    new RegExp(`EINVAL at offset ${objrefs[0]!.offset}: .*OBJREF.*len 24`),
  ],
  [
    corrupt('dup.img', (b) => {
      new DataView(b.buffer).setInt32(objrefs[1]!.offset + 12, 1, true); // objref 2 -> 1
      return recrc(b);
    }),
    new RegExp(`EINVAL at offset ${objrefs[1]!.offset}: OBJREF .*objref 1 defined twice`),
  ],
  [
    written('objtype.img', (w) => void w.objref(9, 1), 1),
    /EINVAL at offset \d+: OBJREF .*objtype 9 is not in the header's type table/,
  ],
  [
    written('count.img', (w) => {
      w.objref(1, 1);
      w.objref(2, 2);
    }, 3),
    /EBADMSG at offset \d+: object count mismatch: TAIL .* says 3 objects, 2 were read/,
  ],
  [errPath, /EIO at offset \d+: .*checkpoint failed: no space left on device/],
];

// --------------------------------------------------------------------------

describe.each(IMPLS)('objhash command, OBJHASH_IMPL=%s', (impl) => {
  it('inspect prints the header and type table, records and bytes by type, objects by objtype, sharing, tail', () => {
    const r = cli(impl, 'inspect', good);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/: 1552 bytes, valid/);
    expect(r.out).toMatch(/header: format version 1, flags 0x00000000, 4 object type\(s\)/);
    expect(r.out).toMatch(/^\s+objtype\s+name\n\s+1\s+task\n\s+2\s+files_struct\n\s+3\s+file\n\s+4\s+mm$/m);
    expect(r.out).toMatch(/^\s+HEADER\s+1\s+88\s+5\.7%$/m);
    expect(r.out).toMatch(/^\s+OBJREF\s+24\s+384\s+24\.7%$/m);
    expect(r.out).toMatch(/^\s+USER\(103\)\s+6\s+296\s/m);
    expect(r.out).toMatch(/^\s+TAIL\s+1\s+24\s/m);
    expect(r.out).toMatch(/^\s+total\s+50\s+1552$/m);
    expect(r.out).toMatch(/^\s+3\s+file\s+6$/m);
    expect(r.out).toMatch(/^\s+total\s+24$/m);
    expect(r.out).toMatch(/24 object\(s\), each stored once: one OBJREF \+ 1\.0 state records, 44\.0 state bytes per object/);
    expect(r.out).toMatch(/references per object: not recorded in the image/);
    expect(r.out).toMatch(new RegExp(`tail: TAIL at offset ${tail.offset}: object count 24, crc32c 0x[0-9a-f]{8}: ok`));
  });

  it('inspect counts the FIELDS and VALUE bodies of fields types and plain values as state records', () => {
    const T = defineObjType({ name: 'pt', fields: { a: 'uv', b: 'vstr' } });
    const f = join(dir, `fields-${impl}.img`);
    writeFileSync(f, checkpoint({ a: 1, b: 'x' }, T));
    expect(cli(impl, 'inspect', f).out).toMatch(/1 object\(s\), each stored once: one OBJREF \+ 1\.0 state records, 5\.0 state bytes per object/);
    const v = join(dir, `value-${impl}.img`);
    writeFileSync(v, checkpoint({ a: [1, { b: 2 }] }));
    expect(cli(impl, 'inspect', v).out).toMatch(/1 object\(s\), each stored once: one OBJREF \+ 1\.0 state records, [1-9]\d*\.0 state bytes per object/);
  });

  it('verify: exit 0 on a valid image', () => {
    const r = cli(impl, 'verify', good);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^\S+tree\.img: valid: 1552 bytes, 50 records, 24 objects, crc32c 0x[0-9a-f]{8}\n$/);
  });

  it.each(invalid.map(([p, why]) => [p.slice(dir.length + 1), p, why] as const))('verify %s: exit 1, one line with the offset and the reason', (_, path, why) => {
    const r = cli(impl, 'verify', path);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    const line = oneLine(r);
    expect(line.startsWith(`${path}: invalid: `)).toBe(true);
    expect(line).toMatch(why);
  });

  it('inspect of an invalid image prints what it read, then the one error line, exit 1', () => {
    const trunc = join(dir, 'truncated.img');
    const r = cli(impl, 'inspect', trunc);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/INVALID/);
    expect(r.out).toMatch(/records \(up to the error\)/);
    expect(r.out).toMatch(/OBJREF\s+24/);
    expect(r.out).toMatch(/tail: missing/);
    expect(oneLine(r)).toMatch(/invalid: EPIPE at offset \d+/);

    const crc = cli(impl, 'inspect', join(dir, 'crc.img'));
    expect(crc.code).toBe(1);
    expect(crc.out).toMatch(/tail: TAIL at offset \d+: object count 24, crc32c 0x[0-9a-f]{8}: BAD/);
    expect(oneLine(crc)).toMatch(/EBADMSG .*checksum mismatch/);

    const magic = cli(impl, 'inspect', join(dir, 'magic.img'));
    expect(magic.code).toBe(1);
    expect(magic.out).toMatch(/header: unreadable/);
    expect(oneLine(magic)).toMatch(/EINVAL at offset 0: bad magic/);

    const e = cli(impl, 'inspect', errPath);
    expect(e.code).toBe(1);
    expect(e.out).toMatch(/tail: none: ERROR record at offset \d+, the checkpoint failed: no space left on device/);
    expect(oneLine(e)).toMatch(/EIO/);
  });

  it('dump lists every record: offset, type name, len; OBJREF, STRING and BUFFER decoded, user records as hex', () => {
    const r = cli(impl, 'dump', wImage);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.trimEnd().split('\n');
    expect(lines.map((l) => l.trim().split(/\s+/).slice(0, 4))).toEqual([
      ['0', 'HEADER', 'len', '40'],
      ['40', 'OBJREF', 'len', '16'],
      ['56', 'STRING', 'len', '23'],
      ['80', 'STRING', 'len', '208'],
      ['288', 'BUFFER', 'len', '12'],
      ['304', 'BUFFER', 'len', '108'],
      ['416', 'USER(300)', 'len', '12'],
      ['432', 'TAIL', 'len', '24'],
    ]);
    expect(lines[0]).toMatch(/version 1, flags 0x00000000, types 1=w$/);
    expect(lines[1]).toMatch(/objref 1, objtype 1 \(w\)$/);
    expect(lines[2]).toMatch(/ "héllo, \\"world\\""$/);
    expect(lines[3]).toMatch(new RegExp(` "${'x'.repeat(80)}"…\\(\\+120 bytes\\)$`));
    expect(lines[4]).toMatch(/ de ad be ef$/);
    expect(lines[5]).toMatch(new RegExp(` ${Array(64).fill('07').join(' ')} …\\(\\+36 bytes\\)$`));
    expect(lines[6]).toMatch(/ 07 00 00 00$/);
    expect(lines[7]).toMatch(/object count 1, crc32c 0x[0-9a-f]{8} ok$/);
  });

  it('dump shows the first 100 items of a long array, Map, Set, property list or refs field, and counts the rest', () => {
    interface Hub {
      kids: Hub[];
    }
    const HubT: ObjType<Hub> = defineObjType<Hub>({ name: 'hub', fields: { kids: refs(() => HubT) } });
    const p = join(dir, `long-${impl}.objhash`);
    const big = {
      a: Array.from({ length: 250 }, (_, i) => i),
      m: new Map(Array.from({ length: 120 }, (_, i) => [i, i] as [number, number])),
      s: new Set(Array.from({ length: 101 }, (_, i) => i)),
      o: Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`k${i}`, i])),
      h: { kids: Array.from({ length: 300 }, () => ({ kids: [] })) } as Hub,
    };
    const BigT = defineObjType<typeof big>({ name: 'big', fields: { a: 'value', m: 'value', s: 'value', o: 'value', h: ref(HubT) } });
    checkpointToFile(p, big, BigT, { types: [BigT, HubT] });
    const j = cli(impl, 'dump', '--json', p);
    expect(j.code, j.err).toBe(0);
    const lines = j.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    const root = lines.find((l) => l.name === 'FIELDS' && l.typeName === 'big')!;
    const field = (n: string) => (root.fields as { name: string; value: any }[]).find((f) => f.name === n)!.value;
    expect(field('a').items).toHaveLength(101);
    expect(field('a').items[99]).toBe(99);
    expect(field('a').items[100]).toEqual({ more: 150 });
    expect(field('m').entries.at(-1)).toEqual({ more: 20 });
    expect(field('s').values.at(-1)).toEqual({ more: 1 });
    expect(field('o').props.at(-1)).toEqual({ more: 30 });
    const hub = lines.find((l) => l.name === 'FIELDS' && l.typeName === 'hub' && (l.fields[0].value as unknown[]).length > 0)!;
    expect(hub.fields[0].value).toHaveLength(101);
    expect(hub.fields[0].value.at(-1)).toEqual({ more: 200 });
    // the text dump too: one short line
    const t = cli(impl, 'dump', p);
    expect(t.code).toBe(0);
    expect(Math.max(...t.out.split('\n').map((l) => l.length))).toBeLessThan(20000);
    expect(t.out).toContain('{"more":150}');
  });

  it('dump --json: one JSON object per line, offsets increasing, payloads decoded (whole hex)', () => {
    const j = cli(impl, 'dump', '--json', good);
    expect(j.code).toBe(0);
    const objs = j.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs.map((o) => [o.offset, o.type, o.len])).toEqual(recs.map((x) => [x.offset, x.type, x.len]));
    for (let i = 1; i < objs.length; i++) expect(objs[i]!.offset as number).toBeGreaterThan(objs[i - 1]!.offset as number);
    expect(objs[0]).toMatchObject({ name: 'HEADER', version: 1, flags: 0, types: [{ objtype: 1, name: 'task' }, { objtype: 2, name: 'files_struct' }, { objtype: 3, name: 'file' }, { objtype: 4, name: 'mm' }] });
    const refs = objs.filter((o) => o.name === 'OBJREF');
    expect(refs.map((o) => o.objref)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(refs[0]).toEqual({ offset: 88, type: 5, name: 'OBJREF', len: 16, objtype: 1, typeName: 'task', objref: 1 });
    const user = objs.find((o) => o.name === 'USER(104)')!;
    const at = user.offset as number;
    expect(user.hex).toBe(Buffer.from(image.subarray(at + 8, at + (user.len as number))).toString('hex'));
    expect(objs[objs.length - 1]).toMatchObject({ name: 'TAIL', count: 24, ok: true });

    const w = cli(impl, 'dump', '--json', wImage);
    const wo = w.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(wo.filter((o) => o.name === 'STRING').map((o) => o.text)).toEqual(['héllo, "world"', 'x'.repeat(200)]);
    expect(wo.filter((o) => o.name === 'BUFFER').map((o) => o.hex)).toEqual(['deadbeef', '07'.repeat(100)]);
    expect(wo.find((o) => o.type === 300)).toMatchObject({ name: 'USER(300)', hex: '07000000' });

    // a STRING that is not valid UTF-8: still valid as an image (its bytes belong to the op); shown with U+FFFD, and as hex in JSON
    expect(cli(impl, 'verify', wBadUtf8).code).toBe(0);
    expect(cli(impl, 'dump', wBadUtf8).out).toMatch(/STRING\s+len 23\s+"\ufffdéllo, \\"world\\"" \(not valid UTF-8\)\n/);
    const bad = JSON.parse(cli(impl, 'dump', '--json', wBadUtf8).out.split('\n')[2]!) as Record<string, unknown>;
    expect(bad).toMatchObject({ name: 'STRING', text: '\ufffdéllo, "world"', hex: 'ff' + Buffer.from('éllo, "world"').toString('hex') });
  });

  it('dump of a corrupt image prints the records before the damage, then the error line, exit 1', () => {
    const trunc = join(dir, 'truncated.img');
    const r = cli(impl, 'dump', trunc);
    expect(r.code).toBe(1);
    const line = oneLine(r);
    const at = Number(/EPIPE at offset (\d+)/.exec(line)![1]);
    const printed = r.out.trimEnd().split('\n').map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(printed).toEqual(recs.filter((x) => x.offset < at).map((x) => x.offset));

    const j = cli(impl, 'dump', '--json', trunc);
    expect(j.code).toBe(1);
    const objs = j.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs.pop()).toMatchObject({ error: 'EPIPE', offset: at });
    expect(objs.map((o) => o.offset)).toEqual(printed);

    // the CRC is checked at TAIL: the TAIL line has no "ok", then the error
    const c = cli(impl, 'dump', join(dir, 'crc.img'));
    expect(c.code).toBe(1);
    expect(c.out.trimEnd().split('\n').pop()).toMatch(/TAIL\s+len 24\s+object count 24, crc32c 0x[0-9a-f]{8}$/);
    expect(oneLine(c)).toMatch(/EBADMSG/);
    const d = cli(impl, 'dump', join(dir, 'dup.img'));
    expect(d.code).toBe(1);
    // the reader refuses the OBJREF itself (the validator restart shares), so the
    // records before it are printed, then the error naming it
    const dupAt = Number(/OBJREF at offset (\d+): objref 1 defined twice/.exec(oneLine(d))![1]);
    const lines = d.out.trimEnd().split('\n');
    expect(Number(lines.pop()!.trim().split(/\s+/)[0])).toBeLessThan(dupAt);
  });

  it('an image that ends in an ERROR record (a failed checkpoint): dump shows it, verify fails with the message', () => {
    const d = cli(impl, 'dump', errPath);
    expect(d.code).toBe(1);
    expect(d.out).toMatch(/STRING\s+len \d+\s+"half written"/);
    expect(d.out).toMatch(/ERROR\s+len \d+\s+the checkpoint failed: no space left on device\n$/);
    expect(oneLine(d)).toMatch(/EIO .*no space left on device/);
    const j = cli(impl, 'dump', '--json', errPath);
    const objs = j.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs.at(-2)).toMatchObject({ name: 'ERROR', message: 'no space left on device' });
    expect(objs.at(-1)).toMatchObject({ error: 'EIO' });
  });

  it('a large image (records bigger than the read window): verify, and dump with a 16 MB heap', () => {
    const p = join(dir, 'big.img');
    if (!existsSync(p)) {
      const Blob = defineObjType<number>({
        name: 'blob',
        checkpoint: (ctx, n) => {
          const chunk = new Uint8Array(1 << 20).fill(n);
          for (let i = 0; i < 24; i++) ctx.writeBuffer(chunk);
        },
      });
      checkpointToFile(p, 7, Blob, { types: [Blob], version: 1 });
    }
    expect(statSync(p).size).toBeGreaterThan(24 << 20);
    expect(cli(impl, 'verify', p).code).toBe(0);
    const r = run(impl, ['dump', p], { node: ['--max-old-space-size=16'] });
    expect(r.code, r.err).toBe(0);
    expect(r.out.split('\n').filter((l) => /BUFFER\s+len 1048584\s+(07 ){63}07 …\(\+1048512 bytes\)$/.test(l))).toHaveLength(24);
    const j = run(impl, ['dump', '--json', p], { node: ['--max-old-space-size=16'] });
    expect(j.code, j.err).toBe(0);
    const bufs = j.out.trimEnd().split('\n').map((l) => JSON.parse(l) as { name: string; hex?: string }).filter((o) => o.name === 'BUFFER');
    expect(bufs).toHaveLength(24);
    expect(bufs.every((o) => o.hex!.length === 2 << 20 && /^(07)+$/.test(o.hex!))).toBe(true);
  });

  it('text from the image or the command line is printed escaped: no raw control, bidi or line-separator character', () => {
    const clean = (r: Run, lines: { out?: number; err?: number }) => {
      expect(r.out, 'stdout').not.toMatch(RAW_CONTROL);
      expect(r.err, 'stderr').not.toMatch(RAW_CONTROL);
      if (lines.out !== undefined) expect(r.out.split('\n').filter((l) => l !== ''), r.out).toHaveLength(lines.out);
      if (lines.err !== undefined) expect(r.err.split('\n').filter((l) => l !== ''), r.err).toHaveLength(lines.err);
    };

    const v = cli(impl, 'verify', nastyGood);
    expect(v.code).toBe(0);
    clean(v, { out: 1, err: 0 });
    expect(v.out.startsWith(`${shownPath(nastyGood)}: valid: `)).toBe(true);

    const vf = cli(impl, 'verify', nastyFailed);
    expect(vf.code).toBe(1);
    clean(vf, { out: 0, err: 1 });
    expect(vf.err.startsWith(`${shownPath(nastyFailed)}: invalid: EIO at offset `), vf.err).toBe(true);
    expect(vf.err.endsWith(`: checkpoint failed: ${NASTY_TEXT}\n`), vf.err).toBe(true);

    const i = cli(impl, 'inspect', nastyFailed);
    expect(i.code).toBe(1);
    clean(i, { err: 1 });
    expect(i.out.startsWith(`${shownPath(nastyFailed)}: `)).toBe(true);
    expect(i.out).toMatch(new RegExp(`\\n +1  ${reEscape(NASTY_TEXT)}\\n`)); // the type table
    expect(i.out).toMatch(new RegExp(`\\n +1  ${reEscape(NASTY_TEXT)} +1\\n`)); // objects by objtype
    expect(i.out).toContain(`the checkpoint failed: ${NASTY_TEXT}\n`);

    // dump: one line a record
    const d = cli(impl, 'dump', nastyFailed);
    expect(d.code).toBe(1);
    clean(d, { out: 4, err: 1 }); // HEADER, OBJREF, STRING, ERROR
    const [hdr, ref, str, err] = d.out.split('\n');
    expect(hdr!.endsWith(`types 1=${NASTY_TEXT}`)).toBe(true);
    expect(ref!.endsWith(`objref 1, objtype 1 (${NASTY_TEXT})`)).toBe(true);
    expect(str!.endsWith(`"${NASTY_JSON}"`)).toBe(true); // STRING text: JSON-quoted
    expect(err!.endsWith(`the checkpoint failed: ${NASTY_TEXT}`)).toBe(true);
    expect(d.err).toContain(`checkpoint failed: ${NASTY_TEXT}\n`);

    // dump --json: escaped as \uXXXX, and JSON gives the text back exactly
    const j = cli(impl, 'dump', '--json', nastyFailed);
    expect(j.code).toBe(1);
    clean(j, { out: 5, err: 1 });
    expect(j.out).toContain(`"types":[{"objtype":1,"name":"${NASTY_JSON}"}]`);
    expect(j.out).toContain(`"typeName":"${NASTY_JSON}"`);
    expect(j.out).toContain(`"text":"${NASTY_JSON}"`);
    expect(j.out).toContain(`"message":"${NASTY_JSON}"`);
    const objs = j.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs[0]!.types).toEqual([{ objtype: 1, name: NASTY }]);
    expect(objs[1]).toMatchObject({ name: 'OBJREF', typeName: NASTY });
    expect(objs[2]).toMatchObject({ name: 'STRING', text: NASTY });
    expect(objs[3]).toMatchObject({ name: 'ERROR', message: NASTY });
    expect(objs[4]).toMatchObject({ error: 'EIO' });
    expect(objs[4]!.message).toMatch(new RegExp(`checkpoint failed: ${reEscape(NASTY)}$`));

    const jg = cli(impl, 'dump', '--json', nastyGood);
    expect(jg.code).toBe(0);
    clean(jg, { out: 4, err: 0 }); // HEADER, OBJREF, STRING, TAIL

    // arguments quoted in error lines
    const missing = cli(impl, 'inspect', join(nastyDir, NASTY));
    expect(missing.code).toBe(1);
    clean(missing, { out: 0, err: 1 });
    expect(missing.err).toBe(`objhash inspect: ${join(nastyDir, NASTY_TEXT)}: no such file\n`);
    const opt = cli(impl, 'dump', `--${NASTY}`, nastyGood);
    expect(opt.code).toBe(2);
    clean(opt, { out: 0, err: 1 });
    expect(opt.err).toContain(`unknown option '--${NASTY_TEXT}'`);
    const cmd = cli(impl, NASTY);
    expect(cmd.code).toBe(2);
    clean(cmd, { out: 0, err: 1 });
    expect(cmd.err).toContain(`unknown command '${NASTY_TEXT}'`);
  });

  it('objhash demo runs the demo (npm start)', () => {
    const r = cli(impl, 'demo');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`backend: ${impl}`));
    expect(r.out).toMatch(/all checks passed/);
  });
});

describe('objhash command: usage, errors, output', () => {
  const impl = IMPLS[0]!;

  it('--help for the command and every subcommand, exit 0', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = cli(impl, ...args);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^usage: objhash <command>/);
      for (const c of ['inspect', 'verify', 'dump', 'demo', 'bench']) expect(r.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    }
    for (const c of ['inspect', 'verify', 'dump', 'demo', 'bench', 'help']) {
      for (const args of [[c, '--help'], [c, '-h'], ['help', c]]) {
        const r = cli(impl, ...args);
        expect(r.code, args.join(' ')).toBe(0);
        expect(r.err).toBe('');
        expect(r.out).toMatch(new RegExp(`^usage: objhash ${c}\\b`));
      }
    }
    expect(cli(impl, 'inspect', '--help').out).toMatch(/references per object cannot be read/);
    expect(cli(impl, 'dump', good, '--help').code).toBe(0);
    expect(cli(impl, '--version').out).toMatch(/^objhash \d+\.\d+\.\d+ \((native|js) backend/);
  });

  it('usage errors: one line, exit 2', () => {
    const cases: [string[], RegExp][] = [
      [[], /^objhash: missing command: one of inspect, verify, dump, demo, bench, help \(objhash --help\)$/],
      [['frobnicate'], /^objhash: unknown command 'frobnicate' \(objhash --help\)$/],
      [['--frob'], /^objhash: unknown option '--frob'/],
      [['verify'], /^objhash verify: missing IMAGE argument \(objhash verify --help\)$/],
      [['inspect', good, good], /^objhash inspect: expected one IMAGE argument, got 2/],
      [['dump', good, '--yaml'], /^objhash dump: unknown option '--yaml' \(objhash dump --help\)$/],
      [['verify', '--json', good], /^objhash verify: unknown option '--json'/],
      [['demo', 'now'], /^objhash demo: unexpected argument 'now'/],
      [['help', 'frobnicate'], /^objhash help: unknown command 'frobnicate'/],
    ];
    for (const [args, why] of cases) {
      const r = cli(impl, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(oneLine(r)).toMatch(why);
    }
  });

  it('a missing file, a directory, a bad OBJHASH_IMPL: one line, exit 1', () => {
    for (const c of ['inspect', 'verify', 'dump']) {
      const m = cli(impl, c, join(dir, 'nope.img'));
      expect(m.code).toBe(1);
      expect(oneLine(m)).toBe(`objhash ${c}: ${join(dir, 'nope.img')}: no such file`);
      const d = cli(impl, c, dir);
      expect(d.code).toBe(1);
      expect(oneLine(d)).toBe(`objhash ${c}: ${dir}: is a directory`);
    }
    const b = cli('bogus', 'verify', good);
    expect(b.code).toBe(1);
    expect(oneLine(b)).toMatch(/^objhash verify: OBJHASH_IMPL must be 'native' or 'js'/);
    // help needs no backend
    expect(cli('bogus', 'verify', '--help').code).toBe(0);
  });

  it('an image named like an option after --', () => {
    const p = join(dir, '-odd.img');
    writeFileSync(p, image);
    const r = spawnSync(process.execPath, [bin, 'verify', '--', '-odd.img'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^-odd\.img: valid/);
  });

  it('dump into a pipe: waits for a slow reader with bounded memory, stops quietly when the reader goes away', () => {
    const p = join(dir, 'many.img');
    const Leaf = defineObjType<{ v: number }>({ name: 'leaf', checkpoint: (ctx, o) => void ctx.begin(200).u32(o.v).end() });
    const Root = defineObjType<{ v: number }[]>({
      name: 'root',
      checkpoint: (ctx, a) => {
        for (const o of a) ctx.checkpointObj(o, Leaf);
      },
    });
    const n = 300_000;
    checkpointToFile(p, Array.from({ length: n }, (_, v) => ({ v })), Root, { types: [Root, Leaf], version: 1 });
    const lines = 2 + 2 * n + 1; // HEADER, OBJREF root, n x (OBJREF, USER(200)), TAIL
    const sh = (cmd: string) => spawnSync('bash', ['-c', cmd], { encoding: 'utf8', env: { ...process.env, OBJHASH_IMPL: impl }, timeout: 120_000 });

    // a reader that starts late: the output (~20 MB) does not fit a pipe, nor a 24 MB heap if queued
    const slow = sh(`node --max-old-space-size=24 '${bin}' dump '${p}' | (sleep 1; wc -l); echo "status \${PIPESTATUS[0]}"`);
    expect(slow.stderr).toBe('');
    expect(slow.stdout.trim().split(/\s+/)).toEqual([String(lines), 'status', '0']);

    // | head: exit 0, no EPIPE noise, and it stops early
    const head = sh(`node '${bin}' dump --json '${p}' | head -n 2; echo "status \${PIPESTATUS[0]}"`);
    expect(head.stderr).toBe('');
    const out = head.stdout.trimEnd().split('\n');
    expect(out).toHaveLength(3);
    expect(JSON.parse(out[1]!)).toMatchObject({ name: 'OBJREF', objref: 1, typeName: 'root' });
    expect(out[2]).toBe('status 0');
  });

  it('progress: a single updating line on stderr for images over 64 MiB on a terminal, cleared at the end', () => {
    const writes: string[] = [];
    const tty: Sink = { isTTY: true, write: (s) => void writes.push(s), flush: () => {} };
    const p = new Progress(tty, 'objhash verify', 1000, 100);
    for (let off = 0; off <= 1000; off += 5) p.update(off);
    p.done();
    expect(writes.filter((s) => s.startsWith('\r')).length).toBe(102); // 0..100%, then the erase
    expect(writes[0]).toBe('\robjhash verify: 0% of 0.0 MiB');
    expect(writes[50]).toMatch(/^\robjhash verify: 50% /);
    expect(writes.at(-1)).toBe('\r\x1b[K');
    expect(writes.every((s) => !s.includes('\n'))).toBe(true);

    const quiet: string[] = [];
    const small = new Progress({ isTTY: true, write: (s) => void quiet.push(s), flush: () => {} }, 'x', 100, 100); // not over the limit
    small.update(50);
    small.done();
    const pipe = new Progress({ isTTY: false, write: (s) => void quiet.push(s), flush: () => {} }, 'x', 1 << 30);
    pipe.update(1 << 29);
    pipe.done();
    expect(quiet).toEqual([]);
  });

  it.skipIf(!existsSync('/usr/bin/script'))('progress for real: on a pty (script), not on a pipe', () => {
    const p = join(dir, 'huge.img');
    const Blob = defineObjType<number>({
      name: 'blob',
      checkpoint: (ctx) => {
        const chunk = new Uint8Array(1 << 20).fill(1);
        for (let i = 0; i < 66; i++) ctx.writeBuffer(chunk);
      },
    });
    checkpointToFile(p, 1, Blob, { types: [Blob], version: 1 });
    expect(statSync(p).size).toBeGreaterThan(64 << 20);
    const piped = cli(impl, 'verify', p);
    expect(piped.code).toBe(0);
    expect(piped.err).toBe('');
    const r = spawnSync('/usr/bin/script', ['-qec', `'${process.execPath}' '${bin}' verify '${p}' > /dev/null`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, OBJHASH_IMPL: impl },
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\robjhash verify: \d+% of 66\.0 MiB/);
    expect(r.stdout).toMatch(/\r\x1b\[K$/);
    rmSync(p);
  });

  it('bench passes its arguments on to dist/bench/run.js', () => {
    if (!existsSync(join(root, 'dist', 'bench', 'run.js'))) return;
    const r = cli(impl, 'bench', '--no-such-flag');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--no-such-flag/);
  });

  it('the launcher without dist/, and bench or demo without their files: one line, exit 1', () => {
    const pkg = join(dir, 'pkg');
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    cpSync(bin, join(pkg, 'bin', 'objhash.js'));
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    const nodist = spawnSync(process.execPath, [join(pkg, 'bin', 'objhash.js'), 'verify', good], { encoding: 'utf8' });
    expect(nodist.status).toBe(1);
    expect(oneLine({ code: nodist.status, out: nodist.stdout, err: nodist.stderr })).toMatch(/^objhash: not built .*run `npm run build`/);

    cpSync(join(root, 'dist', 'lib'), join(pkg, 'dist', 'lib'), { recursive: true });
    const run = (c: string) => spawnSync(process.execPath, [join(pkg, 'bin', 'objhash.js'), c], { encoding: 'utf8', env: { ...process.env, OBJHASH_IMPL: 'js' } });
    // as installed from the package: no bench/ sources, no dist/bench
    const bench = run('bench');
    expect(bench.status).toBe(1);
    expect(oneLine({ code: bench.status, out: bench.stdout, err: bench.stderr })).toMatch(/^objhash bench: the benchmark is not part of the installed package; run `npm run bench` in a clone/);
    const demo = run('demo');
    expect(demo.status).toBe(1);
    expect(oneLine({ code: demo.status, out: demo.stdout, err: demo.stderr })).toMatch(/^objhash demo: .* is missing: run `npm run build`/);
    // a clone (bench/ sources there) that is not built
    mkdirSync(join(pkg, 'bench'));
    const unbuilt = run('bench');
    expect(unbuilt.status).toBe(1);
    expect(oneLine({ code: unbuilt.status, out: unbuilt.stdout, err: unbuilt.stderr })).toMatch(/^objhash bench: .* is missing: run `npm run build`/);
  });
});

describe('compressed images for the command (decompressSync)', () => {
  const img = checkpoint({ a: [1, 2, 3], s: 'x'.repeat(100) }, { impl: IMPLS[0] });
  const packs: [Compression, (b: Uint8Array) => Buffer][] = [
    ['gzip', zlib.gzipSync],
    ['brotli', zlib.brotliCompressSync],
    ...(zstdAvailable ? [['zstd', (zlib as unknown as { zstdCompressSync: (b: Uint8Array) => Buffer }).zstdCompressSync] as [Compression, (b: Uint8Array) => Buffer]] : []),
  ];

  it.each(packs)('%s: the image back; bytes after its stream are an error; zeros are known as no image from a prefix, not inflated', (c, pack) => {
    const r = decompressSync(pack(img), 1 << 30);
    expect(r.compression).toBe(c);
    expect(Buffer.from(r.image).equals(Buffer.from(img))).toBe(true);
    // (brotli, which has no magic number, once its first bytes made an image's header; gzip although gunzip reads them as a next member)
    const trailing = Buffer.concat([pack(img), Buffer.from('GARBAGE')]);
    expectCode(() => decompressSync(trailing, 1 << 30), 'EIO', new RegExp(`^cannot decompress the ${c} image: 7 bytes follow the end of its stream$`));
    // a file name and a comment in the gzip header are skipped to find the member's end
    if (c === 'gzip') {
      const named = Buffer.from(pack(img));
      const withName = Buffer.concat([named.subarray(0, 3), Buffer.from([named[3]! | 8 | 16]), named.subarray(4, 10), Buffer.from('img.ckpt\0a comment\0'), named.subarray(10), Buffer.from('XYZ')]);
      expectCode(() => decompressSync(withName, 1 << 30), 'EIO', /: 3 bytes follow the end of its stream$/);
      // a valid second member is part of the stream (only what follows it is counted); an error inside a member is that error
      const two = Buffer.concat([pack(img), pack(Buffer.from('second member'))]);
      expect(decompressSync(two, 1 << 30).compression).toBe('gzip');
      expectCode(() => decompressSync(Buffer.concat([two, Buffer.from('JUNK!')]), 1 << 30), 'EIO', /: 5 bytes follow the end of its stream$/);
      expectCode(() => decompressSync(two.subarray(0, two.length - 4), 1 << 30), 'EIO', /: unexpected end of file$/);
      const badCrc = Buffer.from(pack(img));
      badCrc[badCrc.length - 6]! ^= 0xff;
      expectCode(() => decompressSync(Buffer.concat([badCrc, Buffer.from('XYZ')]), 1 << 30), 'EIO', /: incorrect data check$/);
      const big = pack(Buffer.concat([img, Buffer.alloc(40000)]));
      expectCode(() => decompressSync(Buffer.concat([big, big]), 60000), 'EIO', /larger than 60000 bytes/);
    }
    // 256 MiB of zeros: the first 16 bytes come from a prefix
    const bomb = pack(Buffer.alloc(1 << 28));
    const b = decompressSync(bomb, 1 << 30);
    if (c === 'brotli') {
      // (brotli, only tried: the bytes as they are, for the reader to refuse)
      expect(b.compression).toBeUndefined();
      expect(b.image.length).toBe(bomb.length);
    } else {
      expect(b.compression).toBe(c);
      expect(b.image.length).toBe(16);
    }
    // more than maxOutput is an error (brotli: not taken for brotli), never a bigger buffer
    const over = pack(Buffer.concat([img, Buffer.alloc(1 << 20)]));
    expectCode(() => decompressSync(over, 1 << 16), 'EIO', /cannot decompress/);
    // bytes that are no brotli and no image: as they are, for the reader to refuse
    const junk = Buffer.from('not an image, not compressed either');
    expect(decompressSync(junk, 1 << 30)).toEqual({ image: junk, compression: undefined });
  });
});

describe('inspectImage objref bookkeeping (what verify relies on)', () => {
  function objrefImage(refs: number[]): Uint8Array {
    const w = new ImageWriter({ crc32c, version: 1 });
    w.writeHeader([{ objtype: 1, name: 'a' }]);
    for (const r of refs) w.objref(1, r);
    w.tail(refs.length);
    return w.finish();
  }
  const dupAt = (refs: number[]) => 40 + 16 * (refs.length - 1); // HEADER is 40 bytes, then 16 per OBJREF

  it('dense objrefs: a bit each, however many', () => {
    const refs = Array.from({ length: 200_000 }, (_, i) => i + 1);
    const info = inspectImage(objrefImage(refs));
    expect(info.error).toBeUndefined();
    expect(info.objects).toEqual([{ objtype: 1, name: 'a', count: 200_000 }]);
  });

  it.each([
    ['past the first bitmap', [...Array.from({ length: 70_000 }, (_, i) => i + 1), 65_537]],
    ['sparse, far above the count', [3, 2147483647, 1_000_000, 2147483647]],
    ['sparse first, then covered by a grown bitmap', [100_000, ...Array.from({ length: 99_999 }, (_, i) => i + 1), 100_000]],
  ])('an objref defined twice (%s) is found', (_, refs) => {
    // (objrefs this far apart are refused by maxObjrefGap first: lift it, the bookkeeping is under test)
    const info = inspectImage(objrefImage(refs), { maxObjrefGap: 2 ** 31 });
    expect(info.error?.code).toBe('EINVAL');
    expect(info.error?.message).toMatch(new RegExp(`objref ${refs.at(-1)} defined twice`));
    expect(info.error?.offset).toBe(dupAt(refs));
  });
});

describe('RecordDecoder (lib/image/records.ts): what dump and inspect print, decoded by the library', () => {
  it('describes every kind of record; BUFFER and user payloads are read in pieces, a STRING up to maxChars', () => {
    const seen: unknown[] = [];
    const pieces: number[][] = [];
    const records = new RecordDecoder();
    const failed = readFileSync(errPath);
    for (const img of [wBytes, failed]) {
      inspectImage(img, {
        onRecord: (rec, reader, info) => {
          const d = records.describe(rec, reader, info, { maxChars: 5 });
          if (d.kind === 'buffer' || d.kind === 'user') {
            const sizes: number[] = [];
            const all: number[] = [];
            for (let b = d.read(40); b.length > 0; b = d.read(40)) {
              sizes.push(b.length);
              all.push(...b);
            }
            expect(all).toHaveLength(d.size);
            pieces.push(sizes);
            seen.push({ kind: d.kind, name: d.name, size: d.size, first: all[0] });
          } else if (d.kind === 'string') {
            seen.push({ kind: d.kind, text: d.text, utf8Valid: d.utf8Valid, more: d.more, read: d.bytes.length });
          } else {
            seen.push(d);
          }
        },
      });
    }
    expect(seen).toEqual([
      { kind: 'header', type: REC.HEADER, name: 'HEADER', offset: 0, len: 40, size: 32, version: 1, flags: 0, types: [{ objtype: 1, name: 'w' }] },
      { kind: 'objref', type: REC.OBJREF, name: 'OBJREF', offset: 40, len: 16, size: 8, objtype: 1, objref: 1, typeName: 'w' },
      { kind: 'string', text: 'héllo', utf8Valid: true, more: 15 - 6, read: 15 }, // 'héllo' is 6 bytes of 15
      { kind: 'string', text: 'xxxxx', utf8Valid: true, more: 195, read: 20 }, // at most 4 bytes a character read
      { kind: 'buffer', name: 'BUFFER', size: 4, first: 0xde },
      { kind: 'buffer', name: 'BUFFER', size: 100, first: 7 },
      { kind: 'user', name: 'USER(300)', size: 4, first: 7 },
      expect.objectContaining({ kind: 'tail', name: 'TAIL', offset: 432, len: 24, size: 16, count: 1, crc: new DataView(wBytes.buffer, wBytes.byteOffset).getUint32(452, true) }),
      expect.objectContaining({ kind: 'header', types: [{ objtype: 1, name: 'bad' }] }),
      expect.objectContaining({ kind: 'objref', objref: 1, typeName: 'bad' }),
      { kind: 'string', text: 'half ', utf8Valid: true, more: 7, read: 12 },
      expect.objectContaining({ kind: 'error', name: 'ERROR', message: 'no space left on device' }),
    ]);
    expect(pieces).toEqual([[4], [40, 40, 20], [4]]);
  });
});
