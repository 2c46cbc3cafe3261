#!/usr/bin/env bash
# run-all.sh: every benchmark in one run, then docs/benchmarks.md and its
# plots (PNG, gnuplot).
#
#   bash test/bench/run-all.sh
#
# Each part sets up its own throwaway cluster and servers (see the scripts
# for their knobs: ROWS, TABLES, SIZES, BACKENDS, PEER_MAX, ...):
#   reset_matrix.sh   emptying the database and the plan, against bare
#                     TRUNCATE, a per-table TRUNCATE loop and ORM deletes
#   purge_matrix.sh   purge throughput per backend against rclone, aws, rm -rf
#   overhead.sh       pgbench with and without the library preloaded
#   worker_memory.sh  the purge worker's memory at 10 thousand and 1 million
#                     queued objects
#   storage_check.sh  the file backend's storage check at 1 million keys
# The full default run takes about 40 minutes on 2 cores.  PARTS (default all
# five, in that order) runs only some of them; RESULTS names an existing
# CSV to append to, so an interrupted run can be finished part by part.

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/lib.sh"

install_packages gnuplot-nox python3
BENCH=$(cd "$(dirname "$0")" && pwd)
OUTDIR=${OUTDIR:-$ROOT/docs}
PARTS=${PARTS:-"reset_matrix purge_matrix overhead worker_memory storage_check"}
if [ -z "${RESULTS:-}" ]; then
    RESULTS=$(mktemp /tmp/reset_system-bench.XXXXXX.csv)
fi
touch "$RESULTS"
chmod 644 "$RESULTS"

for part in $PARTS; do
    say "benchmark: $part"
    bash "$BENCH/$part.sh" "$RESULTS"
done

mkdir -p "$OUTDIR"
/usr/bin/python3 "$BENCH/report.py" "$RESULTS" "$OUTDIR" "$(machine_description)" "bash test/bench/run-all.sh"
cp "$RESULTS" "$OUTDIR/benchmarks.csv"
say "results: $OUTDIR/benchmarks.md (raw numbers in $OUTDIR/benchmarks.csv)"
