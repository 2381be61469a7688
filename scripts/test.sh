#!/usr/bin/env bash
# `npm test`: install the real peers if missing, build, run every test.
# The container-image test (build with buildah, run, check) joins when the local base images
# it needs are already built on this machine (`npm run test:image` builds them once, ~3 min);
# MTLS_GATEWAY_IMAGE_TEST=1 forces it, =0 leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-peers.sh
npm run build --silent
if [ -z "${MTLS_GATEWAY_IMAGE_TEST:-}" ] && bash scripts/test-image.sh --bases-cached >/dev/null 2>&1; then
  export MTLS_GATEWAY_IMAGE_TEST=1
fi
echo "image test: ${MTLS_GATEWAY_IMAGE_TEST:-0} (1 = buildah image built and tested in this run)"
exec npx vitest run "$@"
