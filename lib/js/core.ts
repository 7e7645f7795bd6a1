/**
 * The twin used to live here; it is now table.ts (native/objhash.c),
 * batch.ts (native/binding/batch.cc) and adapter.ts (the rest of
 * native/binding/).  This re-export stays only for test/faults.test.ts and
 * test/objhash.test.ts, which import jsBackend from here; new code imports
 * adapter.js.
 */
export { jsBackend, default } from './adapter.js';
