#!/usr/bin/env bash
# needs: postgres
# PII at rest: the mini bank and a generated bank of 50 customers are loaded
# into SQLite and PostgreSQL; no planted name, email, phone, address or
# national id may appear in the clear in the raw SQLite file (and its WAL) or
# in a pg_dump, while export, customer export and lookups still see them.
# Then data key rotation, the data subject export and erasure.
source "$(dirname "$0")/lib.sh"
[ -f "${TELLER_PG_STATE:-/x}/url" ] || { echo "PostgreSQL fixture not running"; exit 1; }
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[ -x "$PGBIN/pg_dump" ] || { echo "pg_dump not found under /usr/lib/postgresql"; exit 1; }

# One key file for this test, whatever directory CTest runs it from.
teller generate --customers 50 --seed 11 --out "$WORK/gen" >/dev/null

# pii.py LIST FILE...: the planted PII strings of the customers files.
# pii.py find LIST FILE...: prints each planted string found in the files
# (bytes, anywhere), as "file: string"; exits 1 when there is any.
cat >"$WORK/pii.py" <<'PY'
import csv, sys
PII = ("name", "email", "phone", "address", "national_id")
if sys.argv[1] == "list":
    seen = set()
    for path in sys.argv[2:]:
        for row in csv.DictReader(open(path, encoding="utf-8")):
            for col in PII:
                v = row.get(col) or ""
                if v and v not in seen:
                    seen.add(v)
                    print(v)
    sys.exit(0)
wanted = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
found = 0
for path in sys.argv[3:]:
    data = open(path, "rb").read()
    for v in wanted:
        if v.encode() in data:
            found += 1
            if found <= 5:
                print(f"{path}: {v}")
print(f"{found} planted PII strings found in {len(sys.argv) - 3} files", file=sys.stderr)
sys.exit(1 if found else 0)
PY
pii() { python3 "$WORK/pii.py" "$@"; }
pii list "$FIX/customers.csv" "$WORK/gen/customers.csv" >"$WORK/planted.txt"
check "planted PII collected ($(wc -l <"$WORK/planted.txt") strings)" test "$(wc -l <"$WORK/planted.txt")" -gt 200

# Every file that holds the store: the SQLite database and its WAL, or a
# plain-text dump of the PostgreSQL database.
raw_files() { # raw_files STORE TAG -> paths
  local store=$1 tag=$2
  case $store in
  sqlite:*) local f=${store#sqlite:}; echo "$f"; [ -f "$f-wal" ] && echo "$f-wal"; true ;;
  *) "$PGBIN/pg_dump" --no-owner -d "$store" -f "$WORK/dump-$tag.sql"; echo "$WORK/dump-$tag.sql" ;;
  esac
}
no_leaks() { # no_leaks STORE TAG
  local files
  files=$(raw_files "$1" "$2")
  # shellcheck disable=SC2086
  pii find "$WORK/planted.txt" $files
}
# The sealed columns exactly as stored, one line per customer.
sealed() { # sealed STORE
  local q="SELECT id, name, email, phone, address, national_id, email_bidx, national_id_bidx FROM customers"
  case $1 in
  sqlite:*) sqlite3 "${1#sqlite:}" "$q ORDER BY id" ;;
  *) psql -At -F'|' -d "$1" -c "$q ORDER BY id COLLATE \"C\"" ;;
  esac
}
# Every bank table as exported (plaintext), and counts and sums, which the
# audit log's own rows do not enter.
bank_state() { # bank_state STORE
  for t in products customers accounts holdings transactions applications interactions alerts; do
    teller export --store "$1" "$t"
  done
  teller stats --json --store "$1" | python3 -c "
import json, sys; d = json.load(sys.stdin)['tables']; d.pop('audit_log', None); print(json.dumps(d, sort_keys=True))"
}
tx_stats() { # tx_stats STORE -> the transactions' and accounts' counts and sums
  teller stats --json --store "$1" | python3 -c "
import json, sys; d = json.load(sys.stdin)['tables']
print(json.dumps([d['transactions'], d['accounts']], sort_keys=True))"
}
cexport() { # cexport STORE ID: the customer export without the audit rows (each export adds one)
  teller customer export --store "$1" "$2" | python3 -c "
import json, sys; d = json.load(sys.stdin); d.pop('audit_log'); print(json.dumps(d, indent=1))"
}
key_ids() { # key_ids STORE: the distinct key ids of the sealed names
  sealed "$1" | cut -d'|' -f2 | sed -n 's/^tlenc1:\([^:]*\):.*/\1/p' | sort -u | tr '\n' ' '
}

