/**
 * The objhash command: inspect, verify and dump checkpoint images (what
 * CRIU's crit does for its images), plus the demo and the benchmark.
 *
 * Exit codes: 0 ok, 1 invalid image or failed command, 2 usage error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ObjHashError } from '../errors.js';
import { REC, recordTypeName } from '../image/format.js';
import { ImageReader } from '../image/reader.js';
import { FileSource } from '../image/source.js';
import { inspectImage, type ImageInfo } from '../inspect.js';
import { defaultBackend, impl } from '../loader.js';

const USAGE = `usage: objhash <command> [options]

commands:
  inspect IMAGE        header, type table, records and objects by type, tail status
  verify IMAGE         check structure, objrefs, TAIL count and CRC32C; exit 0 if valid
  dump IMAGE [--json]  every record with offset, type and len; payloads decoded
  demo                 run the process-tree demo (npm start)
  bench [--quick]      run the benchmark (npm run bench)

objhash <command> --help for more.  OBJHASH_IMPL=native|js picks the backend.`;

const HELP: Record<string, string> = {
  inspect: `usage: objhash inspect IMAGE

Prints the header (format version, flags, type table), record counts and
bytes by record type, objects by objtype with the bytes of state per object,
and the tail status (object count, CRC32C).  References to shared objects
live inside the types' own records, so the image cannot say how often each
object was referred to; "state bytes/object" is what sharing saved per reuse.
Exits 1 if the image is not valid (after printing what it could read).`,
  verify: `usage: objhash verify IMAGE

Checks every record (alignment, len, padding), the header, every OBJREF
(known objtype, objref > 0 and defined once), that nothing follows TAIL, and
TAIL's object count and CRC32C.  Exit 0 and "IMAGE: valid ..." when it is;
otherwise exit 1 with one line: the offset and the reason.`,
  dump: `usage: objhash dump IMAGE [--json]

Lists every record: offset, type name, len.  OBJREF payloads are decoded
(objtype, type name, objref), STRING as text, BUFFER and user records as hex
(the first 64 bytes; --json gives the whole payload).  With --json, one JSON
object per line.  Streams: memory stays bounded whatever the image size.
On a corrupt record it prints what came before, then the error; exit 1.`,
  demo: `usage: objhash demo

Checkpoints a simulated process tree to a file, inspects it, restarts it and
verifies identity, sharing and cycles (the same as npm start).`,
  bench: `usage: objhash bench [--quick] [--only W1,W3]

Runs the benchmark (the same as npm run bench); arguments are passed on.`,
};

class UsageError extends Error {}

const PROGRESS_MIN = 64 * 1024 * 1024;

/** A single updating progress line on stderr, for big images on a TTY. */
function progress(path: string): ((offset: number) => void) & { done(): void } {
  const size = statSync(path).size;
  const on = process.stderr.isTTY === true && size > PROGRESS_MIN;
  let last = -1;
  const f = ((offset: number) => {
    if (!on) return;
    const pct = Math.floor((offset / size) * 100);
    if (pct !== last) {
      last = pct;
      process.stderr.write(`\r${pct}% of ${size} bytes`);
    }
  }) as ((offset: number) => void) & { done(): void };
  f.done = () => {
    if (on && last >= 0) process.stderr.write('\r\x1b[K');
  };
  return f;
}

function imageArg(args: string[], cmd: string): string {
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length !== 1) throw new UsageError(`objhash ${cmd}: expected one IMAGE argument (objhash ${cmd} --help)`);
  const path = files[0]!;
  if (!existsSync(path)) throw new ObjHashError('EIO', `objhash ${cmd}: ${path}: no such file`);
  return path;
}

function checkFlags(args: string[], cmd: string, allowed: string[]): void {
  for (const a of args)
    if (a.startsWith('--') && !allowed.includes(a)) throw new UsageError(`objhash ${cmd}: unknown option ${a} (objhash ${cmd} --help)`);
}

function pad(rows: (string | number)[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) => '  ' + r.map((c, i) => (typeof c === 'number' ? String(c).padStart(w[i]!) : String(c).padEnd(w[i]!))).join('  '))
    .join('\n');
}

