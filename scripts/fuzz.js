#!/usr/bin/env node
/**
 * scripts/fuzz.js - fuzzing for objhash (npm run fuzz)
 *
 *   npm run fuzz -- [--time S] [--js-time S] [--c-time S] [--seed N]
 *                   [--impl native,js] [--hang-ms MS] [--json FILE]
 *
 * Two fuzzers, for a chosen time (--time, default 60 s in all: half for
 * the JS fuzzer, a quarter for each libFuzzer target when clang is there;
 * --js-time and --c-time set them apart, --c-time 0 skips libFuzzer):
 *
 *  - the JS fuzzer (this file): mutates valid images -- bit flips,
 *    interesting bytes and words, truncation, extension, record length,
 *    type and objref edits, objref-shaped words in payloads, records
 *    deleted, duplicated, swapped or spliced in from another image, the
 *    TAIL's CRC and count fixed up so the damage gets past the checksum --
 *    and restarts each result on every backend, in memory and from a
 *    chunked ByteSource.  Expected, for every input: the restart succeeds
 *    or throws an ObjHashError; every backend gives the same outcome (the
 *    same code and message, or the same graph); every object grabbed
 *    during the attempt was dropped exactly once; a graph that restarted
 *    checkpoints again to an image that restarts to the same image (a
 *    fixpoint).  It runs in a worker thread under a watchdog: an input
 *    that runs longer than --hang-ms (default 10 s) is a hang.
 *  - the libFuzzer targets of native/fuzz (make -C native/fuzz run).
 *
 * A failing input is saved under test/corpus/ (images/ for the JS fuzzer,
 * objhash/ and crc32c/ for libFuzzer), where the test suite replays it
 * (test/fuzz.test.ts, make -C native/fuzz run/replay).  The summary gives
 * the inputs tried and the crashes; the exit status is 1 if there was one.
 *
 * The engine is exported for test/fuzz.test.ts, which runs a short seeded
 * pass: createEngine(objhashModule, options).
 */
'use strict';

const ERROR_CODES = new Set(['EINVAL', 'ENOMSG', 'EPIPE', 'EIO', 'EBADMSG', 'E2BIG', 'ELOOP', 'EBADF', 'ENOMEM', 'EEXIST', 'EBUSY']);

/** The seeded PRNG (mulberry32) of the tests and the benchmark: bench/prng.ts, compiled into dist/. */
const { rng } = requireBuilt('bench/prng.js');

/** A module compiled into dist/ (npm run build), or an error that says so. */
function requireBuilt(file) {
  const path = require('node:path');
  const p = path.join(__dirname, '..', 'dist', file);
  try {
    return require(p);
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(p)) {
      throw new Error(`scripts/fuzz.js: ${path.relative(process.cwd(), p) || p} is missing: run \`npm run build\``);
    }
    throw e;
  }
}

class FuzzFailure extends Error {
  constructor(kind, message, input) {
    super(`${kind}: ${message}`);
    this.name = 'FuzzFailure';
    this.kind = kind;
    this.input = input;
  }
}

// user record types of the fuzz world
const REC_PROC = 101, REC_PROC_NOTE = 106, REC_FILES = 102, REC_FILE = 103, REC_MM = 104;

/**
 * The object types of the fuzz world: processes, file tables and files
 * that point back at their owner (cycles: all three restore with
 * reference()), address spaces identified by a numeric key
 * (the C table, grab/drop through the addon), notes as STRING records
 * and page bytes as BUFFER records.  Between them they use every payload
 * reader.  grab/drop go to `track`.
 */
