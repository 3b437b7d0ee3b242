#!/usr/bin/env bash
# Installs what PrintScout's test suite and demo need on a Debian 12 machine, as root:
#   - apt packages: snmp (snmpget/snmpwalk/snmpbulkwalk), snmpd (net-snmp agent), python3-venv,
#     iproute2 (`ip netns` for the discovery lab), cups-ipp-utils (ippeveprinter, the IPP
#     printer the IPP reading tests start), cups-daemon + cups-client (a private
#     cupsd for the local-spooler tests), avahi-daemon + avahi-utils (DNS-SD announcer
#     inside the lab's namespaces; the tests never start it in the root namespace),
#     curl (the API's DNS-rebinding test), tinyproxy (the proxy peer of the connectivity
#     test), gsettings + its schemas (the GNOME proxy setting), ca-certificates, wrk (the
#     peer figure of scripts/bench-api.sh),
#     dbus + gnome-keyring + libsecret-tools (the
#     secret store's test against a real Secret Service, scripts/test-keyring.sh),
#     the tray app's build (build-essential, pkg-config, libwebkit2gtk-4.1-dev, which brings
#     GTK and D-Bus headers, and libayatana-appindicator3-dev for the tray icon), the
#     browser tests (chromium, driven by playwright-core) and the app's test on a virtual
#     display (xvfb, xauth, dbus-x11, dunst as the notification daemon, trayer as the tray,
#     xdotool, imagemagick for screenshots)
#   - the npm packages (`npm ci`: Vite, TypeScript, uPlot, the Tauri CLI and API,
#     playwright-core) and the built web UI (`npm run build` -> ui/dist, which the tray app
#     embeds at compile time and the API serves)
#   - a Python venv with the SNMP simulator snmpsim 1.2.2 (pinned, see PINS below)
#   - a Python venv with the SMTP server aiosmtpd 1.4.6 (pinned, see SMTP_PINS below), the
#     peer of the e-mailed report's tests (scripts/smtp-peer.py)
# and makes sure the distro's own snmpd service is not left running (it would hold
# 0.0.0.0:161 / 127.0.0.1:161; our tests start their own snmpd on free loopback ports).
#
# usage:
#   scripts/setup.sh           install what is missing (idempotent; ~1 s when all is there)
#   scripts/setup.sh --check   only verify; exit 1 and say what is missing
#
# Locations:
#   PRINTSCOUT_TOOLS_HOME  default ~/.cache/printscout; the venvs are $PRINTSCOUT_TOOLS_HOME/venv-snmpsim
#                          and $PRINTSCOUT_TOOLS_HOME/venv-aiosmtpd
#   PRINTSCOUT_SNMPSIM_BIN is read by crates/testkit to use another snmpsim-command-responder.
set -euo pipefail

TOOLS_HOME=${PRINTSCOUT_TOOLS_HOME:-$HOME/.cache/printscout}
VENV=$TOOLS_HOME/venv-snmpsim
RESPONDER=$VENV/bin/snmpsim-command-responder
PIN_MARKER=$VENV/.printscout-pins

# snmpsim 1.2.2 imports pysmi without declaring it; cryptography is needed for SNMPv3
# privacy (without it every authPriv request fails with "Decryption error").  These
# exact versions were installed together and checked: v2c GETs, v3 MD5/DES, SHA/AES.
PINS=(
  'snmpsim==1.2.2'
  'pysnmp==7.1.30'
  'pysmi==2.0.0'
  'pyasn1==0.6.5'
  'cryptography==50.0.2'
)

MODE=install
case "${1:-}" in
  '') ;;
  --check) MODE=check ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "setup.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

START=$(date +%s)
log() { echo "setup.sh: $*"; }

# --- apt packages -------------------------------------------------------------------

pkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2> /dev/null || true)" = "install ok installed" ]; }
have_cmd() { command -v "$1" > /dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

# Prints the missing ones of the apt packages the tests need.
missing_apt_packages() {
  local need=()
  have_cmd snmpget && have_cmd snmpwalk && have_cmd snmpbulkwalk || need+=(snmp)
  have_cmd snmpd || need+=(snmpd)
  have_cmd ip || need+=(iproute2)
  have_cmd cupsd || need+=(cups-daemon)
  have_cmd ippeveprinter || need+=(cups-ipp-utils)
  have_cmd lpadmin || need+=(cups-client)
  have_cmd avahi-daemon || need+=(avahi-daemon)
  have_cmd avahi-browse || need+=(avahi-utils)
  have_cmd curl || need+=(curl)
  have_cmd tinyproxy || need+=(tinyproxy)
  have_cmd wrk || need+=(wrk)
  have_cmd gsettings || need+=(libglib2.0-bin)
  [ -f /usr/share/glib-2.0/schemas/org.gnome.system.proxy.gschema.xml ] || need+=(gsettings-desktop-schemas)
  [ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
  # the real Secret Service test (scripts/test-keyring.sh)
  have_cmd dbus-run-session || need+=(dbus)
  have_cmd gnome-keyring-daemon || need+=(gnome-keyring)
  have_cmd secret-tool || need+=(libsecret-tools)
  { pkg_installed python3-venv && python3 -c 'import ensurepip, venv' 2> /dev/null; } || need+=(python3-venv)
  # the tray app (src-tauri) and the web UI's tests
  have_cmd cc || need+=(build-essential)
  have_cmd pkg-config || need+=(pkg-config)
  pkg_installed libwebkit2gtk-4.1-dev || need+=(libwebkit2gtk-4.1-dev)
  pkg_installed libayatana-appindicator3-dev || need+=(libayatana-appindicator3-dev)
  have_cmd node || need+=(nodejs)
  have_cmd npm || need+=(npm)
  have_cmd chromium || need+=(chromium)
  have_cmd Xvfb || need+=(xvfb)
  have_cmd xauth || need+=(xauth)
  have_cmd dbus-launch || need+=(dbus-x11)
  have_cmd dunst || need+=(dunst)
  have_cmd trayer || need+=(trayer)
  have_cmd xdotool || need+=(xdotool)
  have_cmd import || need+=(imagemagick)
  echo "${need[@]+"${need[@]}"}"
}

apt_install() {
  # Other apt runs may share this machine, and the image's docker-clean hook deletes
  # /var/cache/apt/archives/*.deb after every dpkg run: a private archive dir keeps
  # concurrent installs from deleting each other's downloads; retry the rest.
  local cache
  cache=$(mktemp -d /tmp/printscout-apt.XXXXXX)
  mkdir -p "$cache/partial"
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update"
  apt-get -o DPkg::Lock::Timeout=300 update -qq || log "apt-get update failed; trying the install anyway"
  local attempt
  for attempt in 1 2 3; do
    log "apt-get install $* (attempt $attempt)"
    if apt-get -o DPkg::Lock::Timeout=300 -o Dir::Cache::Archives="$cache" install -y -qq \
      --no-install-recommends "$@"; then
      rm -rf "$cache"
      return 0
    fi
    sleep $((attempt * 5))
  done
  rm -rf "$cache"
  echo "setup.sh: apt-get install $* failed 3 times" >&2
  return 1
}

# The snmpd package's postinst may start the distro service (user Debian-snmp, pid file
# /run/snmpd.pid).  Stop it through the service manager only; other snmpd processes
# (ours, other test suites') are never touched.
system_snmpd_running() {
  local pid
  for pid in $(pgrep -x snmpd 2> /dev/null || true); do
    if [ -r /run/snmpd.pid ] && [ "$(cat /run/snmpd.pid 2> /dev/null)" = "$pid" ]; then return 0; fi
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q -- '-u Debian-snmp'; then return 0; fi
  done
  return 1
}

stop_system_snmpd() {
  system_snmpd_running || return 0
  log "stopping the distro's snmpd service (it binds port 161)"
  if command -v systemctl > /dev/null 2>&1; then
    systemctl stop snmpd > /dev/null 2>&1 || true
    systemctl disable snmpd > /dev/null 2>&1 || true
  fi
  if system_snmpd_running && command -v service > /dev/null 2>&1; then
    service snmpd stop > /dev/null 2>&1 || true
  fi
  if system_snmpd_running; then
    log "warning: the distro's snmpd is still running (left alone; tests do not use port 161)"
  fi
}

# --- snmpsim venv -------------------------------------------------------------------

venv_ok() {
  [ -x "$RESPONDER" ] || return 1
  [ "$(cat "$PIN_MARKER" 2> /dev/null || true)" = "${PINS[*]}" ] || return 1
  # `--help` prints the usage but exits 1, so look for the usage text; the imports cover
  # the undeclared pysmi dependency and the cipher module SNMPv3 privacy needs.
  local usage
  usage=$("$RESPONDER" --help 2>&1 || true)
  case $usage in "usage: snmpsim-command-responder"*) ;; *) return 1 ;; esac
  "$VENV/bin/python" -c 'import snmpsim.commands.responder, pysmi, cryptography.hazmat.primitives.ciphers' \
    > /dev/null 2>&1
}

