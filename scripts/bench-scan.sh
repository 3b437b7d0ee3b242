#!/usr/bin/env bash
# Benchmark: discovery of the network-namespace lab's /24 (crates/testkit/src/netns.rs:
# 20 SNMP-answering addresses, 234 silent) from its manager namespace, timed IN THE SAME
# RUN for
#   (a) printscout scan 10.77.0.0/24 --json            (default settings; median of --runs)
#   (b) nmap -n -sU -p161 --script snmp-sysdescr 10.77.0.0/24, and for reference the same
#       port scan without the script (the script waits ~5 s for any address that answers
#       nmap's SNMPv3 probe but not the community public, like the lab's office printer)
#   (c) fusioninventory-netdiscovery --first 10.77.0.1 --last 10.77.0.254 --community public
#       --threads 64 --timeout 1                         (--timeout 1 is its documented default;
#                                                       left out, it waits 60 s per silent host)
# each with the printers it found (and how many had model and serial), then
#   (d) printscout scan 10.77.0.0/16 --yes --json       (65,536 addresses, default rate):
#       addresses/s against the configured rate limit.
# Every tool runs inside the lab's manager namespace with a private resolv.conf whose
# resolver does not exist, so reverse lookups fail at once (the host's DNS server is not
# reachable from the lab). Nothing leaves the namespaces the lab creates.
#
# usage: scripts/bench-scan.sh [--runs N] [--no-peers] [--no-16]
# Needs root (network namespaces). Peers missing → install hint, row skipped:
#   apt-get install nmap fusioninventory-agent-task-network
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=3
PEERS=1
SIXTEEN=1
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; shift ;;
    --no-peers) PEERS=0 ;;
    --no-16) SIXTEEN=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench-scan.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" != 0 ]; then
  echo "bench-scan.sh: needs root (it creates network namespaces)" >&2
  exit 1
fi
bash scripts/setup.sh > /dev/null
echo "bench-scan.sh: building (release)"
cargo build --release --workspace --quiet
PS=$ROOT/target/release/printscout
LAB=$ROOT/target/release/printscout-lab

WORK=$(mktemp -d /tmp/printscout-bench-scan.XXXXXX)
LAB_PID=
HOLD=
cleanup() {
  # Closing the lab's stdin makes printscout-lab tear the lab down (by PID, its own
  # namespaces only); wait for it so the namespaces are gone when we exit.
  if [ -n "$HOLD" ]; then exec {HOLD}>&-; fi
  if [ -n "$LAB_PID" ]; then wait "$LAB_PID" 2> /dev/null || true; fi
  [ -s "$WORK/lab.err" ] && grep -h 'lab down' "$WORK/lab.err" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkfifo "$WORK/lab.in"
"$LAB" netns < "$WORK/lab.in" > "$WORK/lab.out" 2> "$WORK/lab.err" &
LAB_PID=$!
exec {HOLD}> "$WORK/lab.in"
echo "bench-scan.sh: starting the lab"
for _ in $(seq 1 400); do
  grep -q '^mgr=' "$WORK/lab.out" 2> /dev/null && break
  if ! kill -0 "$LAB_PID" 2> /dev/null; then
    cat "$WORK/lab.err" >&2
    echo "bench-scan.sh: the lab did not come up" >&2
    exit 1
  fi
  sleep 0.5
done
grep -q '^mgr=' "$WORK/lab.out" || { cat "$WORK/lab.err" >&2; echo "bench-scan.sh: lab start timed out" >&2; exit 1; }
head -n 1 "$WORK/lab.out" > "$WORK/manifest.json"
MGR=$(sed -n 's/^mgr=//p' "$WORK/lab.out")
RESOLV=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["mgr_resolv_conf"])' "$WORK/manifest.json")

