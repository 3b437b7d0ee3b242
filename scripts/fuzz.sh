#!/usr/bin/env bash
# Fuzzes the SNMP datagram decoder and the reading interpreter with libFuzzer
# (cargo-fuzz; stable Rust with RUSTC_BOOTSTRAP=1 for the sanitizer flags).
# usage: scripts/fuzz.sh [SECONDS per target, default 60]
# Seeds come from tests/recordings; crashes land in fuzz/artifacts/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if ! cargo fuzz --version > /dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz (once)"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/corpus/reading fuzz/corpus/snmp_decode
cp tests/recordings/*.snmprec fuzz/corpus/reading/ 2> /dev/null || true
# A v2c Response (sysDescr.0 = "") as a seed for the decoder.
printf '\x30\x25\x02\x01\x01\x04\x06public\xa2\x18\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x0d\x30\x0b\x06\x07\x2b\x06\x01\x02\x01\x01\x01\x04\x00' > fuzz/corpus/snmp_decode/response.bin
mkdir -p target
for target in snmp_decode reading; do
  echo "fuzz.sh: $target for ${secs}s"
  log=target/fuzz-$target.log
  if ! (cd fuzz && cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$secs" -max_len=4096 -print_final_stats=1) > "$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz.sh: $target failed (crash inputs, if any, are in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -n 3 "$log"
done
