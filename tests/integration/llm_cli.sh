#!/usr/bin/env bash
# teller llm through the real program: greedy generation of stories260K
# reproduces llama2.c's run.c text exactly (from the GGUF and from the
# llama2.c checkpoint), tokenize matches llama.cpp's reference ids on a
# vocabulary-only GGUF, gen-random writes a model that run and bench load,
# and bad input (no -m, an unknown option, a corrupt file, a prompt beyond
# the context) fails with the right exit code and a message naming it.
# The parts needing $TELLER_SHARED skip visibly without it.
source "$(dirname "$0")/lib.sh"

SHARED=${TELLER_SHARED:-$TELLER_SRC/../shared}
S=$SHARED/models/stories260K
PY=/usr/bin/python3

# gen-random + run + bench need nothing from outside
rc=0; teller llm gen-random --shape tiny-llama --type q8_0 --seed 3 -o "$WORK/tiny.gguf" \
  >"$WORK/gen.out" 2>"$WORK/gen.log" || rc=$?
check "gen-random writes a tiny llama" test $rc -eq 0 -a -s "$WORK/tiny.gguf"
rc=0; teller llm run -m "$WORK/tiny.gguf" -p "hello" -n 8 --temp 0 >"$WORK/a.txt" 2>"$WORK/run.log" || rc=$?
teller llm run -m "$WORK/tiny.gguf" -p "hello" -n 8 --temp 0 >"$WORK/b.txt" 2>>"$WORK/run.log" || rc=$?
check "run on the random model exits 0" test $rc -eq 0
check "greedy runs are identical" cmp -s "$WORK/a.txt" "$WORK/b.txt"
rc=0; teller llm run -m "$WORK/tiny.gguf" -p "hello" -n 8 --temp 0.9 --seed 11 >"$WORK/c.txt" 2>>"$WORK/run.log" || rc=$?
teller llm run -m "$WORK/tiny.gguf" -p "hello" -n 8 --temp 0.9 --seed 11 >"$WORK/d.txt" 2>>"$WORK/run.log" || rc=$?
check "sampling with a seed is reproducible" bash -c "test $rc -eq 0 && cmp -s '$WORK/c.txt' '$WORK/d.txt'"
rc=0; teller llm bench -m "$WORK/tiny.gguf" -p 16 -n 8 -t 1 --reps 1 --json >"$WORK/bench.json" 2>"$WORK/bench.log" || rc=$?
check "bench reports prefill and decode speeds and peak RSS" $PY -c "
import json; d = json.load(open('$WORK/bench.json'))
assert d['pp_tok_s'] > 0 and d['tg_tok_s'] > 0 and d['peak_rss_mb'] > 0 and d['pp'] == 16, d"

# bad input
rc=0; teller llm run -p hi >"$WORK/out" 2>"$WORK/err.log" || rc=$?
check "run without -m is a usage error" bash -c "test $rc -eq 2 && grep -q -- '-m MODEL' '$WORK/err.log'"
rc=0; teller llm run -m "$WORK/tiny.gguf" --bogus >"$WORK/out" 2>"$WORK/err.log" || rc=$?
check "an unknown option is a usage error" test $rc -eq 2
head -c 4096 "$WORK/tiny.gguf" >"$WORK/cut.gguf"
rc=0; teller llm run -m "$WORK/cut.gguf" -p hi >"$WORK/out" 2>"$WORK/err.log" || rc=$?
check "a truncated GGUF exits 1 naming the file" bash -c "test $rc -eq 1 && grep -q cut.gguf '$WORK/err.log'"
rc=0; teller llm run -m "$WORK/nope.gguf" -p hi >"$WORK/out" 2>"$WORK/err.log" || rc=$?
check "a missing model exits 1 naming it" bash -c "test $rc -eq 1 && grep -q nope.gguf '$WORK/err.log'"
long=$($PY -c "print('word ' * 400)")
rc=0; teller llm run -m "$WORK/tiny.gguf" -c 64 -p "$long" -n 4 >"$WORK/out" 2>"$WORK/err.log" || rc=$?
check "a prompt beyond the context exits 1 saying so" bash -c "test $rc -eq 1 && grep -qi 'context' '$WORK/err.log'"

if [ -r "$S/stories260K.gguf" ] && [ -r "$S/expected_greedy.json" ]; then
  # run.c's 200 steps: the empty prompt generates 200 tokens, the other
  # prompt (9 ids with BOS) 192; teller prints the generated text only
  rc=0; teller llm run -m "$S/stories260K.gguf" -p "Lily went to the park" -n 192 --temp 0 \
    >"$WORK/lily.txt" 2>"$WORK/lily.log" || rc=$?
  check "stories260K.gguf runs greedy" test $rc -eq 0
  check "stories260K.gguf reproduces run.c's text exactly" $PY -c "
import json; d = json.load(open('$S/expected_greedy.json'))
c = [c for c in d['cases'] if c['prompt'] == 'Lily went to the park'][0]
out = open('$WORK/lily.txt').read()
assert c['prompt'] + out[:-1] == c['text'], (out[:80], c['text'][:80])"
  rc=0; teller llm run -m "$S/stories260K.bin" --tokenizer "$S/tok512.bin" -n 200 --temp 0 \
    >"$WORK/once.txt" 2>"$WORK/once.log" || rc=$?
  check "the llama2.c checkpoint reproduces run.c's empty-prompt text exactly" $PY -c "
import json; d = json.load(open('$S/expected_greedy.json'))
c = [c for c in d['cases'] if c['prompt'] == ''][0]
assert $rc == 0 and open('$WORK/once.txt').read()[:-1] == c['text']"
  printf 'Lily went to the park' | teller llm tokenize -m "$S/stories260K.gguf" --bos >"$WORK/ids.txt"
  check "tokenize gives run.c's prompt ids" grep -qx "1 317 263 377 267 265 282 295 433" "$WORK/ids.txt"
  rc=0; printf 'Once upon a time' | teller llm chat -m "$S/stories260K.gguf" -n 8 --temp 0 \
    >"$WORK/chat.txt" 2>"$WORK/chat.log" || rc=$?
  check "chat answers a line through the default template" bash -c "test $rc -eq 0 -a -s '$WORK/chat.txt'"
else
  echo "SKIP stories260K: not found under $S (set TELLER_SHARED)"
fi

V=$SHARED/data/tokenizer
if [ -r "$V/ggml-vocab-phi-3.gguf.inp" ]; then
  # case 7 of llama.cpp's vectors, through stdin, against its .out line
  $PY - "$V/ggml-vocab-phi-3.gguf.inp" "$WORK/case.txt" <<'PY'
import sys
cases = open(sys.argv[1], encoding="utf-8").read().split("\n__ggml_vocab_test__\n")
open(sys.argv[2], "w", encoding="utf-8").write(cases[7])
PY
  teller llm tokenize -m "$V/ggml-vocab-phi-3.gguf" <"$WORK/case.txt" >"$WORK/case.ids"
  want=$(sed -n 8p "$V/ggml-vocab-phi-3.gguf.out" | sed 's/^ *//')
  check "tokenize on a vocabulary-only GGUF matches llama.cpp's reference ids" \
    test "$(cat "$WORK/case.ids")" = "$want"
else
  echo "SKIP tokenizer vectors: not found under $V (set TELLER_SHARED)"
fi
finish
