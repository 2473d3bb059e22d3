#!/usr/bin/python3
"""credit_anchor.py - the competitor side of the credit benchmark.

Runs scikit-learn's LogisticRegression and XGBoost's XGBClassifier over the
same cross-validation folds Teller used (a FOLDS.csv of `row,fold` that Teller
writes) and prints one JSON object with per-fold and mean ROC AUC, training
time, and XGBoost's prediction latency and batch throughput:

    credit_anchor.py --data FILE.csv --label COL --positive VALUE \\
        --folds FOLDS.csv [--drop COL ...] [--categorical COL ...]

    {"lr": {"auc_mean":..,"auc_folds":[..],"train_s":..},
     "xgb": {...,"predict_p50_us":..,"predict_p99_us":..,"batch_rows_s":..}}

To run without Teller, the script can write the folds itself with exactly the
rule of tl_ml_stratified_folds (include/teller/ml_stats.h): xoshiro256**
seeded by splitmix64, class 0's row indices shuffled then class 1's from the
same stream, and the j-th shuffled row of a class in fold (j + offset) % k:

    credit_anchor.py --data FILE.csv --label COL --positive VALUE \\
        --make-folds 5 --seed 42 --out FOLDS.csv

Features: a column whose every value reads as a number is numeric unless
named in --categorical; the rest are categorical (one-hot, unknown levels
ignored). A column named ID or id is dropped, as are --drop columns.
Logistic regression sees numeric columns standardized (max_iter=1000,
default C); XGBoost sees them raw, with default parameters, tree_method
"hist", n_jobs=2, random_state=0. train_s is the mean per fold of fitting
the whole pipeline (encoding included). predict_p50_us/p99_us time
XGBClassifier.predict_proba on one already-encoded held-out row (1000
calls); batch_rows_s is predict_proba on the whole encoded held-out fold.
The timing figures are means over the folds.
"""
import argparse
import csv
import json
import sys
import time

import numpy as np

MASK64 = (1 << 64) - 1


# ---- Teller's generator and folds (ml_stats.h), bit for bit ---------------

class Rng:
    """xoshiro256** seeded through splitmix64, as tl_rng."""

    def __init__(self, seed):
        x = seed & MASK64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def below(self, n):
        """tl_rng_below: reject draws under 2^64 mod n, then x % n."""
        if n == 0:
            return 0
        threshold = ((1 << 64) - n) % n
        while True:
            x = self.next()
            if x >= threshold:
                return x % n

    def shuffle(self, idx):
        """tl_rng_shuffle: Fisher-Yates from the top down."""
        for i in range(len(idx) - 1, 0, -1):
            j = self.below(i + 1)
            idx[i], idx[j] = idx[j], idx[i]


def stratified_folds(y, k, seed):
    """tl_ml_stratified_folds for labels y (0/1): a list of fold numbers."""
    if k < 2:
        raise ValueError("k is %d; it must be at least 2" % k)
    rows = [[i for i, v in enumerate(y) if v == c] for c in (0, 1)]
    for c in (0, 1):
        if len(rows[c]) < k:
            raise ValueError("class %d has %d rows, fewer than the %d folds" % (c, len(rows[c]), k))
    rng = Rng(seed)
    rng.shuffle(rows[0])
    rng.shuffle(rows[1])
    fold = [0] * len(y)
    for c, offset in ((0, 0), (1, len(rows[0]) % k)):
        for j, i in enumerate(rows[c]):
            fold[i] = (j + offset) % k
    return fold


# ---- data ------------------------------------------------------------------

def is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def load(path, label, positive, drop, categorical):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    if label not in header:
        sys.exit("credit_anchor: %s has no column %r" % (path, label))
    for r_i, r in enumerate(body):
        if len(r) != len(header):
            sys.exit("credit_anchor: %s: data row %d has %d fields, the header %d"
                     % (path, r_i, len(r), len(header)))
    li = header.index(label)
    y = np.array([1 if r[li] == positive else 0 for r in body], dtype=np.int64)
    if y.sum() == 0:
        sys.exit("credit_anchor: no row of %s has %s == %r" % (path, label, positive))
    skip = set(drop) | {label, "ID", "id"}
    num_cols, cat_cols = [], []
    for ci, name in enumerate(header):
        if name in skip:
            continue
        values = [r[ci] for r in body]
        if name not in categorical and all(is_number(v) for v in values):
            num_cols.append((name, np.array([float(v) for v in values])))
        else:
            cat_cols.append((name, np.array(values, dtype=object)))
    return y, num_cols, cat_cols


def design(num_cols, cat_cols):
    """A structured pair: numeric matrix and categorical matrix (strings)."""
    n = len(num_cols[0][1]) if num_cols else len(cat_cols[0][1])
    xn = np.column_stack([c for _, c in num_cols]) if num_cols else np.zeros((n, 0))
    xc = np.column_stack([c for _, c in cat_cols]) if cat_cols else np.zeros((n, 0), dtype=object)
    return xn, xc


