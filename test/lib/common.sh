# common.sh: set-up shared by test/run-tests.sh, test/demo.sh and the
# benchmarks.  Sourced, not run.
#
# It installs what is missing (Debian packages), builds and installs the
# extension from a scratch copy of the tree, and provides run_pg to run a
# command as the PostgreSQL OS user: "postgres" when running as root
# (initdb refuses root), the current user otherwise.

set -euo pipefail

# debian_pgver: the PostgreSQL major version this Debian release packages
# as its default (the one its "postgresql" package depends on): 15 on
# Debian 12, 17 on 13, 18 on unstable.  15 when apt cannot tell.
debian_pgver() {
    local v
    v=$(apt-cache depends postgresql 2>/dev/null | sed -nE 's/^ *Depends: postgresql-([0-9]+)$/\1/p' | head -n 1)
    echo "${v:-15}"
}

# The server to build and test against: PGVER picks Debian's packaged
# major version (unless told: the one already installed, else this Debian
# release's default); PG_CONFIG, when set, names any other installation's
# pg_config (a relocated copy, a build of your own) and takes precedence.
if [ -n "${PG_CONFIG:-}" ]; then
    PGVER=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
    PGBIN=$("$PG_CONFIG" --bindir)
    PGXS_DIR=$("$PG_CONFIG" --pkglibdir)/pgxs
