#!/usr/bin/env bash
# needs: postgres (the store training runs on each backend)
# teller fraud train through the real program: from a labelled file (the
# tiny history of fraud.sh, with string ids) without a store, from a
# generated bank's store on each backend (registered, promoted, listed by
# `teller models list --task fraud`, a second model a challenger), and bad
# input (missing file, malformed row naming file:line, a period with one
# class, usage errors).
source "$(dirname "$0")/lib.sh"

# 24 days 2020-01-07..30: 30 genuine cards 3 times a day, a fresh card with
# one fraud of 500 each day from the 10th, c0/c1/c2 with a fraud on the
# 13th, 17th and 23rd. $1 = 1 leaves out every fraud from the 20th.
history() {
  awk -v nolate="$1" 'BEGIN {
    print "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud,tx_fraud_scenario"
    id = 0
    for (d = -3; d <= 20; d++) {
      for (k = 0; k < 3; k++)
        for (c = 0; c < 30; c++) {
          fr = (k == 1 && ((c == 0 && d == 3) || (c == 1 && d == 7) || (c == 2 && d == 13))) ? 1 : 0
          if (nolate && d >= 10) fr = 0
          cents = fr ? 60000 : 1000 + (id * 7919) % 9100
          printf "TX-%05d,2020-01-%02d %02d:%02d:%02d,card-%d,T%d,%d.%02d,%d,%d\n", id, 10 + d, 8 + 4 * k, c, c, c, (c + k + d + 10) % 10, int(cents / 100), cents % 100, fr, fr ? 3 : 0
          id++
        }
      if (d >= 0 && !(nolate && d >= 10)) printf "TX-%05d,2020-01-%02d 21:00:00,f%d,T%d,500.00,1,1\n", id++, 10 + d, d, d % 10
    }
  }'
}
history 0 >"$WORK/tx.csv"
gzip -c "$WORK/tx.csv" >"$WORK/tx.csv.gz"

rc=0; teller fraud train --data "$WORK/tx.csv.gz" --no-register --threads 1 >"$WORK/out" || rc=$?
check "train --data --no-register needs no store and exits 0" test $rc -eq 0
check "... prints the periods" grep -q "2020-01-07 .. 2020-01-24 (excl.): 1544 tx, 17 frauds" "$WORK/out"
check "... the validation figures" grep -qE "^valid +2020-01-22 .. 2020-01-24 \(excl.\): 182 tx, 3 frauds; AUC" "$WORK/out"
check "... and that nothing was registered" grep -q "not registered" "$WORK/out"

rc=0; teller fraud train --data "$WORK/tx.csv" --no-register --threads 1 --json >"$WORK/out.json" || rc=$?
check "--json exits 0" test $rc -eq 0
check "... the report has the contract's fields" python3 - "$WORK/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k in ["source", "transactions", "cards", "train", "valid", "rounds", "thresholds", "features", "id", "promoted", "combine"]:
    assert k in r, k
assert r["transactions"] == 2181 and r["cards"] == 51, r
assert r["id"] is None and r["promoted"] is False
v = r["valid"]
for k in ["rows", "frauds", "auc", "average_precision", "review_rate", "review_precision", "block_precision", "recall_at_review"]:
    assert k in v, k
