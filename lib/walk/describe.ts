/**
 * For `objhash dump`: the bodies of FIELDS and VALUE records, decoded with
 * the schemas of the image's own type table (not the caller's types), as
 * JSON-safe values the command only has to format.
 *
 * A body belongs to the latest walked OBJREF whose body has not come yet:
 * records written while another is open (the buffer under a typed array)
 * complete first, so the pending OBJREFs form a stack.
 */
import { ObjHashError } from '../errors.js';
import { REC, type TypeEntry } from '../image/format.js';
import type { PayloadReader } from '../image/payload-reader.js';
import { decodeSchema, describeFields, type SchemaDesc } from '../schema/index.js';
import { VALUE_TYPE_NAME, ValueCodecState, describeValue } from '../values/index.js';

export interface DescribedBody {
  /** FIELDS: the type's name and its fields in order. */
  type?: string;
  fields?: { name: string; kind: string; value: unknown }[];
  /** VALUE: the value's description. */
  value?: unknown;
}

export class BodyDescriber {
  readonly #schemas = new Map<number, { name: string; schema: SchemaDesc }>();
  #valueType = -1;
  readonly #pending: number[] = [];
  readonly #state = new ValueCodecState();

  /** The image's type table (an entry with a schema bytes that do not decode is EINVAL). */
  header(types: readonly TypeEntry[]): void {
    for (const t of types) {
      if (t.name === VALUE_TYPE_NAME) this.#valueType = t.objtype;
      else if (t.schema !== undefined && t.schema.length > 0)
        this.#schemas.set(t.objtype, { name: t.name, schema: decodeSchema(t.schema, t.name) });
    }
  }

  /** An OBJREF: a walked type's object, whose body comes later. */
  objref(objtype: number): void {
    if (objtype === this.#valueType || this.#schemas.has(objtype)) this.#pending.push(objtype);
  }

  /** The body of the FIELDS or VALUE record at `offset`, read from r. */
  body(type: number, r: PayloadReader, offset: number): DescribedBody {
    const objtype = this.#pending.pop();
    if (type === REC.VALUE) {
      if (objtype !== this.#valueType) this.#orphan(type, offset);
      return { value: jsonSafe(describeValue(r, this.#state)) };
    }
    const s = objtype === undefined ? undefined : this.#schemas.get(objtype);
    if (s === undefined) this.#orphan(type, offset);
    const fields = describeFields(r, s.schema, this.#state).map((f) => ({ name: f.name, kind: f.kind, value: jsonSafe(f.value) }));
    return { type: s.name, fields };
  }

  #orphan(type: number, offset: number): never {
    throw new ObjHashError('EINVAL', `${type === REC.VALUE ? 'VALUE' : 'FIELDS'} record at offset ${offset} follows no OBJREF of its type`, offset);
  }
}

/** v with bigints as { bigint: "..." } and typed arrays as arrays, so JSON.stringify takes it. */
function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (typeof v === 'number' && !Number.isFinite(v)) return { number: String(v) };
  if (Object.is(v, -0)) return { number: '-0' };
  if (v === undefined) return { undefined: true };
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, jsonSafe);
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = jsonSafe(x);
    return o;
  }
  return v;
}
