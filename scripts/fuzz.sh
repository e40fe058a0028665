#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ and runs each for DURATION seconds
# (default 30), starting from its committed corpus; fails if any target
# crashes. Usage: scripts/fuzz.sh [DURATION] [TARGET...]
#
# `-s none`: no sanitizer, so cargo-fuzz needs no nightly compiler (the
# targets are safe Rust; what they look for is panics). New inputs go to a
# scratch folder, so a run never changes the committed corpus; a crashing
# input is kept in fuzz/artifacts/<target>/. The build goes to fuzz/target,
# apart from the workspace's target folder.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION="${1:-30}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(mrz cpr applicant_json registry_request)
fi

cd "$ROOT/fuzz"
say "Building the fuzz targets"
cargo fuzz build -s none --target-dir "$ROOT/fuzz/target"

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
failed=()
for target in "${TARGETS[@]}"; do
  say "Fuzzing $target for ${DURATION}s"
  mkdir -p "$SCRATCH/$target"
  if ! cargo fuzz run -s none --target-dir "$ROOT/fuzz/target" "$target" "$SCRATCH/$target" "corpus/$target" -- \
    -max_total_time="$DURATION" -timeout=10 -print_final_stats=1 2>"$SCRATCH/$target.log"; then
    tail -n 40 "$SCRATCH/$target.log" >&2
    failed+=("$target")
  else
    grep -E '^stat::number_of_executed_units|Done [0-9]+ runs' "$SCRATCH/$target.log" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