# ---------------------------------------------------------------- loading
stores_list=$(stores)
sqlite_store=$(head -1 <<<"$stores_list")
states=()
seals=()
for store in $stores_list; do
  b=${store%%:*}
  teller init --store "$store" >/dev/null
  load_mini "$store"
  teller ingest --quiet --store "$store" "$WORK/gen" >/dev/null
  check "$b: no planted PII in the clear in the store's files" no_leaks "$store" "$b"
  teller export --store "$store" customers >"$WORK/plain.csv"
  check "$b: the export shows the PII in the clear" sh -c "! python3 '$WORK/pii.py' find '$WORK/planted.txt' '$WORK/plain.csv' >/dev/null 2>&1"
  n_plain=$(sealed "$store" | awk -F'|' '$2 !~ /^tlenc1:k1:/' | wc -l)
  check "$b: all 53 names sealed under k1 ($n_plain not)" test "$n_plain" = 0
  n_bidx=$(sealed "$store" | awk -F'|' '$3 != "" && length($7) == 64' | wc -l)
  n_email=$(sealed "$store" | awk -F'|' '$3 != ""' | wc -l)
  check "$b: every email has a blind index ($n_bidx of $n_email)" test "$n_bidx" = "$n_email" -a "$n_email" -gt 50
  states+=("$(bank_state "$store")")
  seals+=("$(sealed "$store")")

  before=$(sealed "$store"); state=$(bank_state "$store")
  load_mini "$store"
  teller ingest --quiet --store "$store" "$WORK/gen" >/dev/null
  check "$b: re-ingest rewrites the same sealed bytes" test "$(sealed "$store")" = "$before"
  check "$b: re-ingest changes no bank data" test "$(bank_state "$store")" = "$state"
  teller export --quiet --store "$store" customers --out "$WORK/c.csv"
  teller export --quiet --store "$store" customers --format jsonl --out "$WORK/c.jsonl"
  teller ingest --quiet --store "$store" customers "$WORK/c.csv" >/dev/null
  teller ingest --quiet --store "$store" customers "$WORK/c.jsonl" >/dev/null
  check "$b: export then ingest is a no-op" test "$(sealed "$store")" = "$before"
  check "$b: export leaves out computed columns" sh -c "! head -1 '$WORK/c.csv' | grep -q bidx"
done
check "SQLite and PostgreSQL hold the same sealed bytes" test "${seals[0]}" = "${seals[1]}"
check "SQLite and PostgreSQL hold the same bank data" test "${states[0]}" = "${states[1]}"
# The whole-store checksum covers every table, sealed PII and blind indexes
# included. The audit log differs by nature (each load is journaled with its
# own time), so the checksums are taken on copies with the journal emptied.
sums=()
for store in $stores_list; do
  case $store in
  sqlite:*) f=${store#sqlite:}; cp "$f" "$WORK/copy.db"; [ -f "$f-wal" ] && cp "$f-wal" "$WORK/copy.db-wal"
            sqlite3 "$WORK/copy.db" "DELETE FROM audit_log"; copy="sqlite:$WORK/copy.db" ;;
  *) copy="${store%/*}/${store##*/}_copy"
     psql -q -d "$(cat "$TELLER_PG_STATE/url")" -c "CREATE DATABASE ${store##*/}_copy TEMPLATE ${store##*/}" >/dev/null
     psql -q -d "$copy" -c "DELETE FROM audit_log" >/dev/null ;;
  esac
  sums+=("$(teller stats --checksum --store "$copy")")
