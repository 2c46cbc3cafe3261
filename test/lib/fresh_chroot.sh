# fresh_chroot.sh: a fresh, minimal Debian system in a directory, to
# install and test packages the way a user's new machine would.  Sourced
# after common.sh (needs root), not run.
#
#   fresh_chroot SUITE DIR    DIR becomes a fresh minimal Debian SUITE
#                             (bookworm, trixie, ...), mounted and ready;
#                             removed again when the script exits
#   in_chroot CMD...          run CMD as root inside, clean environment
#
# "Fresh" means nothing was ever installed into it: debootstrap's minbase
# system, unpacked each time from a pristine copy that the first run makes
# and keeps in $CHROOT_CACHE (so only that run downloads it).  apt inside
# uses the mirrors this machine's apt uses for SUITE (its -updates and
# -security too), and keeps downloaded packages in a cache shared by runs:
# only the downloads are reused, never an installed state.

CHROOT_CACHE=${CHROOT_CACHE:-/var/tmp/reset_system-chroots}
FRESH_CHROOT=
FRESH_CHROOT_MOUNTS=()

# chroot_sources SUITE: apt source lines for SUITE, SUITE-updates and
# SUITE-security from the mirrors this machine uses (none when it does
# not use SUITE: then debootstrap's own default mirror serves it).
chroot_sources() {
    apt-cache policy 2>/dev/null | awk -v s="$1" '
        $2 ~ /^https?:/ && ($3 == s "/main" || $3 == s "-updates/main" || $3 == s "-security/main") {
            split($3, p, "/"); if (!seen[$2 " " p[1]]++) print "deb " $2 " " p[1] " main"
        }'
}

# chroot_pristine SUITE: the cached debootstrap of SUITE (a tarball),
# made the first time, one maker at a time.  Prints its path.
chroot_pristine() {
    local suite=$1 tarball=$CHROOT_CACHE/$1-minbase.tar dir mirror
    mkdir -p "$CHROOT_CACHE"
    (
        flock -w 1800 9 || die "the $suite chroot cache stays locked"
        [ -s "$tarball" ] && exit 0
        dir=$(mktemp -d "$CHROOT_CACHE/$suite.XXXXXX")
        mirror=$(chroot_sources "$suite" | awk -v s="$suite" '$3 == s { print $2; exit }')
        say "debootstrap $suite (once; kept in $tarball)" >&2
        if ! debootstrap --variant=minbase "$suite" "$dir" ${mirror:+"$mirror"} >"$dir.log" 2>&1; then
            tail -n 20 "$dir.log" >&2
            rm -rf --one-file-system "$dir"
            die "debootstrap of $suite failed"
        fi
        rm -f "$dir"/var/cache/apt/archives/*.deb
        chmod 755 "$dir"
        tar -C "$dir" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf --one-file-system "$dir" "$dir.log"
    ) 9>"$CHROOT_CACHE/$suite-minbase.lock" >&2 || exit 1
    echo "$tarball"
}

# fresh_chroot SUITE DIR: see the header.
fresh_chroot() {
    local suite=$1 dir=$2 tarball sources
    [ "$(id -u)" = 0 ] || die "a chroot needs root"
    command -v debootstrap >/dev/null 2>&1 || install_packages debootstrap
    tarball=$(chroot_pristine "$suite")
    FRESH_CHROOT=$dir
    trap fresh_chroot_remove EXIT
    mkdir -p "$dir"
    tar -C "$dir" --numeric-owner -xf "$tarball"
    chmod 755 "$dir"

    sources=$(chroot_sources "$suite")
    [ -z "$sources" ] || echo "$sources" >"$dir/etc/apt/sources.list"
    printf 'APT::Install-Recommends "false";\nAcquire::Languages "none";\n' \
        >"$dir/etc/apt/apt.conf.d/90fresh-chroot"
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf"

    mkdir -p "$CHROOT_CACHE/apt-$suite/partial"
    fresh_chroot_mount --bind "$CHROOT_CACHE/apt-$suite" "$dir/var/cache/apt/archives"
    fresh_chroot_mount -t proc proc "$dir/proc"
    fresh_chroot_mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$dir/dev/pts"
    fresh_chroot_mount -t tmpfs -o mode=1777 tmpfs "$dir/dev/shm"
}

# fresh_chroot_mount ARGS... TARGET: mount, and remember to unmount.
fresh_chroot_mount() {
    local target=${*: -1}
    mkdir -p "$target"
    mount "$@"
    FRESH_CHROOT_MOUNTS+=("$target")
}

# in_chroot CMD...: run CMD as root inside the chroot.
in_chroot() {
    chroot "$FRESH_CHROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# fresh_chroot_remove: end what still runs inside (a server a failed test
# left), unmount, and remove the chroot; never removes a directory that
# still has something mounted below it.
fresh_chroot_remove() {
    local p i pids=()
    [ -n "$FRESH_CHROOT" ] || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$FRESH_CHROOT" ] && pids+=("${p#/proc/}")
    done
    if [ ${#pids[@]} -gt 0 ]; then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        sleep 2
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    for ((i = ${#FRESH_CHROOT_MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${FRESH_CHROOT_MOUNTS[$i]}" 2>/dev/null || umount -l "${FRESH_CHROOT_MOUNTS[$i]}" || true
    done
    FRESH_CHROOT_MOUNTS=()
    if awk -v d="$FRESH_CHROOT/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
        echo "error: something is still mounted below $FRESH_CHROOT; left in place" >&2
    else
        rm -rf --one-file-system "$FRESH_CHROOT"
    fi
    FRESH_CHROOT=
}
