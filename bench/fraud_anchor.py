#!/usr/bin/python3
"""fraud_anchor.py - the competitor side of the fraud benchmark.

Python XGBoost (Debian's python3-xgboost) predicting the very model Teller
scores with (the "gbdt" member of its artifact, XGBoost's JSON model), on
exactly the feature vectors Teller's engine computed for the test week:

    fraud_anchor.py --model model.json --x X.bin --features D \\
        [--p-teller p_teller.bin] [--seconds 5] [--batch 10000]

X.bin is float32, row-major, n x D (bench/fraud_latency.c writes it).
One thread (Booster nthread=1, and OMP_NUM_THREADS=1 set before xgboost
loads), for a one-core comparison with Teller's single-threaded engine.

  one row per call: three APIs, each over the test rows in order until all
      are done or --seconds have passed, each call timed alone:
      Booster.inplace_predict on a 1 x D numpy row (no DMatrix built),
      Booster.predict on a DMatrix made for the row, and
      XGBClassifier.predict_proba; the fastest (rows/s) is the anchor;
  batches of --batch rows: inplace_predict on consecutive slices, the whole
      test week three times; latency per batch, and per row (batch / rows).

Only the model is timed: the features are given. Teller's figure includes
computing them (the stream state update). Prints one JSON object:
    {"rows","features","check_max_abs_diff",
     "one_row":{"api","calls","rows_s","p50_us","p99_us"} (the fastest),
     "one_row_apis":[{...} for each API],
     "batch":{"size","batches","rows_s","batch_p50_ms","batch_p99_ms",
              "row_p50_us","row_p99_us"},"xgboost"}
"""
import argparse
import json
import os
import sys
import time
import warnings

os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402


def timed_rows(predict, X, limit_s, max_rows):
    lat = []
    t_end = time.perf_counter() + limit_s
    for i in range(min(len(X), max_rows)):
        row = X[i:i + 1]
        t0 = time.perf_counter()
        predict(row)
        lat.append(time.perf_counter() - t0)
        if time.perf_counter() > t_end:
            break
    lat = np.array(lat)
    return {"calls": int(len(lat)), "rows_s": float(len(lat) / lat.sum()),
            "p50_us": float(np.percentile(lat, 50) * 1e6),
            "p99_us": float(np.percentile(lat, 99) * 1e6)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--x", required=True)
    ap.add_argument("--features", type=int, required=True)
    ap.add_argument("--p-teller")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--batch", type=int, default=10000)
    a = ap.parse_args()

    X = np.fromfile(a.x, dtype=np.float32)
    if a.features <= 0 or X.size % a.features:
        sys.exit("fraud_anchor: %s holds %d floats, not a multiple of %d features"
                 % (a.x, X.size, a.features))
    X = X.reshape(-1, a.features)
    bst = xgb.Booster(model_file=a.model)
    bst.set_param({"nthread": 1})
    if bst.num_features() != a.features:
        sys.exit("fraud_anchor: the model takes %d features, X has %d"
                 % (bst.num_features(), a.features))
    out = {"rows": int(len(X)), "features": a.features, "xgboost": xgb.__version__}

    # the same model on the same rows: Teller's probabilities reproduced
    p = bst.inplace_predict(X)
    if a.p_teller:
        pt = np.fromfile(a.p_teller, dtype=np.float64)
        if len(pt) != len(X):
            sys.exit("fraud_anchor: %s has %d scores for %d rows" % (a.p_teller, len(pt), len(X)))
        out["check_max_abs_diff"] = float(np.max(np.abs(pt - p)))

    # warm-up, then one row per call with each API; the fastest is the anchor
    for i in range(200):
        bst.inplace_predict(X[i:i + 1])
    clf = xgb.XGBClassifier(n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "loading a native model with the sklearn interface"
        clf.load_model(a.model)
    apis = [("Booster.inplace_predict(1-row numpy array)", bst.inplace_predict),
            ("Booster.predict(DMatrix(1 row))",
             lambda row: bst.predict(xgb.DMatrix(row, nthread=1))),
            ("XGBClassifier.predict_proba(1 row)", clf.predict_proba)]
    out["one_row_apis"] = []
    for name, fn in apis:
        r = timed_rows(fn, X, a.seconds, len(X))
        r["api"] = name
        out["one_row_apis"].append(r)
    out["one_row"] = max(out["one_row_apis"], key=lambda r: r["rows_s"])

    # batches
    lat, rows = [], 0
    bst.inplace_predict(X[:a.batch])
    for _ in range(3):
        for s in range(0, len(X), a.batch):
            b = X[s:s + a.batch]
            t0 = time.perf_counter()
            bst.inplace_predict(b)
            lat.append((time.perf_counter() - t0, len(b)))
            rows += len(b)
    full = np.array([t for t, k in lat if k == a.batch] or [t for t, _ in lat])
    out["batch"] = {"size": a.batch, "batches": len(lat),
                    "rows_s": float(rows / sum(t for t, _ in lat)),
                    "batch_p50_ms": float(np.percentile(full, 50) * 1e3),
                    "batch_p99_ms": float(np.percentile(full, 99) * 1e3),
                    "row_p50_us": float(np.percentile(full, 50) / a.batch * 1e6),
                    "row_p99_us": float(np.percentile(full, 99) / a.batch * 1e6)}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
