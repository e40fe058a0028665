#!/usr/bin/env bash
# The performance report: builds in release mode, runs every benchmark, and
# prints one table (also written to docs/PERFORMANCE.md). Run after
# `bash scripts/start.sh` (or the test command) has set up the machine.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

python3 -c "import stdnum" 2>/dev/null || python3 -m pip install --quiet python-stdnum
say "Release build"
cargo build --release --workspace --bins --benches
say "Benchmarks"
python3 "$ROOT/scripts/bench/report.py"
