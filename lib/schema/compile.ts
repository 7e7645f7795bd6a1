/**
 * The schema compiler: one writer and one reader per type, generated with
 * `new Function` as straight-line code (as avsc and fast-json-stringify
 * do).  For `{ kind: 'uv', flags: 'u32', text: opt('str') }` the writer is
 *
 *   w.uv(o.kind);
 *   w.u32(o.flags);
 *   { const v0 = o.text; if (v0 === undefined) w.u8(0); else if (v0 === null) w.u8(1); else { w.u8(2); w.str(v0); } }
 *
 * Direct calls on the concrete writer, one property read per field, per-
 * field constants (ref target types, defaults) hoisted into the closure,
 * no try/catch.  Each function has a traced twin (the same code with
 * `f = k` marks, list indices and a catch) that runs only to replay a
 * failed record and name the field at fault (runtime.ts).  Field names
 * reach the code only as validated identifiers (spec.ts); everything else
 * reaches it as a hoisted constant.
 *
 * Wire format of the kinds, inside a FIELDS record, fields in order:
 *   u8 ... blob     the payload writer of that name (u64/i64 read as bigint)
 *   bigint          runtime.ts: uv (bytes x 2 + sign), magnitude LE
 *   value           lib/values writeTagged / readTagged
 *   opt(k)          u8 presence: 0 undefined (or absent), 1 null, 2 then k
 *   ref(T)          uv objref, 0 for null
 *   refs(T), list(k) uv count, then the items (refs: uv objrefs, 0 null)
 */
import { ObjHashError } from '../errors.js';
import type { PayloadReader } from '../image/payload-reader.js';
import type { PayloadWriter } from '../image/payload-writer.js';
import type { RefReader, RefWriter } from '../walk/refs.js';
import { codegen } from '../util/codegen.js';
import { decodeSchema, encodeSchema } from './encoding.js';
import { atField, badRead, badValue, failedRead, failedWrite, own, readBigint, writeBigint, type FieldTable } from './runtime.js';
import { leafOf, parseFields, type FieldDesc, type RefKind, type Fields, type KindDesc, type SchemaDesc } from './spec.js';
import * as values from './values-adapter.js';
import type { ValueCodecState } from './values-adapter.js';

export type WriteFn = (w: PayloadWriter, obj: any, refs: RefWriter, state: ValueCodecState) => void;
export type ReadFn = (r: PayloadReader, obj: any, refs: RefReader, state: ValueCodecState) => void;

export interface CompiledSchema extends SchemaDesc {
  /** Writes obj's fields in order into the open record (EINVAL naming `type.field` and the value). */
  readonly write: WriteFn;
  /** Reads the fields into obj (created by the walker before this call). */
  readonly read: ReadFn;
  /** The schema as bytes for the image's type table (encoding.ts). */
  readonly encoded: Uint8Array;
  readonly fields: readonly FieldDesc[];
}

/** Validates the field list and compiles, once per call, a writer and a reader. */
export function compileSchema(typeName: string, fields: Fields): CompiledSchema {
  if (typeof typeName !== 'string' || typeName.length === 0)
    throw new ObjHashError('EINVAL', 'compileSchema: typeName must be a non-empty string');
  const given = parseFields(typeName, fields).map((f): FieldDesc =>
    f.hasDefault ? { name: f.name, kind: f.kind, hasDefault: true, default: cloneDefault(typeName, f) } : f,
  );
  const encoded = encodeSchema(typeName, given);
  // a recorded default as the field's reader gives it (5 for a u64 field: 5n)
  const recorded = decodeSchema(encoded, typeName).fields;
  const descs = given.map((f, i): FieldDesc => {
    const d = recorded[i]!;
    return f.hasDefault && d.hasDefault && Object.prototype.hasOwnProperty.call(d, 'default') ? { ...f, default: d.default } : f;
  });
  const table = fieldTable(typeName, descs);

  const write = compileWriter(table, (g) =>
    descs.map((fd, i) => g.at(i) + genWrite(g, fd.kind, `o.${fd.name}`, i, 0, JSON.stringify(fd.name))).join('\n'),
  );
  const read = compileReader(table, (g) =>
    descs
      .map((fd, i) => {
        const [pre, expr] = genRead(g, fd.kind, 'o', JSON.stringify(fd.name), i, 0, false);
        return `${g.at(i)}${pre}o.${fd.name} = ${expr};`;
      })
      .join('\n'),
  );

  return Object.freeze({ write, read, encoded, fields: Object.freeze(descs.map(freezeField)) });
}

