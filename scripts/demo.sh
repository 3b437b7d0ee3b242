#!/usr/bin/env bash
# Run it: starts four synthetic printers on loopback (snmpsim serving tests/recordings at
# 127.0.97.1-4, one of them with a jam, a door open and empty toner), adds them to a demo
# data directory (target/demo), shows one reading in the terminal, then starts the
# PrintScout tray app on them: tray icon, window with the web UI, desktop notifications.
# On a machine without a display the same binary runs the headless service instead and
# says so; open the address it prints in a browser on this computer (the API token is in
# target/demo/api-token). Ctrl-C (or Quit in the tray menu) stops it and the printers.
# Installs what it needs first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh > /dev/null
echo "demo: building (the first time takes several minutes)..."
cargo build --workspace --quiet

tmp=$(mktemp -d)
lab_pid=
cleanup() {
  exec 3>&- 2> /dev/null || true # closing the lab's stdin stops it and its simulator
  [ -n "$lab_pid" ] && wait "$lab_pid" 2> /dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkfifo "$tmp/in"
target/debug/printscout-e2e-lab --base 127.0.97.0 --community demo < "$tmp/in" > "$tmp/lab.out" 2> "$tmp/lab.err" &
lab_pid=$!
exec 3> "$tmp/in"
for _ in $(seq 1 600); do
  grep -q '^{' "$tmp/lab.out" 2> /dev/null && break
  kill -0 "$lab_pid" 2> /dev/null || { cat "$tmp/lab.err" >&2; exit 1; }
  sleep 0.1
done
port=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["snmp"]["port"])' "$tmp/lab.out")
mapfile -t devices < <(python3 -c 'import json,sys; [print(d["address"]) for d in json.loads(open(sys.argv[1]).readline())["snmp"]["devices"]]' "$tmp/lab.out")
echo "demo: synthetic printers are answering SNMP on ${devices[*]} port $port (loopback only)"

data=target/demo
rm -rf "$data"
mkdir -p "$data"
cat > "$data/printscout.toml" << TOML
# The demo's configuration: the synthetic printers' port, no network discovery.
[snmp]
port = $port
[secrets]
store = "file"
[discovery]
broadcast = false
dns_sd = false
local_queues = false
[[credentials]]
name = "demo"
version = "2c"
community = "demo"
TOML
for d in "${devices[@]}"; do
  target/debug/printscout devices add "$d" --community demo --data-dir "$data" > /dev/null
done
echo
echo "\$ printscout read ${devices[0]}:$port --community demo"
target/debug/printscout read "${devices[0]}:$port" --community demo
echo
echo "demo: starting the PrintScout app on these printers (data in $data; Ctrl-C or Quit to stop)"
target/debug/printscout-app --data-dir "$data" --ui-dir ui/dist || true
