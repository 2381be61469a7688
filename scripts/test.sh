#!/usr/bin/env bash
# `npm test`: install the real peers if missing, build, run every test.
# The container-image test (build with buildah, run, check) runs too: the local base images it
# needs are built once when missing (`bash scripts/test-image.sh --bases`, a few minutes).
# MTLS_GATEWAY_IMAGE_TEST=0 leaves it out, =1 makes a failure to build the bases fatal; otherwise
# a skipped image test is printed after vitest's summary as something that needs attention.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peers.sh
npm run build --silent
image_skip=""
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
echo "image test: ${MTLS_GATEWAY_IMAGE_TEST} (1 = buildah image built and tested in this run)"
status=0
npx vitest run "$@" || status=$?
if [ -n "$image_skip" ]; then
  printf '\n*** SKIPPED, needs attention: the container image test (test/delivery/image.test.ts) did not run: %s ***\n' "$image_skip" >&2
fi
exit "$status"
