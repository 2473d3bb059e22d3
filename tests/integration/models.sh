#!/usr/bin/env bash
# needs: postgres
# teller models on SQLite and PostgreSQL through the real program: import a
# hand-made envelope, list, show, promote (the old champion retired), card,
# export and import again (same artifact, new version); a truncated file and
# an altered file each fail with exit 1 naming the file and leave the store
# exactly as it was (teller stats --checksum); an artifact altered inside the
# store is refused on export and promote; every change is journaled.
source "$(dirname "$0")/lib.sh"

# The envelope by hand, from coreutils alone: the format is documented in
# docs/models.md and must not need teller to write.
art='{"intercept":-2.1,"weights":{"income":-0.35,"debt_ratio":1.2}}'
b64=$(printf '%s' "$art" | base64 -w0)
sum=$(printf '%s' "$art" | sha256sum | cut -d' ' -f1)
cat >"$WORK/model.json" <<EOF
{"teller_model":1,"task":"credit","algo":"scorecard",
 "metadata":{"metrics":{"auc":0.78,"ks":0.41},
             "card":{"intended_use":"Integration test only.",
                     "limitations":["Trained on nothing at all."]}},
 "checksum":"$sum","artifact_base64":"$b64"}
EOF

sql() { # sql STORE STATEMENT
  if [ "${1%%:*}" = sqlite ]; then sqlite3 "${1#sqlite:}" "$2"; else psql -q -At -d "$1" -c "$2"; fi
}

for store in $(stores); do
  tag=${store%%:*}
  S=(--store "$store")
  load_mini "$store"

  out=$(teller models import "${S[@]}" "$WORK/model.json")
  check "$tag: import names the new version" grep -q "as credit-v1 (challenger" <<<"$out"
  teller models list "${S[@]}" >"$WORK/list"
  check "$tag: list shows it" grep -Eq '^credit-v1 +credit +1 +scorecard +challenger ' "$WORK/list"
  check "$tag: list shows the artifact size" grep -Eq " ${#art}\$" "$WORK/list"
  teller models show "${S[@]}" credit-v1 >"$WORK/show"
  check "$tag: show has the checksum" grep -q "checksum  $sum" "$WORK/show"
  check "$tag: show has the metrics" grep -Eq '^  auc +0.78$' "$WORK/show"
  out=$(teller models show --json "${S[@]}" credit-v1)
  check "$tag: show --json" python3 -c "
import json, sys
d = json.loads(sys.argv[1])
assert d['id'] == 'credit-v1' and d['version'] == 1 and d['status'] == 'challenger', d
assert d['checksum'] == sys.argv[2] and d['artifact_bytes'] == int(sys.argv[3]), d
assert d['metadata']['metrics']['ks'] == 0.41, d" "$out" "$sum" "${#art}"

  # a second version, then promotions: the champion before is retired
  teller models import "${S[@]}" "$WORK/model.json" >/dev/null
  out=$(teller models promote "${S[@]}" credit-v1)
  check "$tag: promote" grep -q "promoted credit-v1 to champion of credit" <<<"$out"
  out=$(teller models promote "${S[@]}" credit-v2)
  check "$tag: promote names the retired champion" grep -q "(credit-v1 retired)" <<<"$out"
  teller models list --task credit "${S[@]}" >"$WORK/list"
  check "$tag: credit-v2 is champion" grep -Eq '^credit-v2 .* champion ' "$WORK/list"
  check "$tag: credit-v1 is retired" grep -Eq '^credit-v1 .* retired ' "$WORK/list"

  teller models card "${S[@]}" credit-v2 >"$WORK/card.md"
  for h in "# Model card: credit-v2" "## Intended use" "## Data" "## Metrics" "## Fairness" \
           "## Limitations" "## Artifact" "Integration test only." "- Trained on nothing at all." \
           "| auc | 0.78 |" "$sum"; do
    check "$tag: card has '$h'" grep -qF -- "$h" "$WORK/card.md"
  done
  out=$(teller models card --format json "${S[@]}" credit-v2)
  check "$tag: card --format json" python3 -c "
import json, sys
d = json.loads(sys.argv[1])
assert d['card']['intended_use'] == 'Integration test only.' and d['status'] == 'champion', d" "$out"

  # export and import again: the same artifact and metadata, a new version
  out=$(teller models export "${S[@]}" credit-v2 --out "$WORK/e-$tag.json")
  check "$tag: export reports the file" grep -q "exported credit-v2 to $WORK/e-$tag.json" <<<"$out"
  check "$tag: export is an envelope" python3 - "$WORK/e-$tag.json" "$sum" "$art" <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1]))
