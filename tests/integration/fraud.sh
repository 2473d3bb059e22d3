#!/usr/bin/env bash
# teller fraud eval through the real program on a tiny generated history
# (24 days, 30 genuine cards, one fresh fraud card a day, three cards with a
# fraud in the training or delay period): the handbook's split and the
# removal of known compromised cards in the table and in --json, and bad
# input (missing --data, a malformed row, an unknown subcommand).
# Then the live engine on a small generated bank: train, stream (decisions,
# a malformed line, a duplicate, refused transactions, rules), replay with
# --state and a stream restoring that state, bad rule and state files.
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
rc=0; teller fraud nosuch --data "$WORK/tx.csv" >"$WORK/out" 2>"$WORK/err" || rc=$?
check "an unknown subcommand exits 2" test $rc -eq 2
sed '5s/,2020-01-07 08:03:03,/,2020-01-07 8:03,/' "$WORK/tx.csv" >"$WORK/bad.csv"
rc=0; teller fraud eval --data "$WORK/bad.csv" >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a malformed row exits 1" test $rc -eq 1
check "... naming file:line and the column" grep -q "bad.csv:5: tx_datetime" "$WORK/err"
rc=0; teller fraud eval --data "$WORK/tx.csv" --train-days 0 >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a training period under 2 days exits 1" test $rc -eq 1

# ---- the live engine: stream and replay on a generated bank -----------------
teller generate --quiet --customers 200 --seed 5 --out "$WORK/bank" >/dev/null
S="sqlite:$WORK/bank.db"
teller init --store "$S" >/dev/null 2>&1
teller ingest --quiet --store "$S" "$WORK/bank" >/dev/null
rc=0; teller fraud train --store "$S" --threads 2 >"$WORK/train.out" 2>"$WORK/train.log" || rc=$?
check "fraud train on the generated bank exits 0" test $rc -eq 0

# The last card payments of the history as JSON lines, with a malformed line
# (3), a blank one (4), a duplicate of line 2 (6), a currency the model was
# not trained in (7) and a time far ahead of the clock (8).
cat >"$WORK/mklines.py" <<'PY'
import csv, json, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["kind"] == "card"][-3:]
keys = ("id", "account_id", "ts", "amount", "currency", "channel", "mcc", "merchant_id",
        "terminal_id", "country")
tx = [json.dumps({k: r[k] for k in keys if r[k] != ""}) for r in rows]
usd = json.loads(tx[2]); usd["id"] = "usd-1"; usd["currency"] = "USD"
fut = json.loads(tx[2]); fut["id"] = "future-1"; fut["ts"] = "2999-01-01T00:00:00Z"
print("\n".join([tx[0], tx[1], '{"id": "x", ', "", tx[2], tx[1], json.dumps(usd), json.dumps(fut)]))
PY
python3 "$WORK/mklines.py" "$WORK/bank/transactions.csv" >"$WORK/in.jsonl"
rc=0; teller fraud stream --store "$S" <"$WORK/in.jsonl" >"$WORK/dec.jsonl" 2>"$WORK/stream.log" || rc=$?
check "stream exits 0 at the end of its input" test $rc -eq 0
cat >"$WORK/checkdec.py" <<'PY'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1])]
assert len(out) == 7, out
for i in (0, 1, 3, 4):
    d = out[i]
    assert d["decision"] in ("allow", "review", "block"), d
    assert d["basis"] in ("model", "rules") and d["model"] == "fraud-v1", d
    assert 0 <= d["score"] <= 1 and len(d["inputs_digest"]) == 64, d
    assert isinstance(d["reasons"], list) and d["currency"] == "EUR", d
assert out[2]["line"] == 3 and out[2]["error"]["code"] == "parse", out[2]
assert out[2]["error"]["message"].startswith("column "), out[2]
assert not out[1]["duplicate"] and out[4]["duplicate"], (out[1], out[4])
for k in ("decision", "score", "inputs_digest", "transaction_id", "reasons"):
    assert out[4][k] == out[1][k], k
assert out[5]["line"] == 7 and "USD" in out[5]["error"]["message"], out[5]
assert out[6]["line"] == 8 and "ahead of" in out[6]["error"]["message"], out[6]
PY
check "... one line out per line in: decisions, errors with their line, a duplicate answered the same" \
  python3 "$WORK/checkdec.py" "$WORK/dec.jsonl"
