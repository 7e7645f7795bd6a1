/**
 * Picks the backend, as bufferutil's index.js and node-gyp-build do: the
 * prebuilt addon shipped in the package, else a local build, else the
 * pure-JS twin (with one line on stderr saying why).  `OBJHASH_IMPL=native`
 * forces the addon (and fails with that same short reason when it cannot
 * load), `OBJHASH_IMPL=js` forces the twin.
 */
import type { Backend } from './contract.js';
import type { Crc32c } from '../image/format.js';
import { ObjHashError } from '../errors.js';
import { jsBackend } from '../js/adapter.js';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type ImplName = 'native' | 'js';

let native: Backend | undefined;
let nativeError: Error | undefined;
let tried = false;

/** The package's root (dist/lib/backend/ -> three levels up). */
const ROOT = join(__dirname, '..', '..', '..');

/** libc of this Linux ('glibc' or 'musl'), as prebuildify tags its files: musl's loader is /lib/ld-musl-<arch>.so.1. */
function libc(): string {
  if (process.platform !== 'linux') return '';
  try {
    return readdirSync('/lib').some((f) => f.startsWith('ld-musl-')) ? 'musl' : 'glibc';
  } catch {
    return 'glibc';
  }
}

/**
 * The prebuilt addon shipped in the package for this platform, if any:
 * prebuilds/<platform>-<arch>/objhash.napi[.<libc>].node (prebuildify's
 * layout; Node-API is ABI-stable, so one file serves every Node line).
 */
export function prebuildPath(): string | undefined {
  const dir = join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const tag = libc();
  for (const f of tag ? [`objhash.napi.${tag}.node`, 'objhash.napi.node'] : ['objhash.napi.node']) {
    const p = join(dir, f);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The locally built addon (npm install / npm rebuild), if any. */
function localBuildPath(): string | undefined {
  for (const d of ['Release', 'Debug']) {
    const p = join(ROOT, 'build', d, 'objhash.node');
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Where the install script leaves the log of a failed build. */
export const BUILD_LOG = join(ROOT, 'build-native.log');

function tryNative(): Backend | undefined {
  if (!tried) {
    tried = true;
    // OBJHASH_ADDON=/path/to/objhash.node loads that build instead (the
    // ASan+UBSan addon of `npm run test:asan`); else the prebuilt addon
    // shipped in the package, else a local build (found with `bindings`
    // when it is elsewhere than build/Release)
    const forced = process.env.OBJHASH_ADDON;
    const candidates = forced ? [resolve(forced)] : [prebuildPath(), localBuildPath()].filter((p): p is string => p !== undefined);
    const errors: string[] = [];
    for (const p of candidates) {
      try {
        native = require(p) as Backend;
        return native;
      } catch (err) {
        nativeError ??= err as Error;
        errors.push(`${p}: ${firstLine(err)}`);
      }
    }
    if (forced === undefined && candidates.length === 0) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        native = (require('bindings') as (name: string) => Backend)('objhash');
        return native;
      } catch {
        // bindings lists every path it tried: the short reason below says it
      }
    }
    const why =
      errors.length > 0
        ? `it did not load (${errors.join('; ')})`
        : `no prebuilt addon for ${process.platform}-${process.arch}${libc() ? ` (${libc()})` : ''} and no local build`;
    nativeError = new Error(`objhash: the native addon is not available: ${why}`, nativeError === undefined ? undefined : { cause: nativeError });
  }
  return native;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/**
 * The one line printed (once per process, on stderr) when objhash falls
 * back to the pure-JS twin without being asked to: npm hides the install
 * script's output, so this is where a user learns it.
 */
function fallbackNotice(): string {
  const log = existsSync(BUILD_LOG) ? `; build log: ${BUILD_LOG}` : '';
  return `${nativeError?.message ?? 'objhash: the native addon is not available'}${log}. Using the pure-JS backend (same results, slower); \`npm rebuild objhash\` builds the addon (needs a C/C++ compiler), OBJHASH_IMPL=js silences this.\n`;
}

/** The error that kept the native addon from loading, if it did not. */
export function nativeLoadError(): Error | undefined {
  tryNative();
  return nativeError;
}

/** Whether the native addon is available in this process. */
export function nativeAvailable(): boolean {
  return tryNative() !== undefined;
}

/** A backend by name; throws ObjHashError if the native one cannot load. */
export function getBackend(name: ImplName): Backend {
  if (name === 'js') return jsBackend;
  if (name === 'native') {
    const b = tryNative();
    if (b) return b;
    const cause = nativeError?.cause;
    const e = new ObjHashError(
      'EINVAL',
      `${nativeError?.message ?? 'objhash: the native addon is not available'} (OBJHASH_IMPL=native or impl: 'native')`,
      undefined,
      cause === undefined ? undefined : { cause },
    );
    // the reason is the message: uncaught at require(), Node prints it
    // without a stack of loader frames or the error's fields
    e.stack = `${e.name}: ${e.message}`;
    for (const k of ['code', 'errno', 'offset']) Object.defineProperty(e, k, { enumerable: false });
    throw e;
  }
  // (no String() of what the caller passed: its toString may throw)
  const got = typeof name === 'string' ? JSON.stringify(name) : name === null ? 'null' : typeof name;
  throw new ObjHashError('EINVAL', `objhash: impl must be 'native' or 'js' (got ${got})`);
}

function pick(): Backend {
  const forced = process.env.OBJHASH_IMPL;
  if (forced === 'native' || forced === 'js') return getBackend(forced);
  if (forced !== undefined && forced !== '')
    throw new ObjHashError('EINVAL', `objhash: OBJHASH_IMPL must be 'native' or 'js' (got '${forced}')`);
  const b = tryNative();
  if (b !== undefined) return b;
  if (!process.env.OBJHASH_FALLBACK_NOTICED) {
    process.env.OBJHASH_FALLBACK_NOTICED = '1'; // once per process (workers inherit it)
    process.stderr.write(fallbackNotice());
  }
  return jsBackend;
}

/** The default backend, chosen once at load. */
export const defaultBackend: Backend = pick();

/**
 * The backend for an `impl` option: the default one when undefined.  The
 * one place (with pick()) where a backend is chosen.
 */
export function backendFor(impl: ImplName | undefined): Backend {
  return impl === undefined ? defaultBackend : getBackend(impl);
}

const crcs = new Map<Backend, Crc32c>();

/** The backend's CRC-32C as the image codec takes it (one function per backend). */
export function crc32cFor(b: Backend): Crc32c {
  let f = crcs.get(b);
  if (f === undefined) crcs.set(b, (f = (bytes, crc) => b.crc32c(bytes, crc)));
  return f;
}

/** Which implementation the default backend is: 'native' or 'js'. */
export const impl: ImplName = defaultBackend.name;
