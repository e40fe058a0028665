#!/usr/bin/env bash
# README command 2: run every test. Installs what the tests need, starts the
# services they use (a virtual display, a Secret Service key store,
# PostgreSQL, CUPS) for this run only, and stops them afterwards.
# Idempotent: a second run skips the installs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_npm
for tool in tauri-driver cargo-deny cargo-fuzz; do
  if [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/$tool" ]; then
    say "Installing $tool"
    cargo install "$tool" --locked --quiet
  fi
done

RUN_DIR="$ROOT/.test-run"
mkdir -p "$RUN_DIR"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  # WebKit's helper processes can outlive a terminated app: end them too
  # (the e2e driver ends its own process groups; this catches leftovers).
  pkill -f "$CARGO_TARGET_DIR/debug/skranke-desk" 2>/dev/null || true
  for hook in "$RUN_DIR"/stop-*.sh; do [ -f "$hook" ] && bash "$hook" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

if [ -z "${DISPLAY:-}" ]; then
  say "Starting a virtual display"
  # -displayfd: Xvfb picks a free display number and writes it when ready.
  rm -f "$RUN_DIR/xvfb.display"
  Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$RUN_DIR/xvfb.display" >"$RUN_DIR/xvfb.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$RUN_DIR/xvfb.display" ] && break; sleep 0.1; done
  [ -s "$RUN_DIR/xvfb.display" ] || { echo "Xvfb did not start: $(cat "$RUN_DIR/xvfb.log")" >&2; exit 1; }
  export DISPLAY=":$(head -n1 "$RUN_DIR/xvfb.display")"
fi

for service in "$ROOT"/scripts/ci/*.sh; do
  [ -f "$service" ] || continue
  say "Starting $(basename "$service" .sh)"
  # A service script gets the run folder, starts its service, may leave a
  # `stop-*.sh` there for cleanup, and prints `export NAME=value` lines for
  # the tests (anything else it prints is shown, not evaluated).
  out="$(bash "$service" "$RUN_DIR")"
  grep -v '^export ' <<<"$out" || true
  eval "$(grep '^export ' <<<"$out" || true)"
done

build_desk_app

say "Running the tests"
# A session bus with an unlocked Secret Service (gnome-keyring) for the OS
# key store; everything inside runs against it. The keyring lives in a fresh
# folder of this run, so its password is always the one test-inner.sh uses.
rm -rf "$RUN_DIR/xdg-data"
mkdir -p "$RUN_DIR/xdg-data"
export XDG_DATA_HOME="$RUN_DIR/xdg-data"
# Should the key-store daemon die mid-run (gnome-keyring has been seen to
# under concurrent tests), D-Bus would start a locked one that waits for a
# password prompt forever. This service file, which the session bus reads
# before the system's, starts it unlocked instead.
mkdir -p "$XDG_DATA_HOME/dbus-1/services"
cat >"$RUN_DIR/secret-service.sh" <<'SERVICE'
#!/bin/sh
echo -n "skranke-test" | exec gnome-keyring-daemon --unlock --foreground --components=secrets
SERVICE
chmod +x "$RUN_DIR/secret-service.sh"
printf '[D-BUS Service]\nName=org.freedesktop.secrets\nExec=%s\n' "$RUN_DIR/secret-service.sh" \
  >"$XDG_DATA_HOME/dbus-1/services/org.freedesktop.secrets.service"
dbus-run-session -- bash "$ROOT/scripts/test-inner.sh"
