#!/usr/bin/env bash
# Recommendations through the real program on a generated bank: teller
# recommend train (ease + the neural ranker, registered and promoted),
# teller recommend CUSTOMER (at most k items, each with a reason, stored
# and journaled), teller recommend eval on the store (temporal split, the
# served lists break no rule), bad input, and the HTTP routes once the
# server registers them (a dismissal over POST /v1/interactions removes the
# product from the next GET).
source "$(dirname "$0")/lib.sh"
export PYTHONPATH="$TELLER_SRC/tests/integration${PYTHONPATH:+:$PYTHONPATH}"

teller generate --customers 300 --seed 5 --months 3 --out "$WORK/bank" >/dev/null
store="sqlite:$WORK/bank.db"
teller init --store "$store" >/dev/null
teller ingest --quiet --store "$store" "$WORK/bank" >/dev/null

rc=0; teller recommend C000001 --store "$store" 2>"$WORK/err" >/dev/null || rc=$?
check "before any training: exit 1 saying how to train" \
  sh -c "test $rc -eq 1 && grep -q 'teller recommend train' '$WORK/err'"

rc=0; teller recommend train --store "$store" --set epochs=10 --json >"$WORK/train.json" || rc=$?
check "recommend train exits 0" test $rc -eq 0
check "one model, ease+ranker, promoted, with a validation NDCG" python3 - "$WORK/train.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
assert t["customers"] > 200 and t["positives"] > t["customers"], t
m = t["models"][0]
assert m["algo"] == "ease+ranker" and m["promoted"] is True, m
assert 0 < m["valid"]["ndcg"] <= 1 and 0 <= m["blend"] <= 1, m
PY
teller models list --task recommend --store "$store" --json >"$WORK/models.json"
check "the registry has the champion of task recommend" \
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); ms=d if isinstance(d,list) else d.get('models',d); assert any(x['task']=='recommend' and x['status']=='champion' for x in ms), ms" "$WORK/models.json"

ok_all=0
for c in C000002 C000010 C000033 C000100 C000250; do
  teller recommend "$c" --k 4 --store "$store" --json >"$WORK/r-$c.json" || ok_all=1
done
check "recommend CUSTOMER exits 0 for several customers" test $ok_all -eq 0
check "... at most k items, ranked, each with a reason, no investment without a risk profile" \
  python3 - "$WORK"/r-*.json <<'PY'
import json, sys
for f in sys.argv[1:]:
    l = json.load(open(f))
    assert len(l["items"]) <= 4 and l["model"].startswith("recommend-v"), l
    assert [i["rank"] for i in l["items"]] == list(range(1, len(l["items"]) + 1)), l
    for i in l["items"]:
        assert i["reason"]["kind"] in ("transactions", "life_signal", "similar_customers",
                                       "profile_fit", "top_up") and len(i["reason"]["text"]) > 10, i
        assert i["category"] not in ("fund", "etf"), i   # none of them has a risk profile
PY
teller recommend C000002 --store "$store" >"$WORK/r.txt"
check "the text output lists the items and what the rules excluded" \
  sh -c "grep -q '^ 1\. ' '$WORK/r.txt' && grep -q 'excluded by the rules' '$WORK/r.txt'"
teller audit log --store "$store" --json >"$WORK/audit.json"
check "lists are journaled with the model version" python3 - "$WORK/audit.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = d["entries"]
serve = [e for e in rows if e.get("action") == "recommendation.serve"]
assert len(serve) >= 6 and all(e["model_version"].startswith("recommend-v") for e in serve), serve[:2]
assert all(len(e["inputs_digest"]) == 64 for e in serve)
PY

rc=0; teller recommend eval --store "$store" --k 5 --json >"$WORK/eval.json" || rc=$?
check "recommend eval on the store exits 0" test $rc -eq 0
check "... temporal split, every row with metrics, served lists break no rule" python3 - "$WORK/eval.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
assert e["split"] == "temporal" and e["n_test"] > 0, e
rows = {m["model"]: m for m in e["models"]}
assert {"pop", "ease", "ranker", "served"} <= set(rows), rows.keys()
assert rows["served"]["rule_violations"] == 0, rows["served"]
assert rows["pop"]["rule_violations"] > 0, "the raw popularity lists break rules: the check works"
for m in rows.values():
    assert 0 <= m["recall"] <= 1 and 0 <= m["ndcg"] <= 1 and m["n_users"] > 0, m
