#!/usr/bin/env node
'use strict';
// The objhash command; the code is lib/cli/main.ts, compiled into dist/.
const path = require('node:path');
const fs = require('node:fs');

const main = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  console.error('objhash: not built: run `npm run build` (or `npm ci`) in ' + path.join(__dirname, '..'));
  process.exit(1);
}
// `objhash dump IMAGE | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
process.exitCode = require(main).main(process.argv.slice(2));
