#!/usr/bin/env bash
# run-tests.sh: every test of reset_system, from a fresh Debian 12 machine.
#
#   bash test/run-tests.sh            everything: every suite on this
#                                     machine's PostgreSQL (15 on Debian
#                                     12), then every suite on PostgreSQL 17
#                                     (Debian 13) and 18 (Debian unstable)
#                                     in minimal Debian chroots; one
#                                     summary table at the end
#   bash test/run-tests.sh local      every suite, this machine's server only
#   bash test/run-tests.sh regress    only pg_regress + isolation
#   bash test/run-tests.sh tap [test/t/NNN_name.pl ...]
#                                     only the integration tests
#   bash test/run-tests.sh demo       only the demo (test/demo.sh)
#   bash test/run-tests.sh fuzz       only the fuzz test (test/fuzz/fuzz.pl:
#                                     every SQL function called with
#                                     hostile arguments; FUZZ_CASES and
#                                     FUZZ_SEED are passed on)
#   bash test/run-tests.sh sanitize   only pg_regress and the fuzz test
#                                     against the extension built with
#                                     UndefinedBehaviorSanitizer (any
#                                     "runtime error:" fails); the normal
#                                     build is installed again afterwards
#   bash test/run-tests.sh meta       only the release metadata check
#                                     (META.json, versions, make dist)
#   bash test/run-tests.sh package    only the Debian packages: built,
#                                     installed into a fresh chroot of
#                                     this machine's release, regress
#                                     suite there against the installed
#                                     files
#   bash test/run-tests.sh matrix [SUITE[:VERSION] ...]
#                                     only the chroot runs (default:
#                                     trixie sid, each with its release's
#                                     own PostgreSQL, gcc and libcurl)
#
# The suites: build (no compiler warning allowed), regress (pg_regress),
# isolation, tap (prove test/t), demo and sanitize (which runs the fuzz
# test too, under the sanitizer: the table shows it as fuzz); on this
# machine also meta and package.  Knobs (environment):
#   PGVER=17        test Debian's postgresql-17 on this machine (installed
#                   if missing) instead of the one installed or packaged
#   PG_CONFIG=...   test the server of that pg_config (a private copy)
#   With either, "everything" means that one server: no chroots.
#   MATRIX="trixie sid"   the Debian suites the chroot runs use ("none":
#                   none); "sid:19" picks a version the suite packages
#   MATRIX_RUN="tap test/t/031_storage_s3.pl"   what runs in each chroot
#                   (this script's arguments; default "local")
#   CHROOT_FRESH=1  debootstrap new chroots instead of reusing the cached
#                   ones (kept in /var/tmp/reset_system-chroots, one per
#                   suite, rebuilt after 7 days)
#   KEEP_WORKDIR=1  keep the scratch copy of the tree
#   TAP_JOBS=3      integration test files run at once (prove -j); each
#                   has its own clusters, ports and directories, and most
#                   of their time is spent waiting on servers and workers
#
# Run as root or as a user with sudo (the chroot runs need root).  It
# installs the packages it needs, builds and installs the extension from a
# scratch copy of the tree, and runs every suite on throwaway PostgreSQL
# instances it starts itself, as the postgres OS user.  Exit status 0
# means every test passed.

# a server named by the caller (before common.sh picks one)
named_server=${PGVER:-}${PG_CONFIG:-}

source "$(dirname "$0")/lib/common.sh"

what=${1:-all}
shift || true
case "$what" in
    all | local | regress | tap | demo | fuzz | sanitize | matrix | meta | package) ;;
    *) die "unknown mode \"$what\" (all, local, regress, tap, demo, fuzz, sanitize, matrix, meta, package)" ;;
esac

# Results: one line per suite and server, "version platform gcc libcurl
# suite passed failed seconds" (tab-separated).  A run inside a chroot appends to
# the file its caller names; the outermost run prints the table.
if [ -z "${RS_RESULTS:-}" ]; then
    RS_RESULTS=$(mktemp /tmp/reset_system-results.XXXXXX)
    print_summary=1
