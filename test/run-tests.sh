#!/usr/bin/env bash
# run-tests.sh: every test of reset_system, from a fresh Debian 12 machine.
#
#   bash test/run-tests.sh            everything
#   bash test/run-tests.sh regress    only pg_regress + isolation
#   bash test/run-tests.sh tap [t/NNN_name.pl ...]
#                                     only the integration tests
#
# Run as root or as a user with sudo.  It installs the packages it needs,
# builds and installs the extension from a scratch copy of the tree, and
# runs every suite on throwaway PostgreSQL instances it starts itself, as
# the postgres OS user.  Exit status 0 means every test passed.

source "$(dirname "$0")/lib/common.sh"

what=${1:-all}
shift || true

install_packages nginx python3-botocore libio-pty-perl
install_django
WORK=$(make_workdir tests)
build_and_install "$WORK"
failed=0

if [ "$what" = all ] || [ "$what" = regress ]; then
    say "pg_regress and isolation tests"
    if ! run_pg make -C "$WORK" -s PG_CONFIG="$PG_CONFIG" installcheck; then
        failed=1
        for f in "$WORK"/regression.diffs "$WORK"/output_iso/regression.diffs; do
            [ -f "$f" ] && { echo "---- $f"; cat "$f"; }
        done
    fi
fi

if [ "$what" = all ] || [ "$what" = tap ]; then
    install_s3rver
    say "integration tests (TAP)"
    if [ $# -gt 0 ]; then tests=("$@"); else tests=(test/t/*.pl); fi
    if ! run_pg env -C "$WORK" S3RVER_BIN="$S3RVER_BIN" TESTDIR="$WORK/test" PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
            PERL5LIB="$PGXS_DIR/src/test/perl:$WORK/test/lib" \
            prove --timer "${tests[@]}"; then
        failed=1
        echo "server logs of failed tests are under $WORK/test/tmp_check/log"
    fi
fi

if [ $failed = 0 ]; then
    say "all tests passed"
    [ "${KEEP_WORKDIR:-}" ] || rm -rf "$WORK"
else
    say "TESTS FAILED (work directory kept: $WORK)"
fi
exit $failed
