#!/usr/bin/env bash
# Moonraker 0.11.0 (PyPI `moonraker`, Arksine's official package), the Klipper API server
# the Moonraker tests run without Klipper (crates/testkit/src/moonraker.rs).
#
# usage:
#   scripts/peers/moonraker.sh install   idempotent: the venv $PRINTSCOUT_TOOLS_HOME/venv-moonraker
#                                        (default ~/.cache/printscout) with the pins below;
#                                        does nothing when it is already there and working
#   scripts/peers/moonraker.sh check     exit 0 when the venv is there with these pins
#
# Needs python3 with venv (apt: python3-venv) and the package registry; nothing else.
# The tests write Moonraker's config themselves (loopback only, announcements off, an
# empty misc/usb.ids so it downloads nothing); this script never starts it.
set -euo pipefail

TOOLS_HOME=${PRINTSCOUT_TOOLS_HOME:-${HOME:-/root}/.cache/printscout}
VENV=$TOOLS_HOME/venv-moonraker
PIN_MARKER=$VENV/.printscout-pins

# moonraker 0.11.0 and the versions of its dependencies it was checked with (Python 3.11).
PINS=(
  'moonraker==0.11.0'
  'aiofiles==25.1.0'
  'apprise==1.13.0'
  'certifi==2026.10.18'
  'charset-normalizer==3.5.2'
  'click==8.5.1'
  'dbus-fast==5.0.22'
  'distro==1.9.0'
  'idna==3.20'
  'ifaddr==0.2.0'
  'importlib_metadata==9.0.0'
  'inotify-simple==2.0.1'
  'Jinja2==3.1.6'
  'ldap3==2.9.1'
  'libnacl==2.1.0'
  'Markdown==3.11.3'
  'MarkupSafe==3.0.4'
  'oauthlib==4.0.1'
  'paho-mqtt==2.1.0'
  'pillow==12.3.0'
  'preprocess_cancellation==0.2.1'
  'pyasn1==0.6.5'
  'pyserial==3.4'
  'python-periphery==2.4.1'
  'PyYAML==6.0.3'
  'requests==2.34.2'
  'requests-oauthlib==2.0.0'
  'smart_open==9.0.2'
  'streaming-form-data==2.1.0'
  'tornado==6.5.8'
  'urllib3==2.8.0'
  'wrapt==2.5.2'
  'zeroconf==0.150.0'
  'zipp==4.1.2'
)

log() { echo "peers/moonraker.sh: $*" >&2; }

venv_ok() {
  [ -x "$VENV/bin/moonraker" ] || return 1
  [ "$(cat "$PIN_MARKER" 2> /dev/null || true)" = "${PINS[*]}" ] || return 1
  "$VENV/bin/python" -c 'import moonraker.server, tornado' > /dev/null 2>&1
}

install() {
  if venv_ok; then
    log "moonraker venv ready at $VENV"
    return 0
  fi
  mkdir -p "$TOOLS_HOME"
  local attempt
  for attempt in 1 2; do
    if [ ! -x "$VENV/bin/python" ] || [ "$attempt" = 2 ]; then
      log "creating venv $VENV"
      rm -rf "$VENV"
      python3 -m venv "$VENV"
    fi
    log "pip install moonraker==0.11.0 (pinned, ${#PINS[@]} packages)"
    rm -f "$PIN_MARKER"
    if "$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}"; then
      echo "${PINS[*]}" > "$PIN_MARKER"
      venv_ok && { log "moonraker venv ready at $VENV"; return 0; }
    fi
    log "the moonraker venv does not work yet; rebuilding it"
  done
  echo "peers/moonraker.sh: could not install moonraker into $VENV" >&2
  return 1
}

case "${1:-}" in
  install) install ;;
  check)
    venv_ok || { echo "peers/moonraker.sh: no working venv at $VENV (run: $0 install)" >&2; exit 1; }
    ;;
  *)
    awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"
    exit 2
    ;;
esac
