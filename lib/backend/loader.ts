/**
 * Picks the backend, as bufferutil's index.js does: the native addon when
 * it loads, else the pure-JS twin.  `OBJHASH_IMPL=native` forces the addon
 * (and fails loudly when it cannot load), `OBJHASH_IMPL=js` forces the twin.
 */
import type { Backend } from './contract.js';
import type { Crc32c } from '../image/format.js';
import { ObjHashError } from '../errors.js';
import { jsBackend } from '../js/adapter.js';

export type ImplName = 'native' | 'js';

let native: Backend | undefined;
let nativeError: Error | undefined;
let tried = false;

function tryNative(): Backend | undefined {
  if (!tried) {
    tried = true;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const bindings = require('bindings') as (name: string) => Backend;
      // OBJHASH_ADDON=/path/to/objhash.node loads that build instead (the
      // ASan+UBSan addon of `npm run test:asan`)
      const addon = process.env.OBJHASH_ADDON;
      native = addon ? (require(require('node:path').resolve(addon)) as Backend) : bindings('objhash');
    } catch (err) {
      nativeError = err as Error;
    }
  }
  return native;
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
    throw new ObjHashError(
      'EINVAL',
      `objhash: the native addon could not be loaded (${nativeError?.message ?? 'unknown error'})`,
      undefined,
      { cause: nativeError },
    );
  }
  throw new ObjHashError('EINVAL', `objhash: impl must be 'native' or 'js' (got ${String(name)})`);
}

function pick(): Backend {
  const forced = process.env.OBJHASH_IMPL;
  if (forced === 'native' || forced === 'js') return getBackend(forced);
  if (forced !== undefined && forced !== '')
    throw new ObjHashError('EINVAL', `objhash: OBJHASH_IMPL must be 'native' or 'js' (got '${forced}')`);
  return tryNative() ?? jsBackend;
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
