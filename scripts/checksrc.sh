#!/usr/bin/env bash
# checksrc.sh - the style gate of STYLE.md habit 15, in the spirit of curl's
# checksrc.pl. Checks every .c and .h file under lib/ src/ include/
# tests/unit tests/fuzz (or the files and directories given as arguments)
# and prints `file:line: problem` for each hit; exits 1 when there is any.
#
#   banned     sprintf vsprintf strcpy strcat atoi atol atof strtok gets tmpnam,
#              called as whole words in code (comments and string literals
#              are stripped first, so prose and messages may name them)
#   long       lines longer than 110 columns (characters, not bytes). Rows of
#              data tables laid out one per line (a line that opens with `{`,
#              a `[DESIGNATOR] =` or an upper-case macro call and ends with
#              `,`), and lines between /* clang-format off */ and
#              /* clang-format on */, may reach 160: wrapping a table row
#              hurts more than it helps.
#   tab        tab characters (indent with spaces)
#   trailing   whitespace at the end of a line
#   comment    a `//` comment alone on its line: `/* */` is for contract
#              comments, `//` only for trailing shape or unit notes
#   opening    a file that does not start with a `/*` comment
#
# A line may opt out of one rule with a trailing `/* checksrc: allow RULE */`
# (e.g. a banned call whose use was reviewed); say why next to it.
set -euo pipefail
if [ $# -eq 0 ]; then
  cd "$(dirname "$0")/.."
  set -- lib src include tests/unit tests/fuzz
fi
files=()
for p in "$@"; do
  if [ -d "$p" ]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$p" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
  elif [ -f "$p" ]; then
    files+=("$p")
  fi
done
[ ${#files[@]} -eq 0 ] && { echo "checksrc: no .c or .h files under: $*" >&2; exit 2; }

exec python3 - "${files[@]}" <<'PY'
import re
import sys

MAX_COLS = 110
MAX_COLS_TABLE = 160
TABLE_ROW_RE = re.compile(r"^\s*(\{|\[[A-Za-z0-9_ ]+\]\s*=|[A-Z][A-Z0-9_]*\().*[,{]\s*$")
BANNED = ["sprintf", "vsprintf", "strcpy", "strcat", "atoi", "atol", "atof", "strtok", "gets",
          "tmpnam"]
BANNED_RE = re.compile(r"\b(" + "|".join(BANNED) + r")\s*\(")
ALLOW_RE = re.compile(r"checksrc:\s*allow\s+([a-z]+)")


def lex(text):
    """Splits C source into per-line views: the code with comments and the
    contents of string and character literals blanked, and for each line
    whether a `//` comment starts on it with only blanks before it."""
    code, lonely_slash = [], []
    cur, line_has_code = [], False
    lonely = False
    i, n = 0, len(text)
    state = "code"  # code, line, block, str, chr
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "\n":
            if state == "line":
                state = "code"
            code.append("".join(cur))
            lonely_slash.append(lonely)
            cur, line_has_code, lonely = [], False, False
            i += 1
            continue
        if state == "code":
            if c == "/" and nxt == "/":
                state = "line"
                lonely = not line_has_code
                cur.append("  ")
                i += 2
                continue
            if c == "/" and nxt == "*":
                state = "block"
                cur.append("  ")
                i += 2
                continue
            if c == '"':
                state = "str"
            elif c == "'":
                state = "chr"
            cur.append(c)
            if not c.isspace():
                line_has_code = True
        elif state == "line":
            cur.append(" ")
        elif state == "block":
            if c == "*" and nxt == "/":
                state = "code"
                cur.append("  ")
                i += 2
                continue
            cur.append(" ")
        else:  # inside a string or character literal
            quote = '"' if state == "str" else "'"
            if c == "\\" and nxt:
                cur.append("  " if nxt != "\n" else " ")
                i += 1 if nxt == "\n" else 2
                continue
            if c == quote:
                state = "code"
                cur.append(c)
            else:
                cur.append(" ")
        i += 1
    code.append("".join(cur))
    lonely_slash.append(lonely)
    return code, lonely_slash


problems = 0


def report(path, lineno, raw, rule, msg):
    global problems
    m = ALLOW_RE.search(raw)
    if m and m.group(1) == rule:
        return
    problems += 1
    print(f"{path}:{lineno}: {msg}")


for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fp:
            text = fp.read()
    except OSError as e:
        print(f"{path}:0: cannot read: {e}")
        problems += 1
        continue
    raw_lines = text.split("\n")
    if raw_lines and raw_lines[-1] == "":
        raw_lines.pop()
    code, lonely = lex(text)
    if not text.lstrip("\ufeff").startswith("/*"):
        report(path, 1, raw_lines[0] if raw_lines else "", "opening",
               "file does not start with a /* comment saying what it is")
    no_format = False
    for k, raw in enumerate(raw_lines):
        ln = k + 1
        if "clang-format off" in raw:
            no_format = True
        elif "clang-format on" in raw:
            no_format = False
        table = no_format or (k < len(code) and TABLE_ROW_RE.match(code[k]) is not None)
        limit = MAX_COLS_TABLE if table else MAX_COLS
        if len(raw) > limit:
            report(path, ln, raw, "long", f"line is {len(raw)} columns, longer than {limit}")
        if "\t" in raw:
            report(path, ln, raw, "tab", "tab character")
        if raw != raw.rstrip():
            report(path, ln, raw, "trailing", "trailing whitespace")
        if k < len(lonely) and lonely[k]:
            report(path, ln, raw, "comment",
                   "// comment on a line of its own (use /* */; // only trails code)")
        if k < len(code):
            for m in BANNED_RE.finditer(code[k]):
                report(path, ln, raw, "banned", f"banned call {m.group(1)}()")

if problems:
    print(f"checksrc: {problems} problem{'s' if problems != 1 else ''}")
sys.exit(1 if problems else 0)
PY
