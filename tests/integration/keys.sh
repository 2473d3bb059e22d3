#!/usr/bin/env bash
# needs: postgres
# teller keys on SQLite and PostgreSQL: create shows the key once (alone on
# stdout), list never shows it, revoke, --json, the customer-role rules, and
# exit codes (2 for a wrong command line, 1 for an unknown customer or id).
source "$(dirname "$0")/lib.sh"

json_get() { # json_get FIELD < JSON
  python3 -c "import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print('' if v is None else v)" "$1"
}

for store in $(stores); do
  tag=${store%%:*}
  load_mini "$store"

  # create: the key alone on stdout, the once-only note on stderr
  key=$(teller keys create --store "$store" --role service --name nightly-ingest 2>"$WORK/note")
  check "$tag: create prints one key" grep -Eq '^tk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$' <<<"$key"
  check "$tag: create says the key is shown once" grep -q "only time the key is shown" "$WORK/note"
  id=${key:3:12}
  secret=${key:16}

  teller keys list --store "$store" >"$WORK/list"
  check "$tag: list shows the id" grep -q "$id" "$WORK/list"
  check "$tag: list shows the name" grep -q "nightly-ingest" "$WORK/list"
  check "$tag: list shows the key active" grep -q "$id.*active" "$WORK/list"
  check "$tag: list never shows the secret" bash -c "! grep -qF -- '$secret' '$WORK/list'"
  teller keys list --json --store "$store" >"$WORK/list.json"
  check "$tag: list --json is an array without secrets" python3 - "$WORK/list.json" "$secret" "$id" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list) and len(rows) == 1, rows
r = rows[0]
assert r["id"] == sys.argv[3] and r["role"] == "service" and r["status"] == "active", r
assert r["customer_id"] is None and r["revoked_at"] is None and r["expires_at"] is None, r
assert sys.argv[2] not in json.dumps(rows) and "key" not in r, r
PY
  if [ "$tag" = sqlite ]; then
    sqlite3 "${store#sqlite:}" "SELECT * FROM api_keys" >"$WORK/rows"
  else
    psql -q -At -d "$store" -c "SELECT * FROM api_keys" >"$WORK/rows"
  fi
  check "$tag: the store holds the key's row" grep -q "^$id|[0-9a-f]\{64\}|service|" "$WORK/rows"
  check "$tag: the store does not hold the secret" bash -c "! grep -qF -- '$secret' '$WORK/rows'"

  # --json create, customer role, expiry
  teller keys create --json --store "$store" --role customer --customer C1 --expires 30d >"$WORK/c.json"
  check "$tag: create --json names id, key, role, customer" python3 - "$WORK/c.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["key"].startswith("tk_" + d["id"] + "_"), d
assert d["role"] == "customer" and d["customer_id"] == "C1", d
assert d["expires_at"] and d["expires_at"].endswith("Z"), d
PY
  cid=$(json_get id <"$WORK/c.json")
  out=$(teller keys create --json --store "$store" --role admin --expires 2999-01-01T00:00:00Z)
  check "$tag: --expires takes ISO 8601" grep -q '"expires_at":"2999-01-01T00:00:00Z"' <<<"$out"

  # revoke
  out=$(teller keys revoke --store "$store" "$id")
  check "$tag: revoke reports the id" grep -q "revoked key $id" <<<"$out"
  teller keys list --store "$store" >"$WORK/list"
  check "$tag: list shows the key revoked" grep -q "$id.*revoked" "$WORK/list"
  check "$tag: list still active customer key" grep -q "$cid.*customer.*C1.*active" "$WORK/list"
  out=$(teller keys revoke --json --store "$store" "$cid")
  check "$tag: revoke --json" grep -q '"revoked":true' <<<"$out"

  # rotating the data key re-seals PII; API key hashes use the index key and stay
  rows_before=$(cat "$WORK/rows")
  out=$(teller keys rotate-data-key --json --store "$store")
  check "$tag: rotate-data-key --json names the new key" python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['key_id'] and d['resealed'] > 0, d" "$out"
  if [ "$tag" = sqlite ]; then
    sqlite3 "${store#sqlite:}" "SELECT * FROM api_keys WHERE id = '$id'" >"$WORK/rows"
  else
    psql -q -At -d "$store" -c "SELECT * FROM api_keys WHERE id = '$id'" >"$WORK/rows"
  fi
  check "$tag: API key hashes survive data-key rotation" test "$(cut -d'|' -f2 <<<"$rows_before")" = "$(cut -d'|' -f2 "$WORK/rows")"

  set +e
  teller keys revoke --store "$store" zzzzzzzzzzzz >/dev/null 2>"$WORK/err"; rc=$?
  check "$tag: revoking an unknown id exits 1" test $rc = 1
  check "$tag: the unknown id is named" grep -q zzzzzzzzzzzz "$WORK/err"
  teller keys create --store "$store" --role customer --customer C404 >"$WORK/out" 2>"$WORK/err"; rc=$?
  check "$tag: unknown customer exits 1" test $rc = 1
  check "$tag: unknown customer is named" grep -q C404 "$WORK/err"
  check "$tag: no key printed on failure" test ! -s "$WORK/out"
  out=$(teller keys create --json --store "$store" --role customer --customer C404 2>/dev/null)
  check "$tag: failures with --json are JSON" python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['error']['code']=='not_found'" "$out"
  set -e
done

# usage errors exit 2 (no store needed to tell)
store="sqlite:$WORK/usage.db"
set +e
for args in "keys" "keys create" "keys create --role root" "keys create --role customer" \
            "keys create --role admin --customer C1" "keys create --role admin --expires soon" \
            "keys create --role admin --expires 0d" "keys create --role admin --expires 2001-01-01" \
            "keys revoke" "keys list --role admin" "keys frobnicate" "keys list extra" \
            "keys create --role admin --bogus"; do
  # shellcheck disable=SC2086
  teller $args --store "$store" >/dev/null 2>&1; rc=$?
  check "teller $args exits 2" test $rc = 2
done
set -e
check "keys --help" sh -c "\"$TELLER_BIN\" keys --help | grep -q 'rotate-data-key'"
finish