else
    print_summary=
fi
RS_LOGS=${RS_LOGS:-$(mktemp -d /tmp/reset_system-logs.XXXXXX)}
mkdir -p "$RS_LOGS"
chmod 755 "$RS_LOGS"
started=$SECONDS

# record SUITE PASSED FAILED: one result line for this machine's server,
# with the seconds since the suite started (suite_t0).
suite_t0=$SECONDS
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$PGVER" "$PLATFORM" "$GCC_VERSION" "$CURL_VERSION" \
        "$1" "$2" "$3" "$((SECONDS - suite_t0))" >>"$RS_RESULTS"
}

# UndefinedBehaviorSanitizer for the sanitize suite: the library links
# libubsan itself (the server binary is not instrumented); any undefined
# behaviour aborts the backend after printing "runtime error:" to the
# server log
UBSAN_COPT='-fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer'
UBSAN_ENV=UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# run_fuzz DIR LOG [ENV...]: the fuzz test from the tree in DIR, on a
# server of its own; records the cases under "fuzz".  Returns non-zero on
# any finding.
run_fuzz() {
    local dir=$1 log=$2 rc=0 counts; shift 2
    say "fuzz test (PostgreSQL $PGVER${1:+, $*})"
    run_pg env -C "$dir" "$@" TESTDIR="$dir/test" \
        TESTDATADIR="$dir/test/tmp_check" TESTLOGDIR="$dir/test/tmp_check/log" \
        PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
        PERL5LIB="$PGXS_DIR/src/test/perl:$dir/test/lib" \
        FUZZ_CASES="${FUZZ_CASES:-}" FUZZ_SEED="${FUZZ_SEED:-}" \
        FUZZ_FINDINGS="$dir/test/tmp_check/fuzz-findings.txt" \
        timeout -k 30 900 prove --timer test/fuzz/fuzz.pl 2>&1 | tee "$log" || rc=$?
    counts=($(prove_counts "$log"))
    record fuzz "${counts[2]}" "${counts[3]}"
    if [ "$rc" != 0 ] || [ "${counts[1]}" != 0 ]; then
        echo "findings: $dir/test/tmp_check/fuzz-findings.txt; server log under $dir/test/tmp_check/log"
        return 1
    fi
}

