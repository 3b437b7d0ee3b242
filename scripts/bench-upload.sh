#!/usr/bin/env bash
# Benchmark of the uplink (crates/engine/examples/bench_upload.rs, release build):
#   1. bytes on the wire per printer per day at the default schedules: 1,000 printers
#      (from tests/recordings, each with its own serial) recorded through the store for
#      one simulated day (full read hourly, one status change there and back a day,
#      pages in office hours) and uploaded every 5 minutes by the real Uploader to an
#      HTTPS receiver on 127.0.0.1 that counts every byte of request and answer;
#   2. upload throughput of a one-week backlog for 1,000 printers (generated, then
#      drained by one `send_pending`), with curl posting the same bodies over one
#      connection as the peer figure.
# Every packet stays on 127.0.0.1. Takes about 3 minutes once built.
# usage: scripts/bench-upload.sh [--printers N] [--days N] [--no-curl]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p printscout-engine --example bench_upload --quiet
exec target/release/examples/bench_upload "$@"
