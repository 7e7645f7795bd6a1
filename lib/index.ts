/**
 * objhash - checkpoint/restart of shared object graphs, after the Linux
 * kernel's c/r "infrastructure for shared objects".
 */
export { ObjHash, type ObjHashOptions, type LookupAddResult } from './hash/objhash.js';
export { defineObjType, type ObjType, type ObjTypeOps, type ObjOf, type NumericKey } from './types.js';
export { ObjHashError, type ObjHashErrorCode } from './errors.js';
export { impl, nativeAvailable, nativeLoadError, type ImplName } from './backend/loader.js';
export type { KeyArray } from './backend/contract.js';
export {
  CheckpointContext,
  RestartContext,
  DEFAULT_MAX_DEPTH,
  type CheckpointOptions,
  type ContextOptions,
} from './context/context.js';
export { checkpoint, restart, checkpointToFile, restartFromFile, type FileCheckpointResult } from './highlevel.js';
export { inspectImage, type ImageInfo, type RecordStats, type InspectOptions } from './image/inspect.js';
export { REC, FORMAT_VERSION, DEFAULT_MAX_RECORD, recordTypeName, type TypeEntry } from './image/format.js';
export { ImageWriter } from './image/writer.js';
export { ImageReader } from './image/reader.js';
export { FileSource, type ByteSource } from './image/source.js';
