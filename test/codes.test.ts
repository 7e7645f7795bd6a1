/**
 * One source for the error codes and limits: native/objhash.h (and the
 * binding's own limits in native/binding/binding.h).  lib/backend/codes.ts
 * is generated from the headers, the addon exports the same numbers, and
 * the twin exports codes.ts's: all three must agree, and a code is the
 * same number on every platform (objhash's own, never the host's errno).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRNO, LIMITS } from '../lib/backend/codes.js';
import type { CoreHandle } from '../lib/backend/contract.js';
import { getBackend } from '../lib/backend/loader.js';
import { IMPLS } from './helpers.js';

const root = join(__dirname, '..');

describe('lib/backend/codes.ts', () => {
  it('is what scripts/gen-codes.js writes from the headers (run npm run gen if not)', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'gen-codes.js'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it("holds objhash's fixed numbers (Linux's errno values, on every platform)", () => {
    expect(ERRNO).toEqual({
      EIO: 5,
      E2BIG: 7,
      EBADF: 9,
      ENOMEM: 12,
      EBUSY: 16,
      EEXIST: 17,
      EINVAL: 22,
      EPIPE: 32,
      ELOOP: 40,
      ENOMSG: 42,
      EBADMSG: 74,
    });
    expect(LIMITS.MAX_LOAD).toBe(1024);
    expect(LIMITS.MAX_TYPE_ID).toBe(0xffff);
  });
});

describe.each(IMPLS)('the %s backend', (impl) => {
  const b = getBackend(impl);

  it('exports exactly the codes and limits of codes.ts', () => {
    expect({ ...b.codes }).toStrictEqual({ ...ERRNO });
    expect({ ...b.limits }).toStrictEqual({ ...LIMITS });
  });

  it('reports a wrong-type fetch as -ENOMSG, 42', () => {
    const h = b.create(0, 0, 0, undefined, undefined) as CoreHandle;
    expect(b.add(h, 0, 1)).toBe(1);
    expect(b.fetch(h, 1, 2)).toBe(-ERRNO.ENOMSG);
    expect(b.fetch(h, 1, 2)).toBe(-42);
    expect(b.fetch(h, 2, 1)).toBe(-ERRNO.EINVAL);
    b.free(h);
    expect(b.fetch(h, 1, 1)).toBe(-ERRNO.EBADF);
  });
});
