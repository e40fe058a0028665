#!/usr/bin/env bash
# Sync throughput: records/s from one desk (10,000 queued) and from 20 desks at
# once (2,000 each), next to a multi-row INSERT of the same rows into the same
# PostgreSQL (crates/registry/benches/sync.rs). Starts its own PostgreSQL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
skip() {
  for figure in "sync, one desk (10,000 queued)" "sync, 20 desks at once (2,000 each)"; do
    printf 'BENCH-SKIP {"figure": "%s", "reason": "%s"}\n' "$figure" "$1"
  done
  exit 0
}
RUN_DIR="$(mktemp -d)"
out="$(SKRANKE_PG_PORT="${SKRANKE_BENCH_PG_PORT:-55433}" bash scripts/ci/postgres.sh "$RUN_DIR" 2>"$RUN_DIR/postgres.log")" \
  || skip "PostgreSQL could not be started"
eval "$(grep '^export ' <<<"$out")"
trap 'bash "$RUN_DIR/stop-postgres.sh" >/dev/null 2>&1 || true' EXIT
cargo bench --quiet -p skranke-registry --bench sync 2>/dev/null
