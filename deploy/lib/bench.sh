#!/usr/bin/env bash
# Helpers shared by the deploy/bench-* scripts. Source this file; it only defines
# functions.

# target NAME FIGURE REFERENCE RESULT GOAL MET
# Adds one row to the run's summary of the Performance targets (deploy/bench sets
# BENCH_SUMMARY to a file and prints the rows at the top of its report; a benchmark run
# on its own prints them at its end). MET is yes, no or n/a; every figure is one this run
# measured.
target() {
  local row
  row=$(printf '| %s | %s | %s | %s | %s | %s |' "$@")
  if [[ -n ${BENCH_SUMMARY:-} ]]; then
    printf '%s\n' "$row" >>"$BENCH_SUMMARY"
  else
    BENCH_OWN_SUMMARY+=("$row")
  fi
}

# The summary rows of a benchmark run on its own, as a Markdown table (call at the end).
summary_table() {
  ((${#BENCH_OWN_SUMMARY[@]})) || return 0
  echo
  summary_header
  printf '%s\n' "${BENCH_OWN_SUMMARY[@]}"
}

summary_header() {
  echo "| target | Sitrep | reference (same run) | result | goal | met |"
  echo "| --- | ---: | ---: | ---: | ---: | :---: |"
}

# ratio A B -> A/B to two decimals (three below 0.1).
ratio() { python3 -c "r = $1 / $2; print(round(r, 3 if r < 0.1 else 2))"; }

# at_least VALUE GOAL -> yes or no
at_least() { python3 -c "print('yes' if $1 >= $2 else 'no')"; }

# at_most VALUE GOAL -> yes or no
at_most() { python3 -c "print('yes' if $1 <= $2 else 'no')"; }

# ms TEXT -> milliseconds from a wrk latency ("870.00us", "12.5ms", "1.02s").
ms() {
  python3 -c "
import re, sys
m = re.fullmatch(r'([0-9.]+)(us|ms|s|m)', '$1')
if not m: sys.exit('not a latency: $1')
v, u = float(m.group(1)), m.group(2)
print(round(v / 1000 if u == 'us' else v if u == 'ms' else v * 1000 if u == 's' else v * 60000, 3))"
}
BENCH_OWN_SUMMARY=()
