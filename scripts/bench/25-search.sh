#!/usr/bin/env bash
# Searching the desk's records by name at 100,000 records (crates/core/benches/search.rs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo bench --quiet -p skranke-core --bench search 2>/dev/null
