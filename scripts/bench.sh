#!/usr/bin/env bash
# Runs the benchmark table of issue 13 with `jobsched tester` and writes docs/benchmarks.md's
# generated section (between its bench.sh markers) and docs/bench-backlog.png.
#
# Usage: scripts/bench.sh [--quick] [--reps N] [--out DIR] [--no-river] [--doc FILE] [--plot FILE]
#   --quick     small sizes, one repetition unless --reps: a smoke test of the whole chain
#   --reps N    repetitions of each run; the tables show medians (default 3)
#   --out DIR   where the JSON reports and logs go (default: a new directory under /tmp)
#   --no-river  skip River (otherwise run when Debian's PostgreSQL is installed)
# Run it from anywhere; it works on the repository it sits in. One sitting: run it on a quiet
# machine, nothing else compiling or testing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
anchors=${ANCHORS:-$root/../shared/anchors}
[ -d "$anchors" ] || anchors=/work/shared/anchors
quick=0 reps="" out="" river=1
doc=$root/docs/benchmarks.md plot=$root/docs/bench-backlog.png
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --reps) reps=$2; shift ;;
    --out) out=$2; shift ;;
    --no-river) river=0 ;;
    --doc) doc=$2; shift ;;
    --plot) plot=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$reps" ] || reps=$([ $quick = 1 ] && echo 1 || echo 3)
case $reps in ''|*[!0-9]*|0) echo "bench.sh: --reps wants a positive number, got '$reps'" >&2; exit 2 ;; esac
[ -n "$out" ] || out=$(mktemp -d /tmp/jobsched-bench.XXXXXX)
mkdir -p "$out"
scratch=$(mktemp -d /tmp/jobsched-bench-data.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

if [ $quick = 1 ]; then
  bursts="5000 20000"; daemon=5000; rate_secs=1; backlogs="0 2000 10000 50000"; burst_on_top=5000
  spreads="1 10 100 1000"; spread_jobs=5000; rss=50000; river_n=5000; river_single=320; river_secs=1
else
  bursts="100000 1000000"; daemon=100000; rate_secs=10; backlogs="0 10000 100000 1000000"; burst_on_top=100000
  spreads="1 10 100 1000"; spread_jobs=100000; rss=1000000; river_n=100000; river_single=1600; river_secs=5
fi

bin=$out/jobsched
echo "building jobsched into $bin" >&2
(cd "$root" && go build -o "$bin" ./cmd/jobsched)

{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "mode=$([ $quick = 1 ] && echo 'QUICK (small sizes, a smoke test: not figures to quote)' || echo full)"
  echo "repetitions=$reps (medians; a range when they differ)"
  echo "machine=$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)"
  echo "commit=$(cd "$root" && git rev-parse --short HEAD)$(cd "$root" && git diff --quiet HEAD -- . ':!docs' || echo ' + uncommitted changes')"
} >"$out/meta.txt"

# one NAME REP ARGS...: a tester run on a fresh data directory, its JSON report in NAME.REP.json.
one() {
  local name=$1 rep=$2; shift 2
  local data=$scratch/$name.$rep
  echo "== $name (repetition $rep): jobsched tester $*" >&2
  if ! "$bin" tester --data "$data" --json --seed $((rep * 7919)) --deadline 15m "$@" \
      >"$out/$name.$rep.json" 2>"$out/$name.$rep.log"; then
    echo "   FAILED, see $out/$name.$rep.log" >&2
  fi
  jq -c '{completed: .complete_per_s, enqueued: .enqueue_per_s, p99_ms: .start_latency_ms.p99, startup_s, rss_anon_max_mib, lost}' \
    "$out/$name.$rep.json" >&2 2>/dev/null || true
  rm -rf "$data"
}

fast="--batch 1000 --workers 100 --duration-ms 0 --max-attempts 1"
for rep in $(seq 1 "$reps"); do
  for n in $bursts; do one "burst-$n" "$rep" --embedded --jobs "$n" $fast; done
  one "daemon-$daemon" "$rep" --spawn --jobs "$daemon" $fast --concurrency 4
  for r in 500 10000; do
    one "rate-$r" "$rep" --embedded --rate "$r" --jobs $((r * rate_secs)) --batch 1 --concurrency 256 --workers 100 --max-attempts 1
  done
  for b in $backlogs; do one "backlog-$b" "$rep" --embedded --backlog "$b" --jobs "$burst_on_top" $fast; done
  for c in $spreads; do
    one "spread-$c" "$rep" --embedded --spread "$c" --jobs "$spread_jobs" --batch 1000 --workers $((c > 100 ? c : 100)) --max-attempts 1
  done
  one "rss-$rss" "$rep" --spawn --backlog "$rss" --jobs 0 --workers 100 --max-attempts 1
done

# River tuned, the same sitting, through ../shared/anchors (PostgreSQL on loopback, port 5499).
if [ $river = 1 ]; then
  if ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    (cd "$anchors" && go build -o "$out/anchors" .)
    "$anchors/servers.sh" up >"$out/servers.log" 2>&1 || true
    for rep in $(seq 1 "$reps"); do
      echo "== River tuned (repetition $rep)" >&2
      "$out/anchors" -n "$river_n" -single "$river_single" -rate 500 -rate-secs "$river_secs" \
        -river-cooldown 1ms -river-poll 5ms river >"$out/river.$rep.txt" 2>"$out/river.$rep.log" ||
        echo "   River FAILED, see $out/river.$rep.log" >&2
      grep -h "work 100 workers" "$out/river.$rep.txt" >&2 || true
    done
    "$anchors/servers.sh" down >>"$out/servers.log" 2>&1 || true
    echo "river=tuned (FetchCooldown 1 ms, FetchPollInterval 5 ms), $river_n jobs, via $anchors" >>"$out/meta.txt"
  else
    echo "river=not run: PostgreSQL (Debian's postgresql package) is not installed" >>"$out/meta.txt"
  fi
else
  echo "river=not run (--no-river)" >>"$out/meta.txt"
fi

(cd "$root" && go run ./scripts/benchreport -in "$out" -doc "$doc" -plot "$plot")
echo "results in $out; tables written to $doc, plot to $plot" >&2