function cloneDefault(typeName: string, f: FieldDesc): unknown {
  try {
    return structuredClone(f.default);
  } catch (e) {
    throw new ObjHashError('EINVAL', `type '${typeName}': field '${f.name}': the default cannot be cloned for each object (${(e as Error).message})`);
  }
}

function freezeField(f: FieldDesc): FieldDesc {
  return Object.freeze({ ...f, kind: freezeKind(f.kind) });
}

function freezeKind(k: KindDesc): KindDesc {
  return Object.freeze(k.k === 'opt' || k.k === 'list' ? { k: k.k, of: freezeKind(k.of) } : { ...k });
}

/** The error table of a function reading or writing `fields` (field index -> name, wrap, list depth). */
export function fieldTable(typeName: string, fields: readonly FieldDesc[]): FieldTable {
  const wrap: boolean[] = [];
  const lists: number[] = [];
  for (const f of fields) {
    const { leaf, lists: n } = leafOf(f.kind);
    wrap.push(leaf.k !== 'ref' && leaf.k !== 'refs' && leaf.k !== 'value');
    lists.push(n);
  }
  return Object.freeze({ typeName, names: Object.freeze(fields.map((f) => f.name)), wrap: Object.freeze(wrap), lists: Object.freeze(lists) });
}

/** What generated code may use, under these names. */
const HELPERS = {
  WB: writeBigint,
  RB: readBigint,
  OWN: own,
  BAD: badValue,
  BADR: badRead,
  AT: atField,
  CL: structuredClone,
};

/** A replayed write does not write 'value' fields (their codec has state). */
const NO_VALUES = {
  writeTagged() {},
  readTagged() {},
};

/**
 * Where the catch that replays a failure goes (measured, --single-threaded,
 * CPU time, against direct writer calls): around the body of a function
 * without loops, whose writer calls TurboFan then inlines whole; in a
 * small wrapper around one with loops, where a try around the loops
 * costs ~5% (inside the wrapper, a loop-free body would be inlined and
 * push its writer calls over the inlining budget: ~15%).
 */
function guarded<F extends WriteFn | ReadFn>(table: FieldTable, params: string, emit: (g: Gen) => string, traced: F, failed: Failed): F {
  const g = new Gen(false);
  const fast = g.build(table, params, emit, values, { traced, failed }) as (x: any, o: any, refs: any, state: any) => void;
  if (g.guarded) {
    generated.set(fast, fast);
    return fast as F;
  }
  const wrapper = (x: any, o: any, refs: any, state: any): void => {
    try {
      fast(x, o, refs, state);
    } catch (e) {
      throw failed(e, traced, x, o, state);
    }
  };
  generated.set(wrapper, fast);
  return wrapper as F;
}

type Failed = typeof failedWrite | typeof failedRead;

/** A writer from the statements emit() generates; a failure is replayed by its traced twin to name the field. */
export function compileWriter(table: FieldTable, emit: (g: Gen) => string): WriteFn {
  const traced = new Gen(true).build(table, 'w, o, refs, state', emit, NO_VALUES) as WriteFn;
  return guarded(table, 'w, o, refs, state', emit, traced, failedWrite);
}

/** A reader from the statements emit() generates (as compileWriter). */
export function compileReader(table: FieldTable, emit: (g: Gen) => string): ReadFn {
  const traced = new Gen(true).build(table, 'r, o, refs, state', emit) as ReadFn;
  return guarded(table, 'r, o, refs, state', emit, traced, failedRead);
}

const generated = new WeakMap<Function, Function>();

/** @internal The generated code behind a compiled writer or reader (tests, debugging). */
export function generatedSource(fn: Function): string | undefined {
  return generated.get(fn)?.toString();
}

/** Collects one generated function: its hoisted constants, locals and list depth. */
export class Gen {
  private readonly consts: unknown[] = [];
  private nv = 0;
  /** How many list index variables (i0, i1 ...) the code uses. */
  private depth = 0;

  /** traced: the replay twin, which marks the field (f) and list indices for its catch. */
  constructor(readonly traced: boolean) {}

