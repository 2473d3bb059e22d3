#!/usr/bin/env bash
# needs: postgres
# kill -9 in the middle of a large ingest leaves the store either as before or
# fully loaded, never partial; running the same command again completes.
source "$(dirname "$0")/lib.sh"
[ -f "${TELLER_PG_STATE:-/x}/url" ] || { echo "PostgreSQL fixture not running"; exit 1; }

# ~400k rows: long enough to be killed in the middle even on a fast machine
python3 - "$WORK/big.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,account_id,ts,amount,currency,kind,channel,mcc,merchant_id,terminal_id,country,description,is_fraud,fraud_scenario\n")
    for i in range(400000):
        f.write("K%07d,A%d,2026-10-%02dT%02d:%02d:00Z,-%d.%02d,EUR,card,pos,5411,M%d,TM%d,DE,kill test row,0,0\n"
                % (i, 1 + i % 4, 1 + i % 28, i % 24, i % 60, i % 500, i % 100, i % 50, i % 90))
PY

for store in $(stores); do
  b=${store%%:*}
  load_mini "$store"
  before=$(teller stats --checksum --store "$store")
  killed=0
  for delay in 0.3 0.8 1.5 3; do
    "$TELLER_BIN" ingest --quiet --store "$store" transactions "$WORK/big.csv" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid"; wait "$pid" 2>/dev/null || true
      killed=1
      now=$(teller stats --checksum --store "$store")
      check "$b: killed after ${delay}s: store as before" test "$now" = "$before"
    else
      wait "$pid" || true
      break
    fi
  done
  check "$b: at least one ingest was killed mid-way" test "$killed" = 1
  check "$b: the same command again completes" teller ingest --quiet --store "$store" transactions "$WORK/big.csv"
  n=$(teller stats --json --store "$store" | python3 -c "import json,sys; print(json.load(sys.stdin)['tables']['transactions']['rows'])")
  check "$b: fully loaded (400004 rows)" test "$n" = 400004
done
finish
