#!/usr/bin/env bash
# teller portfolio through the real program. With the shared market data
# ($TELLER_SHARED/data/markets, skipped visibly when absent): reference cases
# of reference_cases.json run through `portfolio optimize --json` and
# `portfolio allocate --json`, each compared with the case's expected values
# at its stated tolerance; a backtest against the numpy figures of
# docs/portfolio-planning.md. Always, on a small generated price file: every
# method runs, bad options are usage errors (2) naming the option, bad files
# and infeasible targets fail (1) with the library's message, backtest and
# goal give consistent answers.
source "$(dirname "$0")/lib.sh"

MK="${TELLER_SHARED:-$TELLER_SRC/../shared}/data/markets"

# ---- a small price file every run has: 4 assets, 400 business days, seeded
python3 - "$WORK/px.csv" <<'PY'
import datetime as dt, math, random, sys
rnd = random.Random(7)
names = ["AAA", "BBB", "CCC", "DDD"]
mus, sig = [0.0006, 0.0004, 0.0002, 0.0003], [0.02, 0.015, 0.008, 0.012]
p = [100.0, 50.0, 20.0, 80.0]
d = dt.date(2020, 1, 1)
with open(sys.argv[1], "w") as f:
    f.write("date," + ",".join(names) + "\n")
    rows = 0
    while rows < 400:
        if d.weekday() < 5:
            cells = []
            for i in range(4):
                # DDD lists on the 50th day: missing prices before it
                cells.append("" if i == 3 and rows < 50 else "%.6f" % p[i])
            f.write(d.isoformat() + "," + ",".join(cells) + "\n")
            m = rnd.gauss(0, 1)
            for i in range(4):
                z = 0.5 * m + math.sqrt(0.75) * rnd.gauss(0, 1)
                p[i] *= math.exp(mus[i] + sig[i] * z)
            rows += 1
        d += dt.timedelta(days=1)
PY
PX="$WORK/px.csv"

