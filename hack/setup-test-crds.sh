#!/usr/bin/env bash
# Fetches (or finds) the upstream CRDs the test bed and the demo install: Flux's sources, Kustomization and
# HelmRelease, Longhorn's Volume and Replica. They come from the pinned Go modules in hack/test-crds/modules.txt
# (the envtest convention: CRDs read from the module cache), one file per CRD, named <plural>.<group>.yaml.
#
# Lookup order:
#   1. $HECATE_TEST_CRDS, when it holds every CRD file (for people who keep the CRDs elsewhere);
#   2. the cache, ${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/hecate}/test-crds/<checksum>/;
#   3. otherwise `go mod download` each module and copy its CRDs into that cache.
#
# Prints the folder on the last line of stdout; progress goes to stderr.
# --if-possible: on a machine without Go, print why and exit 0 (integration tests then skip with a reason);
# under CI=true a missing Go still fails.
set -euo pipefail
if_possible=false
[[ "${1:-}" == "--if-possible" ]] && if_possible=true

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
list="$here/test-crds/modules.txt"
log() { printf '[setup-test-crds] %s\n' "$*" >&2; }

# "module@version file crd" for every line of the list, comments and blank lines dropped.
entries() { sed -e 's/#.*//' -e '/^\s*$/d' "$list"; }
names() { entries | awk '{print $3}'; }
have_all() { local dir="$1" name; while read -r name; do [[ -s "$dir/$name.yaml" ]] || return 1; done < <(names); }

if [[ -n "${HECATE_TEST_CRDS:-}" ]] && have_all "$HECATE_TEST_CRDS"; then
  log "using HECATE_TEST_CRDS=$HECATE_TEST_CRDS"
  echo "$HECATE_TEST_CRDS"; exit 0
fi

cache_root="${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hecate}"
# Named after the list and this script (which renders the files): a change to either fetches again.
# NOTE: bed/crds.ts names the folder the same way.
tag="$(cat "$list" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
out="$cache_root/test-crds/$tag"
if have_all "$out"; then
  log "cached: $out"
  echo "$out"; exit 0
fi

if ! command -v go >/dev/null; then
  log "go is not installed: install Go >= 1.24, or set HECATE_TEST_CRDS to a folder holding $(names | sed 's/$/.yaml/' | paste -sd' ')"
  if $if_possible && [[ "${CI:-}" != "true" ]]; then log "continuing without them: integration tests will skip"; exit 0; fi
  exit 1
fi

# Outside any module, so the versions above are the only ones asked for.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
declare -A dirs=()
while read -r module file name; do
  if [[ -z "${dirs[$module]:-}" ]]; then
    log "downloading $module"
    dirs[$module]="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$module" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
    [[ -d "${dirs[$module]}" ]] || { log "go mod download $module gave no folder"; exit 1; }
  fi
  src="${dirs[$module]}/$file"
  [[ -f "$src" ]] || { log "$module has no $file"; exit 1; }
  # The one YAML document whose metadata.name is the CRD's name (controller-gen writes it at two spaces).
  awk -v want="$name" '
    function flush() { if (doc ~ ("\n  name: " want "\n") && doc ~ /\nkind: CustomResourceDefinition\n/) { printf "%s", doc; found++ } doc = "\n" }
    BEGIN { doc = "\n" }
    /^---[ \t]*$/ { flush(); next }
    { doc = doc $0 "\n" }
    END { flush(); if (found != 1) exit 1 }
  ' "$src" | sed '1d' > "$work/$name.yaml.raw" || { log "$file in $module does not hold exactly one CRD $name"; exit 1; }
  # Longhorn keeps its CRDs as a Helm template. Render its two expressions as a plain install on the bed needs
  # them: the chart's common labels (the CRD keeps its own), and the conversion webhook, a Service of a Longhorn
  # install that the bed does not run, replaced by "None" (only v1beta2 is served, so nothing is ever converted).
  awk '
    /^  labels: \{\{-? *include "longhorn\.labels".*\}\}$/ { print "  labels:"; next }
    /^  conversion:$/ { print; print "    strategy: None"; skip = 1; next }
    skip && /^    / { next }
    { skip = 0; print }
  ' "$work/$name.yaml.raw" > "$work/$name.yaml"
  rm "$work/$name.yaml.raw"
  if grep -n '{{' "$work/$name.yaml" >&2; then log "$name from $module holds template expressions this script does not render"; exit 1; fi
  log "$name from $module"
done < <(entries)

mkdir -p "$(dirname "$out")"
rm -rf "$out.tmp"
mkdir "$out.tmp"
cp "$work"/*.yaml "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"   # rename last: a killed run never leaves a partial folder under the final name
echo "$out"
