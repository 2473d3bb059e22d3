#!/usr/bin/env bash
# Starts or stops the PostgreSQL server the test run uses: its own data
# directory, a free loopback port, trust authentication on 127.0.0.1 only.
# `start` writes the connection URL to STATE/url; tests create their own
# databases on it. PostgreSQL refuses to run as root, so when we are root the
# server runs as the `postgres` user (created by Debian's package).
set -euo pipefail
cmd=${1:?start|stop}
state=${2:?state dir}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[ -x "$PGBIN/pg_ctl" ] || { echo "pg.sh: PostgreSQL server binaries not found (install postgresql)"; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  if [ -f "$state/url" ] && [ -f "$state/datadir" ]; then
    "$0" stop "$state" || true
  fi
  mkdir -p "$state"
  data=$(mktemp -d /tmp/teller-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres: "$data"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$PGBIN/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
    || { cat "$state/initdb.log"; exit 1; }
  as_pg "$PGBIN/pg_ctl" -D "$data" -w -t 60 -l "$data/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c max_connections=100" start >/dev/null
  echo "$data" >"$state/datadir"
  echo "postgres://postgres@127.0.0.1:$port/postgres" >"$state/url"
  echo "pg.sh: PostgreSQL started on 127.0.0.1:$port (data $data)"
  ;;
stop)
  [ -f "$state/datadir" ] || { echo "pg.sh: nothing to stop"; exit 0; }
  data=$(cat "$state/datadir")
  as_pg "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$data" "$state/datadir" "$state/url"
  echo "pg.sh: PostgreSQL stopped"
  ;;
*) echo "usage: pg.sh start|stop STATE_DIR"; exit 2 ;;
esac
