#!/usr/bin/env bash
# worker_memory.sh: the purge worker's peak memory against the size of the
# queue: SMALL (default 10,000) and LARGE (default 1,000,000) queued
# objects, file backend, keys whose files do not exist (each is "already
# gone", so the purge is fast and only the queue's size matters).  Flat
# means the two peaks are about the same.
#
#   bash test/bench/worker_memory.sh OUT.csv
#
# Each line of OUT.csv: memory,file,OBJECTS,PEAK_RSS_ANON_KB,PEAK_VMHWM_KB,SECONDS.

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/lib.sh"

OUT=${1:?usage: worker_memory.sh OUT.csv}
SMALL=${SMALL:-10000}
LARGE=${LARGE:-1000000}

install_packages
WORK=$(make_workdir bench-memory)
build_and_install "$WORK"
CL=$WORK/cluster
start_cluster "$CL" "$(free_port)" "log_min_messages = warning"
trap 'stop_cluster "$CL"; rm -rf "$WORK"' EXIT
run_pg mkdir -p "$WORK/media"

for n in "$SMALL" "$LARGE"; do
    db=mem_$n
    psqlq -d postgres -c "CREATE DATABASE $db" -c "ALTER DATABASE $db SET reset_system.environment = 'benchmark'"
    psqlq -d "$db" -o /dev/null <<SQL
CREATE TABLE media (id serial PRIMARY KEY, file_key text);
INSERT INTO media (file_key) SELECT 'm/' || (g % 1000) || '/' || g || '.bin' FROM generate_series(1, $n) g;
CREATE EXTENSION reset_system;
SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
SELECT reset_configure_storage('file', jsonb_build_object('root', '$WORK/media'));
SQL
    psqlq -d "$db" -At -c "SELECT reset_execute('RESET-EVERYTHING')" >/dev/null
    read -r anon hwm < <(watch_worker "$db")
    psqlq -d "$db" -At -c "SELECT reset_purge_wait('2 hours')" >/dev/null
    s=$(psqlq -d "$db" -At -c "SELECT round(extract(epoch FROM purge_finished_at - finished_at)::numeric, 2) FROM reset_system.history")
    csv "$OUT" memory file "$n" "$anon" "$hwm" "$s"
    echo "  $n queued objects: worker peak RssAnon $anon kB, VmHWM $hwm kB, purged in $s s"
done
