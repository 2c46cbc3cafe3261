#!/usr/bin/env bash
# overhead.sh: what the loaded library costs ordinary transactions: pgbench
# TPS with reset_system in shared_preload_libraries (launcher running,
# commit hook installed) against the same server without it.  Two
# workloads: select-only (-S: the commit hook's share is largest there) and
# TPC-B like with synchronous_commit = off (so that the disk's flush times,
# which vary far more than any hook, do not decide the result).  ROUNDS
# (default 5) rounds of DURATION seconds (default 15), alternating the
# order (ABBA) against drift; the medians are compared, and the spread of
# the runs without the library is the noise the ratio is judged against.
#
#   bash test/bench/overhead.sh OUT.csv
#
# Each line of OUT.csv: overhead,WORKLOAD,SCALE,preloaded|plain,MEDIAN_TPS,MIN_TPS,MAX_TPS.

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/lib.sh"

OUT=${1:?usage: overhead.sh OUT.csv}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-15}
SCALE=${SCALE:-10}

install_packages
WORK=$(make_workdir bench-overhead)
build_and_install "$WORK"
CL=$WORK/cluster
PORT=$(free_port)
start_cluster "$CL" "$PORT" "log_min_messages = warning" "shared_buffers = 256MB" "synchronous_commit = off"
trap 'stop_cluster "$CL"; rm -rf "$WORK"' EXIT
psqlq -d postgres -c "CREATE DATABASE bench" -c "ALTER DATABASE bench SET reset_system.environment = 'benchmark'"
run_pg pgbench -q -i -s "$SCALE" bench >/dev/null 2>&1
psqlq -d bench -c "CREATE EXTENSION reset_system"

# tps MODE WORKLOAD: restart with or without the library preloaded, run
# pgbench
tps() {
    local flags=
    if [ "$1" = preloaded ]; then
        psqlq -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'reset_system'"
    else
        psqlq -d postgres -c "ALTER SYSTEM RESET shared_preload_libraries"
    fi
    [ "$2" = select-only ] && flags=-S
    run_pg pg_ctl -D "$CL/data" -l "$CL/server.log" -w restart >/dev/null
    run_pg pgbench -n $flags -c 2 -j 2 -T "$DURATION" bench 2>/dev/null | awk '/^tps = / {print $3}'
}

for workload in select-only tpcb; do
    declare -a pre=() plain=()
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            pre+=("$(tps preloaded $workload)"); plain+=("$(tps plain $workload)")
        else
            plain+=("$(tps plain $workload)"); pre+=("$(tps preloaded $workload)")
        fi
        echo "  $workload round $r: preloaded ${pre[-1]} tps, plain ${plain[-1]} tps"
    done
    for mode in preloaded plain; do
        if [ $mode = preloaded ]; then vals=("${pre[@]}"); else vals=("${plain[@]}"); fi
        csv "$OUT" overhead "$workload" "$SCALE" $mode \
            "$(printf '%s\n' "${vals[@]}" | median)" \
            "$(printf '%s\n' "${vals[@]}" | sort -g | head -1)" \
            "$(printf '%s\n' "${vals[@]}" | sort -g | tail -1)"
    done
    p=$(printf '%s\n' "${pre[@]}" | median)
    q=$(printf '%s\n' "${plain[@]}" | median)
    echo "pgbench $workload (scale $SCALE, 2 clients, ${DURATION}s x $ROUNDS): preloaded $p tps, plain $q tps, ratio $(ratio "$p" "$q")"
done
