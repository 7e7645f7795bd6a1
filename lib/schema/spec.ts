/**
 * Field specs (what a user writes in `fields`) and field descriptions
 * (what the compiler, the schema encoding and evolution work on): the
 * spec constructors opt/ref/refs/list, the validation of a field list,
 * and the helpers on kinds (names, equality).
 */
import { ObjHashError } from '../errors.js';
import { checkType, type ObjType } from '../types.js';

/** Kinds without parameters: every payload writer, plus 'bigint' and 'value'. */
export const SCALAR_KINDS = [
  'u8', 'u16', 'u32', 'i32', 'u64', 'i64', 'f64', 'bool', 'uv', 'sv', 'str', 'vstr', 'blob', 'bigint', 'value',
] as const;
export type ScalarKind = (typeof SCALAR_KINDS)[number];

/** Absent, undefined or null (one presence byte; which one is kept), or a value of `opt`. */
export interface OptSpec<K extends FieldSpec = FieldSpec> {
  readonly opt: K;
}
/**
 * An object of a registered type, or null.  A function returning the type
 * allows self-reference.  T is carried covariantly (a ref(SubT) field fits
 * a property of a wider type), by the type-only `restores`.
 */
export interface RefSpec<T = unknown> {
  readonly ref: ObjType<any> | (() => ObjType<any>);
  /** @internal type only: what a restart puts in the field (never set) */
  readonly restores?: () => T;
}
/** An array of refs (each an object of the type, or null); T as in RefSpec. */
export interface RefsSpec<T = unknown> {
  readonly refs: ObjType<any> | (() => ObjType<any>);
  /** @internal type only (never set) */
  readonly restores?: () => T;
}
/** An array of values of one kind. */
export interface ListSpec<K extends FieldSpec = FieldSpec> {
  readonly list: K;
}
/** A kind with a default, used when reading an image whose schema lacks the field. */
export interface DefaultSpec<K extends FieldSpec = FieldSpec> {
  readonly kind: K;
  readonly default: unknown;
}

export type FieldSpec = ScalarKind | OptSpec<any> | RefSpec<any> | RefsSpec<any> | ListSpec<any> | DefaultSpec<any>;
export type Fields = Record<string, FieldSpec>;

type ScalarType<K> = K extends 'u8' | 'u16' | 'u32' | 'i32' | 'f64' | 'uv' | 'sv'
  ? number
  : K extends 'u64' | 'i64' | 'bigint'
    ? bigint
    : K extends 'bool'
      ? boolean
      : K extends 'str' | 'vstr'
        ? string
        : K extends 'blob'
          ? Uint8Array
          : unknown;
/** The JS type a field of spec F holds after restart (u64/i64 also accept safe integer numbers when written). */
export type FieldType<F> = F extends ScalarKind
  ? ScalarType<F>
  : F extends OptSpec<infer K>
    ? FieldType<K> | undefined | null
    : F extends RefSpec<infer T>
      ? T | null
      : F extends RefsSpec<infer T>
        ? (T | null)[]
        : F extends ListSpec<infer K>
          ? FieldType<K>[]
          : F extends DefaultSpec<infer K>
            ? FieldType<K>
            : never;
/** The object type a field list describes. */
export type FieldsType<F extends Fields> = { -readonly [P in keyof F]: FieldType<F[P]> };

/** The scalar kinds that write a value of type V (literal types and enums included). */
type ScalarsFor<V> =
  | ([V] extends [number] ? 'u8' | 'u16' | 'u32' | 'i32' | 'f64' | 'uv' | 'sv' : never)
  | ([V] extends [bigint] ? 'u64' | 'i64' | 'bigint' : never)
  | ([V] extends [boolean] ? 'bool' : never)
  | ([V] extends [string] ? 'str' | 'vstr' : never)
  | ([V] extends [Uint8Array] ? 'blob' : never);
type ElemOf<V> = V extends readonly (infer E)[] ? E : never;
/** true when V may be undefined or null (what opt() writes and ref() does not take undefined). */
type Nullish<V> = undefined extends V ? true : null extends V ? true : false;

/**
 * The specs a property of type V may be declared with: `'value'` always;
 * a scalar kind that writes V; `opt(k)` when V may be undefined or null
 * (k a spec of the rest); `ref(T)` for a T (or T | null), `refs(T)` for
 * an array of them; `list(k)` for an array of what k writes; any of these
 * with a `default` of type V.  Any spec for a property typed any or
 * unknown.
 */
