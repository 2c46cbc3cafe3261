#!/usr/bin/env bash
# many_tables.sh: how the plan and the reset scale with the number of
# tables when each table holds a storage column.  For each N in SIZES
# (default "1000 3000 5000"), a database of N one-row tables, each with a
# registered storage column (file backend), against a baseline measured in
# the same run: the same N tables without storage columns.
#
#   bash test/bench/many_tables.sh OUT.csv
#
# Measured per N: reset_plan() seconds, reset_execute seconds, the
# backend's peak private memory (RssAnon, sampled from /proc while the
# plan and the reset run) and its VmHWM (read by the backend itself at the
# end; it also counts the shared memory the backend touched, shared_buffers
# and the lock table, which grows with the tables opened whatever the
# extension does), and the purge worker's peak RssAnon and VmHWM (the
# targets are on RssAnon, as in worker_memory.sh).  Targets at 5,000
# tables with storage columns: plan under 3 s, reset under 10 s, backend
# and worker peaks (RssAnon) under 200 MB and 64 MB.  Not a timed test:
# the numbers are printed, never asserted.  TIMEOUT (default 300 s)
# bounds each statement, so a slow build reports "timeout" instead of
# hanging.  The cluster runs with max_locks_per_transaction = LOCKS
# (default 256): the reset locks every table, index and sequence it
# empties, and 5,000 tables need more than the default 64 x 100.
#
# Each line of OUT.csv:
# many_tables,file,N,KIND,PLAN_S,EXECUTE_S,BACKEND_HWM_KB,BACKEND_ANON_KB,WORKER_ANON_KB,WORKER_HWM_KB.

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/lib.sh"

OUT=${1:?usage: many_tables.sh OUT.csv}
SIZES=${SIZES:-"1000 3000 5000"}
TIMEOUT=${TIMEOUT:-300}
LOCKS=${LOCKS:-256}

install_packages
WORK=$(make_workdir bench-tables)
build_and_install "$WORK"
CL=$WORK/cluster
start_cluster "$CL" "$(free_port)" "log_min_messages = warning" "max_locks_per_transaction = $LOCKS"
trap 'stop_cluster "$CL"; rm -rf "$WORK"' EXIT
run_pg mkdir -p "$WORK/media"

# make_db DB N STORAGE: N one-row tables, registered for deletion; with
# STORAGE=yes each has a storage column holding one key (the file does not
# exist, so the purge finds it already gone).  Tables are created 250 per
# transaction so that creating them does not need the raised lock limit.
make_db() {
    local db=$1 n=$2 storage=$3 from
    psqlq -d postgres -c "CREATE DATABASE $db" -c "ALTER DATABASE $db SET reset_system.environment = 'benchmark'"
    psqlq -d "$db" -c "CREATE EXTENSION reset_system" \
        -c "SELECT reset_configure_storage('file', jsonb_build_object('root', '$WORK/media'))" >/dev/null
    for ((from = 1; from <= n; from += 250)); do
        psqlq -d "$db" -o /dev/null <<SQL
DO \$\$
BEGIN
    FOR i IN $from..LEAST($from + 249, $n) LOOP
        IF '$storage' = 'yes' THEN
            EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, file_key text)', i);
            EXECUTE format('INSERT INTO t%s VALUES (1, %L)', i, format('m/%s/%s.bin', i % 100, i));
            PERFORM reset_register_table(format('t%s', i)::regclass, 'delete', 'file', '{file_key}');
        ELSE
            EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, payload text)', i);
            EXECUTE format('INSERT INTO t%s VALUES (1, %L)', i, md5(i::text));
            PERFORM reset_register_table(format('t%s', i)::regclass, 'delete');
        END IF;
    END LOOP;
END \$\$;
SQL
    done
    psqlq -d "$db" -c "VACUUM ANALYZE" >/dev/null
}

