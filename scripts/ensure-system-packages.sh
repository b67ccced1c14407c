#!/usr/bin/env bash
# Make sure the programs smp-runner's local mode and its tests use are installed:
# nginx and haproxy (the proxies standing in for a sidecar pair), openssl (mTLS
# certificates), wrk and hey (optional load generators), chromium and its fonts
# (the browser tests, driven by Playwright), prometheus and promtool (the tests
# that evaluate smp-runner's PromQL on a real server). Idempotent: installs only
# what is missing, from Debian's packages, running `apt-get update` at most once.
set -euo pipefail

log() { printf 'ensure-system-packages: %s\n' "$*" >&2; }

# command -> Debian package
declare -A PACKAGES=(
  [nginx]=nginx
  [haproxy]=haproxy
  [openssl]=openssl
  [wrk]=wrk
  [hey]=hey
  [chromium]=chromium
  [prometheus]=prometheus
  [promtool]=prometheus
)
# Fonts are not commands; they are checked by their directories.
FONT_PACKAGES=(fonts-liberation fonts-dejavu-core)

have() {
  # nginx and haproxy live in /usr/sbin, which is not on every PATH.
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]
}

missing=()
for cmd in nginx haproxy openssl wrk hey chromium prometheus promtool; do
  if ! have "$cmd"; then
    pkg=${PACKAGES[$cmd]}
    # prometheus and promtool come in one package: name it once.
    [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
  fi
done
for pkg in "${FONT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  log "nginx, haproxy, openssl, wrk, hey, chromium, prometheus and fonts are installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  log "need root to install: ${missing[*]} (run: apt-get install ${missing[*]})"
  exit 1
fi

log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep the packages' maintainer scripts from starting nginx/haproxy/prometheus as
# system services: smp-runner and the tests start their own instances on free
# loopback ports (Debian's prometheus would otherwise listen on :9090 and scrape
# itself).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed ${missing[*]}"
