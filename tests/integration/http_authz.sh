#!/usr/bin/env bash
# needs: postgres
# The authorization matrix, generated from the route table itself
# (`teller serve --print-routes --json`): every route x every principal (no
# token, a bad token, an expired JWT, then each role both as an API key and
# as a JWT from a test identity provider, the customer role on its own and
# on another customer's ids) against the status the table implies: 2xx where
# the role is allowed, 401 without valid credentials, 403 for a role the
# route does not allow, 404 for another customer's ids (worded exactly like
# an unknown id, so ids cannot be probed). A route added to the table is in
# the matrix at once; one whose request the test cannot build fails it.
#
# The credit routes need a champion: a scorecard trained on the small
# synthetic tests/fixtures/credit/applications.csv (a fraction of a second)
# before the server starts; POST /v1/transactions a fraud champion, trained
# on a tiny generated payment history (24 days, 51 cards); the alert routes
# alerts to read and resolve, loaded before the server starts. Runs on
# SQLite and, when the test run started one, on PostgreSQL.
source "$(dirname "$0")/lib.sh"
export PYTHONPATH="$TELLER_SRC/tests/integration${PYTHONPATH:+:$PYTHONPATH}"
CREDIT_FIX="$TELLER_SRC/tests/fixtures/credit/applications.csv"

# 24 days of card payments: 30 genuine cards three times a day, a fresh card
# with one fraud of 500 each day from the 10th, three known cards with one
# fraud each (the history of fraud_train.sh).
awk 'BEGIN {
  print "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud"
  id = 0
  for (d = -3; d <= 20; d++) {
    for (k = 0; k < 3; k++)
      for (c = 0; c < 30; c++) {
        fr = (k == 1 && ((c == 0 && d == 3) || (c == 1 && d == 7) || (c == 2 && d == 13))) ? 1 : 0
        cents = fr ? 60000 : 1000 + (id * 7919) % 9100
        printf "TX-%05d,2020-01-%02d %02d:%02d:%02d,card-%d,T%d,%d.%02d,%d\n", id, 10 + d, 8 + 4 * k, c, c, c, (c + k + d + 10) % 10, int(cents / 100), cents % 100, fr
        id++
      }
    if (d >= 0) printf "TX-%05d,2020-01-%02d 21:00:00,f%d,T%d,500.00,1\n", id++, 10 + d, d, d % 10
  }
}' >"$WORK/payments.csv"
# alerts for the alert routes: each resolve takes a fresh one (a second
# resolve of one alert is a 409)
{
  echo "id,customer_id,created_at,kind,status,score"
  for i in $(seq 1 40); do echo "AUTHZ-AL-$i,C1,2026-01-01T00:00:00Z,fraud,open,0.5"; done
} >"$WORK/alerts.csv"

for store in $(stores); do
  backend=${store%%:*}
  load_mini "$store"
  if ! teller credit train --store "$store" --data "$CREDIT_FIX" --label defaulted_12m \
    --positive 1 --algo scorecard >"$WORK/train.out" 2>"$WORK/train-$backend.log"; then
    bad "$backend: training on the credit fixture: $(tail -n 1 "$WORK/train-$backend.log")"
    continue
  fi
  champ=$(sed -n 's/^promoted \(credit-v[0-9]*\) to champion.*/\1/p' "$WORK/train.out")
  check "$backend: a champion is trained on the credit fixture (${champ:-none})" test -n "$champ"
  check "$backend: a fraud champion is trained on a payment history" \
    teller fraud train --store "$store" --data "$WORK/payments.csv" --threads 1 --quiet
  check "$backend: alerts are loaded" teller ingest --quiet --store "$store" alerts "$WORK/alerts.csv"
  check "$backend: a recommend champion is trained" \
    teller recommend train --store "$store" --set epochs=3
  rc=0
  python3 - "$store" "$WORK" "$FIX" "$backend" "$champ" <<'PY' || rc=$?
import itertools, json, os, sys, time
from http_client import Server, Checks, key, routes, audit_entries, rsa_key, jwt

store, work, fix, backend, champ = sys.argv[1:6]
t = Checks(backend + ": ")
table = routes()
roles = ["customer", "analyst", "service", "admin"]
t.check("the route table is not empty and names only known roles",
        len(table) > 5 and all(set(r["roles"]) <= set(roles) for r in table), table)

keys = {r: key(store, r, customer="C1" if r == "customer" else None) for r in roles}
priv, pub = rsa_key(work, "idp1")
now = int(time.time())


def idp_token(role, exp=now + 600):
    claims = {"iss": "https://idp.test", "aud": "teller", "sub": "idp-user-" + role, "exp": exp,
              "role": role}
    if role == "customer":
        claims["customer_id"] = "C1"
    return jwt(priv, "idp1", claims)


