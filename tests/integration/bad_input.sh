#!/usr/bin/env bash
# needs: postgres
# The bad-input suite: every case in tests/integration/bad/*.case is ingested
# into a store holding the mini bank, on SQLite and on PostgreSQL. Each must
# fail with exit code 1, an error containing every `expect:` fragment (file:line,
# column, value), and leave the store checksum exactly as before.
source "$(dirname "$0")/lib.sh"
[ -f "${TELLER_PG_STATE:-/x}/url" ] || { echo "PostgreSQL fixture not running"; exit 1; }

for store in $(stores); do
  load_mini "$store"
  before=$(teller stats --checksum --store "$store")
  for case in "$TELLER_SRC"/tests/integration/bad/*.case; do
    name=$(basename "$case" .case)
    python3 "$TELLER_SRC/tests/integration/case.py" "$case" "$WORK/case" >"$WORK/case.meta"
    table=$(sed -n 's/^table=//p' "$WORK/case.meta")
    file=$(sed -n 's/^file=//p' "$WORK/case.meta")
    set +e
    teller ingest --quiet --store "$store" "$table" "$file" >"$WORK/out" 2>"$WORK/err"
    rc=$?
    set -e
    after=$(teller stats --checksum --store "$store")
    msg=$(head -c 2000 "$WORK/err")
    missing=""
    while IFS= read -r frag; do
      [ -z "$frag" ] && continue
      grep -qF -- "$frag" "$WORK/err" || missing="$missing [$frag]"
    done < <(sed -n 's/^expect=//p' "$WORK/case.meta" | tr '|' '\n' | sed 's/^ *//; s/ *$//')
    if [ "$rc" -ne 1 ]; then
      bad "$name (${store%%:*}): exit $rc, want 1: $msg"
    elif [ -n "$missing" ]; then
      bad "$name (${store%%:*}): error lacks$missing: $msg"
    elif [ "$before" != "$after" ]; then
      bad "$name (${store%%:*}): store changed"
    else
      ok "$name (${store%%:*}): $msg"
    fi
  done
done
finish
