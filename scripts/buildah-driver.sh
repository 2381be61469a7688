#!/usr/bin/env bash
# Prints the storage driver scripts/test-image.sh and the image test give buildah: overlay when
# this machine can mount an overlay on the storage's file system as this user, else vfs.
# vfs copies the whole root file system for every container and every committed layer (the
# 600 MB build base several times per build); overlay shares the layers. Both drivers keep their
# images apart in the same storage (vfs-images, overlay-images), so a switch finds no images made
# under the other (scripts/test-image.sh copies the bases over). MTLS_GATEWAY_BUILDAH_DRIVER
# overrides the probe.
set -euo pipefail
if [ -n "${MTLS_GATEWAY_BUILDAH_DRIVER:-}" ]; then echo "$MTLS_GATEWAY_BUILDAH_DRIVER"; exit 0; fi
root=/var/lib/containers/storage
mkdir -p "$root" 2>/dev/null || { echo vfs; exit 0; }
probe=$(mktemp -d "$root/.overlay-probe.XXXXXX" 2>/dev/null) || { echo vfs; exit 0; }
trap 'umount "$probe/merged" 2>/dev/null || true; rm -rf "$probe"' EXIT
mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null \
  && touch "$probe/merged/written" 2>/dev/null; then
  echo overlay
else
  echo vfs
fi
