#!/usr/bin/env bash
# The command line contract: --help on every command, exit codes 0/1/2,
# --json output, configuration precedence.
source "$(dirname "$0")/lib.sh"

cmds=$(teller --help | sed -n 's/^  \([a-z]\+\) .*/\1/p')
check "teller --help lists commands" test -n "$cmds"
for c in $cmds; do
  check "$c --help exits 0 with usage" sh -c "\"$TELLER_BIN\" $c --help | grep -q '^usage: teller $c'"
  check "$c is documented in docs/cli.md" grep -q "^## teller $c" "$TELLER_SRC/docs/cli.md"
done

set +e
teller nosuch >/dev/null 2>&1; check "unknown command exits 2" test $? = 2
teller ingest >/dev/null 2>&1; check "missing arguments exit 2" test $? = 2
teller ingest --bogus x y >/dev/null 2>&1; check "unknown option exits 2" test $? = 2
teller ingest --store "sqlite:$WORK/a.db" nosuchtable "$FIX/customers.csv" 2>"$WORK/err" >/dev/null
check "unknown table exits 2" test $? = 2
check "unknown table error lists tables" grep -q "transactions" "$WORK/err"
teller ingest --store "sqlite:$WORK/a.db" customers "$WORK/missing.csv" 2>"$WORK/err"
check "missing file exits 1" test $? = 1
check "missing file error names the file" grep -q "missing.csv" "$WORK/err"
teller generate --customers abc --out "$WORK/g" >/dev/null 2>&1; check "bad number exits 2" test $? = 2
teller init --store "mysql://x" 2>"$WORK/err"; check "unsupported store URL exits 1" test $? = 1
check "unsupported URL is named" grep -q "mysql://x" "$WORK/err"
set -e

out=$(teller init --json --store "sqlite:$WORK/j.db")
check "init --json is JSON" python3 -c "import json,sys; d=json.loads(sys.stdin.read()); assert d['schema_version']>=1" <<<"$out"
set +e
out=$(teller ingest --json --store "sqlite:$WORK/j.db" accounts "$FIX/accounts.csv" 2>/dev/null)
set -e
check "errors with --json are JSON" python3 -c "import json,sys; d=json.loads(sys.stdin.read()); assert d['error']['code'] and 'customer_id' in d['error']['message']" <<<"$out"

# configuration: file < environment < flag
printf '[store]\nurl = sqlite:%s/file.db\n' "$WORK" >"$WORK/teller.ini"
out=$(teller config --config "$WORK/teller.ini")
check "config file sets store.url" grep -q "file.db.*(file)" <<<"$out"
out=$(TELLER_STORE_URL="sqlite:$WORK/env.db" teller config --config "$WORK/teller.ini")
check "environment beats file" grep -q "env.db.*(env)" <<<"$out"
out=$(TELLER_STORE_URL="sqlite:$WORK/env.db" teller config --config "$WORK/teller.ini" --store "sqlite:$WORK/flag.db")
check "flag beats environment" grep -q "flag.db.*(flag)" <<<"$out"
printf '[store]\nurll = x\n' >"$WORK/typo.ini"
set +e
teller config --config "$WORK/typo.ini" 2>"$WORK/err" >/dev/null; rc=$?
set -e
check "unknown config key fails" test $rc = 1
check "unknown config key names file:line" grep -q "typo.ini:2" "$WORK/err"
finish