jwts = {r: idp_token(r) for r in roles}
expired = idp_token("analyst", exp=now - 3600)
# the ids a customer principal (C1) owns, and another customer's (C2)
OWN = {"customer": "C1", "account": "A1"}
OTHER = {"customer": "C2", "account": "A3"}
products_csv = open(os.path.join(fix, "products.csv"), encoding="utf-8").read()


def fresh_key_id():
    return key(store, "service", name="to-revoke")[3:15]


# A credit application as the fixture's model reads it (its input columns),
# and a new application of a customer and product of the mini fixture with
# an id never used before (a second POST of one id is a 409).
CREDIT_APP = json.dumps({"amount": 4000, "term_months": 24, "purpose": "card",
                         "annual_income": 52000, "existing_debt": 3000, "employment_years": 4,
                         "delinquencies_2y": 0, "occupation": "engineer",
                         "customer_income": 52000})
app_ids = itertools.count(1)
pay_ids = itertools.count(1)
alert_ids = itertools.count(1)


def fresh_payment():
    # a card payment on the customer's own card, now (the engine refuses
    # times far from the clock)
    return json.dumps({"id": "AUTHZ-PAY-%d" % next(pay_ids), "card_id": "A1",
                       "terminal_id": "T1", "amount": "-12.50", "currency": "EUR",
                       "ts": int(time.time() * 1000)})


def fresh_alert():
    return {"id": "AUTHZ-AL-%d" % next(alert_ids)}


def fresh_application():
    return json.dumps({"id": "AUTHZ-%d" % next(app_ids), "customer_id": "C1",
                       "product_id": "P-CC", "currency": "EUR", "amount": "4000.00",
                       "term_months": 24, "purpose": "card", "annual_income": "52000.00",
                       "existing_debt": "3000.00", "employment_years": 4,
                       "delinquencies_2y": 0})


# What to send for routes whose parameters or bodies are not customer ids:
# path -> (function giving the path parameters, body or a function giving
# it, content type). A new route of that kind needs a line here, or the
# matrix fails on it.
JSON = "application/json"
SAMPLES = {
    ("GET", "/v1/products/{id}"): (lambda: {"id": "P-CUR"}, None, None),
    ("POST", "/v1/ingest/{table}"): (lambda: {"table": "products"}, products_csv, "text/csv"),
    ("POST", "/v1/credit/score"): (lambda: {}, CREDIT_APP, JSON),
    ("POST", "/v1/applications"): (lambda: {}, fresh_application, JSON),
    ("POST", "/v1/keys"): (lambda: {}, '{"role":"analyst","name":"matrix"}', JSON),
    ("DELETE", "/v1/keys/{id}"): (lambda: {"id": fresh_key_id()}, None, None),
    ("POST", "/v1/transactions"): (lambda: {}, fresh_payment, JSON),
    ("GET", "/v1/alerts/{id}"): (lambda: {"id": "AUTHZ-AL-40"}, None, None),
    ("POST", "/v1/alerts/{id}/resolve"): (fresh_alert, '{"outcome":"genuine"}', JSON),
    ("POST", "/v1/chat/completions"):
        (lambda: {}, '{"messages":[{"role":"user","content":"hi"}],"max_tokens":2,"temperature":0}', JSON),
    ("POST", "/v1/completions"): (lambda: {}, '{"prompt":"hi","max_tokens":2,"temperature":0}', JSON),
    ("POST", "/v1/interactions"):
        (lambda: {}, '{"customer_id":"C1","product_id":"P-CUR","event":"shown","channel":"web"}', JSON),
}
# The LLM routes serve stories260K when the shared models are here; without
# them the server has no LLM and an allowed caller gets 503 (not 401/403).
_model = os.path.join(os.environ.get("TELLER_SHARED") or os.path.join(os.environ["TELLER_SRC"], "..", "shared"),
                      "models", "stories260K", "stories260K.gguf")
LLM_ENV = {"TELLER_LLM_BACKEND": "embedded", "TELLER_LLM_MODEL": _model} if os.path.exists(_model) else {}
# Routes whose success is one status, not any 2xx
SUCCESS = {("POST", "/v1/credit/score"): 200, ("POST", "/v1/applications"): 201,
           ("POST", "/v1/transactions"): 201, ("POST", "/v1/interactions"): 201}
if not LLM_ENV:
    SUCCESS.update({("GET", "/v1/models"): 503, ("POST", "/v1/chat/completions"): 503,
                    ("POST", "/v1/completions"): 503})


# Bodies of customer-scoped routes that take one: (method, path) -> body.
ANSWERS = {"horizon": "10to15", "income_stability": "stable", "emergency_savings": "3to6m",
           "share_of_wealth": "25to50", "loss": "10pct", "reaction": "hold",
           "objective": "balanced"}
