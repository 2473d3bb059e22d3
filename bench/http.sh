#!/usr/bin/env bash
# HTTP benchmark: Teller's server against nginx, in one run, over loopback.
#
#   anchor   nginx (Debian's nginx-light) serving a static JSON file of the
#            same size as Teller's customer answer
#   teller   GET /healthz (no store, no auth), and an authorized
#            GET /v1/customers/{id} against SQLite: API key verified against
#            its keyed hash in the store, the row read, five PII columns
#            decrypted, the read appended to the hash-chained audit log
#            (committed) before the answer, JSON rendered. For what that
#            audit write and the decryption cost, also GET /v1/products/{id}:
#            the same key check, one-row read and rendering, but no customer
#            data, so no PII to open and no audit row.
#
# Each side gets the same wrk run (threads, connections, duration, keep-alive)
# and both log nothing per request (nginx access_log off, Teller log.level
# warn); ACCESS_LOG=1 turns both access logs on, to files. Customer ids
# rotate over CUSTOMERS customers (a wrk Lua script), so the store is not
# read from one hot row. Goals (the server issue): /healthz >= 0.8x nginx;
# the customer route >= 0.4x nginx with p99 under 5 ms at 64 connections.
#
# usage: bench/http.sh   (needs a Release build in build/: make build)
#   env: CONNS=64 THREADS=2 DURATION=10s CUSTOMERS=10000 SERVER_THREADS=0 ACCESS_LOG=0
set -euo pipefail
cd "$(dirname "$0")/.."
T=${TELLER:-build/teller}
[ -x "$T" ] || { echo "build first: make build"; exit 1; }
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
CUSTOMERS=${CUSTOMERS:-10000}
SERVER_THREADS=${SERVER_THREADS:-0}
ACCESS_LOG=${ACCESS_LOG:-0}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (Debian packages)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

