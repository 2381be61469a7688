#!/usr/bin/env bash
# Gives better-sqlite3 a native build for each Node the suite runs on, side by side.
#
#   bash scripts/sqlite-per-abi.sh NODE_BINARY...
#
# A native module is tied to one Node ABI (process.versions.modules: 115 for Node 20, 127 for
# 22, 137 for 24). better-sqlite3 loads its addon through `bindings`, which tries
# build/Release/ first and lib/binding/node-v<ABI>-<platform>-<arch>/ later. So the build that
# `npm ci` made (build/Release, for the Node that ran npm) is moved to its ABI folder, and each
# other Node gets its own build there, compiled once against that Node's headers and cached by
# better-sqlite3 version and ABI. Every Node then loads its own copy from the same node_modules;
# runs on different Nodes do not disturb each other. Idempotent; re-run after npm ci/rebuild.
#
# Environment: MTLS_GATEWAY_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/mtls-gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${MTLS_GATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mtls-gateway}
module=node_modules/better-sqlite3
[ -d "$module" ] || { echo "sqlite-per-abi.sh: $module missing (run npm ci first)" >&2; exit 1; }
version=$(node -p "require('./$module/package.json').version")
log() { printf '[sqlite-per-abi] %s\n' "$*" >&2; }

# abi_dir NODE: where `bindings` looks for this Node's addon.
abi_dir() { "$1" -p "'$module/lib/binding/node-v' + process.versions.modules + '-' + process.platform + '-' + process.arch"; }
# loads NODE FILE: exit 0 when NODE can load the addon FILE.
loads() { "$1" -e "process.dlopen({ exports: {} }, require('path').resolve(process.argv[1]))" "$2" >/dev/null 2>&1; }

# 1. The build npm made goes to its ABI folder (it was built by the Node that ran npm).
built=$module/build/Release/better_sqlite3.node
if [ -f "$built" ]; then
  if loads node "$built"; then
    dest=$(abi_dir node)
    mkdir -p "$dest" && mv -f "$built" "$dest/better_sqlite3.node"
  else
    rm -f "$built" # built for some other Node: it would shadow every ABI folder
  fi
fi

# 2. Each wanted Node gets its build: from the ABI folder, the cache, or compiled now.
for node_bin in "$@"; do
  dest=$(abi_dir "$node_bin")
  [ -f "$dest/better_sqlite3.node" ] && loads "$node_bin" "$dest/better_sqlite3.node" && continue
  abi=$("$node_bin" -p 'process.versions.modules + "-" + process.platform + "-" + process.arch')
  cached="$cache/better-sqlite3-$version-node-v$abi.node"
  if [ ! -f "$cached" ]; then
    node_dir=$(dirname "$(dirname "$(readlink -f "$node_bin")")")
    [ -f "$node_dir/include/node/node_version.h" ] || { log "no headers in $node_dir/include/node for $node_bin"; exit 1; }
    gyp="$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
    work=$(mktemp -d /tmp/better-sqlite3-build.XXXXXX)
    log "compiling better-sqlite3 $version for Node ABI $abi ($node_bin), once (~2 min)"
    cp -a "$module/package.json" "$module/binding.gyp" "$module/src" "$module/deps" "$work/"
    (cd "$work" && "$node_bin" "$gyp" rebuild --release --nodedir="$node_dir" --jobs=2 >"$work/build.log" 2>&1) \
      || { tail -n 30 "$work/build.log" >&2; rm -rf "$work"; exit 1; }
    loads "$node_bin" "$work/build/Release/better_sqlite3.node" || { log "the new build does not load in $node_bin"; exit 1; }
    mkdir -p "$cache" && cp "$work/build/Release/better_sqlite3.node" "$cached.tmp" && mv "$cached.tmp" "$cached"
    rm -rf "$work"
  fi
  mkdir -p "$dest" && cp "$cached" "$dest/better_sqlite3.node"
done
