#!/usr/bin/env bash
# Builds (or finds) the test binaries: the control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler), kubectl, and the kubelet of the bed's real nodes; first it fetches (or finds) the upstream Flux and
# Longhorn CRDs the bed installs (hack/setup-test-crds.sh). As root it then makes the real nodes' images
# (hack/setup-node-images.sh: pause, a busybox test image and the helper image, from Debian packages).
#
# Lookup order (the envtest convention):
#   1. $KUBEBUILDER_ASSETS, when it holds every binary;
#   2. the cache, ${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/hecate}/test-binaries/<versions>/;
#   3. otherwise build them from the Go modules pinned in hack/test-binaries/go.mod into that cache.
#
# A cache from before the kubelet was added gets only the kubelet built (about 20 s warm, 4 min cold on 2 cores).
#
# Prints the folder on the last line of stdout, so callers can do: KUBEBUILDER_ASSETS=$(hack/setup-test-binaries.sh | tail -1)
# Progress goes to stderr. A cold build takes many minutes on 2 cores; a warm run takes well under a second.
#
# --if-possible: on a machine without Go, print why and exit 0 (integration tests then skip with a reason);
# under CI=true a missing Go still fails.
set -euo pipefail
if_possible=false
[[ "${1:-}" == "--if-possible" ]] && if_possible=true

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/test-binaries"
k8s_version="$(sed -n 's/^\s*k8s.io\/kubernetes v\(.*\)$/\1/p' "$mod/go.mod")"
etcd_version="$(sed -n 's/^\s*go.etcd.io\/etcd\/server\/v3 v\(.*\)$/\1/p' "$mod/go.mod")"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)

# The CRDs first: a small download, and the bed needs both.
"$here/setup-test-crds.sh" "$@" >/dev/null

have_all() { local dir="$1"; for b in "${binaries[@]}"; do [[ -x "$dir/$b" ]] || return 1; done; }
log() { printf '[setup-test-binaries] %s\n' "$*" >&2; }
# The real nodes' images need root (only root runs real nodes); elsewhere the real-node tests skip with the reason.
finish() {
  if [[ $(id -u) == 0 ]]; then "$here/setup-node-images.sh" "$@" >/dev/null; else log "not root: no real-node images"; fi
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]] && have_all "$KUBEBUILDER_ASSETS"; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  finish "$@"; echo "$KUBEBUILDER_ASSETS"; exit 0
fi

cache_root="${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hecate}"
out="$cache_root/test-binaries/k8s-v$k8s_version-etcd-v$etcd_version"
if have_all "$out"; then
  log "cached: $out"
  finish "$@"; echo "$out"; exit 0
fi

if ! command -v go >/dev/null; then
  log "go is not installed: install Go >= 1.24, or set KUBEBUILDER_ASSETS to a folder holding ${binaries[*]}"
  if $if_possible && [[ "${CI:-}" != "true" ]]; then log "continuing without them: integration tests will skip"; exit 0; fi
  exit 1
fi
mkdir -p "$out"
minor="${k8s_version#*.}"; minor="${minor%%.*}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=v$k8s_version"
declare -A pkg=(
  [etcd]=go.etcd.io/etcd/server/v3
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [kubelet]=k8s.io/kubernetes/cmd/kubelet
)
cd "$mod"
log "downloading Go modules (k8s v$k8s_version, etcd v$etcd_version)"
go mod download
i=0
for b in "${binaries[@]}"; do
  i=$((i + 1))
  [[ -x "$out/$b" ]] && { log "[$i/${#binaries[@]}] $b: cached"; continue; }
  start=$SECONDS
  log "[$i/${#binaries[@]}] building $b (${pkg[$b]}) ..."
  CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out/$b.tmp" "${pkg[$b]}"
  mv "$out/$b.tmp" "$out/$b"   # rename last: a killed build never leaves a half binary under the final name
  log "[$i/${#binaries[@]}] $b built in $((SECONDS - start)) s ($(du -h "$out/$b" | cut -f1))"
done
finish "$@"
echo "$out"