W=$(mktemp -d /tmp/teller-bench-http.XXXXXX)
TELLER_PID=
cleanup() {
  [ -n "$TELLER_PID" ] && kill -TERM "$TELLER_PID" 2>/dev/null && wait "$TELLER_PID" 2>/dev/null || true
  [ -f "$W/nginx.pid" ] && kill -QUIT "$(cat "$W/nginx.pid")" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- the bank: products, customers and accounts of a generated bank in SQLite
export TELLER_DATA_KEY_FILE="$W/teller.key"
STORE="sqlite:$W/bench.db"
$T generate --quiet --customers "$CUSTOMERS" --months 1 --seed 7 --out "$W/bank" >/dev/null
$T init --quiet --store "$STORE" >/dev/null
for t in products customers accounts; do $T ingest --quiet --store "$STORE" $t "$W/bank/$t.csv" >/dev/null; done
KEY=$($T keys create --store "$STORE" --role analyst --name bench 2>/dev/null)
cut -d, -f1 "$W/bank/customers.csv" | tail -n +2 >"$W/ids"
cut -d, -f1 "$W/bank/products.csv" | tail -n +2 >"$W/product_ids"

# ---- Teller
export TELLER_SERVER_RATE_LIMIT=0 TELLER_SERVER_THREADS=$SERVER_THREADS
[ "$ACCESS_LOG" = 1 ] && export TELLER_LOG_LEVEL=info || export TELLER_LOG_LEVEL=warn
TPORT=$(free_port)
$T serve --store "$STORE" --listen "127.0.0.1:$TPORT" >"$W/teller.out" 2>"$W/teller.log" &
TELLER_PID=$!
for _ in $(seq 100); do grep -q listening "$W/teller.out" 2>/dev/null && break; sleep 0.1; done
first=$(head -1 "$W/ids")
curl -sf -H "Authorization: Bearer $KEY" "http://127.0.0.1:$TPORT/v1/customers/$first" >"$W/customer.json"
size=$(wc -c <"$W/customer.json")

# ---- nginx: a static JSON file of the same size
NPORT=$(free_port)
mkdir -p "$W/www" "$W/nginx-tmp"
python3 - "$W/www/customer.json" "$size" <<'PY'
import json, sys
path, size = sys.argv[1], int(sys.argv[2])
doc = {"id": "C000001", "pad": ""}
doc["pad"] = "x" * (size - len(json.dumps(doc, separators=(",", ":"))))
open(path, "w").write(json.dumps(doc, separators=(",", ":")))
PY
cat >"$W/nginx.conf" <<EOF
worker_processes auto;
pid $W/nginx.pid;
error_log $W/nginx-error.log warn;
events { worker_connections 4096; }
http {
  $( [ "$ACCESS_LOG" = 1 ] && echo "access_log $W/nginx-access.log;" || echo "access_log off;" )
  client_body_temp_path $W/nginx-tmp; proxy_temp_path $W/nginx-tmp; fastcgi_temp_path $W/nginx-tmp;
  uwsgi_temp_path $W/nginx-tmp; scgi_temp_path $W/nginx-tmp;
  keepalive_requests 1000000;
  default_type application/json;
  server {
    listen 127.0.0.1:$NPORT;
    root $W/www;
    location / { add_header Cache-Control no-store; }
  }
}
EOF
chmod 755 "$W" "$W/www" && chmod 644 "$W/www/customer.json"   # nginx workers run unprivileged
"$NGINX" -c "$W/nginx.conf" -p "$W"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NPORT/customer.json" >/dev/null && break; sleep 0.1; done

# rotate ids in the Teller requests
rotate() { # rotate IDS_FILE PATH_PREFIX: a wrk script cycling through the ids
  printf 'local ids = {}\nfor line in io.lines("%s") do ids[#ids + 1] = line end\n' "$1"
  printf 'local n = 0\nwrk.headers["Authorization"] = "Bearer %s"\n' "$KEY"
  printf 'request = function()\n  n = n + 1\n  return wrk.format("GET", "%s" .. ids[(n %% #ids) + 1])\nend\n' "$2"
}
rotate "$W/ids" /v1/customers/ >"$W/rotate.lua"
rotate "$W/product_ids" /v1/products/ >"$W/products.lua"

run() { # run NAME URL [wrk args...]: prints "req/s p99_ms"
  local name=$1 url=$2; shift 2
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" >"$W/$name.wrk"
  python3 - "$W/$name.wrk" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", t, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print("%.0f %.3f %s" % (rps, p99, errs.group(1) if errs else "0"))
PY
}

wrk -t1 -c8 -d2s -s "$W/rotate.lua" "http://127.0.0.1:$TPORT" >/dev/null   # warm up every worker's store connection
read -r n_rps n_p99 n_err < <(run nginx "http://127.0.0.1:$NPORT/customer.json")
read -r h_rps h_p99 h_err < <(run healthz "http://127.0.0.1:$TPORT/healthz")
read -r p_rps p_p99 p_err < <(run product "http://127.0.0.1:$TPORT" -s "$W/products.lua")
audit0=$($T audit log --json --store "$STORE" --limit 1 | python3 -c 'import json,sys; e=json.load(sys.stdin)["entries"]; print(e[0]["seq"] if e else 0)')
read -r c_rps c_p99 c_err < <(run customer "http://127.0.0.1:$TPORT" -s "$W/rotate.lua")
audit1=$($T audit log --json --store "$STORE" --limit 1 | python3 -c 'import json,sys; e=json.load(sys.stdin)["entries"]; print(e[0]["seq"] if e else 0)')

cores=$(nproc)
echo
echo "HTTP over loopback: wrk -t$THREADS -c$CONNS -d$DURATION --latency, $cores cores shared by client and server"
echo "response body: $size bytes (the customer JSON; nginx serves a file of that size)"
printf "%-40s %12s %10s %8s\n" "target" "req/s" "p99 ms" "non-2xx"
printf "%-40s %12s %10s %8s\n" "nginx static file (anchor)" "$n_rps" "$n_p99" "$n_err"
printf "%-40s %12s %10s %8s\n" "teller GET /healthz" "$h_rps" "$h_p99" "$h_err"
printf "%-40s %12s %10s %8s\n" "teller GET /v1/products/{id} (no audit)" "$p_rps" "$p_p99" "$p_err"
printf "%-40s %12s %10s %8s\n" "teller GET /v1/customers/{id} (analyst)" "$c_rps" "$c_p99" "$c_err"
python3 - "$n_rps" "$h_rps" "$c_rps" "$c_p99" "$audit0" "$audit1" "$p_rps" <<'PY'
import sys
n, h, c, p99, a0, a1, p = map(float, sys.argv[1:])
print("ratio /healthz / nginx:        %.2fx  (goal >= 0.8x: %s)" % (h / n, "met" if h / n >= 0.8 else "NOT met"))
print("ratio customer route / nginx:  %.2fx  (goal >= 0.4x: %s)" % (c / n, "met" if c / n >= 0.4 else "NOT met"))
print("customer route p99:            %.2f ms (goal < 5 ms: %s)" % (p99, "met" if p99 < 5 else "NOT met"))
print("audit rows appended during the customer run: %d (one per read)" % (a1 - a0))
print("customer route / product route: %.2fx  (the price of opening PII and the audit write)" % (c / p))
PY