assert d["teller_model"] == 1 and d["task"] == "credit" and d["algo"] == "scorecard", d
assert d["checksum"] == sys.argv[2], d
assert base64.b64decode(d["artifact_base64"]).decode() == sys.argv[3], d
assert d["metadata"]["card"]["intended_use"] == "Integration test only.", d
PY
  out=$(teller models import --json "${S[@]}" "$WORK/e-$tag.json")
  check "$tag: round trip is credit-v3 with the same checksum" python3 -c "
import json, sys
d = json.loads(sys.argv[1])
assert d['id'] == 'credit-v3' and d['status'] == 'challenger' and d['checksum'] == sys.argv[2], d" "$out" "$sum"

  # bad files: exit 1, the file named, the store unchanged
  before=$(teller stats --checksum "${S[@]}" | tail -1)
  size=$(stat -c %s "$WORK/e-$tag.json")
  head -c $((size / 2)) "$WORK/e-$tag.json" >"$WORK/truncated.json"
  sed 's/"artifact_base64":"eyJ/"artifact_base64":"eyK/' "$WORK/e-$tag.json" >"$WORK/altered.json"
  check "$tag: the altered file differs" bash -c "! cmp -s '$WORK/e-$tag.json' '$WORK/altered.json'"
  python3 - "$WORK/e-$tag.json" "$WORK/short.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["artifact_base64"] = d["artifact_base64"][:-8]  # cut on a 4-character boundary: still base64
json.dump(d, open(sys.argv[2], "w"))
PY
  for f in truncated altered short; do
    set +e
    teller models import "${S[@]}" "$WORK/$f.json" >"$WORK/out" 2>"$WORK/err"
    rc=$?
    set -e
    check "$tag: $f file exits 1" test "$rc" = 1
    check "$tag: $f file is named" grep -q "$WORK/$f.json" "$WORK/err"
    check "$tag: $f file is said to be bad" grep -Eq "truncated|altered" "$WORK/err"
    check "$tag: $f file prints nothing on stdout" test ! -s "$WORK/out"
  done
  check "$tag: the store is unchanged" test "$before" = "$(teller stats --checksum "${S[@]}" | tail -1)"
  check "$tag: still three models" test "$(teller models list --json "${S[@]}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3

  # an artifact altered inside the store never leaves it, nor is promoted
  sql "$store" "UPDATE model_artifacts SET bytes = 'eyJpbnRlcmNlcHQiOjB9' WHERE id = 'credit-v1'" >/dev/null
  set +e
  teller models export "${S[@]}" credit-v1 --out "$WORK/x.json" 2>"$WORK/err"; rc=$?
  check "$tag: export of a tampered artifact exits 1" test "$rc" = 1
  check "$tag: it says checksum mismatch" grep -q "model credit-v1: artifact checksum mismatch" "$WORK/err"
  check "$tag: no file is left" test ! -e "$WORK/x.json"
  teller models promote "${S[@]}" credit-v1 2>"$WORK/err"; rc=$?
  check "$tag: promote of a tampered artifact exits 1" test "$rc" = 1
  check "$tag: refusing to promote" grep -q "refusing to promote credit-v1" "$WORK/err"

  # retire, and the command line's own errors
  out=$(teller models retire "${S[@]}" credit-v2)
  check "$tag: retire" grep -q "retired credit-v2" <<<"$out"
  teller models promote "${S[@]}" credit-v9 2>"$WORK/err"; rc=$?
  check "$tag: unknown model exits 1" test "$rc" = 1
  check "$tag: unknown model is named" grep -q "credit-v9" "$WORK/err"
  teller models import "${S[@]}" "$WORK/nosuch.json" 2>"$WORK/err"; rc=$?
  check "$tag: missing file exits 1 naming it" bash -c "test $rc = 1 && grep -q nosuch.json '$WORK/err'"
  teller models export "${S[@]}" credit-v2 >/dev/null 2>&1; rc=$?
  check "$tag: export without --out exits 2" test "$rc" = 2
  teller models frobnicate "${S[@]}" >/dev/null 2>&1; rc=$?
  check "$tag: unknown subcommand exits 2" test "$rc" = 2
  teller models card --format pdf "${S[@]}" credit-v2 >/dev/null 2>&1; rc=$?
  check "$tag: unknown --format exits 2" test "$rc" = 2
  set -e

  teller audit log --json "${S[@]}" >"$WORK/audit.json"
  check "$tag: every change is journaled" python3 - "$WORK/audit.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["entries"]
acts = [(r["action"], r.get("model_version")) for r in rows if r["action"].startswith("model.")]
want = [("model.retire", "credit-v2"), ("model.add", "credit-v3"), ("model.promote", "credit-v2"),
        ("model.promote", "credit-v1"), ("model.add", "credit-v2"), ("model.add", "credit-v1")]
assert acts == want, acts
PY
  check "$tag: the audit chain verifies" teller audit verify "${S[@]}" >/dev/null
done

finish