# run_sanitize WORK: the extension built with UndefinedBehaviorSanitizer
# in a scratch copy and installed, pg_regress and the fuzz test against
# it, then the normal build from WORK installed again.  Records
# "sanitize" (the regress tests; a "runtime error:" in a server log fails
# it) and "fuzz".
run_sanitize() {
    local work=$1 sdir log rc=0 counts bad failed=0
    say "sanitize: build with UndefinedBehaviorSanitizer (PostgreSQL $PGVER)"
    sdir=$(make_workdir sanitize)
    log=$RS_LOGS/sanitize-$PGVER.log
    if ! run_pg make -C "$sdir" -s PG_CONFIG="$PG_CONFIG" COPT="$UBSAN_COPT" >"$log" 2>&1 \
        || ! as_root make -C "$sdir" -s PG_CONFIG="$PG_CONFIG" COPT="$UBSAN_COPT" install >>"$log" 2>&1; then
        cat "$log"
        record sanitize 0 1
        as_root make -C "$work" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
        return 1
    fi
    say "sanitize: regress tests under UndefinedBehaviorSanitizer"
    run_pg env "$UBSAN_ENV" make -C "$sdir" -s PG_CONFIG="$PG_CONFIG" installcheck ISOLATION= >>"$log" 2>&1 || rc=$?
    grep -Ev '^(#? *)$' "$log" | grep -Ev '^make' || true
    counts=$(regress_counts "$log")
    bad=$(cat "$sdir"/tmp_check/log/*.log 2>/dev/null | grep -c 'runtime error:' || true)
    if [ "$bad" != 0 ]; then
        echo "UndefinedBehaviorSanitizer reports in the server log ($sdir/tmp_check/log):"
        grep -h -A12 'runtime error:' "$sdir"/tmp_check/log/*.log | head -n 60
        counts="${counts% *} $((${counts#* } + 1))"
    fi
    [ "$rc" = 0 ] || [ "${counts#* }" != 0 ] || counts="${counts% *} 1"
    record sanitize ${counts% *} ${counts#* }
    if [ "${counts#* }" != 0 ]; then
        failed=1
        [ -f "$sdir"/regression.diffs ] && { echo "---- regression.diffs"; cat "$sdir"/regression.diffs; }
    fi
    suite_t0=$SECONDS
    run_fuzz "$sdir" "$RS_LOGS/fuzz-$PGVER.log" "$UBSAN_ENV" || failed=1
    as_root make -C "$work" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
    if [ $failed = 0 ]; then
        [ "${KEEP_WORKDIR:-}" ] || rm -rf "$sdir"
    else
        say "the sanitize suite failed (work directory kept: $sdir)"
    fi
    return $failed
}

# regress_counts LOG: "passed failed" from pg_regress's closing line
# ("All 20 tests passed.", "2 of 20 tests failed."; "# " before it from 16).
regress_counts() {
    local line
    line=$(grep -Eo '(All [0-9]+ tests? passed|[0-9]+ of [0-9]+ tests? failed)' "$1" | tail -n 1)
    if [[ $line =~ ^All\ ([0-9]+) ]]; then
        echo "${BASH_REMATCH[1]} 0"
    elif [[ $line =~ ^([0-9]+)\ of\ ([0-9]+) ]]; then
        echo "$((BASH_REMATCH[2] - BASH_REMATCH[1])) ${BASH_REMATCH[1]}"
    else
        echo "0 1"              # it did not get to the end
    fi
}

# prove_counts LOG: "files_passed files_failed tests_passed tests_failed"
# from prove's summary: "Files=N, Tests=M", and in its Test Summary Report
# one "(Wstat: ... Tests: T Failed: F)" line per file that failed.
prove_counts() {
    local files tests ffail tfail s
    s=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$1" | tail -n 1)
    [[ $s =~ Files=([0-9]+),\ Tests=([0-9]+) ]] || { echo "0 1 0 1"; return; }
    files=${BASH_REMATCH[1]} tests=${BASH_REMATCH[2]}
    read -r ffail tfail < <(awk '/\(Wstat: .*Tests: [0-9]+ Failed: [0-9]+\)/ {
            f++; match($0, /Failed: [0-9]+/); t += substr($0, RSTART + 8, RLENGTH - 8) }
        END { print f + 0, t + 0 }' "$1")
    grep -q '^Result: PASS' "$1" || [ "$ffail" -gt 0 ] || ffail=1
    echo "$((files - ffail)) $ffail $((tests - tfail)) $tfail"
}

# run_local SUITE...: build, then the given suites on this machine's server.
run_local() {
    local WORK log rc counts failed=0 tests only suite t
    PLATFORM="Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
    install_packages nginx python3-botocore libio-pty-perl
    GCC_VERSION=$(gcc -dumpfullversion 2>/dev/null || echo '?')
    CURL_VERSION=$(curl-config --version 2>/dev/null | sed 's/^libcurl //')
    say "PostgreSQL $PGVER on $PLATFORM (gcc $GCC_VERSION, libcurl $CURL_VERSION)"
    WORK=$(make_workdir tests)
    log=$RS_LOGS/build-$PGVER.log
    suite_t0=$SECONDS
    if ! (build_and_install "$WORK") >"$log" 2>&1; then
        cat "$log"
        record build 0 1
        say "BUILD FAILED on PostgreSQL $PGVER (work directory kept: $WORK)"
        return 1
    fi
    record build 1 0

    for suite in "$@"; do
        suite_t0=$SECONDS
        case "$suite" in
        regress | isolation)
            say "$suite tests (PostgreSQL $PGVER)"
            log=$RS_LOGS/$suite-$PGVER.log
            # the other one's list emptied: PGXS then skips it
            if [ "$suite" = regress ]; then only=ISOLATION=; else only=REGRESS=; fi
            rc=0
            run_pg make -C "$WORK" -s PG_CONFIG="$PG_CONFIG" installcheck "$only" >"$log" 2>&1 || rc=$?
            grep -Ev '^(#? *)$' "$log" | grep -Ev '^make' || true
            counts=$(regress_counts "$log")
            [ "$rc" = 0 ] || [ "${counts#* }" != 0 ] || counts="${counts% *} 1"
            record "$suite" ${counts% *} ${counts#* }
            if [ "$rc" != 0 ]; then
                failed=1
                for f in "$WORK"/regression.diffs "$WORK"/output_iso/regression.diffs; do
                    [ -f "$f" ] && { echo "---- $f"; cat "$f"; }
                done
            fi
            ;;
        tap)
            install_s3rver
            install_azurite
            install_pg_cron
            install_django
            setup_app_user
            say "integration tests (TAP, PostgreSQL $PGVER)"
            log=$RS_LOGS/tap-$PGVER.log
            if [ ${#TAP_TESTS[@]} -gt 0 ]; then
                tests=("${TAP_TESTS[@]}")
            else
                # the slowest first, so that the parallel runs end together
                tests=()
                for t in "${TAP_SLOW[@]}"; do
                    [ -f "$WORK/$t" ] && tests+=("$t")
                done
                for t in "$WORK"/test/t/*.pl; do
                    case " ${TAP_SLOW[*]} " in *" test/t/${t##*/} "*) continue ;; esac
                    tests+=("test/t/${t##*/}")
                done
            fi
            # 15 reads TESTDIR, 16 and later TESTDATADIR and TESTLOGDIR
            rc=0
            run_pg env -C "$WORK" S3RVER_BIN="$S3RVER_BIN" AZURITE_BIN="$AZURITE_BIN" \
                RS_APP_USER="$RS_APP_USER" TESTDIR="$WORK/test" \
                TESTDATADIR="$WORK/test/tmp_check" TESTLOGDIR="$WORK/test/tmp_check/log" \
                PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
                PERL5LIB="$PGXS_DIR/src/test/perl:$WORK/test/lib" \
                timeout -k 30 1800 prove --timer -j "${TAP_JOBS:-3}" "${tests[@]}" 2>&1 | tee "$log" || rc=$?
            counts=($(prove_counts "$log"))
            record "tap files" "${counts[0]}" "${counts[1]}"
            record "tap tests" "${counts[2]}" "${counts[3]}"
            if [ "$rc" != 0 ] || [ "${counts[1]}" != 0 ]; then
                failed=1
                echo "server logs of failed tests are under $WORK/test/tmp_check/log"
            fi
            ;;
        meta)
            say "release metadata: META.json, versions, make dist"
            log=$RS_LOGS/meta.log
            rc=0
            (cd "$ROOT" && PG_CONFIG="$PG_CONFIG" prove --timer test/meta_check.pl) 2>&1 | tee "$log" || rc=$?
            counts=($(prove_counts "$log"))
            record meta "${counts[2]}" "${counts[3]}"
            [ "$rc" = 0 ] && [ "${counts[1]}" = 0 ] || failed=1
            ;;
        package)
            say "Debian packages (PostgreSQL $PGVER)"
            log=$RS_LOGS/package.log
            if as_root bash "$ROOT/test/package.sh" 2>&1 | tee "$log"; then
                record package 1 0
            else
                record package 0 1
                failed=1
            fi
            ;;
        fuzz)
            run_fuzz "$WORK" "$RS_LOGS/fuzz-$PGVER.log" || failed=1
            ;;
        sanitize)
            run_sanitize "$WORK" || failed=1
            ;;
        demo)
            say "the demo (PostgreSQL $PGVER)"
            log=$RS_LOGS/demo-$PGVER.log
            if PG_CONFIG="$PG_CONFIG" RS_INSTALLED=1 bash "$ROOT/test/demo.sh" >"$log" 2>&1; then
                record demo 1 0
                tail -n 12 "$log"
            else
                record demo 0 1
                failed=1
                cat "$log"
            fi
            ;;
        esac
    done

    if [ $failed = 0 ]; then
        [ "${KEEP_WORKDIR:-}" ] || rm -rf "$WORK"
    else
        say "TESTS FAILED on PostgreSQL $PGVER (work directory kept: $WORK)"
    fi
    return $failed
}

