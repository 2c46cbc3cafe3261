#!/usr/bin/env bash
# reset_speed.sh: how fast reset_execute empties a database, measured in
# the same run against the two things people do instead.
#
#   bash test/bench/reset_speed.sh [ROWS_IN_MILLIONS (default 2)]
#
# Shape 1, "big": 20 tables in a foreign-key tree, ROWS million rows in all.
#   (a) bare:  exact counts + one multi-table TRUNCATE ... RESTART IDENTITY
#   (b) ORM:   DELETE FROM each table, children first (what an ORM-driven
#              reset does)
#   (r) reset_execute('RESET-EVERYTHING')
#   (k) reset_execute('RESET-EVERYTHING', backup => true), and the size of
#       the backup; and the two ways to copy the rows inside a transaction,
#       CREATE TABLE ... AS SELECT (what the backup uses) and CREATE TABLE
#       (LIKE ...) + INSERT ... SELECT
# Shape 2, "many small": 200 tables of 10 rows, each referencing the previous.
#   (a) and (r) as above.
#
# Every measurement runs on a fresh copy of a template database and
# includes COMMIT (TRUNCATE pays for unlinking files there).  Each is
# repeated and the median printed, with the ratios the targets are about:
# big: r/a <= 1.3 and b/r >= 50; many small: r/a <= 0.5.
# Timings on a shared machine are noisy: compare the ratios of one run.

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/lib.sh"

MROWS=${1:-2}
REPEAT=${REPEAT:-3}

install_packages
WORK=$(make_workdir bench)
build_and_install "$WORK"
CL=$WORK/cluster
start_cluster "$CL" "$(free_port)" "shared_buffers = 512MB" "max_wal_size = 8GB" \
    "checkpoint_timeout = 30min" "log_min_messages = warning"
trap 'stop_cluster "$CL"' EXIT


# ---- templates --------------------------------------------------------------
say "building the big template: 20 tables, ${MROWS} million rows"
tree_template big_tpl "$(awk -v m="$MROWS" 'BEGIN { printf "%d", m * 1000000 }')"

say "building the many-small template: 200 tables of 10 rows"
psqlq -d postgres -c "CREATE DATABASE small_tpl"
psqlq -d small_tpl <<'SQL'
CREATE EXTENSION reset_system;
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        IF i = 1 THEN
            EXECUTE format('CREATE TABLE s%s (id serial PRIMARY KEY, payload text)', i);
        ELSE
            EXECUTE format('CREATE TABLE s%s (id serial PRIMARY KEY, prev_id int REFERENCES s%s, payload text)', i, i - 1);
        END IF;
        EXECUTE format('CREATE INDEX ON s%s (payload)', i);
        IF i = 1 THEN
            EXECUTE format('INSERT INTO s%s (payload) SELECT md5(g::text) FROM generate_series(1, 10) g', i);
        ELSE
            EXECUTE format('INSERT INTO s%s (prev_id, payload) SELECT g, md5(g::text) FROM generate_series(1, 10) g', i);
        END IF;
        PERFORM reset_register_table(format('s%s', i)::regclass, 'delete');
    END LOOP;
END $$;
VACUUM ANALYZE;
SQL
psqlq -d postgres -c "CHECKPOINT"

# ---- the methods -------------------------------------------------------------
# sql_for SHAPE METHOD: the statements of one method, run between BEGIN and COMMIT.
sql_for() {
    local prefix=t n=20
    [ "$1" = small ] && { prefix=s; n=200; }
    case $2 in
        bare)
            echo "SELECT $(seq -s ', ' -f "(SELECT count(*) FROM ${prefix}%g)" 1 $n);"
            echo "TRUNCATE $(seq -s ', ' -f "${prefix}%g" 1 $n) RESTART IDENTITY;" ;;
        orm)
            for i in $(seq $n -1 1); do echo "DELETE FROM ${prefix}$i;"; done
            for i in $(seq 1 $n); do echo "ALTER SEQUENCE ${prefix}${i}_id_seq RESTART;"; done ;;
        reset)
            echo "SELECT reset_execute('RESET-EVERYTHING');" ;;
        backup)
            echo "SELECT reset_execute('RESET-EVERYTHING', backup => true);" ;;
        ctas)
            for i in $(seq 1 $n); do echo "CREATE TABLE copy_${prefix}$i AS SELECT * FROM ${prefix}$i;"; done ;;
        insert)
            for i in $(seq 1 $n); do
                echo "CREATE TABLE copy_${prefix}$i (LIKE ${prefix}$i); INSERT INTO copy_${prefix}$i SELECT * FROM ${prefix}$i;"
            done ;;
    esac
}

