#!/usr/bin/env bash
# bench.sh: kiste against runc and crun (and youki if given), interleaved.
#
# Figures, each as median and min–max per runtime plus kiste/other ratios:
#   (a) create + start + delete -f of /bin/true, timed together
#   (b) run of /bin/true in the foreground
#   (c) exec of /bin/true into a running sleep container
#   (d) 20 lifecycles at once, containers per second
#   (e) peak RSS (ru_maxrss) of the runtime commands in (a)
#   (f) the floor: unshare the same 5 namespaces + chroot (floor-c) or
#       pivot_root (floor-c-pivot) + exec /bin/true, timed in the same
#       round-robin as (b); kiste's (b) is given over each
#   (g) `kiste image import` of a 3-layer ~100 MB image against `umoci
#       unpack` of the same layout (hack/bench-image.py; IMAGE=0 skips it)
#
# crun 1.8.1 refuses a hybrid cgroup layout (a cgroup2 mount at
# /sys/fs/cgroup/unified holding a controller), so the main table runs every
# runtime inside a private mount namespace where that mount is unmounted.
# A second table measures kiste and runc in the host's own mount namespace.
#
# Environment:
#   KISTE   kiste binary            (default: target/x86_64-unknown-linux-musl/release/kiste)
#   RUNC    runc binary             (default: runc from PATH)
#   CRUN    crun binary             (default: crun from PATH)
#   YOUKI   youki binary            (optional, only if given)
#   N       iterations per figure   (default: 50)
#   N_HOST  iterations for the host table (default: N/2, at least 5)
#   PAR     containers at once in (d)      (default: 20)
#   ROUNDS  rounds of (d)                  (default: 5)
#   RSS_N   lifecycles measured for (e)    (default: 5)
#   HOST=0  skip the host-namespace table
#   IMAGE=0 skip the image table (g); IMAGE_N its iterations (default 5)
#   PYTHON  python3 to use          (default: python3)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")

if [ "$(id -u)" != 0 ]; then
    echo "bench: must run as root" >&2
    exit 1
fi

N=${N:-50}
N_HOST=${N_HOST:-$((N / 2 > 5 ? N / 2 : 5))}
PAR=${PAR:-20}
ROUNDS=${ROUNDS:-5}
RSS_N=${RSS_N:-5}
PYTHON=${PYTHON:-python3}
KISTE=${KISTE:-$repo/target/x86_64-unknown-linux-musl/release/kiste}
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
CRUN=${CRUN:-$(command -v crun || echo /usr/bin/crun)}
YOUKI=${YOUKI:-}

abspath() {
    case $1 in
    "") echo "" ;;
    /*) echo "$1" ;;
    */*) echo "$PWD/$1" ;;
    *) command -v "$1" || echo "$1" ;;
    esac
}
KISTE=$(abspath "$KISTE")
RUNC=$(abspath "$RUNC")
CRUN=$(abspath "$CRUN")
YOUKI=$(abspath "$YOUKI")

work=$(mktemp -d /tmp/kiste-bench.XXXXXX)
cleanup() {
    # bench.py deletes its containers; this removes what is left on disk.
    # Never rm through a mount: a leftover container may still use a rootfs.
    if grep -qF " $work/" /proc/self/mountinfo; then
        echo "bench: mounts left under $work; not removing it" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

echo "bench: making bundles in $work" >&2
"$here/make-bundle.sh" "$work/true" /bin/true
"$here/make-bundle.sh" "$work/sleep" /bin/sleep 1000000
# shellcheck disable=SC2016 # $$ and $(hostname) expand inside the container
"$here/make-bundle.sh" "$work/smoke" /bin/sh -c 'echo kiste-bench-smoke $$ $(hostname)'

# hack/bench-helper.c: the floor (the cheapest way into the same five
# namespaces, then chroot and exec) and a clean ru_maxrss probe for (e).
# Without gcc, (e) is n/a and the floor is measured with unshare(1) only.
helper=()
floors=()
if command -v gcc >/dev/null 2>&1 &&
    { gcc -O2 -static -o "$work/bench-helper" "$here/bench-helper.c" 2>/dev/null ||
        gcc -O2 -o "$work/bench-helper" "$here/bench-helper.c"; }; then
    helper=(--helper "$work/bench-helper")
    floors+=(--floor "floor-c=$work/bench-helper floor $work/true/rootfs /bin/true")
    floors+=(--floor "floor-c-pivot=$work/bench-helper floor-pivot $work/true/rootfs /bin/true")
else
    echo "bench: gcc not found or failed: no floor-c, no RSS figure" >&2
fi
if unshare_bin=$(command -v unshare) && chroot_bin=$(command -v chroot); then
    floors+=(--floor "floor-unshare=$unshare_bin --fork --pid --net --ipc --uts --mount --propagation unchanged $chroot_bin $work/true/rootfs /bin/true")
fi

common=(
    --bundle "$work/true" --sleep-bundle "$work/sleep" --smoke-bundle "$work/smoke"
    --parallel "$PAR" --parallel-rounds "$ROUNDS" --rss-n "$RSS_N" "${helper[@]}" "${floors[@]}"
)

main_rts="kiste=$KISTE,runc=$RUNC,crun=$CRUN"
[ -n "$YOUKI" ] && main_rts="$main_rts,youki=$YOUKI"

# Each table runs as a background child so that a ^C or a TERM given to this
# script reaches bench.py, which then deletes its containers before exiting.
child=
interrupted=0
on_signal() {
    interrupted=1
    if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
}
trap on_signal INT TERM
run_table() {
    local rc=0
    "$@" &
    child=$!
    wait "$child" || rc=$?
    while kill -0 "$child" 2>/dev/null; do
        rc=0
        wait "$child" || rc=$?
    done
    child=
    if [ "$interrupted" = 1 ]; then exit 130; fi
    return "$rc"
}

# Main table: everyone in a private mount namespace without the cgroup2
# mount at /sys/fs/cgroup/unified (only there does crun 1.8.1 start).
unified=/sys/fs/cgroup/unified
# shellcheck disable=SC2016 # expanded by the inner shell
run_table unshare --mount --propagation private -- sh -c '
    if mountpoint -q "$1"; then umount "$1"; fi
    shift
    exec "$@"
' sh "$unified" "$PYTHON" "$here/bench.py" \
    --title "all runtimes in a private mount namespace, $unified unmounted" \
    --runtimes "$main_rts" --work "$work/private" --n "$N" "${common[@]}"

# Second table: kiste and runc in the host mount namespace as it is.
if [ "${HOST:-1}" != 0 ]; then
    run_table "$PYTHON" "$here/bench.py" \
        --title "kiste and runc in the host mount namespace (as is)" \
        --runtimes "kiste=$KISTE,runc=$RUNC" --work "$work/host" --n "$N_HOST" "${common[@]}"
fi

if [ "${IMAGE:-1}" != 0 ]; then
    run_table "$PYTHON" "$here/bench-image.py" --kiste "$KISTE" --work "$work/image" --n "${IMAGE_N:-5}"
fi
