#!/usr/bin/env bash
# Handout rendering: median render time and PDF size (crates/core/benches/handout.rs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo bench --quiet -p skranke-core --bench handout 2>/dev/null
