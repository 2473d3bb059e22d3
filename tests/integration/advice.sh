#!/usr/bin/env bash
# Robo-advice through the real program on a generated bank: teller
# risk-profile (the built-in questionnaire, capacity capping tolerance,
# contradictions, bad answers named, a bank's own questionnaire file) and
# teller advise for several customers (every product a fund or ETF at or
# below the profile's risk level that the customer is eligible for, weights
# summing to 1, amounts to the amount less the leftover, the goal plan, the
# advice stored and journaled), nothing suitable, an unknown customer.
source "$(dirname "$0")/lib.sh"

teller generate --customers 200 --seed 3 --months 1 --out "$WORK/bank" >/dev/null
bank="sqlite:$WORK/bank.db"
teller init --store "$bank" >/dev/null
teller ingest --quiet --store "$bank" "$WORK/bank" >/dev/null

cat >"$WORK/growth.json" <<'EOF'
{"horizon":"10to15","income_stability":"stable","emergency_savings":"3to6m","share_of_wealth":"10to25",
 "loss":"20pct","reaction":"hold","objective":"growth"}
EOF
cat >"$WORK/capped.json" <<'EOF'
{"answers":{"horizon":"lt3","income_stability":"unstable","emergency_savings":"none","share_of_wealth":"gt75",
 "loss":"30pct_plus","reaction":"buy_more","objective":"max_growth","experience":"advanced"}}
EOF
cat >"$WORK/cautious.json" <<'EOF'
{"horizon":"3to5","income_stability":"variable","emergency_savings":"lt3m","share_of_wealth":"50to75",
 "loss":"none","reaction":"sell_all","objective":"preserve"}
EOF
cat >"$WORK/bad.json" <<'EOF'
{"horizon":"tomorrow","colour":"blue","income_stability":"stable","emergency_savings":"gt6m",
 "share_of_wealth":"lt10","reaction":"hold","objective":"growth"}
EOF

# ---- the risk profile
rc=0; teller risk-profile --answers "$WORK/capped.json" --json >"$WORK/p.json" || rc=$?
check "risk-profile exits 0" test $rc -eq 0
check "capacity caps tolerance; contradictions flagged with sentences" python3 - "$WORK/p.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert (p["tolerance"], p["capacity"], p["profile"]) == (5, 1, 1), p
assert p["capped_by_capacity"] is True and "caps" in p["explanation"], p
ids = {c["id"] for c in p["contradictions"]}
assert {"short_horizon_high_loss", "no_savings_high_tolerance"} <= ids, ids
assert all(len(c["text"]) > 20 for c in p["contradictions"])
assert all(d["kind"] == "capacity" for d in p["drivers"]), p["drivers"]
PY
teller risk-profile --answers "$WORK/growth.json" >"$WORK/p.out"
check "the text output names the profile" grep -q "risk profile 4 (moderately adventurous)" "$WORK/p.out"
rc=0; teller risk-profile --answers "$WORK/bad.json" 2>"$WORK/err" >/dev/null || rc=$?
check "bad answers exit 1" test $rc -eq 1
check "... naming the unknown question, the unknown answer and the missing one" \
  sh -c "grep -q 'unknown questions \"colour\"' '$WORK/err' && grep -q 'horizon: \"tomorrow\"' '$WORK/err' && grep -q 'missing required answers: loss' '$WORK/err'"
rc=0; teller risk-profile 2>/dev/null >/dev/null || rc=$?
check "risk-profile without --answers is a usage error (2)" test $rc -eq 2

# a bank's own questionnaire, from the configuration
teller risk-profile --questionnaire >"$WORK/q.json"
check "--questionnaire prints the built-in one" python3 -c "
import json,sys; q=json.load(open(sys.argv[1])); assert q['id']=='teller-default' and len(q['questions'])==8, q" "$WORK/q.json"
cat >"$WORK/own.json" <<'EOF'
{"id":"mybank","version":3,"questions":[
 {"id":"years","kind":"capacity","text":"Years to invest?","answers":[{"id":"few","text":"few","score":0},{"id":"many","text":"many","score":2}]},
 {"id":"nerve","kind":"tolerance","text":"Nerve?","answers":[{"id":"low","text":"low","score":0},{"id":"high","text":"high","score":2}]}]}
