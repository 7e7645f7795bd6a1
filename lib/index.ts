/**
 * objhash - checkpoint/restart of shared object graphs, after the Linux
 * kernel's c/r "infrastructure for shared objects".
 */
export { ObjHash, type AddedKey } from './hash/objhash.js';
export type { ObjHashOptions, LookupAddResult } from './hash/options.js';
export {
  defineObjType,
  type ObjType,
  type ObjTypeOps,
  type DefineOps,
  type HandWrittenOps,
  type FieldsOps,
  type InferredFieldsOps,
  type ObjOf,
  type NumericKey,
} from './types.js';
export {
  opt,
  ref,
  refs,
  list,
  type Fields,
  type FieldSpec,
  type FieldsType,
  type FieldType,
  type FieldsFor,
  type FieldSpecFor,
  type ScalarKind,
  type OptSpec,
  type RefSpec,
  type RefsSpec,
  type ListSpec,
  type DefaultSpec,
} from './schema/index.js';
export { ValueT } from './walk/walked.js';
export { ObjHashError, type ObjHashErrorCode } from './errors.js';
export { impl, nativeAvailable, nativeLoadError, type ImplName } from './backend/loader.js';
export type { KeyArray } from './backend/contract.js';
export { CheckpointContext } from './context/checkpoint.js';
export { RestartContext } from './context/restart.js';
export {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_OBJECTS,
  DEFAULT_MAX_OBJREF_GAP,
  type CheckpointOptions,
  type ContextOptions,
  type RestartOptions,
} from './context/options.js';
export { checkpoint, restart, checkpointToFile, restartFromFile, type FileCheckpointResult } from './highlevel.js';
export * from './stream/public.js';
export { inspectImage, type ImageInfo, type RecordStats, type InspectOptions } from './image/inspect.js';
export { REC, FORMAT_VERSION, DEFAULT_MAX_RECORD, recordTypeName, type TypeEntry } from './image/format.js';
export { ImageWriter, type ImageWriterOptions } from './image/writer.js';
export { ImageReader, type ImageReaderOptions, type ImageHeader, type RecordInfo } from './image/reader.js';
export type { ObjrefValidator, ValidateOptions } from './image/validate.js';
export { FileSource, type ByteSource, type FileSourceOptions } from './image/source.js';

// one live instance of each hot class, so that a full GC between calls does
// not throw their optimised code away (lib/warm.ts)
import { warm } from './warm.js';
warm();
