#!/usr/bin/env bash
# Fraud benchmark: Teller's live fraud decision against Python XGBoost
# predicting the same model, in one run, on the handbook's test week.
#
#   1. `teller fraud train` fits Teller's fraud model on the simulated card
#      transactions before the test week (../shared/data/fraud_sim, cut at
#      TEST_START; training ends DELAY days earlier, as labels take that
#      long) into a fresh SQLite store;
#   2. fraud_latency (bench/fraud_latency.c) warms a fraud engine on that
#      history, then times tl_fraud_decide on every test-week transaction,
#      one call at a time: validation, the stream feature state update, the
#      model, reasons and the decision (no rules); single thread. It writes
#      the model's XGBoost JSON and the exact feature vectors the engine saw;
#   3. bench/fraud_anchor.py (Debian's python3-xgboost) loads that model and
#      predicts those rows, one row per call and in batches of 10,000, one
#      thread, and checks it gives Teller's probabilities;
#   4. a generated bank (accounts and card history) in another store, a fraud
#      model trained on it, `teller serve`, and wrk POSTing card transactions
#      (new ids, real accounts and terminals; bench/fraud_post.lua) to
#      /v1/transactions over loopback with a service key: each request
#      decided, stored, and alerted on when reviewed or blocked.
# Python is timed on the model alone (features given); Teller's figure
# includes computing them.
# Goals (the fraud issue): in-process p99 < 20 us per transaction including
# the state update; >= 100,000 transactions/s on one core; >= 5x the anchor's
# one-row-per-call throughput.
#
# usage: bench/fraud.sh   (needs a Release build in build/: make build)
#   env: TELLER_SHARED=../shared TEST_START=2018-08-08 TEST_END=2018-08-15
#        CONNS=64 THREADS=2 DURATION=15s CUSTOMERS=2000 SERVER_THREADS=0 HTTP=1
#        TRAIN_DAYS= (default: all the history, as `teller fraud train`)
#        MODEL_STORE=sqlite:PATH (time that store's fraud champion; no training)
#        (the store's data key: TELLER_DATA_KEY_FILE)
set -euo pipefail
cd "$(dirname "$0")/.."
T=${TELLER:-build/teller}
LAT=${LATENCY:-build/fraud_latency}
SHARED=${TELLER_SHARED:-../shared}
DATA=$SHARED/data/fraud_sim/transactions.csv.gz
TEST_START=${TEST_START:-2018-08-08}
TEST_END=${TEST_END:-2018-08-15}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
DURATION=${DURATION:-15s}
CUSTOMERS=${CUSTOMERS:-2000}
SERVER_THREADS=${SERVER_THREADS:-0}
HTTP=${HTTP:-1}
TRAIN_DAYS=${TRAIN_DAYS:-}
MODEL_STORE=${MODEL_STORE:-}
PY=/usr/bin/python3
[ -x "$T" ] && [ -x "$LAT" ] || { echo "build first: make build"; exit 1; }
[ -f "$DATA" ] || { echo "fraud: $DATA is missing, skipped"; exit 0; }
$PY -c 'import numpy, xgboost' 2>/dev/null || {
  echo "installing python3-xgboost (Debian package)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y python3-xgboost >/dev/null
}
if [ "$HTTP" = 1 ] && ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y wrk >/dev/null
fi

W=$(mktemp -d /tmp/teller-bench-fraud.XXXXXX)
TELLER_PID=
cleanup() {
  [ -n "$TELLER_PID" ] && kill -TERM "$TELLER_PID" 2>/dev/null && wait "$TELLER_PID" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
# a fresh data key, unless timing a given store (then its key)
[ -n "$MODEL_STORE" ] && [ -n "${TELLER_DATA_KEY_FILE:-}" ] || TELLER_DATA_KEY_FILE="$W/teller.key"
export TELLER_DATA_KEY_FILE
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

# ---- 1. the model, trained on what was known the morning the test week starts
if [ -n "$MODEL_STORE" ]; then
  echo "using the fraud champion of $MODEL_STORE (no training)"
  FSTORE=$MODEL_STORE
  echo '{}' >"$W/train.json"
else
  echo "training on $DATA before $TEST_START ..."
  FSTORE="sqlite:$W/f.db"
  gzip -dc "$DATA" | awk -F, -v d="$TEST_START" 'NR == 1 || $2 < d' >"$W/history.csv"
  targs=(--data "$W/history.csv")
  [ -n "$TRAIN_DAYS" ] && targs+=(--train-days "$TRAIN_DAYS")
  $T init --quiet --store "$FSTORE" >/dev/null
  t0=$(date +%s.%N)
  $T fraud train --store "$FSTORE" "${targs[@]}" --json >"$W/train.json" 2>>"$W/teller.log" ||
    { cat "$W/teller.log"; exit 1; }
  echo "  trained in $($PY -c "print('%.0f' % ($(date +%s.%N) - $t0))") s"
fi

# ---- 2. Teller in-process, and the rows for the anchor
echo "Teller in-process: warming the engine on the history, then the test week ..."
$LAT "$FSTORE" "$DATA" "$TEST_START" "$TEST_END" "$W" >"$W/lat.json" 2>>"$W/teller.log" ||
  { cat "$W/teller.log"; exit 1; }
D=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["features"])' "$W/lat.json")

