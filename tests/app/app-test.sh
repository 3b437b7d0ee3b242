#!/usr/bin/env bash
# The tray app itself, on a virtual display, against a small snmpsim lab on loopback:
#   1. it starts (Xvfb + a private D-Bus session + dunst as the notification daemon +
#      trayer as the tray), binds the loopback API and opens its window; the window's
#      UI gets the API address and token over IPC and opens the event stream (seen in
#      the log); screenshot tests/app/screenshots/window.png;
#   2. a second launch exits at once and focuses the first (single instance);
#   3. a printer in error added through the API produces one desktop notification,
#      captured with dbus-monitor (summary and body checked); screenshot
#      notification.png; invoking its action (dunstctl) opens that printer's page;
#   4. the tray icon is docked in trayer; a click opens its menu (screenshot
#      tray-menu.png) and choosing Quit ends the app with status 0 and a clean stop.
# usage: tests/app/app-test.sh [APP_BINARY]     (default target/debug/printscout-app)
# Needs: xvfb, dbus, dunst, trayer, xdotool, imagemagick, curl (scripts/setup.sh), the
# snmpsim venv, and `cargo build --workspace` (the app and printscout-e2e-lab).
# Every packet stays on 127.0.0.0/8; every process started here is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
APP=${1:-$ROOT/target/debug/printscout-app}
LAB=$ROOT/target/debug/printscout-e2e-lab

# Inside a private session bus, so nothing touches the user's desktop.
if [ "${PRINTSCOUT_APP_TEST_INNER:-}" != 1 ]; then
  exec dbus-run-session -- env PRINTSCOUT_APP_TEST_INNER=1 bash "$0" "$@"
fi