function hex(b: Uint8Array, max: number): string {
  const n = Math.min(b.length, max);
  let s = Buffer.from(b.buffer, b.byteOffset, n).toString('hex').replace(/(..)(?!$)/g, '$1 ');
  if (b.length > max) s += ` …(+${b.length - max} bytes)`;
  return s;
}

function describeError(e: ObjHashError): string {
  return `${e.code} at offset ${e.offset ?? '?'}: ${e.message}`;
}

function walk(path: string): ImageInfo {
  const p = progress(path);
  let n = 0;
  try {
    return inspectImage(path, { onRecord: (rec) => (++n & 1023) === 0 && p(rec.offset) });
  } finally {
    p.done();
  }
}

function cmdInspect(args: string[], out: (s: string) => void): number {
  checkFlags(args, 'inspect', []);
  const path = imageArg(args, 'inspect');
  const info = walk(path);
  out(`${path}: ${info.bytes} bytes, format v${info.version}, flags 0x${info.flags.toString(16)}`);
  out(pad([['objtype', 'name'], ...info.types.map((t) => [t.objtype, t.name])]));
  out('');
  out(pad([['record', 'count', 'bytes'], ...info.records.map((r) => [r.name, r.count, r.bytes])]));
  out('');
  const state = info.records.filter((r) => r.type >= REC.USER_MIN && r.type <= REC.USER_MAX || r.type === REC.BUFFER || r.type === REC.STRING);
  const stateBytes = state.reduce((a, r) => a + r.bytes, 0);
  const objects = info.objects.reduce((a, o) => a + o.count, 0);
  out(pad([['objects', 'count'], ...info.objects.map((o) => [`${o.name} (${o.objtype})`, o.count]), ['total', objects]]));
  if (objects > 0)
    out(`  state: ${stateBytes} bytes in ${state.reduce((a, r) => a + r.count, 0)} records, ${(stateBytes / objects).toFixed(1)} bytes/object, each saved once however often it is shared`);
  out('');
  if (info.tail) out(`tail: count ${info.tail.count}, crc32c 0x${info.tail.crc.toString(16).padStart(8, '0')}: ${info.valid ? 'valid' : 'INVALID'}`);
  else out('tail: missing');
  if (info.errorRecord !== undefined) out(`error record: the checkpoint failed: ${info.errorRecord}`);
  if (info.error) {
    out(`INVALID: ${describeError(info.error)}`);
    return 1;
  }
  return 0;
}

function cmdVerify(args: string[], out: (s: string) => void, err: (s: string) => void): number {
  checkFlags(args, 'verify', []);
  const path = imageArg(args, 'verify');
  const info = walk(path);
  if (info.valid && info.tail) {
    const objects = info.objects.reduce((a, o) => a + o.count, 0);
    out(`${path}: valid: ${info.bytes} bytes, ${objects} objects, crc32c 0x${info.tail.crc.toString(16).padStart(8, '0')}`);
    return 0;
  }
  err(`${path}: invalid: ${info.error ? describeError(info.error) : 'no TAIL'}`);
  return 1;
}

