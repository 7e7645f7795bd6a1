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
    h.free();
  });
});
