#!/usr/bin/env bash
# Property-based test of the loopback API against its own OpenAPI document with
# schemathesis (PyPI): every operation gets a bounded number of generated requests
# (valid and invalid), and every answer must be no 5xx, a documented status code, the
# documented content type, and a body that matches the documented schema.
#
# Network rule: schemathesis posts random addresses to /printers, /printers/test,
# /scans and /networks/gateway, and random networks, SMTP and upload URLs to
# /settings; the service would send SNMP, DNS and SMTP packets to them. So everything
# runs inside a network namespace this script creates (ps-schema-<pid>) with only the
# loopback interface up: no route leads out (checked before anything starts), DNS is
# pointed at 127.0.0.1 (/etc/netns/<ns>/resolv.conf), and the namespace is deleted on
# exit. Inside it: a net-snmp snmpd serving tests/recordings/colour-mfp.snmprec
# (through `printscout-lab snmpd`), one printer added from it with `printscout devices
# add`, and `printscout run --api-port 0` (debug build) with `[secrets] store = "file"`
# so settings PATCHes can store secrets.
#
# Excluded: GET /api/v1/events/stream (Server-Sent Events never end, so a client that
# reads the whole body cannot test it); the script checks it with curl instead: 200
# and text/event-stream within 2 s.
#
# Exit status: 0 all checks passed (or skipped: no network namespaces here, said on
# stderr), 1 a failure (schemathesis' summary and the service log tail are printed).
#
# usage: scripts/schemathesis.sh [--examples N] [--seed N] [--keep] [--install-only]
#   --examples N    test cases per operation and phase (default 50: about 2,500 requests,
#                   15-30 s; the hard limit is 240 s)
#   --seed N        reproduce a run (schemathesis prints the seed it used)
#   --keep          keep the work dir (data dir, logs, reports) and print where it is
#   --install-only  only install the schemathesis venv
# Locations: PRINTSCOUT_TOOLS_HOME (default ~/.cache/printscout); the venv is
# $PRINTSCOUT_TOOLS_HOME/venv-schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_HOME=${PRINTSCOUT_TOOLS_HOME:-$HOME/.cache/printscout}
VENV=$TOOLS_HOME/venv-schemathesis
PIN_MARKER=$VENV/.printscout-pins
# schemathesis 4.32.5 and the exact dependency set it was installed and checked with
# (pip freeze of a fresh venv, Python 3.11).
PINS=(
  'schemathesis==4.32.5'
  'anyio==4.16.0'
  'certifi==2026.10.18'
  'charset-normalizer==3.5.2'
  'click==8.5.1'
  'graphql-core==3.3.2'
  'harfile==0.6.0'
  'hypothesis==6.170.15'
  'hypothesis-graphql==0.13.5'
  'idna==3.20'
  'iniconfig==2.3.1'
  'jsonschema_rs==0.60.3'
  'markdown-it-py==4.3.0'
  'MarkupSafe==3.0.4'
  'mdurl==0.1.2'
  'packaging==26.3'
  'pluggy==1.7.0'
  'Pygments==2.21.0'
  'pyrate-limiter==4.5.1'
  'pytest==9.2.0'
  'PyYAML==6.0.3'
  'requests==2.34.2'
  'rich==15.0.0'
  'sortedcontainers==2.4.0'
  'typing_extensions==4.16.0'
  'urllib3==2.8.0'
  'Werkzeug==3.1.9'
)
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance

EXAMPLES=50
SEED=
KEEP=
while [ $# -gt 0 ]; do
  case $1 in
    --examples) EXAMPLES=${2:?--examples takes a number}; shift 2 ;;
    --seed) SEED=${2:?--seed takes a number}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --install-only) INSTALL_ONLY=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "schemathesis.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

log() { echo "schemathesis.sh: $*"; }
fail() { echo "schemathesis.sh: $*" >&2; exit 1; }

# --- the venv (idempotent, like scripts/setup.sh's snmpsim venv) ---------------------

venv_ok() {
  [ -x "$VENV/bin/st" ] || return 1
  [ "$(cat "$PIN_MARKER" 2> /dev/null || true)" = "${PINS[*]}" ] || return 1
  "$VENV/bin/st" --version 2> /dev/null | grep -q "version ${PINS[0]#schemathesis==}\$"
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
    log "pip install ${PINS[0]} (and its pinned dependencies)"
    rm -f "$PIN_MARKER"
    if "$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}"; then
      echo "${PINS[*]}" > "$PIN_MARKER"
      venv_ok && return 0
    fi
    log "the venv does not work yet; rebuilding it"
  done
  fail "could not install schemathesis into $VENV"
}

