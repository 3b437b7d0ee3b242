#!/usr/bin/env bash
# Runs every PrintScout test on a fresh Debian 12 machine (installs what it needs):
#   1. scripts/setup.sh (net-snmp tools and agent, the snmpsim venv)
#   2. cargo fmt --check and cargo clippy -D warnings over the workspace
#   3. cargo test --workspace (unit tests, and tests against real snmpsim / snmpd peers
#      on loopback, started and stopped by the tests themselves); schemathesis against
#      the served OpenAPI document; the secret store against a real Secret Service
#   4. when the shared SNMP corpus is present ($PRINTSCOUT_CORPUS, else ../shared/corpus):
#      its scorer against `printscout read --json`, failing below 95 % of asserted fields
#   5. the web UI in a real browser (`npm run e2e`: playwright-core driving Chromium against
#      `printscout run` with an snmpsim lab and the upload receiver), the tray app on a
#      virtual display (tests/app/app-test.sh: window, single instance, a notification
#      captured on D-Bus, the tray menu, Quit), and its .deb built (debug profile),
#      installed with apt, started and removed (tests/app/package-test.sh)
#   6. a short fuzz run of the SNMP decoder and the reading interpreter
#      (FUZZ_SECONDS per target, default 30; FUZZ_SECONDS=0 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== tests"
cargo test --workspace

echo "== API against its OpenAPI document (schemathesis, in a loopback-only network namespace)"
bash scripts/schemathesis.sh

echo "== secret store against a real Secret Service (gnome-keyring in a private D-Bus session)"
bash scripts/test-keyring.sh

corpus=${PRINTSCOUT_CORPUS:-../shared/corpus}
if [ -d "$corpus/devices" ]; then
  scorer="$corpus/../tools/corpus-score"
  [ -x "$scorer" ] || scorer=../shared/tools/corpus-score
  echo "== shared corpus ($corpus)"
  SNMPSIM_BIN="${PRINTSCOUT_TOOLS_HOME:-$HOME/.cache/printscout}/venv-snmpsim/bin" \
    python3 "$scorer" --corpus "$corpus" \
      --cmd "target/debug/printscout read {host}:{port} --community {community} --json --timeout 1s" \
      --min-percent 95 --json-out target/corpus-score.json | tail -n 25
else
  echo "== shared corpus not present: skipped (set PRINTSCOUT_CORPUS to score it)"
fi

echo "== web UI in Chromium (npm run e2e)"
PRINTSCOUT_E2E_NO_BUILD=1 npm run e2e --silent

echo "== the tray app on a virtual display (Xvfb, D-Bus, dunst, trayer)"
bash tests/app/app-test.sh

echo "== packages: .deb and .rpm (debug profile), the .deb installed and started"
bash scripts/package.sh --debug
bash tests/app/package-test.sh debug

if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  echo "== fuzz"
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
echo "== all tests passed"
