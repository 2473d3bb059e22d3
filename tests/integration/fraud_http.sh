#!/usr/bin/env bash
# needs: postgres
# Fraud decisions over HTTP through the real `teller serve`: a small
# generated bank, a fraud champion trained on it (`teller fraud train`),
# then POST /v1/transactions (a normal payment stored and allowed; a huge one
# at a new terminal flagged with an alert; a second on the same card joining
# it; the same payment again answered alike with no second alert; the id
# with another amount 409; bad members 400 naming them; an unknown card
# decided but not stored), the alert queue (ordered by score, cut by limit),
# resolution (the payments labelled in the store, a second resolution 409),
# roles, the audit rows of every decision and resolution, the state file
# written at shutdown and read at the next start. Before training the route
# answers 503; a rule file that does not parse stops the start with the
# rule's position. SQLite, and PostgreSQL when the test run started it.
source "$(dirname "$0")/lib.sh"
export PYTHONPATH="$TELLER_SRC/tests/integration${PYTHONPATH:+:$PYTHONPATH}"

teller generate --customers 200 --seed 9 --out "$WORK/bank" >/dev/null 2>"$WORK/generate.log"
check "a small bank is generated" test -s "$WORK/bank/transactions.csv"

# a rule that does not parse: `amount >` ends too soon
cat >"$WORK/bad-rules.json" <<'EOF'
{"rules": [
  {"name": "ok_rule", "action": "review", "when": "amount > 5000", "reason": "large"},
  {"name": "broken_rule", "action": "block", "when": "amount >", "reason": "broken"}
]}
EOF

for store in $(stores); do
  tag=${store%%:*}
  teller init --store "$store" >/dev/null 2>>"$WORK/init-$tag.log"
  teller ingest --quiet --store "$store" "$WORK/bank" >/dev/null 2>>"$WORK/ingest-$tag.log"
  rc=0
  python3 - "$store" "$WORK" "$tag" "before" <<'PY' || rc=$?
import os, sys
from http_client import Server, Checks, key
store, work, tag = sys.argv[1:4]
t = Checks(tag + ": ")
srv = Server(store, log=os.path.join(work, "server-%s-untrained.log" % tag),
             env={"TELLER_SERVER_RATE_LIMIT": "0"})
r = srv.request("POST", "/v1/transactions", token=key(store, "service"),
                body={"id": "N1", "card_id": "A0000001", "ts": "2026-10-31T10:00:00Z",
                      "amount": "10.00", "currency": "EUR"})
t.check("without a fraud champion: 503 saying to run teller fraud train",
        r.status == 503 and "teller fraud train" in r.error().get("message", ""), r)
t.check("the server stops cleanly", srv.stop() == 0)
t.finish()
PY
  check "$tag: the route before training" test $rc -eq 0

  if ! teller fraud train --store "$store" --train-days 45 --threads 2 >"$WORK/train-$tag.out" \
    2>"$WORK/train-$tag.log"; then
    bad "$tag: teller fraud train: $(tail -n 1 "$WORK/train-$tag.log")"
    continue
  fi
  champ=$(sed -n 's/.*model *\(fraud-v[0-9]*\) registered and promoted.*/\1/p' "$WORK/train-$tag.out")
  check "$tag: a fraud champion is trained (${champ:-none})" test -n "$champ"

  # a broken rule file stops the start, naming the rule and its position
  out=$(TELLER_FRAUD_RULES_FILE="$WORK/bad-rules.json" teller serve --store "$store" \
    --listen 127.0.0.1:0 2>&1 </dev/null) && started=1 || started=0
  echo "$out" >"$WORK/bad-rules-$tag.log"
  check "$tag: a rule that does not parse stops teller serve" test $started -eq 0
  check "$tag: ... naming the rule and its line:column" \
    grep -Eq 'broken_rule.*[0-9]+:[0-9]+|[0-9]+:[0-9]+.*broken_rule' <<<"$out"

  rc=0
  python3 - "$store" "$WORK" "$tag" "$champ" <<'PY' || rc=$?
