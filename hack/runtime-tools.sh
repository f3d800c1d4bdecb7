#!/usr/bin/env bash
# Run the opencontainers/runtime-tools validation programs against an OCI
# runtime (kiste, runc, crun, ...) and summarise the results.
#
# NOT FOR CI: this script needs a checkout of runtime-tools that is not part
# of this repository (and a Go toolchain to build it). It is a developer aid
# only; nothing under .ci/ may call it.
#
# Usage:
#   hack/runtime-tools.sh [--src DIR] [--runtime PATH] [--logs DIR]
#                         [--timeout SECS] [--rebuild] [TEST...]
#
#   --src DIR       runtime-tools work tree (default /tmp/runtime-tools)
#   --runtime PATH  runtime binary handed to the programs as $RUNTIME
#                   (default: runc from $PATH)
#   --logs DIR      where to write <name>.tap / <name>.err
#                   (default /tmp/runtime-tools-logs/<runtime basename>)
#   --timeout SECS  limit for one program (default 60)
#   --rebuild       rebuild runtimetest and the selected programs first
#   TEST...         program names such as `kill` or `linux_sysctl` (a path
#                   like validation/kill/kill.t is accepted too); default: all
#
# Prints one line per program (PASS name / FAIL name (k of n subtests
# failed) / TIMEOUT name) and then "N passed, N failed". Exit status is 0
# only when every selected program passed.
#
# How the programs work, in short: each one must be started from the top of
# the runtime-tools tree (it reads ./rootfs-<arch>.tar.gz and copies
# ./runtimetest into every bundle), takes the runtime from $RUNTIME, makes
# its bundles with os.MkdirTemp (so under $TMPDIR) and calls the runtime
# without --root, i.e. with the runtime's default state directory.
#
# Hygiene: each program runs in its own session and with its own TMPDIR.
# Afterwards, containers that appeared in `$RUNTIME list -q` during the run
# are force-deleted, processes still left in the session are killed, mounts
# left under the private TMPDIR are detached and the TMPDIR is removed, and
# empty cgroup directories the cgroup programs leave behind are removed.

set -euo pipefail

src=/tmp/runtime-tools
runtime=""
logs=""
limit=60
rebuild=0
tests=()

die() { echo "runtime-tools.sh: $*" >&2; exit 2; }

usage() { sed -n '/^# Usage:/,/^# only when/p' "$0" | sed 's/^# \{0,1\}//' >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --src) [ $# -ge 2 ] || die "--src needs a value"; src=$2; shift 2 ;;
        --src=*) src=${1#*=}; shift ;;
        --runtime) [ $# -ge 2 ] || die "--runtime needs a value"; runtime=$2; shift 2 ;;
        --runtime=*) runtime=${1#*=}; shift ;;
        --logs) [ $# -ge 2 ] || die "--logs needs a value"; logs=$2; shift 2 ;;
        --logs=*) logs=${1#*=}; shift ;;
        --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; limit=$2; shift 2 ;;
        --timeout=*) limit=${1#*=}; shift ;;
        --rebuild) rebuild=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; tests+=("$@"); break ;;
        -*) usage; die "unknown option $1" ;;
        *) tests+=("$1"); shift ;;
    esac
done

