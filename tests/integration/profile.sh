#!/usr/bin/env bash
# needs: postgres
# Customer 360 and segments through the real program on a generated bank,
# on SQLite and (when the fixture runs one) PostgreSQL: teller profile
# (income, spending, fixed costs, products, signals; the same profile on
# both backends; the same profile whether the transactions came at once or
# in two halves with a refresh between), teller segments (fit, k by
# silhouette or fixed, stored, --show, shown in profiles, deterministic for a
# seed), bad input, and the HTTP routes once the server registers them.
source "$(dirname "$0")/lib.sh"
export PYTHONPATH="$TELLER_SRC/tests/integration${PYTHONPATH:+:$PYTHONPATH}"

teller generate --customers 120 --seed 4 --months 6 --out "$WORK/bank" >/dev/null
# the transactions in two halves, in time order
python3 - "$WORK/bank/transactions.csv" "$WORK/tx1.csv" "$WORK/tx2.csv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines(True)
head, rows = lines[0], lines[1:]
half = len(rows) // 2
open(sys.argv[2], "w").writelines([head] + rows[:half])
open(sys.argv[3], "w").writelines([head] + rows[half:])
PY

n=0
for store in $(stores); do
  n=$((n + 1))
  teller init --store "$store" >/dev/null
  teller ingest --quiet --store "$store" "$WORK/bank" >/dev/null
  rc=0; teller profile --refresh-all --store "$store" --json >"$WORK/refresh$n.json" || rc=$?
  check "store $n: refresh-all exits 0" test $rc -eq 0
  check "store $n: ... folding every customer's transactions" python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); assert r['customers']==120 and r['transactions']>20000, r" "$WORK/refresh$n.json"
  for c in C000001 C000007 C000042; do
    teller profile "$c" --store "$store" --json >"$WORK/p$n-$c.json"
  done
  check "store $n: profiles show income, spending, fixed costs, products and channels" python3 - "$WORK"/p$n-*.json <<'PY'
import json, sys
from decimal import Decimal
for f in sys.argv[1:]:
    p = json.load(open(f))
    assert p["window"]["months"] >= 4, p["window"]
    inc = p["income"]
    if inc["found"]:
        assert Decimal(inc["monthly"]) > 0 and inc["sources"], inc
    sp = p["spending"]
    assert sum(Decimal(v) for v in sp["by_category"].values()) == Decimal(sp["monthly"]), sp
    assert "groceries" in sp["by_category"], sp["by_category"]
    fc = p["fixed_costs"]
    assert sum(Decimal(i["monthly"]) for i in fc["items"]) == Decimal(fc["monthly"]), fc
    assert p["products"] and all(x["category"] for x in p["products"]), p["products"]
    assert abs(sum(p["channels"].values()) - 1) < 1e-3, p["channels"]
    assert p["tenure_months"] > 0 and 17 <= p["age"] <= 100, p
    for s in p["life_signals"]:
        assert s["first_seen"] and s["evidence"] and s["evidence_tx"], s
PY
  teller profile C000001 --store "$store" >"$WORK/text$n.out"
  check "store $n: the text output lists income, fixed costs and channels" \
    sh -c "grep -q '^income' '$WORK/text$n.out' && grep -q '^fixed costs' '$WORK/text$n.out' && grep -q '^channels:' '$WORK/text$n.out'"

  rc=0; teller segments --store "$store" --json >"$WORK/seg$n.json" || rc=$?
  check "store $n: segments exits 0" test $rc -eq 0
  check "store $n: k by silhouette over 2..8, every segment described, sizes add up" python3 - "$WORK/seg$n.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["chosen_by"] == "silhouette" and 2 <= r["k"] <= 8, r
assert sorted(r["silhouette_by_k"]) == [str(k) for k in range(2, 9)], r["silhouette_by_k"]
assert max(r["silhouette_by_k"].values()) == r["silhouette"], r
assert sum(s["size"] for s in r["segments"]) == 120 == r["customers"]
assert all(len(s["top"]) == 3 and s["description"].count(",") >= 2 for s in r["segments"]), r["segments"]
PY
  teller segments --k 3 --seed 9 --store "$store" --json >"$WORK/k3a$n.json"
  teller segments --k 3 --seed 9 --store "$store" --json >"$WORK/k3b$n.json"
  check "store $n: the same seed fits the same segments" python3 -c "
import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:3])
assert a['k']==3 and a['chosen_by']=='fixed' and a['segments']==b['segments'] and a['model']!=b['model'], (a['model'],b['model'])" \
    "$WORK/k3a$n.json" "$WORK/k3b$n.json"
  teller segments --show --store "$store" --json >"$WORK/show$n.json"
  check "store $n: --show prints the champion, as fitted" python3 -c "
import json,sys; s=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
assert s['model']==b['model'] and s['status']=='champion' and [x['description'] for x in s['segments']]==[x['description'] for x in b['segments']], s" \
    "$WORK/show$n.json" "$WORK/k3b$n.json"
  teller profile C000007 --store "$store" --json >"$WORK/ps$n.json"
  check "store $n: the profile shows the customer's segment" python3 -c "
import json,sys; p=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
assert p['segment']['model']==b['model'] and p['segment']['description']==b['segments'][p['segment']['id']]['description'], p['segment']" \
    "$WORK/ps$n.json" "$WORK/k3b$n.json"
