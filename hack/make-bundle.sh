#!/usr/bin/env bash
# make-bundle.sh DIR [ARGS...]
#
# Makes an OCI bundle at DIR: a busybox root filesystem in DIR/rootfs and a
# default DIR/config.json shaped like `runc spec` output (not a terminal,
# read-only root, the usual mounts, masked and read-only paths, and the
# pid/network/ipc/uts/mount namespaces). The process runs ARGS, or `sh` when
# no ARGS are given. Re-running replaces DIR/rootfs and DIR/config.json.
#
# It does not need kiste: the benchmark uses one bundle for every runtime.
#
# Environment:
#   BUSYBOX          static busybox to copy (default: /bin/busybox from busybox-static)
#   BUNDLE_HOSTNAME  hostname written to config.json and /etc/hostname (default: kiste)
set -euo pipefail

usage() {
    echo "usage: $0 DIR [ARGS...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h | --help) usage ;; esac

dir=$1
shift
[ -n "$dir" ] || usage

bb=${BUSYBOX:-}
if [ -z "$bb" ]; then
    for c in /bin/busybox /usr/bin/busybox; do
        if [ -x "$c" ]; then bb=$c; break; fi
    done
fi
if [ -z "$bb" ] || [ ! -x "$bb" ]; then
    echo "make-bundle: no busybox found; install it with: apt-get install -y busybox-static" >&2
    exit 1
fi
# The rootfs has no libc, so busybox must be statically linked.
case $(LC_ALL=C ldd "$bb" 2>&1 || true) in
*"not a dynamic"* | *"statically linked"*) ;;
*)
    echo "make-bundle: $bb is dynamically linked; install busybox-static" >&2
    exit 1
    ;;
esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
if [ "$dir" = / ]; then
    echo "make-bundle: refusing to use / as a bundle" >&2
    exit 1
fi
host=${BUNDLE_HOSTNAME:-kiste}
rootfs=$dir/rootfs

# A previous rootfs may still be bind-mounted by a leftover container only if
# something went badly wrong; never delete through a mount point.
if [ -d "$rootfs" ] && grep -qF " $rootfs " /proc/self/mountinfo; then
    echo "make-bundle: $rootfs is a mount point (a container still running?)" >&2
    exit 1
fi
rm -rf "$rootfs" "$dir/config.json"

mkdir -p "$rootfs"
for d in bin sbin usr/bin usr/sbin proc sys dev tmp etc root; do
    mkdir -p "$rootfs/$d"
done
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
cp "$bb" "$rootfs/bin/busybox"
chmod 0755 "$rootfs/bin/busybox"

# One symlink per applet, where busybox says it belongs (bin/sh, usr/bin/env,
# ...). Older builds only know --list: then put them all in /bin.
if applets=$("$bb" --list-full 2>/dev/null) && [ -n "$applets" ]; then
    :
else
    applets=$("$bb" --list | sed 's|^|bin/|')
fi
while IFS= read -r path; do
    [ -n "$path" ] || continue
    [ "${path##*/}" = busybox ] && continue
    case $path in */*) mkdir -p "$rootfs/${path%/*}" ;; esac
    # Absolute target: resolved inside the container's root.
    ln -sfn /bin/busybox "$rootfs/$path"
done <<<"$applets"

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
echo "$host" >"$rootfs/etc/hostname"
: >"$rootfs/etc/resolv.conf"

# config.json: our own template, filled in by python so that ARGS are quoted
# correctly whatever they contain.
python3 - "$dir/config.json" "$host" "$@" <<'PY'
import json
import os
import sys

out, host, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if not args:
    args = ["sh"]

caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
config = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
        ],
        "cwd": "/",
        "capabilities": {
            "bounding": caps,
            "effective": caps,
            "permitted": caps,
            "ambient": caps,
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": host,
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": [
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
        ],
        "readonlyPaths": [
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ],
    },
}
with open(out + ".tmp", "w") as f:
    json.dump(config, f, indent="\t")
    f.write("\n")
os.rename(out + ".tmp", out)
PY