  /** A hoisted constant holding v (K0, K1 ...). */
  constant(v: unknown): string {
    this.consts.push(v);
    return `K${this.consts.length - 1}`;
  }

  /** A fresh local name. */
  local(): string {
    return `v${this.nv++}`;
  }

  /** The mark before field i's statements (traced only). */
  at(i: number): string {
    return this.traced && i !== 0 ? `f = ${i}; ` : '';
  }

  /** `for (${g.loop(d)} = 0; ...`: the list index of depth d, declared by the loop unless traced. */
  loop(d: number): string {
    if (d + 1 > this.depth) this.depth = d + 1;
    return this.traced ? `i${d}` : `let i${d}`;
  }

  /** ", i0, i1" for the indices that locate a value at depth d, for error calls. */
  static idx(d: number): string {
    let s = '';
    for (let i = 0; i < d; i++) s += `, i${i}`;
    return s;
  }

  /** Whether build() put the replaying catch inside the function (no loops: see guarded()). */
  guarded = false;

  /**
   * Compiles `function (params) { body }` with the field table S, the
   * helpers and the constants in scope.  Traced: with the marks' catch.
   * With replay and no loops: with a catch that replays the failure.
   */
  build(table: FieldTable, params: string, emit: (g: Gen) => string, vals: object = values, replay?: { traced: Function; failed: Failed }): Function {
    if (!codegen)
      throw new ObjHashError(
        'EINVAL',
        `type '${table.typeName}': a type with fields is read and written by generated code (new Function), which this process does not allow (node --disallow-code-generation-from-strings); give the type hand-written checkpoint and restore`,
      );
    let body = emit(this) + '\n';
    if (this.traced) {
      const locals = ['f = 0'];
      for (let i = 0; i < this.depth; i++) locals.push(`i${i} = 0`);
      body = `let ${locals.join(', ')};\ntry {\n${body}} catch (e) { throw AT(e, S, f${Gen.idx(this.depth)}); }\n`;
    } else if (replay !== undefined && this.depth === 0) {
      const [x, o, , state] = params.split(', ');
      body = `try {\n${body}} catch (e) { throw R.failed(e, R.traced, ${x}, ${o}, ${state}); }\n`;
      this.guarded = true;
    }
    const consts = this.consts.map((_, i) => `K${i} = K[${i}]`);
    const src =
      `'use strict';\n` +
      `const { ${Object.keys(HELPERS).join(', ')} } = H, VW = V.writeTagged, VR = V.readTagged;\n` +
      (consts.length ? `const ${consts.join(', ')};\n` : '') +
      `return function (${params}) {\n${body}};`;
    return new Function('K', 'H', 'V', 'S', 'R', src)(this.consts, HELPERS, vals, table, replay) as Function;
  }
}

/** Statements writing the value of expression v (evaluated once) of kind k, at field f, list depth d. */
export function genWrite(g: Gen, k: KindDesc, v: string, f: number, d: number, step: string): string {
  switch (k.k) {
    case 'bigint':
      return `WB(w, ${v});`;
    case 'value':
      return `VW(w, ${v}, refs, ${step}, state);`;
    case 'opt': {
      const t = g.local();
      return `{ const ${t} = ${v}; if (${t} === undefined) w.u8(0); else if (${t} === null) w.u8(1); else { w.u8(2); ${genWrite(g, k.of, t, f, d, step)} } }`;
    }
    case 'ref': {
      const t = g.local();
      return `{ const ${t} = ${v}; w.uv(${refCall(g, k, t, f, d, step)}); }`;
    }
    case 'refs':
    case 'list': {
      const a = g.local();
      const n = g.local();
      const i = `i${d}`;
      const init = g.loop(d);
      const item = k.k === 'list' ? genWrite(g, k.of, `${a}[${i}]`, f, d + 1, step) : refsItemWrite(g, k, a, f, d, step);
      return (
        `{ const ${a} = ${v}; if (!Array.isArray(${a})) BAD(S, ${f}, 'an array', ${a}${Gen.idx(d)}); ` +
        `const ${n} = ${a}.length; w.uv(${n}); for (${init} = 0; ${i} < ${n}; ${i}++) { ${item} } }`
      );
    }
    default:
      return `w.${k.k}(${v});`;
  }
}

