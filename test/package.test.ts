/**
 * The package as a user gets it (issue #12): `npm pack` (prepack: build +
 * prebuild), then the tarball installed into a throwaway consumer project
 * and used from there: the prebuilt addon, the pure-JS fallback and its one
 * line, the exports map (CJS, ESM, types, no deep imports), the CLI, and
 * what the tarball holds.  It runs ONCE, not per backend: it is about
 * packaging, not about a backend (the backend it checks is the one the
 * installed package picks by itself).  linux-x64 only (the prebuild made
 * here is for this machine); skipped in the JS-only pass (OBJHASH_IMPL=js).
 *
 * Note: `npm pack` runs `npm run build` in the repository, so dist/ is
 * rewritten while this file runs.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const typeRoots = join(root, 'node_modules', '@types');

const skipReason =
  process.platform !== 'linux' || process.arch !== 'x64'
    ? `the packaging test runs on linux-x64 only (this is ${process.platform}-${process.arch})`
    : process.env.OBJHASH_IMPL === 'js'
      ? 'OBJHASH_IMPL=js: the JS-only pass does not pack the addon'
      : process.env.OBJHASH_ADDON !== undefined
        ? 'OBJHASH_ADDON is set (the sanitizer pass): packaging is tested in the normal pass'
        : undefined;

const PACK_TIMEOUT = 300_000;
const INSTALL_TIMEOUT = 120_000;
const RUN_TIMEOUT = 60_000;

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** The environment of every child: this one without npm's and objhash's variables (an `npm test` parent sets npm_*). */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|OBJHASH_)/i.test(k) || k === 'INIT_CWD' || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = RUN_TIMEOUT): Run {
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Lines of s, without the empty ones. */
const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

/** A file named `name` on the PATH, with its links resolved. */
function onPath(name: string): string {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(d, name);
    if (d !== '' && existsSync(p)) return realpathSync(p);
  }
  throw new Error(`${name} is not on the PATH`);
}

