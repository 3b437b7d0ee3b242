#!/usr/bin/env bash
# Demo: starts a few synthetic printers on loopback (snmpsim serving
# tests/recordings) and reads each one with `printscout read`, so there is
# something to see on a fresh machine. Installs what it needs first.
# usage: scripts/demo.sh [--json]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh > /dev/null
echo "demo: building (first time takes a few minutes)..."
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
target/debug/printscout-lab snmpsim tests/recordings < "$tmp/in" > "$tmp/lab.out" 2>&1 &
lab_pid=$!
exec 3> "$tmp/in"
for _ in $(seq 1 600); do
  grep -q listening "$tmp/lab.out" 2> /dev/null && break
  kill -0 "$lab_pid" 2> /dev/null || { cat "$tmp/lab.out" >&2; exit 1; }
  sleep 0.1
done
addr=$(awk '/listening/ {print $4}' "$tmp/lab.out")
echo "demo: synthetic printers are answering SNMP on $addr (loopback only)"
echo
for device in mono-laser colour-mfp alerts-errors sentinel-supplies brother-blob windows-print-server; do
  echo "\$ printscout read $addr --community $device ${1:-}"
  target/debug/printscout read "$addr" --community "$device" ${1:+"$1"}
  echo
done
echo "\$ printscout read $addr --community wrong-community --timeout 500ms   # nothing answers"
target/debug/printscout read "$addr" --community wrong-community --timeout 500ms || true
