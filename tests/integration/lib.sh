# Shared helpers for the integration tests (sourced, not run by CTest: CTest
# runs only files that call `main`). Each test works in its own temp dir.
set -euo pipefail
: "${TELLER_BIN:?TELLER_BIN must point at the teller binary}"
: "${TELLER_SRC:?TELLER_SRC must point at the source tree}"
FIX="$TELLER_SRC/tests/fixtures/mini"
WORK=$(mktemp -d /tmp/teller-it.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# Every test has its own data key beside its stores, never one left in the
# working directory by an earlier run or taken from the caller's environment.
export TELLER_DATA_KEY_FILE="$WORK/teller.key"
unset TELLER_DATA_KEY
PASS=0
FAIL=0

teller() { "$TELLER_BIN" "$@"; }

ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }

check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

# A fresh PostgreSQL database URL on the test run's server (tests/pg.sh).
pg_fresh_url() {
  local base db
  base=$(cat "$TELLER_PG_STATE/url")
  db="it_$$_$RANDOM$RANDOM"
  psql -q -d "$base" -c "CREATE DATABASE $db" >/dev/null
  echo "${base%/*}/$db"
}

# The stores each test runs on: a new SQLite file and, when the fixture
# started a server, a new PostgreSQL database.
stores() {
  echo "sqlite:$WORK/s$RANDOM.db"
  if [ -f "${TELLER_PG_STATE:-/nonexistent}/url" ]; then pg_fresh_url; fi
}

load_mini() { # load_mini STORE: the small valid bank of tests/fixtures/mini
  teller ingest --quiet --store "$1" "$FIX" >/dev/null
}

finish() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}
