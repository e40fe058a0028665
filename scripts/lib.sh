# Shared helpers for the README's two commands. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# Debian packages to build the desk app (Tauri on WebKitGTK) and the core.
BUILD_PACKAGES=(
  build-essential pkg-config curl file
  libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev
  dbus dbus-x11 gnome-keyring
)
# Extra Debian packages the tests need: a WebKit WebDriver and a virtual
# display, PDF text extraction and rasterising, HarfBuzz's hb-view (the
# reference shaper the Arabic handout is compared with), PostgreSQL for the
# registry, CUPS with a PDF printer for printing tests, systemd-analyze
# for the registry's unit file.
TEST_PACKAGES=(
  webkit2gtk-driver xvfb xauth poppler-utils libharfbuzz-bin
  postgresql cups cups-client cups-bsd printer-driver-cups-pdf
  systemd
)
# Debian packages for the Windows build and its tests (scripts/windows.sh):
# the MinGW-w64 C compiler for x86_64-pc-windows-gnu (Rust's linker, and the
# C of OpenSSL, SQLCipher and ring) and its windres (the desk app's icon,
# version and manifest), Wine to run the result, msitools' wixl and msiinfo
# (the MSI, scripts/msi.sh), and what the Linux side of its tests needs
# (the core's build, PostgreSQL for the registry, pdftotext, and CUPS with
# the PDF queue that Wine's spooler prints to).
WINDOWS_PACKAGES=(
  gcc-mingw-w64-x86-64-win32 binutils-mingw-w64-x86-64 wine64 wixl msitools
  build-essential pkg-config libssl-dev postgresql poppler-utils
  cups cups-client cups-bsd printer-driver-cups-pdf
)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages that are missing; does nothing when all are there.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Installs the npm packages when package-lock.json changed since the last install.
ensure_npm() {
  local stamp="$ROOT/node_modules/.skranke-lock-stamp"
  if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/package-lock.json" "$stamp"; then
    say "Installing npm packages"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$ROOT/package-lock.json" "$stamp"
  fi
}

# Builds the desk app in debug mode with the UI embedded (the tests use it too).
build_desk_app() {
  say "Building the desk app"
  (cd "$ROOT" && npx tauri build --debug --no-bundle --ci)
}
