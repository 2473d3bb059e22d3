#!/usr/bin/env bash
# Neural-network benchmark: Teller's nn engine against PyTorch (Debian's
# python3-torch, CPU) in one run, same data, architecture, batch size,
# epochs and thread count (2).
#
#   MLP on Taiwan default ($TELLER_SHARED/data/taiwan_default/dev.csv): the
#   credit data preparation (stratified 20% validation split, one-hot,
#   imputed, standardized), written once by `nn_bench prep` and read by both
#   sides; d -> 64 -> 32 -> 1, ReLU, dropout 0.1, AdamW lr 1e-3, batch 256,
#   EPOCHS epochs, the accuracy of the epoch of best validation AUC. Each
#   side runs in its own process: seconds per epoch (training plus the
#   validation pass), peak RSS of the process (getrusage).
# Goals (issue 8): Teller >= 1.5x PyTorch's speed per epoch at equal
# accuracy (within 0.5 points), peak RSS <= 0.5x PyTorch's.
#
# usage: bench/nn.sh   (needs a Release build in build/: make build)
#   env: EPOCHS=20 THREADS=2 TELLER_SHARED=../shared NN_BENCH=build/nn_bench
set -euo pipefail
cd "$(dirname "$0")/.."
B=${NN_BENCH:-build/nn_bench}
SHARED=${TELLER_SHARED:-../shared}
EPOCHS=${EPOCHS:-20}
THREADS=${THREADS:-2}
BATCH=256
PY=/usr/bin/python3
[ -x "$B" ] || { echo "build first: make build"; exit 1; }
$PY -c 'import torch' 2>/dev/null || {
  echo "installing python3-torch (Debian package)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y python3-torch >/dev/null
}
W=$(mktemp -d /tmp/teller-bench-nn.XXXXXX)
trap 'rm -rf "$W"' EXIT

echo "== MLP on taiwan_default: $EPOCHS epochs, batch $BATCH, $THREADS threads =="
f=$SHARED/data/taiwan_default/dev.csv
if [ ! -f "$f" ]; then
  echo "taiwan_default: $f is missing, skipped"
else
  "$B" prep "$f" "default payment next month" "$W/taiwan.safetensors"
  "$B" train "$W/taiwan.safetensors" "$EPOCHS" "$BATCH" "$THREADS" >"$W/teller.json"
  $PY bench/nn_anchor.py "$W/taiwan.safetensors" "$EPOCHS" "$BATCH" "$THREADS" >"$W/torch.json"
  $PY - "$W/teller.json" "$W/torch.json" <<'PY'
import json, sys
t, p = (json.load(open(a)) for a in sys.argv[1:3])
print(f"{'':10} {'s/epoch':>9} {'peak RSS MB':>12} {'val acc':>8} {'val AUC':>8} {'best ep':>8}")
for name, r in (("Teller", t), ("PyTorch", p)):
    print(f"{name:10} {r['s_per_epoch']:9.4f} {r['peak_rss_mb']:12.1f} {r['valid_accuracy']:8.4f} "
          f"{r['valid_auc']:8.4f} {r['best_epoch']:8d}")
speed = p["s_per_epoch"] / t["s_per_epoch"]
rss = t["peak_rss_mb"] / p["peak_rss_mb"]
dacc = 100 * (t["valid_accuracy"] - p["valid_accuracy"])
print(f"speed Teller/PyTorch {speed:.2f}x (goal >= 1.5x): {'met' if speed >= 1.5 else 'NOT met'}")
print(f"peak RSS Teller/PyTorch {rss:.2f}x (goal <= 0.5x): {'met' if rss <= 0.5 else 'NOT met'}")
print(f"accuracy difference {dacc:+.2f} points (goal within 0.5): "
      f"{'met' if abs(dacc) <= 0.5 else 'NOT met'}")
PY
fi
echo
echo "== BiGRU text classifier on banking77 =="
echo "TODO: the BiGRU part (teller nn train-text against PyTorch on banking77) is not in this bench yet"
