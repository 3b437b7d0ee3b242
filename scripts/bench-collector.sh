#!/usr/bin/env bash
# Benchmark of the collector service: `printscout run` (release build) with 1,000
# simulated printers on loopback (127.0.30.0 - 127.0.33.231, one UDP socket each, served
# by crates/engine/examples/bench_collector.rs), in three runs on the same data:
#   1. 10 simulated hours: status every 3 s, meters every 36 s (5 min / 1 h scaled 100x)
#      for 360 s; page counters grow and supplies fall at an office rate. Prints polls
#      and commits per second, rows written, disk writes, the database size (after a
#      checkpoint, per table) and the size per device per month.
#   2. the default schedule (5 min / 1 h): after 45 s, CPU and RSS of the service
#      process sampled for 120 s, against the targets (< 1 % of one core, < 20 MB).
#   3. nothing due (100 h intervals) for 20 s: the scheduler's own cost.
# Every packet stays on 127.0.0.0/8. Takes about 10 minutes once built.
# usage: scripts/bench-collector.sh [--count N] [--sim-secs S] [--settle-secs S]
#                                   [--idle-secs S] [--quiet-secs S] [--max-answer BYTES] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh > /dev/null
cargo build --release -p printscout -p printscout-engine --bins --examples --quiet
# One socket per simulated printer.
ulimit -n 8192 2> /dev/null || ulimit -n "$(ulimit -H -n)" 2> /dev/null || true
exec target/release/examples/bench_collector "$@"