function makeTypes(o, track) {
  let ProcT, FilesT, FileT, MmT, NoteT;
  ProcT = o.defineObjType({
    name: 'proc',
    grab: track.grab,
    drop: track.drop,
    checkpoint(ctx, p) {
      const files = ctx.checkpointObj(p.files, FilesT);
      const mm = p.mm ? ctx.checkpointObj(p.mm, MmT) : 0;
      ctx.begin(REC_PROC).u32(p.pid).str(p.name).bool(p.alive).f64(p.time).i64(p.big);
      ctx.ref(p.parent, ProcT); // nested while the record is open
      ctx.i32(files).i32(mm).uv(p.children.length);
      for (const c of p.children) ctx.vref(c, ProcT);
      ctx.end();
      ctx.begin(REC_PROC_NOTE).ref(p.note, NoteT).end();
    },
    restore(ctx) {
      const p = ctx.reference({});
      ctx.readRecord(REC_PROC);
      p.pid = ctx.u32();
      p.name = ctx.str();
      p.alive = ctx.bool();
      p.time = ctx.f64();
      p.big = ctx.i64();
      p.parent = ctx.ref(ProcT);
      p.files = ctx.objFetch(ctx.i32(), FilesT);
      const mm = ctx.i32();
      p.mm = mm === 0 ? null : ctx.objFetch(mm, MmT);
      p.children = [];
      for (let n = ctx.uv(); n > 0; n--) p.children.push(ctx.vref(ProcT));
      ctx.readRecord(REC_PROC_NOTE);
      p.note = ctx.ref(NoteT);
      return p;
    },
  });
  FilesT = o.defineObjType({
    name: 'files',
    checkpoint(ctx, fs) {
      const refs = fs.fds.map((f) => (f ? ctx.checkpointObj(f, FileT) : 0));
      ctx.begin(REC_FILES).uv(refs.length);
      for (const r of refs) ctx.uv(r);
      ctx.end();
    },
    restore(ctx) {
      const fs = ctx.reference({ fds: [] });
      ctx.readRecord(REC_FILES);
      for (let n = ctx.uv(); n > 0; n--) {
        const r = ctx.uv();
        fs.fds.push(r === 0 ? null : ctx.objFetch(r, FileT));
      }
      return fs;
    },
  });
  FileT = o.defineObjType({
    name: 'file',
    grab: track.grab,
    drop: track.drop,
    checkpoint(ctx, f) {
      const owner = ctx.checkpointObj(f.owner, ProcT);
      ctx.begin(REC_FILE).vstr(f.path).sv(f.pos);
      ctx.align(8);
      ctx.u64(f.ino).i32(owner).blob(f.data).end();
    },
    restore(ctx) {
      const f = ctx.reference({});
      ctx.readRecord(REC_FILE);
      f.path = ctx.vstr();
      f.pos = ctx.sv();
      ctx.align(8);
      f.ino = ctx.u64n();
      f.owner = ctx.objFetch(ctx.i32(), ProcT);
      f.data = ctx.blob().slice();
      return f;
    },
  });
  MmT = o.defineObjType({
    name: 'mm',
    key: (m) => m.id,
    grab: track.grab,
    drop: track.drop,
    checkpoint(ctx, m) {
      ctx.begin(REC_MM).u64(m.id).u16(m.pages.length);
      for (const pg of m.pages) ctx.u8(pg);
      ctx.end();
      ctx.writeBuffer(m.bytes);
    },
    restore(ctx) {
      ctx.readRecord(REC_MM);
      const id = ctx.u64n();
      const pages = [];
      for (let n = ctx.u16(); n > 0; n--) pages.push(ctx.u8());
      return { id, pages, bytes: ctx.readBuffer().slice() };
    },
  });
  NoteT = o.defineObjType({
    name: 'note',
    checkpoint: (ctx, n) => void ctx.writeString(n.text),
    restore: (ctx) => ({ text: ctx.readString() }),
  });
  return { ProcT, FilesT, FileT, MmT, NoteT, types: [ProcT, FilesT, FileT, MmT, NoteT] };
}

/** A random world: processes sharing file tables, files, address spaces, notes; cycles. */
function randomWorld(r) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const nproc = 1 + Math.floor(r() * 10);
  const mms = [], notes = [], procs = [], files = [];
  let nextId = 1 + Math.floor(r() * 1000);
  const mm = () => {
    const pages = Array.from({ length: Math.floor(r() * 6) }, () => Math.floor(r() * 256));
    const m = { id: r() < 0.2 ? 2 ** 40 + nextId++ : nextId++, pages, bytes: Uint8Array.from(pages, (p) => p ^ 0x5a) };
    mms.push(m);
    return m;
  };
  const texts = ['', 'init', 'héllo wörld', 'x'.repeat(40), '\u{1F600} emoji'];
  for (let i = 0; i < nproc; i++) {
    const parent = procs.length ? pick(procs) : null;
    const p = {
      pid: 1 + Math.floor(r() * 65535),
      name: pick(['init', 'sshd', 'bash', 'make', 'cron', 'ünïcode']),
      alive: r() < 0.5,
      time: r() * 1e6,
      big: BigInt(Math.floor(r() * 2 ** 31)) * (r() < 0.5 ? -1n : 1n),
      parent,
      files: parent && r() < 0.3 ? parent.files : { fds: [] },
      mm: r() < 0.1 ? null : parent && r() < 0.3 && parent.mm ? parent.mm : mms.length && r() < 0.2 ? pick(mms) : mm(),
      children: [],
      note: r() < 0.3 ? null : notes.length && r() < 0.4 ? pick(notes) : (notes.push({ text: pick(texts) }), notes[notes.length - 1]),
    };
    if (parent) parent.children.push(p);
    procs.push(p);
  }
  for (const p of procs) {
    const nfd = Math.floor(r() * 4);
    for (let i = 0; i < nfd; i++) {
      if (files.length && r() < 0.4) p.files.fds.push(pick(files));
      else if (r() < 0.15) p.files.fds.push(null);
      else {
        const f = {
          path: pick(['/dev/console', '/var/log/syslog', '/tmp/ü', '']),
          pos: Math.floor((r() - 0.3) * 1e9),
          ino: Math.floor(r() * 2 ** 50),
          owner: pick(procs),
          data: Uint8Array.from({ length: Math.floor(r() * 12) }, () => Math.floor(r() * 256)),
        };
        files.push(f);
        p.files.fds.push(f);
      }
    }
  }
  return procs[0];
}