install_venv() {
  mkdir -p "$TOOLS_HOME"
  local attempt
  for attempt in 1 2; do
    if [ ! -x "$VENV/bin/python" ] || [ "$attempt" = 2 ]; then
      log "creating venv $VENV"
      rm -rf "$VENV"
      python3 -m venv "$VENV"
    fi
    log "pip install ${PINS[*]}"
    rm -f "$PIN_MARKER"
    if "$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}"; then
      echo "${PINS[*]}" > "$PIN_MARKER"
      venv_ok && return 0
    fi
    log "the venv does not work yet; rebuilding it"
  done
  echo "setup.sh: could not install snmpsim into $VENV" >&2
  return 1
}

# --- aiosmtpd venv (the SMTP peer) ----------------------------------------------------

SMTP_VENV=$TOOLS_HOME/venv-aiosmtpd
SMTP_PIN_MARKER=$SMTP_VENV/.printscout-pins

# aiosmtpd 1.4.6 and the versions of its two dependencies it was checked with:
# scripts/smtp-peer.py plain, with STARTTLS (offered and required), implicit TLS, and
# AUTH PLAIN/LOGIN.  PRINTSCOUT_AIOSMTPD_PYTHON is read by crates/testkit to use another.
SMTP_PINS=(
  'aiosmtpd==1.4.6'
  'atpublic==9.0.0'
  'attrs==26.1.0'
)

smtp_venv_ok() {
  [ -x "$SMTP_VENV/bin/python" ] || return 1
  [ "$(cat "$SMTP_PIN_MARKER" 2> /dev/null || true)" = "${SMTP_PINS[*]}" ] || return 1
  "$SMTP_VENV/bin/python" -c 'import aiosmtpd.smtp, ssl' > /dev/null 2>&1
}

install_smtp_venv() {
  mkdir -p "$TOOLS_HOME"
  local attempt
  for attempt in 1 2; do
    if [ ! -x "$SMTP_VENV/bin/python" ] || [ "$attempt" = 2 ]; then
      log "creating venv $SMTP_VENV"
      rm -rf "$SMTP_VENV"
      python3 -m venv "$SMTP_VENV"
    fi
    log "pip install ${SMTP_PINS[*]}"
    rm -f "$SMTP_PIN_MARKER"
    if "$SMTP_VENV/bin/pip" install -q --disable-pip-version-check "${SMTP_PINS[@]}"; then
      echo "${SMTP_PINS[*]}" > "$SMTP_PIN_MARKER"
      smtp_venv_ok && return 0
    fi
    log "the aiosmtpd venv does not work yet; rebuilding it"
  done
  echo "setup.sh: could not install aiosmtpd into $SMTP_VENV" >&2
  return 1
}

# --- main ---------------------------------------------------------------------------

