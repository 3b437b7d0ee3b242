#!/usr/bin/env bash
# Benchmark of the tray app at rest: the packaged (release, stripped) printscout-app with
# 50 simulated printers on loopback (the bench_collector farm: one SNMP agent per
# address on 127.0.30.x, each its own serial), default schedule (status every 5 min,
# meters every hour), on a virtual display with a private D-Bus session, dunst and a tray.
#   1. window closed (started with --hidden, as at login): after SETTLE s, resident
#      memory of the app and every process it started (WebKit's), then CPU over IDLE s
#      (default 600 = 10 minutes) from /proc — targets: < 150 MB RSS, < 0.5 % of a core;
#   2. for comparison, the same with the window open (RSS only);
#   3. the headless service (`printscout run`) on the same data, same settle (RSS).
# Prints the package sizes too. Every packet stays on 127.0.0.0/8.
# usage: scripts/bench-app.sh [--count 50] [--settle 60] [--idle 600]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=50 SETTLE=60 IDLE=600
while [ $# -gt 0 ]; do
  case $1 in
    --count) COUNT=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    *) echo "usage: scripts/bench-app.sh [--count N] [--settle S] [--idle S]" >&2; exit 2 ;;
  esac
done
if [ "${PRINTSCOUT_BENCH_INNER:-}" != 1 ]; then
  bash scripts/setup.sh > /dev/null
  [ -x target/release/printscout-app ] && [ -f target/release/bundle/deb/PrintScout_0.1.0_amd64.deb ] ||
    bash scripts/package.sh
  cargo build --workspace --examples --bins --quiet
  cargo build --release -p printscout --quiet
  exec dbus-run-session -- env PRINTSCOUT_BENCH_INNER=1 bash "$0" --count "$COUNT" --settle "$SETTLE" --idle "$IDLE"
fi

APP=$PWD/target/release/printscout-app
CLI=$PWD/target/release/printscout
tmp=$(mktemp -d)
pids=()
farm_pid=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  exec 3>&- 2> /dev/null || true
  [ -n "$farm_pid" ] && wait "$farm_pid" 2> /dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export PRINTSCOUT_TOOLS_HOME=${PRINTSCOUT_TOOLS_HOME:-$HOME/.cache/printscout}
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config XDG_DATA_HOME=$tmp/home/.local/share
export XDG_CACHE_HOME=$tmp/home/.cache XDG_RUNTIME_DIR=$tmp/run NO_AT_BRIDGE=1
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
display=
for n in $(seq 150 190); do
  [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { display=$n; break; }
done
Xvfb ":$display" -screen 0 1280x900x24 -nolisten tcp > /dev/null 2>&1 &
pids+=($!)
export DISPLAY=:$display
sleep 1
dunst -config /dev/null > /dev/null 2>&1 &
pids+=($!)
trayer --edge top --align right --widthtype pixel --width 48 --heighttype pixel --height 32 > /dev/null 2>&1 &
pids+=($!)

# The farm and a data directory holding its printers.
mkdir -p "$tmp/data"
mkfifo "$tmp/farm.in"
target/debug/examples/bench_collector --count "$COUNT" --farm-only "$tmp/data" < "$tmp/farm.in" > "$tmp/farm.out" 2>&1 &
farm_pid=$!
exec 3> "$tmp/farm.in"
for _ in $(seq 1 600); do
  grep -q '^ready' "$tmp/farm.out" && break
  kill -0 "$farm_pid" 2> /dev/null || { cat "$tmp/farm.out" >&2; exit 1; }
  sleep 0.2
done
read -r _ added port < <(grep '^ready' "$tmp/farm.out")
echo "farm: $added printers on 127.0.30.x port $port (loopback)"

# tree PID: the PIDs of a process and all its descendants.
tree() {
  local p=$1
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2> /dev/null); do tree "$c"; done
}
# rss_kb PID: resident memory of the process tree (kB), and the process count.
rss_kb() {
  local total=0 n=0 kb
  for p in $(tree "$1"); do
    kb=$(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status 2> /dev/null || echo 0)
    total=$((total + ${kb:-0}))
    n=$((n + 1))
  done
  echo "$total $n"
}
# cpu_ticks PID: user+system clock ticks of the tree (live processes).
cpu_ticks() {
  local total=0 t
  for p in $(tree "$1"); do
    t=$(awk '{print $14 + $15}' /proc/"$p"/stat 2> /dev/null || echo 0)
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

# --- 1. window closed ---------------------------------------------------------------
"$APP" --hidden --data-dir "$tmp/data" --api-port 0 > "$tmp/app.log" 2>&1 &
app=$!
pids+=($app)
sleep "$SETTLE"
read -r kb n < <(rss_kb "$app")
echo "app, window closed:  RSS $(mb "$kb") in $n process(es) after ${SETTLE}s with $added printers (target < 150 MB)"
t0=$(cpu_ticks "$app") s0=$(date +%s.%N)
sleep "$IDLE"
t1=$(cpu_ticks "$app") s1=$(date +%s.%N)
hz=$(getconf CLK_TCK)
awk -v t="$((t1 - t0))" -v hz="$hz" -v a="$s0" -v b="$s1" 'BEGIN {
  s = b - a; printf "app, window closed:  CPU %.2f s over %.0f s idle = %.3f %% of one core (target < 0.5 %%)\n", t / hz, s, 100 * t / hz / s }'
read -r kb n < <(rss_kb "$app")
echo "app, window closed:  RSS $(mb "$kb") in $n process(es) at the end"

# --- 2. window open -----------------------------------------------------------------
"$APP" --data-dir "$tmp/data" --api-port 0 > /dev/null 2>&1 || true # single instance: opens the window
sleep 15
read -r kb n < <(rss_kb "$app")
echo "app, window open:    RSS $(mb "$kb") in $n process(es) (WebKit's web and network processes included)"
kill "$app"
for _ in $(seq 1 50); do kill -0 "$app" 2> /dev/null || break; sleep 0.2; done

# --- 3. the headless service on the same data ----------------------------------------
"$CLI" run --data-dir "$tmp/data" --api-port 0 > /dev/null 2>&1 &
svc=$!
pids+=($svc)
sleep "$SETTLE"
read -r kb n < <(rss_kb "$svc")
echo "printscout run:      RSS $(mb "$kb") (the headless service, same printers, same settle)"
kill "$svc"
for f in target/release/bundle/deb/*.deb target/release/bundle/rpm/*.rpm target/release/printscout-app; do
  awk -v f="$f" -v s="$(stat -c %s "$f")" 'BEGIN { printf "package:             %-55s %.2f MiB\n", f, s / 1048576 }'
done
