/** The public names of the async calls, re-exported by lib/index.ts and lib/promises.ts. */
export {
  AbortError,
  checkpointToStream,
  restartFromStream,
  zstdAvailable,
  type AsyncOptions,
  type Compression,
  type Progress,
  type StreamCheckpointOptions,
  type StreamCheckpointResult,
  type StreamRestartOptions,
  type StreamSource,
} from './index.js';
