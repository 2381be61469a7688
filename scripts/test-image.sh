#!/usr/bin/env bash
# The image test without a Docker engine: builds the Dockerfile with buildah (overlay storage where
# this machine can mount overlays, else vfs: scripts/buildah-driver.sh; chroot isolation) and runs
# test/delivery/image.test.ts against the result.
#
# Base images cannot be pulled here, so this builds them locally first, under the names the
# Dockerfile's build arguments default to (docker.io/library/node:<version>-bookworm[-slim]):
# a minimal Debian bookworm from mmdebstrap plus the Dockerfile's Node version (Node's own Linux
# build from the npm registry via scripts/node24.sh: binary and headers), this machine's npm (as in
# the official images, where the runtime stage must remove it) and CA bundle; the build base also
# has python3, make and g++ for better-sqlite3. They stay in buildah's storage, so later runs skip
# that step (bases an earlier run left in the other driver's images are copied over, not rebuilt).
#
#   bash scripts/test-image.sh                 bases (if missing) + image + image test
#   bash scripts/test-image.sh --build-only    bases (if missing) + image, then print its name
#   bash scripts/test-image.sh --bases-cached  exit 0 when both local bases exist
#   bash scripts/test-image.sh --bases         build the bases if missing, then stop (npm test)
#   bash scripts/test-image.sh --clean         remove the image, its tagged stages, the bases and working containers
#   bash scripts/test-image.sh --help          print this and stop (touches nothing)
#
# The image is built with buildah's layer cache (--layers): a step whose base, instruction and copied
# bytes are unchanged is reused, so better-sqlite3's native compile (npm ci, most of a build) runs
# again only when package.json, package-lock.json, the Dockerfile up to it or the build base change,
# and a change under src/ rebuilds from its `COPY src` on: the image is always this tree's. The build
# and prune stages' results are tagged ($STAGES:build, $STAGES:prune) so that the prune after the
# build keeps them and the layers under them, and removes what earlier builds left.
#
# Environment: MTLS_GATEWAY_IMAGE (default localhost/mtls-gateway:test).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
mode=${1:-all}
usage() { sed -n '2,/^set /{/^#/s/^# \{0,1\}//p;}' "$0"; }
# Before anything probes the machine or its storage.
case "$mode" in
  -h | --help) usage; exit 0 ;;
  all | --build-only | --bases | --bases-cached | --clean) ;;
  *) { echo "test-image.sh: unknown mode '$mode'"; usage; } >&2; exit 2 ;;
esac
IMAGE=${MTLS_GATEWAY_IMAGE:-localhost/mtls-gateway:test}
STAGES=localhost/mtls-gateway-stages
DRIVER=$(bash scripts/buildah-driver.sh)
BUILDAH=(buildah --storage-driver "$DRIVER")

log() { printf '[test-image %s] %s\n' "$(date +%T)" "$*" >&2; }
arg_default() { sed -n "s/^ARG $1=//p" Dockerfile | head -n1; }

NODE_IMAGE=$(arg_default NODE_IMAGE)
BUILD_IMAGE=$(arg_default BUILD_IMAGE)
want_node=$(printf '%s' "$NODE_IMAGE" | sed -n 's/^node:\([0-9.]*\)-.*/\1/p')
build_args=(--build-arg "VERSION=$(node -p "require('./package.json').version")")
RUNTIME_BASE="docker.io/library/$NODE_IMAGE"
BUILD_BASE="docker.io/library/$BUILD_IMAGE"

has_image() { "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; }

case "$mode" in
  --bases-cached)
    has_image "$RUNTIME_BASE" && has_image "$BUILD_BASE"
    exit $?
    ;;
  --clean)
    "${BUILDAH[@]}" rm --all >/dev/null 2>&1 || true
    for i in "$IMAGE" "$STAGES:build" "$STAGES:prune" "$RUNTIME_BASE" "$BUILD_BASE"; do "${BUILDAH[@]}" rmi -f "$i" >/dev/null 2>&1 || true; done
    exit 0
    ;;
  *) ;;
esac

bash scripts/install-delivery-tools.sh --image

