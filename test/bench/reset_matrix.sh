#!/usr/bin/env bash
# reset_matrix.sh: reset_execute against what people do instead, and the
# plan's latency, across database sizes and table counts, in one run.
#
#   bash test/bench/reset_matrix.sh OUT.csv
#
# ROWS (default "10000 1000000 10000000"): rows in a 20-table foreign-key
# tree.  TABLES (default "10 200 1000"): tables of 10 rows in a chain.
# Methods, each BEGIN ... COMMIT on a fresh copy of a template, median of
# REPEAT (default 3) runs:
#   bare      exact counts + one multi-table TRUNCATE ... RESTART IDENTITY
#   loop      one TRUNCATE ... RESTART IDENTITY CASCADE per table
#   orm       DELETE in foreign-key order + sequence restarts (one run)
#   reset     reset_execute('RESET-EVERYTHING')
#   plan      SELECT reset_plan()            (exact counts)
#   plan_est  SELECT reset_plan(estimate => true)
# Each line of OUT.csv: reset,SHAPE,SIZE,METHOD,SECONDS.

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/lib.sh"

OUT=${1:?usage: reset_matrix.sh OUT.csv}
ROWS=${ROWS:-"10000 1000000 10000000"}
TABLES=${TABLES:-"10 200 1000"}
REPEAT=${REPEAT:-3}

install_packages
WORK=$(make_workdir bench-reset)
build_and_install "$WORK"
CL=$WORK/cluster
start_cluster "$CL" "$(free_port)" "shared_buffers = 512MB" "max_wal_size = 16GB" \
    "checkpoint_timeout = 30min" "log_min_messages = warning" "max_locks_per_transaction = 1024"
trap 'stop_cluster "$CL"; rm -rf "$WORK"' EXIT

# rows_template N: 20 tables in a foreign-key tree, N rows in all
rows_template() { tree_template "rows_$1" "$1"; }

# tables_template N: N tables of 10 rows in a foreign-key tree (t_i
# references t_(i/2)), so a per-table TRUNCATE ... CASCADE loop stays
# O(N log N) rather than quadratic
tables_template() {
    local db=tables_$1
    psqlq -d postgres -c "CREATE DATABASE $db"
    psqlq -d "$db" <<SQL
CREATE EXTENSION reset_system;
DO \$\$
BEGIN
    FOR i IN 1..$1 LOOP
        IF i = 1 THEN
            EXECUTE format('CREATE TABLE t%s (id serial PRIMARY KEY, payload text)', i);
            EXECUTE format('INSERT INTO t%s (payload) SELECT md5(g::text) FROM generate_series(1, 10) g', i);
        ELSE
            EXECUTE format('CREATE TABLE t%s (id serial PRIMARY KEY, prev_id int REFERENCES t%s, payload text)', i, i / 2);
            EXECUTE format('INSERT INTO t%s (prev_id, payload) SELECT g, md5(g::text) FROM generate_series(1, 10) g', i);
        END IF;
        EXECUTE format('CREATE INDEX ON t%s (payload)', i);
        PERFORM reset_register_table(format('t%s', i)::regclass, 'delete');
    END LOOP;
END \$\$;
VACUUM ANALYZE;
SQL
}

# sql_for N METHOD: the statements of a method over tables t1..tN
# (children have higher numbers than their parents in both shapes)
sql_for() {
    local n=$1
    case $2 in
        bare)
            echo "SELECT $(seq -s ', ' -f "(SELECT count(*) FROM t%g)" 1 "$n");"
            echo "TRUNCATE $(seq -s ', ' -f "t%g" 1 "$n") RESTART IDENTITY;" ;;
        loop)
            for i in $(seq "$n" -1 1); do echo "TRUNCATE t$i RESTART IDENTITY CASCADE;"; done ;;
        orm)
            for i in $(seq "$n" -1 1); do echo "DELETE FROM t$i;"; done
            for i in $(seq 1 "$n"); do echo "ALTER SEQUENCE t${i}_id_seq RESTART;"; done ;;
        reset)
            echo "SELECT reset_execute('RESET-EVERYTHING');" ;;
        plan)
            echo "SELECT reset_plan();" ;;
        plan_est)
            echo "SELECT reset_plan(estimate => true);" ;;
    esac
}

# measure TEMPLATE N METHOD: seconds of one run on a fresh copy; the same
# cache warm-up for every method: read every table once
measure() {
    time_fresh_copy "$1" "run_$1_$3" "$(sql_for "$2" bare | head -1)" "$(sql_for "$2" "$3")"
}

# run SHAPE SIZE TEMPLATE N: every method, as CSV lines
run() {
    local shape=$1 size=$2 tpl=$3 n=$4 method reps out
    for method in bare loop reset plan plan_est orm; do
        reps=$REPEAT
        [ "$method" = orm ] && reps=1
        out=$(for _ in $(seq "$reps"); do measure "$tpl" "$n" "$method"; done | median)
        csv "$OUT" reset "$shape" "$size" "$method" "$out"
        echo "  $shape $size $method: $out s"
    done
}

for r in $ROWS; do
    say "rows: 20 tables, $r rows"
    rows_template "$r"
    psqlq -d postgres -c "CHECKPOINT"
    run rows "$r" "rows_$r" 20
    psqlq -d postgres -c "DROP DATABASE rows_$r"
done
for t in $TABLES; do
    say "tables: $t tables of 10 rows"
    tables_template "$t"
    psqlq -d postgres -c "CHECKPOINT"
    run tables "$t" "tables_$t" "$t"
    psqlq -d postgres -c "DROP DATABASE tables_$t"
done
