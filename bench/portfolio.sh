#!/usr/bin/env bash
# Portfolio benchmark: Teller's mean-variance optimisers against SciPy's
# SLSQP, in one run, on exactly the same problems.
#
#   1. portfolio_bench (bench/portfolio_bench.c) writes two problems: the 20
#      shared stocks (mean historical return and sample covariance, as
#      PyPortfolioOpt's defaults estimate them) and 500 synthetic assets from
#      a seeded 5-factor model; every number is written with 17 digits so both
#      sides solve the same doubles;
#   2. bench/portfolio_anchor.py (Debian's python3-scipy) solves minimum
#      variance and maximum Sharpe (rf 0.02, long only, sum 1) with SLSQP;
#   3. portfolio_bench solves them with tl_pf_min_volatility and
#      tl_pf_max_sharpe, in-process.
# Each solve is timed on its own; the medians are compared.
# Goals (the portfolio issue): objectives agree within 1e-6; Teller >= 50x
# faster than SLSQP at that equal objective; 20-asset solves under 1 ms.
#
# usage: bench/portfolio.sh   (needs a Release build in build/: make build)
#   env: TELLER_SHARED=../shared  PORTFOLIO_BENCH=build/portfolio_bench
#        ANCHOR_REPS_500=3 (SLSQP takes tens of seconds a solve there)
set -euo pipefail
cd "$(dirname "$0")/.."
PB=${PORTFOLIO_BENCH:-build/portfolio_bench}
SHARED=${TELLER_SHARED:-../shared}
PY=/usr/bin/python3
PRICES="$SHARED/data/markets/stock_prices.csv"
[ -x "$PB" ] || { echo "portfolio: build first: make build ($PB is missing)"; exit 1; }
$PY -c 'import scipy.optimize' 2>/dev/null || {
  echo "portfolio: skipped: python3-scipy is not installed (scripts/deps.sh installs it)"
  exit 0
}
[ -f "$PRICES" ] || { echo "portfolio: skipped: $PRICES is missing (set TELLER_SHARED)"; exit 0; }
W=$(mktemp -d /tmp/teller-bench-portfolio.XXXXXX)
trap 'rm -rf "$W"' EXIT

"$PB" gen "$PRICES" "$W"
echo "portfolio: SLSQP (scipy $($PY -c 'import scipy; print(scipy.__version__)')) then Teller;" \
     "minimum variance and maximum Sharpe (rf 0.02), 0 <= w <= 1, sum 1"
# problem | label | anchor min reps, budget s | Teller min reps, budget s
while IFS='|' read -r p label areps abud treps tbud; do
  $PY bench/portfolio_anchor.py "$W/$p.txt" --min-reps "$areps" --budget "$abud" >"$W/$p.anchor.json"
  "$PB" solve "$W/$p.txt" "$treps" "$tbud" >"$W/$p.teller.json"
  echo "$label" >"$W/$p.label"
done <<EOF
p20|20 stocks (shared prices)|20|3|200|2
p500|500 synthetic assets|${ANCHOR_REPS_500:-3}|0|20|2
EOF

$PY - "$W" <<'PY'
import json, sys
w = sys.argv[1]

def fmt_t(us):
    return "%.1f us" % us if us < 1e3 else ("%.2f ms" % (us / 1e3) if us < 1e6 else "%.2f s" % (us / 1e6))

print("%-27s %-13s %18s %18s %8s %10s %10s %8s" % ("problem", "objective", "SLSQP", "Teller", "|diff|",
                                                   "SLSQP", "Teller", "ratio"))
worst_diff, worst_ratio, small = 0.0, None, []
for p in ("p20", "p500"):
    a = json.load(open("%s/%s.anchor.json" % (w, p)))
    t = json.load(open("%s/%s.teller.json" % (w, p)))
    label = open("%s/%s.label" % (w, p)).read().strip()
    for k, name in (("min_volatility", "min variance"), ("max_sharpe", "max Sharpe")):
        ao, to = a[k]["objective"], t[k]["objective"]
        d = abs(ao - to)
        r = a[k]["median_us"] / t[k]["median_us"]
        worst_diff = max(worst_diff, d)
        worst_ratio = r if worst_ratio is None else min(worst_ratio, r)
        print("%-27s %-13s %18.13f %18.13f %8.1e %10s %10s %7.0fx" % (label, name, ao, to, d,
              fmt_t(a[k]["median_us"]), fmt_t(t[k]["median_us"]), r))
        print("%-27s %-13s %18s %18s %8s %10s %10s   (min times; reps %d / %d; SLSQP %d iterations, "
              "%s; assets held %d / %d)" % ("", "", "", "", "", fmt_t(a[k]["min_us"]), fmt_t(t[k]["min_us"]),
              a[k]["reps"], t[k]["reps"], a[k]["nit"], a[k]["status"], a[k]["assets_held"],
              t[k]["assets_held"]))
        if p == "p20":
            small.append((name, t[k]["median_us"]))
equal = worst_diff <= 1e-6
print("objectives agree within 1e-6: %s (largest |diff| %.1e)" % ("MET" if equal else "NOT MET", worst_diff))
print("Teller >= 50x faster than SLSQP at equal objective: %s (smallest ratio %.0fx)"
      % ("MET" if equal and worst_ratio >= 50 else "NOT MET", worst_ratio))
print("20-asset solves under 1 ms: %s (%s)" % ("MET" if all(us < 1e3 for _, us in small) else "NOT MET",
      ", ".join("%s %s" % (n, fmt_t(us)) for n, us in small)))
PY
