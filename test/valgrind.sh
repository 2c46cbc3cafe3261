#!/usr/bin/env bash
# valgrind.sh: pg_regress against a server running under Valgrind's
# memcheck, reporting the errors whose stack passes through the
# extension's library.  Manual (slow: 15 minutes and more), not part of
# run-tests.sh.
#
#   bash test/valgrind.sh            build, install, run, report
#   PG_CONFIG=... bash test/valgrind.sh   against that installation
#   KEEP_WORKDIR=1                   keep the scratch tree and the logs
#
# The server (every process it forks) runs under
#   valgrind --tool=memcheck --trace-children=yes
# with test/valgrind.supp (PostgreSQL core noise: Debian does not ship
# PostgreSQL's own src/tools/valgrind.supp; a file named by
# VALGRIND_SUPP is used in addition).  Leak checking is off: memory
# contexts free in bulk, so leak reports mean nothing.  Prints the number
# of errors whose stack holds reset_system.so and each of them, and exits
# non-zero when there is one or pg_regress failed.

source "$(dirname "$0")/lib/common.sh"

install_packages valgrind
WORK=$(make_workdir valgrind)
build_and_install "$WORK"

dir=$WORK/vg
port=$(free_port)
mkdir -p "$dir/logs"
if [ "$(id -u)" = 0 ]; then chown -R "$PG_OS_USER" "$dir"; fi
run_pg initdb -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log"; die "initdb failed"; }
{
    echo "port = $port"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$dir'"
    cat "$ROOT/test/regress.conf"
} | run_pg tee -a "$dir/data/postgresql.conf" >/dev/null

supp=(--suppressions="$WORK/test/valgrind.supp")
[ -n "${VALGRIND_SUPP:-}" ] && supp+=(--suppressions="$VALGRIND_SUPP")
say "starting the server under valgrind (PostgreSQL $PGVER)"
run_pg bash -c 'exec "$@" >"'"$dir"'/server.log" 2>&1 &' _ \
    valgrind --tool=memcheck --trace-children=yes --leak-check=no --track-origins=no \
    --num-callers=30 --error-limit=no --fullpath-after= "${supp[@]}" --log-file="$dir/logs/vg.%p.log" \
    "$PGBIN/postgres" -D "$dir/data"
for _ in $(seq 1 300); do
    run_pg pg_isready -q -h "$dir" -p "$port" && break
    sleep 1
done
run_pg pg_isready -q -h "$dir" -p "$port" || { cat "$dir/server.log"; die "the server did not start"; }

say "regress tests against it (slow)"
# (REGRESS_OPTS replaces the Makefile's, --dbname included: the expected
# outputs name contrib_regression)
rc=0
run_pg env PGHOST="$dir" PGPORT="$port" PGUSER=postgres make -C "$WORK" -s PG_CONFIG="$PG_CONFIG" \
    installcheck ISOLATION= REGRESS_OPTS="--host=$dir --port=$port --user=postgres --dbname=contrib_regression" \
    >"$dir/regress.log" 2>&1 || rc=$?
grep -Ev '^(#? *)$' "$dir/regress.log" | grep -Ev '^make' || true
run_pg pg_ctl -D "$dir/data" -m fast -w -t 600 stop >/dev/null 2>&1 || true

# the error blocks of every log (separated by "==PID== " lines) whose
# stack passes through the extension: a frame in reset_system.so (no line
# information) or in a source file of the scratch tree (full paths, from
# --fullpath-after=; core PostgreSQL has files of the same base names)
report=$dir/extension-errors.txt
awk -v src="$WORK/src/" '
     function ours(b) { return index(b, "reset_system.so") > 0 || index(b, src) > 0 }
     /^==[0-9]+== *$/ { if (ours(blk)) { print blk; n++ } blk = ""; next }
     /^==[0-9]+== / { blk = blk $0 "\n" }
     END { if (ours(blk)) { print blk; n++ } print n + 0 > "/dev/stderr" }' \
    "$dir"/logs/vg.*.log >"$report" 2>"$dir/count"
total=$(cat "$dir"/logs/vg.*.log | grep -cE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination)' || true)
count=$(cat "$dir/count")
# "ERROR SUMMARY" lines mention no stack; blocks are errors only
say "valgrind: $count error(s) in the extension's code, $total error(s) in all (logs: $dir/logs)"
cat "$report"
[ "$count" = 0 ] && [ "$rc" = 0 ] && { [ "${KEEP_WORKDIR:-}" ] || rm -rf "$WORK"; exit 0; }
echo "kept: $WORK"
exit 1
