/**
 * The async calls (issue #15), on both backends: checkpointToStream and
 * restartFromStream over a PassThrough, web streams, a real loopback TCP
 * socket and an HTTP response from node:http on 127.0.0.1 (through a real
 * gzip pipeline), a slow peer and one that resets mid-image; compression;
 * the async file calls of objhash/promises (atomic replace, failures and
 * aborts leave the previous image and no temporary file); aborts at
 * random points, with every grab dropped once; hostile images give the
 * sync reader's errors.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import {
  AbortError,
  CheckpointContext,
  ObjHashError,
  RestartContext,
  checkpoint,
  checkpointToStream,
  defineObjType,
  ref,
  refs,
  restart,
  restartFromStream,
  zstdAvailable,
  type ObjType,
} from '../lib/index.js';
import * as promises from '../lib/promises.js';
import { TYPES, TaskType, buildTree, diffTrees } from '../examples/proctree.js';
import { IMPLS, rng } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'objhash-streams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A plain value with sharing, a cycle and a Map. */
function value() {
  const shared = { n: 1, tags: ['a', 'b'] };
  const v = { list: [shared, shared], m: new Map<unknown, unknown>([['k', shared]]), self: null as unknown };
  v.self = v;
  return v;
}

/** Everything a source gave, as one Uint8Array. */
async function drain(src: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of src) parts.push(c);
  return Buffer.concat(parts);
}

/** An async iterable of img in pieces of n bytes, each after a macrotask. */
async function* slowly(img: Uint8Array, n: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < img.length; i += n) {
    await new Promise((r) => setImmediate(r));
    yield img.subarray(i, i + n);
  }
}

/** A type with grab/drop counters, for "every grab dropped once". */
interface Cell {
  v: number;
  next: Cell | null;
}
const counts = { grabs: 0, drops: 0 };
const CellT: ObjType<Cell> = defineObjType<Cell>({
  name: 'cell',
  grab: () => void counts.grabs++,
  drop: () => void counts.drops++,
  checkpoint(ctx, c) {
    const next = c.next ? ctx.checkpointObj(c.next, CellT) : 0;
    ctx.begin(301).uv(c.v).uv(next).end();
  },
  restore(ctx) {
    ctx.readRecord(301);
    const v = ctx.uv();
    const next = ctx.uv();
    return { v, next: next ? ctx.objFetch(next, CellT) : null };
  },
});
function cells(n: number): Cell {
  let c: Cell | null = null;
  for (let i = 0; i < n; i++) c = { v: i, next: c };
  return c!;
}

/** A fields type (written from the walker's queue, so restored in slices), and a list of n of them. */
interface Item {
  id: number;
  next: Item | null;
}
const ItemT: ObjType<Item> = defineObjType<Item>({ name: 'item', fields: { id: 'uv', next: ref(() => ItemT) } });
function items(n: number): Item {
  let head: Item | null = null;
  for (let i = 0; i < n; i++) head = { id: i, next: head };
  return head!;
}

/** A fields type with grab/drop counters (walked in slices by an incremental checkpoint). */
const gcounts = { grabs: 0, drops: 0 };
const GItemT: ObjType<Item> = defineObjType<Item>({
  name: 'gitem',
  fields: { id: 'uv', next: ref(() => GItemT) },
  grab: () => void gcounts.grabs++,
  drop: () => void gcounts.drops++,
});

/** n plain objects in an array, each with a getter that counts its reads (how far a walk got), sharing one tag object. */
function counted(n: number, seen: { reads: number }): { v: number; tag: object }[] {
  const tag = { t: 'shared' };
  const out: { v: number; tag: object }[] = [];
  for (let i = 0; i < n; i++) {
    const o = { tag, v: 0 };
    Object.defineProperty(o, 'v', { enumerable: true, get: () => (seen.reads++, i) });
    out.push(o);
  }
  return out;
}

/** A root of fields type with long refs fields (written and read over several slices), and hand-written objects inside one. */
interface Leaf {
  n: number;
}
interface Hand {
  s: string;
}
interface Root {
  head: string;
  kids: Leaf[];
  hands: (Hand | null)[];
  tail: number;
}
const LeafT: ObjType<Leaf> = defineObjType<Leaf>({ name: 'leaf', fields: { n: 'uv' } });
const HandT: ObjType<Hand> = defineObjType<Hand>({
  name: 'hand',
  checkpoint(ctx, h) {
    ctx.begin(302).vstr(h.s).end();
  },
  restore(ctx) {
    ctx.readRecord(302);
    return { s: ctx.vstr() };
  },
});
const RootT: ObjType<Root> = defineObjType<Root>({ name: 'root', fields: { head: 'vstr', kids: refs(LeafT), hands: refs(HandT), tail: 'uv' } });
const LONG_TYPES = [RootT, LeafT, HandT];
/** kids: 5000 refs to 1000 leaves (each 5 times); hands: 1500, a null every 7th. */
function longRoot(): Root {
  const leaves = Array.from({ length: 1000 }, (_, n) => ({ n }));
  const hands = Array.from({ length: 1500 }, (_, i) => (i % 7 === 3 ? null : { s: `h${i}` }));
  return { head: 'first', kids: Array.from({ length: 5000 }, (_, i) => leaves[(i * 7) % 1000]!), hands, tail: 42 };
}
function checkLongRoot(r: Root): void {
  expect(r.head).toBe('first');
  expect(r.tail).toBe(42);
  expect(r.kids.length).toBe(5000);
  for (let i = 0; i < 5000; i++) expect(r.kids[i]!.n).toBe((i * 7) % 1000);
  expect(r.kids[0]).toBe(r.kids[1000]); // shared, restored once
  expect(new Set(r.kids).size).toBe(1000);
  expect(r.hands.length).toBe(1500);
  for (let i = 0; i < 1500; i++) expect(r.hands[i]?.s ?? null).toBe(i % 7 === 3 ? null : `h${i}`);
}

/** A hand-written root whose cells are written inside its checkpoint, before its own record. */
interface Bag {
  cells: Cell[];
}
function bagType(nestedFirst: boolean): ObjType<Bag> {
  return defineObjType<Bag>({
    name: 'bag',
    nestedFirst,
    checkpoint(ctx, b) {
      const refs = b.cells.map((c) => ctx.checkpointObj(c, CellT));
      ctx.begin(303).uv(refs.length);
      for (const r of refs) ctx.uv(r);
      ctx.end();
    },
    restore(ctx) {
      ctx.readRecord(303);
      const cells: Cell[] = [];
      for (let n = ctx.uv(); n > 0; n--) cells.push(ctx.objFetch(ctx.uv(), CellT));
      return { cells };
    },
  });
}
/** n cells, each odd one pointing at the one before it (restored once, shared). */
function bag(n: number): Bag {
  const cells: Cell[] = [];
  for (let i = 0; i < n; i++) cells.push({ v: i, next: i % 2 === 1 ? cells[i - 1]! : null });
  return { cells };
}
/** Event-loop turns while p runs: one per setImmediate round (an async restart yields once per slice). */
async function turnsDuring<T>(p: () => Promise<T>): Promise<{ turns: number; value: T }> {
  let turns = 0;
  let stop = false;
  const spin = () => {
    if (stop) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    return { value: await p(), turns };
  } finally {
    stop = true;
  }
}

