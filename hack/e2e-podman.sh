#!/usr/bin/env bash
# e2e-podman.sh: kiste as podman's OCI runtime, end to end.
#
# Runs podman (Debian's 4.3, with conmon) on private storage only: its
# --root, --runroot, --tmpdir, events log and containers.conf all live in a
# temporary directory, with the cgroupfs cgroup manager and no network.
# The image is a busybox made here (busybox-static and its applets, passwd
# and group) and brought in with `podman import`, so no registry is needed.
# `podman --runtime <kiste>` then drives kiste through conmon, as it would
# drive runc, through the scenarios below. Each scenario prints `PASS name`
# or `FAIL name: why`; the last line is `N passed, N failed`, and the exit
# status is non-zero if any failed.
#
# Every runtime command podman and conmon run is logged (a wrapper in front
# of kiste: a timestamp and the shell-quoted argv, one line each); the
# distinct subcommands and flags are printed at the end, and the whole log
# is copied to $ARGV_LOG if that is set.
#
# Environment: KISTE (default target/x86_64-unknown-linux-musl/release/kiste), STORAGE_DRIVER
# (default overlay; vfs also works), KEEP=1 keeps the temporary directory.
# Needs root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/lib.sh
. hack/lib.sh

kiste=$(readlink -f "${KISTE:-target/x86_64-unknown-linux-musl/release/kiste}")
[ -x "$kiste" ] || { echo "e2e-podman: no kiste binary at $kiste" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "e2e-podman: needs root" >&2; exit 1; }

ensure_packages podman conmon busybox-static bsdutils >&2 || { echo "e2e-podman: could not install podman conmon busybox-static bsdutils" >&2; exit 1; }

tmp=$(mktemp -d /tmp/kiste-e2e-podman.XXXXXX)
image=localhost/kiste-busybox:e2e

# Everything podman keeps, under $tmp. conmon's exit command (`podman
# container cleanup`) gets the same global flags from podman, and
# CONTAINERS_CONF from the environment.
export CONTAINERS_CONF=$tmp/containers.conf
podman_flags=(--root "$tmp/root" --runroot "$tmp/runroot" --tmpdir "$tmp/tmpdir"
    --runtime "$tmp/kiste" --cgroup-manager=cgroupfs --events-backend=file
    --storage-driver "${STORAGE_DRIVER:-overlay}")
p() { podman "${podman_flags[@]}" "$@"; }
# podman run, never with a network.
prun() { p run --network none "$@"; }

cleanup() {
    set +e
    p rm -af -t 0 >/dev/null 2>&1
    p volume rm -af >/dev/null 2>&1
    p system reset -f >/dev/null 2>&1
    # conmon processes of this run: their command line names our runroot.
    local pid
    for pid in $(pgrep -x conmon); do
        grep -qF "$tmp/" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    grep -o " ${tmp}/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

mkdir -p "$tmp/tmpdir"
# podman asks for nofile and nproc 1048576, which root cannot set above its
# hard limits without CAP_SYS_RESOURCE (missing in some VMs and sandboxes;
# and under podman the runtime has nproc 32768): ask for small limits.
# Events go to a private file. runtime_supports_json makes conmon pass --log
# and --log-format json, as it does for runc and crun.
cat >"$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "none"
[engine]
events_logger = "file"
events_logfile_path = "$tmp/events.log"
runtime_supports_json = ["kiste"]
CONF

# The runtime: a wrapper that logs each command line, then runs kiste.
# podman passes no --root of its own (it runs `state` with no global flags
# at all), so the wrapper gives kiste a private one, unless podman does.
state=$tmp/kiste-state
cat >"$tmp/kiste" <<WRAP
#!/bin/bash
{ printf '%s' "\$(date +%s.%N)"; printf ' %q' "\$@"; printf '\n'; } >>"$tmp/argv.log"
case " \$* " in
*" --root "* | *" --root="*) exec "$kiste" "\$@" ;;
*) exec "$kiste" --root "$state" "\$@" ;;
esac
WRAP
chmod 755 "$tmp/kiste"
: >"$tmp/argv.log"

