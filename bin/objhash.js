#!/usr/bin/env node
'use strict';
// The objhash command.  The code is lib/cli/ (TypeScript), compiled into
// dist/lib/cli/ by `npm run build`; this launcher only finds it.
const path = require('node:path');
const fs = require('node:fs');

const root = path.join(__dirname, '..');
const main = path.join(root, 'dist', 'lib', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  console.error(`objhash: not built (${path.relative(process.cwd(), main) || main} is missing): run \`npm run build\` in ${root}`);
  process.exitCode = 1;
} else {
  let cli;
  try {
    cli = require(main);
  } catch (e) {
    console.error(`objhash: cannot load ${main}: ${String((e && e.message) || e).split('\n')[0]} (try \`npm run build\`)`);
    process.exitCode = 1;
  }
  if (cli) process.exitCode = cli.main(process.argv.slice(2));
}