# measure SHAPE METHOD: seconds for BEGIN; method; COMMIT on a fresh copy,
# the relation and buffer caches warmed the same way for every method.
measure() {
    time_fresh_copy "$1_tpl" "run_$1_$2" "$(sql_for "$1" bare | head -1)" "$(sql_for "$1" "$2")"
}


run() {
    local shape=$1 method=$2 reps=$3 out=()
    for _ in $(seq "$reps"); do out+=("$(measure "$shape" "$method")"); done
    printf '%s\n' "${out[@]}" | median
}

say "measuring (each value is the median of $REPEAT runs; ORM delete runs once)"
big_a=$(run big bare "$REPEAT")
big_r=$(run big reset "$REPEAT")
big_b=$(run big orm 1)
big_k=$(run big backup "$REPEAT")
big_ctas=$(run big ctas "$REPEAT")
big_insert=$(run big insert "$REPEAT")
# the size of a backup and of the tables it copies
psqlq -d postgres -c "CREATE DATABASE size_probe TEMPLATE big_tpl STRATEGY FILE_COPY" \
    -c "ALTER DATABASE size_probe SET reset_system.environment = 'benchmark'"
table_size=$(psqlq -d size_probe -At -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid)))
    FROM pg_class c WHERE c.relkind = 'r' AND c.relname ~ '^t[0-9]+$'")
heap_size=$(psqlq -d size_probe -At -c "SELECT pg_size_pretty(sum(pg_relation_size(c.oid)))
    FROM pg_class c WHERE c.relkind = 'r' AND c.relname ~ '^t[0-9]+$'")
psqlq -d size_probe -At -o /dev/null -c "SELECT reset_execute('RESET-EVERYTHING', backup => true)"
backup_size=$(psqlq -d size_probe -At -c "SELECT pg_size_pretty(size_bytes) || ' (' || rows || ' rows, copied in ' || round(copy_seconds::numeric, 2) || ' s)' FROM reset_system.backups")
psqlq -d postgres -c "DROP DATABASE size_probe"
small_a=$(run small bare "$REPEAT")
small_r=$(run small reset "$REPEAT")


cat <<REPORT

reset_speed: PostgreSQL $PGVER, $(nproc) cores
big: 20 tables, ${MROWS}M rows in all
  (a) counts + one TRUNCATE ... RESTART IDENTITY   ${big_a} s
  (b) DELETE in foreign-key order (ORM style)      ${big_b} s
  (r) reset_execute                                ${big_r} s
  r / a = $(ratio "$big_r" "$big_a")   (target <= 1.30)
  b / r = $(ratio "$big_b" "$big_r")   (target >= 50)
  (k) reset_execute with backup => true            ${big_k} s
  k / r = $(ratio "$big_k" "$big_r")   (the price of the undo window)
  backup: ${backup_size}; the tables: ${heap_size} of rows, ${table_size} with their indexes
  copying every row in one transaction:
    CREATE TABLE ... AS SELECT                     ${big_ctas} s   (used by the backup)
    CREATE TABLE (LIKE ...) + INSERT ... SELECT    ${big_insert} s
many small: 200 tables x 10 rows
  (a) counts + one TRUNCATE ... RESTART IDENTITY   ${small_a} s
  (r) reset_execute                                ${small_r} s
  r / a = $(ratio "$small_r" "$small_a")   (target <= 0.50)
REPORT