# run_matrix [SUITE[:VERSION]...]: every suite in a chroot of each Debian
# suite, with its own packages (test/lib/chroot.sh).
run_matrix() {
    local failed=0 entry
    [ "$(id -u)" = 0 ] || die "the chroot runs need root"
    # shellcheck source=lib/chroot.sh
    source "$ROOT/test/lib/chroot.sh"
    # s3rver and Azurite come from the npm registry through this machine's
    # npm (a fresh chroot may not trust the registry's certificate); they
    # are plain JavaScript, copied into each chroot and run by that
    # release's Node.js
    install_s3rver
    install_azurite
    for entry in "$@"; do
        run_chroot "${entry%%:*}" "$( [[ $entry == *:* ]] && echo "${entry#*:}" )" || failed=1
    done
    return $failed
}

# run_chroot SUITE [VERSION]: "local" in a chroot of SUITE.
run_chroot() {
    local suite=$1 ver=$2 rc=0 t0=$SECONDS
    say "Debian $suite in a chroot"
    if ! chroot_open "$suite" ${CHROOT_FRESH:+fresh}; then
        printf '%s\t%s\t?\t?\tbuild\t0\t1\n' "${ver:-?}" "Debian $suite (no chroot)" >>"$RS_RESULTS"
        return 1
    fi
    if [ -z "$ver" ]; then
        ls "$CHROOT_DIR"/var/lib/apt/lists/*_Packages >/dev/null 2>&1 \
            || chroot_root apt-get update -qq
        ver=$(chroot_root bash -c "$(declare -f debian_pgver); debian_pgver")
    fi
    # what the previous run left (before the port directory is mounted)
    rm -rf "${CHROOT_DIR:?}"/var/tmp/reset_system-node "${CHROOT_DIR:?}"/tmp/reset_system-*
    chroot_bind "$PG_TEST_PORT_DIR"
    if [ -n "$S3RVER_BIN" ]; then
        mkdir -p "$CHROOT_DIR/var/tmp"
        cp -a /var/tmp/reset_system-node "$CHROOT_DIR/var/tmp/"
    fi
    chroot_copy_tree "$ROOT" /src
    # shellcheck disable=SC2086
    chroot_root env PGVER="$ver" RS_RESULTS=/tmp/reset_system-results.tsv \
        RS_LOGS=/tmp/reset_system-logs RS_NO_NPM=1 KEEP_WORKDIR="${KEEP_WORKDIR:-}" \
        TAP_JOBS="${TAP_JOBS:-}" FUZZ_CASES="${FUZZ_CASES:-}" FUZZ_SEED="${FUZZ_SEED:-}" \
        bash /src/test/run-tests.sh ${MATRIX_RUN:-local} || rc=$?
    cat "$CHROOT_DIR/tmp/reset_system-results.tsv" >>"$RS_RESULTS" 2>/dev/null \
        || printf '%s\t%s\t?\t?\tbuild\t0\t1\n' "$ver" "Debian $suite" >>"$RS_RESULTS"
    mkdir -p "$RS_LOGS/$suite"
    cp -r "$CHROOT_DIR"/tmp/reset_system-logs/. "$RS_LOGS/$suite/" 2>/dev/null || true
    chroot_close
    say "Debian $suite: $((SECONDS - t0)) s"
    return $rc
}

# summary: the table of every result, and one closing line.
summary() {
    local total_pass=0 total_fail=0
    say "summary: passed/failed per PostgreSQL version and suite ($((SECONDS - started)) s in all; logs in $RS_LOGS)"
    awk -F'\t' '
        { key = $1 "\t" $2 "\t" $3 "\t" $4
          if (!(key in seen)) { seen[key] = 1; order[++n] = key }
          cell[key, $5] = $6 "/" $7
          if ($8 != "") secs[key, $5] = $8 }
        END {
          ns = split("build,regress,isolation,tap files,tap tests,demo,fuzz,sanitize,meta,package", suites, ",")
          for (pass = 1; pass <= 2; pass++) {
            if (pass == 2) printf "\nseconds per suite\n"
            printf "%-4s %-22s %-8s %-8s", "PG", "platform", "gcc", "libcurl"
            for (i = 1; i <= ns; i++) printf " %9s", suites[i]
            printf "\n"
            for (k = 1; k <= n; k++) {
              split(order[k], f, "\t")
              printf "%-4s %-22s %-8s %-8s", f[1], f[2], f[3], f[4]
              for (i = 1; i <= ns; i++) {
                if (pass == 1) v = ((order[k], suites[i]) in cell) ? cell[order[k], suites[i]] : "-"
                else v = ((order[k], suites[i]) in secs) ? secs[order[k], suites[i]] : "-"
                printf " %9s", v
              }
              printf "\n"
            }
          }
        }' "$RS_RESULTS"
    # "tap files" counts the same tests as "tap tests": left out of the total
    read -r total_pass total_fail < <(awk -F'\t' '$5 != "tap files" { p += $6; f += $7 } END { print p + 0, f + 0 }' "$RS_RESULTS")
    echo
    echo "total: $total_pass passed, $total_fail failed"
}

TAP_TESTS=()
# integration tests that take longest (tens of seconds: storage servers,
# timed windows), started first when the files run in parallel
TAP_SLOW=(test/t/033_storage_azure.pl test/t/031_storage_s3.pl
    test/t/018_purge_wait_memory.pl test/t/032_storage_gcs.pl
    test/t/070_pg_cron.pl test/t/030_storage_http.pl)
failed=0
case "$what" in
    all | local)
        if [ "$what" = all ] && [ -z "$named_server" ]; then
            run_local regress isolation tap demo sanitize meta package || failed=1
        else
            run_local regress isolation tap demo sanitize || failed=1
        fi
        if [ "$what" = all ] && [ -z "$named_server" ]; then
            # shellcheck disable=SC2086
            [ "${MATRIX:-}" = none ] || run_matrix ${MATRIX:-trixie sid} || failed=1
        fi
        ;;
    regress) run_local regress isolation || failed=1 ;;
    tap) TAP_TESTS=("$@"); run_local tap || failed=1 ;;
    demo) run_local demo || failed=1 ;;
    fuzz) run_local fuzz || failed=1 ;;
    sanitize) run_local sanitize || failed=1 ;;
    meta) run_local meta || failed=1 ;;
    package) run_local package || failed=1 ;;
    matrix)
        # shellcheck disable=SC2086
        if [ $# -gt 0 ]; then run_matrix "$@" || failed=1; else run_matrix ${MATRIX:-trixie sid} || failed=1; fi
        ;;
esac

if [ -n "$print_summary" ]; then
    summary
    rm -f "$RS_RESULTS"
    if [ $failed = 0 ]; then say "all tests passed"; else say "TESTS FAILED"; fi
fi
exit $failed
