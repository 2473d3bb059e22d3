#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets of tests/fuzz with clang and runs each
# for a while, under ASan+UBSan. `make fuzz` calls it; `make test` only replays
# the seed corpora (fuzz.replay.* in tests/CMakeLists.txt).
#
#   scripts/fuzz.sh                  every target, FUZZ_SECONDS each
#   FUZZ_SECONDS=60 scripts/fuzz.sh fuzz_csv fuzz_json
#
# Environment: FUZZ_SECONDS (20) per target, FUZZ_MAX_LEN (4096) bytes per
# input, FUZZ_PARALLEL (1) targets at once, FUZZ_BUILD (build-fuzz) build dir,
# JOBS (nproc) for the build. Inputs found are kept in $FUZZ_BUILD/corpus/
# (the seeds in tests/fuzz/corpus/ are only read), logs in $FUZZ_BUILD/logs/,
# and a crashing input lands in $FUZZ_BUILD/crashes/ and makes the exit
# status 1. Reproduce one with: $FUZZ_BUILD/fuzz_csv CRASH_FILE
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-20}
MAX_LEN=${FUZZ_MAX_LEN:-4096}
PARALLEL=${FUZZ_PARALLEL:-1}
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}

CC_FUZZ=${CC_FUZZ:-clang}
if ! command -v "$CC_FUZZ" >/dev/null; then
  echo "fuzz.sh: $CC_FUZZ not found; libFuzzer needs clang (apt-get install clang)" >&2
  exit 2
fi

# Debug keeps assert() and TL_ALWAYS/TL_NEVER armed; -O1 keeps it fast.
CC="$CC_FUZZ" cmake -S . -B "$BUILD" -DTELLER_FUZZ=ON -DTELLER_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-O1" >/dev/null
if ! cmake --build "$BUILD" -j "$JOBS" --target fuzz_all >"$BUILD/build.log" 2>&1; then
  cat "$BUILD/build.log" >&2
  echo "fuzz.sh: the build failed (log: $BUILD/build.log)" >&2
  exit 2
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
fi
mkdir -p "$BUILD/crashes" "$BUILD/logs"

run_one() {
  local t=$1 log="$BUILD/logs/$1.log"
  mkdir -p "$BUILD/corpus/$t"
  local rc=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$BUILD/$t" -max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$t-" \
    "$BUILD/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  local execs cov corp
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
  corp=$(find "$BUILD/corpus/$t" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    printf '%-12s ok     %10s execs  cov %-6s corpus %s\n' "$t" "${execs:-?}" "${cov:-?}" "$corp"
  else
    printf '%-12s CRASH  %10s execs  cov %-6s (exit %s) see %s\n' "$t" "${execs:-?}" \
      "${cov:-?}" "$rc" "$log"
    grep -E '^==[0-9]+==ERROR|runtime error|fuzz check failed|Test unit written to' "$log" |
      head -n 5 | sed 's/^/    /'
  fi
  return "$rc"
}

echo "fuzz.sh: ${#targets[@]} targets, ${SECONDS_EACH}s each, inputs up to ${MAX_LEN} bytes"
failed=0
running=0
for t in "${targets[@]}"; do
  if [ ! -x "$BUILD/$t" ]; then
    echo "fuzz.sh: no target $t in $BUILD" >&2
    failed=1
    continue
  fi
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$PARALLEL" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: failures; crashing inputs are in $BUILD/crashes/" >&2
  exit 1
fi
