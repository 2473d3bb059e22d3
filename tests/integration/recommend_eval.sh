#!/usr/bin/env bash
# teller recommend eval through the real program: on a generated file with
# planted tastes (4 groups of customers, each taking products of its own
# block) every model ranks the held-out products well above popularity, the
# JSON report is consistent and the same seed gives the same figures; bad
# input gets exit codes and messages naming it. With $TELLER_SHARED's
# MovieLens-100K (skipped visibly otherwise), a quick untuned run on the
# PROTOCOL.md split: popularity as the anchor measured it, the models above it.
source "$(dirname "$0")/lib.sh"

python3 - "$WORK/tastes.csv" <<'PY'
import random, sys
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    f.write("customer,product,rating\n")
    for u in range(160):
        g = u % 4
        for p in r.sample(range(10), 7):
            f.write(f"c{u},prod{10 + 10 * g + p},{r.choice([4, 5])}\n")
        for p in r.sample(range(10), 3):
            f.write(f"c{u},prod{p},5\n")
        f.write(f"c{u},prod{50 + r.randrange(10)},2\n")  # below --rating-min: not a positive
PY

ARGS=(--interactions "$WORK/tastes.csv" --user-col customer --item-col product
      --rating-col rating --rating-min 4 --seed 5 --k 5 --no-tune --json)
rc=0; teller recommend eval "${ARGS[@]}" --model pop,itemknn,als,bpr,ease,lightgcn \
  --set factors=16 >"$WORK/a.json" 2>"$WORK/err" || rc=$?
check "recommend eval exits 0" test $rc -eq 0
check "... every model's NDCG@5 is well above popularity's; the report adds up" python3 - "$WORK/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["n_users"] == 160 and r["n_items"] == 60 and r["n_positives"] == 1600, r
assert r["n_train"] + r["n_test"] == 1600 and r["n_test_users"] == 160, r
m = {x["model"]: x for x in r["models"]}
assert set(m) == {"pop", "itemknn", "als", "bpr", "ease", "lightgcn"}, m.keys()
for name, x in m.items():
    assert 0 <= x["ndcg"] <= 1 and 0 <= x["recall"] <= 1 and 0 <= x["map"] <= 1, x
    assert 0 < x["coverage"] <= 1 and x["diversity"] is None and x["novelty"] > 0, x
    if name != "pop":
        assert x["ndcg"] > m["pop"]["ndcg"] + 0.15, (name, x["ndcg"], m["pop"]["ndcg"])
PY
teller recommend eval "${ARGS[@]}" --model pop,itemknn,als,bpr,ease,lightgcn \
  --set factors=16 >"$WORK/b.json" 2>>"$WORK/err"
check "the same seed gives the same figures" python3 -c "
import json
a, b = (json.load(open('$WORK/' + n + '.json'))['models'] for n in 'ab')
strip = lambda ms: [{k: v for k, v in m.items() if k != 'fit_s'} for m in ms]
assert strip(a) == strip(b)"
rc=0; teller recommend eval --interactions "$WORK/tastes.csv" --user-col customer --item-col product \
  --split leave-one-out --model pop,itemknn >"$WORK/c.txt" 2>"$WORK/err" || rc=$?
check "a leave-one-out text report names the metrics" bash -c \
  "test $rc -eq 0 && grep -q 'NDCG@k' '$WORK/c.txt' && grep -q '^itemknn' '$WORK/c.txt'"

# bad input
rc=0; teller recommend eval --interactions "$WORK/tastes.csv" --user-col customer --item-col sku \
  >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a missing column exits 1 naming the file, the column and the header" bash -c \
  "test $rc -eq 1 && grep -q 'tastes.csv:1' '$WORK/err' && grep -q '\"sku\"' '$WORK/err' && grep -q product '$WORK/err'"
printf 'customer,product,rating\nc1,p1,5\nc1,p2,x\n' >"$WORK/bad.csv"
rc=0; teller recommend eval --interactions "$WORK/bad.csv" --user-col customer --item-col product \
  --rating-col rating --rating-min 4 >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a non-numeric rating exits 1 naming file:line" bash -c "test $rc -eq 1 && grep -q 'bad.csv:3' '$WORK/err'"
: >"$WORK/empty.csv"
rc=0; teller recommend eval --interactions "$WORK/empty.csv" --user-col 1 --item-col 2 \
  >"$WORK/out" 2>"$WORK/err" || rc=$?
check "an empty file exits 1 saying so" bash -c "test $rc -eq 1 && grep -q 'empty' '$WORK/err'"
rc=0; teller recommend eval --interactions "$WORK/tastes.csv" --user-col customer --item-col product \
  --model nope >"$WORK/out" 2>"$WORK/err" || rc=$?
check "an unknown --model is a usage error naming it" bash -c "test $rc -eq 2 && grep -q nope '$WORK/err'"
rc=0; teller recommend eval --interactions "$WORK/tastes.csv" --user-col customer --item-col product \
  --test-frac 1.5 >"$WORK/out" 2>"$WORK/err" || rc=$?
check "--test-frac outside (0, 1) is a usage error" test $rc -eq 2

SHARED=${TELLER_SHARED:-$TELLER_SRC/../shared}
ML=$SHARED/data/movielens100k
if [ -f "$ML/u.data" ]; then
  teller recommend eval --interactions "$ML/u.data" --user-col 1 --item-col 2 --rating-col 3 \
    --rating-min 4 --item-features "$ML/u.item" --model pop,itemknn,ease --no-tune --json \
    >"$WORK/ml.json" 2>>"$WORK/err"
  check "MovieLens-100K: the anchor's split and popularity; item-kNN and EASE far above it" \
    python3 - "$WORK/ml.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["n_train"] == 44296 and r["n_test"] == 11079 and r["n_test_users"] == 942, r
m = {x["model"]: x for x in r["models"]}
assert abs(m["pop"]["ndcg"] - 0.1578) < 0.002, m["pop"]       # PROTOCOL.md's MostPop
assert m["itemknn"]["ndcg"] > 0.27 and m["ease"]["ndcg"] > 0.31, m
assert 0 < m["ease"]["diversity"] < 1, m["ease"]
print("  MovieLens NDCG@10: pop %.4f itemknn %.4f ease %.4f" % (m["pop"]["ndcg"], m["itemknn"]["ndcg"], m["ease"]["ndcg"]))
PY
else
  echo "SKIP MovieLens-100K: $ML/u.data not found (set TELLER_SHARED)"
fi
finish