// ---------------------------------------------------------------- images

const TYPES_BY_SHAPE = [1, 3, 4, 5, 101, 102, 103, 104, 106, 9001, 9999, 0, 2, 6, 100, 9000, 9002, 0xffffffff];
const WORDS = [0, 1, 2, 3, 7, 8, 15, 16, 23, 24, 28, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffff];
const BYTES = [0, 1, 0x7f, 0x80, 0xfe, 0xff];

/** Record headers, walked leniently (stops at the first impossible one). */
function walk(img) {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const out = [];
  for (let off = 0; off + 8 <= img.length && out.length < 100000; ) {
    const type = dv.getUint32(off, true), len = dv.getUint32(off + 4, true);
    if (len < 8) break;
    const end = off + len + ((8 - (len & 7)) & 7);
    out.push({ off, type, len, end: Math.min(end, img.length) });
    if (end > img.length) break;
    off = end;
  }
  return out;
}

function concat(parts) {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function setU32(img, off, v) {
  if (off >= 0 && off + 4 <= img.length) new DataView(img.buffer, img.byteOffset, img.byteLength).setUint32(off, v >>> 0, true);
}

/** Makes the TAIL's CRC (and maybe count) right again, so damage gets past the checksum. */
function fixTail(img, crc32c, r) {
  const recs = walk(img);
  const tail = recs.find((x) => x.type === 9001 && x.len === 24 && x.off + 24 <= img.length);
  if (!tail) return;
  if (r() < 0.5) setU32(img, tail.off + 16, recs.filter((x) => x.type === 5 && x.off < tail.off).length);
  setU32(img, tail.off + 20, crc32c(img.subarray(0, tail.off), 0));
}

/**
 * mutate - 1..4 stacked mutations of `base` (never modified); `other`
 * is another valid image to splice records from.
 */
function mutate(base, other, r, crc32c) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const int = (n) => Math.floor(r() * n);
  let img = base.slice();
  const n = 1 + int(4);
  for (let k = 0; k < n; k++) {
    if (img.length === 0) break;
    const recs = walk(img);
    const rec = recs.length ? pick(recs) : null;
    switch (int(15)) {
      case 0: // bit flips
        for (let i = 1 + int(8); i > 0; i--) img[int(img.length)] ^= 1 << int(8);
        break;
      case 1: // an interesting byte
        img[int(img.length)] = pick(BYTES);
        break;
      case 2: // an interesting word, anywhere (aligned or not)
        setU32(img, int(img.length - 3), r() < 0.5 ? pick(WORDS) : int(64) - 2);
        break;
      case 3: // truncation: anywhere, or at a record boundary +- a few bytes
        img = img.slice(0, rec && r() < 0.5 ? Math.max(0, Math.min(img.length, rec.off + int(17) - 8)) : int(img.length));
        break;
      case 4: // extension: zeros, garbage, or a copy of a record
        img = concat([img, rec && r() < 0.5 ? img.slice(rec.off, rec.end) : Uint8Array.from({ length: 1 + int(24) }, () => (r() < 0.5 ? 0 : int(256)))]);
        break;
      case 5: // record length
        if (rec) setU32(img, rec.off + 4, pick([0, 4, 7, 8, 9, rec.len - 1, rec.len + 1, rec.len - 8, rec.len + 8, rec.len * 2, 0xfffffff8, 0x4000008, 0x4000001, img.length - rec.off, img.length - rec.off + 1]));
        break;
      case 6: // record type
        if (rec) setU32(img, rec.off, pick(TYPES_BY_SHAPE));
        break;
      case 7: { // OBJREF: objref or objtype
        const refs = recs.filter((x) => x.type === 5);
        if (!refs.length) break;
        const x = pick(refs);
        if (r() < 0.7) setU32(img, x.off + 12, pick([0, -1, 1, 2, 3, refs.length, refs.length + 1, refs.length + 2, 0x3fffff, 0x400000, 0x400001, 0x7fffffff, 0x80000000, int(refs.length + 2)]));
        else setU32(img, x.off + 8, pick([0, 1, 2, 3, 4, 5, 6, 7, 0xffffffff]));
        break;
      }
      case 8: { // an objref-shaped word inside a user record's payload
        const users = recs.filter((x) => x.type >= 101 && x.type <= 8999 && x.len > 12);
        if (!users.length) break;
        const x = pick(users);
        const at = x.off + 8 + int(x.len - 11);
        setU32(img, at, int(recs.filter((y) => y.type === 5).length + 3) - 1);
        break;
      }
      case 9: { // splice a record from the other image: insert or replace
        const theirs = walk(other).filter((x) => x.type !== 1);
        if (!theirs.length || !rec) break;
        const t = pick(theirs);
        const piece = other.slice(t.off, t.end);
        img = r() < 0.5 ? concat([img.slice(0, rec.off), piece, img.slice(rec.off)]) : concat([img.slice(0, rec.off), piece, img.slice(rec.end)]);
        break;
      }
      case 10: // delete a record
        if (rec && rec.off > 0) img = concat([img.slice(0, rec.off), img.slice(rec.end)]);
        break;
      case 11: // duplicate a record
        if (rec) img = concat([img.slice(0, rec.end), img.slice(rec.off, rec.end), img.slice(rec.end)]);
        break;
      case 12: { // swap two neighbouring records
        const i = recs.indexOf(rec);
        if (rec && i + 1 < recs.length) {
          const b = recs[i + 1];
          img = concat([img.slice(0, rec.off), img.slice(b.off, b.end), img.slice(rec.off, rec.end), img.slice(b.end)]);
        }
        break;
      }
      case 13: // the header's type table: count, an objtype, a name byte
        setU32(img, pick([24, 28, 32 + int(8) * 4]), r() < 0.5 ? pick(WORDS) : int(8));
        break;
      default: // many random bytes in one record
        if (rec) for (let i = 1 + int(6); i > 0; i--) img[rec.off + int(rec.end - rec.off)] = int(256);
        break;
    }
  }
  if (r() < 0.6) fixTail(img, crc32c, r);
  return img;
}

