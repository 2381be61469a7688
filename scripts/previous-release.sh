#!/usr/bin/env bash
# Builds an earlier release once into the cache and prints its directory:
#
#   bash scripts/previous-release.sh COMMIT
#
# The commit is exported (git archive) into ${MTLS_GATEWAY_CACHE:-~/.cache/mtls-gateway}/previous-releases/<sha>,
# given this clone's node_modules and built as its `npm run build` does: its own tsconfig, then its
# bundle step when it has one (scripts/bundle.ts, since b361681d), so it starts as its image does
# (the unbundled program took about twice the CPU per start; the test starts it a dozen times).
# A build cached without the bundle its release has is built again. Used by scripts/rolling-upgrade.sh
# and by test/store/rolling-upgrade.test.ts (the release the suite runs beside this one).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: bash scripts/previous-release.sh COMMIT" >&2; exit 2; }
cache=${MTLS_GATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mtls-gateway}/previous-releases
sha=$(git rev-parse --verify "$1^{commit}")
dest=$cache/$sha
built() { [ -f "$1/dist/src/main.js" ] && { [ ! -f "$1/scripts/bundle.ts" ] || [ -f "$1/dist/bundle-meta.json" ]; }; }
if ! built "$dest"; then
  printf '[previous-release] building %s (%s) in %s\n' "$1" "$sha" "$dest" >&2
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  git archive "$sha" | tar -x -C "$dest.tmp"
  ln -s "$PWD/node_modules" "$dest.tmp/node_modules"
  (cd "$dest.tmp" && npx tsc -p tsconfig.json && { [ ! -f dist/scripts/bundle.js ] || node dist/scripts/bundle.js; }) || { rm -rf "$dest.tmp"; echo "$1 does not build" >&2; exit 1; }
  # Moved aside, not removed first: a process still running the old build finds its files (tsc's
  # output stays beside the bundle) at the same paths.
  old=$dest.old.$$
  [ ! -e "$dest" ] || mv "$dest" "$old"
  mv "$dest.tmp" "$dest" && rm -rf "$old"
fi
# The clone that built it may be gone: the release always runs on this clone's node_modules.
ln -sfn "$PWD/node_modules" "$dest/node_modules"
printf '%s\n' "$dest"
