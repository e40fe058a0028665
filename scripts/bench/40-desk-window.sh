#!/usr/bin/env bash
# The desk window: cold start to the first interactive form, and the PSS of
# the app and its WebKit processes after 20 issues next to an empty Tauri
# window (tests/e2e/bench.mjs). Needs the debug build the tests use, a
# display (Xvfb) and an unlocked Secret Service, as the test command sets up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [ -z "${DISPLAY:-}" ] || ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo 'BENCH-SKIP {"figure": "desk window", "reason": "no display or no tauri-driver: run inside the test command'"'"'s environment"}'
  exit 0
fi
cargo build --quiet --example empty_window --features custom-protocol >&2
node tests/e2e/bench.mjs
