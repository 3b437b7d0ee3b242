#!/usr/bin/env bash
# Benchmark of the loopback API: GET /api/v1/printers with 1,000 printers that each
# have a full latest reading (ten supplies, counters, status), served by the collector
# and the API started in-process exactly as `printscout run` starts them, with the
# collector paused (this measures the API, not SNMP). A keep-alive Rust client
# (reqwest) sends requests from 1, 4 and 16 connections for 10 s each after a 2 s
# warm-up and prints requests/s, p50/p90/p99/max latency and the response size
# against the target (p99 under 20 ms); then, when wrk is installed, the peer figure
# `wrk -t2 -c16 -d10s --latency` against the same URL. Every packet stays on
# 127.0.0.0/8 (snmpd on 127.0.93.1 for the one real read, the API on 127.0.0.1).
# Takes about a minute once built (crates/api/examples/bench_api.rs).
# usage: scripts/bench-api.sh [--count N] [--secs S] [--warmup S] [--concurrency 1,4,16]
#                             [--no-wrk] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh > /dev/null
command -v wrk > /dev/null || echo "bench-api.sh: wrk is not installed (apt-get install wrk): the peer figure is skipped" >&2
cargo build --release -p printscout-api --examples --quiet
exec target/release/examples/bench_api "$@"
