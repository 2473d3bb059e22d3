#!/usr/bin/env bash
# The last test of the suite: after every other test has run, the logs they
# left (tests/integration/lib.sh and http_client.py keep server logs and the
# stderr of every teller command in $TELLER_TEST_LOGS) must hold none of the
# personal data the fixtures plant: the name, email, phone, address and
# national id of every customer in tests/fixtures/mini/customers.csv, and of
# every synthetic bank an integration test generates (the same
# `teller generate --customers N --seed S` again gives the same customers).
#
# usage: logscan.sh LOGS_DIR CUSTOMERS.csv   (env: TELLER_BIN, TELLER_SRC)
set -euo pipefail
logs=${1:?logs dir} customers=${2:?customers.csv}
: "${TELLER_BIN:?}" "${TELLER_SRC:?}"
gen=$(mktemp -d /tmp/teller-logscan.XXXXXX)
trap 'rm -rf "$gen"' EXIT
files=("$customers")
while read -r n s; do
  "$TELLER_BIN" generate --customers "$n" --seed "$s" --out "$gen/$n-$s" >/dev/null
  files+=("$gen/$n-$s/customers.csv")
done < <(grep -ho 'generate --customers [0-9]* --seed [0-9]*' "$TELLER_SRC"/tests/integration/*.sh |
         awk '{print $3, $5}' | sort -u)
python3 - "$logs" "${files[@]}" <<'PY'
import csv, json, os, sys

logs, customer_files = sys.argv[1], sys.argv[2:]
pii_cols = ("name", "email", "phone", "address", "national_id")
planted = set()
for customers in customer_files:
    with open(customers, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for c in pii_cols:
                v = (row.get(c) or "").strip()
                if len(v) >= 5:
                    planted.add(v)
                    planted.add(json.dumps(v)[1:-1])   # as a JSON string escapes it
if not planted:
    sys.exit("logscan: no PII values read from %s" % customer_files)

files, lines, log_lines = 0, 0, 0
found = []
for root, _, names in os.walk(logs):
    for n in sorted(names):
        path = os.path.join(root, n)
        files += 1
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                lines += 1
                if line.startswith('{"ts":'):
                    log_lines += 1
                for v in planted:
                    if v in line:
                        found.append("%s:%d holds planted PII %r" % (os.path.relpath(path, logs), i, v[:3] + "..."))

print("logscan: %d files, %d lines (%d JSON log lines), %d planted values" % (files, lines, log_lines, len(planted)))
ok = True
# The scan means something only when the suite left logs to scan: a whole
# run (most integration tests) leaves hundreds of log lines; a run of one or
# two tests (ctest -R ...) may leave none, and is only scanned.
dirs = sum(1 for d in os.listdir(logs) if os.path.isdir(os.path.join(logs, d))) if os.path.isdir(logs) else 0
if dirs >= 5 and log_lines < 50:
    print("FAIL %d tests left too few logs to scan (%d files, %d log lines): is TELLER_TEST_LOGS set?" % (dirs, files, log_lines))
    ok = False
for f in found[:50]:
    print("FAIL " + f)
if found:
    ok = False
print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
sys.exit(0 if ok else 1)
PY
