/**
 * Declarative object types (issue #10): a type's fields, compiled once
 * into a writer and a reader of its FIELDS records, the schema's bytes
 * for the image's type table, and schema evolution.
 *
 *   const NodeT = defineObjType<Node>({ name: 'node', fields: {
 *     kind: 'uv', text: opt('str'), parent: ref(() => NodeT), children: refs(() => NodeT),
 *     tags: list('vstr'), meta: 'value', size: { kind: 'uv', default: 0 } } });
 */
export {
  opt, ref, refs, list, kindName, SCALAR_KINDS,
  type FieldSpec, type Fields, type FieldType, type FieldsType, type FieldsFor, type FieldSpecFor, type ScalarKind,
  type OptSpec, type RefSpec, type RefsSpec, type ListSpec, type DefaultSpec,
  type KindDesc, type FieldDesc, type SchemaDesc,
} from './spec.js';
export { SLICE_ITEMS, compileSchema, itemRuns, compileSliced, type CompiledSchema, type SliceCursor, type SlicedSchema, type WriteFn, type ReadFn } from './compile.js';
export { decodeSchema, SCHEMA_VERSION } from './encoding.js';
export { resolveSchema } from './resolve.js';
export { describeFields, type DescribedField } from './describe.js';
export type { ValueCodecState } from './values-adapter.js';
