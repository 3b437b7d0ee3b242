#!/usr/bin/env bash
# Time and bytes of one status poll and one history poll per protocol beyond SNMP:
# IPP against ippeveprinter (and, as the peer's figure, CUPS's ipptool against the same
# printer), OctoPrint 1.11.8 with its virtual printer running a real print, Moonraker 0.11
# without Klipper, Bambu LAN mode through mosquitto with TLS, PrusaLink and Ultimaker
# against fixture servers (no runnable peer exists). Everything on loopback.
#
# usage: scripts/bench-fab.sh        (after scripts/setup.sh; about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
run() {
  local test=$1 filter=$2
  cargo test -q -p printscout-engine --test "$test" "$filter" -- --nocapture --test-threads 1 2>&1 |
    grep -Eiv '^(running|test |$|test result|warning:)' || true
}
echo "== IPP (ippeveprinter)"; run ipp a_status_poll_is_one_round_trip
echo "== OctoPrint"; run fab_octoprint status_and_history_poll_figures_on_a_real_print
echo "== Moonraker"; run fab_moonraker a_status_poll_and_a_history_poll_cost
echo "== PrusaLink (fixture)"; run fab_prusalink figures_a_status_poll_costs
echo "== Ultimaker (fixture)"; run fab_ultimaker figures_a_status_poll_and_a_history_poll
echo "== Bambu (mosquitto, TLS)"; run fab_bambu the_figures_of_a_status_poll