heading "Image"
rootfs=$tmp/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root"
cp /bin/busybox "$rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
echo 'nogroup:x:65534:' >>"$rootfs/etc/group"
tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . |
    p import -q --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - "$image" >/dev/null
p image exists "$image" || { echo "e2e-podman: image import failed" >&2; exit 1; }
echo "imported $image"

heading "Scenarios"
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
status() { p inspect --format '{{.State.Status}}' "$1" 2>&1 || true; }

# 1. stdout of echo
out=$(prun --rm "$image" echo hello 2>&1) && [ "$out" = hello ] &&
    pass echo || fail echo "output ${out@Q}"

# 2. the exit code
rc=0; out=$(prun --rm "$image" sh -c 'exit 7' 2>&1) || rc=$?
[ $rc = 7 ] && pass exit-code || fail exit-code "exit $rc, expected 7, ${out@Q}"

# 3. a terminal (under script(1), so that podman has one to proxy)
cmd=$(printf '%q ' podman "${podman_flags[@]}" run --network none --rm -t "$image" tty)
out=$(script -qec "$cmd" /dev/null </dev/null 2>&1 | tr -d '\r') || true
[ "$out" = /dev/pts/0 ] && pass tty || fail tty "output ${out@Q}"

# 4. a detached container: exec, ps, inspect, stop, rm
rc=0; out=$(prun -d --name c1 "$image" sleep 300 2>&1) || rc=$?
[ $rc = 0 ] && [ "$(status c1)" = running ] && pass detached-running ||
    fail detached-running "exit $rc, ${out@Q}, status $(status c1)"
# (its cgroup is where the leftover check below looks)
c1=$(p inspect --format '{{.Id}}' c1 2>/dev/null) || c1=none
cg=$(find /sys/fs/cgroup -maxdepth 5 -type d -name "*$c1*" 2>/dev/null | head -n 1 || true)
[ -n "$cg" ] && pass cgroup || fail cgroup "no directory named after $c1 under /sys/fs/cgroup"
out=$(p exec c1 echo in-exec 2>&1) && [ "$out" = in-exec ] &&
    pass exec || fail exec "output ${out@Q}"
rc=0; out=$(p exec c1 sh -c 'exit 3' 2>&1) || rc=$?
[ $rc = 3 ] && pass exec-exit-code || fail exec-exit-code "exit $rc, expected 3, ${out@Q}"
out=$(p ps --filter name=c1 --format '{{.Names}} {{.Status}}' 2>&1) || true
case $out in 'c1 Up'*) pass ps ;; *) fail ps "output ${out@Q}" ;; esac
out=$(p top c1 pid args 2>&1) || true
case $out in *'sleep 300'*) pass top ;; *) fail top "output ${out@Q}" ;; esac
rc=0; out=$(p stop -t 2 c1 2>&1) || rc=$?
st=$(status c1)
[ $rc = 0 ] && [ "$st" = exited ] && pass stop || fail stop "exit $rc, ${out@Q}, status ${st@Q}"
rc=0; out=$(p rm c1 2>&1) || rc=$?
[ $rc = 0 ] && ! p container exists c1 && pass rm || fail rm "exit $rc, ${out@Q}"

# 5. a named volume, shared by two containers in turn
p volume create v1 >/dev/null 2>&1 || true
out=$( { prun --rm -v v1:/data "$image" sh -c 'echo persisted > /data/f' &&
    prun --rm -v v1:/data "$image" cat /data/f; } 2>&1) && [ "$out" = persisted ] &&
    pass named-volume || fail named-volume "output ${out@Q}"

# 6. a read-only bind mount: readable, not writable
mkdir -p "$tmp/host-dir" && echo 'from the host' >"$tmp/host-dir/f"
out=$(prun --rm -v "$tmp/host-dir:/mnt:ro" "$image" cat /mnt/f 2>&1) || true
[ "$out" = 'from the host' ] && pass bind-mount || fail bind-mount "output ${out@Q}"
rc=0; out=$(prun --rm -v "$tmp/host-dir:/mnt:ro" "$image" sh -c 'echo x > /mnt/g' 2>&1) || rc=$?
[ $rc != 0 ] && [ ! -e "$tmp/host-dir/g" ] && case $out in *Read-only*) true ;; *) false ;; esac &&
    pass bind-mount-ro || fail bind-mount-ro "exit $rc, ${out@Q}"

