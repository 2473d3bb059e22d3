#!/usr/bin/env bash
# teller fraud eval through the real program on a tiny generated history
# (24 days, 30 genuine cards, one fresh fraud card a day, three cards with a
# fraud in the training or delay period): the handbook's split and the
# removal of known compromised cards in the table and in --json, and bad
# input (missing --data, a malformed row, an unknown subcommand).
source "$(dirname "$0")/lib.sh"

# The same history as tests/unit/test_fraud_eval.c: days -3..20 around a
# training start of 2020-01-10; c0 has a fraud on day 3, c1 on day 7, c2 on
# day 13; f<d> makes one fraud of 500 on day d.
awk 'BEGIN {
  print "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud,tx_fraud_scenario"
  id = 0
  for (d = -3; d <= 20; d++) {
    for (k = 0; k < 3; k++)
      for (c = 0; c < 30; c++) {
        fr = (k == 1 && ((c == 0 && d == 3) || (c == 1 && d == 7) || (c == 2 && d == 13))) ? 1 : 0
        cents = fr ? 60000 : 1000 + (id * 7919) % 9100
        printf "%d,2020-01-%02d %02d:%02d:%02d,c%d,t%d,%d.%02d,%d,%d\n", id, 10 + d, 8 + 4 * k, c, c, c, (c + k + d + 10) % 10, int(cents / 100), cents % 100, fr, fr ? 3 : 0
        id++
      }
    if (d >= 0) printf "%d,2020-01-%02d 21:00:00,f%d,t%d,500.00,1,1\n", id++, 10 + d, d, d % 10
  }
}' >"$WORK/tx.csv"
gzip -c "$WORK/tx.csv" >"$WORK/tx.csv.gz"

rc=0; teller fraud eval --data "$WORK/tx.csv.gz" --train-start 2020-01-10 --top-k 5 --threads 1 >"$WORK/out" || rc=$?
check "eval on a gzip file exits 0" test $rc -eq 0
check "... prints the training period" grep -q "2020-01-10 .. 2020-01-17 (excl.): 637 tx, 8 frauds" "$WORK/out"
check "... removes the known compromised cards' 39 test rows" grep -q "598 tx, 7 frauds, 36 cards (39 rows removed)" "$WORK/out"
check "... has a row per model" test "$(grep -cE '^(handbook logistic regression \(15|logistic regression \(21|gbdt \(21)' "$WORK/out")" -eq 3
check "... next to the published figures" grep -q "handbook random forest" "$WORK/out"

rc=0; teller fraud eval --data "$WORK/tx.csv" --train-start 2020-01-10 --top-k 5 --threads 1 --json >"$WORK/out.json" || rc=$?
check "--json exits 0" test $rc -eq 0
check "... is JSON with the figures" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["test"] == {"rows": 598, "frauds": 7, "removed_rows": 39, "cards": 36}, r["test"]
assert [m["name"] for m in r["models"]] == ["handbook logistic regression", "logistic regression", "gbdt"]
for m in r["models"]:
    assert m["auc"] > 0.99 and abs(m["card_precision_at_k"] - 0.2) < 1e-12, m
' "$WORK/out.json"

rc=0; teller fraud eval >"$WORK/out" 2>"$WORK/err" || rc=$?
check "eval without --data exits 2" test $rc -eq 2
rc=0; teller fraud replay --data "$WORK/tx.csv" >"$WORK/out" 2>"$WORK/err" || rc=$?
check "an unknown subcommand exits 2" test $rc -eq 2
sed '5s/,2020-01-07 08:03:03,/,2020-01-07 8:03,/' "$WORK/tx.csv" >"$WORK/bad.csv"
rc=0; teller fraud eval --data "$WORK/bad.csv" >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a malformed row exits 1" test $rc -eq 1
check "... naming file:line and the column" grep -q "bad.csv:5: tx_datetime" "$WORK/err"
rc=0; teller fraud eval --data "$WORK/tx.csv" --train-days 0 >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a training period under 2 days exits 1" test $rc -eq 1

finish