# Run a command in the manager namespace (as NetnsLab::mgr_command does).
in_mgr() {
  ip netns exec "$MGR" unshare -m --propagation private sh -c \
    'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$RESOLV" "$@"
}
# timed OUT ERR CMD...: runs CMD, sets SECS (and RC), never fails.
timed() {
  local out=$1 err=$2 t0 t1
  shift 2
  t0=$(date +%s.%N)
  RC=0
  "$@" > "$out" 2> "$err" || RC=$?
  t1=$(date +%s.%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

cat > "$WORK/analyse.py" << 'EOF'
"""Counts what each tool found against the lab's manifest."""
import json, re, sys, xml.etree.ElementTree as ET

manifest = json.load(open(sys.argv[2]))
devices = manifest["devices"]
snmp = [d for d in devices if d["community"]]
public = [d for d in snmp if d["community"] == "public"]
want = {d["serial"] for d in public if d["is_printer"]}
non_printer_addrs = {a for d in snmp if not d["is_printer"] for a in d["addresses"]}
printer_addrs = {a for d in public if d["is_printer"] for a in d["addresses"]}

def printscout(path):
    items = json.load(open(path))
    printers = [i for i in items if i.get("is_printer")]
    serial = lambda i: (i.get("identity") or {}).get("serial")
    model = lambda i: (i.get("identity") or {}).get("model")
    found = {serial(i) for i in printers} & want
    full = sum(1 for i in printers if serial(i) in want and model(i) and serial(i))
    false = sum(1 for i in printers if serial(i) not in want)
    return (f"{len(found)}/{len(want)} printers, {full} with model and serial, "
            f"{false} false positives; {len(items)} devices")

def nmap_ports(path):
    root = ET.parse(path).getroot()
    open_ = sum(1 for p in root.iter("port")
                if p.get("portid") == "161" and p.find("state").get("state") == "open")
    return f"{open_} addresses with 161/udp open (no identification at all)"

def nmap(path):
    root = ET.parse(path).getroot()
    open_, described, printers = 0, 0, 0
    for host in root.iter("host"):
        addr = host.find("address").get("addr")
        for port in host.iter("port"):
            if port.get("portid") == "161" and port.find("state").get("state") == "open":
                open_ += 1
                if addr in printer_addrs:
                    printers += 1
                if any(s.get("id") == "snmp-sysdescr" and s.get("output", "").strip()
                       for s in port.iter("script")):
                    described += 1
    return (f"{open_} addresses with 161/udp open, {described} with a sysDescr; not classified "
            f"({printers} of them are printer addresses, {len(non_printer_addrs)} are not)")

def fusion(path):
    text = open(path, errors="replace").read()
    docs = [d for d in re.split(r"(?=<\?xml)", text) if d.strip()]
    reported, serials, full, false, total = 0, [], set(), 0, 0
    for doc in docs:
        try:
            root = ET.fromstring(doc)
        except ET.ParseError:
            continue
        for dev in root.iter("DEVICE"):
            total += 1
            get = lambda tag: (dev.findtext(tag) or "").strip()
            if get("TYPE") != "PRINTER":
                continue
            reported += 1
            serials.append(get("SERIAL"))
            if get("IP") in non_printer_addrs or get("SERIAL") not in want:
                false += 1
            elif get("MODEL") and get("SERIAL"):
                full.add(get("SERIAL"))
    distinct = set(serials) & want
    dup = len(serials) - len(set(serials))
    return (f"{reported} reported as printers ({len(distinct)}/{len(want)} lab printers, {len(full)} "
            f"with model and serial, {dup} reported twice), {false} false positives; "
            f"{total} devices")

tools = {"printscout": printscout, "nmap": nmap, "nmap_ports": nmap_ports, "fusion": fusion}
print(tools[sys.argv[1]](sys.argv[3]))
EOF
analyse() { python3 "$WORK/analyse.py" "$1" "$WORK/manifest.json" "$2" 2>&1 || true; }

LAB_LINE=$(grep -h 'lab up' "$WORK/lab.err" | sed 's/^printscout-lab: //')
ANSWERING=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["responding_addresses"])' "$WORK/manifest.json")
echo "bench-scan.sh: $LAB_LINE"

# (a) printscout, default settings, median of $RUNS
TIMES=()
ROW_A=
for i in $(seq 1 "$RUNS"); do
  timed "$WORK/a$i.json" "$WORK/a$i.err" in_mgr "$PS" scan 10.77.0.0/24 --json
  if [ "$RC" != 0 ]; then
    ROW_A="failed (exit $RC): $(tail -n 3 "$WORK/a$i.err" | tr '\n' ' ')"
    break
  fi
  TIMES+=("$SECS")
  cp "$WORK/a$i.json" "$WORK/a.json"
done
if [ -z "$ROW_A" ]; then
  SORTED=$(printf '%s\n' "${TIMES[@]}" | sort -n)
  PS_SECS=$(echo "$SORTED" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  ROW_A="$PS_SECS s (median of $RUNS: $(echo "${TIMES[*]}")); $(analyse printscout "$WORK/a.json")"
fi

# (b) nmap
ROW_B="skipped (--no-peers)"
ROW_B2=$ROW_B
NMAP_SECS=
if [ "$PEERS" = 1 ]; then
  if command -v nmap > /dev/null; then
    timed "$WORK/nmap-ports.out" "$WORK/nmap-ports.err" in_mgr nmap -n -sU -p161 \
      -oX "$WORK/nmap-ports.xml" 10.77.0.0/24
    if [ "$RC" = 0 ]; then
      ROW_B2="$SECS s; $(analyse nmap_ports "$WORK/nmap-ports.xml")"
    else
      ROW_B2="failed (exit $RC): $(tail -n 3 "$WORK/nmap-ports.err" | tr '\n' ' ')"
    fi
    timed "$WORK/nmap.out" "$WORK/nmap.err" in_mgr nmap -n -sU -p161 --script snmp-sysdescr \
      -oX "$WORK/nmap.xml" 10.77.0.0/24
    if [ "$RC" = 0 ]; then
      NMAP_SECS=$SECS
      ROW_B="$SECS s; $(analyse nmap "$WORK/nmap.xml")"
    else
      ROW_B="failed (exit $RC): $(tail -n 3 "$WORK/nmap.err" | tr '\n' ' ')"
    fi
  else
    ROW_B="not installed (apt-get install nmap): skipped"
    ROW_B2=$ROW_B
  fi
fi

# (c) FusionInventory
ROW_C="skipped (--no-peers)"
FI_SECS=
if [ "$PEERS" = 1 ]; then
  if command -v fusioninventory-netdiscovery > /dev/null; then
    timed "$WORK/fi.xml" "$WORK/fi.err" in_mgr fusioninventory-netdiscovery \
      --first 10.77.0.1 --last 10.77.0.254 --community public --threads 64 --timeout 1
    if [ "$RC" = 0 ]; then
      FI_SECS=$SECS
      ROW_C="$SECS s; $(analyse fusion "$WORK/fi.xml")"
    else
      ROW_C="failed (exit $RC): $(tail -n 3 "$WORK/fi.err" | tr '\n' ' ')"
    fi
  else
    ROW_C="not installed (apt-get install fusioninventory-agent-task-network): skipped"
  fi
fi

# (d) /16 at the default rate
ROW_D="skipped (--no-16)"
if [ "$SIXTEEN" = 1 ]; then
  RATE=$("$PS" scan --help | tr '\n' ' ' | grep -o -- '--rate[^[]*\[default: [0-9]*\]' \
    | grep -o '[0-9]*\]$' | tr -d ']' || true)
  RATE=${RATE:-2000}
  timed "$WORK/d.json" "$WORK/d.err" in_mgr "$PS" scan 10.77.0.0/16 --yes --json
  if [ "$RC" = 0 ]; then
    ROW_D=$(awk -v s="$SECS" -v r="$RATE" 'BEGIN {
      printf "65536 addresses in %.2f s = %.0f addresses/s (rate limit %d/s: %.0f %%)", s, 65536 / s, r, 6553600 / s / r }')
    ROW_D="$ROW_D; $(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))), "devices")' "$WORK/d.json")"
  else
    ROW_D="failed (exit $RC): $(tail -n 3 "$WORK/d.err" | tr '\n' ' ')"
  fi
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", b / a; else printf "n/a" }'; }
echo
echo "== scan benchmark: lab 10.77.0.0/24, $ANSWERING SNMP-answering addresses, $((254 - ANSWERING)) silent; $(nproc) cores, all tools in the lab's manager namespace =="
echo "lab: $LAB_LINE"
echo "printscout scan 10.77.0.0/24 --json: $ROW_A"
echo "nmap -n -sU -p161 --script snmp-sysdescr 10.77.0.0/24: $ROW_B"
echo "  (reference) nmap -n -sU -p161 10.77.0.0/24, no script: $ROW_B2"
echo "fusioninventory-netdiscovery --threads 64 --timeout 1 (.1-.254): $ROW_C"
if [ -n "${PS_SECS:-}" ]; then
  echo "ratio: printscout is $(ratio "$PS_SECS" "${FI_SECS:-0}") faster than FusionInventory, $(ratio "$PS_SECS" "${NMAP_SECS:-0}") faster than nmap (targets: 20x, 2x; the /24 under 1 s)"
fi
echo "printscout scan 10.77.0.0/16 --yes --json: $ROW_D"
