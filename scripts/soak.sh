#!/usr/bin/env bash
# Soaks the protocol model (crates/registry/tests/model.rs): many random
# sequences of steps against the real registry on PostgreSQL and real desk
# stores, longer than the test command's few. Prints how many cases and
# steps ran; a failing case is printed shrunk, with its seed.
#
#   scripts/soak.sh [CASES] [STEPS] [SEED]
#
# CASES defaults to 300, STEPS (the longest sequence) to 30, SEED to a
# random one (printed, so that a run can be repeated).
# Uses DATABASE_URL when set; otherwise starts a throwaway PostgreSQL
# (scripts/ci/postgres.sh) and stops it afterwards.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CASES="${1:-300}"
STEPS="${2:-30}"
SEED="${3:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
for value in "$CASES" "$STEPS" "$SEED"; do
  [[ "$value" =~ ^[0-9]+$ ]] || { echo "soak.sh: CASES, STEPS and SEED are numbers, not '$value'" >&2; exit 2; }
done

RUN_DIR="$(mktemp -d)"
LOG="$RUN_DIR/model.log"
cleanup() {
  [ -f "$RUN_DIR/stop-postgres.sh" ] && bash "$RUN_DIR/stop-postgres.sh" >/dev/null 2>&1 || true
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
if [ -z "${DATABASE_URL:-}" ]; then
  say "Starting PostgreSQL"
  eval "$(bash "$ROOT/scripts/ci/postgres.sh" "$RUN_DIR" | grep '^export ')"
fi

say "Soaking the protocol model: $CASES cases of up to $STEPS steps, seed $SEED"
cd "$ROOT"
status=0
SKRANKE_MODEL_CASES="$CASES" SKRANKE_MODEL_STEPS="$STEPS" SKRANKE_MODEL_SEED="$SEED" \
  SKRANKE_MODEL_SHRINK_SECS="${SKRANKE_MODEL_SHRINK_SECS:-600}" \
  cargo test -p skranke-registry --test model -- --nocapture 2>&1 | tee "$LOG" || status=$?
summary="$(grep '^model: ' "$LOG" | tail -n1 || true)"
if [ -n "$summary" ]; then
  say "${summary#model: }"
else
  echo "soak.sh: the model test printed no summary (did it build?)" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