done
check "SQLite and PostgreSQL checksums are equal (journal aside)" test "${sums[0]}" = "${sums[1]}"

# computed columns are teller's: a file that carries one is refused
printf 'id,name,birth_date,country,currency,customer_since,email_bidx\nC9,X,1990-01-01,DE,EUR,2020-01-01,abc\n' >"$WORK/bidx.csv"
set +e
teller ingest --store "$sqlite_store" customers "$WORK/bidx.csv" >/dev/null 2>"$WORK/err"; rc=$?
set -e
check "a file with email_bidx is refused (exit $rc)" test "$rc" = 1
check "the refusal names file:line and the column" grep -q "bidx.csv:1: column email_bidx is computed by teller" "$WORK/err"

# ---------------------------------------------------------------- per store
for store in $stores_list; do
  b=${store%%:*}

  # lookups through the blind index
  check "$b: find by email, any case and blanks" test "$(echo '  Anna.Mueller@EXAMPLE.de ' | teller customer find --store "$store" email -)" = C1
  check "$b: find by national id with dashes" test "$(teller customer find --store "$store" national_id ie-99-88-77)" = C2
  set +e
  teller customer find --store "$store" email nobody@example.com >/dev/null 2>&1; rc=$?
  set -e
  check "$b: an unknown email exits 1" test "$rc" = 1

  # the data subject export: everything about C1, decrypted
  teller customer export --store "$store" C1 --out "$WORK/c1.json" --quiet
  check "$b: customer export is private (0600)" test "$(stat -c %a "$WORK/c1.json")" = 600
  check "$b: customer export holds C1's PII, accounts and transactions" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
c = d['customer']
assert c['name'] == 'Anna Müller' and c['email'] == 'anna.mueller@example.de', c
assert c['national_id'] == '12345678901' and c['erased_at'] is None, c
assert 'email_bidx' not in c, c
assert sorted(a['id'] for a in d['accounts']) == ['A1', 'A2'], d['accounts']
tx = d['transactions']
assert tx and all(t['account_id'] in ('A1', 'A2') for t in tx), tx
assert [h['id'] for h in d['holdings']] == ['H1'], d['holdings']
assert all(e['customer_id'] == 'C1' for e in d['audit_log']), d['audit_log']
" "$WORK/c1.json"
  set +e
  teller customer export --store "$store" NOPE >/dev/null 2>"$WORK/err"; rc=$?
  set -e
  check "$b: export of an unknown customer exits 1 naming it" sh -c "test $rc = 1 && grep -q NOPE '$WORK/err'"

  # rotation: a new key in the file, every value resealed, nothing else changes
  c1_before=$(cexport "$store" C1)
  g_before=$(cexport "$store" C000007)
  state=$(bank_state "$store")
  lines=$(wc -l <"$WORK/teller.key")
  out=$(teller keys rotate-data-key --store "$store")
  check "$b: rotate-data-key reports a new key ($out)" grep -q "new key k" <<<"$out"
  check "$b: the key file grew by one key" test "$(wc -l <"$WORK/teller.key")" = $((lines + 1))
  active=$(tail -1 "$WORK/teller.key" | cut -d' ' -f1)
  check "$b: every name is now under $active ($(key_ids "$store"))" test "$(key_ids "$store")" = "$active "
  check "$b: blind indexes did not change" test "$(sealed "$store" | cut -d'|' -f1,7,8)" = \
    "$(printf '%s\n' "${seals[0]}" | cut -d'|' -f1,7,8)"
  check "$b: rotation changes no export" test "$(bank_state "$store")" = "$state"
  check "$b: rotation keeps the customer export" test "$(cexport "$store" C1)" = "$c1_before"
  check "$b: lookups work after rotation" test "$(teller customer find --store "$store" email liam@example.ie)" = C2
  check "$b: no planted PII in the clear after rotation" no_leaks "$store" "$b-rot"

  # erasure: C1 (mini) and C000007 (generated)
  set +e
  teller customer erase --store "$store" C1 </dev/null >/dev/null 2>&1; rc=$?
  set -e
  check "$b: erase without --yes off a terminal exits 2" test "$rc" = 2
  check "$b: ... and erased nothing" test "$(cexport "$store" C1)" = "$c1_before"
  tx=$(tx_stats "$store")
  python3 -c "
