#!/usr/bin/env bash
# bench/recsys.sh - Teller's recommenders against the NumPy/SciPy anchor
# (../shared/anchors/recsys_anchor.py) on MovieLens-100K with the protocol of
# ../shared/data/movielens100k/PROTOCOL.md, in one run: both tune on the
# same validation split (seed + 1), refit on train and score the same test
# split (Teller reproduces NumPy's default_rng). Prints fit time, NDCG@10
# and the ratios, then one customer's top-10 from 10,000 items.
#
#   bench/recsys.sh [--quick] [--threads N]
#     --quick    no tuning on either side (the anchor's --quick, teller's --no-tune)
#     --threads  Teller's worker threads (default 2; OpenBLAS is kept at 1)
# Environment: BUILD (default build-release, else build), TELLER_SHARED.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${TELLER_SHARED:-$ROOT/../shared}
ML=$SHARED/data/movielens100k
QUICK=0
THREADS=2
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --threads) THREADS=$2; shift ;;
    *) echo "usage: bench/recsys.sh [--quick] [--threads N]" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${BUILD:-}" ]; then
  if [ -x "$ROOT/build-release/teller" ]; then BUILD=$ROOT/build-release; else BUILD=$ROOT/build; fi
fi
TELLER=$BUILD/teller
[ -x "$TELLER" ] || { echo "recsys.sh: no $TELLER (build it first; BUILD=dir to choose)" >&2; exit 1; }
[ -f "$ML/u.data" ] || { echo "recsys.sh: no MovieLens-100K at $ML (set TELLER_SHARED)" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

echo "== anchor: /usr/bin/python3 recsys_anchor.py $([ $QUICK = 1 ] && echo --quick) (NumPy/SciPy, 1 BLAS thread)"
t0=$(date +%s.%N)
/usr/bin/python3 "$SHARED/anchors/recsys_anchor.py" --data "$ML" $([ $QUICK = 1 ] && echo --quick) \
  >"$OUT/anchor.txt"
t1=$(date +%s.%N)
grep '^|' "$OUT/anchor.txt"
echo "anchor wall, tuning included: $(python3 -c "print(f'{$t1 - $t0:.1f}')") s"

TUNE=$([ $QUICK = 1 ] && echo --no-tune || true)
EVAL=(recommend eval --interactions "$ML/u.data" --user-col 1 --item-col 2 --rating-col 3
      --rating-min 4 --split per-user --test-frac 0.2 --seed 20261123 --k 10
      --item-features "$ML/u.item" --threads "$THREADS" --json)
echo
echo "== teller recommend eval (threads $THREADS) ${TUNE:-tuned on validation}"
t0=$(date +%s.%N)
"$TELLER" "${EVAL[@]}" --model all $TUNE >"$OUT/teller.json"
t1=$(date +%s.%N)
echo "teller wall, tuning included: $(python3 -c "print(f'{$t1 - $t0:.1f}')") s"
# The anchor's chosen settings, for a like-for-like fit time.
"$TELLER" "${EVAL[@]}" --model als --no-tune --set factors=32,reg=30,alpha=5,iters=15 \
  >"$OUT/als_same.json"
"$TELLER" "${EVAL[@]}" --model bpr --no-tune --set factors=64,lr=0.02,reg=0.03,epochs=300 \
  >"$OUT/bpr_same.json"

python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
anchor = {}
for line in open(f"{out}/anchor.txt"):
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(c) == 6 and c[0] not in ("model", "---"):
        anchor[c[0]] = {"params": c[1], "recall": float(c[2]), "ndcg": float(c[3]),
                        "fit": float(c[5])}
t = {m["model"]: m for m in json.load(open(f"{out}/teller.json"))["models"]}
same = {"als": json.load(open(f"{out}/als_same.json"))["models"][0],
        "bpr": json.load(open(f"{out}/bpr_same.json"))["models"][0]}
print()
print("| model | Teller params | Teller NDCG@10 | Recall@10 | MAP@10 | coverage | diversity | novelty | Teller fit s |")
print("|---|---|---|---|---|---|---|---|---|")
for name in ("pop", "itemknn", "als", "bpr", "ease", "lightgcn"):
    m = t.get(name)
    if m:
        div = "n/a" if m["diversity"] is None else f"{m['diversity']:.4f}"
        print(f"| {name} | {m['params']} | {m['ndcg']:.4f} | {m['recall']:.4f} | {m['map']:.4f} | "
              f"{m['coverage']:.4f} | {div} | {m['novelty']:.3f} | {m['fit_s']:.2f} |")
print()
print("| comparison | anchor NDCG@10 | anchor fit s | Teller NDCG@10 | Teller fit s | fit speed-up |")
print("|---|---|---|---|---|---|")
def row(label, a, m):
    if a is None or m is None:
        return
    sp = a["fit"] / m["fit_s"] if m["fit_s"] > 0 else float("inf")
    print(f"| {label} | {a['ndcg']:.4f} | {a['fit']:.1f} | {m['ndcg']:.4f} | {m['fit_s']:.2f} | {sp:.1f}x |")
row("MostPop vs pop", anchor.get("MostPop"), t.get("pop"))
row("ItemKNN vs itemknn (each tuned)", anchor.get("ItemKNN"), t.get("itemknn"))
row("ALS vs als (each tuned)", anchor.get("ALS"), t.get("als"))
row("ALS vs als (the anchor's settings)", anchor.get("ALS"), same["als"])
row("BPR-MF vs bpr (each tuned)", anchor.get("BPR-MF"), t.get("bpr"))
row("BPR-MF vs bpr (the anchor's settings)", anchor.get("BPR-MF"), same["bpr"])
row("BPR-MF vs lightgcn", anchor.get("BPR-MF"), t.get("lightgcn"))
row("ALS vs ease", anchor.get("ALS"), t.get("ease"))
best = max(t.values(), key=lambda m: m["ndcg"])
a_best = max(anchor.values(), key=lambda a: a["ndcg"])
print(f"\nbest Teller model: {best['model']} NDCG@10 {best['ndcg']:.4f}; best anchor: "
      f"{a_best['ndcg']:.4f} ({best['ndcg'] / a_best['ndcg']:.3f}x)")
PY

echo
if [ -x "$BUILD/recsys_bench" ]; then
  echo "== one customer's top-10 from 10,000 items (64 factors, score + select, 1 thread)"
  "$BUILD/recsys_bench" --items 10000 --factors 64 --reps 5000
else
  echo "== latency skipped: no $BUILD/recsys_bench (add bench/recsys_bench.c to CMakeLists.txt)"
fi
