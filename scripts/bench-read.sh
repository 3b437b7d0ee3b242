#!/usr/bin/env bash
# Benchmark: read 1,000 devices served by ONE net-snmp snmpd on 1,000 loopback
# addresses (127.0.30.0 - 127.0.33.231) through one shared socket, and in the
# same run time snmpbulkwalk of the same subtrees over the same addresses with
# xargs -P 64 (the peer figure). Prints devices/s, round trips per device,
# peak RSS and CPU seconds of both sides.
# usage: scripts/bench-read.sh [--count N] [--concurrency N] [--recording FILE] [--no-peer]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh > /dev/null
cargo build --release --workspace --examples --quiet
exec target/release/examples/bench_read --concurrency 256 "$@"
