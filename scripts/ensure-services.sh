#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis the test suite uses are up on 127.0.0.1.
# Starts them when they are installed but stopped; installs them from Debian's
# packages when they are missing entirely (a fresh machine).
set -euo pipefail

log() { printf 'ensure-services: %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "need root to install $*; install them and run again"; exit 1
  fi
  if [ ! -f /var/lib/apt/lists/.meshmark-updated ] ; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && touch /var/lib/apt/lists/.meshmark-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  log "nothing listens on 127.0.0.1:$1 after 30 s"; return 1
}

# PostgreSQL
if ! port_open 5432; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing PostgreSQL"; apt_install postgresql
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 5432
fi
# The suite connects as postgres over TCP; make sure that works without a password.
if ! psql "postgresql://postgres@127.0.0.1:5432/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
  log "cannot connect to postgresql://postgres@127.0.0.1:5432/postgres (need trust auth for 127.0.0.1)"
  exit 1
fi

# Redis
if ! port_open 6379; then
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing Redis"; apt_install redis-server
  fi
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_port 6379
fi
log "PostgreSQL and Redis are up"