/** The statement writing item i${d} of the refs(T) array in local a (at list depth d). */
function refsItemWrite(g: Gen, k: RefKind, a: string, f: number, d: number, step: string): string {
  const t = g.local();
  return `const ${t} = ${a}[i${d}]; w.uv(${refCall(g, k, t, f, d + 1, step)});`;
}

/** The objref expression of local t, a ref(T) value: 0 for null, refused if not an object. */
function refCall(g: Gen, k: RefKind, t: string, f: number, d: number, step: string): string {
  const T = g.constant(k.objType);
  const want = g.constant(`an object of type '${k.type}' or null`);
  // (a number, a string, a function... is no object of the type: refused, as undefined is)
  return `${t} === null ? 0 : typeof ${t} !== 'object' ? BAD(S, ${f}, ${want}, ${t}${Gen.idx(d)}) : refs.refTyped(${t}, ${T}, ${step})`;
}

/**
 * Reading a value of kind k: [statements, expression].  `holder` and
 * `key` (code) are where the value goes, for references the walker fills
 * in later.  skip: the value is dropped (refs are read, not resolved).
 */
export function genRead(g: Gen, k: KindDesc, holder: string, key: string, f: number, d: number, skip: boolean): [string, string] {
  switch (k.k) {
    case 'blob':
      return ['', 'OWN(r.blob())'];
    case 'bigint':
      return ['', 'RB(r)'];
    case 'value':
      return ['', `VR(r, refs, ${skip ? '{}' : holder}, ${key}, state)`];
    case 'ref': {
      const t = g.local();
      if (skip) return [`r.uv(); `, 'null'];
      return [`const ${t} = r.uv(); `, `(${t} === 0 ? null : refs.getTyped(${t}, ${g.constant(k.objType)}, ${holder}, ${key}))`];
    }
    case 'opt': {
      const t = g.local();
      const p = g.local();
      const [pre, expr] = genRead(g, k.of, holder, key, f, d, skip);
      const bad = `BADR(S, ${f}, r, 'bad presence byte ' + ${p}${Gen.idx(d)})`;
      if (pre === '') return [`const ${p} = r.u8(); `, `(${p} === 2 ? ${expr} : ${p} === 0 ? undefined : ${p} === 1 ? null : ${bad})`];
      return [
        `let ${t}; const ${p} = r.u8(); if (${p} === 2) { ${pre}${t} = ${expr}; } else if (${p} === 0) ${t} = undefined; ` +
          `else if (${p} === 1) ${t} = null; else ${bad}; `,
        t,
      ];
    }
    case 'refs':
    case 'list': {
      const n = g.local();
      const a = g.local();
      const i = `i${d}`;
      const init = g.loop(d);
      const item = k.k === 'list' ? k.of : refsItem(k);
      const [pre, expr] = genRead(g, item, a, i, f, d + 1, skip);
      // every item but a 'value' takes at least one byte, so a count the
      // record can hold is allocated at once; a hostile one runs into the
      // end of the record, the array growing an item at a time meanwhile
      // (as `[]` and push; the same error, at the same item)
      const check = item.k === 'value' ? `if (${n} > r.remaining()) BADR(S, ${f}, r, '${k.k} length ' + ${n} + ' runs past the end of the record'${Gen.idx(d)}); ` : '';
      const alloc = item.k === 'value' ? `new Array(${n})` : `${n} <= r.remaining() ? new Array(${n}) : []`;
      return [`const ${n} = r.uv(); ${check}const ${a} = ${alloc}; for (${init} = 0; ${i} < ${n}; ${i}++) { ${pre}${a}[${i}] = ${expr}; } `, a];
    }
    default:
      return ['', `r.${k.k}()`];
  }
}

/** An item of refs(T): a ref(T). */
function refsItem(k: RefKind): KindDesc {
  return { k: 'ref', type: k.type, objType: k.objType };
}

// ------------------------------------------------------------ in slices

/**
 * Writes items [from, to) of the array `a` of a top-level refs field, the
 * count (a.length) first when from is 0: together, the bytes `write`
 * gives that field.
 */
export type ItemsWriteFn = (w: PayloadWriter, a: readonly unknown[], refs: RefWriter, from: number, to: number) => void;
/** Reads items [from, to) of a top-level refs field into `a` (its count read by readCount). */
export type ItemsReadFn = (r: PayloadReader, a: unknown[], refs: RefReader, from: number, to: number) => void;

