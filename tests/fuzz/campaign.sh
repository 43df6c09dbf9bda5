#!/usr/bin/env bash
# A fuzzing campaign: runs each named harness (default: all) for FUZZ_RUNS executions (default
# 10 million), one at a time, at low priority, keeping the corpus it grows in build/fuzz/corpus/.
# Logs go to build/fuzz/campaign/<name>.log; the last lines of each are libFuzzer's final stats
# (stat::number_of_executed_units, stat::average_exec_per_sec). Build first: make fuzz-bin.
# FUZZ_TIME=<seconds> also stops each harness after that long. Extra libFuzzer flags can be
# given in FUZZ_FLAGS (e.g. "-max_len=2048").
set -u
cd "$(dirname "$0")/../.."
runs=${FUZZ_RUNS:-10000000}
names=("$@")
if [ ${#names[@]} = 0 ]; then
  for b in build/fuzz/fuzz_*; do names+=("${b##*/fuzz_}"); done
fi
mkdir -p build/fuzz/campaign build/fuzz/artifacts
export FUNDLEDGER_SHARED_DIR=${FUNDLEDGER_SHARED_DIR:-../shared}
status=0
for n in "${names[@]}"; do
  mkdir -p "build/fuzz/corpus/$n"
  log="build/fuzz/campaign/$n.log"
  echo "campaign $n: $runs runs, started $(date -u +%FT%TZ)" | tee "$log"
  start=$(date +%s)
  # shellcheck disable=SC2086
  nice -n 10 "build/fuzz/fuzz_$n" -runs="$runs" -max_total_time="${FUZZ_TIME:-0}" -print_final_stats=1 ${FUZZ_FLAGS:-} \
    -artifact_prefix="build/fuzz/artifacts/$n-" "build/fuzz/corpus/$n" "tests/fuzz/corpus/$n" >>"$log" 2>&1
  rc=$?
  end=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus=$(find "build/fuzz/corpus/$n" -type f | wc -l)
  echo "campaign $n: exit $rc, ${execs:-?} executions, ${rate:-?} exec/s, $((end - start)) s, corpus $corpus files, finished $(date -u +%FT%TZ)" | tee -a "$log"
  [ "$rc" = 0 ] || status=1
done
exit $status
