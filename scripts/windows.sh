#!/usr/bin/env bash
# Windows: cross-builds the core, the `skranke` CLI and the desk app for
# Windows (x86_64-pc-windows-gnu: SQLCipher over OpenSSL built from source,
# the Credential Manager key store, the winspool printer; the desk app with
# ui/dist inside), packs both programs into an MSI (scripts/msi.sh), runs
# the unit tests of the rules, the wire and the core under Wine, then tests
# skranke.exe under Wine against the Linux expectations
# (tests/windows/wine.rs), and the desk app and the MSI under Wine's
# msiexec (tests/windows/package.rs). Part of the test command
# (scripts/test-inner.sh); runs alone as well:
#
#   bash scripts/windows.sh
#
# Cache-friendly: the cross build goes to target/windows, apart from the
# Linux build (so neither waits for the other's lock), and the Linux side of
# the test (it runs the registry on loopback) to the usual target/; a second
# run rebuilds nothing. Wine gets a fresh prefix every run, so its Credential
# Manager starts empty, and prints through the CUPS queue of
# scripts/ci/cups-setup.sh (set up here when missing). The registry needs
# PostgreSQL: the test command's DATABASE_URL, else a throwaway cluster of
# this script's own (scripts/ci/postgres.sh on port 55433), stopped at the end.
#
# Wine 8 lacks bcryptprimitives.dll, whose ProcessPrng every Rust program on
# Windows imports: tests/windows/bcryptprimitives.c is a stand-in that goes
# into the throwaway prefix's system32 only, never beside a shipped .exe.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TRIPLE=x86_64-pc-windows-gnu
WIN_DIR="$CARGO_TARGET_DIR/windows"
WINE_DIR="$WIN_DIR/wine"
START=$SECONDS

ensure_packages "${WINDOWS_PACKAGES[@]}"
if ! rustup target list --installed | grep -qx "$TRIPLE"; then
  say "Adding the Rust target $TRIPLE"
  rustup target add "$TRIPLE"
fi
# Debian's wine64 does not put its loader on PATH.
WINE="$(dpkg -L wine64 | grep -m1 '/wine64$')"
WINESERVER="$(dirname "$WINE")/wineserver"

# Warnings are errors for the Windows target: the Windows build may have
# none that the Linux build lacks (cargo caps dependencies' lints, so this
# holds the workspace's own crates). A runner makes `cargo test` run the
# Windows test programs under Wine.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-D warnings"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$WINE"
# The cross build is made from scratch on a clean clone and never debugged
# here: no debug info (MinGW's linker is slow with it) and no incremental
# state, which saves minutes of the budget (panics still name file and line).
cross() { (cd "$ROOT" && CARGO_TARGET_DIR="$WIN_DIR" CARGO_PROFILE_DEV_DEBUG=0 CARGO_INCREMENTAL=0 cargo "$@"); }

# The desk app serves ui/dist from the binary: build it when a UI source
# is newer (the test command's desk build has just made it).
if [ ! -f "$ROOT/ui/dist/index.html" ] ||
  find "$ROOT/ui" "$ROOT/vite.config.ts" "$ROOT/package-lock.json" -path "$ROOT/ui/dist" -prune -o \
    -type f -newer "$ROOT/ui/dist/index.html" -print | grep -q .; then
  ensure_npm
  say "Building the desk app's UI"
  (cd "$ROOT" && npm run --silent build)
fi

say "Cross-building skranke.exe, skranke-desk.exe and the core's tests for Windows"
# One build for both programs, so that the dependencies they share are
# built once, with the features of both. The desk app is the debug build
# with the UI embedded (custom-protocol), a GUI program like the release
# build: a release build (thin LTO) would take most of the time budget.
cross build --quiet -p skranke-cli -p skranke-desk --features skranke-desk/custom-protocol --target "$TRIPLE"
cross test --quiet --no-run -p skranke-rules -p skranke-protocol -p skranke-core --lib --target "$TRIPLE"
EXE="$WIN_DIR/$TRIPLE/debug/skranke.exe"
DESK_EXE="$WIN_DIR/$TRIPLE/debug/skranke-desk.exe"

say "Building the MSI"
MSI="$(bash "$ROOT/scripts/msi.sh" "$WIN_DIR/$TRIPLE/debug" "$WIN_DIR")"

mkdir -p "$WINE_DIR"
DLL="$WINE_DIR/bcryptprimitives.dll"
if [ ! -f "$DLL" ] || [ "$ROOT/tests/windows/bcryptprimitives.c" -nt "$DLL" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror -o "$DLL" \
    "$ROOT/tests/windows/bcryptprimitives.c" -ladvapi32
fi

# Wine's spooler prints through CUPS: the PDF queue the printing tests use
# (the test command has set it up already).
if ! lpstat -p skranke-test >/dev/null 2>&1; then
  say "Setting up the CUPS test queue"
  as_root bash "$ROOT/scripts/ci/cups-setup.sh"
fi

say "Preparing a fresh Wine prefix"
export WINEPREFIX="$WINE_DIR/prefix"
export WINEDEBUG=-all
# No Mono or Gecko download prompts; a console program needs no display.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
"$WINESERVER" -k 2>/dev/null || true
rm -rf "$WINEPREFIX"
"$WINE" wineboot --init >/dev/null 2>&1
"$WINESERVER" -w
cp "$DLL" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"

RUN_DIR="$WINE_DIR/run"
mkdir -p "$RUN_DIR"
cleanup() {
  "$WINESERVER" -k 2>/dev/null || true
  if [ -f "$RUN_DIR/stop-postgres.sh" ]; then bash "$RUN_DIR/stop-postgres.sh" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
# One server for the whole run, so that each program starts fast.
"$WINESERVER" -p

if [ -z "${DATABASE_URL:-}" ]; then
  say "Starting PostgreSQL for the registry"
  out="$(SKRANKE_PG_PORT=55433 bash "$ROOT/scripts/ci/postgres.sh" "$RUN_DIR")"
  eval "$(grep '^export ' <<<"$out")"
fi

say "The unit tests of the rules, the wire and the core under Wine"
# The handout's tests read the PDF with pdftotext, a Linux program that a
# Windows process cannot start; tests/windows/wine.rs reads the Windows
# build's handouts with it from the Linux side instead.
cross test --quiet -p skranke-rules -p skranke-protocol -p skranke-core --lib --target "$TRIPLE" -- --skip letter::tests::

say "skranke.exe under Wine against the Linux expectations"
(cd "$ROOT" && SKRANKE_WINE="$WINE" SKRANKE_WINDOWS_EXE="$EXE" cargo test --quiet -p skranke-cli --test windows)

say "skranke-desk.exe and the MSI under Wine"
(cd "$ROOT" && SKRANKE_WINE="$WINE" SKRANKE_WINDOWS_DESK_EXE="$DESK_EXE" SKRANKE_WINDOWS_MSI="$MSI" \
  cargo test --quiet -p skranke-cli --test windows_package)

say "Windows: done in $(((SECONDS - START) / 60)) min $(((SECONDS - START) % 60)) s"
