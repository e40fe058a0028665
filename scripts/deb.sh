#!/usr/bin/env bash
# The Linux package (issue 20): bundles the desk app and the `skranke` CLI
# into a .deb, inspects it, installs it with dpkg, runs the installed CLI,
# starts the installed desk app to its first screen (tests/package/) and
# removes the package again; on a failure the package is removed too. Part
# of the test command (scripts/test-inner.sh); runs alone as well, as root
# or through sudo, with an X display and a D-Bus session:
#
#   Xvfb :99 & DISPLAY=:99 dbus-run-session -- bash scripts/deb.sh
#
# The test package is bundled from the debug builds the test command has
# made anyway (the desk app by `build_desk_app`, the CLI by the Rust tests):
# `tauri bundle` packs them without compiling, so this adds no build.
# (`tauri build --debug --bundles deb` would compile the desk app again:
# the changed configuration below reaches its build script.) A release
# package is the same bundle of the release builds (README, "Building
# packages"); tauri.conf.json names the release CLI, and this script points
# the package at the debug one instead.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START=$SECONDS
say "The Linux package: build, inspect, install, start, remove"
fail() {
  echo "deb: $*" >&2
  exit 1
}

[ -n "${DISPLAY:-}" ] || fail "no DISPLAY: the installed desk app needs an X display (the test command starts Xvfb)"
ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_npm

VERSION="$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml")"
[ -n "$VERSION" ] || fail "no version in Cargo.toml's [workspace.package]"
DESK="$CARGO_TARGET_DIR/debug/skranke-desk"
CLI="$CARGO_TARGET_DIR/debug/skranke"
BUNDLE_DIR="$CARGO_TARGET_DIR/debug/bundle/deb"

# In the test command the desk app is built (build_desk_app) before the
# tests start; alone, this builds it when it is missing.
[ -x "$DESK" ] || build_desk_app
# The CLI as the Rust tests build it: `cargo test --workspace` resolves the
# dependencies' features over the whole workspace, and `cargo build -p
# skranke-cli` would resolve them apart and build another core and CLI. A
# no-op after the Rust tests (it links target/debug/skranke to their build
# again); alone, it builds them, and the CLI with them.
say "The skranke CLI (debug)"
(cd "$ROOT" && cargo test --workspace --no-run --quiet)
[ -x "$CLI" ] || fail "cargo built no $CLI"

say "Bundling the .deb"
rm -rf "$BUNDLE_DIR"
(cd "$ROOT" && npx tauri bundle --debug --bundles deb --ci \
  --config "{\"bundle\":{\"linux\":{\"deb\":{\"files\":{\"/usr/bin/skranke\":\"$CLI\"}}}}}")
DEBS=("$BUNDLE_DIR"/*.deb)
[ ${#DEBS[@]} -eq 1 ] && [ -f "${DEBS[0]}" ] || fail "expected one .deb in $BUNDLE_DIR, found: ${DEBS[*]}"
DEB="${DEBS[0]}"

say "Inspecting $(basename "$DEB")"
field() { dpkg-deb -f "$DEB" "$1"; }
# Whether the control field $1 lists package $2 (as such or as one of alternatives).
lists() { field "$1" | tr ',|' '\n\n' | sed 's/([^)]*)//; s/^ *//; s/ *$//' | grep -qx "$2"; }
PKG="$(field Package)"
[ "$PKG" = skranke ] || fail "package name is '$PKG', not skranke"
[ "$(field Version)" = "$VERSION" ] || fail "package version $(field Version) is not the workspace's $VERSION"
for dep in libwebkit2gtk-4.1-0 libgtk-3-0 cups-client; do
  lists Depends "$dep" || fail "Depends lacks $dep: $(field Depends)"
done
for rec in gnome-keyring cups; do
  lists Recommends "$rec" || fail "Recommends lacks $rec: $(field Recommends)"
done
CONTENTS="$(dpkg-deb -c "$DEB")"
for bin in skranke-desk skranke; do
  grep -Eq "^-rwxr-xr-x .* (\./)?usr/bin/$bin\$" <<<"$CONTENTS" || fail "no executable /usr/bin/$bin in the package:
$CONTENTS"
done
DESKTOP="$(dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - --wildcards "*usr/share/applications/Skranke.desktop")" ||
  fail "no Skranke.desktop in the package"
grep -qx "Exec=skranke-desk" <<<"$DESKTOP" || fail "the desktop entry does not start skranke-desk:
$DESKTOP"
# bundle.category "Business" is Tauri's name for the freedesktop menu Office.
grep -Eqx "Categories=Office;?" <<<"$DESKTOP" || fail "the desktop entry is not in the Office menu:
$DESKTOP"
field Depends | sed 's/^/    Depends: /'
field Recommends | sed 's/^/    Recommends: /'

# Installed means anything dpkg still knows of besides "not-installed".
installed() {
  local status
  status="$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || true)"
  [ -n "$status" ] && [ "$status" != not-installed ]
}
remove_on_exit() {
  if installed; then
    echo "deb: removing $PKG after a failure" >&2
    as_root dpkg --purge "$PKG" >/dev/null || true
  fi
}
if installed; then
  say "Removing $PKG left from an earlier run"
  as_root dpkg --purge "$PKG" >/dev/null
fi
for f in /usr/bin/skranke-desk /usr/bin/skranke; do
  [ ! -e "$f" ] || fail "$f is already there (not from this package): installing would replace it"
done
trap remove_on_exit EXIT

say "Installing $PKG with dpkg"
as_root dpkg -i "$DEB" >/dev/null
[ "$(dpkg-query -W -f='${db:Status-Status}' "$PKG")" = installed ] || fail "$PKG is not installed after dpkg -i"
for f in /usr/bin/skranke-desk /usr/bin/skranke; do
  [ "$(dpkg -S "$f" | cut -d: -f1)" = "$PKG" ] || fail "$f does not belong to $PKG"
done

say "The installed skranke --version"
out="$(/usr/bin/skranke --version)" || fail "/usr/bin/skranke --version failed"
echo "    $out"
[ "$out" = "skranke $VERSION" ] || fail "/usr/bin/skranke --version says '$out', not 'skranke $VERSION'"

say "The installed desk app's first screen"
(cd "$ROOT" && node --test --test-concurrency=1 --test-timeout=120000 tests/package/)

say "Removing $PKG with dpkg"
as_root dpkg -r "$PKG" >/dev/null
! installed || fail "$PKG is still installed after dpkg -r"
for f in /usr/bin/skranke-desk /usr/bin/skranke /usr/share/applications/Skranke.desktop; do
  [ ! -e "$f" ] || fail "$f is still there after dpkg -r"
done

say "Linux package: done in $(((SECONDS - START) / 60)) min $(((SECONDS - START) % 60)) s"
