#!/usr/bin/env bash
# e2e-containerd.sh: kiste as containerd's runtime, end to end.
#
# Starts a private containerd (Debian's 1.6: its own root, state, socket and
# config under a temporary directory), imports a busybox image built here
# (an OCI archive: busybox-static and its applets, Env and WorkingDir in
# the image config), and drives `ctr run --runc-binary <kiste>` through the
# scenarios below; containerd-shim-runc-v2 calls kiste as it calls runc.
# Each scenario prints `PASS name` or `FAIL name: why`; the last line is
# `N passed, N failed`, and the exit status is non-zero if any failed.
#
# Every runtime command the shim runs is logged (a wrapper in front of
# kiste); the distinct subcommands and flags are printed at the end, and
# the whole log is copied to $ARGV_LOG if that is set.
#
# Environment: KISTE (default target/x86_64-unknown-linux-musl/release/kiste), KEEP=1 keeps the
# temporary directory. Needs root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/lib.sh
. hack/lib.sh

kiste=$(readlink -f "${KISTE:-target/x86_64-unknown-linux-musl/release/kiste}")
[ -x "$kiste" ] || { echo "e2e-containerd: no kiste binary at $kiste" >&2; exit 1; }

ensure_packages containerd busybox-static >&2 || { echo "e2e-containerd: could not install containerd busybox-static" >&2; exit 1; }

tmp=$(mktemp -d /tmp/kiste-e2e-ctr.XXXXXX)
ns=kiste-e2e
daemon=
# containerd makes a parent cgroup per namespace (/kiste-e2e); the
# containers' own ones are kiste's, gone with them unless a run was killed.
remove_ns_cgroups() {
    find /sys/fs/cgroup -maxdepth 7 -depth -type d -path "*/$ns*" -exec rmdir {} \; 2>/dev/null || true
}
cleanup() {
    set +e
    if [ -n "$daemon" ]; then
        for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$t" >/dev/null 2>&1; ctr_ tasks delete -f "$t" >/dev/null 2>&1; done
        for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1; done
        kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null
    fi
    pkill -f "containerd-shim-runc-v2 -namespace $ns" 2>/dev/null
    grep -o " $tmp[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    remove_ns_cgroups
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
remove_ns_cgroups # what an earlier, killed run left

# The runtime: a wrapper that logs each command line, then runs kiste.
state=$tmp/kiste-state
cat >"$tmp/kiste" <<WRAP
#!/bin/sh
printf '%s\n' "\$*" >>"$tmp/argv.log"
exec "$kiste" "\$@"
WRAP
chmod 755 "$tmp/kiste"

# The daemon.
cat >"$tmp/config.toml" <<CONF
version = 2
root = "$tmp/root"
state = "$tmp/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$tmp/containerd.sock"
[ttrpc]
  address = "$tmp/containerd.sock.ttrpc"
CONF
containerd --config "$tmp/config.toml" >"$tmp/containerd.log" 2>&1 &
daemon=$!
ctr_() { ctr --address "$tmp/containerd.sock" --namespace "$ns" "$@"; }
for _ in $(seq 100); do
    ctr_ version >/dev/null 2>&1 && break
    sleep 0.1
done
ctr_ version >/dev/null || { echo "e2e-containerd: containerd did not start:" >&2; tail "$tmp/containerd.log" >&2; exit 1; }

# The image: an OCI archive made here.
img=$tmp/image
mkdir -p "$img/rootfs/bin" "$img/rootfs/etc" "$img/rootfs/work" "$img/blobs/sha256"
cp /bin/busybox "$img/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$img/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$img/rootfs/etc/passwd"
echo 'root:x:0:' >"$img/rootfs/etc/group"
echo 'from the image' >"$img/rootfs/work/hello.txt"
blob() { # blob FILE -> prints "sha256:<hex> <size>", stores it
    local d s
    d=$(sha256sum "$1" | cut -d' ' -f1)
    s=$(stat -c %s "$1")
    mv "$1" "$img/blobs/sha256/$d"
    echo "sha256:$d $s"
}
tar --numeric-owner --owner=0 --group=0 -C "$img/rootfs" -cf "$tmp/layer.tar" .
read -r layer layer_size <<<"$(blob "$tmp/layer.tar")"
cat >"$tmp/config.json" <<CFG
{"architecture":"amd64","os":"linux",
 "config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin","GREETING=from-image"],"Cmd":["sh"],"WorkingDir":"/work"},
 "rootfs":{"type":"layers","diff_ids":["$layer"]}}