rc_of() { local rc=0; "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?; echo $rc; }

# ---- every method runs on the small file and its weights are sane
for m in min-volatility max-sharpe "efficient-risk --target 0.2" "efficient-return --target 0.05" \
         max-utility hrp erc min-cvar min-semivariance "efficient-risk --measure cvar --target 0.02" \
         "efficient-return --measure semivariance --target 0.05" "max-utility --measure semivariance"; do
  # shellcheck disable=SC2086
  rc=$(rc_of teller portfolio optimize --prices "$PX" --method $m --json)
  check "optimize --method $m exits 0" test "$rc" = 0
  check "... weights sum to 1, within bounds, the performance is numbers" python3 - "$WORK/out" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
w = d["raw_weights"]
assert set(w) == {"AAA", "BBB", "CCC", "DDD"}, w
assert abs(sum(w.values()) - 1) < 1e-6 and all(-1e-9 <= x <= 1 + 1e-9 for x in w.values()), w
assert all(isinstance(v, float) and math.isfinite(v) for v in d["performance"].values()), d
assert abs(sum(d["weights"].values()) - 1) < 1e-4, d["weights"]
PY
done
for r in sample semicov exp ledoit-wolf lw-single-factor lw-const-corr; do
  rc=$(rc_of teller portfolio optimize --prices "$PX" --method min-volatility --risk $r --json)
  check "optimize --risk $r exits 0" test "$rc" = 0
done
for r in mean mean-arith ema capm; do
  rc=$(rc_of teller portfolio optimize --prices "$PX" --returns $r --method max-utility --json)
  check "optimize --returns $r exits 0" test "$rc" = 0
done
rc=$(rc_of teller portfolio optimize --prices "$PX" --method min-volatility --resample weekly --json)
check "weekly resampling annualises by 52" sh -c "test $rc = 0 && grep -q '\"frequency\":52' '$WORK/out'"
rc=$(rc_of teller portfolio optimize --prices "$PX" --from 2020-06-01 --to 2020-12-31 --dropna --json)
check "--from/--to/--dropna restrict the dates" python3 -c "
import json,sys; d=json.load(open(sys.argv[1]))
assert d['from'] >= '2020-06-01' and d['to'] <= '2020-12-31', d" "$WORK/out"
teller portfolio optimize --prices "$PX" --method min-volatility >"$WORK/text"
check "the text output lists weights and the Sharpe ratio" \
  sh -c "grep -q 'volatility' '$WORK/text' && grep -q 'Sharpe ratio' '$WORK/text' && grep -q 'CCC' '$WORK/text'"

# ---- bad input: usage errors (2) name the option, failures (1) the cause
printf 'date,A,B\n2020-01-01,1,2\n2020-01-02,1.1,x\n2020-01-03,1.2,2.1\n' >"$WORK/bad.csv"
rc=$(rc_of teller portfolio optimize --prices "$PX" --method nosuch)
check "unknown --method exits 2 naming it" sh -c "test $rc = 2 && grep -q -- '--method: unknown value \"nosuch\"' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --prices "$PX" --bounds 0.2,0.1)
check "--bounds 0.2,0.1 exits 2" sh -c "test $rc = 2 && grep -q -- '--bounds 0.2,0.1: the lower bound is above' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --prices "$PX" --bounds 0.5,x)
check "--bounds 0.5,x exits 2" sh -c "test $rc = 2 && grep -q -- '--bounds expects LO,HI' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --method min-volatility)
check "missing --prices exits 2" sh -c "test $rc = 2 && grep -q -- '--prices' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --prices "$WORK/bad.csv")
check "a malformed CSV exits 1 naming file:line:column" \
  sh -c "test $rc = 1 && grep -q 'bad.csv:3:3: column \"B\"' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --prices "$WORK/nosuch.csv")
check "a missing file exits 1 naming it" sh -c "test $rc = 1 && grep -q 'nosuch.csv' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --prices "$PX" --method efficient-return --target 5)
check "an infeasible return target exits 1 with the library's reason" \
  sh -c "test $rc = 1 && grep -q 'target return 5 is above the maximum return' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --prices "$PX" --method efficient-risk --target 0.0001)
check "a volatility below the minimum exits 1" sh -c "test $rc = 1 && grep -q 'minimum volatility' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --prices "$PX" --method efficient-return --target 5 --json)
check "... with --json the error is JSON on stdout" python3 -c "
import json,sys; d=json.load(open(sys.argv[1])); assert d['error']['code']=='invalid', d" "$WORK/out"
rc=$(rc_of teller portfolio optimize --prices "$PX" --method efficient-risk)
check "efficient-risk without --target exits 2" sh -c "test $rc = 2 && grep -q -- 'needs --target' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --prices "$PX" --target 0.2)
check "--target with max-sharpe exits 2" sh -c "test $rc = 2 && grep -q -- '--target applies to' '$WORK/err'"
rc=$(rc_of teller portfolio optimize --prices "$PX" --bounds 0.3,0.3 --method min-volatility)
check "bounds that cannot sum to 1 exit 1" sh -c "test $rc = 1 && grep -q 'cannot sum to 1' '$WORK/err'"
# each line: the option the message must name, then the options
while read -r opt bad; do
  # shellcheck disable=SC2086
  rc=$(rc_of teller portfolio optimize --prices "$PX" $bad)
  check "optimize $bad exits 2 naming $opt" sh -c "test $rc = 2 && grep -q -- '$opt' '$WORK/err'"
done <<EOF
--rf --rf abc
--beta --beta 1.5 --method min-cvar
--frequency --frequency 0
--gamma --gamma -1
--from --from 2020-13-01
--resample --resample daily
--risk --risk nosuch
--returns --returns nosuch
--cash --cash 10
--bounds --method hrp --bounds 0,0.5
--risk --method min-cvar --risk exp
--span --span 30
--market --market $PX
--measure --method min-volatility --measure cvar
--risk-aversion --risk-aversion 0 --method max-utility
--market-neutral --market-neutral
EOF
rc=$(rc_of teller portfolio frobnicate)
check "an unknown subcommand exits 2" test "$rc" = 2

# ---- allocate, backtest and goal on the small file
teller portfolio optimize --prices "$PX" --json >"$WORK/w.json"
for m in greedy integer; do
  rc=$(rc_of teller portfolio allocate --weights "$WORK/w.json" --prices "$PX" --cash 10000 --method $m --json)
  check "allocate --method $m: shares at the latest prices plus the leftover make the cash" python3 - "$WORK/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
spent = sum(n * d["latest_prices"][t] for t, n in d["allocation"].items())
assert abs(spent + d["leftover"] - 10000) < 1e-6 and 0 <= d["leftover"] < 10000, d
assert all(n > 0 for n in d["allocation"].values()), d
PY
done
echo '{"AAA": 0.5, "ZZZ": 0.5}' >"$WORK/wz.json"
rc=$(rc_of teller portfolio allocate --weights "$WORK/wz.json" --prices "$PX" --cash 1000)
check "allocate: a ticker the prices lack exits 1 naming it" sh -c "test $rc = 1 && grep -q 'ZZZ' '$WORK/err'"
rc=$(rc_of teller portfolio allocate --weights "$WORK/w.json" --prices "$PX" --cash -5)
check "allocate --cash -5 exits 2" sh -c "test $rc = 2 && grep -q -- '--cash' '$WORK/err'"
rc=$(rc_of teller portfolio backtest --prices "$PX" --weights "$WORK/w.json" --rebalance monthly --cost-bps 10 --json)
check "backtest with the optimized weights, monthly" python3 - "$WORK/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dates"] == 400 and d["rebalances"] >= 17 and d["costs"] > 0, d
assert abs(d["final_value"] / d["initial"] - 1 - d["total_return"]) < 1e-12, d
assert 0 < d["max_drawdown"] < 1 and d["drawdown_peak"] < d["drawdown_trough"], d
PY
for bad in "--rebalance weekly" "--rebalance threshold:2" "--cost-bps -1" "--method greedy"; do
  # shellcheck disable=SC2086
  rc=$(rc_of teller portfolio backtest --prices "$PX" --weights equal $bad)
  check "backtest $bad exits 2" sh -c "test $rc = 2 && grep -q -- '${bad%% *}' '$WORK/err'"
