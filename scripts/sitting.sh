#!/usr/bin/env bash
# One benchmark sitting (docs/benchmarks.md, "Session 3 sitting", "Session 4 sitting"): an older jobsched binary (OLD)
# against a newer one (NEW), River tuned through ../shared/anchors in the same minutes, then the
# 1M burst, the daemon, latency; `sitting.sh pg`: PostgreSQL, 1 vs 3 nodes, beside River.
# Build the binaries first, e.g.:
#   git worktree add /tmp/old a799f0e && (cd /tmp/old && go build -o /tmp/sit/old-jobsched ./cmd/jobsched)
#   go build -o /tmp/sit/new-jobsched ./cmd/jobsched
#   (cd ../shared/anchors && go build -o /tmp/sit/anchors .)
# Needs jq, and Debian's postgresql for River (../shared/anchors/servers.sh).
set -u
out=${OUT:-/tmp/sit/run}; rm -rf "$out"; mkdir -p "$out"
OLD=${OLD:-/tmp/sit/old-jobsched} NEW=${NEW:-/tmp/sit/new-jobsched} ANCH=${ANCH:-/tmp/sit/anchors}
anchors_dir=$(cd "$(dirname "$0")/.." && pwd)/../shared/anchors
run() { # name bin args...
  local name=$1 bin=$2; shift 2
  local d; d=$(mktemp -d /tmp/sitdata.XXXX)
  /usr/bin/time -f "wall=%e s maxrss=%M KB user=%U sys=%S" $bin tester --data $d --json "$@" >$out/$name.json 2>$out/$name.err
  rm -rf $d
  echo "$name $(jq -c '{c: (.complete_per_s|floor), e: (.enqueue_per_s|floor), p50: .start_latency_ms.p50, p99: .start_latency_ms.p99, lost, rss: .rss_anon_max_mib, up: .startup_s}' $out/$name.json 2>/dev/null) $(tail -1 $out/$name.err)"
}
pgrun() { # name db nodes
  local name=$1 db=$2 nodes=$3
  su postgres -c "psql -h 127.0.0.1 -p 5499 -U postgres -qc 'drop database if exists $db' -c 'create database $db'" >/dev/null
  /usr/bin/time -f "wall=%e s" $NEW tester --json --nodes $nodes --store "postgres://postgres@127.0.0.1:5499/$db?sslmode=disable" \
    --jobs 20000 --batch 1000 --concurrency 4 --workers 100 >$out/$name.json 2>$out/$name.err
  echo "$name $(jq -c '{c: (.complete_per_s|floor), e: (.enqueue_per_s|floor), lost}' $out/$name.json 2>/dev/null) $(tail -1 $out/$name.err)"
}
pgpart() {
  (cd "$anchors_dir" && ./servers.sh up >/dev/null)
  for rep in 1 2 3; do
    pgrun pg1.$rep js1 1
    pgrun pg3.$rep js3 3
    su postgres -c "psql -h 127.0.0.1 -p 5499 -U postgres -qc 'drop database if exists jslat' -c 'create database jslat'" >/dev/null
    $NEW tester --json --nodes 1 --store "postgres://postgres@127.0.0.1:5499/jslat?sslmode=disable" --rate 500 --jobs 2500 --workers 100 >$out/pglat.$rep.json 2>$out/pglat.$rep.err
    echo "pglat.$rep $(jq -c '{e: (.enqueue_per_s|floor), p50: .start_latency_ms.p50, p99: .start_latency_ms.p99, lost}' $out/pglat.$rep.json 2>/dev/null)"
    $ANCH -n 20000 -single 1600 -rate 500 -rate-secs 5 -river-cooldown 1ms -river-poll 5ms river >$out/riverpg.$rep.txt 2>&1
    grep -v "level=" $out/riverpg.$rep.txt | sed "s/^/riverpg.$rep /"
  done
  (cd "$anchors_dir" && ./servers.sh down >/dev/null)
}
# `sitting.sh pgwr`: like with like on PostgreSQL, BenchmarkSchedulerWorkRate of two test binaries
# (go test -c -o /tmp/sit/pgbench-new.test ./persistence/postgres/, the same of the older commit)
# and River tuned, interleaved, a fresh database each run.
pgwr() {
  local pkg; pkg=$(cd "$(dirname "$0")/.." && pwd)/persistence/postgres
  (cd "$anchors_dir" && ./servers.sh up >/dev/null)
  for rep in 1 2 3; do
    for b in ${OLDTEST:-/tmp/sit/pgbench-old.test} ${NEWTEST:-/tmp/sit/pgbench-new.test}; do
      su postgres -c "psql -h 127.0.0.1 -p 5499 -U postgres -qc 'drop database if exists jsbench' -c 'create database jsbench'" >/dev/null
      echo "$(basename $b).$rep $(cd $pkg && BENCH_PG_DSN="postgres://postgres@127.0.0.1:5499/jsbench?sslmode=disable" BENCH_JOBS=20000 BENCH_WORKERS=100 \
        /usr/bin/time -f "cpu=%U+%S" $b -test.run XXX -test.bench 'BenchmarkSchedulerWorkRate$' -test.benchtime 1x 2>&1 | grep -E "Benchmark|cpu=" | tr '\n' ' ')"
    done
    $ANCH -n 20000 -single 1600 -rate 500 -rate-secs 5 -river-cooldown 1ms -river-poll 5ms river 2>&1 | grep -v "level=" | sed "s/^/river.$rep /"
  done
  (cd "$anchors_dir" && ./servers.sh down >/dev/null)
}
if [ "${1:-}" = pg ]; then pgpart; exit; fi
if [ "${1:-}" = pgwr ]; then pgwr; exit; fi
date -u
uptime
for rep in 1 2 3; do
  run old-burst100k.$rep $OLD --embedded --jobs 100000 --batch 1000 --workers 100
  run new-burst100k.$rep $NEW --embedded --jobs 100000 --batch 1000 --workers 100
  (cd "$anchors_dir" && ./servers.sh up >/dev/null)
  $ANCH -n 100000 -single 1600 -rate 500 -rate-secs 5 -river-cooldown 1ms -river-poll 5ms river >$out/river.$rep.txt 2>&1
  (cd "$anchors_dir" && ./servers.sh down >/dev/null)
  grep -v "level=" $out/river.$rep.txt | sed "s/^/river.$rep /"
  run old-daemon.$rep $OLD --spawn --jobs 100000 --batch 1000 --concurrency 4 --workers 100
  run new-daemon.$rep $NEW --spawn --jobs 100000 --batch 1000 --concurrency 4 --workers 100
  run old-lat500.$rep $OLD --embedded --rate 500 --jobs 5000 --workers 100
  run new-lat500.$rep $NEW --embedded --rate 500 --jobs 5000 --workers 100
  run new-lat10k.$rep $NEW --embedded --rate 10000 --jobs 50000 --workers 100
done
run old-burst1m $OLD --embedded --jobs 1000000 --batch 1000 --workers 100
run new-burst1m $NEW --embedded --jobs 1000000 --batch 1000 --workers 100
run old-backlog1m $OLD --spawn --backlog 1000000 --jobs 100000 --batch 1000 --workers 100
run new-backlog1m $NEW --spawn --backlog 1000000 --jobs 100000 --batch 1000 --workers 100
GOMEMLIMIT=off run new-backlog1m-nolimit $NEW --spawn --backlog 1000000 --jobs 100000 --batch 1000 --workers 100
date -u
