#!/usr/bin/env bash
# npm run bench:baseline -- REF [bench flags] - the bench with REF's native
# backend measured beside this checkout's, in the same process and rounds
# (W1 and W6; bench/run.ts --baseline).  The project's rule: a change that
# touches a hot path is run against the previous main in the same run, as
# timings of separate runs on a shared machine differ by more than the
# change.
#
# REF is checked out with `git worktree add --detach` in a temp dir, built
# there (tsc, node-gyp; node_modules is this checkout's, symlinked), and
# removed again at exit.  The bench runs from this checkout, built first as
# `npm run bench` does.
#
#   bash scripts/bench-baseline.sh main --quick --only W1,W6
set -euo pipefail
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: bash scripts/bench-baseline.sh REF [bench flags, e.g. --quick --only W1,W6]" >&2
  exit 2
fi
REF=$1
shift
cd "$(dirname "$0")/.."
ROOT=$PWD
COMMIT=$(git rev-parse --verify --short "$REF^{commit}")

TMP=$(mktemp -d)
WT=$TMP/objhash-$COMMIT
cleanup() {
  # the symlink first: nothing below may reach this checkout's node_modules
  rm -f "$WT/node_modules"
  git -C "$ROOT" worktree remove --force "$WT" 2>/dev/null || true
  git -C "$ROOT" worktree prune
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "bench:baseline: building $REF ($COMMIT) in $WT" >&2
git worktree add --quiet --detach "$WT" "$COMMIT"
ln -s "$ROOT/node_modules" "$WT/node_modules"
(cd "$WT" && npx tsc -p tsconfig.json)
if ! (cd "$WT" && npx node-gyp rebuild >"$TMP/node-gyp.log" 2>&1); then
  # No compiler or no Node headers here: the addon only wraps the C core,
  # whose ABI is the same as long as native/ did not change, so this
  # checkout's build stands in (then the comparison covers lib/ only).
  echo "bench:baseline: node-gyp rebuild failed (log: $TMP/node-gyp.log, removed at exit); using this checkout's build/Release/objhash.node" >&2
  git diff --quiet "$COMMIT" -- native binding.gyp ||
    echo "bench:baseline: warning: native/ or binding.gyp differs from $COMMIT, so its addon is not what $COMMIT would build" >&2
  mkdir -p "$WT/build/Release"
  cp build/Release/objhash.node "$WT/build/Release/"
fi

node scripts/ensure-built.js
node --expose-gc dist/bench/run.js --baseline "$WT" "$@"