SCOPED_BODIES = {
    ("POST", "/v1/customers/{id}/risk-profile"): json.dumps({"answers": ANSWERS}),
    ("POST", "/v1/customers/{id}/advice"): json.dumps({"answers": ANSWERS, "amount": "10000.00"}),
}


def build(route, ids):
    path, body, ctype = route["path"], None, None
    if route["scope"] != "none":
        params = {"id": ids[route["scope"]]}
        if route["schema"]:
            body = SCOPED_BODIES.get((route["method"], path))
            if body is None:
                return None
            ctype = JSON
    elif "{" in path or route["schema"]:
        sample = SAMPLES.get((route["method"], path))
        if not sample:
            return None
        params, body, ctype = sample[0](), sample[1], sample[2]
        body = body() if callable(body) else body
    else:
        params = {}
    for name, value in params.items():
        path = path.replace("{%s}" % name, value)
    return path, body, ctype


srv = Server(store, log=os.path.join(work, "server-%s.log" % backend),
             env={"TELLER_SERVER_RATE_LIMIT": "0", "TELLER_AUTH_JWT_KEYS": pub,
                  "TELLER_AUTH_JWT_ISSUER": "https://idp.test", "TELLER_AUTH_JWT_AUDIENCE": "teller",
                  **LLM_ENV})
cases = 0
for rt in table:
    name = "%s %s" % (rt["method"], rt["path"])
    if build(rt, OWN) is None:
        t.check("%s: the matrix knows how to call it (add it to SAMPLES)" % name, False)
        continue
    principals = [("no token", None, None), ("bad token", "tk_badbadbadbad_" + "x" * 43, None),
                  ("expired jwt", expired, None)]
    for kind, tokens in (("key", keys), ("jwt", jwts)):
        for role in roles:
            if role == "customer" and rt["customer_scoped"]:
                principals.append((kind + " customer/own", tokens[role], "customer"))
                principals.append((kind + " customer/other", tokens[role], "customer"))
            else:
                principals.append((kind + " " + role, tokens[role], role))
    for label, token, role in principals:
        other = label.endswith("customer/other")
        ids = OTHER if other else OWN
        path, body, ctype = build(rt, ids)
        if rt["public"]:
            want = "2xx"
        elif token is None or role is None:
            want = 401
        elif role not in rt["roles"]:
            want = 403
        elif other:
            want = 404
        else:
            want = SUCCESS.get((rt["method"], rt["path"]), "2xx")
        r = srv.request(rt["method"], path, token=token, body=body,
                        headers={"Content-Type": ctype} if ctype else None)
        cases += 1
        ok = (200 <= r.status < 300) if want == "2xx" else r.status == want
        if ok and want == 404:
            what = rt["scope"]
            ok = r.error().get("message") == 'no %s with id "%s"' % (what, ids[what])
        if ok and want == 401:
            ok = (r.header("www-authenticate") or "").startswith("Bearer")
        t.check("%-38s %-19s -> %s" % (name, label, want), ok, r)

t.check("every route x principal was exercised (%d cases)" % cases, cases >= len(table) * 11)
# an analyst may read every customer: the other customer's ids answer 2xx
scoped = [rt for rt in table if rt["customer_scoped"] and "analyst" in rt["roles"]]
for rt in scoped:
    path, body, ctype = build(rt, OTHER)
    r = srv.request(rt["method"], path, token=keys["analyst"], body=body,
                    headers={"Content-Type": ctype} if ctype else None)
    t.check("analyst reads another customer's data: %s" % path, 200 <= r.status < 300, r)
entries = audit_entries(store, limit=100000)
audited = {e["resource"] for e in entries}
t.check("JWT principals are audited by their subject",
        any(e["actor"] == "idp-user-analyst" and e["role"] == "analyst" for e in entries))
for rt in table:
    if rt["audit"]:
        t.check("%s %s reads are audited" % (rt["method"], rt["path"]),
                "%s %s" % (rt["method"], rt["path"]) in audited)
# the credit routes journal every decision they give, with the champion's
# version: one row per allowed call above (a score as service or admin, an
# application as service; each with an API key and with a JWT)
for action, route, n in (("credit.decision", "POST /v1/credit/score", 4),
                         ("credit.application", "POST /v1/applications", 2)):
    rows = [e for e in entries if e["action"] == action and e["resource"] == route]
    t.check("%s decisions are journaled (%s, model %s)" % (route, action, champ),
            len(rows) == n and all(e.get("model_version") == champ for e in rows),
            [(e["actor"], e.get("model_version")) for e in rows])
t.check("the server stops cleanly", srv.stop() == 0)
t.finish()
PY
  check "$backend: the matrix passes" test $rc -eq 0
done
finish