done
rc=$(rc_of teller portfolio goal --amount 10000 --monthly 500 --target 300000 --months 240 --json)
check "goal: a probability and ordered percentiles" python3 - "$WORK/out" <<'PY'
import json, sys
from decimal import Decimal
d = json.load(open(sys.argv[1]))
r = d["result"]
assert 0 < r["p_success"] < 1 and d["paths"] == 10000, d
p = [Decimal(r["final_percentiles"][k]) for k in ("p5", "p25", "p50", "p75", "p95")]
assert p == sorted(p) and p[0] > 0, p
PY
teller portfolio goal --amount 10000 --monthly 500 --target 300000 --months 240 --json >"$WORK/again"
check "goal is deterministic for a seed" cmp -s "$WORK/out" "$WORK/again"
rc=$(rc_of teller portfolio goal --amount 10000 --target 300000 --months 240 --probability 0.8 --json)
need=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['monthly_needed'])" "$WORK/out")
less=$(python3 -c "from decimal import Decimal as D; print(D('$need') - D('0.01'))")
teller portfolio goal --amount 10000 --monthly "$need" --target 300000 --months 240 --json >"$WORK/at"
teller portfolio goal --amount 10000 --monthly "$less" --target 300000 --months 240 --json >"$WORK/below"
check "goal --probability 0.8: that contribution reaches 80 %, a cent less does not" python3 -c "
import json,sys
a=json.load(open(sys.argv[1]))['result']['p_success']; b=json.load(open(sys.argv[2]))['result']['p_success']
assert a >= 0.8 > b, (a, b)" "$WORK/at" "$WORK/below"
for bad in "--rho 2" "--probability 1" "--months 2000" "--target 1.005" "--currency XYZ"; do
  # shellcheck disable=SC2086
  rc=$(rc_of teller portfolio goal --target 1000 --months 12 $bad)
  check "goal $bad exits 2" sh -c "test $rc = 2 && grep -q -- '${bad%% *}' '$WORK/err'"
done
rc=$(rc_of teller portfolio goal --target 1000000 --months 12 --probability 0.5 --max-monthly 10)
check "goal: a target out of reach exits 1" sh -c "test $rc = 1 && grep -q 'out of reach' '$WORK/err'"

# ---- reference cases on the shared market data
if [ ! -f "$MK/reference_cases.json" ] || [ ! -f "$MK/stock_prices.csv" ]; then
  echo "SKIP reference cases: $MK/reference_cases.json or stock_prices.csv absent (set TELLER_SHARED)"
  finish
  exit $?
fi
SP="$MK/stock_prices.csv"
cat >"$WORK/check.py" <<'PY'
# check.py CASES ID OUT: compares optimize --json's performance (or HRP's
# weights) with the case's expected values at the case's own tolerance.
import json, sys
cases = {c["id"]: c for c in json.load(open(sys.argv[1]))}
c, out = cases[sys.argv[2]], json.load(open(sys.argv[3]))
t, e = c["tolerance"], c["expected"]
rtol, atol = t.get("rtol", 0.0), t.get("atol", 0.0)
if "abs_tol" in t:
    rtol, atol = 0.0, t["abs_tol"]
def close(what, got, want):
    assert abs(got - want) <= atol + rtol * abs(want), \
        "%s: %s = %.17g, expected %.17g (rtol %g, atol %g)" % (c["id"], what, got, want, rtol, atol)
if "portfolio_performance" in e:
    for f, want in zip(e["fields"], e["portfolio_performance"]):
        close(f, out["performance"][f], want)
if "weights" in e:
    for k, want in e["weights"].items():
        close(k, out["raw_weights"][k], want)
