# chroot.sh: minimal Debian chroots, to build and test on other Debian
# releases (other PostgreSQL, gcc and libcurl versions) from this machine.
# Sourced (needs root), not run.
#
#   chroot_open SUITE [fresh]   a chroot of Debian SUITE (bookworm, trixie,
#                               sid, ...) in $CHROOT_DIR, mounted and ready.
#                               By default it is the cached chroot of that
#                               suite (made by debootstrap the first time,
#                               kept between runs, one run at a time,
#                               made anew when older than CHROOT_MAX_AGE);
#                               "fresh" makes a new one, removed on close:
#                               nothing was ever installed into it (it is
#                               unpacked from a pristine debootstrap kept
#                               as a tarball, made the first time).
#   chroot_bind HOSTDIR         make a host directory visible at the same
#                               path inside (unmounted on close)
#   chroot_apt_install PKG...   install Debian packages inside
#   chroot_copy_tree SRC DEST   copy a source tree (no build products, no
#                               .git) to DEST inside, replacing DEST
#   chroot_root CMD...          run a command as root inside
#   chroot_pg CMD...            run a command as the postgres OS user
#                               inside (it exists once a postgresql
#                               package is installed)
#   chroot_close                unmount everything, release the cache
#                               lock, remove a fresh chroot
#
# chroot_open arranges for chroot_close to run when the script exits,
# whether it succeeds, fails or is interrupted, so no mount is ever left
# behind.  Knobs: CHROOT_CACHE (default /var/tmp/reset_system-chroots),
# CHROOT_VARIANT (debootstrap --variant, default minbase), CHROOT_MAX_AGE
# (days after which a cached chroot is made anew, default 7).

CHROOT_CACHE=${CHROOT_CACHE:-/var/tmp/reset_system-chroots}
CHROOT_VARIANT=${CHROOT_VARIANT:-minbase}
CHROOT_MAX_AGE=${CHROOT_MAX_AGE:-7}
CHROOT_DIR=
CHROOT_SUITE=
CHROOT_FRESH=
CHROOT_LOCK_FD=
CHROOT_MOUNTS=()
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

chroot_say() { printf '\n==> [%s] %s\n' "${CHROOT_SUITE:-chroot}" "$*"; }

# chroot_exit_hook: close the chroot when the shell exits, after whatever
# EXIT trap the caller already had.
chroot_exit_hook() {
    local prev= t=()
    eval "t=( $(trap -p EXIT) )"
    prev=${t[2]:-}
    case "$prev" in *chroot_close*) return ;; esac
    # shellcheck disable=SC2064
    trap "chroot_close; ${prev:-:}" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# chroot_debootstrap SUITE DIR: a minimal system of SUITE in DIR, with