import csv, sys
for r in csv.DictReader(open(sys.argv[1], encoding='utf-8')):
    if r['id'] in ('C1', 'C000007'):
        for c in ('name', 'email', 'phone', 'address', 'national_id'):
            if r[c]: print(r[c])" <(cat "$FIX/customers.csv"; tail -n +2 "$WORK/gen/customers.csv") >"$WORK/erased.txt"
  check "$b: the erased customers had PII ($(wc -l <"$WORK/erased.txt") values)" test "$(wc -l <"$WORK/erased.txt")" -ge 8
  check "$b: erase C1" teller customer erase --store "$store" --yes C1
  check "$b: erase C000007" teller customer erase --store "$store" --yes C000007
  e1=$(teller customer export --store "$store" C1)
  check "$b: the erased customer's export shows erased_at and no PII" python3 -c "
import json, sys
d = json.loads(sys.argv[1]); c = d['customer']
assert c['erased_at'] and c['name'] == '[erased]', c
assert all(c[k] is None for k in ('email', 'phone', 'address', 'national_id')), c
assert c['birth_date'] == '1985-01-01', c
assert sorted(a['id'] for a in d['accounts']) == ['A1', 'A2'], d['accounts']
assert any(e['action'] == 'customer.erase' for e in d['audit_log']), d['audit_log']
" "$e1"
  teller customer export --store "$store" C000007 >"$WORK/e7.json"
  teller export --store "$store" customers >"$WORK/after.csv"
  check "$b: no erased PII in the customer exports" pii find "$WORK/erased.txt" "$WORK/e7.json" <(echo "$e1")
  check "$b: no erased PII in the table export" pii find "$WORK/erased.txt" "$WORK/after.csv"
  check "$b: no erased PII in the store's files" no_leaks "$store" "$b-erased"
  check "$b: the other customers keep their PII" grep -q "liam@example.ie" "$WORK/after.csv"
  check "$b: transaction and account counts and sums unchanged" test "$(tx_stats "$store")" = "$tx"
  set +e
  teller customer find --store "$store" email anna.mueller@example.de >/dev/null 2>&1; rc=$?
  set -e
  check "$b: an erased customer cannot be found by email" test "$rc" = 1

  # idempotent, and re-ingesting the source file does not bring them back
  snap=$(sealed "$store")
  at=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['customer']['erased_at'])" "$e1")
  check "$b: erasing again succeeds" teller customer erase --store "$store" --yes C1
  check "$b: ... and changes nothing" test "$(sealed "$store")" = "$snap"
  at2=$(teller customer export --store "$store" C1 | python3 -c "import json,sys; print(json.load(sys.stdin)['customer']['erased_at'])")
  check "$b: ... keeping the first erasure time" test "$at" = "$at2"
  load_mini "$store" 2>/dev/null
  teller ingest --quiet --store "$store" customers "$WORK/gen/customers.csv" >/dev/null 2>&1
  check "$b: re-ingesting the source leaves them erased" test "$(sealed "$store" | grep -E '^(C1|C000007)\|')" = \
    "$(printf '%s\n' "$snap" | grep -E '^(C1|C000007)\|')"
  check "$b: still no erased PII in the export after re-ingest" sh -c "\"$TELLER_BIN\" export --store '$store' customers | python3 '$WORK/pii.py' find '$WORK/erased.txt' /dev/stdin"
done
finish
