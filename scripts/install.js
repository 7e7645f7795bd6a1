#!/usr/bin/env node
// npm install hook: build the native addon with node-gyp.  When that fails
// (no compiler, no headers), installing still succeeds: objhash then runs
// on its pure-JS twin, and one line says so.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
if (process.env.OBJHASH_SKIP_BUILD === '1') {
  console.warn('objhash: OBJHASH_SKIP_BUILD=1: native addon not built; the pure-JS backend will be used');
  process.exit(0);
}
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  console.warn('objhash: node-gyp not found: native addon not built; the pure-JS backend will be used');
  process.exit(0);
}
const args = [gyp, 'rebuild'];
if (process.env.OBJHASH_SANITIZE === '1') args.push('--objhash_sanitize=1', '--debug');
const log = path.join(root, 'build-native.log');
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
fs.writeFileSync(log, (r.stdout || '') + (r.stderr || ''));
if (r.status !== 0) {
  const why = r.error ? r.error.message : `node-gyp exited with ${r.status}`;
  console.warn(`objhash: native build failed (${why}; see ${log}); the pure-JS backend will be used`);
  process.exit(0);
}
fs.rmSync(log, { force: true });