# apt set up for it (unstable's Release file may be past its Valid-Until
# date, and nothing here needs documentation or recommended packages).
chroot_debootstrap() {
    local suite=$1 dir=$2 log=$2.debootstrap.log
    command -v debootstrap >/dev/null 2>&1 || {
        chroot_say "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    }
    chroot_say "debootstrap $suite into $dir"
    chroot_unmount_below "$dir" || return 1
    rm -rf --one-file-system "$dir"
    mkdir -p "$dir"
    if ! debootstrap --variant="$CHROOT_VARIANT" "$suite" "$dir" >"$log" 2>&1; then
        tail -n 30 "$log"
        rm -rf --one-file-system "$dir"
        echo "error: debootstrap of $suite failed (log: $log)" >&2
        return 1
    fi
    chroot_sources "$suite" "$dir"
    cat >"$dir/etc/apt/apt.conf.d/90reset-system" <<'EOF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
Acquire::Languages "none";
EOF
    printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
        >"$dir/etc/dpkg/dpkg.cfg.d/90reset-system"
    # debootstrap leaves its package cache behind
    rm -f "$dir"/var/cache/apt/archives/*.deb
    touch "$dir/.reset_system-ready"
}

# chroot_sources SUITE DIR: when this machine's apt uses SUITE, the same
# mirrors for it inside, with SUITE-updates and SUITE-security (packages
# built here may depend on their newer versions); otherwise debootstrap's
# own default stays.
chroot_sources() {
    local lines
    lines=$(apt-cache policy 2>/dev/null | awk -v s="$1" '
        $2 ~ /^https?:/ && ($3 == s "/main" || $3 == s "-updates/main" || $3 == s "-security/main") {
            split($3, p, "/"); if (!seen[$2 " " p[1]]++) print "deb " $2 " " p[1] " main"
        }')
    [ -z "$lines" ] || echo "$lines" >"$2/etc/apt/sources.list"
}

# chroot_pristine SUITE: the cached tarball of a fresh debootstrap of
# SUITE, made the first time (and anew after CHROOT_MAX_AGE days), one
# maker at a time.  Prints its path.
chroot_pristine() {
    local suite=$1 tarball=$CHROOT_CACHE/$1-pristine.tar dir
    (
        flock -w 1800 9 || { echo "error: the $suite pristine chroot stays locked" >&2; exit 1; }
        if [ -s "$tarball" ] && [ -z "$(find "$tarball" -mtime +"$CHROOT_MAX_AGE" 2>/dev/null)" ]; then
            exit 0
        fi
        dir=$(mktemp -d "$CHROOT_CACHE/pristine-$suite.XXXXXX")
        chroot_debootstrap "$suite" "$dir" >&2 || { rm -rf --one-file-system "$dir"; exit 1; }
        tar -C "$dir" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf --one-file-system "$dir" "$dir.debootstrap.log"
    ) 9>"$CHROOT_CACHE/$suite-pristine.lock" || return 1
    echo "$tarball"
}

# chroot_unmount_below DIR: unmount whatever is mounted below DIR (a run
# that was killed outright leaves its mounts), deepest first; fails if
# something stays mounted, so that DIR is never removed with a host
# directory mounted inside.
chroot_unmount_below() {
    local dir=$1 m
    for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    if awk -v d="$dir/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        echo "error: still mounted below $dir:" >&2
        awk -v d="$dir/" 'index($2, d) == 1 { print "  " $2 }' /proc/mounts >&2
        return 1
    fi
}

# chroot_mount_one TYPE SOURCE TARGET [OPTIONS]: mount and remember it.
chroot_mount_one() {
    local type=$1 src=$2 target=$3 opts=${4:-}
    mkdir -p "$target"
    if [ "$type" = bind ]; then
        mount --bind "$src" "$target"
    else
        mount -t "$type" ${opts:+-o "$opts"} "$src" "$target"
    fi
    CHROOT_MOUNTS+=("$target")
}

# chroot_open SUITE [fresh]: see the header.
chroot_open() {
    local suite=$1 mode=${2:-cached}
    [ "$(id -u)" = 0 ] || { echo "error: chroots need root" >&2; return 1; }
    [ -z "$CHROOT_DIR" ] || chroot_close
    CHROOT_SUITE=$suite
    chroot_exit_hook
    mkdir -p "$CHROOT_CACHE"
    if [ "$mode" = fresh ]; then
        CHROOT_FRESH=1
        local tarball
        tarball=$(chroot_pristine "$suite") || return 1
        CHROOT_DIR=$(mktemp -d "$CHROOT_CACHE/fresh-$suite.XXXXXX")
        tar -C "$CHROOT_DIR" --numeric-owner -xf "$tarball"
        chmod 755 "$CHROOT_DIR"
    else
        CHROOT_FRESH=
        CHROOT_DIR=$CHROOT_CACHE/$suite
        # one run at a time per cached chroot
        exec {CHROOT_LOCK_FD}>"$CHROOT_CACHE/$suite.lock"
        if ! flock -n "$CHROOT_LOCK_FD"; then
            chroot_say "waiting for another run to release the $suite chroot"
            flock -w 3600 "$CHROOT_LOCK_FD" || { echo "error: $suite chroot stays locked" >&2; return 1; }
        fi
        chroot_unmount_below "$CHROOT_DIR" || return 1
        if [ ! -e "$CHROOT_DIR/.reset_system-ready" ] ||
            [ -n "$(find "$CHROOT_DIR/.reset_system-ready" -mtime +"$CHROOT_MAX_AGE" 2>/dev/null)" ]; then
            # none yet, or an old one (unstable moves on): make it anew
            chroot_debootstrap "$suite" "$CHROOT_DIR" || return 1
        else
            chroot_say "reusing the cached chroot $CHROOT_DIR"
        fi
    fi
    cp -L /etc/resolv.conf "$CHROOT_DIR/etc/resolv.conf" 2>/dev/null || true
    chroot_mount_one proc proc "$CHROOT_DIR/proc"
    chroot_mount_one devpts devpts "$CHROOT_DIR/dev/pts" newinstance,ptmxmode=0666,mode=0620,gid=5
    chroot_mount_one tmpfs tmpfs "$CHROOT_DIR/dev/shm" mode=1777
}

# chroot_bind HOSTDIR: the host directory at the same path inside.
chroot_bind() {
    chroot_mount_one bind "$1" "$CHROOT_DIR$1"
}

# chroot_kill_inside: end the processes still running inside the chroot
# (a server a failed test left behind), so that it can be unmounted.
# Only processes whose root directory is this chroot are touched.
chroot_kill_inside() {
    local p root pids=() sig
    for sig in TERM KILL; do
        pids=()
        for p in /proc/[0-9]*; do
            root=$(readlink "$p/root" 2>/dev/null) || continue
            [ "$root" = "$CHROOT_DIR" ] && pids+=("${p#/proc/}")
        done
        [ ${#pids[@]} -gt 0 ] || return 0
        kill -s "$sig" "${pids[@]}" 2>/dev/null || true
        sleep 2
    done
}

# chroot_close: see the header.  Safe to call twice.
chroot_close() {
    local i
    [ -n "$CHROOT_DIR" ] || return 0
    chroot_kill_inside
    for ((i = ${#CHROOT_MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${CHROOT_MOUNTS[$i]}" 2>/dev/null || umount -l "${CHROOT_MOUNTS[$i]}" 2>/dev/null || true
    done
    CHROOT_MOUNTS=()
    if [ -n "$CHROOT_FRESH" ]; then
        # only once nothing is mounted there any more
        if chroot_unmount_below "$CHROOT_DIR"; then rm -rf --one-file-system "$CHROOT_DIR"; fi
    fi
    if [ -n "$CHROOT_LOCK_FD" ]; then
        exec {CHROOT_LOCK_FD}>&-
        CHROOT_LOCK_FD=
    fi
    CHROOT_DIR=
}

# chroot_root CMD...: run CMD as root inside, with a clean environment
# (variables to pass go in front: chroot_root env A=b cmd).
chroot_root() {
    chroot "$CHROOT_DIR" /usr/bin/env -i PATH="$CHROOT_PATH" HOME=/root LANG=C.UTF-8 \
        TERM="${TERM:-dumb}" "$@"
}

# chroot_pg CMD...: run CMD as the postgres OS user inside, from /.
chroot_pg() {
    chroot "$CHROOT_DIR" /usr/sbin/runuser -u postgres -- /usr/bin/env -i -C / \
        PATH="$CHROOT_PATH" HOME=/var/lib/postgresql LANG=C.UTF-8 "$@"
}

# chroot_apt_install PKG...: install what is missing of PKG inside.
chroot_apt_install() {
    local missing=() p
    for p in "$@"; do
        chroot_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    chroot_say "installing ${missing[*]}"
    chroot_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    chroot_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    chroot_root apt-get clean
}

# chroot_copy_tree SRC DEST: SRC's files (without .git and build
# products) at DEST inside, which is emptied first.
chroot_copy_tree() {
    local src=$1 dest=$CHROOT_DIR$2
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -C "$src" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=tmp_check --exclude=tmp_check_iso --exclude=results \
        --exclude=output_iso --exclude=src/cli/reset-system -cf - . | tar -C "$dest" -xf -
}