venv_ok || install_venv
[ -z "${INSTALL_ONLY:-}" ] || { log "$("$VENV/bin/st" --version) in $VENV"; exit 0; }

# --- build ---------------------------------------------------------------------------

command -v curl > /dev/null || fail "curl is missing (apt-get install curl)"
[ -x /usr/sbin/snmpd ] || command -v snmpd > /dev/null || fail "snmpd is missing: run scripts/setup.sh"
log "building (debug)"
cargo build --workspace --quiet
PRINTSCOUT=$PWD/target/debug/printscout
LAB=$PWD/target/debug/printscout-lab

# --- the namespace -------------------------------------------------------------------

NS=ps-schema-$$
WORK=$(mktemp -d /tmp/printscout-schemathesis.XXXXXX)
DATA=$WORK/data
lab_pid=
run_pid=
ns_made=

cleanup() {
  local status=$?
  [ -z "$run_pid" ] || { kill -TERM "$run_pid" 2> /dev/null || true; }
  exec 3>&- 2> /dev/null || true # closing the lab's stdin stops it and its snmpd
  if [ -n "$run_pid" ]; then
    for _ in $(seq 1 100); do kill -0 "$run_pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$run_pid" 2> /dev/null || true
    wait "$run_pid" 2> /dev/null || true
  fi
  [ -z "$lab_pid" ] || wait "$lab_pid" 2> /dev/null || true
  if [ -n "$ns_made" ]; then
    ip netns del "$NS" 2> /dev/null || true
    rm -rf "/etc/netns/$NS"
  fi
  if [ -n "$KEEP" ]; then
    echo "schemathesis.sh: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ip netns add "$NS" 2> "$WORK/netns.err"; then
  echo "schemathesis.sh: skipped: cannot create a network namespace ($(cat "$WORK/netns.err")); the API must not be fuzzed in the machine's own network" >&2
  exit 0
fi
ns_made=1
# `ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc: lookups ask 127.0.0.1 only.
mkdir -p "/etc/netns/$NS"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "/etc/netns/$NS/resolv.conf"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

# Only loopback exists, and every route (all tables, both families) goes through it.
links=$(ip -n "$NS" -o link show | awk -F': ' '{ print $2 }' | tr '\n' ' ')
[ "$links" = "lo " ] || fail "namespace $NS has interfaces other than lo: $links"
outside=$( { ip -n "$NS" -4 route show table all; ip -n "$NS" -6 route show table all; } \
  | grep -v ' dev lo ' | grep -v '^$' || true)
[ -z "$outside" ] || fail "namespace $NS has a route that does not go through lo: $outside"
if ip -n "$NS" -4 route get 192.0.2.1 > /dev/null 2>&1 || ip -n "$NS" -6 route get 2001:db8::1 > /dev/null 2>&1; then
  fail "namespace $NS has a route to 192.0.2.1 or 2001:db8::1"
fi
log "namespace $NS: only lo, every route through lo"

# --- the lab: snmpd, one printer, the service ----------------------------------------

mkfifo "$WORK/lab.in"
# Started as simple commands (not through a function), so $! is the program itself
# (`ip netns exec` execs it) and a stop signal reaches it.
ip netns exec "$NS" "$LAB" snmpd tests/recordings/colour-mfp.snmprec public \
  < "$WORK/lab.in" > "$WORK/lab.out" 2>&1 &
lab_pid=$!
exec 3> "$WORK/lab.in"
for _ in $(seq 1 600); do
  grep -q listening "$WORK/lab.out" 2> /dev/null && break
  kill -0 "$lab_pid" 2> /dev/null || { cat "$WORK/lab.out" >&2; fail "the snmpd lab did not start"; }
  sleep 0.1
done
snmp_addr=$(awk '/listening/ { print $4; exit }' "$WORK/lab.out")
[ -n "$snmp_addr" ] || { cat "$WORK/lab.out" >&2; fail "the snmpd lab did not say where it listens"; }
log "snmpd (colour-mfp.snmprec) on $snmp_addr inside $NS"

mkdir -p "$DATA"
chmod 700 "$DATA"
cat > "$DATA/printscout.toml" << 'EOF'
# written by scripts/schemathesis.sh
[secrets]
store = "file"
EOF
in_ns "$PRINTSCOUT" devices add "$snmp_addr" --community public --data-dir "$DATA" \
  --name "schemathesis printer" > "$WORK/add.out" 2>&1 3>&- \
  || { cat "$WORK/add.out" >&2; fail "devices add $snmp_addr failed"; }

# 3>&-: only this script holds the lab's stdin, so closing it stops the lab.
ip netns exec "$NS" env NO_COLOR=1 "$PRINTSCOUT" run --data-dir "$DATA" --api-port 0 \
  > "$WORK/run.out" 2> "$WORK/run.err" 3>&- &
run_pid=$!
url=
for _ in $(seq 1 300); do
  if [ -s "$DATA/api.json" ] && grep -q 'PrintScout is running' "$WORK/run.out" 2> /dev/null; then
    url=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"].rstrip("/"))' "$DATA/api.json")
    break
  fi
  kill -0 "$run_pid" 2> /dev/null || { tail -n 30 "$WORK/run.err" >&2; fail "printscout run stopped"; }
  sleep 0.1
done
[ -n "$url" ] || { tail -n 30 "$WORK/run.err" >&2; fail "printscout run did not write api.json"; }
token_file=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["token_file"])' "$DATA/api.json")
PRINTSCOUT_API_TOKEN=$(cat "$token_file")
export PRINTSCOUT_API_TOKEN
log "printscout run serves $url inside $NS"

