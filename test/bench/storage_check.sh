#!/usr/bin/env bash
# storage_check.sh: how long the file backend's storage check takes when
# the tables a reset deletes hold KEYS (default 1,000,000) storage keys in
# DIRS (default 10,000) directories, against two baselines measured in the
# same run: the same check with nothing to sample (the root alone), and a
# full scan that lists every distinct directory of the keys (what checking
# all of them would start with).
#
#   bash test/bench/storage_check.sh OUT.csv
#
# The check samples at most 200 directories, reading a fixed number of a
# large table's blocks; the target is under one second at 1,000,000 keys.
# Each line of OUT.csv: storage_check,file,KEYS,WHAT,SECONDS (median of 5).

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/lib.sh"

OUT=${1:?usage: storage_check.sh OUT.csv}
KEYS=${KEYS:-1000000}
DIRS=${DIRS:-10000}

install_packages
WORK=$(make_workdir bench-check)
build_and_install "$WORK"
CL=$WORK/cluster
start_cluster "$CL" "$(free_port)" "log_min_messages = warning"
trap 'stop_cluster "$CL"; rm -rf "$WORK"' EXIT

# the directory tree (the files themselves are never looked at by the check)
run_pg /usr/bin/python3 -c "
import os, sys
for d in range($DIRS):
    os.makedirs(os.path.join('$WORK/media', 'uploads', str(d // 100), str(d % 100)), exist_ok=True)
"
db=check_bench
psqlq -d postgres -c "CREATE DATABASE $db" -c "ALTER DATABASE $db SET reset_system.environment = 'benchmark'"
psqlq -d "$db" -o /dev/null <<SQL
CREATE TABLE media (id bigserial PRIMARY KEY, file_key text);
INSERT INTO media (file_key)
SELECT format('uploads/%s/%s/%s.jpg', (g % $DIRS) / 100, (g % $DIRS) % 100, g) FROM generate_series(1, $KEYS) g;
VACUUM ANALYZE media;
CREATE EXTENSION reset_system;
SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
SELECT reset_configure_storage('file', jsonb_build_object('root', '$WORK/media'));
SQL

# timed SQL: the median of 5 runs, in seconds
timed() {
    for _ in 1 2 3 4 5; do
        psqlq -d "$db" -At <<SQL | tail -1
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
$1;
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 4);
SQL
    done | median
}

check="SELECT count(*) FROM reset_storage_check()"
with_keys=$(timed "$check")
detail=$(psqlq -d "$db" -At -c "SELECT detail FROM reset_storage_check() WHERE check_name = 'directories'")
full_scan=$(timed "SELECT count(*) FROM (SELECT DISTINCT left(file_key, length(file_key) - strpos(reverse(file_key), '/')) FROM media) d")
psqlq -d "$db" -c "SELECT reset_register_table('media', 'delete', 'media file', '{}')" -o /dev/null
no_keys=$(timed "$check")

csv "$OUT" storage_check file "$KEYS" "check with keys" "$with_keys"
csv "$OUT" storage_check file "$KEYS" "check without keys" "$no_keys"
csv "$OUT" storage_check file "$KEYS" "distinct directories by a full scan" "$full_scan"
say "storage check, file backend, $KEYS keys in $DIRS directories (median of 5)"
echo "  check with the keys:              $with_keys s  ($detail)"
echo "  check with nothing to sample:     $no_keys s  (the check's own cost: $(ratio "$with_keys" "$no_keys")x)"
echo "  full scan for distinct dirs:      $full_scan s  (the sampled check takes $(ratio "$with_keys" "$full_scan")x of it)"
awk -v s="$with_keys" 'BEGIN { exit !(s < 1.0) }' && echo "  under 1 s: yes" || echo "  under 1 s: NO"