# ---- 3. the anchor: Python XGBoost on the same model and rows
echo "Python XGBoost on the same model and rows ..."
$PY bench/fraud_anchor.py --model "$W/model.json" --x "$W/X.bin" --features "$D" \
  --p-teller "$W/p_teller.bin" >"$W/anchor.json"

# ---- 4. HTTP: POST /v1/transactions over loopback
echo '{}' >"$W/http.json"
if [ "$HTTP" = 1 ]; then
  echo "HTTP: a generated bank of $CUSTOMERS customers, its fraud model, teller serve, wrk ..."
  HSTORE="sqlite:$W/h.db"
  # history up to yesterday, so that today's transactions follow it
  $T generate --quiet --customers "$CUSTOMERS" --seed 42 --months 3 \
    --end-date "$(date -u -d yesterday +%F)" --out "$W/bank" >/dev/null
  $T init --quiet --store "$HSTORE" >/dev/null
  $T ingest --quiet --store "$HSTORE" "$W/bank" >/dev/null
  $T fraud train --store "$HSTORE" --json >"$W/htrain.json" 2>>"$W/teller.log" ||
    { cat "$W/teller.log"; exit 1; }
  KEY=$($T keys create --store "$HSTORE" --role service --name bench 2>/dev/null)
  # the card transactions' accounts, terminals, merchants, amounts: request bodies
  $PY - "$W/bank/transactions.csv" "$W/frags" <<'PY'
import csv, json, sys
out = open(sys.argv[2], "w")
for r in csv.DictReader(open(sys.argv[1], newline="")):
    if r["kind"] != "card":
        continue
    m = {"account_id": r["account_id"], "amount": r["amount"].lstrip("-"),
         "currency": r["currency"], "channel": r["channel"], "country": r["country"]}
    for k in ("terminal_id", "merchant_id"):
        if r[k]:
            m[k] = r[k]
    if r["mcc"]:
        m["mcc"] = int(r["mcc"])
    out.write(json.dumps(m, separators=(",", ":"))[1:-1] + "\n")
PY
  export TELLER_SERVER_RATE_LIMIT=0 TELLER_SERVER_THREADS=$SERVER_THREADS TELLER_LOG_LEVEL=warn
  PORT=$(free_port)
  $T serve --store "$HSTORE" --listen "127.0.0.1:$PORT" >"$W/teller.out" 2>"$W/serve.log" &
  TELLER_PID=$!
  for _ in $(seq 600); do grep -q listening "$W/teller.out" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$W/teller.out" || { echo "teller serve did not start:"; cat "$W/serve.log"; exit 1; }
  first=$(head -1 "$W/frags")
  code=$(curl -s -o "$W/post.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    --data "{\"id\":\"W-check-1\",\"ts\":\"$(date -u +%FT%TZ)\",$first}" \
    "http://127.0.0.1:$PORT/v1/transactions")
  case $code in 2??) ;; *) echo "POST /v1/transactions answered $code:"; cat "$W/post.json"; echo; exit 1 ;; esac
  tag=$(date +%s)
  wrk -t1 -c8 -d2s -s bench/fraud_post.lua "http://127.0.0.1:$PORT" -- "${tag}w" "$W/frags" "$KEY" >/dev/null
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/fraud_post.lua \
    "http://127.0.0.1:$PORT" -- "$tag" "$W/frags" "$KEY" >"$W/post.wrk"
  $PY - "$W/post.wrk" "$W/post.json" >"$W/http.json" <<'PY'
import json, re, sys
t = open(sys.argv[1]).read()
def ms(q):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % q, t, re.M)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
reqs = re.search(r"(\d+) requests in", t)
print(json.dumps({"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)),
                  "p50_ms": ms(50), "p99_ms": ms(99), "requests": int(reqs.group(1)),
                  "non2xx": int(errs.group(1)) if errs else 0,
                  "example": json.load(open(sys.argv[2]))}))
PY
  stored=$(sqlite3 "$W/h.db" "SELECT count(*) FROM transactions WHERE id LIKE 'W${tag}-%'" 2>/dev/null || echo "?")
  echo "{\"stored\": \"$stored\"}" >"$W/stored.json"
