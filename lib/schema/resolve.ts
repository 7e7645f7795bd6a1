/**
 * Schema evolution: reading records written with the field list an image
 * recorded (`written`) into objects of the current schema.
 *
 * Rules (fields are matched by name; their order may differ):
 *
 * 1. A field in both with the same kind is read.  Kinds are equal when
 *    their whole shape is (opt(u8) is not u8, list(u16) is not list(u32));
 *    ref and refs fields compare their target type by NAME.
 * 2. A field only in the image is an error: an older reader refuses an
 *    image written by a newer version of the type rather than lose its
 *    data (the rule; the reader below could skip such fields, and
 *    still does so where a future option allows it).
 * 3. A field only in the current schema takes its default (each object
 *    gets its own copy of an object default); without a default it must be
 *    opt(...), and is then undefined.  Otherwise the mismatch is an error.
 * 4. A field whose kind changed is an error.
 * 5. Errors are one ObjHashError EINVAL listing every differing field:
 *    "type 'node': field 'flags' is u16 in the image, u32 here; field 'x'
 *    is missing in the image and has no default".
 * 6. The same field list (same names and kinds, same order) is read by the
 *    compiled reader itself; defaults recorded in the image never matter.
 *
 * The resolved reader reads the image's fields in the image's order into
 * locals, then assigns the current fields in the current order, so objects
 * get the same property order (and hidden class) as freshly read ones.
 */
import { ObjHashError } from '../errors.js';
import { compileReader, fieldTable, genRead, type CompiledSchema, type ReadFn } from './compile.js';
import { badFieldName, kindName, sameKind, type FieldDesc, type SchemaDesc } from './spec.js';

export function resolveSchema(written: SchemaDesc, current: CompiledSchema, typeName: string): ReadFn {
  const wf = written.fields;
  const cf = current.fields;
  if (wf.length === cf.length && wf.every((f, i) => f.name === cf[i]!.name && sameKind(f.kind, cf[i]!.kind))) return current.read;

  for (const c of cf) {
    // names go into the generated code: a hand-made `current` gets the compiler's check
    const bad = badFieldName(c.name);
    if (bad !== undefined) throw new ObjHashError('EINVAL', `type '${typeName}': field ${JSON.stringify(c.name)}: ${bad}`);
  }
  const inImage = new Map<string, FieldDesc>(wf.map((f) => [f.name, f]));
  const here = new Map<string, FieldDesc>(cf.map((f) => [f.name, f]));
  const problems: string[] = [];
  for (const f of wf) {
    const c = here.get(f.name);
    if (c === undefined)
      problems.push(`field '${f.name}' (${kindName(f.kind)}) is in the image but not in this type (an image written by a newer version of it?)`);
    else if (!sameKind(f.kind, c.kind))
      problems.push(`field '${f.name}' is ${kindName(f.kind)} in the image, ${kindName(c.kind)} here`);
  }
  for (const c of cf) {
    if (!inImage.has(c.name) && !c.hasDefault && c.kind.k !== 'opt')
      problems.push(`field '${c.name}' is missing in the image and has no default`);
  }
  if (problems.length !== 0) throw new ObjHashError('EINVAL', `type '${typeName}': ${problems.join('; ')}`);

  const table = fieldTable(typeName, wf);
  return compileReader(table, (g) => {
    const locals = new Map<string, string>();
    let body = '';
    wf.forEach((f, j) => {
      const c = here.get(f.name);
      const [pre, expr] = genRead(g, (c ?? f).kind, 'o', JSON.stringify(f.name), j, 0, c === undefined);
      if (c === undefined) {
        body += `${g.at(j)}${pre}${expr};\n`;
      } else {
        const l = g.local();
        locals.set(c.name, l);
        body += `${g.at(j)}${pre}const ${l} = ${expr};\n`;
      }
    });
    for (const c of cf) {
      const l = locals.get(c.name);
      let v = 'undefined';
      if (l !== undefined) v = l;
      else if (c.hasDefault) {
        const d = g.constant(c.default);
        v = typeof c.default === 'object' && c.default !== null ? `CL(${d})` : d;
      }
      body += `o.${c.name} = ${v};\n`;
    }
    return body;
  });
}