if "weights_sum" in e:
    assert abs(sum(out["raw_weights"].values()) - e["weights_sum"]) < 1e-6, out["raw_weights"]
print("%s within rtol %g atol %g" % (c["id"], rtol, atol))
PY
refcase() { # refcase ID OPTIONS...
  local id=$1; shift
  local rc=0
  teller portfolio optimize --prices "$SP" "$@" --json >"$WORK/$id.json" 2>"$WORK/err" || rc=$?
  if [ $rc -ne 0 ]; then bad "$id: teller portfolio optimize $* exited $rc: $(head -1 "$WORK/err")"; return; fi
  check "reference case $id: optimize $*" python3 "$WORK/check.py" "$MK/reference_cases.json" "$id" "$WORK/$id.json"
}
refcase ef_min_volatility --method min-volatility --rf 0.02
refcase ef_min_volatility_L2_gamma1 --method min-volatility --gamma 1 --rf 0.02
refcase ef_max_sharpe --method max-sharpe --rf 0.02
refcase ef_max_quadratic_utility_delta2 --method max-utility --risk-aversion 2 --rf 0.02
refcase ef_efficient_risk_0.19 --method efficient-risk --target 0.19 --rf 0.02
refcase ef_efficient_risk_market_neutral --method efficient-risk --target 0.21 --bounds -1,1 --market-neutral --rf 0.02
refcase ef_efficient_return_0.25 --method efficient-return --target 0.25 --rf 0.02
refcase ef_max_sharpe_semicovariance --risk semicov --benchmark 0 --rf 0.02
refcase hrp_weights_single_linkage --method hrp
refcase cvar_min_cvar_full_history_mu --method min-cvar
refcase cvar_efficient_risk_0.02 --dropna --method efficient-risk --measure cvar --target 0.02
refcase cvar_efficient_return_0.25 --dropna --method efficient-return --measure cvar --target 0.25
refcase semivariance_efficient_return_0.2 --dropna --method efficient-return --measure semivariance --target 0.2 --rf 0.02
refcase semivariance_min_semivariance_L2 --dropna --method min-semivariance --gamma 1 --rf 0.02
refcase cdar_min_cdar --dropna --method min-cdar
refcase cdar_efficient_risk_0.08 --dropna --method efficient-risk --measure cdar --target 0.08

# discrete_allocation_greedy_long: max-sharpe's raw weights, $10000, short ratio 0.3
rc=$(rc_of teller portfolio allocate --weights "$WORK/ef_max_sharpe.json" --prices "$SP" --cash 10000 \
       --short-ratio 0.3 --json)
check "reference case discrete_allocation_greedy_long: allocate (greedy)" python3 - "$MK/reference_cases.json" "$WORK/out" <<'PY'
import json, sys
c = {c["id"]: c for c in json.load(open(sys.argv[1]))}["discrete_allocation_greedy_long"]
d = json.load(open(sys.argv[2]))
assert d["allocation"] == c["expected"]["allocation"], (d["allocation"], c["expected"]["allocation"])
spent = sum(n * d["latest_prices"][t] for t, n in d["allocation"].items())
assert abs(spent + d["leftover"] - c["expected"]["total_plus_leftover"]) < 1.5e-4, d
PY
rc=$(rc_of teller portfolio allocate --weights "$WORK/ef_max_sharpe.json" --prices "$SP" --cash 10000 --json)
check "reference case latest_prices: the allocation's prices" python3 - "$MK/reference_cases.json" "$WORK/out" <<'PY'
import json, sys
c = {c["id"]: c for c in json.load(open(sys.argv[1]))}["latest_prices"]
d = json.load(open(sys.argv[2]))
assert d["prices_date"] == c["expected"]["date"], d["prices_date"]
assert all(abs(d["latest_prices"][t] - p) < 1e-9 for t, p in c["expected"]["prices"].items()), d
PY

# the backtest of docs/portfolio-planning.md ("A real run"), against its numpy figures
rc=$(rc_of teller portfolio backtest --prices "$SP" --weights equal --from 2014-09-19 --to 2018-04-11 \
       --rebalance monthly --cost-bps 10 --rf 0.02 --json)
check "backtest: equal weight, monthly, 10 bps matches the numpy cross-check" python3 - "$WORK/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
want = {"final_value": 14389.2808866, "cagr": 0.107650903177571, "volatility": 0.159767653856719,
        "sharpe": 0.597952371769592, "sortino": 0.84145862596301, "max_drawdown": 0.162291584765332}
for k, v in want.items():
    assert abs(d[k] - v) <= 1e-9 * abs(v), (k, d[k], v)
assert d["dates"] == 896 and d["rebalances"] == 43 and d["drawdown_trough"] == "2016-02-11", d
PY

finish
