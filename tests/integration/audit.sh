#!/usr/bin/env bash
# needs: postgres
# The audit log through the real program, on SQLite and PostgreSQL: ingest
# journals each file; `teller audit verify` exits 0 on an intact chain and 1
# naming the row after rows are edited, deleted or inserted with sqlite3 or
# psql; a truncated tail is caught against --expect-head; concurrent
# `teller audit append` processes leave one chain; docs/audit.md's Python
# verifier agrees with teller.
source "$(dirname "$0")/lib.sh"
[ -f "${TELLER_PG_STATE:-/x}/url" ] || { echo "PostgreSQL fixture not running"; exit 1; }

db() { # db STORE SQL: raw SQL, as an attacker with database access
  case $1 in
    sqlite:*) sqlite3 "${1#sqlite:}" "$2" ;;
    *) psql -q -X -v ON_ERROR_STOP=1 -t -A -d "$1" -c "$2" ;;
  esac
}

# verify_says STORE CODE FRAGMENT [ARGS...]: exit code CODE and FRAGMENT in the output
verify_says() {
  local store=$1 want=$2 frag=$3 rc=0
  shift 3
  teller audit verify --store "$store" "$@" >"$WORK/out" 2>&1 || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "  exit $rc, want $want: $(head -c 600 "$WORK/out")"
    return 1
  fi
  grep -qF -- "$frag" "$WORK/out" || { echo "  no \"$frag\" in: $(head -c 600 "$WORK/out")"; return 1; }
}

json_field() { # json_field FIELD: reads JSON on stdin
  python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"
}

for store in $(stores); do
  b=${store%%:*}
  load_mini "$store"

  # ingest is journaled: one entry per file, newest first
  out=$(teller audit log --json --store "$store")
  check "$b: ingest journals every file" python3 -c "
import json,sys; e=json.loads(sys.argv[1])['entries']
assert [x['resource'] for x in e] == ['interactions','applications','transactions','holdings','accounts','customers','products'], e
t=[x for x in e if x['resource']=='transactions'][0]
assert t['action']=='ingest' and t['actor']=='cli' and t['role']=='cli', t
assert t['details']['rows_loaded']==4 and t['details']['rows_rejected']==0 and t['details']['file'].endswith('transactions.csv'), t
assert [x['seq'] for x in e] == [7,6,5,4,3,2,1], e" "$out"
  check "$b: an intact chain verifies (exit 0)" verify_says "$store" 0 "7 rows verified"
  check "$b: teller audit log shows an ingest" sh -c "\"$TELLER_BIN\" audit log --store '$store' | grep -q 'ingest.*resource=transactions'"

  for i in 1 2 3; do
    teller audit append --store "$store" --action customer.read --customer "c-$i" --details "{\"i\":$i}"
  done
  teller audit append --store "$store" --action customer.read --customer c-2
  out=$(teller audit log --json --customer c-2 --store "$store")
  check "$b: log --customer keeps that customer's entries" python3 -c "
