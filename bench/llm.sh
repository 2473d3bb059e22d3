#!/usr/bin/env bash
# LLM benchmark: Teller's engine against llama.cpp's llama-bench on the same
# random-weight GGUF files, the same thread count, in one run.
#
#   Files (made once with `teller llm gen-random`, kept in $LLM_BENCH_DIR):
#     Qwen2.5-0.5B shapes, Q8_0 and the Q4_K_M mix; Llama-3.2-1B, Q4_K_M mix.
#   Tests: llama-bench's pp (one batch of PP prompt tokens into an empty cache)
#   and tg (TG single-token decodes), tokens/s; peak RSS of the process
#   (/usr/bin/time %M). The engines alternate for ROUNDS rounds (each round
#   one repetition of each test per engine), medians compared, because decode
#   on a shared machine moves by +-10% between rounds.
#   Share of the memory-bandwidth limit: weight bytes read per token (every
#   matrix once; the tied embedding is read as the output matrix) x tg tok/s
#   / the read bandwidth of THREADS threads (bench/llm_kernels.c bw).
# Goals (issue 6), 2 threads: decode >= 1.0x llama.cpp, prefill >= 0.7x,
# peak RSS <= 1.1x.
#
# usage: LLAMA_BENCH=/path/to/llama-bench bash bench/llm.sh
#   (needs a Release build in build/: make build; llama-bench built from
#   llama.cpp's source outside this repository, e.g.
#   cmake -B build -DGGML_NATIVE=ON && cmake --build build --target llama-bench)
#   env: THREADS=2 ROUNDS=5 PP=512 TG=128 LLM_BENCH_DIR=/tmp/teller-llm-bench
#        TELLER=build/teller KERNELS=build/llm_kernels MODELS="qwen-q8 qwen-q4km llama-q4km"
set -euo pipefail
cd "$(dirname "$0")/.."
T=${TELLER:-build/teller}
K=${KERNELS:-$(dirname "$T")/llm_kernels}
LB=${LLAMA_BENCH:-}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
PP=${PP:-512}
TG=${TG:-128}
DIR=${LLM_BENCH_DIR:-/tmp/teller-llm-bench}
MODELS=${MODELS:-"qwen-q8 qwen-q4km llama-q4km"}
[ -x "$T" ] && [ -x "$K" ] || { echo "build first: make build ($T, $K)"; exit 1; }
[ -n "$LB" ] && [ -x "$LB" ] || {
  echo "set LLAMA_BENCH to llama.cpp's llama-bench (built from source, outside the repository)"
  exit 1
}
mkdir -p "$DIR"

file_of() {
  case $1 in
    qwen-q8) echo "$DIR/qwen2.5-0.5b-random-q8_0.gguf" ;;
    qwen-q4km) echo "$DIR/qwen2.5-0.5b-random-q4_k_m.gguf" ;;
    llama-q4km) echo "$DIR/llama-3.2-1b-random-q4_k_m.gguf" ;;
  esac
}
make_model() {
  local f; f=$(file_of "$1")
  [ -s "$f" ] && return 0
  case $1 in
    qwen-q8) "$T" llm gen-random --shape qwen2.5-0.5b --type q8_0 -o "$f" ;;
    qwen-q4km) "$T" llm gen-random --shape qwen2.5-0.5b --type q4_k_m -o "$f" ;;
    llama-q4km) "$T" llm gen-random --shape llama-3.2-1b --type q4_k_m -o "$f" ;;
  esac >/dev/null
}

echo "== LLM: Teller vs llama.cpp llama-bench, $THREADS threads, pp$PP / tg$TG, $ROUNDS rounds =="
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
BW=$("$K" bw "$THREADS")
echo "read bandwidth with $THREADS threads: $BW GB/s"
for m in $MODELS; do make_model "$m"; done

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
for m in $MODELS; do
  f=$(file_of "$m")
  for r in $(seq 1 "$ROUNDS"); do
    /usr/bin/time -f %M -o "$W/$m.t.$r.rss" "$T" llm bench -m "$f" -p "$PP" -n "$TG" -t "$THREADS" \
      --reps 1 --json >"$W/$m.t.$r.json"
    /usr/bin/time -f %M -o "$W/$m.l.$r.rss" "$LB" -m "$f" -p "$PP" -n "$TG" -t "$THREADS" -r 1 \
      -o json >"$W/$m.l.$r.json" 2>/dev/null
  done
done

/usr/bin/python3 - "$W" "$BW" "$ROUNDS" "$MODELS" <<'PY'
import json, os, statistics, sys
w, bw, rounds, models = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split()
def rss(p):
    return int(open(p).read().split()[-1]) / 1024.0
print("%-11s %-9s %10s %10s %9s %9s %s" % ("model", "engine", "pp tok/s", "tg tok/s", "RSS MB",
                                          "bw share", "weights"))
rows = []
for m in models:
    tp, tt, lp, lt, trs, lrs = [], [], [], [], [], []
    wb = None
    for r in range(1, rounds + 1):
        t = json.load(open(os.path.join(w, "%s.t.%d.json" % (m, r))))
        tp.append(t["pp_tok_s"]); tt.append(t["tg_tok_s"]); wb = t["weight_bytes"]
        trs.append(rss(os.path.join(w, "%s.t.%d.rss" % (m, r))))
        for e in json.load(open(os.path.join(w, "%s.l.%d.json" % (m, r)))):
            (lp if e["n_prompt"] > 0 else lt).append(e["avg_ts"])
        lrs.append(rss(os.path.join(w, "%s.l.%d.rss" % (m, r))))
    med = statistics.median
    T = (med(tp), med(tt), med(trs)); L = (med(lp), med(lt), med(lrs))
    for name, (pp, tg, rs) in (("teller", T), ("llama.cpp", L)):
        print("%-11s %-9s %10.1f %10.2f %9.1f %8.0f%% %.0f MB" % (m, name, pp, tg, rs,
              100 * wb * tg / 1e9 / bw, wb / 1e6))
    rows.append((m, T[1] / L[1], T[0] / L[0], T[2] / L[2]))
print()
print("%-11s %22s %22s %22s" % ("model", "decode (>= 1.0x)", "prefill (>= 0.7x)", "peak RSS (<= 1.1x)"))
for m, d, p, r in rows:
    print("%-11s %15.2fx %-6s %15.2fx %-6s %15.2fx %-6s" % (m, d, "met" if d >= 1.0 else "NOT",
          p, "met" if p >= 0.7 else "NOT", r, "met" if r <= 1.1 else "NOT"))
PY
