#!/usr/bin/env bash
# Runs this build beside earlier releases on one store (a rolling upgrade, and a rollback):
#
#   bash scripts/rolling-upgrade.sh COMMIT...      e.g. bash scripts/rolling-upgrade.sh v1.4.0 HEAD~300
#
# Each COMMIT is exported (git archive) once into the cache, given this clone's node_modules and
# built with its own tsconfig; test/store/rolling-upgrade.test.ts then runs against it (Redis side
# by side, SQLite in turn, both directions) with MTLS_GATEWAY_PREVIOUS naming it. The suite skips
# that file: it builds no other release. Needs what the suite needs (a real Redis, python3 for the
# test provider). Environment: MTLS_GATEWAY_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/mtls-gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: bash scripts/rolling-upgrade.sh COMMIT..." >&2; exit 2; }
cache=${MTLS_GATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mtls-gateway}/previous-releases
log() { printf '[rolling-upgrade] %s\n' "$*" >&2; }

npx tsc -p tsconfig.json && npx tsc -p tsconfig.tests.json
status=0
for rev in "$@"; do
  sha=$(git rev-parse --verify "$rev^{commit}")
  dest=$cache/$sha
  if [ ! -f "$dest/dist/src/main.js" ]; then
    log "building $rev ($sha) in $dest"
    rm -rf "$dest" && mkdir -p "$dest"
    git archive "$sha" | tar -x -C "$dest"
    ln -s "$PWD/node_modules" "$dest/node_modules"
    (cd "$dest" && npx tsc -p tsconfig.json) || { rm -rf "$dest"; log "$rev does not build"; exit 1; }
  fi
  log "this build beside $rev ($sha)"
  MTLS_GATEWAY_PREVIOUS=$dest npx vitest run test/store/rolling-upgrade.test.ts || status=1
done
exit $status