export type FieldSpecFor<V> = 0 extends 1 & V ? FieldSpec : unknown extends V ? FieldSpec : KindFor<V> | { readonly kind: KindFor<V>; readonly default: V };
type KindFor<V> =
  | 'value'
  | ScalarsFor<V>
  | (Nullish<V> extends true ? OptSpec<KindFor<NonNullable<V>>> : never)
  | (undefined extends V ? never : RefSpec<NonNullable<V>>)
  | ([NonNullable<V>] extends [readonly unknown[]]
      ? undefined extends V
        ? never
        : RefsSpec<NonNullable<ElemOf<NonNullable<V>>>> | ListSpec<KindFor<ElemOf<NonNullable<V>>>>
      : never);

/** The keys of T that hold data (not methods). */
type DataKeys<T> = { [K in keyof T]-?: T[K] extends (...args: any[]) => any ? never : K }[keyof T];
/** The keys of T that are optional. */
type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];

/**
 * The field list of an object type T, checked field by field: a field for
 * each required data property of T (an optional one may be left out, then
 * it is not written), of a kind that writes and restores that property
 * (FieldSpecFor), and no field that T does not have.  Unchecked (any
 * Fields) when T is any or unknown.
 */
export type FieldsFor<T> = 0 extends 1 & T
  ? Fields
  : unknown extends T
    ? Fields
    : { readonly [K in Exclude<DataKeys<T>, OptionalKeys<T>>]: FieldSpecFor<T[K]> } & {
        readonly [K in Extract<DataKeys<T>, OptionalKeys<T>>]?: FieldSpecFor<T[K] | undefined>;
      };

export function opt<K extends FieldSpec>(kind: K): OptSpec<K> {
  return Object.freeze({ opt: kind });
}
export function ref<T>(type: ObjType<T> | (() => ObjType<T>)): RefSpec<T> {
  return Object.freeze({ ref: type });
}
export function refs<T>(type: ObjType<T> | (() => ObjType<T>)): RefsSpec<T> {
  return Object.freeze({ refs: type });
}
export function list<K extends FieldSpec>(kind: K): ListSpec<K> {
  return Object.freeze({ list: kind });
}

// ------------------------------------------------------------ descriptions

/** A field's kind, resolved: ref targets by name (and, when compiled, the type itself). */
export type KindDesc =
  | { readonly k: ScalarKind }
  | { readonly k: 'opt'; readonly of: KindDesc }
  | { readonly k: 'list'; readonly of: KindDesc }
  | RefKind;
/** ref(T) / refs(T): the target by name (and, when compiled, the type itself). */
export interface RefKind {
  readonly k: 'ref' | 'refs';
  readonly type: string;
  readonly objType?: ObjType<any>;
}

export interface FieldDesc {
  readonly name: string;
  readonly kind: KindDesc;
  /** Whether the field has a default (for images whose schema lacks it). */
  readonly hasDefault: boolean;
  /** The default; absent when there is none, or (decoded) when the kind holds 'value' and it was not recorded. */
  readonly default?: unknown;
}

/** A field list: decoded from an image, or a compiled schema's. */
export interface SchemaDesc {
  readonly fields: readonly FieldDesc[];
}

/** Most fields a type may have. */
export const MAX_FIELDS = 4096;
/** Deepest nesting of opt/list around a kind (list(list(u8)) is 2). */
export const MAX_NESTING = 8;
/** Longest field name and ref type name, in UTF-16 units (type names are at most 255). */
export const MAX_NAME = 255;

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

/** Why `name` cannot be a field name, or undefined if it can (it then goes verbatim into generated code). */
export function badFieldName(name: string): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if (name.length > MAX_NAME) return `the name is longer than ${MAX_NAME} characters`;
  if (!IDENT.test(name)) return 'the name is not an identifier (letters, digits, _ and $, not starting with a digit)';
  if (RESERVED.has(name)) return `'${name}' is reserved`;
  return undefined;
}

/** 'u32', 'opt(str)', 'list(opt(u8))', 'ref(node)', 'refs(node)'. */
export function kindName(k: KindDesc): string {
  switch (k.k) {
    case 'opt':
    case 'list':
      return `${k.k}(${kindName(k.of)})`;
    case 'ref':
    case 'refs':
      return `${k.k}(${k.type})`;
    default:
      return k.k;
  }
}

/** Same kind; references compare their target type by name. */
export function sameKind(a: KindDesc, b: KindDesc): boolean {
  if (a.k !== b.k) return false;
  if (a.k === 'opt' || a.k === 'list') return sameKind(a.of, (b as typeof a).of);
  if (a.k === 'ref' || a.k === 'refs') return a.type === (b as typeof a).type;
  return true;
}

/** Whether values of k may hold refs or plain values (then a default is not recorded in the schema bytes). */
export function holdsValue(k: KindDesc): boolean {
  return k.k === 'value' || ((k.k === 'opt' || k.k === 'list') && holdsValue(k.of));
}

