#!/usr/bin/env bash
# teller nn train-text / predict-text through the real program: a small
# generated intent CSV learned by each model, the model file applied to
# new rows (labels on stdout, accuracy with --label, --json), and bad input:
# a missing column, an empty file, a missing or corrupt model file, an
# unknown --model. With $TELLER_SHARED/data/banking77 present, a short
# fastText run on a 2,000-row subset must beat a floor on its validation
# split (skipped visibly otherwise).
source "$(dirname "$0")/lib.sh"

# 4 intents, each with its own keywords among shared filler; quoted texts
# with commas exercise the CSV reader.
python3 - "$WORK/intents.csv" "$WORK/new.csv" <<'PY'
import csv, random, sys
keys = {"card_arrival": ["card", "arrive", "delivery"], "pin_blocked": ["pin", "blocked", "unlock"],
        "refund": ["refund", "merchant", "return"], "exchange_rate": ["exchange", "rate", "currency"]}
fill = ["my", "the", "please", "help", "why", "is", "what", "i", "need", "can"]
def rows(n, seed):
    r = random.Random(seed)
    for i in range(n):
        lab = list(keys)[i % 4]
        w = [r.choice(fill) for _ in range(6)]
        w[2], w[4] = r.choice(keys[lab]), r.choice(keys[lab])
        yield [" ".join(w[:3]) + ", " + " ".join(w[3:]) + "?", lab]
for path, n, seed in [(sys.argv[1], 400, 1), (sys.argv[2], 80, 2)]:
    with open(path, "w", newline="") as f:
        wr = csv.writer(f); wr.writerow(["id", "text", "category"])
        for i, (t, l) in enumerate(rows(n, seed)): wr.writerow([i, t, l])
PY

for kind in fasttext bigru ensemble; do
  rc=0; teller nn train-text --data "$WORK/intents.csv" --text text --label category \
    -o "$WORK/$kind.st" --model $kind --epochs 6 --seed 3 >"$WORK/train.out" 2>"$WORK/train.log" || rc=$?
  check "train-text --model $kind exits 0" test $rc -eq 0
  check "train-text $kind reports its validation accuracy" grep -q "^$kind .*0\.9[0-9]*\|^$kind .*1\.0000" "$WORK/train.out"
  rc=0; teller nn predict-text -m "$WORK/$kind.st" --data "$WORK/new.csv" --text text \
    --label category >"$WORK/pred.out" 2>"$WORK/pred.log" || rc=$?
  check "predict-text ($kind) exits 0" test $rc -eq 0
  check "predict-text ($kind) writes one label per row" test "$(wc -l <"$WORK/pred.out")" -eq 80
  acc=$(sed -n 's/.*accuracy \([0-9.]*\).*/\1/p' "$WORK/pred.log")
  check "predict-text ($kind) accuracy $acc >= 0.9 on new rows" python3 -c "import sys; sys.exit(not float('$acc') >= 0.9)"
done

rc=0; teller nn train-text --data "$WORK/intents.csv" --text text --label category -o "$WORK/j.st" \
  --model fasttext --epochs 2 --json >"$WORK/j.out" 2>/dev/null || rc=$?
check "train-text --json exits 0" test $rc -eq 0
check "train-text --json has validation figures" python3 -c "
import json; d = json.load(open('$WORK/j.out')); v = d['validation']['fasttext']
assert d['rows_valid'] == 40 and 0 <= v['accuracy'] <= 1 and 'seconds' in d, d"
# --register: the model file also lands in the registry as the intent champion
rc=0; teller nn train-text --store "sqlite:$WORK/reg.db" --data "$WORK/intents.csv" --text text \
  --label category -o "$WORK/r.st" --model fasttext --epochs 2 --register --json >"$WORK/r.out" 2>/dev/null || rc=$?
