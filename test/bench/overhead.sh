#!/usr/bin/env bash
# overhead.sh: what the loaded library costs ordinary transactions: pgbench
# TPS with reset_system in shared_preload_libraries (launcher running,
# commit hook installed) against the same server without it, alternating
# restarts, median of ROUNDS (default 3) runs of DURATION seconds
# (default 20) each.
#
#   bash test/bench/overhead.sh OUT.csv
#
# Each line of OUT.csv: overhead,pgbench,SCALE,preloaded|plain,TPS.

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/lib.sh"

OUT=${1:?usage: overhead.sh OUT.csv}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
SCALE=${SCALE:-10}

install_packages
WORK=$(make_workdir bench-overhead)
build_and_install "$WORK"
CL=$WORK/cluster
PORT=$(free_port)
start_cluster "$CL" "$PORT" "log_min_messages = warning" "shared_buffers = 256MB"
trap 'stop_cluster "$CL"; rm -rf "$WORK"' EXIT
psqlq -d postgres -c "CREATE DATABASE bench" -c "ALTER DATABASE bench SET reset_system.environment = 'benchmark'"
run_pg pgbench -q -i -s "$SCALE" bench >/dev/null 2>&1
psqlq -d bench -c "CREATE EXTENSION reset_system"

# tps MODE: restart with or without the library preloaded, run pgbench
tps() {
    if [ "$1" = preloaded ]; then
        psqlq -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'reset_system'"
    else
        psqlq -d postgres -c "ALTER SYSTEM RESET shared_preload_libraries"
    fi
    run_pg pg_ctl -D "$CL/data" -l "$CL/server.log" -w restart >/dev/null
    run_pg pgbench -n -c 2 -j 2 -T "$DURATION" bench 2>/dev/null | awk '/^tps = / {print $3}'
}

declare -a pre plain
for r in $(seq "$ROUNDS"); do
    pre+=("$(tps preloaded)")
    plain+=("$(tps plain)")
    echo "  round $r: preloaded ${pre[-1]} tps, plain ${plain[-1]} tps"
done
p=$(printf '%s\n' "${pre[@]}" | median)
q=$(printf '%s\n' "${plain[@]}" | median)
csv "$OUT" overhead pgbench "$SCALE" preloaded "$p"
csv "$OUT" overhead pgbench "$SCALE" plain "$q"
echo "pgbench (scale $SCALE, 2 clients, ${DURATION}s x $ROUNDS): preloaded $p tps, plain $q tps, ratio $(ratio "$p" "$q")"
