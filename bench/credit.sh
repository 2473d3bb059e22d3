#!/usr/bin/env bash
# Credit benchmark: Teller's scorecard and GBDT against scikit-learn's
# logistic regression and Python XGBoost, in one run, on the same folds.
#
# For each data set (German credit, Taiwan default, bank marketing without
# its leaking `duration` column):
#   1. `teller credit eval` runs 5-fold stratified cross-validation (seed 42)
#      of both algorithms, hyperparameter search inside each training fold,
#      and writes the folds it used (row,fold);
#   2. bench/credit_anchor.py (Debian's python3-sklearn and python3-xgboost)
#      trains and scores on exactly those folds;
#   3. `teller credit train` fits the models on the whole file, and
#      credit_latency (bench/credit_latency.c) times scoring in-process:
#      each single application on its own (p50, p99), and batch rows/s.
# Both sides see the same columns: protected attributes (age, sex, marital
# status, ...) are allowed as inputs here, as the anchors use them; Teller
# leaves them out by default (docs/credit.md), and the figures without them
# are printed too.
# Goals (the credit issue): Teller's best AUC beats the best anchor on every
# data set (at the very least no more than 0.005 below), against both the
# anchors measured here and the figures published in the issue; training
# time <= 1.0x Python XGBoost's; single-application scoring p99 < 50 us.
#
# usage: bench/credit.sh   (needs a Release build in build/: make build)
#   env: DATASETS="german taiwan bank" TELLER_SHARED=../shared
set -euo pipefail
cd "$(dirname "$0")/.."
T=${TELLER:-build/teller}
LAT=${LATENCY:-build/credit_latency}
FIT=${FIT:-build/credit_fit}
SHARED=${TELLER_SHARED:-../shared}
PY=/usr/bin/python3
[ -x "$T" ] && [ -x "$LAT" ] && [ -x "$FIT" ] || { echo "build first: make build"; exit 1; }
$PY -c 'import sklearn, xgboost' 2>/dev/null || {
  echo "installing python3-sklearn python3-xgboost (Debian packages)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y python3-sklearn python3-xgboost >/dev/null
}
W=$(mktemp -d /tmp/teller-bench-credit.XXXXXX)
trap 'rm -rf "$W"' EXIT
export TELLER_DATA_KEY_FILE="$W/teller.key"

# name | file | label | positive | drop | published LR AUC | published XGBoost AUC
DATA="german|german_credit/dev.csv|class|2||0.766|0.777
taiwan|taiwan_default/dev.csv|default payment next month|1||0.725|0.783
bank|bank_marketing/dev.csv|y|yes|duration|0.791|0.801"

now() { date +%s.%N; }
protected_of() { # the header's columns that Teller treats as protected by name
  $PY - "$1" <<'PY'
import csv, sys
names = {"age", "age_years", "sex", "gender", "personal_status_sex", "foreign_worker", "marital",
         "marriage", "race", "ethnicity", "religion", "nationality"}
print(",".join(c for c in next(csv.reader(open(sys.argv[1]))) if c.lower() in names))
PY
}

printf '%-8s %-28s %8s %8s %10s\n' data model "AUC" "anchor" "train s"
results=()
while IFS='|' read -r name file label positive drop pub_lr pub_xgb; do
  case " ${DATASETS:-german taiwan bank} " in *" $name "*) ;; *) continue ;; esac
  f="$SHARED/data/$file"
  [ -f "$f" ] || { echo "$name: $f is missing, skipped"; continue; }
  prot=$(protected_of "$f")
  args=(--data "$f" --label "$label" --positive "$positive" --folds 5 --seed 42)
  [ -n "$drop" ] && args+=(--drop "$drop")
  t0=$(now)
  $T credit eval "${args[@]}" --allow-protected "$prot" --folds-out "$W/$name.folds.csv" --json \
    >"$W/$name.teller.json" 2>>"$W/teller.log"
  t_eval=$($PY -c "print($(now) - $t0)")
  $T credit eval "${args[@]}" --json >"$W/$name.teller-noprot.json" 2>>"$W/teller.log"
  adrop=(); [ -n "$drop" ] && adrop=(--drop "$drop")
  $PY bench/credit_anchor.py --data "$f" --label "$label" --positive "$positive" \
    --folds "$W/$name.folds.csv" "${adrop[@]}" >"$W/$name.anchor.json"
  # the anchor's own model (XGBClassifier defaults) trained by Teller's engine on the same folds
  $FIT "$f" "$label" "$positive" "$W/$name.folds.csv" $drop >"$W/$name.fit.json"
  # the models on the whole file, then scoring in-process
  store="sqlite:$W/$name.db"
  $T init --quiet --store "$store" >/dev/null
  targs=(--data "$f" --label "$label" --positive "$positive" --algo both --allow-protected "$prot")
  [ -n "$drop" ] && targs+=(--drop "$drop")
  $T credit train --store "$store" "${targs[@]}" --json >"$W/$name.train.json" 2>>"$W/teller.log"
  for algo in scorecard gbdt; do
    id=$($PY -c "import json,sys; print([m['id'] for m in json.load(open(sys.argv[1]))['models'] if m['algo']==sys.argv[2]][0])" "$W/$name.train.json" "$algo")
    $LAT "$store" "$f" "$id" >"$W/$name.$algo.lat.json" 2>>"$W/teller.log"
  done
  TELLER_CREDIT_REASONS=approx $LAT "$store" "$f" "$id" >"$W/$name.gbdt-approx.lat.json" 2>>"$W/teller.log"
  $PY - "$W" "$name" "$pub_lr" "$pub_xgb" "$t_eval" <<'PY'
