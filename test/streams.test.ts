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
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import {
  AbortError,
  ObjHashError,
  RestartContext,
  checkpoint,
  checkpointToStream,
  defineObjType,
  ref,
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
      const said = (e: unknown) => (e instanceof ObjHashError ? `${e.code} ${e.message} @${e.offset}` : `not an ObjHashError: ${String(e)}`);
      let want = 'ok';
      try {
        restart(bad, TaskType, opts);
      } catch (e) {
        want = said(e);
      }
      let got = 'ok';
      try {
        await restartFromStream(slowly(bad, 97), TaskType, opts);
      } catch (e) {
        got = said(e);
      }
      expect(got, `mutation ${i}`).toBe(want);
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
});