CFG
read -r config config_size <<<"$(blob "$tmp/config.json")"
cat >"$tmp/manifest.json" <<MAN
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config","size":$config_size},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$layer","size":$layer_size}]}
MAN
read -r manifest manifest_size <<<"$(blob "$tmp/manifest.json")"
image=docker.io/kiste/busybox:e2e
cat >"$img/index.json" <<IDX
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$manifest","size":$manifest_size,
 "annotations":{"io.containerd.image.name":"$image","org.opencontainers.image.ref.name":"e2e"},
 "platform":{"architecture":"amd64","os":"linux"}}]}
IDX
echo '{"imageLayoutVersion":"1.0.0"}' >"$img/oci-layout"
tar -C "$img" -cf "$tmp/image.tar" oci-layout index.json blobs
ctr_ images import "$tmp/image.tar" >/dev/null
ctr_ images ls -q | grep -qx "$image" || { echo "e2e-containerd: image import failed" >&2; exit 1; }

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
run() { ctr_ run --runc-binary "$tmp/kiste" --runc-root "$state" "$@"; }
n=0
cid() { n=$((n + 1)); echo "e2e$n"; }

# 1. stdout of echo
out=$(run --rm "$image" "$(cid)" echo hello 2>&1) && [ "$out" = hello ] &&
    pass echo || fail echo "output ${out@Q}"

# 2. the exit code
rc=0; run --rm "$image" "$(cid)" sh -c 'exit 7' >/dev/null 2>&1 || rc=$?
[ $rc = 7 ] && pass exit-code || fail exit-code "exit $rc, expected 7"

# 3. a terminal (under script(1), so that ctr has one to proxy)
out=$(script -qec "ctr --address $tmp/containerd.sock --namespace $ns run --runc-binary $tmp/kiste --runc-root $state --rm -t $image $(cid) tty" /dev/null </dev/null 2>&1 | tr -d '\r')
case $out in */dev/pts/0*) pass tty ;; *) fail tty "output ${out@Q}" ;; esac

# 4. env and working directory from the image config
out=$(run --rm --env EXTRA=yes "$image" "$(cid)" sh -c 'echo $GREETING $EXTRA; pwd; cat hello.txt' 2>&1)
[ "$out" = "$(printf 'from-image yes\n/work\nfrom the image')" ] && pass image-config || fail image-config "output ${out@Q}"

