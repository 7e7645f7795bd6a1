/**
 * `objhash dump`: the fields of one FIELDS record, decoded with the
 * schema the image recorded (no compiled code, no objects created).
 */
import { ObjHashError } from '../errors.js';
import type { PayloadReader } from '../image/payload-reader.js';
import { asObjHashError, readData } from './encoding.js';
import { kindName, type SchemaDesc } from './spec.js';
import type { ValueCodecState } from './values-adapter.js';

export interface DescribedField {
  readonly name: string;
  /** The kind as the image's schema has it: 'u32', 'opt(str)', 'ref(node)' ... */
  readonly kind: string;
  /** The value; a reference as { ref: objref } (null for 0), a 'value' as describeValue shows it. */
  readonly value: unknown;
}

/**
 * Reads the fields of the current record of r with `schema` (from
 * decodeSchema).  Throws ObjHashError only, naming the field; does not
 * check that the record ends after the last field (r.expectEnd() does).
 */
export function describeFields(r: PayloadReader, schema: SchemaDesc, state: ValueCodecState): DescribedField[] {
  const out: DescribedField[] = [];
  for (const f of schema.fields) {
    let value: unknown;
    try {
      value = readData(r, f.kind, true, state);
    } catch (e) {
      const err = asObjHashError(e);
      throw new ObjHashError(err.code, `field '${f.name}' (${kindName(f.kind)}): ${err.message}`, err.offset ?? r.recOffset, { cause: e });
    }
    out.push({ name: f.name, kind: kindName(f.kind), value });
  }
  return out;
}