check "... names the bad lines on stderr" grep -q "^line 3: column" "$WORK/stream.log"
check "... (each of them)" grep -q '^line 8: transaction "future-1"' "$WORK/stream.log"
check "... and sums up" grep -q "3 decided (.*), 1 duplicates, 3 errors" "$WORK/stream.log"

# rules: a block list on the first line's card; a typo in another file
card=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["account_id"])' "$WORK/in.jsonl")
printf '{"rules": [{"name": "huge", "action": "block", "when": "amount > 100000", "reason": "Far above any limit."}],
 "block_lists": [{"name": "stolen", "field": "card_id", "values": ["%s"]}]}\n' "$card" >"$WORK/rules.json"
rc=0; head -1 "$WORK/in.jsonl" | teller fraud stream --quiet --store "$S" --rules "$WORK/rules.json" >"$WORK/out" 2>"$WORK/err" || rc=$?
check "stream with --rules exits 0" test $rc -eq 0
check "... a block list blocks, by the rules, and says which list" python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).readline())
assert d["decision"] == "block" and d["basis"] == "rules", d
assert {"kind": "list", "list": "stolen", "action": "block"} in d["reasons"], d
' "$WORK/out"
check "... --quiet leaves stderr empty" test ! -s "$WORK/err"
printf '{"rules": [{"name": "typo", "action": "review", "when": "amount > 10 and contry == 1", "reason": "x"}]}' >"$WORK/bad-rules.json"
rc=0; teller fraud stream --store "$S" --rules "$WORK/bad-rules.json" <"$WORK/in.jsonl" >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a rule that does not compile exits 1" test $rc -eq 1
check "... naming the file, the rule and line:column" grep -qF 'bad-rules.json: rules[0] "typo": when 1:17: unknown field "contry"' "$WORK/err"
check "... before reading any input" test ! -s "$WORK/out"

# replay: the whole store into a fresh state, saved; again, it holds everything
rc=0; teller fraud replay --store "$S" --state "$WORK/state.bin" --json >"$WORK/replay.json" 2>"$WORK/err" || rc=$?
check "replay --state exits 0" test $rc -eq 0
check "... decides every card transaction and measures where labels are known" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["from"] is None and r["transactions"] > 1000, r
assert r["decided"] == r["transactions"] and r["refused"] == 0 and r["already_in_state"] == 0, r
assert sum(r["decisions"].values()) == r["decided"], r
assert r["labelled"] > 0 and r["frauds"] > 0, r
assert 0.5 < r["auc"] <= 1 and 0 < r["average_precision"] <= 1, r
assert r["block"]["flagged"] <= r["review"]["flagged"], r
assert r["state"].endswith("state.bin"), r
' "$WORK/replay.json"
check "... and saves the state" test -s "$WORK/state.bin"
check "... through a temporary file it renames" test ! -e "$WORK/state.bin.tmp"
rc=0; teller fraud replay --store "$S" --state "$WORK/state.bin" >"$WORK/out" 2>"$WORK/err" || rc=$?
check "replay of a restored state exits 0" test $rc -eq 0
check "... starts at its watermark and decides nothing again" grep -qE "^  decided +0 " "$WORK/out"
check "... (all taken before)" grep -qE "^  already in state +[1-9]" "$WORK/out"

# a stream restoring the state knows the store's transactions: duplicates
rc=0; head -1 "$WORK/in.jsonl" | teller fraud stream --quiet --store "$S" --state "$WORK/state.bin" >"$WORK/out" || rc=$?
check "stream --state restores the replayed state" python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).readline())
assert d["duplicate"] is True, d
' "$WORK/out"
head -c 100 "$WORK/state.bin" >"$WORK/torn.bin"
rc=0; teller fraud stream --store "$S" --state "$WORK/torn.bin" <"$WORK/in.jsonl" >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a torn state file exits 1" test $rc -eq 1
check "... naming it" grep -q "torn.bin" "$WORK/err"
rc=0; teller fraud replay --store "$S" --from 2020-13-01 >"$WORK/out" 2>"$WORK/err" || rc=$?
check "replay --from with a bad date exits 2" test $rc -eq 2

finish
