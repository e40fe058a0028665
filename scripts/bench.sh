#!/usr/bin/env bash
# The performance report: builds in release mode, runs every benchmark, and
# prints one table (also written to docs/PERFORMANCE.md). Installs what the
# benchmarks need; each benchmark starts the services it uses (PostgreSQL,
# a virtual display, a Secret Service, the CUPS PDF queue) and skips itself
# with a reason when one cannot run here.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_npm
if [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  say "Installing tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
python3 -c "import stdnum" 2>/dev/null || python3 -m pip install --quiet python-stdnum \
  || python3 -m pip install --quiet --break-system-packages python-stdnum

say "Release build"
cd "$ROOT"
cargo build --release -p skranke-cli -p skranke-registry
cargo bench --no-run -p skranke-core -p skranke-registry
# The desk app with its UI embedded, and the empty window it is compared with.
npx tauri build --no-bundle --ci
cargo build --release --example empty_window --features custom-protocol

say "Benchmarks"
python3 "$ROOT/scripts/bench/report.py"