/** Leaf of k under opt/list, and how many lists wrap it. */
export function leafOf(k: KindDesc): { leaf: KindDesc; lists: number } {
  let lists = 0;
  while (k.k === 'opt' || k.k === 'list') {
    if (k.k === 'list') lists++;
    k = k.of;
  }
  if (k.k === 'refs') lists++;
  return { leaf: k, lists };
}

// --------------------------------------------------------------- validation

/**
 * Validates `fields` (own enumerable string keys, in their order) and
 * resolves each spec: EINVAL naming the type, the field and the problem.
 * Defaults are checked by the encoder (encoding.ts), which writes them.
 */
export function parseFields(typeName: string, fields: Fields): FieldDesc[] {
  const where = `type '${typeName}'`;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
    throw new ObjHashError('EINVAL', `${where}: fields must be an object of field kinds`);
  if (Object.getOwnPropertySymbols(fields).length !== 0)
    throw new ObjHashError('EINVAL', `${where}: field names must be strings, not symbols`);
  const names = Object.keys(fields);
  if (names.length > MAX_FIELDS)
    throw new ObjHashError('EINVAL', `${where}: ${names.length} fields, more than ${MAX_FIELDS}`);
  const out: FieldDesc[] = [];
  for (const name of names) {
    const bad = badFieldName(name);
    if (bad !== undefined) throw new ObjHashError('EINVAL', `${where}: field ${JSON.stringify(name)}: ${bad}`);
    const at = `${where}: field '${name}'`;
    const spec: unknown = fields[name];
    if (isObject(spec) && Object.prototype.hasOwnProperty.call(spec, 'kind')) {
      onlyKeys(spec, ['kind', 'default'], at);
      if (!Object.prototype.hasOwnProperty.call(spec, 'default'))
        throw new ObjHashError('EINVAL', `${at}: { kind } needs a default ({ kind, default })`);
      const s = spec as unknown as DefaultSpec;
      out.push({ name, kind: parseKind(s.kind, at, 0), hasDefault: true, default: s.default });
    } else {
      out.push({ name, kind: parseKind(spec, at, 0), hasDefault: false });
    }
  }
  return out;
}

function parseKind(spec: unknown, at: string, depth: number): KindDesc {
  if (typeof spec === 'string') {
    if ((SCALAR_KINDS as readonly string[]).includes(spec)) return { k: spec as ScalarKind };
    throw new ObjHashError('EINVAL', `${at}: unknown kind ${JSON.stringify(spec.slice(0, 40))} (known: ${SCALAR_KINDS.join(' ')}, opt, ref, refs, list)`);
  }
  if (!isObject(spec)) throw new ObjHashError('EINVAL', `${at}: a kind must be a string or opt()/ref()/refs()/list(), got ${typeof spec === 'object' ? 'null' : typeof spec}`);
  const keys = Object.keys(spec);
  const key = keys.includes('kind') ? 'kind' : keys.length === 1 ? keys[0]! : '';
  if (depth >= MAX_NESTING && (key === 'opt' || key === 'list'))
    throw new ObjHashError('EINVAL', `${at}: opt/list nested deeper than ${MAX_NESTING}`);
  switch (key) {
    case 'opt': {
      const of = parseKind((spec as OptSpec).opt, at, depth + 1);
      if (of.k === 'opt') throw new ObjHashError('EINVAL', `${at}: opt(opt(...)) is the same as opt(...)`);
      return { k: 'opt', of };
    }
    case 'list':
      return { k: 'list', of: parseKind((spec as ListSpec).list, at, depth + 1) };
    case 'ref':
    case 'refs': {
      let t = (spec as Record<string, unknown>)[key];
      if (typeof t === 'function') {
        try {
          t = (t as () => unknown)();
        } catch (e) {
          throw new ObjHashError('EINVAL', `${at}: the function given to ${key}() threw: ${(e as Error)?.message ?? String(e)}`, undefined, { cause: e });
        }
      }
      checkType(t, at, `${key}()`);
      return { k: key, type: t.name, objType: t };
    }
    case 'kind':
      throw new ObjHashError('EINVAL', `${at}: { kind, default } only at the top of a field, not inside opt/list`);
    default:
      throw new ObjHashError('EINVAL', `${at}: not a field kind (an object with keys ${keys.slice(0, 5).join(', ') || 'none'}); use opt(), ref(), refs(), list() or { kind, default }`);
  }
}

function onlyKeys(o: object, allowed: string[], at: string): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw new ObjHashError('EINVAL', `${at}: unknown key '${k.slice(0, 40)}' beside kind and default`);
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}
