#!/usr/bin/env node
'use strict';
// The cost of one call into the addon, as docs/INTERNALS.md quotes it:
// a raw Node-API function of ours (size) against a node-addon-api
// Addon::InstanceMethod of ours (hashLong), medians of 7 runs of 2M calls.
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
console.log('raw napi function, size(handle)          ', median((n) => { for (let i = 0; i < n; i++) b.size(h); }), 'ns/call');
console.log('raw napi function, lookup(handle, k, t)  ', median((n) => { for (let i = 0; i < n; i++) b.lookup(h, i + 1, 1); }), 'ns/call');
console.log('Addon::InstanceMethod, hashLong(k, 10, 0)', median((n) => { for (let i = 0; i < n; i++) b.hashLong(i + 1, 10, false); }), 'ns/call');
b.free(h);
