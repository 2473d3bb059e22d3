#!/usr/bin/env python3
"""nn_anchor.py - the PyTorch side of bench/nn.sh (Debian's python3-torch, CPU).

usage: nn_anchor.py DATA.safetensors EPOCHS BATCH THREADS

Reads the matrices nn_bench prep wrote (X, y, Xv, yv) by parsing the
safetensors header with json and numpy, and trains the network nn_bench
trains: d -> 64 -> 32 -> 1, ReLU, dropout 0.1 after each hidden layer,
BCE-with-logits, AdamW (lr 1e-3, weight decay 1e-2 on weights only), shuffled
mini-batches, EPOCHS epochs, a validation pass after each, keeping the epoch
of best validation AUC. Prints one JSON line as nn_bench does.
"""
import json
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn


def read(path):
    buf = open(path, "rb").read()
    (n,) = struct.unpack("<Q", buf[:8])
    h = json.loads(buf[8:8 + n])
    h.pop("__metadata__", None)
    out = {}
    for k, v in h.items():
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(buf[8 + n + b:8 + n + e], dtype="<f4").reshape(v["shape"]).copy()
    return out


def auc(score, y):
    # Mann-Whitney with tied scores counting one half, as tl_ml_auc
    order = np.argsort(score, kind="mergesort")
    s, yy = score[order], y[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    npos = yy.sum()
    nneg = len(yy) - npos
    return (ranks[yy == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg)


def main():
    path, epochs, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    t = read(path)
    X, y = torch.from_numpy(t["X"]), torch.from_numpy(t["y"]).reshape(-1, 1)
    Xv, yv = torch.from_numpy(t["Xv"]), t["yv"]
    d = X.shape[1]
    model = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 1))
    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-2},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    lossf = nn.BCEWithLogitsLoss()
    best = (-1.0, 0.0, 0)
    t0 = time.perf_counter()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(X.shape[0])
        for b in range(0, X.shape[0], batch):
            idx = perm[b:b + batch]
            opt.zero_grad()
            loss = lossf(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            p = torch.sigmoid(model(Xv)).numpy().ravel().astype(np.float64)
        a = auc(p, yv)
        if a > best[0]:
            best = (a, float(((p >= 0.5) == (yv > 0.5)).mean()), ep + 1)
    s = (time.perf_counter() - t0) / epochs
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"s_per_epoch": round(s, 6), "epochs": epochs, "best_epoch": best[2],
                      "valid_accuracy": round(best[1], 6), "valid_auc": round(best[0], 6),
                      "peak_rss_mb": round(rss, 1)}))


if __name__ == "__main__":
    main()