done
if [ "$n" -ge 2 ]; then
  for c in C000001 C000007 C000042; do
    check "$c: the same profile on SQLite and PostgreSQL" cmp -s "$WORK/p1-$c.json" "$WORK/p2-$c.json"
  done
  check "the same segments on SQLite and PostgreSQL" python3 -c "
import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:3]); assert a['segments']==b['segments']" \
    "$WORK/k3a1.json" "$WORK/k3a2.json"
else
  echo "skip: no PostgreSQL server in this run (the profiles were checked on SQLite only)"
fi

# incremental: two halves with a refresh between give the same profiles
half="sqlite:$WORK/half.db"
teller init --store "$half" >/dev/null
for t in products customers accounts holdings; do
  teller ingest --quiet --store "$half" "$t" "$WORK/bank/$t.csv" >/dev/null
done
teller ingest --quiet --store "$half" transactions "$WORK/tx1.csv" >/dev/null
teller profile --refresh-all --store "$half" --json >"$WORK/r1.json"
teller ingest --quiet --store "$half" transactions "$WORK/tx2.csv" >/dev/null
teller profile --refresh-all --store "$half" --json >"$WORK/r2.json"
check "the second refresh folds only the second half" python3 -c "
import json,sys; a,b,c=(json.load(open(f)) for f in sys.argv[1:4])
assert a['transactions']+b['transactions']==c['transactions'] and b['transactions']>0, (a,b,c)" \
  "$WORK/r1.json" "$WORK/r2.json" "$WORK/refresh1.json"
for c in C000001 C000007 C000042; do
  teller profile "$c" --store "$half" --json >"$WORK/h-$c.json"
  check "$c: the same profile from two halves as from the whole" python3 -c "
import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:3]); a.pop('segment'); b.pop('segment'); assert a==b" \
    "$WORK/h-$c.json" "$WORK/p1-$c.json"
done
sqlite3 "$WORK/half.db" "SELECT id, state FROM customer_profiles ORDER BY id" >"$WORK/states-half"
teller profile --refresh-all --rebuild --store "$half" >/dev/null
sqlite3 "$WORK/half.db" "SELECT id, state FROM customer_profiles ORDER BY id" >"$WORK/states-rebuilt"
check "a rebuild folds the history to the same states" cmp -s "$WORK/states-half" "$WORK/states-rebuilt"

# bad input
store="sqlite:$WORK/bad.db"
teller init --store "$store" >/dev/null
teller ingest --quiet --store "$store" "$WORK/bank" >/dev/null
rc=0; teller profile C999999 --store "$store" 2>"$WORK/err" >/dev/null || rc=$?
check "an unknown customer exits 1 naming it" sh -c "test $rc -eq 1 && grep -q 'C999999' '$WORK/err'"
rc=0; teller profile --store "$store" 2>/dev/null >/dev/null || rc=$?
check "profile without a customer is a usage error (2)" test $rc -eq 2
rc=0; teller segments --k 1 --store "$store" 2>"$WORK/err" >/dev/null || rc=$?
check "--k 1 is a usage error (2) naming it" sh -c "test $rc -eq 2 && grep -q -- '--k' '$WORK/err'"
rc=0; teller segments --show --store "$store" 2>"$WORK/err" >/dev/null || rc=$?
check "--show before any fit exits 1 saying how to fit" sh -c "test $rc -eq 1 && grep -q 'teller segments' '$WORK/err'"

# HTTP, once router.c has the routes
if teller serve --print-routes --json | grep -q '/v1/customers/{id}/profile'; then
  teller segments --store "$store" >/dev/null
  rc=0
  python3 - "$store" <<'PY' || rc=$?
import sys
from http_client import Server, Checks, key, audit_entries
store = sys.argv[1]
t = Checks("http: ")
keys = {r: key(store, r, customer="C000003" if r == "customer" else None)
        for r in ("customer", "analyst", "service", "admin")}
srv = Server(store, env={"TELLER_SERVER_RATE_LIMIT": "0"})
r = srv.request("GET", "/v1/customers/C000003/profile", token=keys["customer"])
t.check("a customer reads its own profile", r.status == 200 and r.json["customer_id"] == "C000003", r)
r = srv.request("GET", "/v1/customers/C000004/profile", token=keys["customer"])
t.check("... and not another's (404)", r.status == 404, r)
r = srv.request("GET", "/v1/customers/C000004/profile", token=keys["analyst"])
t.check("an analyst reads any profile, with its segment", r.status == 200 and r.json["segment"], r)
for role, want in (("service", 403), ("admin", 403)):
    r = srv.request("GET", "/v1/customers/C000004/profile", token=keys[role])
    t.check("profile as %s -> %d" % (role, want), r.status == want, r)
r = srv.request("GET", "/v1/segments", token=keys["analyst"])
t.check("an analyst reads the segments", r.status == 200 and r.json["segments"], r)
r = srv.request("GET", "/v1/segments", token=keys["customer"])
t.check("a customer does not (403)", r.status == 403, r)
srv.stop()
reads = [e for e in audit_entries(store) if e["action"] == "profile.read"]
t.check("profile reads are journaled", any(e.get("customer_id") == "C000003" for e in reads), reads[:2])
sys.exit(0 if t.finish() else 1)
PY
  check "http checks" test $rc -eq 0
else
  echo "skip: the server does not route /v1/customers/{id}/profile yet"
fi

finish
