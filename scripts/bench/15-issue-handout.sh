#!/usr/bin/env bash
# From "issue" to the handout's bytes ready, next to the Argon2id hash alone
# (crates/core/benches/issue_handout.rs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo bench --quiet -p skranke-core --bench issue_handout 2>/dev/null
