#!/usr/bin/env bash
# teller nn train-tabular through the real program on the committed credit
# fixture (tests/fixtures/credit/applications.csv, 400 applications): the
# MLP learns (validation AUC above chance), the report's figures are
# consistent, the same seed gives the same model bytes, the saved weights
# are safetensors Python can read (shapes of a 64,32 network over the
# encoded features, the encoder in the metadata), and bad input gets exit
# codes and messages that name it.
source "$(dirname "$0")/lib.sh"

DATA=$TELLER_SRC/tests/fixtures/credit/applications.csv

rc=0; teller nn train-tabular --data "$DATA" --label defaulted_12m --seed 7 -o "$WORK/a.safetensors" \
  --json >"$WORK/a.json" 2>"$WORK/err" || rc=$?
check "train-tabular exits 0" test $rc -eq 0
check "... and reports a validation AUC above chance, consistent counts" python3 - "$WORK/a.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["n_train"] + r["n_valid"] == 400 and r["n_valid"] == 80, r
assert r["hidden"] == "64,32" and r["n_features"] > 5, r
assert 0.6 < r["valid_auc"] <= 1 and 0.7 <= r["valid_accuracy"] <= 1, r
assert 1 <= r["best_epoch"] <= r["epochs"], r
PY
check "the model file is safetensors with the MLP's shapes and the encoder" python3 - "$WORK/a.safetensors" "$WORK/a.json" <<'PY'
import json, struct, sys
buf = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", buf[:8])
h = json.loads(buf[8:8 + n])
d = json.load(open(sys.argv[2]))["n_features"]
meta = h.pop("__metadata__")
assert meta["teller.kind"] == "nn-tabular" and meta["teller.hidden"] == "64,32", meta
assert len(json.loads(meta["teller.features"])) == d, meta["teller.features"]
json.loads(meta["teller.encoder"])
want = {"mlp.0.weight": [d, 64], "mlp.0.bias": [64], "mlp.1.weight": [64, 32],
        "mlp.1.bias": [32], "mlp.2.weight": [32, 1], "mlp.2.bias": [1]}
assert {k: v["shape"] for k, v in h.items()} == want, h
assert all(v["dtype"] == "F32" for v in h.values())
PY
teller nn train-tabular --data "$DATA" --label defaulted_12m --seed 7 -o "$WORK/b.safetensors" \
  >"$WORK/b.txt" 2>>"$WORK/err"
check "the same seed gives the same weights" cmp -s "$WORK/a.safetensors" "$WORK/b.safetensors"
check "the text report names the AUC and the accuracy" grep -Eq "validation AUC 0\.[0-9]+ +accuracy 0\.[0-9]+" "$WORK/b.txt"
teller nn train-tabular --data "$DATA" --label defaulted_12m --seed 7 --hidden 16 --epochs 3 --json \
  >"$WORK/c.json" 2>>"$WORK/err"
check "--hidden and --epochs are obeyed" python3 -c "
import json; r = json.load(open('$WORK/c.json')); assert r['hidden'] == '16' and r['epochs'] <= 3, r"

# bad input
rc=0; teller nn train-tabular --data "$DATA" >"$WORK/out" 2>"$WORK/err" || rc=$?
check "no --label is a usage error (exit 2)" test $rc -eq 2
rc=0; teller nn train-tabular --data "$DATA" --label nope >"$WORK/out" 2>"$WORK/err" || rc=$?
check "an unknown label column exits 1" test $rc -eq 1
check "... naming the column" grep -q "nope" "$WORK/err"
rc=0; teller nn train-tabular --data "$WORK/missing.csv" --label y >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a missing file exits 1 naming it" bash -c "test $rc -eq 1 && grep -q missing.csv '$WORK/err'"
rc=0; teller nn train-tabular --data "$DATA" --label defaulted_12m --hidden 64,x >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a bad --hidden is a usage error naming it" bash -c "test $rc -eq 2 && grep -q '64,x' '$WORK/err'"
rc=0; teller nn train-tabular --data "$DATA" --label defaulted_12m --epochs 0 >"$WORK/out" 2>"$WORK/err" || rc=$?
check "--epochs 0 is a usage error" test $rc -eq 2
printf 'a,b,y\n1,2,x\n3,4,x\n' >"$WORK/one.csv"
rc=0; teller nn train-tabular --data "$WORK/one.csv" --label y >"$WORK/out" 2>"$WORK/err" || rc=$?
check "a one-class label exits 1" test $rc -eq 1
rc=0; teller nn train-tabular --data "$DATA" --label defaulted_12m --positive 1 --epochs 3 >"$WORK/out" 2>"$WORK/err" || rc=$?
check "--positive 1 names the positive class" test $rc -eq 0
rc=0; teller nn train-tabular --data "$DATA" --label defaulted_12m --positive nosuch --epochs 3 >"$WORK/out" 2>"$WORK/err" || rc=$?
check "... a value no row has exits 1 naming it" bash -c "test $rc -eq 1 && grep -q nosuch '$WORK/err'"

finish
