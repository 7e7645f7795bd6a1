/**
 * One live instance of each class on the hot paths, for the life of the
 * module.  V8 embeds the hidden classes (maps) of the objects an optimised
 * function handles as weak references in its code; when the last object of
 * a map dies, a full GC throws that code away.  An application that
 * collects between checkpoints would then run every call in the
 * interpreter again (the speed issue measured 45 functions lost and a 3x
 * slower 10k checkpoint).  Keeping one instance of each keeps its map, and
 * the code, alive.  Built with the pure-JS backend: no addon call at load.
 * A writer's or reader's map can still move on from the kept one's (a
 * field's representation widens with real data), so the last writer and
 * reader that finished are kept too (image/writer.ts, image/reader.ts);
 * test/gc-warm.test.ts counts the code a GC throws away.
 */
import { checkpoint, restart } from './highlevel.js';
import { CheckpointContext } from './context/checkpoint.js';
import { RestartContext } from './context/restart.js';
import { ValueT } from './walk/walked.js';
import { ObjHash } from './hash/objhash.js';
import { ImageReader } from './image/reader.js';
import { ImageWriter } from './image/writer.js';
import { crc32cFor, getBackend } from './backend/loader.js';

const keep: unknown[] = [];

/** Makes and keeps the instances (once). */
export function warm(): void {
  if (keep.length > 0) return;
  const crc32c = crc32cFor(getBackend('js'));
  const image = checkpoint({ a: [1, 'b', new Map([[1, new Date(0)]])] }, { impl: 'js' });
  keep.push(new ObjHash({ impl: 'js' }));
  keep.push(new ImageWriter({ crc32c }));
  const reader = new ImageReader(image, { crc32c });
  reader.readHeader();
  keep.push(reader);
  const rc = new RestartContext(image, { impl: 'js' });
  keep.push(rc, rc.restoreObj());
  keep.push(restart(image, { impl: 'js' }));
  // the context every checkpoint makes: the user's ops and the writer's
  // methods are optimised for its map
  const cc = new CheckpointContext({ impl: 'js', types: [ValueT] });
  cc.checkpointObj({ a: 1 }, ValueT);
  cc.finish();
  keep.push(cc);
}