const turn = () => new Promise((r) => setImmediate(r));

/** A compressing Transform of node:zlib. */
function compressorOf(c: string): NodeJS.ReadWriteStream {
  if (c === 'gzip') return zlib.createGzip();
  if (c === 'brotli') return zlib.createBrotliCompress();
  return (zlib as unknown as { createZstdCompress: () => NodeJS.ReadWriteStream }).createZstdCompress();
}

/** What a call gave: 'ok', or its ObjHashError's code, message and offset. */
async function outcome(f: () => unknown): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    return e instanceof ObjHashError ? `${e.code} ${e.message} @${e.offset}` : `not an ObjHashError: ${String(e)}`;
  }
}

/** Starts a loopback TCP server whose connections get serve(socket); resolves with its port and a close(). */
async function tcpServer(serve: (s: Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createTcpServer(serve);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

describe.each(IMPLS)('streams (%s)', (impl) => {
  const opts = { impl, types: TYPES };

  it('checkpointToStream writes the bytes checkpoint() makes; restartFromStream restores them, typed and plain', async () => {
    const tree = buildTree();
    const pt = new PassThrough();
    const [res, bytes] = await Promise.all([checkpointToStream(pt, tree, TaskType, opts), drain(pt)]);
    const img = checkpoint(tree, TaskType, opts);
    expect(new Uint8Array(bytes)).toEqual(img);
    expect(res).toEqual({ bytes: img.length, objects: expect.any(Number) });
    expect(diffTrees(tree, await restartFromStream(Readable.from([bytes]), TaskType, opts))).toEqual([]);
    const pv = new PassThrough();
    const [, back] = await Promise.all([checkpointToStream(pv, value(), { impl }), restartFromStream(pv, { impl })]);
    const v = back as ReturnType<typeof value>;
    expect(v.self).toBe(v);
    expect(v.list[0]).toBe(v.list[1]);
    expect(v.m.get('k')).toBe(v.list[0]);
  });

  it('web streams: a WritableStream destination and a ReadableStream source', async () => {
    const parts: Uint8Array[] = [];
    const ws = new WritableStream<Uint8Array>({ write: (c) => void parts.push(c) });
    await checkpointToStream(ws, value(), { impl });
    const img = Buffer.concat(parts);
    expect(img).toEqual(Buffer.from(checkpoint(value(), { impl })));
    const rs = Readable.toWeb(Readable.from([img.subarray(0, 10), img.subarray(10)])) as ReadableStream<Uint8Array>;
    expect(((await restartFromStream(rs, { impl })) as { list: unknown[] }).list).toHaveLength(2);
  });

  it.each(['gzip', 'brotli', ...(zstdAvailable ? ['zstd'] : [])] as const)('compress %s: smaller, and read back (gzip and zstd recognised by their magic)', async (c) => {
    const tree = buildTree();
    const pt = new PassThrough();
    const [res, bytes] = await Promise.all([checkpointToStream(pt, tree, TaskType, { ...opts, compress: c as 'gzip' }), drain(pt)]);
    expect(bytes.length).toBeLessThan(res.bytes);
    const back = await restartFromStream(Readable.from([bytes]), TaskType, { ...opts, ...(c === 'brotli' ? { compress: 'brotli' as const } : {}) });
    expect(diffTrees(tree, back)).toEqual([]);
    // an uncompressed image read with `compress` named is read as it is
    expect(diffTrees(tree, await restartFromStream(Readable.from([checkpoint(tree, TaskType, opts)]), TaskType, { ...opts, compress: c as 'gzip' }))).toEqual([]);
  });

  it('bytes after a compressed image are EIO, and a decompressed stream that is no image fails at its first bytes (a bomb of zeros is not inflated)', async () => {
    const img = checkpoint(buildTree(), TaskType, opts);
    const packs = {
      gzip: zlib.gzipSync,
      brotli: zlib.brotliCompressSync,
      ...(zstdAvailable ? { zstd: (zlib as unknown as { zstdCompressSync: (b: Uint8Array) => Buffer }).zstdCompressSync } : {}),
    };
    for (const [c, pack] of Object.entries(packs)) {
      const o = { ...opts, compress: c as 'gzip' };
      const e = (await restartFromStream(Readable.from([Buffer.concat([pack(img), Buffer.from('GARBAGE')])]), TaskType, o).catch((x: unknown) => x)) as ObjHashError;
      expect(e, c).toBeInstanceOf(ObjHashError);
      expect(e.code, c).toBe('EIO');
      expect(e.message).toMatch(new RegExp(`the ${c} stream is corrupt`));
      // endless zeros, compressed: not an image from its first bytes, long before maxImageBytes
      const zeros = Readable.from(
        (function* () {
          for (;;) yield new Uint8Array(1 << 16);
        })(),
      );
      const bomb = zeros.pipe(compressorOf(c));
      let received = 0;
      const b = (await restartFromStream(bomb, TaskType, { ...o, maxImageBytes: 1 << 26, onProgress: (p) => void (received = p.bytes) }).catch((x: unknown) => x)) as ObjHashError;
      zeros.destroy();
      expect(b, c).toBeInstanceOf(ObjHashError);
      expect(b.code, c).toBe('EINVAL');
      expect(b.message).toMatch(/bad magic at offset 0: not an objhash image/);
      expect(received, `${c}: bytes inflated before the error`).toBeLessThan(1 << 20);
    }
  });

  it('a real TCP socket on 127.0.0.1, fast and slow (7-byte writes), and a peer that resets mid-image (EIO or EPIPE, nothing restored)', async () => {
    const tree = buildTree();
    const img = checkpoint(tree, TaskType, opts);
    for (const mode of ['stream', 'slow', 'reset'] as const) {
      const srv = await tcpServer((s) => {
        if (mode === 'stream') void checkpointToStream(s, tree, TaskType, opts);
        else if (mode === 'slow') void pipeline(Readable.from(slowly(img, 7)), s);
        else s.write(img.subarray(0, img.length >> 1), () => s.resetAndDestroy());
      });
      try {
        const sock = connect(srv.port, '127.0.0.1');
        if (mode === 'reset') {
          let err: unknown;
          await restartFromStream(sock, TaskType, opts).catch((e: unknown) => (err = e));
          expect(err).toBeInstanceOf(ObjHashError);
          expect(['EIO', 'EPIPE']).toContain((err as ObjHashError).code);
        } else {
          expect(diffTrees(tree, await restartFromStream(sock, TaskType, opts))).toEqual([]);
        }
      } finally {
        await srv.close();
      }
    }
  });

  it('an HTTP response from node:http, gzip-encoded through a real pipeline', async () => {
    const tree = buildTree();
    const server = createHttpServer((_req, res) => {
      res.setHeader('content-encoding', 'gzip');
      void checkpointToStream(res, tree, TaskType, { ...opts, compress: 'gzip' });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const res = await new Promise<import('node:http').IncomingMessage>((r) => httpGet({ host: '127.0.0.1', port, path: '/' }, r));
      expect(res.headers['content-encoding']).toBe('gzip');
      expect(diffTrees(tree, await restartFromStream(res, TaskType, opts))).toEqual([]);
      // and through the caller's own gunzip pipeline
      const res2 = await new Promise<import('node:http').IncomingMessage>((r) => httpGet({ host: '127.0.0.1', port, path: '/' }, r));
      expect(diffTrees(tree, await restartFromStream(res2.pipe(zlib.createGunzip()), TaskType, opts))).toEqual([]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('hostile images: restartFromStream fails with the code and message restart() gives, on 300 seeded mutations', async () => {
    const img = checkpoint(buildTree(), TaskType, opts);
    const rand = rng(0x515);
    for (let i = 0; i < 300; i++) {
      const bad = img.slice(0, rand() < 0.2 ? Math.floor(rand() * img.length) : img.length);
      for (let k = 0; k < 3; k++) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
      const want = await outcome(() => restart(bad, TaskType, opts));
      expect(await outcome(() => restartFromStream(slowly(bad, 97), TaskType, opts)), `mutation ${i}`).toBe(want);
    }
  });

  it('aborts at 1000 random points: AbortError, every grab dropped once, nothing half-restored', async () => {
    const rand = rng(0xab0);
    const root = cells(40);
    const img = checkpoint(root, CellT, { impl, types: [CellT] });
    for (let run = 0; run < 1000; run++) {
      counts.grabs = counts.drops = 0;
      const ac = new AbortController();
      const after = Math.floor(rand() * 8);
      let n = 0;
      const err = await (async () => {
        if (run % 2 === 0) {
          // a slow destination that aborts after `after` writes
          const dest = new Writable({
            highWaterMark: 16,
            write(_c, _e, cb) {
              if (n++ === after) ac.abort(new Error(`stop at ${after}`));
              setImmediate(cb);
            },
          });
          await checkpointToStream(dest, root, CellT, { impl, types: [CellT], highWaterMark: 64, signal: ac.signal });
        } else {
          async function* src(): AsyncGenerator<Uint8Array> {
            for (let i = 0; i < img.length; i += 16) {
              if (n++ === after) ac.abort(new Error(`stop at ${after}`));
              await new Promise((r) => setImmediate(r));
              yield img.subarray(i, i + 16);
            }
          }
          await restartFromStream(src(), CellT, { impl, types: [CellT], signal: ac.signal });
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(counts.grabs, `run ${run}`).toBe(counts.drops);
      if (ac.signal.aborted) {
        expect(err, `run ${run}`).toBeInstanceOf(AbortError);
        expect((err as AbortError).name).toBe('AbortError');
        expect(((err as AbortError).cause as Error).message).toBe(`stop at ${after}`);
      } else {
        expect(err, `run ${run}`).toBeUndefined();
      }
    }
  });

  it('a corrupt gzip stream is EIO naming it; a gzip source that fails midway is EIO naming the source', async () => {
    const gz = zlib.gzipSync(checkpoint(buildTree(), TaskType, opts));
    const corrupt = gz.slice();
    corrupt.fill(0x55, 20, 60);
    const e1 = await restartFromStream(Readable.from([corrupt]), TaskType, opts).catch((e: unknown) => e);
    expect((e1 as ObjHashError).code).toBe('EIO');
    expect((e1 as Error).message).toMatch(/the gzip stream is corrupt/);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield gz.subarray(0, 40);
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 });
    }
    const e2 = await restartFromStream(failing(), TaskType, opts).catch((e: unknown) => e);
    expect((e2 as ObjHashError).code).toBe('EIO');
    expect((e2 as Error).message).toMatch(/reading the image failed after \d+ bytes: read ECONNRESET/);
  });

  it('a restart of fields-typed objects yields to the event loop between slices (sliceMs), and an abort between them frees everything', async () => {
    const o = { impl, types: [ItemT] };
    const img = checkpoint(items(2000), ItemT, o);
    let ticks = 0;
    const timer = setInterval(() => void ticks++, 0);
    const seen: number[] = [];
    let back: Item | null;
    try {
      back = await restartFromStream(Readable.from([img]), ItemT, { ...o, sliceMs: 0, onProgress: (p) => void seen.push(p.objects) });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0); // the loop ran during the restore
    let n = 0;
    for (; back; back = back.next) expect(back.id).toBe(1999 - n++);
    expect(n).toBe(2000);
    expect(seen.at(-1)).toBe(2000);
    // aborted between two slices: an AbortError, and a second restart works
    const ac = new AbortController();
    let k = 0;
    const stopper = setInterval(() => ++k === 3 && ac.abort(new Error('stop')), 0);
    const outcome = await restartFromStream(Readable.from([img]), ItemT, { ...o, sliceMs: 0, signal: ac.signal }).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    clearInterval(stopper);
    expect(outcome).toBeInstanceOf(AbortError);
    expect((await restartFromStream(Readable.from([img]), ItemT, o))!.id).toBe(1999);
    await expect(restartFromStream(Readable.from([img]), ItemT, { ...o, sliceMs: -1 })).rejects.toThrow(/sliceMs must be a number >= 0/);
  });

  it('a nestedFirst root of hand-written type: its nested objects restore in slices, then its restore; the result is restart()\'s', async () => {
    const BagNF = bagType(true);
    const BagT = bagType(false);
    const input = bag(2000);
    const imgNF = checkpoint(input, BagNF, { impl, types: [BagNF, CellT] });
    const img = checkpoint(input, BagT, { impl, types: [BagT, CellT] });
    expect(imgNF).toEqual(img); // the flag changes no byte
    const check = (b: Bag) => {
      expect(b.cells.length).toBe(2000);
      for (let i = 0; i < 2000; i++) expect(b.cells[i]!.v).toBe(i);
      for (let i = 1; i < 2000; i += 2) expect(b.cells[i]!.next).toBe(b.cells[i - 1]); // shared, restored once
    };
    check(restart(imgNF, BagNF, { impl, types: [BagNF, CellT] }));
    const sliced = await turnsDuring(() => restartFromStream(Readable.from([imgNF]), BagNF, { impl, types: [BagNF, CellT], sliceMs: 0 }));
    check(sliced.value);
    // sliceMs 0: a slice per nested cell (2000), the loop turning between them
    expect(sliced.turns).toBeGreaterThanOrEqual(2000);
    const whole = await turnsDuring(() => restartFromStream(Readable.from([img]), BagT, { impl, types: [BagT, CellT], sliceMs: 0 }));
    check(whole.value);
    expect(whole.turns).toBeLessThan(10); // without the flag: in one piece
    // untyped, and through a bounded window of a slow source
    check((await restartFromStream(Readable.from([imgNF]), { impl, types: [BagNF, CellT], sliceMs: 0 })) as Bag);
    check(await restartFromStream(slowly(imgNF, 997), BagNF, { impl, types: [BagNF, CellT], sliceMs: 0, windowBytes: 4096 }));
    // the wrong root type is the same ENOMSG as restart()'s
    const OtherT = defineObjType<Bag>({ name: 'other', restore: () => ({ cells: [] }) });
    const wrong = { impl, types: [BagNF, CellT, OtherT] };
    expect(await outcome(() => restartFromStream(Readable.from([imgNF]), OtherT, wrong))).toBe(await outcome(() => restart(imgNF, OtherT, wrong)));
    expect(await outcome(() => restartFromStream(Readable.from([imgNF]), OtherT, wrong))).toMatch(/^ENOMSG restart: OBJREF at offset \d+ is a bag, expected a other/);
    // aborted between two slices (after 1, 7, 500 turns): AbortError, every grab dropped once
    for (const at of [1, 7, 500]) {
      counts.grabs = counts.drops = 0;
      const ac = new AbortController();
      let k = 0;
      const stopper = () => {
        if (++k === at) ac.abort(new Error('stop'));
        else if (!ac.signal.aborted) setImmediate(stopper);
      };
      setImmediate(stopper);
      const got = await restartFromStream(Readable.from([imgNF]), BagNF, { impl, types: [BagNF, CellT], sliceMs: 0, signal: ac.signal }).then(
        () => 'resolved',
        (e: unknown) => e,
      );
      expect(got).toBeInstanceOf(AbortError);
      expect(counts.drops).toBe(counts.grabs);
    }
    check(await restartFromStream(Readable.from([imgNF]), BagNF, { impl, types: [BagNF, CellT], sliceMs: 0 }));
  });

  it('hostile images of a nestedFirst root: restartFromStream (its nested objects first, in slices) fails as restart() does, on 300 seeded mutations', async () => {
    const BagNF = bagType(true);
    const o = { impl, types: [BagNF, CellT] };
    const img = checkpoint(bag(60), BagNF, o);
    const rand = rng(0x5a1);
    let failed = 0;
    for (let i = 0; i < 300; i++) {
      const bad = img.slice(0, rand() < 0.2 ? Math.floor(rand() * img.length) : img.length);
      for (let k = 0; k < 3; k++) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
      const want = await outcome(() => restart(bad, BagNF, o));
      if (want !== 'ok') failed++;
      expect(await outcome(() => restartFromStream(slowly(bad, 97), BagNF, { ...o, sliceMs: 0 })), `mutation ${i}`).toBe(want);
    }
    expect(failed).toBeGreaterThan(200);
  });

  it('a nestedFirst root that its nested objects refer to: restart() restores it, an async restart is EINVAL naming the flag', async () => {
    interface Parent {
      kids: Kid[];
    }
    interface Kid {
      parent: Parent;
    }
    // eslint-disable-next-line prefer-const
    let ParentT: ObjType<Parent>;
    const KidT = defineObjType<Kid>({
      name: 'kid',
      checkpoint: (ctx, k) => void ctx.begin(305).uv(ctx.checkpointObj(k.parent, ParentT)).end(),
      restore: (ctx) => (ctx.readRecord(305), { parent: ctx.objFetch(ctx.uv(), ParentT) }),
    });
    ParentT = defineObjType<Parent>({
      name: 'parent',
      nestedFirst: true,
      checkpoint(ctx, p) {
        const refs = p.kids.map((k) => ctx.checkpointObj(k, KidT));
        ctx.begin(304).uv(refs.length);
        for (const r of refs) ctx.uv(r);
        ctx.end();
      },
      restore(ctx) {
        const p = ctx.reference<Parent>({ kids: [] });
        ctx.readRecord(304);
        for (let n = ctx.uv(); n > 0; n--) p.kids.push(ctx.objFetch(ctx.uv(), KidT));
        return p;
      },
    });
    const p: Parent = { kids: [] };
    p.kids.push({ parent: p }, { parent: p });
    const o = { impl, types: [ParentT, KidT] };
    const img = checkpoint(p, ParentT, o);
    const back = restart(img, ParentT, o);
    expect(back.kids.length).toBe(2);
    expect(back.kids[1]!.parent).toBe(back);
    expect(await outcome(() => restartFromStream(Readable.from([img]), ParentT, o))).toMatch(
      /^EINVAL restart: objFetch\(1, parent\) in record USER\(305\) at offset \d+, while restoring kid objref 2: objref 1 is the parent whose restore waits: parent is declared nestedFirst/,
    );
    // checked when the type is defined
    expect(() => defineObjType({ name: 'x', nestedFirst: 'yes' as never })).toThrow(/ops\.nestedFirst must be a boolean/);
    expect(() => defineObjType({ name: 'x', nestedFirst: true, fields: { a: 'uv' } } as never)).toThrow(/ops\.nestedFirst goes with checkpoint\/restore/);
  });

  it('RestartContext.finishSome(0) restores one queued object at a time, then checks TAIL once; afterwards EBADF', () => {
    const o = { impl, types: [ItemT] };
    const img = checkpoint(items(50), ItemT, o);
    const ctx = new RestartContext(img, o);
    const root = ctx.restoreObj(ItemT);
    let slices = 0;
    while (!ctx.finishSome(0)) slices++;
    expect(slices).toBe(49); // the root came with restoreObj, then one object per slice
    expect(ctx.count).toBe(50);
    let n = 0;
    for (let x: Item | null = root; x; x = x.next) expect(x.id).toBe(49 - n++);
    expect(n).toBe(50);
    expect(() => ctx.finishSome(0)).toThrow(/already finished/);
    // a corrupt TAIL is found by the last slice, and frees the hash
    const bad = img.slice();
    bad[bad.length - 1]! ^= 0xff;
    const c2 = new RestartContext(bad, o);
    c2.restoreObj(ItemT);
    let err: unknown;
    try {
      while (!c2.finishSome(0));
    } catch (e) {
      err = e;
    }
    expect((err as ObjHashError).code).toBe('EBADMSG');
    expect(() => c2.finishSome(0)).toThrow(/already finished/);
  });

  it('incremental checkpoint: fields types, plain values and hand-written types restart from a stream and a file; the event loop runs between slices', async () => {
    const o = { impl, types: [ItemT] };
    let ticks = 0;
    const timer = setInterval(() => void ticks++, 0);
    let res: { bytes: number; objects: number };
    let bytes: Uint8Array;
    try {
      const pt = new PassThrough();
      [res, bytes] = await Promise.all([checkpointToStream(pt, items(3000), ItemT, { ...o, incremental: true, sliceMs: 0 }), drain(pt)]);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0); // timers ran while it walked
    expect(res).toEqual({ bytes: bytes.length, objects: 3000 });
    let back: Item | null = restart(bytes, ItemT, o);
    let n = 0;
    for (; back; back = back.next) expect(back.id).toBe(2999 - n++);
    expect(n).toBe(3000);
    // plain values: records of at most 1024 inline objects, sharing kept
    const seen = { reads: 0 };
    const arr = counted(5000, seen);
    const pv = new PassThrough();
    const [r2, b2] = await Promise.all([checkpointToStream(pv, { arr, self: null }, { impl, incremental: true, sliceMs: 0 }), drain(pv)]);
    expect(r2.objects).toBeGreaterThan(1);
    const v = restart(b2, { impl }) as { arr: { v: number; tag: object }[] };
    expect(v.arr.map((x) => x.v)).toEqual(arr.map((_, i) => i));
    expect(new Set(v.arr.map((x) => x.tag)).size).toBe(1);
    // hand-written: one slice, the same tree
    const tree = buildTree();
    const pt3 = new PassThrough();
    const [, b3] = await Promise.all([checkpointToStream(pt3, tree, TaskType, { ...opts, incremental: true }), drain(pt3)]);
    expect(diffTrees(tree, restart(b3, TaskType, opts))).toEqual([]);
    // the file variant, compressed
    const path = join(dir, `inc-${impl}.img`);
    const rf = await promises.checkpointToFile(path, items(500), ItemT, { ...o, incremental: true, sliceMs: 0, compress: 'gzip' });
    expect(rf.objects).toBe(500);
    expect((await promises.restartFromFile(path, ItemT, o))!.id).toBe(499);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('incremental checkpoint: a slow destination holds the walk back (backpressure), and the image is whole when it drains', async () => {
    const seen = { reads: 0 };
    const arr = counted(6000, seen);
    const parts: Uint8Array[] = [];
    const held: (() => void)[] = [];
    let hold = true;
    const dest = new Writable({
      highWaterMark: 1,
      write(c: Uint8Array, _e, cb) {
        parts.push(c);
        if (hold) held.push(cb);
        else cb();
      },
    });
    const p = checkpointToStream(dest, arr, { impl, incremental: true, sliceMs: 0, highWaterMark: 512 });
    for (let i = 0; i < 100; i++) await turn();
    expect(seen.reads).toBeGreaterThan(0);
    expect(seen.reads).toBeLessThan(6000); // paused until the destination takes more
    hold = false;
    for (const cb of held.splice(0)) cb();
    const res = await p;
    expect(seen.reads).toBe(6000);
    const img = Buffer.concat(parts);
    expect(res.bytes).toBe(img.length);
    expect((restart(img, { impl }) as { v: number }[]).map((x) => x.v)).toEqual(arr.map((_, i) => i));
  });

  it('incremental checkpoint that fails half-way: the stream gets the image up to its ERROR record, the file keeps the previous image; every grab dropped once', async () => {
    const seen = { reads: 0 };
    const arr: unknown[] = counted(3000, seen);
    (arr[2500] as Record<string, unknown>).f = () => 0;
    const pt = new PassThrough();
    const [err, bytes] = await Promise.all([checkpointToStream(pt, arr, { impl, incremental: true, sliceMs: 0 }).catch((e: unknown) => e), drain(pt)]);
    expect((err as ObjHashError).code).toBe('EINVAL');
    expect((err as Error).message).toMatch(/root\[2500\]\.f: a function cannot be checkpointed/);
    let e2: unknown;
    try {
      restart(bytes, { impl });
    } catch (e) {
      e2 = e;
    }
    expect((e2 as ObjHashError).code).toBe('EIO');
    expect((e2 as Error).message).toMatch(/checkpoint failed: .*a function cannot be checkpointed/);
    // the file variant: the previous image stays, no temporary file; grabs of a fields type dropped once
    const path = join(dir, `inc-fail-${impl}.img`);
    await promises.checkpointToFile(path, items(10), ItemT, { impl, types: [ItemT] });
    const before = readFileSync(path);
    gcounts.grabs = gcounts.drops = 0;
    const Holder = defineObjType<{ item: Item; bad: unknown }>({ name: 'holder', fields: { item: ref(GItemT), bad: 'value' } });
    const list = (n: number) => {
      let h: Item | null = null;
      for (let i = 0; i < n; i++) h = { id: i, next: h };
      return h!;
    };
    const e3 = await promises
      .checkpointToFile(path, { item: list(2000), bad: Symbol('no') }, Holder, { impl, types: [Holder, GItemT], incremental: true, sliceMs: 0 })
      .catch((e: unknown) => e);
    expect((e3 as ObjHashError).code).toBe('EINVAL');
    expect(gcounts.grabs).toBeGreaterThan(0);
    expect(gcounts.drops).toBe(gcounts.grabs);
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('incremental checkpoint aborted at 200 random points: AbortError, every grab dropped once, no temporary file', async () => {
    const rand = rng(0x1c4);
    const root = (() => {
      let h: Item | null = null;
      for (let i = 0; i < 300; i++) h = { id: i, next: h };
      return h!;
    })();
    const o = { impl, types: [GItemT] };
    for (let run = 0; run < 200; run++) {
      gcounts.grabs = gcounts.drops = 0;
      const ac = new AbortController();
      const after = Math.floor(rand() * 12);
      let n = 0;
      const stopper = setInterval(() => n++ === after && ac.abort(new Error(`stop at ${after}`)), 0);
      const p =
        run % 2 === 0
          ? checkpointToStream(new PassThrough().resume(), root, GItemT, { ...o, incremental: true, sliceMs: 0, signal: ac.signal })
          : promises.checkpointToFile(join(dir, `abort-${impl}.img`), root, GItemT, { ...o, incremental: true, sliceMs: 0, signal: ac.signal });
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      clearInterval(stopper);
      expect(gcounts.drops, `run ${run}`).toBe(gcounts.grabs);
      if (err !== undefined) {
        expect(err, `run ${run}`).toBeInstanceOf(AbortError);
        expect(((err as AbortError).cause as Error).message).toBe(`stop at ${after}`);
      } else expect(gcounts.grabs, `run ${run}`).toBe(300);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('CheckpointContext with deferWalk: walkSome(0) writes a few queued objects per call, finish() the rest; checked arguments', () => {
    const o = { impl, types: [ItemT] };
    const img0 = checkpoint(items(200), ItemT, { ...o, deferWalk: true });
    expect(restart(img0, ItemT, o)!.id).toBe(199);
    const ctx = new CheckpointContext({ ...o, deferWalk: true });
    ctx.checkpointObj(items(200), ItemT);
    expect(ctx.count).toBe(2); // the head and its next, queued
    let calls = 0;
    while (!ctx.walkSome(0)) calls++;
    expect(calls).toBeGreaterThan(5);
    expect(ctx.count).toBe(200);
    const img = ctx.finish();
    expect(img).toEqual(img0);
    expect(() => ctx.walkSome(0)).toThrow(/finished/);
    const c2 = new CheckpointContext({ ...o, deferWalk: true });
    c2.checkpointObj(items(3), ItemT);
    expect(() => c2.walkSome(-1)).toThrow(/ms must be a number >= 0/);
    expect(c2.finish().length).toBeGreaterThan(0);
    expect(() => new CheckpointContext({ ...o, deferWalk: 1 as never })).toThrow(/deferWalk must be a boolean/);
  });

  it('one long record over several slices: a root of 5000 refs is written by several walkSome(0) and read by several finishSome(0), in the bytes checkpoint() makes', () => {
    const o = { impl, types: LONG_TYPES };
    const img0 = checkpoint(longRoot(), RootT, o);
    const ctx = new CheckpointContext({ ...o, deferWalk: true });
    ctx.checkpointObj(longRoot(), RootT);
    let calls = 0;
    while (!ctx.walkSome(0)) calls++;
    expect(calls).toBeGreaterThanOrEqual(5); // 5000 + 1500 items, 1024 per look at the clock
    const img = ctx.finish();
    expect(img).toEqual(img0);
    const rc = new RestartContext(img, { ...o, deferRead: true });
    const root = rc.restoreObj(RootT);
    expect(root.head).toBe('first');
    expect(root.kids).toBeUndefined(); // made and visible, its long field still to come
    let slices = 0;
    while (!rc.finishSome(0)) slices++;
    expect(slices).toBeGreaterThanOrEqual(5);
    checkLongRoot(root);
    expect(rc.count).toBe(1 + 1000 + 1286);
    // without deferRead the root comes whole; finish() reads an open record to its end
    checkLongRoot(restart(img, RootT, o)!);
    const rc2 = new RestartContext(img, { ...o, deferRead: true });
    const r2 = rc2.restoreObj(RootT);
    rc2.finish();
    checkLongRoot(r2);
    expect(() => new RestartContext(img, { ...o, deferRead: 'yes' as never })).toThrow(/deferRead must be a boolean/);
  });

  it('a record left open by a slice is closed before anything else is written: checkpointObj between two walkSome calls', () => {
    const o = { impl, types: LONG_TYPES };
    const ctx = new CheckpointContext({ ...o, deferWalk: true });
    ctx.checkpointObj(longRoot(), RootT);
    expect(ctx.walkSome(0)).toBe(false);
    ctx.checkpointObj({ n: 9999 }, LeafT);
    while (!ctx.walkSome(0));
    const img = ctx.finish();
    const rc = new RestartContext(img, o);
    const root = rc.restoreObj(RootT);
    expect(rc.restoreObj(LeafT).n).toBe(9999);
    rc.finish();
    checkLongRoot(root);
  });

  it('a long record written in slices fails as a whole one does: the error names the field and item, the image ends in ERROR, every grab is dropped once', async () => {
    const o = { impl, types: LONG_TYPES };
    const bad = longRoot();
    (bad.kids as unknown[])[3000] = undefined;
    const want = await outcome(() => checkpoint(bad, RootT, o));
    expect(want).toMatch(/^EINVAL .*root\.kids\[3000\]/);
    const ctx = new CheckpointContext({ ...o, deferWalk: true });
    expect(
      await outcome(() => {
        ctx.checkpointObj(bad, RootT);
        while (!ctx.walkSome(0));
      }),
    ).toBe(want);
    const failed = ctx.fail(new Error('walk failed'));
    expect(() => restart(failed, RootT, o)).toThrow(/walk failed/);
    const pass = new PassThrough();
    const [res] = await Promise.all([checkpointToStream(pass, bad, RootT, { ...o, incremental: true, sliceMs: 0 }).catch((e: unknown) => e), drain(pass)]);
    expect(await outcome(() => Promise.reject(res))).toBe(want);
  });

  it('hostile images with a long record: restartFromStream (read in slices) fails with the code and message restart() gives, on 300 seeded mutations', async () => {
    const o = { impl, types: LONG_TYPES };
    // no hand-written objects: their records would come first; the root's record starts the image
    const img = checkpoint({ ...longRoot(), hands: [] }, RootT, o);
    const rand = rng(0x10c);
    for (let i = 0; i < 300; i++) {
      // the flips land in the root's record (its 5000 objrefs: about the first 10 KB)
      const bad = img.slice();
      for (let k = 0; k < 2; k++) bad[Math.floor(rand() * 9000)] = Math.floor(rand() * 256);
      const want = await outcome(() => restart(bad, RootT, o));
      expect(await outcome(() => restartFromStream(Readable.from([bad]), RootT, { ...o, sliceMs: 0 })), `mutation ${i}`).toBe(want);
    }
  });

  it('an incremental checkpoint past one identity shard (140,000 objects) restarts whole, from a stream read in slices', async () => {
    const o = { impl, types: [RootT, LeafT, HandT] };
    const root: Root = { head: 'big', kids: Array.from({ length: 140_000 }, (_, n) => ({ n })), hands: [], tail: 1 };
    root.kids.push(root.kids[0]!, root.kids[139_999]!); // found again in the first and the last shard
    const pass = new PassThrough();
    const [res, img] = await Promise.all([checkpointToStream(pass, root, RootT, { ...o, incremental: true }), drain(pass)]);
    expect(res.objects).toBe(140_001);
    expect(Buffer.from(checkpoint(root, RootT, o)).equals(img)).toBe(true);
    const back = (await restartFromStream(Readable.from([img]), RootT, o))!;
    expect(back.kids.length).toBe(140_002);
    expect(back.kids[140_000]).toBe(back.kids[0]);
    expect(back.kids[140_001]).toBe(back.kids[139_999]);
    expect(back.kids[70_000]!.n).toBe(70_000);
  });

  it('incremental options are checked and name what is wrong', async () => {
    await expect(checkpointToStream(new PassThrough(), 1, { impl, incremental: 'yes' as never })).rejects.toThrow(/options.incremental must be a boolean/);
    await expect(checkpointToStream(new PassThrough(), 1, { impl, incremental: true, sliceMs: -1 })).rejects.toThrow(/options.sliceMs must be a number >= 0/);
    await expect(promises.checkpointToFile(join(dir, 'x.img'), 1, { impl, incremental: true, sliceMs: Number.NaN })).rejects.toThrow(/sliceMs must be a number >= 0/);
  });

  it('windowBytes: the restore runs while the image arrives, holding a bounded window; an object larger than the window is E2BIG naming it', async () => {
    let made = 0;
    const WItemT: ObjType<Item> = defineObjType<Item>({
      name: 'witem',
      fields: { id: 'uv', next: ref(() => WItemT) },
      create: () => (made++, { id: -1, next: null }),
    });
    const o = { impl, types: [WItemT] };
    const img = checkpoint(items(4000), WItemT as ObjType<Item>, o);
    let madeAtEnd = -1;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < img.length; i += 1024) {
        await turn();
        yield img.subarray(i, i + 1024);
      }
      madeAtEnd = made;
    }
    made = 0;
    let back = await restartFromStream(source(), WItemT, { ...o, windowBytes: 4096, sliceMs: 0 });
    expect(made).toBe(4000);
    // most objects were made before the source's last chunk: only a window's worth waited
    expect(madeAtEnd).toBeGreaterThan(2000);
    let n = 0;
    for (let x: Item | null = back; x; x = x.next) expect(x.id).toBe(3999 - n++);
    expect(n).toBe(4000);
    // without a window the image is received whole first
    made = 0;
    back = await restartFromStream(source(), WItemT, o);
    expect(madeAtEnd).toBe(0);
    expect(back.id).toBe(3999);
    // a hand-written tree restores in one piece: larger than the window is E2BIG, a window that holds it works
    const tree = buildTree();
    const t = checkpoint(tree, TaskType, opts);
    const e = await restartFromStream(slowly(t, 512), TaskType, { ...opts, windowBytes: 1024 }).catch((x: unknown) => x);
    expect((e as ObjHashError).code).toBe('E2BIG');
    expect((e as Error).message).toMatch(/options\.windowBytes \(1024\)/);
    expect(diffTrees(tree, await restartFromStream(slowly(t, 512), TaskType, { ...opts, windowBytes: t.length }))).toEqual([]);
    // truncated mid-window: EPIPE, as restart() says
    const cut = img.subarray(0, img.length - 100);
    const e2 = await restartFromStream(slowly(cut, 1024), WItemT, { ...o, windowBytes: 4096 }).catch((x: unknown) => x);
    expect((e2 as ObjHashError).code).toBe('EPIPE');
    await expect(restartFromStream(slowly(img, 1024), WItemT, { ...o, windowBytes: 0 })).rejects.toThrow(/options.windowBytes must be a positive integer/);
  });

  it('windowBytes: hostile images are refused exactly when restart() refuses them, with an ObjHashError; an abort mid-window drops every grab once', async () => {
    const o = { impl, types: [GItemT] };
    const img = checkpoint(items(600), GItemT, o);
    const rand = rng(0x3d0);
    for (let i = 0; i < 150; i++) {
      const bad = img.slice(0, rand() < 0.2 ? Math.floor(rand() * img.length) : img.length);
      for (let k = 0; k < 2; k++) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
      let sync: unknown;
      try {
        restart(bad, GItemT, o);
      } catch (e) {
        sync = e;
      }
      const got = await restartFromStream(slowly(bad, 700), GItemT, { ...o, windowBytes: 2048 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(got === undefined, `mutation ${i}: ${String(sync)} / ${String(got)}`).toBe(sync === undefined);
      if (got !== undefined) expect(got, `mutation ${i}`).toBeInstanceOf(ObjHashError);
    }
    for (let run = 0; run < 100; run++) {
      gcounts.grabs = gcounts.drops = 0;
      const ac = new AbortController();
      const after = Math.floor(rand() * 10);
      let n = 0;
      async function* src(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < img.length; i += 256) {
          if (n++ === after) ac.abort(new Error('stop'));
          await turn();
          yield img.subarray(i, i + 256);
        }
      }
      const err = await restartFromStream(src(), GItemT, { ...o, windowBytes: 1024, sliceMs: 0, signal: ac.signal }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(gcounts.drops, `run ${run}`).toBe(gcounts.grabs);
      if (ac.signal.aborted) expect(err, `run ${run}`).toBeInstanceOf(AbortError);
      else expect(err, `run ${run}`).toBeUndefined();
    }
  });

  it('options are checked and name what is wrong', async () => {
    await expect(checkpointToStream({} as never, 1, { impl })).rejects.toThrow(/dest must be a Writable/);
    await expect(restartFromStream(42 as never, { impl })).rejects.toThrow(/source must be a Readable/);
    await expect(restartFromStream(Readable.from(['text']), { impl })).rejects.toThrow(/gave a string/);
    await expect(checkpointToStream(new PassThrough(), 1, { impl, compress: 'lz4' as never })).rejects.toThrow(/compress must be one of/);
    await expect(checkpointToStream(new PassThrough(), 1, { impl, signal: 'x' as never })).rejects.toThrow(/signal must be an AbortSignal/);
    const big = checkpoint(buildTree(), TaskType, opts);
    const e = await restartFromStream(Readable.from([big]), TaskType, { ...opts, maxImageBytes: 100 }).catch((x: unknown) => x);
    expect((e as ObjHashError).code).toBe('E2BIG');
  });

  it('objhash/promises: checkpointToFile replaces the file atomically; a failure or an abort leaves the previous image and no temporary file', async () => {
    const path = join(dir, `tree-${impl}.img`);
    const tree = buildTree();
    const res = await promises.checkpointToFile(path, tree, TaskType, opts);
    expect(new Uint8Array(readFileSync(path))).toEqual(checkpoint(tree, TaskType, opts));
    expect(res.bytes).toBe(readFileSync(path).length);
    const before = readFileSync(path);
    const Bad = defineObjType<{ x: number }>({
      name: 'bad',
      checkpoint() {
        throw new Error('cannot checkpoint this');
      },
    });
    await expect(promises.checkpointToFile(path, { x: 1 }, Bad, { impl })).rejects.toThrow(/cannot checkpoint this/);
    const ac = new AbortController();
    const p = promises.checkpointToFile(path, cells(500), CellT, { impl, types: [CellT], highWaterMark: 256, signal: ac.signal, onProgress: () => ac.abort() });
    await expect(p).rejects.toBeInstanceOf(AbortError);
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(diffTrees(tree, await promises.restartFromFile(path, TaskType, opts))).toEqual([]);
    // compressed, with progress to the end
    const seen: { objects: number; bytes: number; totalBytes?: number }[] = [];
    await promises.checkpointToFile(path, value(), { impl, compress: 'gzip' });
    const back = (await promises.restartFromFile(path, { impl, onProgress: (x) => seen.push(x) })) as ReturnType<typeof value>;
    expect(back.self).toBe(back);
    expect(seen.at(-1)!.objects).toBe(1);
    expect(seen.at(-1)!.bytes).toBe(seen.at(-1)!.totalBytes);
    writeFileSync(path, zlib.gzipSync(Buffer.from('not an image')));
    await expect(promises.restartFromFile(path, { impl })).rejects.toThrow(/not an objhash image/);
  });

  it('an abort ends a restart whose source sends nothing more (a Node stream, a web stream, an async iterable, a TCP peer): AbortError at once, the Node source destroyed', async () => {
    const img = checkpoint(buildTree(), TaskType, opts);
    const half = img.subarray(0, img.length >> 1);
    const stalled = {
      node: () => {
        const pt = new PassThrough();
        pt.write(half);
        return pt;
      },
      web: () =>
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(half);
          },
        }),
      iterable: () => ({
        async *[Symbol.asyncIterator]() {
          yield half;
          await new Promise(() => {});
        },
      }),
    };
    for (const [kind, make] of Object.entries(stalled)) {
      for (const windowBytes of [undefined, 1 << 20]) {
        const src = make();
        const t = performance.now();
        const e = await restartFromStream(src as never, TaskType, { ...opts, windowBytes, signal: AbortSignal.timeout(50) }).catch((x: unknown) => x);
        expect(e, `${kind} window ${windowBytes}`).toBeInstanceOf(AbortError);
        expect(performance.now() - t, `${kind}: settled long after the abort`).toBeLessThan(5000);
        if (src instanceof PassThrough) expect(src.destroyed).toBe(true);
      }
    }
    // a real peer that sends half the image, then nothing
    const sockets: Socket[] = [];
    const srv = await tcpServer((s) => {
      sockets.push(s);
      s.write(half);
    });
    const sock = connect(srv.port, '127.0.0.1');
    const e = await restartFromStream(sock, TaskType, { ...opts, signal: AbortSignal.timeout(50) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AbortError);
    expect(sock.destroyed).toBe(true);
    for (const s of sockets) s.destroy();
    await srv.close();
  });

  it('an abort ends a checkpoint whose web WritableStream never finishes a write; a failing destination is EIO, whatever the timing', async () => {
    for (const incremental of [false, true]) {
      const hang = new WritableStream<Uint8Array>({ write: () => new Promise(() => {}) });
      const t = performance.now();
      const e = await checkpointToStream(hang, { a: 1 }, { impl, incremental, signal: AbortSignal.timeout(50) }).catch((x: unknown) => x);
      expect(e, `incremental ${incremental}`).toBeInstanceOf(AbortError);
      expect(performance.now() - t).toBeLessThan(5000);
    }
    // the destination's error reaches the walk between two chunks: still the destination's (EIO), never the walk's
    interface Kid {
      kind: number;
      kids: Kid[];
    }
    const kc = { grabs: 0, drops: 0 };
    const KidT: ObjType<Kid> = defineObjType<Kid>({
      name: 'kid',
      fields: { kind: 'uv', kids: refs(() => KidT) },
      grab: () => void kc.grabs++,
      drop: () => void kc.drops++,
    });
    const root: Kid = { kind: 0, kids: Array.from({ length: 40000 }, (_, k) => ({ kind: k, kids: [] })) };
    for (let i = 0; i < 10; i++) {
      for (const compress of [undefined, 'gzip'] as const) {
        const bad = new Writable({
          highWaterMark: 1,
          write(_c, _e, cb) {
            if (i % 2 === 0) cb(new Error('disk on fire'));
            else setImmediate(() => cb(new Error('disk on fire')));
          },
        });
        const e = (await checkpointToStream(bad, root, KidT, { impl, types: [KidT], incremental: true, sliceMs: 1, compress }).catch((x: unknown) => x)) as ObjHashError;
        expect(e, `round ${i} ${compress}`).toBeInstanceOf(ObjHashError);
        expect(e.code).toBe('EIO');
        expect(e.message).toMatch(/disk on fire/);
      }
    }
    expect(kc.grabs).toBe(kc.drops);
    expect(kc.grabs).toBeGreaterThan(0);
  });

  it('objhash/promises: checkpointToFile to a file that cannot be made or replaced is EIO, with the host error as cause; nothing is left behind', async () => {
    for (const incremental of [false, true]) {
      const e1 = (await promises.checkpointToFile(join(dir, 'no-such-dir', 'x.img'), { a: 1 }, { impl, incremental }).catch((x: unknown) => x)) as ObjHashError;
      expect(e1).toBeInstanceOf(ObjHashError);
      expect(e1.code).toBe('EIO');
      expect(e1.message).toMatch(/checkpointToFile: cannot create the temporary file beside .*no-such-dir.*ENOENT/);
      expect((e1.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
      const sub = join(dir, `a-dir-${impl}-${incremental}`);
      mkdirSync(sub);
      const e2 = (await promises.checkpointToFile(sub, { a: 1 }, { impl, incremental }).catch((x: unknown) => x)) as ObjHashError;
      expect(e2).toBeInstanceOf(ObjHashError);
      expect(e2.code).toBe('EIO');
      expect(e2.message).toMatch(/checkpointToFile: cannot replace .*a-dir.*EISDIR/);
      expect((e2.cause as NodeJS.ErrnoException).code).toBe('EISDIR');
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('incremental checkpoint, native matches JS', () => {
  it.skipIf(IMPLS.length < 2)('the same bytes from both backends for fields types, plain values and a long record (sliceMs 0)', async () => {
    const images = async (impl: (typeof IMPLS)[number]) => {
      const a = new PassThrough();
      const b = new PassThrough();
      const [, x] = await Promise.all([checkpointToStream(a, items(2000), ItemT, { impl, types: [ItemT], incremental: true, sliceMs: 0 }), drain(a)]);
      const [, y] = await Promise.all([checkpointToStream(b, counted(3000, { reads: 0 }), { impl, incremental: true, sliceMs: 0 }), drain(b)]);
      const c = new PassThrough();
      const [, z] = await Promise.all([checkpointToStream(c, longRoot(), RootT, { impl, types: LONG_TYPES, incremental: true, sliceMs: 0 }), drain(c)]);
      return [x, y, z];
    };
    const [n, j] = [await images('native'), await images('js')];
    expect(n[0]).toEqual(j[0]);
    expect(n[1]).toEqual(j[1]);
    expect(n[2]).toEqual(j[2]); // a root record written over several slices
  });
});