EOF
echo '{"years":"many","nerve":"high"}' >"$WORK/own-answers.json"
out=$(TELLER_ADVICE_QUESTIONNAIRE_FILE="$WORK/own.json" "$TELLER_BIN" risk-profile --answers "$WORK/own-answers.json" --json)
check "advice.questionnaire_file replaces the questionnaire" python3 -c "
import json,sys; p=json.loads(sys.argv[1]); assert p['profile']==5 and p['questionnaire']=='mybank-v3', p" "$out"
echo '{"id":"mybank","version":1,"questions":[]}' >"$WORK/broken.json"
rc=0; TELLER_ADVICE_QUESTIONNAIRE_FILE="$WORK/broken.json" "$TELLER_BIN" risk-profile --answers "$WORK/own-answers.json" 2>"$WORK/err" >/dev/null || rc=$?
check "a questionnaire file that does not validate exits 1 naming it" \
  sh -c "test $rc -eq 1 && grep -q 'broken.json: \"questions\"' '$WORK/err'"

# ---- advice for several customers
mapfile -t custs < <(sqlite3 "$WORK/bank.db" "SELECT id FROM customers ORDER BY id LIMIT 6")
answers=("$WORK/growth.json" "$WORK/capped.json" "$WORK/cautious.json" "$WORK/growth.json" "$WORK/cautious.json" "$WORK/growth.json")
methods=(table table table optimize optimize table)
for i in 0 1 2 3 4 5; do
  c=${custs[$i]}
  rc=0; teller advise "$c" --store "$bank" --answers "${answers[$i]}" --amount 10000.00 --monthly 150 \
    --method "${methods[$i]}" --json >"$WORK/adv$i.json" 2>"$WORK/err" || rc=$?
  check "advise $c (${methods[$i]}) exits 0" test $rc -eq 0
  check "... every product suitable and eligible; weights and amounts add up" \
    python3 - "$WORK/adv$i.json" "$WORK/bank.db" <<'PY'
import datetime, json, sqlite3, sys
from decimal import Decimal
a = json.load(open(sys.argv[1]))
db = sqlite3.connect(sys.argv[2])
prof = a["profile"]["profile"]
birth, cur, income = db.execute("SELECT birth_date, currency, annual_income_minor FROM customers WHERE id = ?",
                                (a["customer_id"],)).fetchone()
b = datetime.date.fromisoformat(birth); t = datetime.datetime.now(datetime.timezone.utc).date()
age = t.year - b.year - ((t.month, t.day) < (b.month, b.day))
assert a["suitable"] is True and a["products"], a
for p in a["products"]:
    cat, risk, pcur, mina, maxa, mininc = db.execute(
        "SELECT category, risk_level, currency, min_age, max_age, min_income_minor FROM products WHERE id = ?",
        (p["id"],)).fetchone()
    assert cat in ("fund", "etf") and risk <= prof and pcur == cur, (p, risk, prof)
    assert age >= (mina or 0) and (maxa is None or age <= maxa), (p, age)
    assert not mininc or (income or 0) >= mininc, (p, income)