# watch_backend DB FILE: sample the bench session's backend in DB (found by
# its application_name) until it exits; writes "peak_rss_anon_kb" to FILE.
# RssAnon is the backend's own memory; VmHWM also counts the pages of
# shared memory it touched (shared_buffers, the lock table), so it is
# reported too but is not what the 200 MB target is about.
watch_backend() {
    local db=$1 file=$2 anon=0 pid="" v tries=0
    while [ -z "$pid" ] && [ $tries -lt 100 ]; do
        pid=$(psqlq -d "$db" -At -c "SELECT pid FROM pg_stat_activity
                 WHERE application_name = 'many_tables_bench' AND datname = '$db'")
        tries=$((tries + 1))
        [ -z "$pid" ] && sleep 0.05
    done
    while [ -n "$pid" ] && [ -e /proc/"$pid" ]; do
        v=$(awk '/^RssAnon:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$anon" ] && anon=$v
        sleep 0.05
    done
    echo "$anon" >"$file"
}

# measure DB: "PLAN_S EXECUTE_S BACKEND_HWM_KB BACKEND_ANON_KB" of one
# session that plans and then resets; a statement over TIMEOUT prints
# "timeout" in its place.
measure() {
    local db=$1 out anon_file
    anon_file=$(mktemp)
    watch_backend "$db" "$anon_file" &
    out=$(PGAPPNAME=many_tables_bench psqlq -d "$db" -At -v ON_ERROR_STOP=0 2>/dev/null <<SQL || true
SELECT pg_sleep(0.5) \\g /dev/null
SET statement_timeout = '${TIMEOUT}s';
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
SELECT count(*) FROM reset_plan() \\g /dev/null
SELECT CASE WHEN extract(epoch FROM clock_timestamp()) - :t0 >= $TIMEOUT THEN 'timeout'
            ELSE round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3)::text END;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
SELECT reset_execute('RESET-EVERYTHING') \\g /dev/null
SELECT CASE WHEN extract(epoch FROM clock_timestamp()) - :t0 >= $TIMEOUT THEN 'timeout'
            WHEN (SELECT count(*) FROM reset_system.history) = 0 THEN 'failed'
            ELSE round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3)::text END;
SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s+(\d+)');
SQL
)
    wait
    echo $out "$(cat "$anon_file")"
    rm -f "$anon_file"
}

# ok VALUE LIMIT: "yes" when VALUE is a number under LIMIT.
ok() { awk -v v="$1" -v l="$2" 'BEGIN { print (v ~ /^[0-9.]+$/ && v + 0 < l + 0) ? "yes" : "NO" }'; }

# rat X Y: X / Y, or "-" when either is not a number.
rat() { if [[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] && [ "$2" != 0 ]; then ratio "$1" "$2"; else echo -; fi; }

say "many tables, one row each, file backend (max_locks_per_transaction = $LOCKS)"
for n in $SIZES; do
    declare -A r
    for kind in plain storage; do
        db=tables_${kind}_$n
        make_db "$db" "$n" "$([ $kind = storage ] && echo yes || echo no)"
        read -r plan exec backend anon < <(measure "$db")
        wanon=0 whwm=0
        if [ "$kind" = storage ]; then
            read -r wanon whwm < <(watch_worker "$db")
        fi
        r[$kind]="$plan $exec $backend $anon $wanon $whwm"
        csv "$OUT" many_tables file "$n" "$kind" "$plan" "$exec" "$backend" "$anon" "$wanon" "$whwm"
        psqlq -d postgres -c "DROP DATABASE $db" >/dev/null
    done
    read -r p0 e0 b0 a0 _ <<<"${r[plain]}"
    read -r p1 e1 b1 a1 w1 h1 <<<"${r[storage]}"
    echo "  $n tables    without storage columns      with storage columns     ratio"
    printf '    %-16s %-28s %-24s %s\n' "reset_plan()" "$p0 s" "$p1 s" "$(rat "$p1" "$p0")x"
    printf '    %-16s %-28s %-24s %s\n' "reset_execute" "$e0 s" "$e1 s" "$(rat "$e1" "$e0")x"
    printf '    %-16s %-28s %-24s %s\n' "backend RssAnon" "$a0 kB" "$a1 kB" "$(rat "$a1" "$a0")x"
    printf '    %-16s %-28s %-24s %s\n' "backend VmHWM" "$b0 kB" "$b1 kB" "$(rat "$b1" "$b0")x"
    printf '    %-16s %-28s %-24s\n' "worker RssAnon" "-" "$w1 kB"
    printf '    %-16s %-28s %-24s\n' "worker VmHWM" "-" "$h1 kB"
    if [ "$n" = 5000 ]; then
        echo "    targets at 5000: plan < 3 s: $(ok "$p1" 3), reset < 10 s: $(ok "$e1" 10)," \
             "backend < 200 MB: $(ok "$a1" 204800), worker < 64 MB: $(ok "$w1" 65536)"
    fi
    unset r
done
