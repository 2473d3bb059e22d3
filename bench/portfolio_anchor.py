#!/usr/bin/env python3
"""The anchor of bench/portfolio.sh: SciPy's SLSQP (Debian's python3-scipy)
on the problem file portfolio_bench wrote ("n rf", mu, the rows of S).

The usual formulation, as PyPortfolioOpt's nonconvex path sets it up:
  minimum variance: minimise w'Sw
  maximum Sharpe:   minimise -(w'mu - rf) / sqrt(w'Sw)
both s.t. sum(w) = 1, 0 <= w <= 1, from w0 = 1/n. Exact gradients are
given (finite differences would cost n evaluations a step and lose
accuracy), ftol is 1e-12 and maxiter large, so SLSQP converges to the
optimum rather than stopping early. Each solve is timed on its own and
the median reported; solves repeat until --min-reps and --budget seconds
are both reached.

Prints one JSON object: {"n", "min_volatility": {"objective" (w'Sw),
"median_us", "min_us", "reps", "assets_held", "nit", "status"},
"max_sharpe": {"objective" (the Sharpe ratio), ...}}.
"""
import argparse
import json
import sys
import time

import numpy as np
from scipy.optimize import minimize


def read_problem(path):
    with open(path) as f:
        head = f.readline().split()
        n, rf = int(head[0]), float(head[1])
        mu = np.array(f.readline().split(), dtype=float)
        S = np.array([line.split() for line in f], dtype=float)
    if mu.shape != (n,) or S.shape != (n, n):
        sys.exit("%s: expected mu of %d and S of %dx%d" % (path, n, n, n))
    return n, rf, mu, S


def solve_min_variance(n, S):
    cons = [{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}]
    return minimize(lambda w: w @ S @ w, np.full(n, 1.0 / n), jac=lambda w: 2.0 * (S @ w),
                    method="SLSQP", bounds=[(0.0, 1.0)] * n, constraints=cons,
                    options={"ftol": 1e-12, "maxiter": 100000})


def solve_max_sharpe(n, rf, mu, S):
    def f(w):
        return -(w @ mu - rf) / np.sqrt(w @ S @ w)

    def g(w):
        Sw = S @ w
        v = w @ Sw
        s = np.sqrt(v)
        return -(mu / s - (w @ mu - rf) * Sw / (v * s))

    cons = [{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}]
    return minimize(f, np.full(n, 1.0 / n), jac=g, method="SLSQP", bounds=[(0.0, 1.0)] * n,
                    constraints=cons, options={"ftol": 1e-12, "maxiter": 100000})


def timed(fn, objective, min_reps, budget_s):
    times = []
    total = 0.0
    res = None
    while len(times) < min_reps or total < budget_s:
        t0 = time.perf_counter()
        res = fn()
        dt = time.perf_counter() - t0
        times.append(dt * 1e6)
        total += dt
    times.sort()
    k = len(times)
    med = times[k // 2] if k % 2 else 0.5 * (times[k // 2 - 1] + times[k // 2])
    w = res.x
    return {"objective": objective(w), "median_us": med, "min_us": times[0], "reps": k,
            "assets_held": int((w > 1e-6).sum()), "nit": int(res.nit),
            "status": "%d %s" % (res.status, res.message)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("problem")
    ap.add_argument("--min-reps", type=int, default=5)
    ap.add_argument("--budget", type=float, default=2.0)
    a = ap.parse_args()
    n, rf, mu, S = read_problem(a.problem)
    out = {"n": n}
    out["min_volatility"] = timed(lambda: solve_min_variance(n, S), lambda w: float(w @ S @ w),
                                  a.min_reps, a.budget)
    out["max_sharpe"] = timed(lambda: solve_max_sharpe(n, rf, mu, S),
                              lambda w: float((w @ mu - rf) / np.sqrt(w @ S @ w)),
                              a.min_reps, a.budget)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
