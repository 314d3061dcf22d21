#!/usr/bin/env bash
# Makes (or finds) the images the bed's real nodes run, without any registry on the internet:
#   localhost/hecate/pause:bed    the real pause, built with `gcc -static` from the Kubernetes module's
#                                 build/pause/linux/pause.c (the version pinned in hack/test-binaries/go.mod);
#   localhost/hecate/busybox:bed  Debian's busybox-static with its applet links: the test workloads' image;
#   localhost/hecate/helper:bed   the helper image, built by buildah from images/helper/Dockerfile on a base made
#                                 from Debian binaries (busybox-static for sh and nsenter, zstd with its libraries).
# Each is a docker-archive tar that `ctr images import` reads (plus the pause binary itself, each node's PID 1), in
#   ${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/hecate}/node-images/<key>/
# where <key> hashes this script, the Dockerfile, the Kubernetes version and the Debian packages' versions, so a
# change to any of them makes new images. linux/amd64 only (the bed's nodes run on this machine's kernel).
#
# Prints the folder on the last line of stdout. Root only (buildah's storage, chroot isolation).
#   --find         print the folder if the images are there, else exit 1; never builds
#   --if-possible  without root or a needed tool, print why and exit 0 (real-node tests then skip);
#                  under CI=true that still fails
set -euo pipefail
mode=build
case "${1:-}" in --find) mode=find ;; --if-possible) mode=if-possible ;; esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
dockerfile="$repo/images/helper/Dockerfile"
k8s_version="$(sed -n 's/^\s*k8s.io\/kubernetes v\(.*\)$/\1/p' "$here/test-binaries/go.mod")"
log() { printf '[setup-node-images] %s\n' "$*" >&2; }
give_up() {
  log "$1"
  if [[ $mode == if-possible && "${CI:-}" != "true" ]]; then log "continuing without them: real-node tests will skip"; exit 0; fi
  exit 1
}

packages=(busybox-static zstd)
versions="$(dpkg-query -W -f '${Package} ${Version}\n' "${packages[@]}" 2>/dev/null || true)"
key="$({ cat "${BASH_SOURCE[0]}" "$dockerfile"; echo "k8s $k8s_version"; echo "$versions"; } | sha256sum | cut -c1-16)"
cache_root="${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hecate}"
out="$cache_root/node-images/$key"
images=(pause busybox helper)
have_all() { [[ -x "$out/pause" ]] || return 1; for i in "${images[@]}"; do [[ -s "$out/$i.tar" ]] || return 1; done; }

if have_all; then
  [[ $mode == find ]] || log "cached: $out"
  echo "$out"; exit 0
fi
[[ $mode == find ]] && exit 1

[[ $(id -u) == 0 ]] || give_up "not root: the real nodes' images are built as root (buildah), and only root runs real nodes"
for tool in buildah gcc go busybox zstd; do
  command -v "$tool" >/dev/null || give_up "$tool is not installed (apt-get install buildah gcc libc6-dev busybox-static zstd; Go >= 1.24)"
done

work="$(mktemp -d /tmp/hecate-node-images.XXXXXX)"
# buildah's own storage lives in the work folder (vfs: no overlay mounts left behind) and goes with it
b() { buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"; }
cleanup() { b rm --all >/dev/null 2>&1 || true; rm -rf "$work" "$out.tmp"; }
trap cleanup EXIT
mkdir -p "$out.tmp"
start=$SECONDS

# A rootfs folder of Debian's busybox-static: /bin/busybox, a link per applet, root in /etc/passwd.
busybox_rootfs() {
  local root="$1"
  mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(busybox --list); do [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$root/etc/group"
}

# `commit NAME ROOTFS CONFIG...`: an image of one layer from a folder, configured by `buildah config` flags.
commit() {
  local name="$1" root="$2"; shift 2
  local c; c="$(b from --quiet scratch)"
  b copy --quiet "$c" "$root" / >/dev/null
  b config --os linux --arch amd64 "$@" "$c"
  b commit --quiet "$c" "$name" >/dev/null
  b rm "$c" >/dev/null
}

log "pause: gcc -static from k8s.io/kubernetes@v$k8s_version build/pause/linux/pause.c"
pause_c="$(cd "$here/test-binaries" && go mod download -json "k8s.io/kubernetes@v$k8s_version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c"
mkdir -p "$work/pause"
gcc -Os -static -DVERSION="v$k8s_version-hecate" -o "$work/pause/pause" "$pause_c"
strip "$work/pause/pause"
cp "$work/pause/pause" "$out.tmp/pause"
commit localhost/hecate/pause:bed "$work/pause" --entrypoint '["/pause"]' --user 65535:65535

log "busybox: Debian's busybox-static ($(busybox | head -1 | cut -d' ' -f2))"
busybox_rootfs "$work/busybox"
commit localhost/hecate/busybox:bed "$work/busybox" --env PATH=/bin --cmd '["sh"]'

log "helper: buildah bud images/helper/Dockerfile on busybox-static + zstd"
busybox_rootfs "$work/base"
mkdir -p "$work/base/usr/bin"
cp /usr/bin/zstd "$work/base/usr/bin/zstd"
# zstd is not static in Debian: its shared libraries (and the loader) come along, at their own paths
for lib in $(ldd /usr/bin/zstd | grep -o '/[^ ]*'); do mkdir -p "$work/base$(dirname "$lib")"; cp -L "$lib" "$work/base$lib"; done
commit localhost/hecate/node-base:bed "$work/base" --env PATH=/usr/bin:/bin
b bud --quiet --isolation chroot --build-arg BASE=localhost/hecate/node-base:bed \
  --tag localhost/hecate/helper:bed --file "$dockerfile" "$(dirname "$dockerfile")" >/dev/null

for i in "${images[@]}"; do
  b push --quiet "localhost/hecate/$i:bed" "docker-archive:$out.tmp/$i.tar:localhost/hecate/$i:bed" >/dev/null
done
rm -rf "$out"; mv "$out.tmp" "$out"   # rename last: a killed run never leaves a half set under the final name
# older sets (another script, Dockerfile or package version) are never used again
find "$cache_root/node-images" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name '*.tmp' -exec rm -rf {} +
log "images built in $((SECONDS - start)) s: $(cd "$out" && du -h ./*.tar | tr '\n\t' '  ')"
echo "$out"
