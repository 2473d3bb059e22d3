#!/usr/bin/env bash
# Runs the CTest suite in BUILD_DIR and ends with one line "N passed, N failed".
set -uo pipefail
dir=${1:?build dir}
log=$(mktemp)
(cd "$dir" && ctest --output-on-failure -j "$(nproc)" --timeout 900) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -n1)
failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n1)
rm -f "$log"
if [ -n "$total" ]; then
  echo "$((total - failed)) passed, $failed failed"
fi
exit "$rc"