# 7. a read-only rootfs
rc=0; out=$(prun --rm --read-only "$image" touch /x 2>&1) || rc=$?
[ $rc != 0 ] && case $out in *Read-only*) true ;; *) false ;; esac &&
    pass read-only || fail read-only "exit $rc, ${out@Q}"

# 8. cgroup limits, as the container sees them
out=$(prun --rm --memory 64m "$image" sh -c \
    'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' 2>&1) || true
[ "$out" = 67108864 ] && pass memory-limit || fail memory-limit "output ${out@Q}"
out=$(prun --rm --pids-limit 42 "$image" sh -c \
    'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max' 2>&1) || true
[ "$out" = 42 ] && pass pids-limit || fail pids-limit "output ${out@Q}"

# Nothing left: containers, kiste's state, mounts, cgroups.
heading "Leftovers"
ids=$(awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[0-9a-f]{64}$/) print $i}' "$tmp/argv.log" | sort -u)
# The --root kiste ran with: podman's, if it gave one, else the wrapper's.
root=$(awk '{for (i = 2; i < NF; i++) if ($i == "--root") {print $(i + 1); exit}}' "$tmp/argv.log")
[ -z "$root" ] || state=$(eval "printf '%s' $root") # undo printf %q
# conmon of a container that just went (and its `podman container cleanup`)
# may take a moment.
for _ in $(seq 30); do
    pgrep -f -- "$tmp/" >/dev/null || break
    sleep 0.2
done
procs=$(pgrep -af -- "$tmp/" | cut -c1-120 || true)
ctrs=$(p ps -aq 2>&1) || true
left=$(find "$state" -mindepth 1 -maxdepth 1 2>/dev/null | tr '\n' ' ' || true)
# c/storage keeps its overlay directory mounted (a private bind mount)
# while podman's store is in use; container mounts are gone.
mnt=$(grep -F " $tmp/" /proc/self/mountinfo | grep -vF " $tmp/root/overlay " | cut -d' ' -f5 | tr '\n' ' ' || true)
cg=
for id in $ids; do
    cg+=$(find /sys/fs/cgroup -maxdepth 5 -type d -name "*$id*" 2>/dev/null | tr '\n' ' ' || true)
done
if [ -z "$ctrs" ] && [ -z "$procs" ] && [ -z "${left// /}" ] && [ -z "${mnt// /}" ] && [ -z "${cg// /}" ]; then
    pass nothing-left
else
    fail nothing-left "containers: ${ctrs@Q} processes: ${procs@Q} kiste state ($state): ${left@Q} mounts: ${mnt@Q} cgroups: ${cg@Q}"
fi
# After a reset of the private store, nothing at all is mounted under $tmp.
p volume rm -af >/dev/null 2>&1 || true
out=$(p system reset -f 2>&1) || true
mnt=$(grep -F " $tmp/" /proc/self/mountinfo | cut -d' ' -f5 | tr '\n' ' ' || true)
[ -z "${mnt// /}" ] && pass nothing-mounted-after-reset || fail nothing-mounted-after-reset "mounts: ${mnt@Q} (reset: ${out@Q})"

heading "Runtime commands podman and conmon ran (subcommand and flags)"
# Flags, subcommands and signal numbers; paths, ids and values dropped.
awk '{line = ""
    for (i = 2; i <= NF; i++) {
        a = $i; sub(/=.*\//, "=PATH", a)
        if (a ~ /^-/ || a ~ /^[a-z]+$/ || (a ~ /^[0-9]+$/ && length(a) <= 2)) line = line " " a
    }
    print line}' "$tmp/argv.log" | sort | uniq -c | sort -rn
[ -z "${ARGV_LOG:-}" ] || cp "$tmp/argv.log" "$ARGV_LOG"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