def read_folds(path, n):
    fold = [None] * n
    with open(path, newline="") as f:
        rd = csv.reader(f)
        head = next(rd)
        if [h.strip() for h in head] != ["row", "fold"]:
            sys.exit("credit_anchor: %s: header is %r, want row,fold" % (path, head))
        for line, rec in enumerate(rd, start=2):
            row, fo = int(rec[0]), int(rec[1])
            if not 0 <= row < n:
                sys.exit("credit_anchor: %s:%d: row %d outside 0..%d" % (path, line, row, n - 1))
            fold[row] = fo
    missing = [i for i, v in enumerate(fold) if v is None]
    if missing:
        sys.exit("credit_anchor: %s gives no fold to %d rows (first %d)"
                 % (path, len(missing), missing[0]))
    return np.array(fold)


# ---- models ----------------------------------------------------------------

def encoder(n_num, n_cat, scale):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    parts = []
    if n_num:
        parts.append(("num", StandardScaler() if scale else "passthrough", list(range(n_num))))
    if n_cat:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"),
                      list(range(n_num, n_num + n_cat))))
    return ColumnTransformer(parts, sparse_threshold=0)


def run(y, xn, xc, fold):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from xgboost import XGBClassifier

    x = np.empty((len(y), xn.shape[1] + xc.shape[1]), dtype=object)
    x[:, :xn.shape[1]] = xn
    x[:, xn.shape[1]:] = xc
    n_num, n_cat = xn.shape[1], xc.shape[1]
    out = {"lr": {"auc_folds": [], "train_s": []}, "xgb": {"auc_folds": [], "train_s": []}}
    p50, p99, rate = [], [], []
    for f in sorted(set(fold.tolist())):
        tr, te = fold != f, fold == f
        models = {
            "lr": make_pipeline(encoder(n_num, n_cat, True), LogisticRegression(max_iter=1000)),
            "xgb": make_pipeline(encoder(n_num, n_cat, False),
                                 XGBClassifier(n_jobs=2, tree_method="hist", random_state=0)),
        }
        for name, m in models.items():
            t0 = time.perf_counter()
            m.fit(x[tr], y[tr])
            out[name]["train_s"].append(time.perf_counter() - t0)
            p = m.predict_proba(x[te])[:, 1]
            out[name]["auc_folds"].append(float(roc_auc_score(y[te], p)))
        # Latency and throughput of the model itself: the row is encoded
        # once beforehand, as a server holding an encoded request would.
        enc, clf = models["xgb"][0], models["xgb"][-1]
        xte = enc.transform(x[te])
        one = xte[:1]
        lat = []
        for _ in range(1000):
            t0 = time.perf_counter()
            clf.predict_proba(one)
            lat.append(time.perf_counter() - t0)
        p50.append(float(np.percentile(lat, 50)) * 1e6)
        p99.append(float(np.percentile(lat, 99)) * 1e6)
        t0 = time.perf_counter()
        clf.predict_proba(xte)
        rate.append(te.sum() / (time.perf_counter() - t0))
    for name in out:
        out[name]["auc_mean"] = float(np.mean(out[name]["auc_folds"]))
        out[name]["train_s"] = float(np.mean(out[name]["train_s"]))
        out[name] = {k: out[name][k] for k in ("auc_mean", "auc_folds", "train_s")}
    out["xgb"]["predict_p50_us"] = float(np.mean(p50))
    out["xgb"]["predict_p99_us"] = float(np.mean(p99))
    out["xgb"]["batch_rows_s"] = float(np.mean(rate))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--positive", required=True)
    ap.add_argument("--folds", help="row,fold CSV written by Teller")
    ap.add_argument("--drop", nargs="*", default=[], action="extend")
    ap.add_argument("--categorical", nargs="*", default=[], action="extend")
    ap.add_argument("--make-folds", type=int, metavar="K",
                    help="write K stratified folds (Teller's rule) to --out and stop")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out")
    a = ap.parse_args()
    y, num_cols, cat_cols = load(a.data, a.label, a.positive, a.drop, a.categorical)
    if a.make_folds is not None:
        if not a.out:
            ap.error("--make-folds needs --out")
        fold = stratified_folds(y.tolist(), a.make_folds, a.seed)
        with open(a.out, "w", newline="") as f:
            f.write("row,fold\n")
            for i, v in enumerate(fold):
                f.write("%d,%d\n" % (i, v))
        return
    if not a.folds:
        ap.error("--folds (or --make-folds) is required")
    fold = read_folds(a.folds, len(y))
    xn, xc = design(num_cols, cat_cols)
    json.dump(run(y, xn, xc, fold), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