[[ "$limit" =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds"
if [ ! -f "$src/Makefile" ] || [ ! -d "$src/validation" ]; then
    die "$src does not look like a runtime-tools work tree (see the header)"
fi
src=$(cd "$src" && pwd)

if [ -z "$runtime" ]; then
    runtime=$(command -v runc) || die "no --runtime given and no runc in PATH"
fi
if [[ "$runtime" != */* ]]; then
    runtime=$(command -v "$runtime") || die "runtime $runtime not found"
fi
[ -x "$runtime" ] || die "runtime $runtime is not executable"
runtime=$(cd "$(dirname "$runtime")" && pwd)/$(basename "$runtime")

[ -n "$logs" ] || logs=/tmp/runtime-tools-logs/$(basename "$runtime")
mkdir -p "$logs"

# --- which programs -------------------------------------------------------
if [ ${#tests[@]} -eq 0 ]; then
    while IFS= read -r d; do
        tests+=("$(basename "$d")")
    done < <(find "$src/validation" -mindepth 1 -maxdepth 1 -type d ! -name util | sort)
else
    for i in "${!tests[@]}"; do
        t=$(basename "${tests[$i]}")
        tests[i]=${t%.t}
    done
fi
for t in "${tests[@]}"; do
    [ -f "$src/validation/$t/$t.go" ] || die "no validation program named $t"
done

# --- build what is missing ------------------------------------------------
# The tree vendors its Go dependencies, so this works offline.
export GOFLAGS=-mod=vendor GOPROXY=off GO111MODULE=on
export GOPATH=${GOPATH:-/tmp/runtime-tools-gopath}
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ]; then
    export GOCACHE=/tmp/runtime-tools-gocache
fi
want=()
if [ $rebuild -eq 1 ] || [ ! -x "$src/runtimetest" ]; then
    want+=(runtimetest)
fi
for t in "${tests[@]}"; do
    if [ $rebuild -eq 1 ] || [ ! -x "$src/validation/$t/$t.t" ]; then
        want+=("validation/$t/$t.t")
    fi
done
if [ ${#want[@]} -gt 0 ]; then
    command -v go >/dev/null || die "go is needed to build ${want[*]}"
    echo "building ${#want[@]} program(s) in $src ..." >&2
    if ! make -C "$src" "${want[@]}" >"$logs/build.log" 2>&1; then
        tail -n 30 "$logs/build.log" >&2
        die "build failed, see $logs/build.log"
    fi
fi

# --- helpers ----------------------------------------------------------------
containers() { "$runtime" list -q 2>/dev/null || true; }

declare -A before=()
while IFS= read -r id; do
    [ -n "$id" ] && before[$id]=1
done < <(containers)

# Force-delete the containers that were not there when we started.
reap_containers() {
    local id
    while IFS= read -r id; do
        [ -n "$id" ] || continue
        [ -z "${before[$id]+x}" ] || continue
        echo "cleanup: deleting leftover container $id" >&2
        "$runtime" delete --force "$id" >/dev/null 2>&1 ||
            "$runtime" kill "$id" KILL >/dev/null 2>&1 || true
        sleep 0.2
        "$runtime" delete --force "$id" >/dev/null 2>&1 || true
    done < <(containers)
}

# Kill whatever is still in session $1 (the program's own session). Helpers
# the programs kill themselves may take a moment to go, so wait a little
# first; zombies are left to their (new) parent.
reap_session() {
    local sid=$1 pids="" n
    [ -n "$sid" ] || return 0
    for n in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ps -e -o pid=,sid=,stat= |
                   awk -v s="$sid" '$2 == s && $3 !~ /^Z/ { printf "%s ", $1 }')
        [ -n "$pids" ] || return 0
        [ "$n" -eq 10 ] || sleep 0.3
    done
    echo "cleanup: killing leftover processes $pids" >&2
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}

# Detach mounts left below $1 (deepest first). Returns 1 if some remain.
reap_mounts() {
    local dir=$1 m left
    [ -d "$dir" ] || return 0
    for _ in 1 2 3; do
        left=0
        while IFS= read -r m; do
            [ $left -eq 1 ] || echo "cleanup: detaching leftover mounts under $dir" >&2
            left=1
            umount -l "$m" 2>/dev/null || true
        done < <(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo |
                     awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-)
        [ $left -eq 1 ] || return 0
    done
    awk -v d="$dir/" 'index($5, d) == 1 { f = 1 } END { exit f }' /proc/self/mountinfo
}

# The cgroup programs use /cgrouptest and testdir/cgrouptest/container (and
# delete_only_create_resources makes pids/cgrouptest); runtimes remove the
# leaf but not the parents. Remember what was there, remove empty new ones.
cg_dirs() {
    find /sys/fs/cgroup/*/testdir /sys/fs/cgroup/*/cgrouptest \
        /sys/fs/cgroup/testdir /sys/fs/cgroup/cgrouptest \
        -depth -type d 2>/dev/null || true
}
declare -A cg_before=()
while IFS= read -r d; do
    cg_before[$d]=1
done < <(cg_dirs)
reap_cgroups() {
    local d
    while IFS= read -r d; do
        [ -z "${cg_before[$d]+x}" ] || continue
        rmdir "$d" 2>/dev/null || echo "cleanup: cannot remove cgroup $d" >&2
    done < <(cg_dirs)
}

cur_sid=""
cur_tmp=""
sidfile=""
cleanup() {
    if [ -z "$cur_sid" ] && [ -n "$sidfile" ]; then
        cur_sid=$(cat "$sidfile" 2>/dev/null || true)
    fi
    reap_containers
    reap_session "$cur_sid"
    reap_cgroups
    if [ -n "$cur_tmp" ]; then
        if reap_mounts "$cur_tmp"; then
            rm -rf --one-file-system "$cur_tmp" 2>/dev/null || true
        else
            echo "cleanup: mounts remain under $cur_tmp, leaving it" >&2
        fi
    fi
    cur_sid=""
    cur_tmp=""
    sidfile=""
}
interrupted() {
    local sid
    sid=$(cat "$sidfile" 2>/dev/null || true)
    if [ -n "$sid" ]; then
        pkill -KILL -s "$sid" 2>/dev/null || true
    fi
    cleanup
    echo "interrupted" >&2
    exit 130
}
trap interrupted INT TERM

# --- run --------------------------------------------------------------------
passed=0
failed=0
cd "$src"
for t in "${tests[@]}"; do
    tap=$logs/$t.tap
    err=$logs/$t.err
    cur_tmp=$(mktemp -d /tmp/runtime-tools-run.XXXXXX)
    # Bundles go here: a user namespace's root must be able to reach them.
    chmod 755 "$cur_tmp"
    sidfile=$cur_tmp/.sid
    rc=0
    # setsid -w: new session (so leftovers can be found), wait for the end.
    # timeout: TERM after $limit s, KILL 5 s later, exit 124/137 then.
    # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
    # env --default-signal: undo the SIGINT/SIGQUIT ignoring that bash gives
    # to background commands, so containers start with normal dispositions.
    TMPDIR=$cur_tmp RUNTIME=$runtime setsid -w \
        env --default-signal=INT,QUIT bash -c \
        'echo $$ >"$1"; shift; exec "$@"' _ "$sidfile" \
        timeout -k 5 "$limit" "./validation/$t/$t.t" \
        </dev/null >"$tap" 2>"$err" &
    # (waiting with `wait` lets the INT/TERM trap run at once)
    wait $! || rc=$?
    cur_sid=$(cat "$sidfile" 2>/dev/null || true)
    cleanup

    total=$(grep -cE '^(not )?ok( |$)' "$tap" || true)
    bad=$(grep -E '^not ok( |$)' "$tap" | grep -cvE '^not ok [0-9]* *# *TODO' || true)
    # Some programs print several TAP streams one after the other (each
    # with its own plan), so add the plans up.
    plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$tap" |
               awk '{ s += $1; n++ } END { if (n) print s }')

    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "TIMEOUT $t"
        failed=$((failed + 1))
        continue
    fi
    why=()
    [ "$rc" -eq 0 ] || why+=("exit status $rc")
    if [ -z "$plan" ]; then
        why+=("no TAP plan")
    elif [ "$plan" -ne "$total" ]; then
        why+=("plan says $plan")
    fi
    if [ "$bad" -eq 0 ] && [ ${#why[@]} -eq 0 ]; then
        echo "PASS $t"
        passed=$((passed + 1))
    else
        extra=""
        for w in ${why[@]+"${why[@]}"}; do extra="$extra; $w"; done
        echo "FAIL $t ($bad of $total subtests failed$extra)"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
echo "logs: $logs" >&2
[ $failed -eq 0 ]
