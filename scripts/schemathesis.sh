#!/usr/bin/env bash
# Schemathesis against a live registry: every operation of /openapi.json,
# each request signed as an enrolled desk (scripts/schemathesis/hooks.py),
# a bounded number of examples per operation. Fails on a 5xx, a refusal that
# is not a problem document, an answer that its schema or documented status
# and content type do not cover, or a request the document allows that the
# registry refuses as malformed (scripts/schemathesis/schemathesis.toml).
#
# Needs DATABASE_URL (a PostgreSQL server: the run gets a database of its own
# on it, dropped at the end). Installs the pinned Python packages
# (scripts/schemathesis/requirements.txt) into a venv under target/ when
# they changed. Usage: scripts/schemathesis.sh [MAX_EXAMPLES] (default 50: about a minute).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAX_EXAMPLES="${1:-50}"
: "${DATABASE_URL:?DATABASE_URL must name a PostgreSQL server (eval \"\$(bash scripts/ci/postgres.sh)\")}"
HERE="$ROOT/scripts/schemathesis"
VENV="$CARGO_TARGET_DIR/schemathesis-venv"

command -v python3 >/dev/null 2>&1 || ensure_packages python3
if ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements" 2>/dev/null; then
  say "Installing schemathesis into $VENV"
  rm -rf "$VENV"
  # Debian's python3 makes venvs only with python3-venv.
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    ensure_packages python3-venv
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/.requirements"
fi

say "Building the registry"
cargo build --quiet -p skranke-registry --bin skranke-registry
BIN="$CARGO_TARGET_DIR/debug/skranke-registry"

WORK="$(mktemp -d)"
DB="skranke_schemathesis_$$"
ADMIN_URL="$DATABASE_URL"
export DATABASE_URL="${ADMIN_URL%/*}/$DB"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null

export SKRANKE_LANG=en
export SKRANKE_REGISTRY_KEY_FILE="$WORK/registry.key"
"$BIN" key generate --file "$SKRANKE_REGISTRY_KEY_FILE" >/dev/null 2>&1
export SKRANKE_FEED_TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SKRANKE_REGISTRY_URL="http://127.0.0.1:$PORT"

# No rate limits: the run is one desk asking fast, and a 429 tests nothing.
"$BIN" serve --insecure-http --listen "127.0.0.1:$PORT" \
  --lookup-rate 0 --allocate-rate 0 --enrol-per-minute 0 >"$WORK/registry.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if curl -fsS "$SKRANKE_REGISTRY_URL/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    cat "$WORK/registry.log" >&2
    echo "schemathesis.sh: the registry did not start" >&2
    exit 1
  fi
  sleep 0.1
done
SKRANKE_ENROLMENT_CODE="$("$BIN" enrolment-code --municipality 101 --office Borgerservice --desk 1 2>/dev/null | tail -n 1)"
export SKRANKE_ENROLMENT_CODE

say "Schemathesis: $MAX_EXAMPLES examples per operation"
started=$SECONDS
cd "$HERE"
status=0
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$HERE" "$VENV/bin/schemathesis" --config-file "$HERE/schemathesis.toml" \
  run "$SKRANKE_REGISTRY_URL/openapi.json" \
  --max-examples "$MAX_EXAMPLES" --seed 18 --workers 1 \
  --report junit --report-dir "$WORK/report" || status=$?
echo "schemathesis: $((SECONDS - started)) s; answers by route and status (from the registry's request log):"
sed -n 's/.*skranke_registry::request: method=\([A-Z]*\) route=\([^ ]*\) status=\([0-9]*\).*/\1 \2 \3/p' "$WORK/registry.log" \
  | sort | uniq -c | awk '{ printf "  %5d  %s %s %s\n", $1, $2, $3, $4 }'
if [ "$status" -ne 0 ]; then
  echo "schemathesis.sh: schemathesis found failures (exit $status); the registry's log:" >&2
  grep -v 'skranke_registry::request' "$WORK/registry.log" | tail -n 40 >&2
fi
exit "$status"
