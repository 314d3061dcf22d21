#!/usr/bin/env bash
# Compatibility wrapper: the old runbooks call `cluster_power_recovery.sh <mode> [--execute]`.
# Every mode is now `hecate <mode>`; flags pass through unchanged (dry-run unless --execute).
#   cluster_power_recovery.sh shutdown             # prints the shutdown plan
#   cluster_power_recovery.sh startup --execute    # runs the cold-boot recovery
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
root="$(dirname "$here")"

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
  echo "usage: $(basename "$0") prepare|shutdown|startup|harbor-seed|status [--execute] [hecate flags...]" >&2
  echo "This script is a thin wrapper over 'hecate'; see 'hecate --help'." >&2
  exit 2
fi

if command -v hecate >/dev/null 2>&1; then
  exec hecate "$@"
elif [[ -f "$root/dist/cli/main.js" ]]; then
  exec node "$root/dist/cli/main.js" "$@"
else
  exec "$root/node_modules/.bin/tsx" "$root/cli/main.ts" "$@"
fi
