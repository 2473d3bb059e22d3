#!/usr/bin/env bash
# Ingest benchmark: 1 million transactions from CSV.
#
#   Teller (full validation: types, FKs, currency precision, timestamps, enums,
#   UTF-8, duplicate ids; conversion to minor units and epoch ms; upsert) vs
#   sqlite3's `.import` and psql's `\copy` of the same rows into the same table
#   (same schema, indexes and foreign keys, created by `teller init`). The
#   anchors get the rows already in store units (amount_minor, ts_ms), since
#   neither can convert; they validate nothing. Ids are sequential.
#
# usage: bench/ingest.sh [ROWS]   (default 1000000; needs a Release build in build/)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
T=${TELLER:-build/teller}
[ -x "$T" ] || { echo "build first: make build"; exit 1; }
W=$(mktemp -d /tmp/teller-bench.XXXXXX)
PGSTATE="$W/pg"
cleanup() { bash tests/pg.sh stop "$PGSTATE" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2-$1:.3f}')"; }

# The bank: enough customers for ROWS transactions.
custs=$(( ROWS / 220 + 100 ))
$T generate --quiet --customers "$custs" --seed 7 --out "$W/bank" >/dev/null
head -n $((ROWS + 1)) "$W/bank/transactions.csv" >"$W/tx.csv"
n=$(( $(wc -l <"$W/tx.csv") - 1 ))
echo "input: $n transactions, $(du -h "$W/tx.csv" | cut -f1) of CSV"

prepare() { # prepare STORE: schema plus the tables transactions refer to
  $T init --quiet --store "$1" >/dev/null
  for t in products customers accounts; do $T ingest --quiet --store "$1" $t "$W/bank/$t.csv" >/dev/null; done
}

# --- SQLite ---------------------------------------------------------------
prepare "sqlite:$W/teller.db"
t0=$(now); $T ingest --quiet --store "sqlite:$W/teller.db" transactions "$W/tx.csv" >/dev/null; t1=$(now)
teller_sqlite=$(secs $t0 $t1)
sqlite3 -csv "$W/teller.db" "SELECT * FROM transactions ORDER BY id" >"$W/tx_store.csv"
prepare "sqlite:$W/anchor.db"
sqlite3 "$W/anchor.db" "PRAGMA journal_mode=WAL" >/dev/null
t0=$(now); sqlite3 "$W/anchor.db" ".import --csv $W/tx_store.csv transactions"; t1=$(now)
anchor_sqlite=$(secs $t0 $t1)
check=$(sqlite3 "$W/anchor.db" "SELECT count(*) FROM transactions")

# --- PostgreSQL -------------------------------------------------------------
bash tests/pg.sh start "$PGSTATE" >/dev/null
base=$(cat "$PGSTATE/url")
psql -q -d "$base" -c "CREATE DATABASE bench_teller" -c "CREATE DATABASE bench_anchor"
prepare "${base%/*}/bench_teller"
t0=$(now); $T ingest --quiet --store "${base%/*}/bench_teller" transactions "$W/tx.csv" >/dev/null; t1=$(now)
teller_pg=$(secs $t0 $t1)
prepare "${base%/*}/bench_anchor"
t0=$(now); psql -q -d "${base%/*}/bench_anchor" -c "\\copy transactions FROM '$W/tx_store.csv' WITH (FORMAT csv)"; t1=$(now)
anchor_pg=$(secs $t0 $t1)

python3 - "$n" "$teller_sqlite" "$anchor_sqlite" "$teller_pg" "$anchor_pg" "$check" <<'PY'
import sys
n = int(sys.argv[1]); ts, as_, tp, ap = map(float, sys.argv[2:6])
print(f"{'':28s} {'seconds':>8s} {'rows/s':>10s}")
for name, s in [("teller ingest (sqlite)", ts), ("sqlite3 .import", as_),
                ("teller ingest (postgres)", tp), ("psql \\copy", ap)]:
    print(f"{name:28s} {s:8.2f} {n/s:10.0f}")
print(f"ratio sqlite   (teller rows/s / sqlite3 .import rows/s): {as_/ts:.2f}x")
print(f"ratio postgres (teller rows/s / psql \\copy rows/s):      {ap/tp:.2f}x")
assert int(sys.argv[6]) == n, "anchor loaded a different row count"
PY
