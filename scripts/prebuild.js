#!/usr/bin/env node
// npm prepack: puts the addon built for this machine into the package as
// prebuilds/<platform>-<arch>/objhash.napi[.<libc>].node (prebuildify's
// layout, read by lib/backend/loader.ts), so that an install on the same
// platform gets the native backend with no compiler and no install script
// (pnpm 10 and Bun do not run dependencies' install scripts).  Node-API is
// ABI-stable: one file serves every supported Node line.  npm postpack
// (`--clean`) removes the folder again: it is build output, not source.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const dir = path.join(root, 'prebuilds');
if (process.argv.includes('--clean')) {
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
const built = path.join(root, 'build', 'Release', 'objhash.node');
if (!fs.existsSync(built)) {
  console.error(`objhash prebuild: ${path.relative(root, built)} is missing: build the addon first (npm run build:native)`);
  process.exit(1);
}
const libc =
  process.platform !== 'linux' ? '' : fs.readdirSync('/lib').some((f) => f.startsWith('ld-musl-')) ? '.musl' : '.glibc';
const target = path.join(dir, `${process.platform}-${process.arch}`, `objhash.napi${libc}.node`);
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.copyFileSync(built, target);
// smaller and still loadable: no symbols beyond the dynamic ones
if (process.platform === 'linux') spawnSync('strip', ['--strip-unneeded', target], { stdio: 'ignore' });
console.error(`objhash prebuild: ${path.relative(root, target)} (${fs.statSync(target).size} bytes)`);