else
    if [ -z "${PGVER:-}" ]; then
        installed=(/usr/lib/postgresql/*/bin/pg_config)
        if [ ${#installed[@]} = 1 ] && [ -x "${installed[0]}" ]; then
            PGVER=$(basename "$(dirname "$(dirname "${installed[0]}")")")
        else
            PGVER=$(debian_pgver)
        fi
        unset installed
    fi
    PGBIN=/usr/lib/postgresql/$PGVER/bin
    PG_CONFIG=$PGBIN/pg_config
    PGXS_DIR=/usr/lib/postgresql/$PGVER/lib/pgxs
fi
# TAP tests of concurrent runs reserve their ports in one place.
export PG_TEST_PORT_DIR=${PG_TEST_PORT_DIR:-/tmp/reset_system-ports}
mkdir -p "$PG_TEST_PORT_DIR" 2>/dev/null && chmod 1777 "$PG_TEST_PORT_DIR" 2>/dev/null || true
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# as_root CMD...: run CMD with root rights (directly when root, else sudo).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if [ "$(id -u)" = 0 ]; then PG_OS_USER=postgres; else PG_OS_USER=$(id -un); fi

# run_pg CMD...: run CMD as the PostgreSQL OS user, with the server
# binaries first in PATH.  As root it starts in / (the caller's directory,
# a clone under /root say, may be unreadable to that user).
run_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PG_OS_USER" -- env -C / PATH="$PGBIN:$PATH" "$@"
    else
        env PATH="$PGBIN:$PATH" "$@"
    fi
}

# install_packages [EXTRA...]: the build and test dependencies, plus EXTRA.
install_packages() {
    local want=(postgresql-$PGVER postgresql-server-dev-$PGVER libpq-dev
                libcurl4-openssl-dev libjansson-dev libipc-run-perl
                make gcc pkg-config perl "$@")
    local missing=()
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing packages: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    [ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found after installing packages"
}

# install_pg_cron: Debian's pg_cron for the server under test
# (postgresql-NN-cron), for the scheduled-reset test.  When PG_CONFIG
# names another installation than Debian's own (a relocated copy), the
# package's library and extension files are copied into it.
install_pg_cron() {
    install_packages "postgresql-$PGVER-cron"
    local pkglib share f dest
    pkglib=$("$PG_CONFIG" --pkglibdir)
    share=$("$PG_CONFIG" --sharedir)
    [ -e "$pkglib/pg_cron.so" ] && return 0
    for f in $(dpkg -L "postgresql-$PGVER-cron"); do
        [ -f "$f" ] || continue
        case $f in
            /usr/lib/postgresql/$PGVER/lib/*) dest=$pkglib/${f#/usr/lib/postgresql/$PGVER/lib/} ;;
            /usr/share/postgresql/$PGVER/*) dest=$share/${f#/usr/share/postgresql/$PGVER/} ;;
            *) continue ;;
        esac
        as_root install -D -m 644 "$f" "$dest"
    done
}

# install_django: Debian's Django, psycopg2, django-guardian and
# django-taggit, for the Django integration test (test/t/081_django.pl).
# Each Debian release has its own versions (Django 3.2 on Debian 12, 4.2
# on 13, 5.x on unstable); the test project is written for all of them.
install_django() {
    install_packages python3 python3-django python3-psycopg2 python3-django-guardian python3-django-taggit
}

# install_s3rver: s3rver (an S3-compatible server, from the npm registry)
# for the S3 tests and benchmarks, in a cache directory shared by runs.
# Installs Debian's npm first when there is none.  Sets S3RVER_BIN, or
# leaves it empty (with a note) when the registry cannot be reached: the
# S3 tests then run against the S3 test double alone.
install_s3rver() {
    local cache=/var/tmp/reset_system-node
    S3RVER_BIN=$cache/node_modules/.bin/s3rver
    if [ ! -x "$S3RVER_BIN" ] && [ -n "${RS_NO_NPM:-}" ]; then
        # (RS_NO_NPM: a chroot, where the host's copy is all there is)
        echo "note: s3rver is not installed; the S3 tests run against the S3 test double only"
        S3RVER_BIN=
    elif [ ! -x "$S3RVER_BIN" ]; then
        command -v npm >/dev/null 2>&1 || install_packages nodejs npm
        as_root mkdir -p "$cache"
        as_root chmod 1777 "$cache"
        say "installing s3rver 3.7.1 from the npm registry"
        if ! (cd "$cache" && timeout 300 npm install --no-audit --no-fund --loglevel=error \
                --prefix "$cache" s3rver@3.7.1 >"$cache/npm.log" 2>&1); then
            echo "note: s3rver could not be installed (see $cache/npm.log);" \
                 "the S3 tests run against the S3 test double only"
            S3RVER_BIN=
        fi
    fi
    if [ -n "$S3RVER_BIN" ]; then
        chmod -R a+rX "$cache" 2>/dev/null || true
        # s3rver is plain JavaScript: any Node.js runs it
        command -v node >/dev/null 2>&1 || install_packages nodejs
    fi
    export S3RVER_BIN
}

# install_azurite: Azurite, Microsoft's Azure Storage emulator (from the
# npm registry), for the Azure tests and benchmarks, in a cache directory
# shared by runs.  Version 3.35.0: the last one that runs on Debian 12's
# Node.js 18 (3.36 needs Node 21, 3.37 Node 22).  Installs Debian's npm
# and openssl (the tests' certificate) when missing.  Sets AZURITE_BIN, or
# leaves it empty (with a note) when the registry cannot be reached.
install_azurite() {
    local cache=/var/tmp/reset_system-node/azurite-3.35.0
    AZURITE_BIN=$cache/node_modules/.bin/azurite-blob
    command -v openssl >/dev/null 2>&1 || install_packages openssl
    if [ ! -x "$AZURITE_BIN" ] && [ -n "${RS_NO_NPM:-}" ]; then
        # (RS_NO_NPM: a chroot, where the host's copy is all there is)
        echo "note: azurite is not installed; the Azure tests will fail"
        AZURITE_BIN=
    elif [ ! -x "$AZURITE_BIN" ]; then
        command -v npm >/dev/null 2>&1 || install_packages nodejs npm
        as_root mkdir -p "$cache"
        as_root chmod 1777 "$(dirname "$cache")" "$cache"
        say "installing azurite 3.35.0 from the npm registry"
        if ! (cd "$cache" && timeout 600 npm install --no-audit --no-fund --loglevel=error \
                --prefix "$cache" azurite@3.35.0 >"$cache/npm.log" 2>&1); then
            echo "note: azurite could not be installed (see $cache/npm.log); the Azure tests will fail"
            AZURITE_BIN=
        fi
    fi
    if [ -n "$AZURITE_BIN" ]; then
        chmod -R a+rX "$(dirname "$cache")" 2>/dev/null || true
        command -v node >/dev/null 2>&1 || install_packages nodejs
    fi
    export AZURITE_BIN
}

# setup_app_user: an operating system user, rs_app, that plays a web
# application owning its media directory in the file-permission test
# (test/t/016_file_permissions.pl).  It is a member of the PostgreSQL OS
# user's group (so that it may hand its directories to that group, as
# the fix the storage check prints does), and a sudo rule lets the
# PostgreSQL OS user run commands as rs_app, and only as rs_app.
# Exports RS_APP_USER.
setup_app_user() {
    local rule=/etc/sudoers.d/reset_system-tests group
    install_packages sudo
    id rs_app >/dev/null 2>&1 \
        || as_root useradd --system --user-group --no-create-home --shell /usr/sbin/nologin rs_app
    group=$(id -gn "$PG_OS_USER")
    id -nG rs_app | tr ' ' '\n' | grep -qx "$group" || as_root usermod -a -G "$group" rs_app
    if ! as_root test -f "$rule"; then
        echo "$PG_OS_USER ALL=(rs_app) NOPASSWD: ALL" | as_root tee "$rule.tmp" >/dev/null
        as_root chmod 0440 "$rule.tmp"
        as_root visudo -cqf "$rule.tmp" || die "the sudo rule for rs_app does not parse"
        as_root mv "$rule.tmp" "$rule"
    fi
    export RS_APP_USER=rs_app
}

# make_workdir NAME: a scratch copy of the source tree that the PostgreSQL
# OS user owns (a clone under /root is unreadable to that user).  Prints
# its path.
make_workdir() {
    local dir
    dir=$(mktemp -d "/tmp/reset_system-$1.XXXXXX")
    tar -C "$ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' \
        --exclude=tmp_check --exclude=tmp_check_iso --exclude=results \
        --exclude=output_iso --exclude=src/cli/reset-system -cf - . | tar -C "$dir" -xf -
    if [ "$(id -u)" = 0 ]; then chown -R "$PG_OS_USER" "$dir"; fi
    chmod 755 "$dir"
    echo "$dir"
}

# build_and_install DIR: compile as the PostgreSQL OS user (failing on any
# compiler warning) and install with root rights.
build_and_install() {
    local dir=$1 log
    say "building reset_system"
    log=$(run_pg make -C "$dir" -s PG_CONFIG="$PG_CONFIG" 2>&1) || { echo "$log"; die "build failed"; }
    if echo "$log" | grep -q 'warning:'; then
        echo "$log"; die "the build printed compiler warnings"
    fi
    as_root make -C "$dir" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# start_cluster DIR PORT [CONF_LINE...]: initdb and start a throwaway
# PostgreSQL instance in DIR, listening on 127.0.0.1:PORT and on a socket
# in DIR.  Extra postgresql.conf lines may be given.  Sets PGHOST/PGPORT.
start_cluster() {
    local dir=$1 port=$2; shift 2
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown "$PG_OS_USER" "$dir"; fi
    run_pg initdb -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log"; die "initdb failed"; }
    {
        echo "port = $port"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        echo "max_worker_processes = 16"
        for line in "$@"; do echo "$line"; done
    } | run_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    run_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null \
        || { cat "$dir/server.log"; die "could not start the server in $dir"; }
    export PGHOST=$dir PGPORT=$port PGUSER=postgres
}

# stop_cluster DIR: stop the instance started by start_cluster.
stop_cluster() {
    run_pg pg_ctl -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

# free_port: a TCP port nobody listens on (from 20000 up).
free_port() {
    local p
    for p in $(seq 25432 25532); do
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
    done
    die "no free port found"
}