# 5. a detached task: exec, ps, pause/resume, metrics, kill and wait
id=$(cid)
run -d --memory-limit 67108864 "$image" "$id" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1
sleep 0.5
st=$(ctr_ tasks ls | awk -v id="$id" '$1 == id {print $3}')
[ "$st" = RUNNING ] && pass detached-running || fail detached-running "status ${st@Q}"
out=$(ctr_ tasks exec --exec-id x1 "$id" sh -c 'echo in-exec; exit 5' 2>&1) && rc=0 || rc=$?
[ "$out" = in-exec ] && [ $rc = 5 ] && pass exec || fail exec "output ${out@Q}, exit $rc"
out=$(script -qec "ctr --address $tmp/containerd.sock --namespace $ns tasks exec -t --exec-id x2 $id tty" /dev/null </dev/null 2>&1 | tr -d '\r')
case $out in */dev/pts/*) pass exec-tty ;; *) fail exec-tty "output ${out@Q}" ;; esac
pids=$(ctr_ tasks ps "$id" 2>&1 | awk 'NR > 1 {print $1}' | wc -l)
[ "$pids" -ge 1 ] && pass ps || fail ps "$(ctr_ tasks ps "$id" 2>&1)"
pid=$(ctr_ tasks ls | awk -v id="$id" '$1 == id {print $2}')
limit=$(cat "/sys/fs/cgroup/memory$(grep -E ':memory:' "/proc/$pid/cgroup" | cut -d: -f3)/memory.limit_in_bytes" 2>/dev/null ||
    cat "/sys/fs/cgroup$(grep -E '^0::' "/proc/$pid/cgroup" | cut -d: -f3)/memory.max" 2>/dev/null || echo none)
[ "$limit" = 67108864 ] && pass memory-limit || fail memory-limit "limit ${limit@Q}"
ctr_ tasks pause "$id" && st=$(ctr_ tasks ls | awk -v id="$id" '$1 == id {print $3}')
[ "$st" = PAUSED ] && pass pause || fail pause "status ${st@Q}"
ctr_ tasks resume "$id" && st=$(ctr_ tasks ls | awk -v id="$id" '$1 == id {print $3}')
[ "$st" = RUNNING ] && pass resume || fail resume "status ${st@Q}"
out=$(ctr_ tasks metrics "$id" 2>&1) && case $out in *memory.usage_in_bytes*|*memory.usage*|*MEMORY*) true ;; *) false ;; esac &&
    pass metrics || fail metrics "${out@Q}"
ctr_ tasks kill "$id" >/dev/null 2>&1
for _ in $(seq 50); do
    st=$(ctr_ tasks ls | awk -v id="$id" '$1 == id {print $3}')
    [ "$st" = STOPPED ] && break
    sleep 0.1
done
[ "$st" = STOPPED ] && pass kill || fail kill "status ${st@Q} after SIGTERM"
ctr_ tasks delete "$id" >/dev/null 2>&1 && ctr_ containers delete "$id" >/dev/null 2>&1 &&
    pass delete || fail delete "task or container delete failed"

# 6. a read-only rootfs
rc=0; out=$(run --rm --read-only "$image" "$(cid)" touch /x 2>&1) || rc=$?
[ $rc != 0 ] && case $out in *Read-only*) true ;; *) false ;; esac && pass read-only || fail read-only "exit $rc, ${out@Q}"

# 7. a bind mount
mkdir -p "$tmp/host-dir" && echo 'from the host' >"$tmp/host-dir/f"
out=$(run --rm --mount "type=bind,src=$tmp/host-dir,dst=/host,options=rbind:ro" "$image" "$(cid)" cat /host/f 2>&1)
[ "$out" = 'from the host' ] && pass bind-mount || fail bind-mount "output ${out@Q}"

# Nothing left: kiste's state, cgroups, mounts, processes.
# (the shim gives kiste one --root per containerd namespace)
left=$(find "$state" -mindepth 2 -maxdepth 2 2>/dev/null | tr '\n' ' ')
cg=$(find /sys/fs/cgroup -maxdepth 6 -type d -name 'e2e*' 2>/dev/null | grep "$ns" || true)
mnt=$(grep -c "$tmp/state/io.containerd.runtime.v2.task" /proc/self/mountinfo || true)
if [ -z "${left// /}" ] && [ -z "$cg" ] && [ "$mnt" = 0 ]; then
    pass nothing-left
else
    fail nothing-left "state: ${left@Q} cgroups: ${cg@Q} mounts: $mnt"
fi

echo "runtime commands the shim ran (subcommand and flags):"
sed -E 's/ (e2e[0-9]+|[^ ]*\/[^ ]*)( |$)/ \2/g' "$tmp/argv.log" |
    awk '{line = ""; for (i = 1; i <= NF; i++) if ($i ~ /^-/ || $i ~ /^[a-z]+$/) line = line " " $i; print line}' | sort | uniq -c | sort -rn
[ -n "${ARGV_LOG:-}" ] && cp "$tmp/argv.log" "$ARGV_LOG"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
