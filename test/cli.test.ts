import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REC, checkpoint, checkpointToFile, defineObjType } from '../lib/index.js';
import { TYPES, TaskType, buildTree } from '../examples/proctree.js';
import { IMPLS } from './helpers.js';

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

function cli(impl: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, OBJHASH_IMPL: impl },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const good = join(dir, 'tree.img');
const image = checkpoint(buildTree(), TaskType, { types: TYPES });
writeFileSync(good, image);
const recs: { offset: number; type: number; len: number }[] = [];
{
  const dv = new DataView(image.buffer, image.byteOffset);
  for (let off = 0; off < image.length; ) {
    const type = dv.getUint32(off, true), len = dv.getUint32(off + 4, true);
    recs.push({ offset: off, type, len });
    off += (len + 7) & ~7;
  }
}
function variant(name: string, f: (b: Uint8Array) => Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, f(image.slice()));
  return p;
}
const tail = recs[recs.length - 1]!;
const truncated = variant('truncated.img', (b) => b.subarray(0, b.length - 13));
const badCrc = variant('crc.img', (b) => {
  b[tail.offset + 20] ^= 1;
  return b;
});
const badMagic = variant('magic.img', (b) => {
  b[8] ^= 0xff;
  return b;
});
const trailing = variant('trailing.img', (b) => Buffer.concat([b, new Uint8Array(8)]));

