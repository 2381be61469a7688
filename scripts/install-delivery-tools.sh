#!/usr/bin/env bash
# Installs the tools the delivery tests use (Debian packages; needs root or sudo):
#   golang-go + golang-github-masterminds-sprig-dev + golang-gopkg-yaml.v3-dev  the test-only Helm-like renderer
#   yamllint                                                                    lint of the rendered manifests
#   buildah + mmdebstrap (with --image)                                         the image test (no Docker engine here)
# Idempotent: does nothing when everything is present. `--image` also installs the image tools.
set -euo pipefail
want_image=false
for a in "$@"; do
  case "$a" in
    --image) want_image=true ;;
    *) echo "install-delivery-tools: unknown option $a" >&2; exit 2 ;;
  esac
done
# Test files run in parallel and may both call this: one apt-get at a time.
exec 9>"${TMPDIR:-/tmp}/mtls-gateway-delivery-tools.lock"
flock 9
need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || need+=(golang-github-masterminds-sprig-dev)
[ -d /usr/share/gocode/src/gopkg.in/yaml.v3 ] || need+=(golang-gopkg-yaml.v3-dev)
command -v yamllint >/dev/null 2>&1 || need+=(yamllint)
if $want_image; then
  command -v buildah >/dev/null 2>&1 || need+=(buildah)
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "install-delivery-tools: installing ${need[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
$SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}" >/dev/null
