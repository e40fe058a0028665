#!/usr/bin/env bash
# The desk window: cold start to the first interactive form, and the PSS of
# the app and its WebKit processes after 20 issues next to an empty Tauri
# window (tests/e2e/bench.mjs), both release builds (scripts/bench.sh builds
# them). Starts what it needs when it is missing: a virtual display (Xvfb),
# a D-Bus session with an unlocked Secret Service for the desk's key store,
# and the CUPS PDF queue the 20 handouts print to.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
skip() {
  printf 'BENCH-SKIP {"figure": "desk window (cold start, PSS after 20 issues)", "reason": "%s"}\n' "$1"
  exit 0
}
[ -x "$TARGET/release/skranke-desk" ] || skip "no release build of the desk app (npx tauri build --no-bundle)"
[ -x "$TARGET/release/examples/empty_window" ] || skip "no release build of the empty_window example"
[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ] || skip "tauri-driver is not installed"
[ -d node_modules/webdriverio ] || skip "npm packages are not installed"

if [ -z "${SKRANKE_BENCH_INNER:-}" ]; then
  RUN_DIR="$(mktemp -d)"
  trap 'kill ${XVFB_PID:-} 2>/dev/null || true; rm -rf "$RUN_DIR"' EXIT
  if [ -z "${DISPLAY:-}" ]; then
    command -v Xvfb >/dev/null || skip "no display and no Xvfb"
    Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$RUN_DIR/display" >"$RUN_DIR/xvfb.log" 2>&1 &
    XVFB_PID=$!
    for _ in $(seq 100); do [ -s "$RUN_DIR/display" ] && break; sleep 0.1; done
    [ -s "$RUN_DIR/display" ] || skip "Xvfb did not start"
    export DISPLAY=":$(head -n1 "$RUN_DIR/display")"
  fi
  if [ "$(id -u)" = 0 ] && command -v cupsd >/dev/null; then
    sh scripts/ci/cups-setup.sh >&2 || skip "the CUPS PDF queue could not be set up"
  fi
  command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null \
    || skip "no D-Bus session or gnome-keyring for the desk's key store"
  mkdir -p "$RUN_DIR/xdg-data"
  # A fresh keyring in a folder of this run, unlocked with a known password.
  XDG_DATA_HOME="$RUN_DIR/xdg-data" SKRANKE_BENCH_INNER=1 dbus-run-session -- bash "$0"
  exit $?
fi
echo -n "skranke-bench" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
node tests/e2e/bench.mjs