/**
 * deepImage - a chain of `depth` processes, each the only child of the
 * one before, written record by record (checkpoint itself stops at
 * maxDepth): restoring it nests `depth` restores.  Objtypes as
 * makeTypes's order: proc 1, files 2.
 */
function deepImage(o, depth) {
  const w = new o.ImageWriter({ crc32c: jsCrc });
  w.writeHeader(['proc', 'files', 'file', 'mm', 'note'].map((name, i) => ({ objtype: i + 1, name })));
  for (let k = 0; k < depth; k++) {
    w.objref(1, 2 * k + 1);
    w.objref(2, 2 * k + 2);
    w.begin(REC_FILES);
    w.uv(0);
    w.end();
  }
  for (let k = depth - 1; k >= 0; k--) {
    w.begin(REC_PROC);
    w.u32(k + 1);
    w.str('p');
    w.bool(true);
    w.f64(0);
    w.i64(0);
    w.i32(k === 0 ? 0 : 2 * k - 1); // parent: visible through reference()
    w.i32(2 * k + 2);
    w.i32(0);
    w.uv(k === depth - 1 ? 0 : 1);
    if (k !== depth - 1) w.uv(2 * k + 3);
    w.end();
    w.begin(REC_PROC_NOTE);
    w.i32(0);
    w.end();
  }
  w.tail(2 * depth);
  return w.finish().slice();
}

// ----------------------------------------------------------------- engine

/** A ByteSource over bytes that hands them out in random-sized chunks (size known or not). */
function chunkedSource(bytes, r, knownSize) {
  return {
    size: knownSize ? bytes.length : -1,
    windowSize: 16 + Math.floor(r() * 64),
    read(dst, offset, length, position) {
      const n = Math.min(length, bytes.length - position, 1 + Math.floor(r() * 40));
      if (n <= 0) return 0;
      dst.set(bytes.subarray(position, position + n), offset);
      return n;
    },
  };
}

/**
 * createEngine - the JS fuzzer over the objhash module `o` (lib/ in the
 * tests, dist/ from the command line).
 *   impls: backends to compare (default: both when the addon loads)
 *   seed:  PRNG seed
 * Returns { seeds, deep, check, next, attempt, same, stats }: check(input)
 * runs one input on every backend, in memory and streamed, and throws a
 * FuzzFailure on a violation; next() is a new mutated input;
 * attempt(input, impl, source?, restartOptions?) is one restart (an
 * outcome string, or a FuzzFailure); same(a, b) compares outcomes.
 */
