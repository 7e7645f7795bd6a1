import { describe, expect, expectTypeOf, it } from 'vitest';
import { ObjHash, defineObjType, list, opt, ref, refs, type CheckpointContext, type ObjOf, type ObjType, type RestartContext } from '../lib/index.js';
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
    // a numeric key alone adds an entry that holds no object (fetch gives the key back):
    // only a type whose T holds such keys takes one in lookupAdd and insert
    // @ts-expect-error: FileT's objects are Files, not numbers
    expect(() => h.lookupAdd(0x7f0000001000, FileT)).not.toThrow();
    expectTypeOf(h.lookup(0x7f0000001000, FileT)).toEqualTypeOf<number>();
    const PageT = defineObjType<number | bigint>({ name: 'page' });
    h.lookupAdd(0x7f0000002000, PageT);
    h.lookupAdd(0x7f0000003000n, PageT);
    expectTypeOf(h.fetch(3, PageT)).toEqualTypeOf<number | bigint>();
    // @ts-expect-error: an object of another type is refused at compile time
    expectTypeOf(h.lookupAdd({ pid: 1 }, FileT)).toEqualTypeOf<{ objref: number; first: boolean }>();
    h.free();
  });
});

/*
 * Compile-time checks of `fields` against T (tsc -p tsconfig.test.json runs
 * in npm test: an @ts-expect-error that is not an error fails it).  The
 * declarations live in a function that only the type checker reads.
 */
interface TFile {
  path: string;
  inode: number;
}
interface TTask {
  pid: number;
  name: string;
  note?: string;
  files: TFile[];
  parent: TTask | null;
  owner?: TTask;
}
export function fieldsTypeChecks(): void {
  const FileT = defineObjType<TFile>({ name: 'x-file', fields: { path: 'str', inode: 'uv' } });
  const TaskT: ObjType<TTask> = defineObjType<TTask>({
    name: 'x-task',
    // every required property, optional ones may be left out or given with opt()
    fields: { pid: 'uv', name: 'vstr', note: opt('str'), files: refs(FileT), parent: ref(() => TaskT) },
  });
  defineObjType<TTask>({
    name: 'x-task1',
    // @ts-expect-error pid is a number: 'str' writes strings
    fields: { pid: 'str', name: 'str', files: refs(FileT), parent: ref(() => TaskT) },
  });
  defineObjType<TTask>({
    name: 'x-task2',
    // @ts-expect-error files holds Files, not Tasks
    fields: { pid: 'uv', name: 'str', files: refs(() => TaskT), parent: ref(() => TaskT) },
  });
  defineObjType<TTask>({
    name: 'x-task3',
    // @ts-expect-error parent is one Task: refs() is an array
    fields: { pid: 'uv', name: 'str', files: refs(FileT), parent: refs(() => TaskT) },
  });
  defineObjType<TTask>({
    name: 'x-task4',
    // @ts-expect-error name, files and parent are missing
    fields: { pid: 'uv' },
  });
  defineObjType<TTask>({
    name: 'x-task5',
    // @ts-expect-error no property 'nope' in TTask
    fields: { pid: 'uv', name: 'str', files: refs(FileT), parent: ref(() => TaskT), nope: 'u8' },
  });
  defineObjType<TTask>({
    name: 'x-task6',
    // @ts-expect-error owner may be undefined, which ref() refuses: opt(ref(T))
    fields: { pid: 'uv', name: 'str', files: refs(FileT), parent: ref(() => TaskT), owner: ref(() => TaskT) },
  });
  defineObjType<TTask>({ name: 'x-task7', fields: { pid: 'uv', name: 'str', files: refs(FileT), parent: ref(() => TaskT), owner: opt(ref(() => TaskT)) } });
  // @ts-expect-error list('u8') restores numbers, not strings
  defineObjType<{ tags: string[] }>({ name: 'x-list', fields: { tags: list('u8') } });
  defineObjType<{ tags: string[][] }>({ name: 'x-list2', fields: { tags: list(list('vstr')) } });
  // @ts-expect-error a default of the wrong type
  defineObjType<{ n: number }>({ name: 'x-default', fields: { n: { kind: 'uv', default: 'zero' } } });
  defineObjType<{ n: number }>({ name: 'x-default2', fields: { n: { kind: 'uv', default: 0 } } });
  // @ts-expect-error s is never null or undefined: opt() is for a property that may be
  defineObjType<{ s: string }>({ name: 'x-opt', fields: { s: opt('str') } });
  // @ts-expect-error u64 restores a bigint, not a number
  defineObjType<{ n: number }>({ name: 'x-u64', fields: { n: 'u64' } });
  // 'value' holds anything; literal unions and enums take the kinds of their base type
  defineObjType<{ meta: Record<string, number[]>; kind: 0 | 1 | 2; flag: true }>({ name: 'x-value', fields: { meta: 'value', kind: 'u8', flag: 'bool' } });
  // @ts-expect-error give either fields or checkpoint/restore, not both
  defineObjType<TFile>({ name: 'x-both', fields: { path: 'str', inode: 'uv' }, checkpoint: () => {}, restore: () => ({ path: '', inode: 0 }) });
  // @ts-expect-error create goes with fields
  defineObjType<TFile>({ name: 'x-create', create: () => ({ path: '', inode: 0 }) });
  // a ref(Sub) fits a property of the base type
  interface Base {
    a: number;
  }
  interface Sub extends Base {
    b: string;
  }
  const SubT = defineObjType<Sub>({ name: 'x-sub', fields: { a: 'f64', b: 'str' } });
  defineObjType<{ one: Base | null; many: Base[] }>({ name: 'x-base', fields: { one: ref(SubT), many: refs(SubT) } });
  // with no T, the type is what the fields describe
  const Point = defineObjType({ name: 'x-point', fields: { x: 'f64', y: 'f64', label: opt('str'), tags: list('vstr') } });
  expectTypeOf<ObjOf<typeof Point>>().toEqualTypeOf<{ x: number; y: number; label: string | null | undefined; tags: string[] }>();
  // and any ObjType fits the bare ObjType
  const all: ObjType[] = [FileT, TaskT, Point];
  void all;
}

describe('fields checked against T (compile time)', () => {
  it('the checks above compile as annotated (tsc), and the calls refused at compile time are refused at run time too', () => {
    expect(typeof fieldsTypeChecks).toBe('function');
    const loose = defineObjType as (ops: unknown) => unknown;
    expect(() => loose({ name: 'r-both', fields: { a: 'uv' }, checkpoint: () => {}, restore: () => ({}) })).toThrow(/give either fields or checkpoint\/restore/);
    expect(() => loose({ name: 'r-create', create: () => ({}) })).toThrow(/ops.create goes with ops.fields/);
  });
});
