#!/usr/bin/env bash
# Builds an earlier release once into the cache and prints its directory:
#
#   bash scripts/previous-release.sh COMMIT
#
# The commit is exported (git archive) into ${MTLS_GATEWAY_CACHE:-~/.cache/mtls-gateway}/previous-releases/<sha>,
# given this clone's node_modules and built with its own tsconfig. Used by scripts/rolling-upgrade.sh
# and by test/store/rolling-upgrade.test.ts (the release the suite runs beside this one).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bash scripts/previous-release.sh COMMIT" >&2; exit 2; }
cache=${MTLS_GATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mtls-gateway}/previous-releases
sha=$(git rev-parse --verify "$1^{commit}")
dest=$cache/$sha
if [ ! -f "$dest/dist/src/main.js" ]; then
  printf '[previous-release] building %s (%s) in %s\n' "$1" "$sha" "$dest" >&2
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  git archive "$sha" | tar -x -C "$dest.tmp"
  ln -s "$PWD/node_modules" "$dest.tmp/node_modules"
  (cd "$dest.tmp" && npx tsc -p tsconfig.json) || { rm -rf "$dest.tmp"; echo "$1 does not build" >&2; exit 1; }
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
fi
# The clone that built it may be gone: the release always runs on this clone's node_modules.
ln -sfn "$PWD/node_modules" "$dest/node_modules"
printf '%s\n' "$dest"
