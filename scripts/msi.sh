#!/usr/bin/env bash
# Builds the Skranke MSI (packaging/windows/skranke.wxs) with msitools'
# wixl from a folder holding the Windows build's skranke-desk.exe (with the
# WebView2Loader.dll the build puts beside it) and skranke.exe, as
# OUT_DIR/skranke-VERSION.msi, and prints its path:
#
#   bash scripts/msi.sh BIN_DIR OUT_DIR [VERSION]
#
# VERSION defaults to the workspace version in Cargo.toml; it must be three
# numbers (a Windows Installer ProductVersion: 255.255.65535 at most), so a
# pre-release such as 0.2.0-rc.1 is refused. scripts/windows.sh calls this
# after the cross build; the Windows test (tests/windows/package.rs) calls
# it again with a higher version to check that the newer MSI replaces the
# older one.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: bash scripts/msi.sh BIN_DIR OUT_DIR [VERSION]" >&2
  exit 2
fi
BIN_DIR="$1"
OUT_DIR="$2"
VERSION="${3:-$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml")}"

if ! [[ "$VERSION" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] ||
  [ "${BASH_REMATCH[1]}" -gt 255 ] || [ "${BASH_REMATCH[2]}" -gt 255 ] || [ "${BASH_REMATCH[3]}" -gt 65535 ]; then
  echo "msi.sh: the version '$VERSION' is not major.minor.patch within 255.255.65535, which an MSI requires" >&2
  exit 2
fi
FILES=(skranke-desk.exe WebView2Loader.dll skranke.exe)
for file in "${FILES[@]}"; do
  if [ ! -f "$BIN_DIR/$file" ]; then
    echo "msi.sh: $BIN_DIR/$file is missing (build it first: scripts/windows.sh)" >&2
    exit 2
  fi
done

# wixl finds a File's Source relative to the folder it runs in and takes
# no absolute path there: it runs in a folder of links to the inputs.
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
for file in "${FILES[@]}"; do ln -s "$(realpath "$BIN_DIR/$file")" "$STAGE/$file"; done
ln -s "$ROOT/icons/icon.ico" "$STAGE/skranke.ico"
mkdir -p "$OUT_DIR"
OUT="$(realpath "$OUT_DIR")/skranke-$VERSION.msi"
rm -f "$OUT"
# wixl says "unimplemented" for the non-advertised Start-menu shortcut,
# whose Target the .wxs spells out (it would otherwise fill it in itself).
(cd "$STAGE" && wixl --arch x64 --define "Version=$VERSION" --output "$OUT" "$ROOT/packaging/windows/skranke.wxs" 2>&1 |
  { grep -v 'builder.vala:[0-9]*: unimplemented$' || true; } >&2)
[ -s "$OUT" ] || { echo "msi.sh: wixl made no $OUT" >&2; exit 1; }
echo "$OUT"