import json, sys
w, name, pub_lr, pub_xgb, t_eval = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
t = json.load(open("%s/%s.teller.json" % (w, name)))["algos"]
tn = json.load(open("%s/%s.teller-noprot.json" % (w, name)))["algos"]
a = json.load(open("%s/%s.anchor.json" % (w, name)))
fit = json.load(open("%s/%s.fit.json" % (w, name)))
lat = {k: json.load(open("%s/%s.%s.lat.json" % (w, name, k))) for k in ("scorecard", "gbdt", "gbdt-approx")}
rows = [("teller scorecard", t["scorecard"]["auc_mean"], t["scorecard"].get("train_s")),
        ("teller gbdt", t["gbdt"]["auc_mean"], t["gbdt"].get("train_s")),
        ("sklearn LR (anchor)", a["lr"]["auc_mean"], a["lr"]["train_s"]),
        ("xgboost (anchor)", a["xgb"]["auc_mean"], a["xgb"]["train_s"])]
for label, auc, ts in rows:
    print("%-8s %-28s %8.4f %8s %10s" % (name, label, auc, "", "%.3f" % ts if ts is not None else "-"))
print("%-8s %-28s %8s %8.3f/%.3f  (LR/XGBoost published in the issue)" % (name, "published anchors", "", pub_lr, pub_xgb))
print("%-8s %-28s %8.4f / %.4f  (scorecard/gbdt, protected attributes left out)" % (name, "teller, default inputs", tn["scorecard"]["auc_mean"], tn["gbdt"]["auc_mean"]))
best_t = max(t["scorecard"]["auc_mean"], t["gbdt"]["auc_mean"])
best_a = max(a["lr"]["auc_mean"], a["xgb"]["auc_mean"], pub_lr, pub_xgb)
verdict = "beats" if best_t > best_a else ("within 0.005 of" if best_t >= best_a - 0.005 else "BELOW")
print("%-8s best Teller %.4f %s best anchor %.4f (measured or published): diff %+.4f" % (name, best_t, verdict, best_a, best_t - best_a))
tg, ax = t["gbdt"].get("train_s"), a["xgb"]["train_s"]
print("%-8s training the anchor's model (XGBClassifier defaults) on the same folds: Teller %.3f s/fold (AUC %.4f), Python %.3f s/fold (AUC %.4f): %.2fx the anchor's time (goal <= 1.0x)"
      % (name, fit["train_s"], fit["auc_mean"], ax, a["xgb"]["auc_mean"], fit["train_s"] / ax))
if tg:
    print("%-8s training Teller's recipe (search over 6 settings, bagging, calibration) per fold: %.3f s = %.1fx the anchor's single default fit" % (name, tg, tg / ax))
for k, what in (("scorecard", "points-lost reasons"), ("gbdt", "exact TreeSHAP reasons"), ("gbdt-approx", "approximate reasons")):
    l = lat[k]
    print(("%-8s %s (" + what + ") scoring in-process: p50 %.2f us, p99 %.2f us (goal < 50 us), batch %.0f rows/s; JSON in/out p99 %.2f us")
          % (name, k, l["row_p50_us"], l["row_p99_us"], l["batch_rows_s"], l["json_p99_us"]))
print("%-8s python XGBoost predict_proba (no reasons) one row: p50 %.1f us, p99 %.1f us; batch %.0f rows/s -> Teller gbdt with approximate reasons: single-row p99 %.1fx faster, batch %.2fx"
      % (name, a["xgb"]["predict_p50_us"], a["xgb"]["predict_p99_us"], a["xgb"]["batch_rows_s"],
         a["xgb"]["predict_p99_us"] / lat["gbdt-approx"]["row_p99_us"], lat["gbdt-approx"]["batch_rows_s"] / a["xgb"]["batch_rows_s"]))
print()
PY
done <<<"$DATA"
