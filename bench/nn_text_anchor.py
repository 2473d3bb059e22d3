#!/usr/bin/env python3
"""nn_text_anchor.py - the PyTorch side of bench/nn.sh's BiGRU part
(Debian's python3-torch, CPU).

usage: nn_text_anchor.py DATA.csv TEXT_COL LABEL_COL SPLIT.csv EPOCHS THREADS [SEED]

Trains what `teller nn train-text --model bigru` trains (docs/nn-text.md),
on the split Teller wrote with --split-out (row,valid):
  - tokens: ASCII lowercased; a run of letters, digits and bytes >= 0x80,
    an apostrophe kept between such bytes, or one punctuation byte
    (lib/nn/text.c); the first 64 tokens of a text
  - vocabulary: the training rows' words (min count 1), ids by decreasing
    count then bytes; 0 padding, 1 unknown
  - embedding 128, N(0, 0.1) -> dropout 0.3 -> bidirectional GRU 128 per
    direction over the real steps (pack_padded_sequence) -> concat(max
    pool, mean pool over real steps) -> dropout 0.3 -> linear over labels
  - cross-entropy with label smoothing 0.1, Adam lr 2e-3 decayed linearly
    per step to a tenth over EPOCHS epochs, gradient norm clipped at 5
  - batches of 32: the epoch's shuffled rows cut into chunks of 50 batches,
    each chunk sorted by decreasing length, the batches in shuffled order
  - validation accuracy after each epoch, early stopping with patience 3,
    the best epoch's weights and accuracy kept
The clock covers what Teller's reported "seconds" covers: vocabulary,
featurization, initialization, the epochs (training and validation pass).
Prints one JSON line: s_per_epoch, epochs, best_epoch, valid_accuracy,
vocabulary, peak_rss_mb (getrusage of this process).
"""
import copy
import csv
import json
import re
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

MAX_LEN, EMB, HID, BATCH, LR, DROP, SMOOTH, CLIP, PATIENCE = 64, 128, 128, 32, 2e-3, 0.3, 0.1, 5.0, 3
EVAL_BATCH = 256
TOKEN = re.compile(rb"[A-Za-z0-9\x80-\xff]+(?:'[A-Za-z0-9\x80-\xff]+)*|[\x21-\x7e]")


def tokenize(text):
    return [t.lower() for t in TOKEN.findall(text.encode("utf-8"))]


class BiGRU(nn.Module):
    def __init__(self, vocab, labels):
        super().__init__()
        self.emb = nn.Embedding(vocab, EMB)
        nn.init.normal_(self.emb.weight, 0.0, 0.1)
        self.rnn = nn.GRU(EMB, HID, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(DROP)
        self.out = nn.Linear(4 * HID, labels)
        # as tl_nn_linear_init: Xavier-uniform weight, zero bias (the GRU's
        # U(-1/sqrt(H), 1/sqrt(H)) is PyTorch's default already)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, idx, lens):
        # idx (B, T) sorted by decreasing length; lens a CPU int64 tensor
        e = self.drop(self.emb(idx))
        h, _ = self.rnn(pack_padded_sequence(e, lens, batch_first=True, enforce_sorted=True))
        h, _ = pad_packed_sequence(h, batch_first=True)
        mask = (torch.arange(h.shape[1])[None, :] < lens[:, None])[:, :, None]
        mx = h.masked_fill(~mask, float("-inf")).max(dim=1).values
        mean = h.sum(dim=1) / lens[:, None].to(h.dtype)
        return self.out(self.drop(torch.cat([mx, mean], dim=1)))


def batch_tensors(ids, rows):
    # rows already in decreasing length order; an empty text gets one pad step
    lens = [max(1, len(ids[r])) for r in rows]
    a = np.zeros((len(rows), lens[0]), dtype=np.int64)
    for i, r in enumerate(rows):
        a[i, :len(ids[r])] = ids[r]
    return torch.from_numpy(a), torch.tensor(lens, dtype=torch.int64)


def main():
    data, tcol, lcol, split, epochs, threads = sys.argv[1:7]
    epochs, threads = int(epochs), int(threads)
    seed = int(sys.argv[7]) if len(sys.argv) > 7 else 42
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    with open(data, newline="", encoding="utf-8") as fp:
        rd = csv.DictReader(fp)
        texts, labels = zip(*((r[tcol], r[lcol]) for r in rd))
    with open(split, newline="") as fp:
        valid = {int(r["row"]): r["valid"] == "1" for r in csv.DictReader(fp)}
    if len(valid) != len(texts):
        sys.exit(f"{split}: {len(valid)} rows, {data} has {len(texts)}")
    names = sorted(set(labels))
    lab = {n: i for i, n in enumerate(names)}
    y = np.array([lab[v] for v in labels], dtype=np.int64)
    tr = np.array([i for i in range(len(texts)) if not valid[i]])
    va = np.array([i for i in range(len(texts)) if valid[i]])

    t0 = time.perf_counter()
    toks = [tokenize(t) for t in texts]
    count = {}
    for i in tr:
        for w in toks[i]:
            count[w] = count.get(w, 0) + 1
    words = sorted(count, key=lambda w: (-count[w], w))
    wid = {w: k + 2 for k, w in enumerate(words)}
    ids = [[wid.get(w, 1) for w in t[:MAX_LEN]] for t in toks]
    V = len(words) + 2

    model = BiGRU(V, len(names))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    nb = (len(tr) + BATCH - 1) // BATCH
    total = epochs * nb
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - 0.9 * s / total)
    lossf = nn.CrossEntropyLoss(label_smoothing=SMOOTH)
    rng = np.random.default_rng(seed + 1)
    lens_all = np.array([len(x) for x in ids])
    va_sorted = va[np.argsort(-lens_all[va], kind="stable")]
    yv = torch.from_numpy(y[va_sorted])
    best_acc, best_ep, best_state, bad, run = -1.0, 0, None, 0, 0
    for ep in range(epochs):
        model.train()
        order = rng.permutation(tr)
        chunk = 50 * BATCH
        for a in range(0, len(order), chunk):
            part = order[a:a + chunk]
            order[a:a + chunk] = part[np.argsort(-lens_all[part], kind="stable")]
        for b in rng.permutation(nb):
            rows = order[b * BATCH:(b + 1) * BATCH]
            idx, lens = batch_tensors(ids, rows)
            opt.zero_grad()
            loss = lossf(model(idx, lens), torch.from_numpy(y[rows]))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
            sched.step()
        run = ep + 1
        model.eval()
        pred = []
        with torch.no_grad():
            for a in range(0, len(va_sorted), EVAL_BATCH):
                idx, lens = batch_tensors(ids, va_sorted[a:a + EVAL_BATCH])
                pred.append(model(idx, lens).argmax(dim=1))
        acc = float((torch.cat(pred) == yv).double().mean())
        print(f"torch bigru epoch {ep + 1:2d}  valid accuracy {acc:.4f}", file=sys.stderr)
        if acc > best_acc:
            best_acc, best_ep, bad = acc, ep + 1, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= PATIENCE:
                break
    model.load_state_dict(best_state)
    s = (time.perf_counter() - t0) / run
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"s_per_epoch": round(s, 4), "epochs": run, "best_epoch": best_ep,
                      "valid_accuracy": round(best_acc, 6), "vocabulary": V,
                      "peak_rss_mb": round(rss, 1)}))


if __name__ == "__main__":
    main()