describe.each(IMPLS)('objhash command (%s)', (impl) => {
  it('inspect prints the type table, records and objects by type, and the tail', () => {
    const r = cli(impl, 'inspect', good);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/format v1/);
    expect(r.out).toMatch(/1\s+task/);
    expect(r.out).toMatch(/files_struct/);
    expect(r.out).toMatch(/OBJREF\s+24\s+384/);
    expect(r.out).toMatch(/file \(3\)\s+6/);
    expect(r.out).toMatch(/total\s+24/);
    expect(r.out).toMatch(/tail: count 24, crc32c 0x[0-9a-f]{8}: valid/);
  });

  it('verify: exit 0 on a valid image, 1 with the offset and reason otherwise', () => {
    const ok = cli(impl, 'verify', good);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/valid: 1552 bytes, 24 objects/);
    const cases: [string, RegExp][] = [
      [truncated, /EPIPE at offset \d+/],
      [badCrc, new RegExp(`EBADMSG at offset ${tail.offset}: checksum mismatch`)],
      [badMagic, /EINVAL at offset 0: .*magic/],
      [trailing, new RegExp(`EINVAL at offset ${image.length}: trailing bytes`)],
    ];
    for (const [path, why] of cases) {
      const r = cli(impl, 'verify', path);
      expect(r.code, path).toBe(1);
      expect(r.err.trim().split('\n').length).toBe(1);
      expect(r.err).toMatch(why);
    }
  });

  it('inspect of an invalid image prints what it read, then the reason, exit 1', () => {
    const r = cli(impl, 'inspect', badCrc);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/OBJREF\s+24/);
    expect(r.out).toMatch(/INVALID: EBADMSG/);
  });

  it('dump lists every record with offsets, decoding OBJREF, STRING and BUFFER', () => {
    const W = defineObjType<object>({
      name: 'w',
      checkpoint: (ctx) => {
        ctx.writeString('hello, world');
        ctx.writeBuffer(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
        ctx.begin(300).u32(7).end();
      },
    });
    const p = join(dir, 'w.img');
    writeFileSync(p, checkpoint({}, W, { types: [W] }));
    const r = cli(impl, 'dump', p);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.map((l) => l.trim().split(/\s+/)[1])).toEqual(['HEADER', 'OBJREF', 'STRING', 'BUFFER', 'USER(300)', 'TAIL']);
    expect(r.out).toMatch(/objref 1 w \(objtype 1\)/);
    expect(r.out).toMatch(/"hello, world"/);
    expect(r.out).toMatch(/de ad be ef/);
    expect(r.out).toMatch(/07 00 00 00/);
    expect(r.out).toMatch(/\(checked\)/);

    const j = cli(impl, 'dump', '--json', good);
    expect(j.code).toBe(0);
    const objs = j.out.trim().split('\n').map((l) => JSON.parse(l) as { offset: number; name: string; objref?: number; typeName?: string });
    expect(objs.length).toBe(recs.length);
    expect(objs.map((o) => o.offset)).toEqual(recs.map((x) => x.offset));
    expect(objs.filter((o) => o.name === 'OBJREF').map((o) => o.objref)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(objs[1]!.typeName).toBe('task');
  });

  it('dump of a corrupt image prints the records before the damage, then the error', () => {
    const r = cli(impl, 'dump', truncated);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/OBJREF/);
    expect(r.err).toMatch(/EPIPE at offset \d+/);
    const j = cli(impl, 'dump', '--json', truncated);
    const last = JSON.parse(j.out.trim().split('\n').pop()!) as { error: string };
    expect(last.error).toBe('EPIPE');
  });

  it('an image with an ERROR record: verify and dump say the checkpoint failed', () => {
    const Bad = defineObjType<object>({
      name: 'bad',
      checkpoint: () => {
        throw new Error('no space left on device');
      },
    });
    let img: Uint8Array | undefined;
    try {
      checkpoint({}, Bad, { types: [Bad] });
    } catch (e) {
      img = (e as { image: Uint8Array }).image;
    }
    const p = join(dir, 'err.img');
    writeFileSync(p, img!);
    const v = cli(impl, 'verify', p);
    expect(v.code).toBe(1);
    expect(v.err).toMatch(/EIO .*no space left on device/);
    const d = cli(impl, 'dump', p);
    expect(d.out).toMatch(/ERROR\s+len \d+\s+checkpoint failed: no space left on device/);
    expect(recs.some((x) => x.type === REC.ERROR)).toBe(false);
  });

  it('dump streams a large image with bounded memory', () => {
    const p = join(dir, 'big.img');
    const Blob = defineObjType<number>({
      name: 'blob',
      checkpoint: (ctx, n) => {
        const chunk = new Uint8Array(1 << 20).fill(n);
        for (let i = 0; i < 24; i++) ctx.writeBuffer(chunk);
      },
    });
    checkpointToFile(p, 7, Blob, { types: [Blob] });
    const r = spawnSync(process.execPath, ['--max-old-space-size=16', bin, 'dump', p], {
      encoding: 'utf8',
      env: { ...process.env, OBJHASH_IMPL: impl },
      maxBuffer: 1 << 24,
    });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.includes('BUFFER')).length).toBe(24);
    expect(readFileSync(p).length).toBeGreaterThan(24 << 20);
  });

  it('--help for every command, usage errors exit 2, a missing file exits 1', () => {
    for (const c of ['inspect', 'verify', 'dump', 'demo', 'bench']) {
      const r = cli(impl, c, '--help');
      expect(r.code, c).toBe(0);
      expect(r.out).toMatch(new RegExp(`usage: objhash ${c}`));
    }
    expect(cli(impl, '--help').code).toBe(0);
    const u = cli(impl, 'frobnicate');
    expect(u.code).toBe(2);
    expect(u.err.trim()).toBe("objhash: unknown command 'frobnicate' (objhash --help)");
    expect(cli(impl, 'verify').code).toBe(2);
    expect(cli(impl, 'dump', good, '--yaml').code).toBe(2);
    const m = cli(impl, 'verify', join(dir, 'nope.img'));
    expect(m.code).toBe(1);
    expect(m.err.trim().split('\n').length).toBe(1);
    expect(m.err).toMatch(/no such file/);
  });

  it('objhash demo runs the demo', () => {
    const r = cli(impl, 'demo');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/all checks passed/);
    expect(r.out).toMatch(new RegExp(`backend: ${impl}`));
  });
});
