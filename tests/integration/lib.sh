# Shared helpers for the integration tests (sourced, not run by CTest: CTest
# runs only files that call `main`). Each test works in its own temp dir.
set -euo pipefail
: "${TELLER_BIN:?TELLER_BIN must point at the teller binary}"
: "${TELLER_SRC:?TELLER_SRC must point at the source tree}"
FIX="$TELLER_SRC/tests/fixtures/mini"
WORK=$(mktemp -d /tmp/teller-it.XXXXXX)
# With TELLER_TEST_LOGS set (CTest sets it), every log a test leaves in its
# work dir (*.log: server logs, the stderr of teller commands) is kept there
# when the test ends, for tests/logscan.sh to search for planted PII.
keep_logs() {
  if [ -n "${TELLER_TEST_LOGS:-}" ]; then
    local dir="$TELLER_TEST_LOGS/$(basename "$0" .sh)"
    mkdir -p "$dir"
    find "$WORK" -name '*.log' -type f -exec cp --backup=numbered -t "$dir" {} + 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap keep_logs EXIT
# Every test has its own data key beside its stores, never one left in the
# working directory by an earlier run or taken from the caller's environment.
export TELLER_DATA_KEY_FILE="$WORK/teller.key"
unset TELLER_DATA_KEY
PASS=0
FAIL=0

# The program, with its stderr (where its log lines go) also appended to
# $WORK/teller-stderr.log. Copied after the command ends, not teed, so that
# a caller reading a redirected stderr finds it complete.
teller() {
  local rc=0 e="$WORK/.stderr.$BASHPID"
  "$TELLER_BIN" "$@" 2>"$e" || rc=$?
  cat "$e" >&2
  cat "$e" >>"$WORK/teller-stderr.log"
  rm -f "$e"
  return $rc
}

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
