#!/usr/bin/env bash
# purge_file.sh: how fast the purge worker deletes files with the local
# directory backend, against rm -rf of an identical tree in the same run,
# and how much memory the worker uses.
#
#   bash test/bench/purge_file.sh [FILES (default 100000)] [SMALL (default 10000)]
#
# FILES one-byte files in directories of 100 are created twice: one tree is
# purged by reset_system (reset_execute, then the worker, measured from the
# reset's commit to the end of its purge as recorded in
# reset_system.history), the other is removed by rm -rf.  The worker's
# private memory (RssAnon) and peak resident size (VmHWM) are sampled from
# /proc while it runs, for a purge of SMALL files and one of FILES files:
# flat memory means the two peaks are about the same.

source "$(dirname "$0")/../lib/common.sh"

N=${1:-100000}
SMALL=${2:-10000}

install_packages
WORK=$(make_workdir bench-purge)
build_and_install "$WORK"
CL=$WORK/cluster
start_cluster "$CL" "$(free_port)" "log_min_messages = warning"
trap 'stop_cluster "$CL"; rm -rf "$WORK"' EXIT
psqlq() { run_pg env PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# make_tree DIR COUNT: COUNT one-byte files, 100 per directory
make_tree() {
    run_pg perl -e '
        my ($dir, $n) = @ARGV;
        for my $i (1 .. $n) {
            my $d = sprintf "%s/d%04d", $dir, int(($i - 1) / 100);
            mkdir $d unless -d $d;
            open my $fh, ">", "$d/f$i.bin" or die "$d/f$i.bin: $!";
            print $fh "x"; close $fh;
        }' "$1" "$2"
}

# purge COUNT: reset COUNT keys and wait for the purge; prints
# "seconds peak_rss_anon_kb peak_hwm_kb"
purge() {
    local n=$1 db=bench_$1 root=$WORK/media_$1
    run_pg mkdir -p "$root"
    make_tree "$root" "$n"
    psqlq -d postgres -c "CREATE DATABASE $db" -c "ALTER DATABASE $db SET reset_system.environment = 'benchmark'"
    psqlq -d "$db" -o /dev/null <<SQL
CREATE TABLE media (id serial PRIMARY KEY, file_key text);
INSERT INTO media (file_key)
    SELECT format('d%s/f%s.bin', lpad(((g - 1) / 100)::text, 4, '0'), g) FROM generate_series(1, $n) g;
CREATE EXTENSION reset_system;
SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'));
SQL
    run_pg sync
    psqlq -d "$db" -At -c "SELECT reset_execute('RESET-EVERYTHING')" >/dev/null
    # sample the worker's memory while it runs
    local anon=0 hwm=0 pid v
    while :; do
        pid=$(psqlq -d "$db" -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'reset_system purge worker'")
        [ -z "$pid" ] && break
        v=$(awk '/^RssAnon:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$anon" ] && anon=$v
        v=$(awk '/^VmHWM:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$hwm" ] && hwm=$v
        sleep 0.2
    done
    psqlq -d "$db" -At -c "SELECT reset_purge_wait('1 hour')" >/dev/null
    local left
    left=$(run_pg find "$root" -type f | wc -l)
    [ "$left" = 0 ] || die "$left files were not purged"
    psqlq -d "$db" -At -c "SELECT round(extract(epoch FROM purge_finished_at - finished_at)::numeric, 2) || ' $anon $hwm'
                           FROM reset_system.history"
}

say "purging $SMALL files"
purge "$SMALL" > "$WORK/small.result"
read -r small_s small_anon small_hwm < "$WORK/small.result"
say "purging $N files"
purge "$N" > "$WORK/big.result"
read -r big_s big_anon big_hwm < "$WORK/big.result"

say "rm -rf of an identical tree of $N files"
run_pg mkdir -p "$WORK/rmtree"
make_tree "$WORK/rmtree" "$N"
run_pg sync
t0=$(date +%s.%N)
run_pg rm -rf "$WORK/rmtree"
t1=$(date +%s.%N)
rm_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
cat <<REPORT

purge_file: file backend, PostgreSQL $PGVER, $(nproc) cores
  reset_system purge of $N files   ${big_s} s   $(rate "$N" "$big_s") files/s
  rm -rf of the same tree shape      ${rm_s} s   $(rate "$N" "$rm_s") files/s
  ratio (purge rate / rm -rf rate)   $(awk -v a="$rm_s" -v b="$big_s" 'BEGIN { printf "%.2f", a / b }')
worker memory (peak private RssAnon / peak resident VmHWM)
  purge of $SMALL files   ${small_anon} kB / ${small_hwm} kB   ($(rate "$SMALL" "$small_s") files/s)
  purge of $N files   ${big_anon} kB / ${big_hwm} kB
REPORT