assert abs(sum(p["weight"] for p in a["products"]) - 1) < 1e-9, a["products"]
amounts = sum(Decimal(p["amount"]) for p in a["products"])
assert amounts == Decimal(a["amount"]) - Decimal(a["leftover"]) == Decimal(a["invested"]), a
assert Decimal(a["amount"]) == Decimal("10000.00") and Decimal("0") <= Decimal(a["leftover"]) < Decimal("0.20")
assert len(a["inputs_digest"]) == 64 and len(a["reasons"]) > 3
PY
done
check "the answer sets reach cautious, balanced-or-above and a capped profile" python3 - "$WORK"/adv{0,1,2}.json <<'PY'
import json, sys
p = [json.load(open(f))["profile"] for f in sys.argv[1:]]
assert p[0]["profile"] == 4 and p[1]["profile"] == 1 and p[1]["capped_by_capacity"], p
assert p[2]["profile"] <= 2, p[2]
PY
n=$(sqlite3 "$WORK/bank.db" "SELECT count(*) FROM advice")
check "six pieces of advice stored" test "$n" -eq 6
n=$(sqlite3 "$WORK/bank.db" "SELECT count(*) FROM risk_profiles")
check "six risk profiles stored" test "$n" -eq 6
teller audit log --json --store "$bank" >"$WORK/audit.json"
check "advice and profiles journaled with model version and inputs digest" python3 - "$WORK/audit.json" "${custs[0]}" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["entries"]
adv = [x for x in e if x["action"] == "advice.give"]
rp = [x for x in e if x["action"] == "risk_profile.assess"]
assert len(adv) == 6 and len(rp) == 6, (len(adv), len(rp))
assert all(x["model_version"].startswith("advice-v1/") and len(x["inputs_digest"]) == 64 for x in adv), adv[0]
assert any(x["customer_id"] == sys.argv[2] for x in adv)
assert all(x["details"]["products"] for x in adv), adv[0]
PY
rc=0; teller audit verify --store "$bank" >/dev/null || rc=$?
check "the audit chain still verifies" test $rc -eq 0

# without answers: the stored profile; with a goal: the plan
out=$(teller advise "${custs[0]}" --store "$bank" --amount 5000 --monthly 100 --goal 60000 --by 2045-06-01 --json)
check "advice from the stored profile, with a goal plan" python3 -c "
import json,sys; a=json.loads(sys.argv[1]); p=a['plan']
assert a['profile']['profile']==4 and p['by']=='2045-06-01', a
assert 0 <= p['probability'] <= 1 and p['contribution_for_80'] and p['probability_at_that'] >= 0.8, p" "$out"
teller advise "${custs[0]}" --store "$bank" --amount 5000 >"$WORK/text.out"
check "the text output lists the products and why" grep -q 'why:' "$WORK/text.out"
check "... and says the advice was stored" grep -q 'stored (advice-v1/table)' "$WORK/text.out"

# nothing suitable is an answer, not an error
rc=0; out=$(teller advise "${custs[0]}" --store "$bank" --amount 5000 --currency USD --json) || rc=$?
check "no suitable product: exit 0, suitable false, said plainly" python3 -c "
import json,sys; a=json.loads(sys.argv[1]); assert a['suitable'] is False and a['products']==[], a
assert 'None of the bank' in a['reasons'][-1] and a['leftover']=='5000.00', a['reasons']" "$out"

# bad input
rc=0; teller advise no-such-customer --store "$bank" --answers "$WORK/growth.json" 2>"$WORK/err" >/dev/null || rc=$?
check "an unknown customer exits 1 naming it" sh -c "test $rc -eq 1 && grep -q 'no customer with id \"no-such-customer\"' '$WORK/err'"
rc=0; teller advise "${custs[5]}" --store "$bank" --goal 1000 2>/dev/null >/dev/null || rc=$?
check "--goal without --by is a usage error (2)" test $rc -eq 2
rc=0; teller advise "${custs[0]}" --store "$bank" --amount 12.345 2>"$WORK/err" >/dev/null || rc=$?
check "an amount with three decimals exits 1 naming it" sh -c "test $rc -eq 1 && grep -q 'field amount' '$WORK/err'"
last=$(sqlite3 "$WORK/bank.db" "SELECT id FROM customers ORDER BY id DESC LIMIT 1")
rc=0; teller advise "$last" --store "$bank" --amount 100 2>"$WORK/err" >/dev/null || rc=$?
check "no answers and no stored profile exits 1 saying so" sh -c "test $rc -eq 1 && grep -q 'no risk profile' '$WORK/err'"

finish