/**
 * A fields type's body in pieces, for a record written or read over
 * several slices of an incremental checkpoint or a sliced restart
 * (lib/context): the field list's functions one field at a time, and
 * for each top-level refs field its items by range.  Generated by the
 * same code as `write`/`read`, so the bytes are the same; a failure names
 * the field (and item) as theirs do.
 */
export interface SlicedSchema {
  readonly names: readonly string[];
  /** per field: writes it alone, as `write` does */
  readonly writeField: readonly WriteFn[];
  /** per field: for a refs field, its items by range; else undefined */
  readonly writeItems: readonly (ItemsWriteFn | undefined)[];
  /** per field: reads it alone into obj, as `read` does */
  readonly readField: readonly ReadFn[];
  readonly readItems: readonly (ItemsReadFn | undefined)[];
  /** A refs field's count, as `read` reads it. */
  readCount(r: PayloadReader): number;
}

/**
 * A refs field of more items than this is written or read in runs of this
 * many, the clock looked at after each (an incremental checkpoint, a
 * sliced restart); a record too short to hold one is read whole.
 */
export const SLICE_ITEMS = 1024;

/** Where a record written or read in slices stands. */
export interface SliceCursor {
  obj: any;
  sliced: SlicedSchema;
  /** the field being written or read */
  field: number;
  /** that field's array while it is under way (undefined: not started), its item count, its next item */
  arr: unknown[] | undefined;
  n: number;
  item: number;
}

/**
 * Runs the cursor's items through `run(from, to)` in runs of SLICE_ITEMS
 * until the last (true) or until performance.now() passes `until` after
 * a run (false: the cursor says where to go on).
 */
export function itemRuns(c: SliceCursor, until: number, run: (from: number, to: number) => void): boolean {
  while (c.item < c.n) {
    const to = Math.min(c.n, c.item + SLICE_ITEMS);
    run(c.item, to);
    c.item = to;
    if (c.item < c.n && performance.now() >= until) return false;
  }
  return true;
}

/** The sliced pieces of a compiled schema, or undefined when it has no top-level refs field. */
export function compileSliced(typeName: string, descs: readonly FieldDesc[]): SlicedSchema | undefined {
  if (!descs.some((fd) => fd.kind.k === 'refs')) return undefined;
  const table = fieldTable(typeName, descs);
  const writeField: WriteFn[] = [];
  const readField: ReadFn[] = [];
  const writeItems: (ItemsWriteFn | undefined)[] = [];
  const readItems: (ItemsReadFn | undefined)[] = [];
  descs.forEach((fd, i) => {
    const step = JSON.stringify(fd.name);
    writeField.push(compileWriter(table, (g) => g.at(i) + genWrite(g, fd.kind, `o.${fd.name}`, i, 0, step)));
    readField.push(
      compileReader(table, (g) => {
        const [pre, expr] = genRead(g, fd.kind, 'o', step, i, 0, false);
        return `${g.at(i)}${pre}o.${fd.name} = ${expr};`;
      }),
    );
    const k = fd.kind;
    if (k.k !== 'refs') {
      writeItems.push(undefined);
      readItems.push(undefined);
      return;
    }
    // traced code (marks and a catch naming the field and item): its
    // cost is nothing beside a slice's time check
    writeItems.push(
      new Gen(true).build(table, 'w, a, refs, from, to', (g) => {
        const init = g.loop(0);
        return `${g.at(i)}if (from === 0) w.uv(a.length); for (${init} = from; i0 < to; i0++) { ${refsItemWrite(g, k, 'a', i, 0, step)} }`;
      }) as ItemsWriteFn,
    );
    readItems.push(
      new Gen(true).build(table, 'r, a, refs, from, to', (g) => {
        const init = g.loop(0);
        const [pre, expr] = genRead(g, refsItem(k), 'a', 'i0', i, 1, false);
        return `${g.at(i)}for (${init} = from; i0 < to; i0++) { ${pre}a.push(${expr}); }`;
      }) as ItemsReadFn,
    );
  });
  return Object.freeze({ names: descs.map((fd) => fd.name), writeField, writeItems, readField, readItems, readCount: (r: PayloadReader) => r.uv() });
}
