import { describe, expectTypeOf, it } from 'vitest';
import { ObjHash, defineObjType, type CheckpointContext, type ObjOf, type RestartContext } from '../lib/index.js';
import { IMPLS } from './helpers.js';

interface File {
  path: string;
}

describe.each(IMPLS)('typed API (%s)', (impl) => {
  it('objFetch(ref, FileType) and fetch(ref, FileType) are typed by the ObjType', () => {
    const FileT = defineObjType<File>({
      name: 'file',
      checkpoint: (ctx, f) => {
        expectTypeOf(ctx).toEqualTypeOf<CheckpointContext>();
        expectTypeOf(f).toEqualTypeOf<File>();
      },
      restore: (ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<RestartContext>();
        expectTypeOf(ctx.objFetch(1, FileT)).toEqualTypeOf<File>();
        return { path: 'x' };
      },
    });
    expectTypeOf<ObjOf<typeof FileT>>().toEqualTypeOf<File>();
    const h = new ObjHash({ impl });
    const f = { path: '/etc/passwd' };
    h.lookupAdd(f, FileT);
    const got = h.fetch(1, FileT);
    expectTypeOf(got).toEqualTypeOf<File>();
    // lookup, lookupAdd and insert take the type's objects or a numeric key
    expectTypeOf(h.lookup(f, FileT)).toEqualTypeOf<number>();
    h.lookupAdd(0x7f0000001000, FileT);
    // @ts-expect-error: an object of another type is refused at compile time
    expectTypeOf(h.lookupAdd({ pid: 1 }, FileT)).toEqualTypeOf<{ objref: number; first: boolean }>();
    h.free();
  });
});
