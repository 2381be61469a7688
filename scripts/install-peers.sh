#!/usr/bin/env bash
# Installs the real peers the test suite talks to (Debian packages; needs root or sudo):
# nginx, HAProxy, tinyproxy, Linux perf, openssl, curl, python3-oauthlib, python3-jwcrypto, chromium
# (the headless browser of the OAuth dance test, driven by playwright-core), redis-server and
# redis-sentinel (the store tests start their own TLS, Sentinel and Cluster servers), php-cli (PHP's
# own parameter parsing judges what the gateway sends beside query fields), prometheus (for its promtool:
# the real Prometheus engine checks the Helm chart's alert rules and runs them on the gateway's scrapes;
# the Prometheus server the package would run is stopped and disabled).
# Idempotent: does nothing when everything is present.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
# nginx's echo module lets the benchmark's upstream read request bodies before answering.
dpkg -s libnginx-mod-http-echo >/dev/null 2>&1 || need+=(libnginx-mod-http-echo)
command -v tinyproxy >/dev/null 2>&1 || need+=(tinyproxy)
# Linux perf: the benchmark's all-thread CPU split (kernel, copies, OpenSSL, GC and compiler threads).
command -v perf >/dev/null 2>&1 || need+=(linux-perf)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v php >/dev/null 2>&1 || need+=(php-cli)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
/usr/bin/python3 -c 'import oauthlib' >/dev/null 2>&1 || need+=(python3-oauthlib)
/usr/bin/python3 -c 'import jwcrypto' >/dev/null 2>&1 || need+=(python3-jwcrypto)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "install-peers: installing ${need[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's prometheus package enables its server and starts it where services may start (not under a
# policy-rc.d that denies, as in containers): it would listen on :9090, the gateway's admin default.
# Only promtool is wanted, so disable the service (systemctl does so offline too, and syncs the SysV
# links) and stop a server that started.
if [[ " ${need[*]} " == *" prometheus "* ]]; then
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable prometheus.service >/dev/null 2>&1 || true; fi
  if command -v update-rc.d >/dev/null 2>&1; then $SUDO update-rc.d prometheus disable >/dev/null 2>&1 || true; fi
  if [ -d /run/systemd/system ]; then $SUDO systemctl stop prometheus.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then $SUDO /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
fi