(skipReason === undefined ? describe : describe.skip)(
  `the npm package${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    // made in beforeAll: a skipped describe still runs this callback (to collect its tests)
    let tmp = '';
    beforeAll(() => void (tmp = mkdtempSync(join(tmpdir(), 'objhash-package-'))));
    afterAll(() => void (tmp && rmSync(tmp, { recursive: true, force: true })));
    let tgz = '';

    /**
     * A PATH with no compiler, make or python: a directory holding links to
     * node, npm, npx and sh only (what npm needs to install and to run a
     * package's scripts and bins).
     */
    let envNoCompiler: NodeJS.ProcessEnv = {};
    function makeBin(): void {
      const bin = join(tmp, 'bin');
      if (existsSync(bin)) return;
      mkdirSync(bin);
      symlinkSync(process.execPath, join(bin, 'node'));
      symlinkSync(onPath('npm'), join(bin, 'npm')); // npm-cli.js (#!/usr/bin/env node)
      symlinkSync(onPath('npx'), join(bin, 'npx'));
      symlinkSync(realpathSync('/bin/sh'), join(bin, 'sh'));
      envNoCompiler = baseEnv({ PATH: bin });
      // really no toolchain: dash's `command -v` finds none of them
      const r = run('sh', ['-c', 'command -v cc gcc c++ g++ clang make python3 python'], tmp, envNoCompiler);
      expect(r.out, 'a compiler is reachable from the test PATH').toBe('');
    }

    /** A fresh consumer project (CommonJS) in tmp/name. */
    function consumer(name: string, extra: object = {}): string {
      const dir = join(tmp, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, version: '1.0.0', private: true, type: 'commonjs', ...extra }, null, 2));
      return dir;
    }

    function install(dir: string, flags: string[], env: NodeJS.ProcessEnv): Run {
      expect(tgz, 'npm pack made no tarball').not.toBe('');
      const r = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...flags, tgz], dir, env, INSTALL_TIMEOUT);
      expect(r.code, `npm install ${flags.join(' ')} failed:\n${r.out}${r.err}`).toBe(0);
      return r;
    }

    /** node -e in dir (CommonJS unless `node` says otherwise). */
    const node = (dir: string, code: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []) =>
      run('node', [...nodeArgs, '-e', code], dir, env);
    const IMPL = "console.log(require('objhash').impl)";

    it('npm pack runs prepack (build + prebuild) and leaves one tarball, and postpack removes prebuilds/', { timeout: PACK_TIMEOUT }, () => {
      const dest = join(tmp, 'pack');
      mkdirSync(dest);
      const r = run('npm', ['pack', '--pack-destination', dest], root, baseEnv(), PACK_TIMEOUT);
      expect(r.code, `npm pack failed:\n${r.out}${r.err}`).toBe(0);
      const found = readdirSync(dest).filter((f) => f.endsWith('.tgz'));
      expect(found).toHaveLength(1);
      tgz = join(dest, found[0]!);
      expect(r.err).toMatch(/objhash prebuild: prebuilds\/linux-x64\/objhash\.napi\.glibc\.node/);
      expect(existsSync(join(root, 'prebuilds')), 'postpack left prebuilds/ in the repository').toBe(false);
    });

    it('what ships: LICENSE, README, docs, the prebuild, the ESM entry; no bench, source maps or tests', () => {
      expect(tgz).not.toBe('');
      const r = run('tar', ['-tzf', tgz], tmp, baseEnv());
      expect(r.code, r.err).toBe(0);
      const files = lines(r.out).map((f) => f.replace(/^package\//, ''));
      for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/esm/index.mjs', 'dist/esm/promises.mjs', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'bin/objhash.js', 'scripts/install.js'])
        expect(files, f).toContain(f);
      expect(files.some((f) => f.startsWith('docs/') && f.endsWith('.md')), 'docs/').toBe(true);
      expect(files.filter((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f)), 'prebuilds/linux-x64/*.node').not.toHaveLength(0);
      expect(files.filter((f) => f.startsWith('dist/bench/') || f.startsWith('bench/')), 'the benchmark').toEqual([]);
      expect(files.filter((f) => f.endsWith('.map')), 'source maps').toEqual([]);
      expect(files.filter((f) => f.startsWith('test/') || f.startsWith('dist/test/')), 'tests').toEqual([]);
      expect(files.filter((f) => f.startsWith('build/')), 'a local build').toEqual([]);
    });

    it('install scripts blocked (as pnpm 10 and Bun do) and no compiler: the prebuild loads, nothing is compiled', { timeout: INSTALL_TIMEOUT }, () => {
      makeBin();
      const dir = consumer('noscripts');
      install(dir, ['--ignore-scripts'], envNoCompiler);
      const r = node(dir, IMPL, envNoCompiler);
      expect(r, r.err).toEqual({ code: 0, out: 'native\n', err: '' });
      expect(existsSync(join(dir, 'node_modules', 'objhash', 'build')), 'build/').toBe(false);
      expect(existsSync(join(dir, 'node_modules', 'objhash', 'build-native.log')), 'build-native.log').toBe(false);
    });

    // the consumer of the remaining tests: an ordinary install, the install script allowed
    let app = '';
    it('install with scripts allowed: the install script runs, finds the prebuild, builds nothing', { timeout: INSTALL_TIMEOUT }, () => {
      makeBin();
      // npm 11's allowScripts (a file: dependency is approved by its spec); older npm ignores the field
      app = consumer('app', { allowScripts: { objhash: true, [`file:${tgz}`]: true } });
      // no compiler on the PATH either: had the script tried to build, build-native.log would say so
      const r = install(app, ['--foreground-scripts'], envNoCompiler);
      expect(r.out, 'the install script did not run').toMatch(/> objhash@[^ ]+ install\n> node scripts\/install\.js/);
      expect(existsSync(join(app, 'node_modules', 'objhash', 'build')), 'build/').toBe(false);
      expect(existsSync(join(app, 'node_modules', 'objhash', 'build-native.log')), 'build-native.log').toBe(false);
      expect(node(app, IMPL, envNoCompiler)).toEqual({ code: 0, out: 'native\n', err: '' });
    });

    let fallback = '';
    it('no prebuild and no build: the pure-JS twin, with one line on stderr; OBJHASH_IMPL=js is silent', { timeout: INSTALL_TIMEOUT }, () => {
      makeBin();
      fallback = consumer('fallback');
      install(fallback, ['--ignore-scripts'], envNoCompiler);
      rmSync(join(fallback, 'node_modules', 'objhash', 'prebuilds'), { recursive: true });
      const r = node(fallback, IMPL, envNoCompiler);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe('js\n');
      expect(lines(r.err), r.err).toHaveLength(1);
      expect(r.err).toMatch(/the native addon is not available/);
      expect(r.err).toContain('npm rebuild objhash');
      // the notice comes once per process, not once per module that loads the backend
      const twice = node(fallback, "require('objhash'); require('objhash/promises'); console.log(require('objhash').impl)", envNoCompiler);
      expect(lines(twice.err), twice.err).toHaveLength(1);
      expect(node(fallback, IMPL, { ...envNoCompiler, OBJHASH_IMPL: 'js' })).toEqual({ code: 0, out: 'js\n', err: '' });
    });

    it('no prebuild and no build, OBJHASH_IMPL=native: the process fails, saying why', () => {
      expect(fallback).not.toBe('');
      const r = node(fallback, IMPL, { ...envNoCompiler, OBJHASH_IMPL: 'native' });
      expect(r.code).not.toBe(0);
      expect(r.out).toBe('');
      expect(r.err).toContain('not available');
      expect(r.err).toMatch(/^ObjHashError: objhash: the native addon is not available: .*OBJHASH_IMPL=native/m);
      // no fallback notice: the user asked for the addon
      expect(r.err).not.toContain('Using the pure-JS backend');
    });

    // thrown while `require('objhash')` loads, it is printed uncaught: the
    // loader gives it no stack of its own frames, so the reason is what shows
    it('no prebuild and no build, OBJHASH_IMPL=native: the message is short (fewer than 10 lines)', () => {
      expect(fallback).not.toBe('');
      const r = node(fallback, IMPL, { ...envNoCompiler, OBJHASH_IMPL: 'native' });
      expect(r.code).not.toBe(0);
      expect(r.err).toContain('not available');
      expect(lines(r.err).length, r.err).toBeLessThan(10);
    });

    it('CommonJS: require(objhash) and require(objhash/promises) work; deep imports are refused', () => {
      expect(app).not.toBe('');
      const code = `
        const assert = require('node:assert');
        const o = require('objhash');
        const p = require('objhash/promises');
        assert.strictEqual(typeof o.checkpoint, 'function');
        assert.strictEqual(typeof o.defineObjType, 'function');
        assert.strictEqual(typeof p.checkpointToFile, 'function');
        assert.strictEqual(typeof p.restartFromFile, 'function');
        const shared = { n: 1 };
        const back = o.restart(o.checkpoint({ a: shared, b: shared, s: 'x', l: [1, 2n] }));
        assert.strictEqual(back.a, back.b);
        assert.deepStrictEqual(back, { a: { n: 1 }, b: { n: 1 }, s: 'x', l: [1, 2n] });
        assert.strictEqual(require('objhash/package.json').name, 'objhash');
        let code = 'loaded';
        try { require('objhash/dist/lib/index.js'); } catch (e) { code = e.code; }
        console.log(o.impl, code);
      `;
      expect(node(app, code, envNoCompiler)).toEqual({ code: 0, out: 'native ERR_PACKAGE_PATH_NOT_EXPORTED\n', err: '' });
    });

    it('ESM: import from objhash and objhash/promises round-trips a value; deep imports are refused', () => {
      expect(app).not.toBe('');
      const file = join(tmp, 'esm.objhash');
      const code = `
        import assert from 'node:assert';
        import { checkpoint, restart, restartFromFile, impl } from 'objhash';
        import { checkpointToFile } from 'objhash/promises';
        import objhash from 'objhash';
        assert.strictEqual(objhash.checkpoint, checkpoint);
        const shared = [1, 'two', { three: 3 }];
        const value = { x: shared, y: shared, m: new Map([['k', shared]]) };
        const back = restart(checkpoint(value));
        assert.deepStrictEqual(back, value);
        assert.strictEqual(back.x, back.y);
        assert.strictEqual(back.m.get('k'), back.x);
        const r = await checkpointToFile(${JSON.stringify(file)}, value);
        assert.ok(r.bytes > 0);
        assert.deepStrictEqual(restartFromFile(${JSON.stringify(file)}), value);
        let code = 'loaded';
        try { await import('objhash/dist/lib/index.js'); } catch (e) { code = e.code; }
        console.log(impl, code);
      `;
      expect(node(app, code, envNoCompiler, ['--input-type=module'])).toEqual({ code: 0, out: 'native ERR_PACKAGE_PATH_NOT_EXPORTED\n', err: '' });
    });

    it('TypeScript: a CommonJS .ts and an ESM .mts consumer compile under --strict (and stricter) with node16 resolution, and one with node10', { timeout: INSTALL_TIMEOUT }, () => {
      expect(app).not.toBe('');
      const src = (promises: string) => `
import { checkpoint, defineObjType, list, opt, restart, ObjHash, ObjHashError, impl, type ObjType, type LookupAddResult } from 'objhash';
import { checkpointToFile } from '${promises}';

interface Author { name: string }
interface Book { title: string; author: Author }
const REC_AUTHOR = 101, REC_BOOK = 102;
const AuthorT: ObjType<Author> = defineObjType<Author>({
  name: 'author',
  checkpoint: (ctx, a) => void ctx.begin(REC_AUTHOR).str(a.name).end(),
  restore: (ctx) => (ctx.readRecord(REC_AUTHOR), { name: ctx.str() }),
});
const BookT = defineObjType<Book>({
  name: 'book',
  checkpoint(ctx, b) {
    const author = ctx.checkpointObj(b.author, AuthorT);
    ctx.begin(REC_BOOK).str(b.title).i32(author).end();
  },
  restore(ctx) {
    ctx.readRecord(REC_BOOK);
    const title = ctx.str();
    return { title, author: ctx.objFetch(ctx.i32(), AuthorT) };
  },
});
const le: Author = { name: 'Le Guin' };
const image: Uint8Array = checkpoint({ title: 'The Dispossessed', author: le }, BookT, { types: [AuthorT] });
const back: Book = restart(image, BookT, { types: [AuthorT] });
export const author: string = back.author.name;
// @ts-expect-error: restart(image, BookT) is a Book, which has no pages (fails if the types were any)
export const pages: number = back.pages;
export const plain: unknown = restart(checkpoint({ a: [1, 2, 3] }));
const h = new ObjHash({ nbits: 4 });
const r: LookupAddResult = h.lookupAdd(le, AuthorT);
export const objref: number = r.objref, first: boolean = r.first;
// @ts-expect-error: lookupAdd takes the type's object (or a numeric key), not a string
h.lookupAdd('le', AuthorT);
h.free();
export const which: 'native' | 'js' = impl;
export async function save(path: string): Promise<number> {
  const res = await checkpointToFile(path, back, BookT, { types: [AuthorT] });
  return res.bytes + res.objects;
}
export const isObjHashError = (e: unknown): boolean => e instanceof ObjHashError && typeof e.code === 'string';
// fields checked against T, and T inferred from fields
interface Point { x: number; y: number; label?: string }
export const PointT = defineObjType<Point>({ name: 'point', fields: { x: 'f64', y: 'f64', label: opt('vstr') } });
// @ts-expect-error: x is a number, 'str' writes strings
defineObjType<Point>({ name: 'point2', fields: { x: 'str', y: 'f64' } });
export const Inferred = defineObjType({ name: 'inferred', fields: { n: 'uv', tags: list('vstr') } });
export const tags: string[] = restart(checkpoint({ n: 1, tags: [] }, Inferred), Inferred).tags;
export const anyTypes: ObjType[] = [PointT, Inferred, BookT];
// an option forwarded as possibly undefined (exactOptionalPropertyTypes)
export function withImpl(i: 'native' | 'js' | undefined): Uint8Array {
  return checkpoint({ a: 1 }, undefined, { impl: i, maxObjects: undefined });
}
`;
      writeFileSync(join(app, 'consumer.ts'), src('objhash/promises'));
      writeFileSync(join(app, 'consumer.mts'), src('objhash/promises'));
      for (const [file, entry] of [
        ['consumer.ts', 'dist/lib/index.d.ts'],
        ['consumer.mts', 'dist/esm/index.d.mts'],
      ] as const) {
        // the strictest settings a consumer may have, the package's own .d.ts checked too
        const args = [tsc, '--strict', '--exactOptionalPropertyTypes', '--noUncheckedIndexedAccess', '--esModuleInterop', 'false', '--allowSyntheticDefaultImports', 'false', '--skipLibCheck', 'false', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', '--typeRoots', typeRoots];
        const r = run('node', [...args, '--traceResolution', file], app, envNoCompiler, INSTALL_TIMEOUT);
        const errors = lines(r.out).filter((l) => /error TS\d+/.test(l));
        expect(errors, `${file}:\n${errors.join('\n')}`).toEqual([]);
        expect(r.code, `${file}: tsc exited with ${r.code}\n${r.err}`).toBe(0);
        // resolved through the exports map's condition for this kind of module
        const resolved = (spec: string) =>
          new RegExp(`Module name '${spec}' was successfully resolved to '[^']*/node_modules/objhash/([^']+)'`).exec(r.out)?.[1];
        expect(resolved('objhash'), file).toBe(entry);
        expect(resolved('objhash/promises'), file).toBe(entry.replace('index', 'promises'));
      }
      // node10 resolution (no exports map): the root by "types", objhash/promises by "typesVersions"
      writeFileSync(join(app, 'consumer10.ts'), src('objhash/promises'));
      const r10 = run('node', [tsc, '--strict', '--noEmit', '--target', 'es2022', '--module', 'commonjs', '--moduleResolution', 'node10', '--types', 'node', '--typeRoots', typeRoots, '--traceResolution', 'consumer10.ts'], app, envNoCompiler, INSTALL_TIMEOUT);
      const errors10 = lines(r10.out).filter((l) => /error TS\d+/.test(l));
      expect(errors10, `consumer10.ts:\n${errors10.join('\n')}`).toEqual([]);
      expect(r10.out).toMatch(/Module name 'objhash\/promises' was successfully resolved to '[^']*\/node_modules\/objhash\/dist\/lib\/promises\.d\.ts'/);
    });

    it('the CLI: --help, inspect and verify an image written by the package, bench refused in one line', () => {
      expect(app).not.toBe('');
      const file = join(tmp, 'cli.objhash');
      const w = node(app, `console.log(require('objhash').checkpointToFile(${JSON.stringify(file)}, { a: [1, 2, 3], s: 'x' }).bytes)`, envNoCompiler);
      expect(w.code, w.err).toBe(0);
      // --no: never fetch a package called objhash from the registry
      const npx = (...args: string[]) => run('npx', ['--no', '--', 'objhash', ...args], app, envNoCompiler);
      const help = npx('--help');
      expect(help.code, help.err).toBe(0);
      expect(help.out).toMatch(/^usage: objhash/);
      for (const cmd of ['inspect', 'verify']) {
        const r = npx(cmd, file);
        expect(r.code, `${cmd}: ${r.err}`).toBe(0);
        expect(r.out, cmd).toMatch(/\bvalid\b/);
        expect(r.out, cmd).not.toMatch(/invalid/i);
        expect(r.err, cmd).toBe('');
      }
      const bench = npx('bench');
      expect(bench.code).not.toBe(0);
      expect(lines(bench.err), bench.err).toHaveLength(1);
      expect(bench.err).toMatch(/the benchmark is not part of the installed package/);
    });

    it('prints the installed size and the number of packages', () => {
      expect(app).not.toBe('');
      const nm = join(app, 'node_modules');
      const du = run('du', ['-sk', nm], tmp, baseEnv());
      expect(du.code, du.err).toBe(0);
      const kib = Number(du.out.split('\t')[0]);
      expect(kib).toBeGreaterThan(0);
      const pkgs: string[] = [];
      for (const d of readdirSync(nm, { withFileTypes: true })) {
        if (!d.isDirectory() || d.name.startsWith('.')) continue;
        if (d.name.startsWith('@')) for (const s of readdirSync(join(nm, d.name))) pkgs.push(`${d.name}/${s}`);
        else pkgs.push(d.name);
      }
      expect(pkgs).toContain('objhash');
      console.log(`package: installed size ${kib} KiB, ${pkgs.length} packages (${pkgs.sort().join(', ')})`);
    });
  },
);
