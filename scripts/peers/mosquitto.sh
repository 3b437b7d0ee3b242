#!/usr/bin/env bash
# Mosquitto, the MQTT broker the Bambu Lab tests run as the printer's LAN-mode broker
# (crates/testkit/src/mosquitto.rs starts it per test with its own config, TLS
# certificates and password file in a temp dir, on 127.0.0.1 only).
#
# usage:
#   scripts/peers/mosquitto.sh install   idempotent: apt package `mosquitto` (broker and
#                                        mosquitto_passwd); does nothing when both are there
#   scripts/peers/mosquitto.sh check     exit 0 when they are installed
#
# The Debian service is never used (the package's own unit may be started by the
# package's postinst on systems with systemd; the tests never talk to it). Debian 12
# ships mosquitto 2.0.11, which is what the tests were written against.
set -euo pipefail

log() { echo "peers/mosquitto.sh: $*" >&2; }

installed() {
  command -v mosquitto > /dev/null 2>&1 && command -v mosquitto_passwd > /dev/null 2>&1
}

install() {
  if installed; then
    log "mosquitto is installed ($(mosquitto -h 2> /dev/null | head -n 1 || true))"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    log "mosquitto is missing and this is not root: run as root (apt-get install mosquitto)"
    exit 1
  fi
  # The image's docker-clean hook deletes /var/cache/apt/archives/*.deb after every dpkg
  # run, which breaks concurrent installs: a private archive dir avoids it.
  cache=$(mktemp -d /tmp/printscout-apt.XXXXXX)
  mkdir -p "$cache/partial"
  trap 'rm -rf "$cache"' EXIT
  apt-get -o DPkg::Lock::Timeout=300 update -qq || log "apt-get update failed; trying anyway"
  for attempt in 1 2 3; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
      -o Dir::Cache::Archives="$cache" install -y -qq --no-install-recommends mosquitto; then
      break
    fi
    log "apt-get install mosquitto failed (attempt $attempt)"
    [ "$attempt" = 3 ] && exit 1
    sleep 5
  done
  installed || { log "mosquitto still missing after the install"; exit 1; }
  log "installed $(mosquitto -h 2> /dev/null | head -n 1 || true)"
}

case "${1:-}" in
  install) install ;;
  check) installed ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
