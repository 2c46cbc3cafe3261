#!/usr/bin/env bash
# package.sh: the Debian packages, built and installed the way a user
# gets them.  Run by `bash test/run-tests.sh package` (and by the full
# run); needs root (a chroot).
#
#   1. dpkg-buildpackage -us -uc -b builds them on this machine (Debian 12:
#      postgresql-15-reset-system and reset-system), as an ordinary user,
#      from a copy of the tree;
#   2. a fresh minimal chroot of this machine's Debian release installs
#      them with `apt-get install ./*.deb`, which must find every
#      dependency in Debian;
#   3. inside, reset-system --help runs from PATH, and the pg_regress and
#      isolation suites run against the installed files: debian/tests/
#      installcheck (pg_buildext installcheck), what autopkgtest runs.
#
# Nothing is installed on this machine but the build dependencies.
# KEEP_WORKDIR=1 keeps the packages.

source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/chroot.sh"

[ "$(id -u)" = 0 ] || die "the package test needs root (it installs into a chroot)"
install_packages dpkg-dev debhelper postgresql-server-dev-all debootstrap
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")

# ---- build ---------------------------------------------------------------------------
version=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
WORK=$(mktemp -d /tmp/reset_system-package.XXXXXX)
src=$WORK/reset-system-${version%-*}
mkdir "$src"
tar -C "$ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=tmp_check --exclude=tmp_check_iso --exclude=results --exclude=output_iso \
    --exclude=src/cli/reset-system -cf - . | tar -C "$src" -xf -
chown -R "$PG_OS_USER" "$WORK"

say "dpkg-buildpackage -us -uc -b ($version, as $PG_OS_USER)"
# PG_UPDATECONTROL: debian/control lists the server versions of the
# release it was made on; on another release pg_buildext updates it
if ! runuser -u "$PG_OS_USER" -- env -C "$src" PG_UPDATECONTROL=1 \
        dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1; then
    tail -n 60 "$WORK/build.log"
    die "the package build failed (log: $WORK/build.log)"
fi
grep -E '\.[ch]:[0-9]+:[0-9]+: warning:' "$WORK/build.log" && die "the package build printed compiler warnings"
debs=("$WORK"/*.deb)
[ -e "${debs[0]}" ] || die "dpkg-buildpackage made no package"
for deb in "${debs[@]}"; do
    printf '  %-60s %8s bytes\n' "$(basename "$deb")" "$(stat -c %s "$deb")"
    dpkg-deb -c "$deb" | awk '
        $1 ~ /^d/ || $6 ~ /\/doc\// { next }
        $6 ~ /\/bitcode\/reset_system\// { bitcode++; next }
        { print "      " $1, $3, $6 ($1 ~ /^l/ ? " -> " $8 : "") }
        END { if (bitcode) print "      (and " bitcode " LLVM bitcode files for JIT inlining)" }'
done

# ---- install into a fresh chroot -----------------------------------------------------
chroot_open "$suite" fresh || die "no fresh $suite chroot"
mkdir -p "$CHROOT_DIR/tmp/debs"
cp "${debs[@]}" "$CHROOT_DIR/tmp/debs/"

# in_chroot CMD...: CMD as root inside, without questions from dpkg
in_chroot() { chroot_root env DEBIAN_FRONTEND=noninteractive "$@"; }

say "apt-get install ./*.deb in a fresh $suite chroot"
in_chroot apt-get update -qq
in_chroot sh -c 'cd /tmp/debs && apt-get install -y -qq ./*.deb' >"$WORK/install.log" 2>&1 \
    || { tail -n 40 "$WORK/install.log"; die "apt-get install ./*.deb failed"; }
in_chroot dpkg-query -W -f='  installed ${Package} ${Version}\n' 'postgresql-*-reset-system' reset-system

say "reset-system --help from PATH"
where=$(in_chroot sh -c 'command -v reset-system') || die "reset-system is not on PATH"
[ "$where" = /usr/bin/reset-system ] || die "reset-system is $where, not /usr/bin/reset-system"
help=$(in_chroot runuser -u postgres -- reset-system --help) || die "reset-system --help failed"
echo "$help" | head -n 3 | sed 's/^/  /'
echo "$help" | grep -q -- '--confirm' || die "reset-system --help does not describe --confirm"

say "regress and isolation suites against the installed files (debian/tests/installcheck)"
in_chroot sh -c 'apt-get install -y -qq make postgresql-server-dev-all' >>"$WORK/install.log" 2>&1 \
    || { tail -n 40 "$WORK/install.log"; die "installing the test dependencies failed"; }
mkdir "$CHROOT_DIR/tmp/src"
tar -C "$src" --exclude=debian/.debhelper --exclude='debian/postgresql-*-reset-system' \
    --exclude=debian/reset-system -cf - . | tar -C "$CHROOT_DIR/tmp/src" -xf -
# the suites must find the packaged files, not a build: there is none
[ -z "$(find "$CHROOT_DIR/tmp/src" -name '*.so' -o -name '*.o')" ] || die "build products in the copied tree"
if ! in_chroot sh -c 'cd /tmp/src && debian/tests/installcheck' >"$WORK/installcheck.log" 2>&1; then
    tail -n 80 "$WORK/installcheck.log"
    die "installcheck failed in the chroot (log: $WORK/installcheck.log)"
fi
grep -E '^(# )?(ok|not ok)|tests passed|tests failed|^### ' "$WORK/installcheck.log" | tail -n 8 | sed 's/^/  /'

chroot_close
say "the packages build, install into a fresh $suite system and pass installcheck there"
[ "${KEEP_WORKDIR:-}" ] && echo "packages kept in $WORK" || rm -rf "$WORK"
