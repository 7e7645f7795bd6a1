#!/usr/bin/env node
// npm install hook.  A prebuilt addon for this platform in the package
// (prebuilds/, see scripts/prebuild.js) that loads: nothing to do.  Else
// the addon is built with node-gyp: npm's own copy (npm passes its path as
// npm_config_node_gyp), else one installed beside (a devDependency in a
// clone).  When that fails (no compiler, no headers), installing still
// succeeds: objhash runs on its pure-JS twin, says so once on first load,
// and the log stays in build-native.log.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const log = path.join(root, 'build-native.log');
fs.rmSync(log, { force: true });

if (process.env.OBJHASH_SKIP_BUILD === '1') {
  console.warn('objhash: OBJHASH_SKIP_BUILD=1: native addon not built');
  process.exit(0);
}

// a prebuilt addon that loads here
const pre = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
if (fs.existsSync(pre) && process.env.OBJHASH_BUILD_FROM_SOURCE !== '1') {
  for (const f of fs.readdirSync(pre)) {
    try {
      require(path.join(pre, f));
      process.exit(0);
    } catch {
      // another libc, or not loadable: try the next, then build
    }
  }
}

let gyp = process.env.npm_config_node_gyp;
if (!gyp || !fs.existsSync(gyp)) {
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    gyp = undefined;
  }
}
if (!gyp) {
  fs.writeFileSync(log, 'node-gyp was not found (npm passes npm_config_node_gyp; none was given)\n');
  console.warn(`objhash: no node-gyp to build the native addon (see ${log}); the pure-JS backend will be used`);
  process.exit(0);
}
const args = [gyp, 'rebuild'];
if (process.env.OBJHASH_SANITIZE === '1') args.push('--objhash_sanitize=1', '--debug');
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
if (r.status !== 0) {
  fs.writeFileSync(log, (r.stdout || '') + (r.stderr || '') + (r.error ? `\n${r.error.message}\n` : ''));
  const why = r.error ? r.error.message : `node-gyp exited with ${r.status}`;
  console.warn(`objhash: native build failed (${why}; see ${log}); objhash will use the prebuilt addon if one loads here, else the pure-JS backend`);
}