check "train-text --register exits 0" test $rc -eq 0
check "train-text --register names the model and promotes it" python3 -c "
import json; d = json.load(open('$WORK/r.out')); assert d['registered'] == 'intent-v1' and d['promoted'] is True, d"
teller models list --store "sqlite:$WORK/reg.db" >"$WORK/models.out" 2>/dev/null || true
check "the registry lists the intent champion" grep -Eq "^intent-v1 +intent +1 +fasttext +champion" "$WORK/models.out"
check "the registered bytes are the file's" test "$(awk '/^intent-v1/ {print $NF}' "$WORK/models.out")" -eq "$(stat -c %s "$WORK/r.st")"
rc=0; teller nn predict-text -m "$WORK/fasttext.st" --data "$WORK/new.csv" --text text --label category \
  --json >"$WORK/pj.out" 2>/dev/null || rc=$?
check "predict-text --json lists predictions and accuracy" python3 -c "
import json; d = json.load(open('$WORK/pj.out')); assert len(d['predictions']) == 80 and d['accuracy'] >= 0.9, d"
rc=0; teller nn predict-text -m "$WORK/fasttext.st" --data "$WORK/new.csv" --text text --out "$WORK/labels.txt" >/dev/null || rc=$?
check "predict-text --out writes the labels to a file" test $rc -eq 0 -a "$(wc -l <"$WORK/labels.txt")" -eq 80

# bad input
expect_fail() { # expect_fail CODE PATTERN DESCRIPTION -- ARGS...
  local code=$1 pat=$2 what=$3; shift 4
  local rc=0; teller "$@" >"$WORK/bad.out" 2>"$WORK/bad.log" || rc=$?
  check "$what exits $code" test $rc -eq "$code"
  check "$what names the problem" grep -q "$pat" "$WORK/bad.log"
}
expect_fail 1 'no column "texte"' "a missing text column" -- nn train-text --data "$WORK/intents.csv" \
  --text texte --label category -o "$WORK/x.st"
expect_fail 1 'no column "cat"' "a missing label column" -- nn predict-text -m "$WORK/fasttext.st" \
  --data "$WORK/new.csv" --text text --label cat
: >"$WORK/empty.csv"
expect_fail 1 "empty" "an empty file" -- nn train-text --data "$WORK/empty.csv" --text text \
  --label category -o "$WORK/x.st"
expect_fail 1 "nope.st" "a missing model file" -- nn predict-text -m "$WORK/nope.st" \
  --data "$WORK/new.csv" --text text
echo "not a model" >"$WORK/corrupt.st"
expect_fail 1 "corrupt.st" "a corrupt model file" -- nn predict-text -m "$WORK/corrupt.st" \
  --data "$WORK/new.csv" --text text
expect_fail 2 "unknown" "an unknown --model" -- nn train-text --data "$WORK/intents.csv" --text text \
  --label category -o "$WORK/x.st" --model transformer
expect_fail 2 "needs" "train-text without -o" -- nn train-text --data "$WORK/intents.csv" --text text \
  --label category
expect_fail 2 "unknown subcommand" "an unknown subcommand" -- nn frobnicate
check "no model file left by failed runs" test ! -e "$WORK/x.st"

SHARED=${TELLER_SHARED:-$TELLER_SRC/../shared}
B77=$SHARED/data/banking77/train.csv
if [ -r "$B77" ]; then
  python3 - "$B77" "$WORK/b77.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f); w.writerow(["text", "category"])
    for r in rows[::5]: w.writerow([r["text"], r["category"]])
PY
  rc=0; teller nn train-text --data "$WORK/b77.csv" --text text --label category -o "$WORK/b77.st" \
    --model fasttext --epochs 4 --json >"$WORK/b77.out" 2>/dev/null || rc=$?
  check "banking77 subset: train-text exits 0" test $rc -eq 0
  check "banking77 subset: fastText validation accuracy above 0.5" python3 -c "
import json; d = json.load(open('$WORK/b77.out')); a = d['validation']['fasttext']['accuracy']
print('  banking77 2,000 rows, 4 epochs: accuracy', a); assert a > 0.5, a"
else
  echo "SKIP banking77 subset: $B77 not found (set TELLER_SHARED)"
fi
finish
