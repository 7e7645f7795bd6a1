#!/usr/bin/env bash
# npm run test:asan - the vitest suite against an ASan+UBSan build of the
# addon.
#
# The sanitized addon is built apart from the normal one, in
# build/asan/build/Debug/objhash.node (binding.gyp's objhash_sanitize=1, a
# debug build), so build/Release stays as it is and `bindings` never picks
# the sanitized build up by accident; OBJHASH_ADDON points the loader at it.
# An ASan-instrumented library can only be loaded into a process whose
# first library is the ASan runtime, hence LD_PRELOAD of gcc's libasan;
# detect_leaks=0 because V8 does not free everything at exit by design.
# UBSan findings abort (-fno-sanitize-recover=undefined).
#
# Before the suite, a check that a node process really runs on the
# sanitized addon (libasan and build/asan/... mapped, impl 'native').
# Extra arguments go to vitest (e.g. a test file).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STAGE=$ROOT/build/asan
ADDON=$STAGE/build/Debug/objhash.node

command -v g++ >/dev/null || { echo "test:asan: g++ is needed" >&2; exit 1; }
LIBASAN=$(gcc -print-file-name=libasan.so)
[ -f "$LIBASAN" ] || { echo "test:asan: libasan.so not found (gcc -print-file-name=libasan.so)" >&2; exit 1; }

node scripts/ensure-built.js

# (re)build the sanitized addon when a source is newer than it
stale=1
if [ -f "$ADDON" ]; then
  stale=0
  for f in binding.gyp native/binding/*.cc native/binding/*.h native/*.c native/*.h; do
    [ "$f" -nt "$ADDON" ] && stale=1
  done
fi
if [ "$stale" = 1 ]; then
  echo "test:asan: building the ASan+UBSan addon in build/asan"
  rm -rf "$STAGE"
  mkdir -p "$STAGE"
  cp binding.gyp "$STAGE/"
  ln -s "$ROOT/native" "$STAGE/native"
  # the headers npm install used (npm config nodedir), else node-gyp's own
  nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
  args=(rebuild --directory="$STAGE" --debug --objhash_sanitize=1)
  case "$nodedir" in ''|undefined|null) ;; *) args+=(--nodedir="$nodedir") ;; esac
  node node_modules/node-gyp/bin/node-gyp.js "${args[@]}" >"$STAGE/build.log" 2>&1 || { cat "$STAGE/build.log"; echo "test:asan: build failed" >&2; exit 1; }
fi
[[ "$(nm -D --undefined-only "$ADDON")" == *__asan_init* ]] || { echo "test:asan: $ADDON is not instrumented" >&2; exit 1; }

export LD_PRELOAD=$LIBASAN
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:detect_odr_violation=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OBJHASH_ADDON=$ADDON
# the native half of every test file (describe.each over IMPLS): the
# twin's half runs no native code, and ran in the suite already
export OBJHASH_IMPL=${OBJHASH_IMPL:-native}

node -e '
  const fs = require("node:fs");
  const o = require("./dist/lib/index.js");
  const maps = fs.readFileSync("/proc/self/maps", "utf8");
  if (o.impl !== "native") throw new Error("impl is " + o.impl + ": " + o.nativeLoadError());
  if (!maps.includes(process.env.OBJHASH_ADDON)) throw new Error("the sanitized addon is not mapped");
  if (!/libasan/.test(maps)) throw new Error("libasan is not mapped");
  const T = o.defineObjType({ name: "t", checkpoint: (c) => void c.begin(101).end(), restore: (c) => (c.readRecord(101), {}) });
  o.restart(o.checkpoint({}, T, { types: [T] }), T, { types: [T] });
  console.log("test:asan: running on " + process.env.OBJHASH_ADDON);
'
exec npx vitest run "$@"
