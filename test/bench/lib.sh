# lib.sh: helpers shared by the benchmark scripts (sourced, after
# test/lib/common.sh).

# psqlq ARGS...: psql as the PostgreSQL OS user, quiet, stopping on errors.
psqlq() { run_pg env PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# median: the median of the numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# ratio X Y: X / Y with two decimals.
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }

# rate N SECONDS: N / SECONDS, rounded.
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# secs T0 T1: the difference of two date +%s.%N readings.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# time_fresh_copy TEMPLATE DB WARMUP BODY: seconds of "BEGIN; BODY;
# COMMIT;" on DB, a fresh copy of TEMPLATE labelled for benchmarks, after
# WARMUP (the same cache warm-up for every method compared); DB is dropped
# afterwards.
time_fresh_copy() {
    local tpl=$1 db=$2 warmup=$3 body=$4
    psqlq -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE $tpl STRATEGY FILE_COPY" \
        -c "ALTER DATABASE $db SET reset_system.environment = 'benchmark'"
    {
        echo "SET client_min_messages = warning;"
        echo "LOAD 'reset_system';"
        echo "$warmup"
        echo "SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset"
        echo "BEGIN;"
        echo "$body"
        echo "COMMIT;"
        echo "SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 4) AS secs \\gset"
        echo "\\echo :secs"
    } | psqlq -d "$db" -At -o /dev/null -f - 2>&1 | tail -1
    psqlq -d postgres -c "DROP DATABASE $db"
}

# tree_template DB N: database DB with the extension and 20 tables in a
# foreign-key tree (t_i references t_(i/2), indexed), N rows in all, every
# table registered for deletion
tree_template() {
    local db=$1
    psqlq -d postgres -c "CREATE DATABASE $db"
    psqlq -d "$db" <<SQL
CREATE EXTENSION reset_system;
DO \$\$
DECLARE
    per int := GREATEST($2 / 20, 1);
BEGIN
    FOR i IN 1..20 LOOP
        IF i = 1 THEN
            EXECUTE format('CREATE TABLE t%s (id bigserial PRIMARY KEY, payload text NOT NULL)', i);
            EXECUTE format('INSERT INTO t%s (payload) SELECT md5(g::text) FROM generate_series(1, %s) g', i, per);
        ELSE
            EXECUTE format('CREATE TABLE t%s (id bigserial PRIMARY KEY, parent_id bigint NOT NULL REFERENCES t%s, payload text NOT NULL)',
                           i, i / 2);
            EXECUTE format('CREATE INDEX ON t%s (parent_id)', i);
            EXECUTE format('INSERT INTO t%s (parent_id, payload) SELECT 1 + g %% %s, md5(g::text) FROM generate_series(1, %s) g',
                           i, per, per);
        END IF;
        PERFORM reset_register_table(format('t%s', i)::regclass, 'delete');
    END LOOP;
END \$\$;
VACUUM ANALYZE;
SQL
}

# csv FILE FIELDS...: append one comma-separated line.
csv() { local f=$1; shift; (IFS=,; echo "$*") >>"$f"; }

# watch_worker DB: sample the purge worker of DB until it exits; prints
# "peak_rss_anon_kb peak_hwm_kb".
watch_worker() {
    local db=$1 anon=0 hwm=0 pid v
    while :; do
        pid=$(psqlq -d "$db" -At -c "SELECT pid FROM pg_stat_activity
                 WHERE backend_type = 'reset_system purge worker' AND datname = '$db'")
        [ -z "$pid" ] && break
        v=$(awk '/^RssAnon:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$anon" ] && anon=$v
        v=$(awk '/^VmHWM:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$hwm" ] && hwm=$v
        sleep 0.1
    done
    echo "$anon $hwm"
}

# machine_description: one paragraph on where the numbers come from.
machine_description() {
    local cpu mem
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    mem=$(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
    echo "$(nproc) cores (${cpu:-unknown CPU}), $mem RAM, $(uname -sr), PostgreSQL $("$PG_CONFIG" --version | awk '{print $2}'), $(. /etc/os-release && echo "$PRETTY_NAME")"
}