import csv, collections, datetime, os, subprocess, sys
from http_client import Server, Checks, key, audit_entries

store, work, tag, champ = sys.argv[1:5]
t = Checks(tag + ": ")
T = os.environ.get("TELLER_BIN", "teller")

# the card with the most card payments, its usual terminal, the newest payment
rows = [r for r in csv.DictReader(open(os.path.join(work, "bank", "transactions.csv")))
        if r["kind"] == "card"]
by_card = collections.Counter(r["account_id"] for r in rows)
card = by_card.most_common(1)[0][0]
other_card = by_card.most_common(2)[1][0]
terminal = collections.Counter(r["terminal_id"] for r in rows if r["account_id"] == card).most_common(1)[0][0]
newest = max(datetime.datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) for r in rows)
def at(minutes):
    return (newest + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

state = os.path.join(work, "fraud-%s.state" % tag)
env = {"TELLER_SERVER_RATE_LIMIT": "0", "TELLER_FRAUD_STATE_FILE": state,
       "TELLER_FRAUD_ANALYST_CAPACITY": "2"}
log = os.path.join(work, "server-%s.log" % tag)
srv = Server(store, log=log, env=env)
service, analyst = key(store, "service"), key(store, "analyst")
customer = key(store, "customer", customer="C000001")

def post(body, token=service):
    return srv.request("POST", "/v1/transactions", token=token, body=body,
                       headers={"Content-Type": "application/json"})

normal = {"id": "LIVE-1", "card_id": card, "ts": at(30), "amount": "24.90", "currency": "EUR",
          "terminal_id": terminal, "country": "DE", "channel": "pos"}
r = post(normal)
t.check("a normal payment: 201, stored, allowed, no alert",
        r.status == 201 and r.json["stored"] is True and r.json["decision"] == "allow"
        and r.json["alert"] is None and r.json["model"] == champ, r)
t.check("the decision has a score, reasons and the inputs digest",
        r.status == 201 and 0 <= r.json["score"] <= 1 and isinstance(r.json["reasons"], list)
        and len(r.json.get("inputs_digest", "")) == 64, r)

huge = {"id": "LIVE-2", "card_id": card, "ts": at(35), "amount": "9800.00", "currency": "EUR",
        "terminal_id": "TM-NEVER-SEEN-1", "country": "BR", "channel": "online"}
r = post(huge)
first = r.json if r.status == 201 else {}
t.check("a huge payment at a new terminal: review or block, alert FA-LIVE-2 opened",
        r.status == 201 and r.json["decision"] in ("review", "block")
        and (r.json["alert"] or {}).get("id") == "FA-LIVE-2"
        and r.json["alert"]["n_transactions"] == 1, r)
second = {"id": "LIVE-3", "card_id": card, "ts": at(37), "amount": "7500.00", "currency": "EUR",
          "terminal_id": "TM-NEVER-SEEN-2", "country": "BR", "channel": "online"}
r = post(second)
t.check("a second suspicious payment on the card joins its alert (n_transactions 2)",
        r.status == 201 and r.json["decision"] in ("review", "block")
        and (r.json["alert"] or {}).get("id") == "FA-LIVE-2" and r.json["alert"]["n_transactions"] == 2, r)
# another card's flagged payment: its own alert, for the queue
r = post({"id": "LIVE-4", "card_id": other_card, "ts": at(38), "amount": "3000.00",
          "currency": "EUR", "terminal_id": "TM-NEVER-SEEN-3", "country": "NG", "channel": "online"})
t.check("another card's flagged payment opens its own alert",
        r.status == 201 and (r.json["decision"] == "allow" or r.json["alert"]["id"] == "FA-LIVE-4"), r)

r = post(huge)
t.check("the same payment again: 200, the stored decision, duplicate, same alert",
        r.status == 200 and r.json["duplicate"] is True and r.json["decision"] == first.get("decision")
        and abs(r.json["score"] - first.get("score", -1)) < 1e-9
        and r.json["alert"]["id"] == "FA-LIVE-2" and r.json["alert"]["n_transactions"] == 2, r)
r = post(dict(huge, amount="9800.01"))
t.check("the same id with another amount: 409 naming the id",
        r.status == 409 and "LIVE-2" in r.error().get("message", ""), r)

for what, body, field in (
        ("malformed JSON", "{not json", None),
        ("a zero amount", dict(normal, id="BAD-1", amount="0"), "amount"),
        ("an unknown currency", dict(normal, id="BAD-2", currency="EUX"), "currency"),
        ("a ts far in the future", dict(normal, id="BAD-3", ts="2099-01-01T00:00:00Z"), "ts"),
        ("a ts too old to place", dict(normal, id="BAD-4", ts=at(-3 * 24 * 60)), "ts"),
        ("a missing card", {k: v for k, v in normal.items() if k != "card_id"}, "card_id")):
    r = post(body)
    t.check("%s: 400 naming %s" % (what, field or "the body"),
            r.status == 400 and (field is None or r.error().get("field") == field
                                 or field in r.error().get("message", "")), r)

r = post({"id": "LIVE-X", "card_id": "NO-SUCH-CARD", "ts": at(40), "amount": "50.00",
          "currency": "EUR", "terminal_id": terminal})
t.check("an unknown card: 200, decided, not stored, a reason says the card is unknown",
        r.status == 200 and r.json["stored"] is False and r.json["decision"] in ("allow", "review", "block")
        and any(x.get("kind") == "unknown_card" for x in r.json["reasons"]), r)

r = post(normal, token=customer)
t.check("a customer key may not decide payments (403)", r.status == 403, r)
r = srv.request("GET", "/v1/alerts", token=customer)
t.check("a customer key may not read the queue (403)", r.status == 403, r)
r = srv.request("GET", "/v1/alerts/FA-LIVE-2", token=service)
t.check("a service key may not read an alert (403)", r.status == 403, r)

r = srv.request("GET", "/v1/alerts?limit=10", token=analyst)
scores = [a["score"] for a in r.json["items"]] if r.status == 200 else []
t.check("the queue: open alerts, highest score first",
        r.status == 200 and len(scores) >= 1 and scores == sorted(scores, reverse=True)
        and "FA-LIVE-2" in [a["id"] for a in r.json["items"]], r)
t.check("... ids only, no personal data",
        r.status == 200 and all(set(a) <= {"id", "account_id", "customer_id", "transaction_id", "score",
                                           "status", "created_at", "updated_at", "n_transactions",
                                           "reasons", "outcome", "resolved_at", "resolved_by"}
                                for a in r.json["items"]), r)
r = srv.request("GET", "/v1/alerts", token=analyst)
t.check("the default size is fraud.analyst_capacity (2)", r.status == 200 and len(r.json["items"]) <= 2
        and r.json["limit"] == 2, r)
r = srv.request("GET", "/v1/alerts?limit=1", token=analyst)
t.check("limit=1 gives the top alert", r.status == 200 and len(r.json["items"]) == 1
        and r.json["items"][0]["score"] == max(scores or [0]), r)
r = srv.request("GET", "/v1/alerts?limit=0", token=analyst)
t.check("limit=0 is a 400 naming limit", r.status == 400 and r.error().get("field") == "limit", r)
r = srv.request("GET", "/v1/alerts?status=nonsense", token=analyst)
t.check("an unknown status is a 400", r.status == 400 and r.error().get("field") == "status", r)
r = srv.request("GET", "/v1/alerts/FA-LIVE-2", token=analyst)
t.check("one alert with its two payments, oldest first",
        r.status == 200 and [x["id"] for x in r.json["transactions"]] == ["LIVE-2", "LIVE-3"], r)

res = "/v1/alerts/FA-LIVE-2/resolve"
r = srv.request("POST", res, token=analyst, body={"outcome": "perhaps"})
t.check("a bad outcome is a 400", r.status == 400 and r.error().get("field") == "outcome", r)
r = srv.request("POST", "/v1/alerts/FA-NOPE/resolve", token=analyst, body={"outcome": "fraud"})
t.check("an unknown alert is a 404", r.status == 404, r)
r = srv.request("POST", res, token=customer, body={"outcome": "fraud"})
t.check("a customer key may not resolve (403)", r.status == 403, r)
r = srv.request("POST", res, token=analyst, body={"outcome": "fraud", "note": "card holder confirmed"})
t.check("resolved as fraud: confirmed_fraud, by the analyst",
        r.status == 200 and r.json["status"] == "confirmed_fraud" and r.json["outcome"] == "fraud"
        and r.json["resolved_by"] == analyst[3:15] and r.json["labelled_live"] == 2, r)
r = srv.request("POST", res, token=analyst, body={"outcome": "genuine"})
t.check("a second resolution: 409 already resolved",
        r.status == 409 and "already resolved as fraud" in r.error().get("message", ""), r)
r = srv.request("GET", "/v1/accounts/%s/transactions?limit=20" % card, token=analyst)
lab = {x["id"]: x["is_fraud"] for x in r.json["items"]} if r.status == 200 else {}
t.check("the alert's payments are labelled fraud in the store, the normal one is not",
        lab.get("LIVE-2") is True and lab.get("LIVE-3") is True and lab.get("LIVE-1") is None, lab)
r = srv.request("GET", "/v1/alerts", token=analyst)
t.check("a resolved alert leaves the open queue",
        r.status == 200 and "FA-LIVE-2" not in [a["id"] for a in r.json["items"]], r)

t.check("the server stops cleanly", srv.stop() == 0)
t.check("the engine's state was written at shutdown", os.path.getsize(state) > 0)

entries = audit_entries(store, limit=100000)
dec = [e for e in entries if e["action"] == "fraud.decide"]
t.check("every decision is journaled with the model and the inputs digest",
        len(dec) == 5 and all(e.get("model_version") == champ and len(e.get("inputs_digest") or "") == 64
                              for e in dec), [(e["action"], e.get("model_version")) for e in dec])
t.check("the duplicate is journaled as one",
        len([e for e in entries if e["action"] == "fraud.duplicate"]) == 1)
resolved = [e for e in entries if e["action"] == "alert.resolve"]
t.check("the resolution is journaled with the analyst as actor",
        len(resolved) == 1 and resolved[0]["actor"] == analyst[3:15], resolved)
t.check("the queue reads are journaled", any(e["action"] == "alerts.read" for e in entries))
v = subprocess.run([T, "audit", "verify", "--store", store], capture_output=True, text=True)
t.check("teller audit verify: the chain holds", v.returncode == 0, v.stdout + v.stderr)

# the next start reads the state file, and a payment sent again is still a duplicate
srv = Server(store, log=log, env=env)
r = srv.request("POST", "/v1/transactions", token=service, body=huge)
t.check("after a restart the same payment is still a duplicate, no new alert",
        r.status == 200 and r.json["duplicate"] is True and r.json["alert"]["id"] == "FA-LIVE-2", r)
r = srv.request("POST", "/v1/transactions", token=service,
                body=dict(normal, id="LIVE-5", ts=at(45), amount="19.90"))
t.check("and new payments are decided", r.status == 201 and r.json["stored"] is True, r)
t.check("the server stops cleanly again", srv.stop() == 0)
text = open(log, encoding="utf-8", errors="replace").read()
t.check("the restart warmed up from the state file", "from its state file" in text)
t.finish()
PY
  check "$tag: fraud over HTTP" test $rc -eq 0
done
finish
