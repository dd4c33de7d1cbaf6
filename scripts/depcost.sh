#!/usr/bin/env bash
# Measures the cost of dependencies and of fairness against plain jobs (issue 15, point 5):
# each workload run with each binary in turn, ROUNDS times, one line per run (jobs/s, keys
# written per job, CPU seconds of the tester process), then the medians per workload and binary.
#
# Usage: scripts/depcost.sh ROUNDS BINARY...   e.g. scripts/depcost.sh 3 /tmp/old-jobsched /tmp/new-jobsched
# JOBS=N changes the jobs per run (100,000). The binaries must know `tester --dag-shape`. Needs jq and GNU time (/usr/bin/time).
set -euo pipefail
rounds=$1
shift
out=$(mktemp -d /tmp/depcost.XXXX)
run() { # run BINARY WORKLOAD ARGS...
  local bin=$1 w=$2 d
  shift 2
  d=$(mktemp -d "$out/run.XXXX")
  /usr/bin/time -f '%U %S %e' -o "$d/time" "$bin" tester --embedded --data "$d/s" --jobs "${JOBS:-100000}" \
    --workers 100 --seed 7 --json "$@" >"$d/out" 2>"$d/err"
  jq -r --arg b "$(basename "$bin")" --arg w "$w" --arg t "$(tail -1 "$d/time")" --arg l "$(cut -d' ' -f1 /proc/loadavg)" \
    '($t|split(" ")|map(tonumber)) as $x | [$w, $b, (.complete_per_s|floor), (.store_keys/.enqueued*100|round/100), (($x[0]+$x[1])*100|round/100), $l, (.order_violations // 0)] | @tsv' "$d/out"
  rm -rf "$d"
}
for _ in $(seq "$rounds"); do
  for w in plain1000 dag plain5000 fanin fanout tenants; do
    for b in "$@"; do
      case $w in
      plain1000) run "$b" $w --batch 1000 ;;
      dag) run "$b" $w --dag-size 1000 --dag-depth 5 ;;
      plain5000) run "$b" $w --batch 5000 ;;
      fanin) run "$b" $w --dag-size 5000 --dag-shape fan-in ;;
      fanout) run "$b" $w --dag-size 5000 --dag-shape fan-out ;;
      tenants) run "$b" $w --batch 1000 --tenants 100 --skew 1 ;;
      esac
    done
  done
done | tee "$out/runs.tsv"
echo "# workload binary runs median-jobs/s keys/job median-cpu-s (runs in $out/runs.tsv)"
sort -k1,1 -k2,2 "$out/runs.tsv" | awk -F'\t' '
  function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  function flush() { if (n) printf "%s\t%s\t%d\t%.0f\t%s\t%.2f\n", k1, k2, n, med(jps, n), keys, med(cpu, n) }
  $1 != k1 || $2 != k2 { flush(); k1 = $1; k2 = $2; n = 0; delete jps; delete cpu }
  { n++; jps[n] = $3; cpu[n] = $5; keys = $4 }
  END { flush() }'