assert v["auc"] > 0.95, v
t = r["thresholds"]
assert 0 < t["review"] <= t["block"] <= 1, t
assert len(r["features"]) == 28 and r["features"][-1] == "amount_over_avg_amount_30day"
assert r["combine"]["iforest_weight"] in (0, 0.15, 0.3, 0.5)
assert r["algo"] == "gbdt+iforest"
PY
rc=0; teller fraud train --data "$WORK/tx.csv" --no-register --no-iforest --threads 1 --json >"$WORK/out.json" || rc=$?
check "--no-iforest trains the trees alone" python3 -c '
import json, sys
r = json.load(open(sys.argv[1])); assert r["algo"] == "gbdt" and r["combine"]["iforest_weight"] == 0, r' "$WORK/out.json"
rc=0; teller fraud train --data "$WORK/tx.csv" --no-register --with-lr --threads 1 --json >"$WORK/lr.json" || rc=$?
check "--with-lr exits 0" test $rc -eq 0
check "... adds a logistic regression, its weight chosen on validation AP" python3 -c '
import json, sys
r = json.load(open(sys.argv[1])); c = r["combine"]
assert r["algo"] == "gbdt+lr+iforest", r["algo"]
assert c["linear_weight"] in (0, 0.25, 0.5), c
cands = c["linear_candidates"]
assert [x["linear_weight"] for x in cands] == [0, 0.25, 0.5], cands
best = max(x["average_precision"] for x in cands)
assert [x for x in cands if x["linear_weight"] == c["linear_weight"]][0]["average_precision"] == best, c
assert json.load(open(sys.argv[2]))["combine"]["linear_candidates"] is None' "$WORK/lr.json" "$WORK/out.json"

# bad input
rc=0; teller fraud train --data "$WORK/nope.csv" --no-register >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a missing file exits 1" test $rc -eq 1
check "... naming it" grep -q "nope.csv: cannot open" "$WORK/err"
sed '7s/,2020-01-07 08:05:05,/,2020-01-07 8:05,/' "$WORK/tx.csv" >"$WORK/bad.csv"
rc=0; teller fraud train --data "$WORK/bad.csv" --no-register >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a malformed row exits 1" test $rc -eq 1
check "... naming file:line and the column" grep -q "bad.csv:7: tx_datetime" "$WORK/err"
history 1 >"$WORK/late.csv"
rc=0; teller fraud train --data "$WORK/late.csv" --no-register >"$WORK/out" 2>"$WORK/err" || rc=$?
check "validation days without a fraud exit 1" test $rc -eq 1
check "... saying which period lacks a class" grep -q "validation days 2020-01-22..2020-01-24 (excl.) need both genuine and fraudulent" "$WORK/err"
rc=0; teller fraud train --data "$WORK/tx.csv" --no-register --valid-days x >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a bad --valid-days exits 2" test $rc -eq 2
rc=0; teller fraud train --data "$WORK/tx.csv" --no-register --valid-days 30 --train-days 20 >"$WORK/out" 2>"$WORK/err" || rc=$?
check "more validation days than training days exits 1" test $rc -eq 1

# from a generated bank's store, on each backend
teller generate --customers 150 --months 4 --out "$WORK/bank" --seed 4 >/dev/null
for store in $(stores); do
  teller ingest --quiet --store "$store" "$WORK/bank" >/dev/null
  rc=0; teller fraud train --store "$store" --valid-days 21 --threads 1 --json >"$WORK/s.json" 2>"$WORK/err" || rc=$?
  check "[${store%%:*}] train from the store exits 0" test $rc -eq 0
  check "[${store%%:*}] ... registers fraud-v1 and promotes it" python3 - "$WORK/s.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["source"] == "store" and r["id"] == "fraud-v1" and r["promoted"] is True, r
assert r["currency"] == "EUR" and r["transactions"] > 1000 and r["valid"]["frauds"] > 0, r
PY
  rc=0; teller fraud train --store "$store" --valid-days 21 --threads 1 --with-lr >"$WORK/out" 2>"$WORK/err" || rc=$?
  check "[${store%%:*}] a second model (with the logistic regression) is a challenger" grep -q "fraud-v2 registered as a challenger" "$WORK/out"
  teller models list --task fraud --store "$store" >"$WORK/list"
  check "[${store%%:*}] models list --task fraud shows both" \
    bash -c "grep -qE '^fraud-v1 .*gbdt\+iforest +champion' '$WORK/list' && grep -qE '^fraud-v2 .*gbdt\+lr\+iforest +challenger' '$WORK/list'"
  rc=0; teller models card fraud-v1 --store "$store" >"$WORK/card" || rc=$?
  check "[${store%%:*}] the model card renders its sections" \
    bash -c "grep -qi 'intended use' '$WORK/card' && grep -qi 'limitations' '$WORK/card' && grep -q 'review threshold' '$WORK/card'"
done

finish