else
  echo '{"stored": "?"}' >"$W/stored.json"
fi

# ---- summary
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
$PY - "$W" "$(nproc)" "$THREADS" "$CONNS" "$DURATION" <<'PY'
import json, sys
w, cores, threads, conns, duration = sys.argv[1:]
tr = json.load(open(w + "/train.json"))
lat = json.load(open(w + "/lat.json"))
a = json.load(open(w + "/anchor.json"))
h = json.load(open(w + "/http.json"))
stored = json.load(open(w + "/stored.json"))["stored"]
one, b, s, ap = a["one_row"], a["batch"], lat["shap"], lat["approx"]
print()
print("model %s: %d features, %s rounds; trained on %s .. %s" % (
    lat["model"], lat["features"], tr.get("rounds", "?"),
    tr.get("train", {}).get("from", "?"), tr.get("train", {}).get("to", "?")))
print("test week: %d transactions decided after %d of history (warm-up %.1f s, state %.0f MiB)"
      % (lat["test_rows"], lat["history_rows"], lat["warm_s"], lat["state_bytes"] / 2**20))
dec = lat["decisions"]
print("decisions: %d allow, %d review, %d block; %d scored as cold cards"
      % (dec["allow"], dec["review"], dec["block"], lat["cold"]))
print("same model, same rows: max |p_teller - p_xgboost| = %.2g (feature vectors check %.2g)"
      % (a.get("check_max_abs_diff", float("nan")), lat["mirror_max_diff"]))
print()
print("%-72s %12s %10s %10s" % ("one thread", "rows/s", "p50 us", "p99 us"))
rows = [("Python XGBoost, one row per call (%s)" % one["api"], one["rows_s"], one["p50_us"], one["p99_us"])]
for r in a["one_row_apis"]:
    if r["api"] != one["api"]:
        rows.append(("  also: %s" % r["api"], r["rows_s"], r["p50_us"], r["p99_us"]))
rows += [("Python XGBoost, batches of %d (per row)" % b["size"], b["rows_s"], b["row_p50_us"], b["row_p99_us"]),
         ("Teller tl_fraud_decide, state update + reasons (shap, default)", s["rows_s"], s["p50_us"], s["p99_us"]),
         ("Teller tl_fraud_decide, approximate reasons", ap["rows_s"], ap["p50_us"], ap["p99_us"]),
         ("Teller tl_fraud_decide, default, back to back (no timers)", lat["throughput_rows_s"], None, None)]
for name, r, p50, p99 in rows:
    print("%-72s %12.0f %10s %10s" % (name, r, "%.2f" % p50 if p50 is not None else "-",
                                      "%.2f" % p99 if p99 is not None else "-"))
su, ms, gm = lat["stream_update"], lat["model_score_approx"], lat["gbdt_margin"]
print("Teller's parts alone, p50 / p99: stream state update %.2f / %.2f us; model with approximate reasons %.2f / %.2f us; the trees' margin alone %.2f / %.2f us"
      % (su["p50_us"], su["p99_us"], ms["p50_us"], ms["p99_us"], gm["p50_us"], gm["p99_us"]))
print("Python batch latency: p50 %.2f ms, p99 %.2f ms per %d rows" % (b["batch_p50_ms"], b["batch_p99_ms"], b["size"]))
if h:
    print("%-72s %12.0f %10.2f %10.2f  (ms; %d non-2xx of %d; %s stored)" % (
        "HTTP POST /v1/transactions, wrk -t%s -c%s -d%s" % (threads, conns, duration),
        h["rps"], h["p50_ms"], h["p99_ms"], h["non2xx"], h["requests"], stored))
    print("  (%s cores shared by wrk and the server; each request decided, stored, alerted on)" % cores)
tput = lat["throughput_rows_s"]
print()
print("ratios (Teller in-process, default reasons, back to back):")
print("  / Python one row per call:  %.1fx rows/s, p99 %.1fx lower" % (tput / one["rows_s"], one["p99_us"] / s["p99_us"]))
print("  / Python batches of %d: %.2fx rows/s" % (b["size"], tput / b["rows_s"]))
if h:
    print("  HTTP / Python one row per call: %.2fx" % (h["rps"] / one["rows_s"]))
def goal(text, ok):
    print("goal: %-58s %s" % (text, "MET" if ok else "NOT MET"))
print()
goal("in-process p99 < 20 us incl. state update (%.2f us)" % s["p99_us"], s["p99_us"] < 20)
goal(">= 100,000 transactions/s on one core (%.0f)" % tput, tput >= 100000)
goal(">= 5x the anchor's one-row-per-call throughput (%.1fx)" % (tput / one["rows_s"]),
     tput >= 5 * one["rows_s"])
PY