for tool in Xvfb dunst dunstctl dbus-monitor trayer xdotool import curl python3; do
  command -v "$tool" > /dev/null || { echo "app-test: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
[ -x "$APP" ] || { echo "app-test: $APP is not built (cargo build --workspace)" >&2; exit 1; }
[ -x "$LAB" ] || { echo "app-test: $LAB is not built (cargo build --workspace)" >&2; exit 1; }

tmp=$(mktemp -d)
shots=$ROOT/tests/app/screenshots
mkdir -p "$shots"
pids=()
lab_pid=
app_pid=
cleanup() {
  local status=$?
  [ -n "$app_pid" ] && kill "$app_pid" 2> /dev/null && sleep 1 && kill -9 "$app_pid" 2> /dev/null
  exec 3>&- 2> /dev/null || true # closing the lab's stdin stops it and snmpsim
  [ -n "$lab_pid" ] && wait "$lab_pid" 2> /dev/null
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  if [ "$status" != 0 ]; then
    echo "--- app log (last 40 lines)" >&2
    tail -n 40 "$tmp/app.log" >&2 2> /dev/null || true
    echo "--- notifications seen" >&2
    cat "$tmp/notify.log" >&2 2> /dev/null || true
    echo "--- lab" >&2
    tail -n 20 "$tmp/lab.err" >&2 2> /dev/null || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
step() { echo "app-test: $*"; }
fail() {
  echo "app-test: FAILED: $*" >&2
  exit 1
}
# wait_for SECONDS DESCRIPTION COMMAND...: polls every 0.2 s.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" > /dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || fail "timed out after ${secs}s waiting for $what"
    sleep 0.2
  done
}

# A private home: WebKit, autostart and the keyring write there, not in ~. The
# tools scripts/setup.sh installed (the snmpsim venv) stay where they are.
export PRINTSCOUT_TOOLS_HOME=${PRINTSCOUT_TOOLS_HOME:-$HOME/.cache/printscout}
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config XDG_DATA_HOME=$tmp/home/.local/share
export XDG_CACHE_HOME=$tmp/home/.cache XDG_RUNTIME_DIR=$tmp/run NO_AT_BRIDGE=1
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# --- the display, the notification daemon, the tray --------------------------------
display=
for n in $(seq 90 140); do
  [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { display=$n; break; }
done
[ -n "$display" ] || fail "no free X display number"
Xvfb ":$display" -screen 0 1280x900x24 -nolisten tcp > "$tmp/xvfb.log" 2>&1 &
pids+=($!)
export DISPLAY=:$display
wait_for 10 "Xvfb" xdotool getdisplaygeometry
dunst -config /dev/null > "$tmp/dunst.log" 2>&1 &
pids+=($!)
dbus-monitor "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" > "$tmp/notify.log" 2>&1 &
pids+=($!)
trayer --edge top --align right --widthtype pixel --width 48 --heighttype pixel --height 32 \
  --transparent false --tint 0xdddddd > "$tmp/trayer.log" 2>&1 &
pids+=($!)

# --- the lab: four printers on 127.0.95.1-4, one of them in error -------------------
mkfifo "$tmp/lab.in"
"$LAB" --base 127.0.95.0 < "$tmp/lab.in" > "$tmp/lab.out" 2> "$tmp/lab.err" &
lab_pid=$!
exec 3> "$tmp/lab.in"
wait_for 90 "the lab" grep -q '^{' "$tmp/lab.out"
read -r port community error_printer < <(python3 -c '
import json, sys
m = json.loads(open(sys.argv[1]).readline())
s = m["snmp"]
bad = [d["address"] for d in s["devices"] if d["recording"] == "alerts-errors"][0]
print(s["port"], s["community"], bad)' "$tmp/lab.out")
step "lab: SNMP on port $port, printer in error at $error_printer"

mkdir -p "$tmp/data"
cat > "$tmp/data/printscout.toml" << EOF
[snmp]
port = $port
timeout = "1s"
[secrets]
store = "file"
[discovery]
broadcast = false
dns_sd = false
local_queues = false
[[credentials]]
name = "lab"
version = "2c"
community = "$community"
EOF

# --- 1. it starts and its window renders ------------------------------------------
PRINTSCOUT_LOG=info,printscout_api::routes::events=debug \
  "$APP" --data-dir "$tmp/data" --api-port 0 --status-every 2s > "$tmp/app.log" 2>&1 &
app_pid=$!
wait_for 60 "the API (api.json)" test -s "$tmp/data/api.json"
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$tmp/data/api.json")
token=$(cat "$tmp/data/api-token")
curl -fsS "${url}api/v1/health" | grep -q '"ok"' || fail "the API health check"
step "the app is running, API at $url"
if [ "${PRINTSCOUT_APP_TEST_EXPECT_UI:-}" = 1 ]; then
  curl -fsS "$url" | grep -q '<div id="app">' || fail "the API does not serve the installed web UI to browsers"
  step "the API serves the installed web UI to browsers"
fi
wait_for 30 "the window" xdotool search --name '^PrintScout$'
wait_for 30 "the window's UI to open the event stream (token over IPC, CORS)" \
  grep -q "a client opened the event stream" "$tmp/app.log"
# The window's area of the screen, in grey levels: "Loading PrintScout…" on a plain
# background measures about 0.01, the rendered Printers screen 0.07 and more.
rendered=
for _ in $(seq 1 30); do
  import -window root "$shots/window.png"
  spread=$(convert "$shots/window.png" -crop 1100x760+0+0 -colorspace gray -format '%[fx:standard_deviation]' info:)
  if awk -v s="$spread" 'BEGIN { exit !(s > 0.04) }'; then
    rendered=1
    break
  fi
  sleep 1
done
[ -n "$rendered" ] || fail "the window still shows a blank or loading page after 30 s (window.png, spread $spread)"
step "the window renders (window.png, spread of grey levels $spread)"

# --- 2. single instance -----------------------------------------------------------
timeout 30 "$APP" --data-dir "$tmp/data" --api-port 0 > "$tmp/second.log" 2>&1 ||
  fail "the second launch did not exit cleanly: $(cat "$tmp/second.log")"
wait_for 10 "the first instance to hear of the second" grep -q "started again" "$tmp/app.log"
kill -0 "$app_pid" || fail "the first instance died"
step "a second launch focused the running one and exited"

# --- 3. a printer error becomes one notification ----------------------------------
curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"address\": \"$error_printer\"}" "${url}api/v1/printers" > "$tmp/added.json" ||
  fail "adding the printer in error"
printer_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["printer"]["id"])' "$tmp/added.json")
wait_for 40 "a notification" grep -q 'string "PrintScout"' "$tmp/notify.log"
sleep 2
notifies=$(grep -c 'member=Notify' "$tmp/notify.log")
[ "$notifies" = 1 ] || fail "expected one grouped notification, saw $notifies"
grep -A3 'string "PrintScout"' "$tmp/notify.log" | grep -Eq 'problems on one printer|Paper jam|Door open|Out of paper|Toner' ||
  fail "the notification's summary: $(grep -A3 'string "PrintScout"' "$tmp/notify.log")"
grep -q "${error_printer%%:*}\|Printer\|printer" "$tmp/notify.log" || fail "the notification's body names no printer"
import -window root "$shots/notification.png"
step "one notification for the printer in error: $(grep -A3 'string "PrintScout"' "$tmp/notify.log" | sed -n 4p | sed 's/^ *string //')"
# dunst's "do action" invokes the notification's default action ("Open").
dunstctl action 0 > /dev/null 2>&1 || true
opened=0
for _ in $(seq 1 25); do
  grep -q "#/printers/$printer_id" "$tmp/app.log" && { opened=1; break; }
  sleep 0.2
done
if [ "$opened" = 1 ]; then
  step "invoking the notification's action opened printer $printer_id's page"
else
  echo "app-test: note: dunst did not invoke the notification's action here; the click path is not checked"
fi

# --- 4. the tray menu, then Quit --------------------------------------------------
wait_for 20 "the tray" xdotool search --onlyvisible --class trayer
# trayer sits at the top right corner, 48 x 32 px, with our icon in it.
read -r screen_w _ < <(xdotool getdisplaygeometry)
xdotool mousemove $((screen_w - 24)) 16 click 3
sleep 1.5
import -window root "$shots/tray-menu.png"
# Quit is the last item: Up from the open menu selects it.
xdotool key Up
sleep 0.3
xdotool key Return
for _ in $(seq 1 100); do
  kill -0 "$app_pid" 2> /dev/null || break
  sleep 0.2
done
if kill -0 "$app_pid" 2> /dev/null; then
  fail "Quit from the tray menu did not end the app"
fi
wait "$app_pid" && status=0 || status=$?
app_pid=
grep -q "quit from the tray menu" "$tmp/app.log" || fail "the app ended, but not through the tray menu's Quit"
[ "$status" = 0 ] || fail "the app exited with $status"
grep -q "stopped" "$tmp/app.log" || fail "the app did not stop the collector cleanly"
step "the tray menu opened (tray-menu.png) and Quit ended the app with 0"
echo "app-test: all checks passed; screenshots in tests/app/screenshots/"