assert rows["served"]["ndcg"] > 0.05, rows["served"]
PY

rc=0; teller recommend C000002 --k 0 --store "$store" 2>/dev/null >/dev/null || rc=$?
check "--k 0 is a usage error (2)" test $rc -eq 2
rc=0; teller recommend C999999 --store "$store" 2>"$WORK/err" >/dev/null || rc=$?
check "an unknown customer exits 1 naming it" sh -c "test $rc -eq 1 && grep -q C999999 '$WORK/err'"
rc=0; teller recommend --store "$store" 2>/dev/null >/dev/null || rc=$?
check "recommend without a customer is a usage error (2)" test $rc -eq 2
rc=0; teller recommend eval --user-col 1 --store "$store" 2>/dev/null >/dev/null || rc=$?
check "column options without --interactions are a usage error (2)" test $rc -eq 2

# HTTP, once router.c has the routes
if teller serve --print-routes --json | grep -q '/v1/customers/{id}/recommendations'; then
  rc=0
  python3 - "$store" <<'PY' || rc=$?
import sys
from http_client import Server, Checks, key, audit_entries
store = sys.argv[1]
t = Checks("http: ")
keys = {r: key(store, r, customer="C000003" if r == "customer" else None)
        for r in ("customer", "analyst", "service", "admin")}
srv = Server(store, env={"TELLER_SERVER_RATE_LIMIT": "0"})
r = srv.request("GET", "/v1/customers/C000003/recommendations?k=3", token=keys["customer"])
t.check("a customer reads its own list", r.status == 200 and len(r.json["items"]) <= 3, r)
first = r.json["items"][0]["product"] if r.status == 200 and r.json["items"] else None
r2 = srv.request("GET", "/v1/customers/C000004/recommendations", token=keys["customer"])
t.check("... and not another's (404)", r2.status == 404, r2)
r2 = srv.request("GET", "/v1/customers/C000004/recommendations", token=keys["analyst"])
t.check("an analyst reads any list", r2.status == 200, r2)
for role in ("service", "admin"):
    r2 = srv.request("GET", "/v1/customers/C000004/recommendations", token=keys[role])
    t.check("list as %s -> 403" % role, r2.status == 403, r2)
r2 = srv.request("GET", "/v1/customers/C000003/recommendations?k=99", token=keys["customer"])
t.check("k out of range -> 400 naming k", r2.status == 400 and r2.error()["field"] == "k", r2)
body = {"customer_id": "C000003", "product_id": first, "event": "dismissed", "channel": "mobile"}
r2 = srv.request("POST", "/v1/interactions", token=keys["customer"], body=body)
t.check("the customer dismisses the first item (201)", r2.status == 201 and r2.json["event"] == "dismissed", r2)
r2 = srv.request("GET", "/v1/customers/C000003/recommendations?k=3", token=keys["customer"])
t.check("... which is gone from the next list at once",
        r2.status == 200 and first not in [i["product"] for i in r2.json["items"]], r2)
r2 = srv.request("POST", "/v1/interactions", token=keys["customer"],
                 body=dict(body, customer_id="C000004"))
t.check("a customer records only its own (404)", r2.status == 404, r2)
r2 = srv.request("POST", "/v1/interactions", token=keys["service"],
                 body={"customer_id": "C000004", "product_id": first, "event": "shown"})
t.check("the service records a shown item, stored as viewed", r2.status == 201 and r2.json["event"] == "viewed", r2)
r2 = srv.request("POST", "/v1/interactions", token=keys["service"],
                 body={"customer_id": "C000004", "product_id": first, "event": "liked"})
t.check("a bad event -> 400 naming it", r2.status == 400 and r2.error()["field"] == "event", r2)
r2 = srv.request("POST", "/v1/interactions", token=keys["analyst"], body=body)
t.check("an analyst does not record (403)", r2.status == 403, r2)
srv.stop()
acts = [e["action"] for e in audit_entries(store)]
t.check("lists and interactions are journaled",
        "recommendation.serve" in acts and "interaction.record" in acts, acts[:5])
sys.exit(0 if t.finish() else 1)
PY
  check "http checks" test $rc -eq 0
else
  echo "skip: the server does not route /v1/customers/{id}/recommendations yet"
fi

finish