function createEngine(o, opts = {}) {
  const impls = opts.impls ?? (o.nativeAvailable() ? ['native', 'js'] : ['js']);
  const r = rng(opts.seed ?? 1);
  // leak tracking: grabs and drops of the attempt under way
  let net = new Map(), grabs = 0, drops = 0, bad = '';
  // A grab counts once it returns: near the stack limit (deep chains) the
  // Map.set here may itself overflow, and then the grab threw, which the
  // hash must treat as a refusal (no drop).
  const track = {
    grab(obj) {
      net.set(obj, (net.get(obj) ?? 0) + 1);
      grabs++;
    },
    drop(obj) {
      const v = net.get(obj);
      if (!v) bad ||= 'drop of an object that was not grabbed (or dropped twice)';
      else net.set(obj, v - 1);
      drops++;
    },
  };
  const T = makeTypes(o, track);
  const base = { types: T.types };
  const stats = { inputs: 0, restarted: 0, errors: {}, maxMs: 0, byImpl: Object.fromEntries(impls.map((i) => [i, 0])) };

  // seed images: random worlds (in memory and streamed), a failed checkpoint (ERROR record)
  const seeds = [];
  for (let i = 0; i < 24; i++) {
    const world = randomWorld(rng((opts.seed ?? 1) * 1000 + i));
    if (i % 6 === 5) {
      const chunks = [];
      o.checkpoint(world, T.ProcT, { ...base, impl: impls[0], sink: (c) => chunks.push(c.slice()), highWaterMark: 64 });
      seeds.push(concat(chunks));
    } else {
      seeds.push(o.checkpoint(world, T.ProcT, { ...base, impl: impls[0] }));
    }
  }
  {
    const Bad = o.defineObjType({ name: 'proc', checkpoint: () => { throw new Error('fuzz: checkpoint failed'); } });
    try {
      o.checkpoint({}, Bad, { types: [Bad, ...T.types.slice(1)] });
    } catch (e) {
      if (e.image) seeds.push(e.image.slice());
    }
  }

  // a deep chain: past the default maxDepth (ELOOP), and restarted with a
  // huge maxDepth, past the JS stack (a stack overflow, reported as ELOOP:
  // every grab must still be dropped while the stack unwinds)
  const deep = [deepImage(o, opts.deepDepth ?? 2100)];

  function resetTrack() {
    net = new Map();
    grabs = drops = 0;
    bad = '';
  }

  function checkTrack(where, input) {
    if (bad) throw new FuzzFailure('leak', `${where}: ${bad}`, input);
    if (grabs !== drops) throw new FuzzFailure('leak', `${where}: ${grabs} grab(s), ${drops} drop(s)`, input);
    for (const v of net.values()) if (v !== 0) throw new FuzzFailure('leak', `${where}: an object grabbed ${v} more time(s) than dropped`, input);
  }

  /** Outcome of a thrown value: 'E<code> <message>', or a FuzzFailure for anything but an ObjHashError. */
  function errOutcome(e, where, input) {
    if (!(e instanceof o.ObjHashError))
      throw new FuzzFailure('not-objhash-error', `${where}: threw ${e && e.name}: ${e && e.message}\n${e && e.stack}`, input);
    if (!ERROR_CODES.has(e.code)) throw new FuzzFailure('bad-code', `${where}: code ${e.code}`, input);
    return `E${e.code} ${e.message}`;
  }

  /**
   * Same outcome?  Where the JS stack runs out depends on the backend,
   * the path (streaming takes more stack per level) and what is optimised
   * yet; so an ELOOP for a stack overflow says nothing about how far the
   * other side got: it matches any outcome.  (That it is an ObjHashError
   * and that every grab was dropped is checked all the same.)
   */
  const overflowed = (x) => x.startsWith('EELOOP') && x.includes('stack overflow');
  function same(a, b) {
    return a === b || overflowed(a) || overflowed(b);
  }
  function sameCode(a, b) {
    return a.split(' ')[0] === b.split(' ')[0] || overflowed(a) || overflowed(b);
  }

  /** One restart attempt: 'ok <image of the restored graph>' or 'E<code> <message>'. */
  function attempt(input, impl, source, ropts) {
    resetTrack();
    let out;
    try {
      const root = o.restart(source ?? input, T.ProcT, { ...base, ...ropts, impl });
      checkTrack(`${impl} restart`, input);
      // the restored graph checkpoints again, and that image is a fixpoint
      let img2;
      try {
        img2 = o.checkpoint(root, T.ProcT, { ...base, impl });
      } catch (e) {
        checkTrack(`${impl} checkpoint of the restored graph`, input);
        return `ok, checkpoint again: ${errOutcome(e, `${impl} checkpoint of the restored graph`, input)}`;
      }
      checkTrack(`${impl} checkpoint of the restored graph`, input);
      let img3;
      try {
        img3 = o.checkpoint(o.restart(img2, T.ProcT, { ...base, impl }), T.ProcT, { ...base, impl });
      } catch (e) {
        throw new FuzzFailure('roundtrip', `${impl}: an image written by checkpoint does not restart: ${e && e.stack}`, input);
      }
      checkTrack(`${impl} round trip`, input);
      if (Buffer.compare(Buffer.from(img2), Buffer.from(img3)) !== 0)
        throw new FuzzFailure('roundtrip', `${impl}: checkpoint(restart(image)) is not a fixpoint`, input);
      out = `ok ${Buffer.from(img2).toString('base64')}`;
    } catch (e) {
      if (e instanceof FuzzFailure) throw e;
      checkTrack(`${impl} failed restart`, input);
      out = errOutcome(e, `${impl} restart`, input);
    }
    return out;
  }

  /** Runs one input on every backend, in memory and streamed; throws FuzzFailure. */
  function check(input, label = 'input') {
    const t0 = Date.now();
    // sometimes with tight limits, the same for every backend
    const lim = r();
    const ropts = input.length > 100000 && lim < 0.5 ? { maxDepth: 1e9 } : lim < 0.05 ? { maxDepth: 1 + Math.floor(r() * 4) } : lim < 0.1 ? { maxObjects: 1 + Math.floor(r() * 6) } : lim < 0.15 ? { maxRecord: 32 + Math.floor(r() * 200) } : {};
    const outcomes = impls.map((impl) => attempt(input, impl, undefined, ropts));
    for (let i = 1; i < impls.length; i++) {
      if (!same(outcomes[i], outcomes[0]))
        throw new FuzzFailure('backends-differ', `${label}: ${impls[0]}: ${outcomes[0].slice(0, 300)}\n  ${impls[i]}: ${outcomes[i].slice(0, 300)}`, input);
    }
    // streamed from a chunked source: the same code (and the same message when the size is known)
    const impl = impls[Math.floor(r() * impls.length)];
    const known = r() < 0.5;
    const streamed = attempt(input, impl, chunkedSource(input, r, known), ropts);
    const a = outcomes[0].split(' ')[0];
    if (!(known ? same(streamed, outcomes[0]) : sameCode(streamed, outcomes[0])))
      throw new FuzzFailure('stream-differs', `${label}: in memory: ${outcomes[0].slice(0, 300)}\n  streamed (${impl}, size ${known ? 'known' : 'unknown'}): ${streamed.slice(0, 300)}`, input);
    stats.inputs++;
    for (const i of impls) stats.byImpl[i]++;
    if (a.startsWith('ok')) stats.restarted++;
    else stats.errors[a.slice(1)] = (stats.errors[a.slice(1)] ?? 0) + 1;
    stats.maxMs = Math.max(stats.maxMs, Date.now() - t0);
    return outcomes[0];
  }

  /** Mutates a seed and checks it; returns the input. */
  function next() {
    const s = r() < (opts.deepRate ?? 0.002) ? deep[Math.floor(r() * deep.length)] : seeds[Math.floor(r() * seeds.length)];
    const other = seeds[Math.floor(r() * seeds.length)];
    return mutate(s, other, r, jsCrc);
  }

  return { seeds, deep, check, next, attempt, same, stats, impls, types: T };
}