import json,sys; e=json.loads(sys.argv[1])['entries']
assert [x['seq'] for x in e]==[11,9] and all(x['customer_id']=='c-2' for x in e), e
assert e[1]['details']=={'i':2} and e[0]['details'] is None, e" "$out"
  n=$(teller audit log --json --limit 3 --store "$store" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['entries']))")
  check "$b: log --limit 3 lists 3" test "$n" = 3
  head=$(teller audit verify --json --store "$store" | json_field head)
  check "$b: the head is row 11" test "${head%%:*}" = 11

  # edit: found at the row, and putting the value back heals it
  db "$store" "UPDATE audit_log SET customer_id = 'c-9' WHERE seq = 9"
  check "$b: an edited row is reported (exit 1)" verify_says "$store" 1 "BROKEN at row 9"
  check "$b: ... as altered" grep -q "row 9 (id au-000000000009) was altered" "$WORK/out"
  out=$(teller audit verify --json --store "$store" || true)
  check "$b: --json names the first bad row" test "$(json_field first_bad_seq <<<"$out")" = 9
  db "$store" "UPDATE audit_log SET customer_id = 'c-2' WHERE seq = 9"
  check "$b: the original value verifies again" verify_says "$store" 0 "11 rows verified"

  # delete: a gap
  db "$store" "CREATE TABLE saved AS SELECT * FROM audit_log WHERE seq = 5"
  db "$store" "DELETE FROM audit_log WHERE seq = 5"
  check "$b: a deleted row is reported" verify_says "$store" 1 "row 5 is missing"
  db "$store" "INSERT INTO audit_log SELECT * FROM saved"
  check "$b: the row put back verifies" verify_says "$store" 0 "11 rows verified"

  # insert: a forged row at the end, and one without a seq
  db "$store" "INSERT INTO audit_log (id, ts_ms, actor, role, action, customer_id, seq, prev_hash, hash)
               SELECT 'au-forged', ts_ms, 'key-x', 'admin', 'customer.read', 'c-1', 12, hash,
                      '$(printf '%064d' 7)' FROM audit_log WHERE seq = 11"
  check "$b: an inserted row is reported" verify_says "$store" 1 "BROKEN at row 12"
  db "$store" "DELETE FROM audit_log WHERE id = 'au-forged'"
  db "$store" "INSERT INTO audit_log (id, ts_ms, actor, action, hash) VALUES ('au-loose', 0, 'x', 'y', 'z')"
  check "$b: a row outside the chain is reported" verify_says "$store" 1 "au-loose"
  db "$store" "DELETE FROM audit_log WHERE id = 'au-loose'"

  # the tail: invisible on its own, caught against the recorded head
  db "$store" "DELETE FROM audit_log WHERE seq > 9"
  check "$b: a truncated chain verifies on its own" verify_says "$store" 0 "head 9:"
  check "$b: ... but not against the recorded head" \
    verify_says "$store" 1 "rows 10 to 11 were deleted" --expect-head "$head"
  teller audit append --store "$store" --action x
  teller audit append --store "$store" --action x
  check "$b: ... nor after new rows took those seqs" \
    verify_says "$store" 1 "differs from the anchor" --expect-head "$head"
  head=$(teller audit verify --json --store "$store" | json_field head)
  check "$b: the current head is accepted" verify_says "$store" 0 "expected head is still in place" --expect-head "$head"
  check "$b: an older anchor is accepted" \
    verify_says "$store" 0 "rows verified" --expect-head "$(db "$store" "SELECT seq || ':' || hash FROM audit_log WHERE seq = 4")"
  set +e
  teller audit verify --store "$store" --expect-head "11:xyz" >/dev/null 2>&1
  check "$b: a malformed --expect-head is a usage error" test $? = 2
  teller audit append --store "$store" --action x --details '{"a":' >/dev/null 2>&1
  check "$b: --details that are not JSON are a usage error" test $? = 2
  teller audit append --store "$store" >/dev/null 2>&1
  check "$b: append without --action is a usage error" test $? = 2
  teller audit nosuch --store "$store" >/dev/null 2>&1
  check "$b: an unknown subcommand is a usage error" test $? = 2
  set -e

  # concurrent appenders: 4 processes x 15 appends
  pids=()
  for p in 1 2 3 4; do
    (for i in $(seq 15); do teller audit append --store "$store" --action "proc.$p" || exit 1; done) &
    pids+=($!)
  done
  failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  check "$b: concurrent appends all succeed" test $failed = 0
  check "$b: ... and leave one chain" verify_says "$store" 0 "71 rows verified"
  check "$b: ... without duplicate seqs" test "$(db "$store" "SELECT count(DISTINCT seq) FROM audit_log")" = 71

  if [ "$b" = sqlite ]; then
    python3 - "$TELLER_SRC/docs/audit.md" "$WORK/verify.py" <<'PY'
import re, sys
md = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.findall(r"```python\n(.*?)```", md, re.S)[0])
PY
    out=$(python3 "$WORK/verify.py" "${store#sqlite:}" 2>&1 || true)
    check "sqlite: docs/audit.md's verifier agrees with teller ($out)" test "$out" = "intact: 71 rows, head $(teller audit verify --json --store "$store" | json_field head)"
    db "$store" "UPDATE audit_log SET action = 'y' WHERE seq = 30"
    out=$(python3 "$WORK/verify.py" "${store#sqlite:}" 2>&1 || true)
    check "sqlite: ... and catches an edit" grep -q "row 30 was altered" <<<"$out"
  fi
done
finish
