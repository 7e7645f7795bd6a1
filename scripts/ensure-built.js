#!/usr/bin/env node
// Makes `npm test` and `npm start` work from a fresh clone: installs the
// dependencies (npm ci, which also builds the addon) when they are missing,
// and compiles the TypeScript when dist/ is missing or older than lib/.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

if (!fs.existsSync(path.join(root, 'node_modules', '.package-lock.json'))) {
  console.error('objhash: installing dependencies (npm ci)...');
  run(npm, ['ci']);
}
const built = path.join(root, 'dist', 'lib', 'index.js');
const sources = ['lib', 'examples', 'bench'].filter((d) => fs.existsSync(path.join(root, d)));
const srcTime = Math.max(...sources.map((d) => newest(path.join(root, d))));
if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < srcTime) {
  run(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', path.join(root, 'tsconfig.json')]);
  run(process.execPath, [path.join(root, 'scripts', 'gen-esm.js')]);
} else if (!fs.existsSync(path.join(root, 'dist', 'esm', 'index.mjs'))) {
  run(process.execPath, [path.join(root, 'scripts', 'gen-esm.js')]);
}