// CRC-32C in plain JS (the TAIL fix-up must not depend on a backend under test)
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
function jsCrc(bytes, crc) {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

module.exports = { createEngine, mutate, makeTypes, randomWorld, deepImage, walk, rng, FuzzFailure, jsCrc };

// -------------------------------------------------------------- the runner

const MAX_KEEP = 8 << 20; // bytes of the current input kept for the watchdog

/** Worker: fuzz until the deadline; the current input is mirrored in shared memory. */
function workerMain() {
  const { parentPort, workerData } = require('node:worker_threads');
  const o = require(workerData.dist);
  const ctl = new Int32Array(workerData.ctl);
  const keep = new Uint8Array(workerData.keep);
  const e = createEngine(o, { seed: workerData.seed, impls: workerData.impls });
  let last = Date.now();
  const post = (type) => parentPort.postMessage({ type, stats: e.stats });
  const run = (input, label) => {
    const n = Math.min(input.length, MAX_KEEP);
    keep.set(input.subarray(0, n));
    Atomics.store(ctl, 1, n);
    Atomics.add(ctl, 0, 1);
    try {
      e.check(input, label);
    } catch (err) {
      if (!(err instanceof FuzzFailure)) throw err;
      parentPort.postMessage({ type: 'failure', kind: err.kind, message: err.message, input });
    }
  };
  for (const s of [...e.seeds, ...e.deep]) run(s, 'seed');
  while (Date.now() < workerData.deadline) {
    run(e.next(), 'mutated input');
    if (Date.now() - last > 1000) {
      last = Date.now();
      post('stats');
    }
  }
  post('done');
}

function parseArgs(argv) {
  const a = { time: 60, seed: 1, hangMs: 10000, impls: undefined, jsTime: undefined, cTime: undefined, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [k, v0] = argv[i].split('=');
    const v = v0 ?? argv[++i];
    switch (k) {
      case '--time': a.time = Number(v); break;
      case '--js-time': a.jsTime = Number(v); break;
      case '--c-time': a.cTime = Number(v); break;
      case '--seed': a.seed = Number(v); break;
      case '--hang-ms': a.hangMs = Number(v); break;
      case '--impl': a.impls = v.split(','); break;
      case '--json': a.json = v; break;
      default:
        console.error(`fuzz: unknown option ${k}\nusage: npm run fuzz -- [--time S] [--js-time S] [--c-time S] [--seed N] [--impl native,js] [--hang-ms MS] [--json FILE]`);
        process.exit(2);
    }
  }
  return a;
}

function saveInput(dir, kind, bytes) {
  const fs = require('node:fs');
  const path = require('node:path');
  const hash = require('node:crypto').createHash('sha1').update(bytes).digest('hex').slice(0, 12);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${kind}-${hash}.img`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, bytes);
  return path.relative(process.cwd(), file);
}

/** The JS fuzzer for `seconds`, in workers under a watchdog (a hung worker is replaced). */
async function runJs(args, seconds) {
  const path = require('node:path');
  const { Worker } = require('node:worker_threads');
  const root = path.join(__dirname, '..');
  const dist = path.join(root, 'dist', 'lib', 'index.js');
  const o = require(dist);
  const impls = args.impls ?? (o.nativeAvailable() ? ['native', 'js'] : ['js']);
  if (!o.nativeAvailable()) console.log(`fuzz: native addon not loaded (${o.nativeLoadError()?.message}); JS backend only`);
  const deadline = Date.now() + seconds * 1000;
  const total = { inputs: 0, restarted: 0, errors: {}, maxMs: 0, crashes: 0, hangs: 0, saved: [], impls };
  const corpus = path.join(root, 'test', 'corpus', 'images');
  let seed = args.seed;
  while (Date.now() < deadline - 200) {
    const ctl = new SharedArrayBuffer(12);
    const keep = new SharedArrayBuffer(MAX_KEEP);
    const w = new Worker(__filename, { workerData: { fuzzWorker: true, dist, seed, impls, deadline, ctl, keep } });
    const view = new Int32Array(ctl);
    let stats = null;
    const result = await new Promise((resolve) => {
      let seen = -1, since = Date.now();
      const timer = setInterval(() => {
        const n = Atomics.load(view, 0);
        if (n !== seen) {
          seen = n;
          since = Date.now();
        } else if (Date.now() - since > args.hangMs) {
          const input = new Uint8Array(keep, 0, Atomics.load(view, 1)).slice();
          console.log(`fuzz: HANG: an input ran for more than ${args.hangMs} ms; saved ${saveInput(corpus, 'hang', input)}`);
          total.hangs++;
          total.crashes++;
          clearInterval(timer);
          void w.terminate().then(() => resolve('hang'));
        }
      }, 250);
      w.on('message', (m) => {
        if (m.type === 'failure') {
          total.crashes++;
          const file = saveInput(corpus, m.kind, m.input);
          total.saved.push(file);
          console.log(`fuzz: FAILURE ${m.message.split('\n').slice(0, 3).join('\n  ')}\n  saved ${file}`);
        } else {
          stats = m.stats;
          if (m.type === 'done') {
            clearInterval(timer);
            resolve('done');
          }
        }
      });
      w.on('error', (err) => {
        total.crashes++;
        const input = new Uint8Array(keep, 0, Atomics.load(view, 1)).slice();
        console.log(`fuzz: CRASH in the worker: ${err && err.stack}\n  saved ${saveInput(corpus, 'crash', input)}`);
        clearInterval(timer);
        resolve('error');
      });
      w.on('exit', (code) => {
        clearInterval(timer);
        if (code !== 0 && code !== 1) {
          total.crashes++;
          console.log(`fuzz: the worker exited with ${code}`);
        }
        resolve('exit');
      });
    });
    if (stats) {
      total.inputs += stats.inputs;
      total.restarted += stats.restarted;
      total.maxMs = Math.max(total.maxMs, stats.maxMs);
      for (const [k, v] of Object.entries(stats.errors)) total.errors[k] = (total.errors[k] ?? 0) + v;
    }
    if (result === 'done') break;
    seed += 1000003; // a fresh worker after a hang or crash
  }
  return total;
}

/** The libFuzzer targets, `seconds` each; crashers are copied to test/corpus/<target>/. */
function runC(args, seconds) {
  const { spawnSync } = require('node:child_process');
  const fs = require('node:fs');
  const path = require('node:path');
  const root = path.join(__dirname, '..');
  const out = {};
  if (spawnSync('clang', ['--version']).status !== 0) {
    console.log('fuzz: clang not found: libFuzzer targets skipped (apt-get install clang)');
    return null;
  }
  const build = spawnSync('make', ['-s', '-C', 'native/fuzz', 'all'], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) {
    console.log(`fuzz: building the libFuzzer targets failed:\n${build.stdout}${build.stderr}`);
    return { build: { error: `${build.stdout}${build.stderr}`.trim().split('\n').slice(-5).join('\n') } };
  }
  const crashDir = path.join(root, 'native', 'fuzz', 'build', 'crashes');
  for (const t of ['objhash', 'crc32c']) {
    fs.rmSync(crashDir, { recursive: true, force: true });
    const r = spawnSync('make', ['-s', '-C', 'native/fuzz', 'run', `TARGETS=${t}`, `FUZZ_TIME=${seconds}`, `FUZZ_SEED=${args.seed}`], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    });
    const text = r.stdout + r.stderr;
    const execs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(text)?.[1] ?? 0);
    const saved = [];
    if (fs.existsSync(crashDir)) {
      for (const f of fs.readdirSync(crashDir)) {
        const dst = path.join(root, 'test', 'corpus', t);
        fs.mkdirSync(dst, { recursive: true });
        fs.copyFileSync(path.join(crashDir, f), path.join(dst, f));
        saved.push(path.relative(root, path.join(dst, f)));
      }
    }
    // a crash leaves an artifact and a report; anything else that fails
    // (the binary gone, make failing) is not a crash of the target
    const crashed = saved.length > 0 || /==ERROR|check failed|deadly signal|ALARM|runtime error|Test unit written/.test(text);
    const crashes = r.status === 0 ? 0 : crashed ? Math.max(1, saved.length) : 0;
    const error = r.status !== 0 && !crashed ? text.trim().split('\n').slice(-5).join('\n') : undefined;
    if (crashes) console.log(`fuzz: fuzz_${t} FAILED:\n${text.split('\n').filter((l) => /ERROR|check failed|SUMMARY|ALARM|runtime error/.test(l)).slice(0, 10).join('\n')}\n  saved ${saved.join(', ') || '(nothing)'}`);
    if (error) console.log(`fuzz: fuzz_${t} could not run:\n${error}`);
    out[t] = { seconds, execs, crashes, saved, ...(error ? { error } : {}) };
    console.log(`fuzz: fuzz_${t}: ${execs} inputs in ${seconds} s, ${crashes} crash(es)`);
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const haveClang = require('node:child_process').spawnSync('clang', ['--version']).status === 0;
  const cTime = args.cTime ?? (haveClang ? Math.max(1, Math.round(args.time / 4)) : 0);
  const jsTime = args.jsTime ?? Math.max(1, args.time - (haveClang && args.cTime === undefined ? 2 * cTime : 0));
  console.log(`fuzz: seed ${args.seed}; JS fuzzer ${jsTime} s${cTime ? `, libFuzzer ${cTime} s per target` : ''}`);
  const t0 = Date.now();
  const js = await runJs(args, jsTime);
  console.log(
    `fuzz: JS: ${js.inputs} mutated images, each restarted on ${js.impls.join(' and ')} and streamed: ` +
      `${js.restarted} restarted, errors ${JSON.stringify(js.errors)}, slowest ${js.maxMs} ms, ${js.crashes} crash(es)`,
  );
  const c = cTime > 0 ? runC(args, cTime) : null;
  const crashes = js.crashes + (c ? Object.values(c).reduce((s, x) => s + (x.crashes ?? 0), 0) : 0);
  const errors = c ? Object.values(c).filter((x) => x.error || x.build).length : 0;
  const summary = {
    date: new Date().toISOString(),
    node: process.version,
    seed: args.seed,
    seconds: Math.round((Date.now() - t0) / 1000),
    js: { seconds: jsTime, ...js },
    c,
    crashes,
  };
  if (args.json) require('node:fs').writeFileSync(args.json, JSON.stringify(summary, null, 2) + '\n');
  console.log(`fuzz: ${crashes === 0 && errors === 0 ? 'ok' : 'FAILED'}: ${crashes} crash(es)${errors ? `, ${errors} target(s) could not run` : ''} in ${summary.seconds} s`);
  process.exitCode = crashes === 0 && errors === 0 ? 0 : 1;
}

{
  const wt = require('node:worker_threads');
  if (!wt.isMainThread && wt.workerData && wt.workerData.fuzzWorker) {
    workerMain();
  } else if (require.main === module) {
    main().catch((e) => {
      console.error(e);
      process.exit(1);
    });
  }
}
