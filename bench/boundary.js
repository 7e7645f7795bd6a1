#!/usr/bin/env node
'use strict';
// The cost of one call into the addon, as docs/INTERNALS.md quotes it.
// Every export of native/binding/ is a raw napi_callback (the module is a
// Napi::Addon, its functions are not InstanceMethods): size(handle) reads
// one argument, the type-tagged External; lookup adds a key and a type
// and a core lookup; hashLong takes no handle (numbers in, a number out).
// Medians of 7 runs of 2M calls.
// Run: npm run build && node bench/boundary.js
const { getBackend } = require('../dist/lib/backend/loader.js');

const b = getBackend('native');
const h = b.create(0, 0, 0, undefined, undefined);
function median(f) {
  const t = [];
  for (let r = 0; r < 7; r++) {
    const n = 2e6;
    const t0 = process.hrtime.bigint();
    f(n);
    t.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return t.sort((x, y) => x - y)[3].toFixed(1);
}
console.log(`node ${process.version}`);
console.log('raw napi_callback, size(handle)          ', median((n) => { for (let i = 0; i < n; i++) b.size(h); }), 'ns/call');
console.log('raw napi_callback, lookup(handle, k, t)  ', median((n) => { for (let i = 0; i < n; i++) b.lookup(h, i + 1, 1); }), 'ns/call');
console.log('raw napi_callback, hashLong(k, 10, false)', median((n) => { for (let i = 0; i < n; i++) b.hashLong(i + 1, 10, false); }), 'ns/call');
b.free(h);
