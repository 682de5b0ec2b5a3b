#!/usr/bin/env bash
# Runs every libFuzzer target for a while (default 600 s each, all at once) over the checked-in
# seeds; new inputs go to build/fuzz-corpus/, crashes to build/fuzz-crashes/. Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
scripts/build.sh >/dev/null
mkdir -p build/fuzz-crashes
pids=()
for target in driver_image program_image reg_file; do
  mkdir -p "build/fuzz-corpus/$target"
  build/bin/ntbox_fuzz_$target -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="build/fuzz-crashes/$target-" -print_final_stats=1 \
    "build/fuzz-corpus/$target" "tests/fuzz/corpus/$target" >"build/fuzz-$target.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for target in driver_image program_image reg_file; do
  echo "== $target"
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)|Done|ERROR|crash" \
    "build/fuzz-$target.log" || true
done
exit "$status"
