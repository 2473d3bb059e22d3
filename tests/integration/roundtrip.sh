#!/usr/bin/env bash
# needs: postgres
# Ingest every table on SQLite and PostgreSQL; counts and sums round-trip;
# export then re-ingest is a no-op; both backends hold byte-identical content;
# CSV variants (CRLF, BOM, stdin) and JSON Lines load; --skip-invalid splits.
source "$(dirname "$0")/lib.sh"
[ -f "${TELLER_PG_STATE:-/x}/url" ] || { echo "PostgreSQL fixture not running"; exit 1; }

sums=()
for store in $(stores); do
  b=${store%%:*}
  check "$b: init creates the schema" teller init --store "$store"
  out=$(teller init --store "$store")
  check "$b: init again applies nothing" grep -q "0 migrations applied" <<<"$out"
  load_mini "$store"
  stats=$(teller stats --json --store "$store")
  check "$b: 3 customers" python3 -c "import json,sys; d=json.load(sys.stdin); assert d['tables']['customers']['rows']==3" <<<"$stats"
  check "$b: 4 transactions summing to 2727.93 EUR" python3 -c "
import json,sys; d=json.load(sys.stdin)['tables']['transactions']
assert d['rows']==4, d
s=[x for x in d['sums'] if x['column']=='amount' and x['currency']=='EUR']
assert s and s[0]['sum_minor']==272793, s" <<<"$stats"
  sum=$(teller stats --checksum --store "$store")
  sums+=("$sum")

  # re-ingest is idempotent; export then ingest is a no-op
  load_mini "$store"
  check "$b: re-ingest leaves the store unchanged" test "$(teller stats --checksum --store "$store")" = "$sum"
  for t in products customers accounts holdings transactions applications interactions; do
    teller export --quiet --store "$store" "$t" --out "$WORK/$t.csv"
    teller export --quiet --store "$store" "$t" --format jsonl --out "$WORK/$t.jsonl"
  done
  for t in products customers accounts holdings transactions applications interactions; do
    teller ingest --quiet --store "$store" "$t" "$WORK/$t.csv" >/dev/null
  done
  check "$b: export then ingest is a no-op" test "$(teller stats --checksum --store "$store")" = "$sum"
  check "$b: export is byte-identical to a re-export" cmp -s "$WORK/transactions.csv" \
    <(teller export --store "$store" transactions)

  # a fresh store loaded from the JSON Lines export holds the same rows
  fresh="sqlite:$WORK/fresh$RANDOM.db"
  for t in products customers accounts holdings transactions applications interactions; do
    teller ingest --quiet --store "$fresh" "$t" "$WORK/$t.jsonl" >/dev/null
  done
  check "$b: JSON Lines export reloads identically" test "$(teller stats --checksum --store "$fresh")" = "$sum"

  # an update through re-ingest changes the row, adds none
  printf '%s\n%s\n' "$(head -1 "$FIX/transactions.csv")" \
    "T2,A1,2026-10-02T12:15:30Z,-43.17,EUR,card,pos,5411,M-REWE,TERM-1,DE,REWE Berlin,0,0" >"$WORK/upd.csv"
  teller ingest --quiet --store "$store" transactions "$WORK/upd.csv" >/dev/null
  n=$(teller stats --json --store "$store" | python3 -c "import json,sys; print(json.load(sys.stdin)['tables']['transactions']['rows'])")
  check "$b: upsert keeps 4 transactions" test "$n" = 4
  check "$b: upsert changed the amount" sh -c "\"$TELLER_BIN\" export --store '$store' transactions | grep -q '^T2,A1,.*,-43.17,'"
  teller ingest --quiet --store "$store" transactions "$FIX/transactions.csv" >/dev/null

  # CRLF line ends, a UTF-8 BOM, and stdin
  sed 's/$/\r/' "$FIX/transactions.csv" >"$WORK/crlf.csv"
  check "$b: CRLF file loads" teller ingest --quiet --store "$store" transactions "$WORK/crlf.csv"
  { printf '\xef\xbb\xbf'; cat "$FIX/transactions.csv"; } >"$WORK/bom.csv"
  check "$b: BOM file loads" teller ingest --quiet --store "$store" transactions "$WORK/bom.csv"
  check "$b: stdin loads" sh -c "\"$TELLER_BIN\" ingest --quiet --store '$store' transactions - <'$FIX/transactions.csv'"
  check "$b: variants changed nothing" test "$(teller stats --checksum --store "$store")" = "$sum"

  # --skip-invalid: good rows load, bad ones land in the reject file with reasons
  { head -1 "$FIX/transactions.csv"
    echo "T50,A1,2026-10-06T10:00:00Z,-5.00,EUR,card,pos,5411,M1,TM1,DE,good,0,0"
    echo "T51,A1,2026-10-06T10:00:00Z,-5.001,EUR,card,pos,5411,M1,TM1,DE,bad,0,0"
    echo "T52,A404,2026-10-06T10:00:00Z,-5.00,EUR,card,pos,5411,M1,TM1,DE,bad,0,0"
    echo "T53,A1,2026-10-06T10:00:00Z,-7.00,EUR,card,pos,5411,M1,TM1,DE,good,0,0"; } >"$WORK/mixed.csv"
  out=$(teller ingest --json --quiet --store "$store" transactions "$WORK/mixed.csv" --skip-invalid "$WORK/rejects.csv")
  check "$b: skip-invalid loads 2 and rejects 2" python3 -c "
import json,sys; d=json.load(sys.stdin)['loads'][0]
assert d['rows_loaded']==2 and d['rows_rejected']==2, d" <<<"$out"
  check "$b: reject file names line 3 and line 4" sh -c "grep -q '^3,' '$WORK/rejects.csv' && grep -q '^4,' '$WORK/rejects.csv' && grep -q A404 '$WORK/rejects.csv'"
done
check "SQLite and PostgreSQL hold identical content" test "${sums[0]}" = "${sums[1]}"
finish