# --- the stream, by hand -------------------------------------------------------------

# The header from a 0600 file, so the token is not on curl's command line.
(umask 077 && printf 'Authorization: Bearer %s\n' "$PRINTSCOUT_API_TOKEN" > "$WORK/auth.header")
sse_head=$(in_ns curl -sS -o /dev/null --max-time 2 -D - -H "@$WORK/auth.header" \
  "$url/api/v1/events/stream" 2> /dev/null || true)
echo "$sse_head" | head -n 1 | grep -q ' 200' \
  || fail "GET /api/v1/events/stream did not answer 200: $(echo "$sse_head" | head -n 1)"
echo "$sse_head" | grep -qi '^content-type: text/event-stream' \
  || fail "GET /api/v1/events/stream is not text/event-stream"
log "GET /api/v1/events/stream: 200 text/event-stream"

# --- schemathesis --------------------------------------------------------------------

# The token goes through the environment into schemathesis' config, not its argv.
cat > "$WORK/schemathesis.toml" << 'EOF'
headers = { Authorization = "Bearer ${PRINTSCOUT_API_TOKEN}" }
EOF
args=(
  --config-file "$WORK/schemathesis.toml" run "$url/api/v1/openapi.json"
  --checks "$CHECKS"
  --max-examples "$EXAMPLES"
  --exclude-path /api/v1/events/stream
  --request-timeout 20
  --workers 2
  --generation-database none
  --report junit --report-dir "$WORK/report"
  --no-color
)
[ -z "$SEED" ] || args+=(--seed "$SEED")
log "st ${args[*]}"
started=$(date +%s)
status=0
# From the work dir, so nothing (.hypothesis, reports) lands in the checkout.
(cd "$WORK" && in_ns env HOME="$WORK" timeout 240 "$VENV/bin/st" "${args[@]}" 3>&-) 2>&1 \
  | tee "$WORK/st.out" || status=${PIPESTATUS[0]}
elapsed=$(($(date +%s) - started))

kill -0 "$run_pid" 2> /dev/null || { tail -n 30 "$WORK/run.err" >&2; fail "printscout run died during the test"; }
panics=$(grep -c 'panicked' "$WORK/run.err" || true)
cases=$(grep -A1 '^Test cases:' "$WORK/st.out" | tail -n 1 | sed 's/^ *//' || true)
echo
echo "== schemathesis: ${cases:-no test cases} in ${elapsed} s ($EXAMPLES examples per operation; checks: $CHECKS)"
if [ "$status" = 124 ]; then
  fail "schemathesis did not finish within 240 s"
fi
if [ "$panics" != 0 ]; then
  grep -B2 -A5 'panicked' "$WORK/run.err" | head -n 40 >&2
  fail "the service logged $panics panic(s)"
fi
if [ "$status" != 0 ]; then
  echo "== service log (last 20 lines)" >&2
  tail -n 20 "$WORK/run.err" >&2
  fail "schemathesis found failures (exit $status); rerun with --seed from the output above and --keep"
fi
log "passed: no 5xx, every status, content type and body as documented"