# make_base TAG [extra Debian packages…]: mmdebstrap minbase + Node from $node_prefix → TAG.
make_base() {
  local tag=$1; shift
  local include=ca-certificates
  for p in "$@"; do include="$include,$p"; done
  local work npm_dir ctr
  work=$(mktemp -d /tmp/mtls-gateway-base.XXXXXX)
  trap 'rm -rf "$work"' RETURN
  log "building local base $tag (mmdebstrap bookworm minbase + $include + Node $want_node)"
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$work/rootfs.tar" >&2
  log "$tag: Debian root file system ready; adding Node and committing"
  npm_dir="$(npm prefix -g)/lib/node_modules/npm"
  mkdir -p "$work/node/usr/local/bin" "$work/node/usr/local/lib/node_modules" "$work/node/usr/local/include" "$work/node/usr/local/etc" "$work/node/etc/ssl/certs"
  cp "$node_prefix/bin/node" "$work/node/usr/local/bin/node"
  cp -a "$npm_dir" "$work/node/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/node/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/node/usr/local/bin/npx"
  if [ $# -gt 0 ]; then cp -a "$node_prefix/include/node" "$work/node/usr/local/include/node"; fi
  # This machine reaches the npm registry through an egress proxy with its own CA: trust what the host trusts.
  cp /etc/ssl/certs/ca-certificates.crt "$work/node/etc/ssl/certs/ca-certificates.crt"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' > "$work/node/usr/local/etc/npmrc"
  tar -C "$work/node" -cf "$work/node.tar" .
  ctr=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" add "$ctr" "$work/rootfs.tar" / >/dev/null
  "${BUILDAH[@]}" add "$ctr" "$work/node.tar" / >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env "NODE_VERSION=$want_node" --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    --cmd node --label "org.opencontainers.image.description=local stand-in for $tag (scripts/test-image.sh)" "$ctr"
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$tag" >/dev/null
  log "$tag: committed"
}

# copy_base TAG: the base from the other driver's images in the same storage, if an earlier run made it there.
copy_base() {
  local other=vfs
  if [ "$DRIVER" = vfs ]; then other=overlay; fi
  buildah --storage-driver "$other" inspect --type image "$1" >/dev/null 2>&1 || return 1
  log "copying local base $1 from the $other images"
  "${BUILDAH[@]}" pull --quiet "containers-storage:[$other@/var/lib/containers/storage+/run/containers/storage]$1" >/dev/null
}

t0=$(date +%s)
missing=()
has_image "$RUNTIME_BASE" || copy_base "$RUNTIME_BASE" || missing+=(runtime)
has_image "$BUILD_BASE" || copy_base "$BUILD_BASE" || missing+=(build)
if [ ${#missing[@]} -gt 0 ]; then
  # Once, before the two builds below share it.
  node_prefix=$(MTLS_GATEWAY_NODE_VERSION=$want_node bash scripts/node24.sh)
  # Side by side: neither keeps both cores busy (mostly mmdebstrap fetching and unpacking).
  builders=()
  for base in "${missing[@]}"; do
    if [ "$base" = runtime ]; then make_base "$RUNTIME_BASE" & else make_base "$BUILD_BASE" python3 make g++ & fi
    builders+=($!)
  done
  for pid in "${builders[@]}"; do wait "$pid"; done
fi
t1=$(date +%s)
log "bases ready ($((t1 - t0)) s): $BUILD_BASE, $RUNTIME_BASE"
if [ "$mode" = --bases ]; then exit 0; fi

# bud TAG [options…]: one build of the Dockerfile with the layer cache; each step's line with the
# time it started (where a slow build spends its time) and whether it came from the cache.
bud() {
  local tag=$1; shift
  "${BUILDAH[@]}" bud --isolation chroot --pull-never --layers "$@" \
    "${build_args[@]}" -f Dockerfile -t "$tag" . 2>&1 | while IFS= read -r line; do
    case "$line" in *STEP\ * | COMMIT* | '--> Using cache'*) log "$line" ;; *) printf '%s\n' "$line" ;; esac
  done >&2
}
log "building $IMAGE ($DRIVER storage, layer cache)"
bud "$STAGES:build" --target build
bud "$STAGES:prune" --target prune
bud "$IMAGE"
# Untagged images: the previous build's image and stage results, with the layers only they used.
"${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
t2=$(date +%s)
log "image built ($((t2 - t1)) s): $IMAGE"
"${BUILDAH[@]}" images --noheading "$IMAGE" >&2

if [ "$mode" = --build-only ]; then
  printf '%s\n' "$IMAGE"
  exit 0
fi
MTLS_GATEWAY_IMAGE="$IMAGE" npx vitest run test/delivery/image.test.ts
log "image test done ($(($(date +%s) - t2)) s after the build; $(($(date +%s) - t0)) s in all)"
