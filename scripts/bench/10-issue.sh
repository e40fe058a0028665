#!/usr/bin/env bash
# Issuing one record against one bare durable insert (crates/core/benches/issue.rs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo bench --quiet -p skranke-core --bench issue 2>/dev/null
