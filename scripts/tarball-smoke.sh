#!/usr/bin/env bash
# The package as a user gets it, on every supported Node line (issue #14):
# `npm pack` (which builds and puts the prebuilt addon in), installed into
# a fresh project with install scripts blocked (as pnpm 10 and Bun do),
# then, under the machine's Node and each line of scripts/node-lines.sh:
# the native backend loads from the prebuild and a shared graph round-trips.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
npm pack --silent --pack-destination "$work" >/dev/null
tgz=$(ls "$work"/objhash-*.tgz)
mkdir "$work/app" && cd "$work/app"
npm init -y >/dev/null
npm install --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error "$tgz"
check='
const m = require("objhash");
if (m.impl !== "native") throw new Error("not native: " + (m.nativeLoadError() && m.nativeLoadError().message));
const shared = { n: 1 }; const v = { a: [shared, shared] }; v.self = v;
const b = m.restart(m.checkpoint(v));
if (b.self !== b || b.a[0] !== b.a[1]) throw new Error("round trip lost identity");
console.log(process.version);'
test ! -d node_modules/objhash/build || { echo "tarball-smoke: something was built at install" >&2; exit 1; }
echo "PASS: packed tarball, scripts blocked, native from the prebuild on Node $(node -e "$check") (the machine's)"
for m in $("$root/scripts/node-lines.sh" list); do
  v=$("$root/scripts/node-lines.sh" run "$m" node -e "$check")
  echo "PASS: packed tarball, scripts blocked, native from the prebuild on Node $v"
done
