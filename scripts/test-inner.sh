#!/usr/bin/env bash
# The test suites, run by scripts/test.sh inside a D-Bus session.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

echo -n "skranke-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null

cd "$ROOT"
say "Rust tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
cargo test --workspace --doc --quiet
bash "$ROOT/scripts/windows.sh"

say "Dependency policy (licences, bans, sources)"
cargo deny --log-level error check bans licenses sources

say "Fuzzing: 20 s per target"
bash "$ROOT/scripts/fuzz.sh" 20
bash "$ROOT/scripts/schemathesis.sh"

say "UI unit tests"
npx vitest run

say "End-to-end tests in the real window"
node --test --test-concurrency=1 --test-timeout=180000 tests/e2e/
bash "$ROOT/scripts/deb.sh"
