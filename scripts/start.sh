#!/usr/bin/env bash
# README command 1: set up everything on a fresh Debian 12 machine (Debian
# packages, npm packages, build) and start the desk app on its embedded
# default: a training desk with a local encrypted database, no registry.
# Idempotent: a second run skips what is already there.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${BUILD_PACKAGES[@]}"
ensure_npm
build_desk_app

say "Starting Skranke"
exec "$CARGO_TARGET_DIR/debug/skranke-desk" "$@"
