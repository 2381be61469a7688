#!/usr/bin/env bash
# Runs this build beside earlier releases on one store (a rolling upgrade, and a rollback):
#
#   bash scripts/rolling-upgrade.sh COMMIT...      e.g. bash scripts/rolling-upgrade.sh v1.4.0 HEAD~300
#
# Each COMMIT is built once into the cache by scripts/previous-release.sh (git archive, this clone's
# node_modules, built as its npm run build does); test/store/rolling-upgrade.test.ts then runs against
# it (Redis side by side, SQLite in turn, both directions) with MTLS_GATEWAY_PREVIOUS naming it (the suite runs
# that file beside the one release it pins). Needs what the suite needs (a real Redis, python3 for the
# test provider). Environment: MTLS_GATEWAY_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/mtls-gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: bash scripts/rolling-upgrade.sh COMMIT..." >&2; exit 2; }
log() { printf '[rolling-upgrade] %s\n' "$*" >&2; }

npx tsc -p tsconfig.json && npx tsc -p tsconfig.tests.json
status=0
for rev in "$@"; do
  dest=$(bash scripts/previous-release.sh "$rev") || exit 1
  sha=$(basename "$dest")
  log "this build beside $rev ($sha)"
  MTLS_GATEWAY_PREVIOUS=$dest npx vitest run test/store/rolling-upgrade.test.ts || status=1
done
exit $status
