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
#   BiGRU on BANKING77 ($TELLER_SHARED/data/banking77/train.csv): `teller nn
#   train-text --model bigru` (docs/nn-text.md) writes its stratified 10%
#   validation split; bench/nn_text_anchor.py trains the same network with
#   the same tokenizer, vocabulary, batching, optimizer, schedule and early
#   stopping on that split. Seconds per epoch: the whole train-text time
#   (vocabulary, featurization, epochs with their validation pass) over the
#   epochs run, the same span on both sides; peak RSS: /usr/bin/time for
#   teller, getrusage for Python; accuracy of the best validation epoch.
# Goals (issue 8): Teller >= 1.5x PyTorch's speed per epoch at equal
# accuracy (within 0.5 points), peak RSS <= 0.5x PyTorch's.
#
# usage: bench/nn.sh   (needs a Release build in build/: make build)
#   env: EPOCHS=20 TEXT_EPOCHS=8 THREADS=2 TELLER_SHARED=../shared
#        NN_BENCH=build/nn_bench TELLER=build/teller
set -euo pipefail
cd "$(dirname "$0")/.."
B=${NN_BENCH:-build/nn_bench}
T=${TELLER:-$(dirname "$B")/teller}
SHARED=${TELLER_SHARED:-../shared}
EPOCHS=${EPOCHS:-20}
TEXT_EPOCHS=${TEXT_EPOCHS:-8}
THREADS=${THREADS:-2}
BATCH=256
PY=/usr/bin/python3
[ -x "$B" ] && [ -x "$T" ] || { echo "build first: make build ($B, $T)"; exit 1; }
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
echo "== BiGRU text classifier on banking77: $TEXT_EPOCHS epochs, batch 32, $THREADS threads =="
f=$SHARED/data/banking77/train.csv
if [ ! -f "$f" ]; then
  echo "banking77: $f is missing, skipped"
else
  # Teller first: it writes the split PyTorch then trains on. Its peak RSS
  # from /usr/bin/time (%M, KB); the two sides run one after the other.
  /usr/bin/time -f "%M" -o "$W/teller_text.rss" "$T" nn train-text --data "$f" --text text \
    --label category -o "$W/bigru.safetensors" --model bigru --epochs "$TEXT_EPOCHS" \
    --threads "$THREADS" --split-out "$W/split.csv" --json >"$W/teller_text.json"
  $PY bench/nn_text_anchor.py "$f" text category "$W/split.csv" "$TEXT_EPOCHS" "$THREADS" \
    2>/dev/null >"$W/torch_text.json"
  $PY - "$W/teller_text.json" "$W/teller_text.rss" "$W/torch_text.json" <<'PY'
import json, sys
tj = json.load(open(sys.argv[1]))
g = tj["validation"]["bigru"]
t = {"s_per_epoch": tj["seconds"] / g["epochs"], "peak_rss_mb": int(open(sys.argv[2]).read().split()[-1]) / 1024,
     "valid_accuracy": g["accuracy"], "epochs": g["epochs"], "best_epoch": g["best_epoch"],
     "vocabulary": tj["vocabulary"]}
p = json.load(open(sys.argv[3]))
print(f"{'':10} {'s/epoch':>9} {'peak RSS MB':>12} {'val acc':>8} {'epochs':>7} {'best ep':>8} {'vocab':>6}")
for name, r in (("Teller", t), ("PyTorch", p)):
    print(f"{name:10} {r['s_per_epoch']:9.3f} {r['peak_rss_mb']:12.1f} {r['valid_accuracy']:8.4f} "
          f"{r['epochs']:7d} {r['best_epoch']:8d} {r['vocabulary']:6d}")
if t["vocabulary"] != p["vocabulary"]:
    print("WARNING: the vocabularies differ: the tokenizers do not agree")
speed = p["s_per_epoch"] / t["s_per_epoch"]
rss = t["peak_rss_mb"] / p["peak_rss_mb"]
dacc = 100 * (t["valid_accuracy"] - p["valid_accuracy"])
print(f"speed Teller/PyTorch {speed:.2f}x (goal >= 1.5x): {'met' if speed >= 1.5 else 'NOT met'}")
print(f"peak RSS Teller/PyTorch {rss:.2f}x (goal <= 0.5x): {'met' if rss <= 0.5 else 'NOT met'}")
print(f"accuracy difference {dacc:+.2f} points (goal within 0.5): "
      f"{'met' if abs(dacc) <= 0.5 else 'NOT met'}")
PY
fi
