#!/usr/bin/env bash
# The registry's online requests (allocation, lookup, desk status) from 50
# desks at once, each within its rate limits, against the release binary on
# loopback (crates/registry/benches/online.rs). Starts its own PostgreSQL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
skip() {
  printf 'BENCH-SKIP {"figure": "registry online allocation, lookup and desk status, 50 desks at once", "reason": "%s"}\n' "$1"
  exit 0
}
RUN_DIR="$(mktemp -d)"
out="$(SKRANKE_PG_PORT="${SKRANKE_BENCH_PG_PORT:-55433}" bash scripts/ci/postgres.sh "$RUN_DIR" 2>"$RUN_DIR/postgres.log")" \
  || skip "PostgreSQL could not be started"
eval "$(grep '^export ' <<<"$out")"
trap 'bash "$RUN_DIR/stop-postgres.sh" >/dev/null 2>&1 || true' EXIT
cargo build --quiet --release -p skranke-registry --bin skranke-registry >&2
cargo bench --quiet -p skranke-registry --bench online 2>/dev/null
