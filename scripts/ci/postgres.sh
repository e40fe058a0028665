#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster for the registry's tests and prints
# `export DATABASE_URL=...` for the caller to eval. Idempotent: a cluster that
# is already running is reused. Writes RUN_DIR/stop-postgres.sh, which stops
# it and removes its data directory (a throwaway cluster leaves nothing).
#
#   eval "$(bash scripts/ci/postgres.sh [RUN_DIR])"
#
# initdb and pg_ctl refuse to run as root, so as root they run as the
# `postgres` user; the data directory lives under /tmp, where that user can
# write whatever the checkout's permissions are.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${1:-$ROOT/.test-run}"
PORT="${SKRANKE_PG_PORT:-55432}"
BIN=/usr/lib/postgresql/15/bin
DATA="/tmp/skranke-pg-$PORT"
mkdir -p "$RUN_DIR"

if [ ! -x "$BIN/initdb" ]; then
  echo "postgres.sh: installing PostgreSQL 15" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql-15 >&2 || apt-get install -y -qq postgresql >&2
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$RUN_DIR/postgres-initdb.log" 2>&1
  fi
  # Throwaway cluster: durability is not what the tests measure.
  as_pg "$BIN/pg_ctl" -D "$DATA" -w -t 60 -l "$DATA/server.log" \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >&2
fi

cat >"$RUN_DIR/stop-postgres.sh" <<STOP
#!/usr/bin/env bash
if [ "\$(id -u)" = 0 ]; then
  runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA" -m fast stop
else
  "$BIN/pg_ctl" -D "$DATA" -m fast stop
fi
rm -rf "$DATA"
STOP

echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
