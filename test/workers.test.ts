import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { IMPLS } from './helpers.js';

const dist = join(__dirname, '..', 'dist', 'lib', 'index.js');

/** Runs `body` (CommonJS source; `o` is objhash, `impl` the backend) in a worker. */
function inWorker(impl: string, body: string): Promise<unknown> {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const o = require(workerData.dist);
    const impl = workerData.impl;
    Promise.resolve().then(() => { ${body} }).then(
      (v) => parentPort.postMessage({ ok: true, v }),
      (e) => parentPort.postMessage({ ok: false, e: String(e && e.stack || e) }),
    );`;
  return new Promise((resolve, reject) => {
    const w = new Worker(src, { eval: true, workerData: { dist, impl } });
    w.once('message', (m: { ok: boolean; v?: unknown; e?: string }) => {
      void w.terminate();
      if (m.ok) resolve(m.v);
      else reject(new Error(m.e));
    });
    w.once('error', reject);
  });
}

describe.each(IMPLS)('worker_threads (%s)', (impl) => {
  it('loads and works in 4 workers at once', async () => {
    const body = `
      const T = o.defineObjType({ name: 'n' });
      const h = new o.ObjHash({ impl });
      const keys = new Float64Array(100000);
      for (let i = 0; i < keys.length; i++) keys[i] = 1 + (i % 50000) * 16;
      const out = h.lookupAddMany(keys, T);
      const r = { impl: h.impl, size: h.size, last: out[keys.length - 1], obj: h.lookupAdd({}, T).objref };
      h.free();
      return r;`;
    const results = await Promise.all([0, 1, 2, 3].map(() => inWorker(impl, body)));
    for (const r of results) expect(r).toEqual({ impl, size: 50000, last: 50000, obj: 50001 });
  });
});