function cmdDump(args: string[], out: (s: string) => void, err: (s: string) => void): number {
  checkFlags(args, 'dump', ['--json']);
  const json = args.includes('--json');
  const path = imageArg(args, 'dump');
  const p = progress(path);
  const src = new FileSource(path);
  const b = defaultBackend;
  const reader = new ImageReader(src, { crc32c: (bytes, crc) => b.crc32c(bytes, crc) });
  const names = new Map<number, string>();
  let n = 0;
  const emit = (rec: Record<string, unknown>, text: string) => out(json ? JSON.stringify(rec) : text);
  try {
    const hdr = reader.readHeader();
    for (const t of hdr.types) names.set(t.objtype, t.name);
    emit(
      { offset: 0, type: REC.HEADER, name: 'HEADER', len: reader.len, version: hdr.version, flags: hdr.flags, types: hdr.types },
      `${'0'.padStart(10)}  HEADER     len ${reader.len}  v${hdr.version} flags 0x${hdr.flags.toString(16)} types ${hdr.types.map((t) => `${t.objtype}=${t.name}`).join(' ')}`,
    );
    for (;;) {
      const r = reader.next();
      const { type, len, offset } = r;
      if ((++n & 1023) === 0) p(offset);
      const name = recordTypeName(type);
      const head = `${String(offset).padStart(10)}  ${name.padEnd(9)}  len ${len}`;
      if (type === REC.OBJREF) {
        const o = reader.objref();
        emit({ offset, type, name, len, objtype: o.objtype, typeName: names.get(o.objtype) ?? null, objref: o.objref }, `${head}  objref ${o.objref} ${names.get(o.objtype) ?? '?'} (objtype ${o.objtype})`);
      } else if (type === REC.STRING) {
        const s = new TextDecoder().decode(reader.payload());
        emit({ offset, type, name, len, text: s }, `${head}  ${JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s)}`);
      } else if (type === REC.ERROR) {
        const m = reader.errorMessage();
        emit({ offset, type, name, len, message: m }, `${head}  checkpoint failed: ${m}`);
        throw new ObjHashError('EIO', `ERROR record at offset ${offset}: checkpoint failed: ${m}`, offset);
      } else if (type === REC.TAIL) {
        const t = reader.tail();
        emit({ offset, type, name, len, count: t.count, crc: t.crc }, `${head}  count ${t.count} crc32c 0x${t.crc.toString(16).padStart(8, '0')} (checked)`);
        break;
      } else {
        const bytes = reader.payload();
        emit({ offset, type, name, len, hex: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex') }, `${head}  ${hex(bytes, 64)}`);
      }
    }
  } catch (e) {
    if (!(e instanceof ObjHashError)) throw e;
    p.done();
    if (json) out(JSON.stringify({ error: e.code, offset: e.offset ?? null, message: e.message }));
    err(`${path}: ${describeError(e)}`);
    return 1;
  } finally {
    reader.close();
    src.close();
  }
  p.done();
  return 0;
}

function root(): string {
  return join(__dirname, '..', '..', '..');
}

function cmdDemo(): number {
  // dist/lib/cli/main.js -> dist/examples/demo.js
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const demo = require(join(__dirname, '..', '..', 'examples', 'demo.js')) as { main(): number };
  return demo.main();
}

function cmdBench(args: string[], err: (s: string) => void): number {
  const run = join(__dirname, '..', '..', 'bench', 'run.js');
  if (!existsSync(run)) {
    err(`objhash bench: ${run} is missing: run npm run build first`);
    return 1;
  }
  const r = spawnSync(process.execPath, [run, ...args], { stdio: 'inherit', cwd: root() });
  return r.status ?? 1;
}

/** Runs the command line; returns the exit code. */
export function main(argv: string[], out = (s: string) => console.log(s), err = (s: string) => console.error(s)): number {
  const [cmd, ...args] = argv;
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      out(USAGE);
      return cmd === undefined ? 2 : 0;
    }
    if (cmd === '--version') {
      out(`objhash ${(require(join(root(), 'package.json')) as { version: string }).version} (${impl} backend)`);
      return 0;
    }
    if (!(cmd in HELP)) throw new UsageError(`objhash: unknown command '${cmd}' (objhash --help)`);
    if (args.includes('--help') || args.includes('-h')) {
      out(HELP[cmd]!);
      return 0;
    }
    switch (cmd) {
      case 'inspect':
        return cmdInspect(args, out);
      case 'verify':
        return cmdVerify(args, out, err);
      case 'dump':
        return cmdDump(args, out, err);
      case 'demo':
        checkFlags(args, 'demo', []);
        return cmdDemo();
      default:
        return cmdBench(args, err);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message);
      return 2;
    }
    if (e instanceof ObjHashError) {
      err(e.offset === undefined ? e.message : describeError(e));
      return 1;
    }
    err(`objhash: ${(e as Error).message ?? String(e)}`);
    return 1;
  }
}
