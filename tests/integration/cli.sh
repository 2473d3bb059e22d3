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

# the library as a user gets it: install to a prefix, build docs/library.md's
# example with pkg-config, run it on the mini bank
build_dir=$(dirname "$TELLER_BIN")
cmake --install "$build_dir" --prefix "$WORK/prefix" >/dev/null
pcdir=$(dirname "$(find "$WORK/prefix" -name teller.pc | head -1)")
check "teller.pc is installed" test -f "$pcdir/teller.pc"
check "headers are installed" test -f "$WORK/prefix/include/teller/teller.h"
python3 - "$TELLER_SRC/docs/library.md" "$WORK/app.c" <<'PY'
import re, sys
md = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.findall(r"```c\n(.*?)```", md, re.S)[0])
PY
san=""; grep -q __asan_init < <(nm "$TELLER_BIN") && san="-fsanitize=address,undefined"
check "docs/library.md example compiles with pkg-config" \
  sh -c "cc $san -o '$WORK/app' '$WORK/app.c' \$(PKG_CONFIG_PATH='$pcdir' pkg-config --cflags --libs teller) -Wl,-rpath,'$WORK/prefix/lib'"
(cd "$WORK" && cp "$FIX/transactions.csv" tx.csv && "$TELLER_BIN" init --store sqlite:bank.db >/dev/null \
  && "$TELLER_BIN" ingest --quiet --store sqlite:bank.db products "$FIX/products.csv" >/dev/null \
  && "$TELLER_BIN" ingest --quiet --store sqlite:bank.db customers "$FIX/customers.csv" >/dev/null \
  && "$TELLER_BIN" ingest --quiet --store sqlite:bank.db accounts "$FIX/accounts.csv" >/dev/null)
out=$(cd "$WORK" && ./app 2>&1 || true)
grep -q "loaded 4 rows" <<<"$out" || echo "example said: $out"
check "the example loads 4 rows" grep -q "loaded 4 rows" <<<"$out"

# docs/data-formats.md holds exactly what `teller schema --markdown` prints
check "docs/data-formats.md matches teller schema --markdown" \
  python3 -c "import sys; assert sys.argv[1] in open(sys.argv[2]).read()" "$(teller schema --markdown)" "$TELLER_SRC/docs/data-formats.md"
finish