report() {
  echo "PrintScout tools:"
  echo "  snmpd          $(command -v snmpd || echo /usr/sbin/snmpd)"
  echo "  snmpget        $(command -v snmpget || echo missing)"
  echo "  snmpwalk       $(command -v snmpwalk || echo missing)"
  echo "  snmpsim venv   $VENV (${PINS[*]})"
  echo "  snmpsim        $RESPONDER"
  echo "  aiosmtpd venv  $SMTP_VENV (${SMTP_PINS[*]})"
  echo "  (override with PRINTSCOUT_TOOLS_HOME, or PRINTSCOUT_SNMPSIM_BIN for the responder)"
}

if [ "$MODE" = check ]; then
  problems=()
  missing=$(missing_apt_packages)
  [ -z "$missing" ] || problems+=("apt packages missing: $missing")
  venv_ok || problems+=("snmpsim venv missing or not working at $VENV (pins: ${PINS[*]})")
  smtp_venv_ok || problems+=("aiosmtpd venv missing or not working at $SMTP_VENV (pins: ${SMTP_PINS[*]})")
  for peer in "$(cd "$(dirname "$0")" && pwd)"/peers/*.sh; do
    [ -f "$peer" ] || continue
    bash "$peer" check > /dev/null 2>&1 || problems+=("peer missing: $(basename "$peer" .sh) (run $peer install)")
  done
  if system_snmpd_running; then
    log "note: the distro's snmpd service is running (port 161); tests do not need it"
  fi
  if [ ${#problems[@]} -gt 0 ]; then
    for p in "${problems[@]}"; do echo "setup.sh --check: $p" >&2; done
    echo "setup.sh --check: run scripts/setup.sh (as root) to install them" >&2
    exit 1
  fi
  report
  log "check passed"
  exit 0
fi

missing=$(missing_apt_packages)
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: apt packages missing ($missing) and not root: run as root" >&2
    exit 1
  fi
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt_install $missing
  missing=$(missing_apt_packages)
  [ -z "$missing" ] || { echo "setup.sh: still missing after install: $missing" >&2; exit 1; }
fi
stop_system_snmpd

if venv_ok; then
  log "snmpsim venv is up to date"
else
  install_venv
fi

if smtp_venv_ok; then
  log "aiosmtpd venv is up to date"
else
  install_smtp_venv
fi

# --- the peers of the IPP and 3D-printer tests ----------------------------------------------
# Each script installs one peer idempotently (pinned versions): OctoPrint and Moonraker in
# their own venvs, mosquitto (Bambu's LAN broker) from apt.
PEERS_DIR=$(cd "$(dirname "$0")" && pwd)/peers
for peer in "$PEERS_DIR"/*.sh; do
  [ -f "$peer" ] || continue
  bash "$peer" install
done

# --- npm packages and the built web UI ---------------------------------------------------

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$ROOT/package-lock.json" ]; then
  if ! cmp -s "$ROOT/package-lock.json" "$ROOT/node_modules/.printscout-lock.json" 2> /dev/null; then
    # `npm install --no-save` installs exactly the locked versions. (`npm ci` refuses this
    # lock: npm drops other platforms' optional packages, e.g. @tauri-apps/cli-darwin-*,
    # from a lock written on Linux, and then calls the lock out of sync.)
    log "npm install (the locked versions)"
    (cd "$ROOT" && npm install --no-save --no-audit --no-fund --loglevel=error &&
      cp package-lock.json node_modules/.printscout-lock.json)
  else
    log "npm packages are up to date"
  fi
  # The tray app embeds ui/dist when it compiles: build it when a source is newer.
  if [ ! -f "$ROOT/ui/dist/index.html" ] ||
    [ -n "$(find "$ROOT/ui" "$ROOT/package.json" -newer "$ROOT/ui/dist/index.html" -type f -not -path '*/dist/*' -print -quit)" ]; then
    log "npm run build (ui/dist)"
    (cd "$ROOT" && npm run build --silent > /dev/null)
  else
    log "ui/dist is up to date"
  fi
fi

report
log "done in $(($(date +%s) - START)) s"
