#!/usr/bin/env bash
# OctoPrint 1.11.8 (PyPI `octoprint`) in its own venv, the peer of the OctoPrint tests
# (crates/testkit/src/octoprint.rs starts it; crates/engine/tests/fab_octoprint.rs).
#
# usage:
#   scripts/peers/octoprint.sh install   create/repair $PRINTSCOUT_TOOLS_HOME/venv-octoprint
#                                        (idempotent: ~1 s when up to date, ~20-40 s to build)
#   scripts/peers/octoprint.sh check     exit 0 when the venv is there and pinned, else 1
#   scripts/peers/octoprint.sh path      print the venv's directory
#
# Every package is pinned (OctoPrint and the exact versions it resolved to when this was
# checked, with Python 3.11), so a new release of a dependency cannot change the peer.
# Needs python3 with venv (Debian: python3-venv) and the package index; nothing else.
# PRINTSCOUT_TOOLS_HOME: default ~/.cache/printscout.
set -euo pipefail

TOOLS_HOME=${PRINTSCOUT_TOOLS_HOME:-$HOME/.cache/printscout}
VENV=$TOOLS_HOME/venv-octoprint
MARKER=$VENV/.printscout-pins

PINS=(
  'OctoPrint==1.11.8'
  'OctoPrint-FileCheck==2025.7.23' 'OctoPrint-FirmwareCheck==2025.7.23'
  'OctoPrint-PiSupport==2025.7.23'
  'annotated-types==0.8.0' 'argon2-cffi==25.1.0' 'argon2-cffi-bindings==26.2.0'
  'babel==2.16.0' 'blinker==1.8.2' 'cachelib==0.13.0' 'certifi==2026.10.18'
  'cffi==2.1.1' 'charset-normalizer==3.5.2' 'click==8.2.1' 'colorlog==6.12.0'
  'Deprecated==1.3.1' 'emoji==2.16.0' 'feedparser==6.0.14' 'feedparser-sgmllib==2.1.0'
  'filetype==1.2.0' 'Flask==3.0.3' 'Flask-Assets==2.1.0' 'flask-babel==4.0.0'
  'Flask-Limiter==3.8.0' 'Flask-Login==0.6.3' 'frozendict==2.5.1' 'future==1.0.0'
  'idna==3.20' 'ifaddr==0.2.0' 'itsdangerous==2.2.0' 'Jinja2==3.1.6' 'libpass==1.9.4'
  'limits==4.8.0' 'Markdown==3.7' 'markdown-it-py==4.3.0' 'MarkupSafe==3.0.4'
  'mdurl==0.1.2' 'more-itertools==11.2.1' 'netaddr==1.3.0' 'netifaces==0.11.0'
  'ordered-set==4.1.0' 'packaging==24.2' 'pathvalidate==3.3.1' 'psutil==6.1.1'
  'pycparser==3.12' 'pydantic==2.14.3' 'pydantic_core==2.50.4' 'Pygments==2.21.0'
  'pylru==1.3.3' 'pyserial==3.5' 'pytz==2026.6' 'PyYAML==6.0.3' 'regex==2026.11.15'
  'requests==2.34.2' 'rich==13.9.4' 'sarge==0.1.7.post1' 'semantic-version==2.10.0'
  'sentry-sdk==2.75.0' 'tornado==6.5.10' 'typing-inspection==0.4.5'
  'typing_extensions==4.16.0' 'Unidecode==1.4.0' 'urllib3==2.8.0' 'watchdog==4.0.2'
  'webassets==3.0.0' 'websocket-client==1.8.0' 'Werkzeug==3.0.6' 'wrapt==1.17.3'
  'zeroconf==0.136.2' 'zipstream-ng==1.9.3' 'zope.dottedname==7.1'
)

log() { echo "octoprint.sh: $*" >&2; }

venv_ok() {
  [ -x "$VENV/bin/octoprint" ] || return 1
  [ "$(cat "$MARKER" 2> /dev/null || true)" = "${PINS[*]}" ] || return 1
  "$VENV/bin/python" -c 'import octoprint, yaml; assert octoprint.__version__ == "1.11.8"' \
    > /dev/null 2>&1
}

install() {
  if venv_ok; then
    log "venv-octoprint is up to date ($VENV)"
    return 0
  fi
  command -v python3 > /dev/null || { log "python3 is missing (apt-get install python3-venv)"; return 1; }
  mkdir -p "$TOOLS_HOME"
  local attempt
  for attempt in 1 2; do
    if [ ! -x "$VENV/bin/python" ] || [ "$attempt" = 2 ]; then
      log "creating venv $VENV"
      rm -rf "$VENV"
      python3 -m venv "$VENV"
    fi
    log "pip install OctoPrint==1.11.8 and its ${#PINS[@]} pinned packages"
    rm -f "$MARKER"
    if "$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}"; then
      echo "${PINS[*]}" > "$MARKER"
      venv_ok && { log "venv-octoprint ready"; return 0; }
    fi
    log "the venv does not work yet; rebuilding it"
  done
  log "could not install OctoPrint into $VENV"
  return 1
}

case "${1:-}" in
  install) install ;;
  check) venv_ok ;;
  path) echo "$VENV" ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
