#!/usr/bin/env bash
# vm.sh [OPTIONS] -- COMMAND...
#
# Runs COMMAND (a shell command line) as root in a throwaway QEMU VM that has
# pure cgroup v2 (cgroup_no_v1=all, cgroup2 on /sys/fs/cgroup with the
# controllers enabled at the root), with kiste at /usr/local/bin/kiste and a
# busybox bundle (hack/make-bundle.sh, process `sh`) at /bundle. The VM's
# console is streamed here; vm.sh exits with COMMAND's exit status.
#
# The VM boots Debian's kernel (/boot/vmlinuz-*, from linux-image-amd64) with a
# throwaway busybox initramfs; nothing is written to a disk. It uses TCG
# (about 3-5 s to boot, 10-15 s for a whole run); --kvm is opt-in because
# nested KVM is broken on some hosts (QEMU aborts on MSR 0x10a, or hangs).
#
# Options:
#   --kiste PATH      kiste binary to copy in (default: target/x86_64-unknown-linux-musl/release/kiste)
#   --bundle DIR      copy DIR to /bundle instead of making the default bundle
#   --add SRC[:DEST]  copy a file or directory into the VM (default DEST:
#                     /root/ + SRC's base name); may be repeated
#   --timeout SECS    give up (exit 124) after SECS seconds (default 120)
#   --kernel PATH     kernel to boot (default: newest /boot/vmlinuz-*)
#   --memory MB       VM memory (default 1024)
#   --kvm             use KVM (-accel kvm -cpu host) instead of TCG
#   --bin PATH        copy the program PATH (and its shared libraries) in, at
#                     the same path; may be repeated
#   --python          copy in this machine's python3 (with the standard modules
#                     conformance/runner.py uses), as /usr/bin/python3
#
# Example:
#   hack/vm.sh -- 'cat /sys/fs/cgroup/cgroup.controllers; kiste run -b /bundle t1 </dev/null'
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(dirname "$here")

usage() {
    sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

kiste=$repo/target/x86_64-unknown-linux-musl/release/kiste
bundle=
timeout_s=120
kernel=
memory=1024
accel=tcg
adds=()
python=0
bins=()
while [ $# -gt 0 ]; do
    case $1 in
    --kiste) kiste=${2:?}; shift 2 ;;
    --bundle) bundle=${2:?}; shift 2 ;;
    --add) adds+=("${2:?}"); shift 2 ;;
    --timeout) timeout_s=${2:?}; shift 2 ;;
    --kernel) kernel=${2:?}; shift 2 ;;
    --memory) memory=${2:?}; shift 2 ;;
    --kvm) accel=kvm; shift ;;
    --python) python=1; shift ;;
    --bin) bins+=("${2:?}"); shift 2 ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) echo "vm.sh: unknown option $1" >&2; usage ;;
    esac
done
[ $# -gt 0 ] || usage
command_line=$*

die() {
    echo "vm.sh: $*" >&2
    exit 1
}

# Debian packages: the kernel, QEMU, busybox for the initramfs and the
# bundle, cpio to pack it, python3 for make-bundle.sh.
packages=(qemu-system-x86 linux-image-amd64 busybox-static cpio python3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages; as root: apt-get install -y ${missing[*]}"
    echo "vm.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >&2
fi

[ -x "$kiste" ] || die "no kiste binary at $kiste (build it, or pass --kiste PATH)"
if [ -z "$kernel" ]; then
    kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
fi
[ -n "$kernel" ] && [ -r "$kernel" ] || die "no readable kernel in /boot (apt-get install linux-image-amd64)"
if [ -n "$bundle" ]; then
    [ -f "$bundle/config.json" ] || die "$bundle has no config.json"
fi
bb=/bin/busybox

tmp=$(mktemp -d /tmp/kiste-vm.XXXXXX)
qemu_pid=
cleanup() {
    if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,proc,sys,dev,run,tmp,root,etc,newroot}
chmod 1777 "$root/tmp"

# busybox and its applets.
cp "$bb" "$root/bin/busybox"
"$bb" --list-full | while IFS= read -r path; do
    [ "${path##*/}" = busybox ] && continue
    mkdir -p "$root/${path%/*}"
    ln -sfn /bin/busybox "$root/$path"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

# kiste and the shared libraries it needs (none when it is static, as our
# build makes it), at the paths ldd names.
cp "$kiste" "$root/usr/local/bin/kiste"
{ ldd "$kiste" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | sort -u | while IFS= read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# The bundle.
if [ -n "$bundle" ]; then
    cp -a "$bundle" "$root/bundle"
else
    "$here/make-bundle.sh" "$root/bundle" >/dev/null
fi

for a in "${adds[@]}"; do
    src=${a%%:*}
    dest=/root/$(basename "$src")
    case $a in *:*) dest=${a#*:} ;; esac
    [ -e "$src" ] || die "--add: no $src"
    mkdir -p "$root$(dirname "$dest")"
    cp -a "$src" "$root$dest"
done

# copy_with_libs FILE...: copies each file, and the shared libraries it
# needs, to the same paths in the VM.
copy_with_libs() {
    local f lib
    for f in "$@"; do
        mkdir -p "$root$(dirname "$f")"
        cp -L "$f" "$root$f"
        case $f in *.py) continue ;; esac
        { ldd "$f" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | sort -u | while IFS= read -r lib; do
            [ -e "$root$lib" ] && continue
            mkdir -p "$root$(dirname "$lib")"
            cp -L "$lib" "$root$lib"
        done
    done
}

for b in "${bins[@]}"; do
    [ -x "$b" ] || die "--bin: no program $b"
    copy_with_libs "$b"
done

if [ "$python" = 1 ]; then
    # The interpreter and the modules it loads to start and to import what
    # the conformance runner imports, at their own paths (so that python
    # finds its prefix), plus /usr/bin/python3.
    mapfile -t py_files < <(python3 - <<'PY'
import os, sys
import ctypes, fnmatch, glob, json, re, shlex, shutil, signal, subprocess, tempfile, time  # noqa: F401
print(os.path.realpath(sys.executable))
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if f and os.path.isfile(f):
        print(os.path.abspath(f))
PY
)
    [ ${#py_files[@]} -gt 0 ] || die "python3 did not list its modules"
    copy_with_libs "${py_files[@]}"
    if [ "${py_files[0]}" != /usr/bin/python3 ]; then
        mkdir -p "$root/usr/bin"
        ln -sfn "${py_files[0]}" "$root/usr/bin/python3"
    fi
fi

printf '%s\n' "$command_line" >"$root/cmd.sh"

# /init, stage 1 (on the initramfs): pivot_root(2) refuses to move the
# initramfs itself, so copy everything to a tmpfs and switch_root into it.
# Stage 2 sets up the system, runs /cmd.sh and powers off.
cat >"$root/init" <<'EOF'
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
if [ "$1" != stage2 ]; then
    mount -t tmpfs -o mode=755 root /newroot
    for f in /*; do
        [ "$f" = /newroot ] || cp -a "$f" /newroot/
    done
    mkdir -p /newroot/newroot
    exec switch_root /newroot /init stage2
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# The root cgroup may hold processes and still delegate controllers.
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
        echo "kiste-vm: could not enable the $c controller" >&2
done
hostname kiste-vm
ip link set lo up 2>/dev/null
cd /root
echo "KISTE-VM-START (booted in $(cut -d" " -f1 /proc/uptime)s)"
sh /cmd.sh
echo "KISTE-VM-EXIT=$?"
sync
poweroff -f
EOF
chmod 755 "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$tmp/initrd.gz"

cpu=()
[ "$accel" = kvm ] && cpu=(-cpu host)

echo "vm.sh: booting $kernel ($accel, ${memory} MB, timeout ${timeout_s}s)" >&2
start=$(date +%s.%N)
# stdin is /dev/null so that QEMU's console mux never reads the terminal.
qemu-system-x86_64 -accel "$accel" "${cpu[@]}" -m "$memory" -smp 2 \
    -nographic -no-reboot -nodefaults -serial stdio -monitor none \
    -kernel "$kernel" -initrd "$tmp/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all" \
    </dev/null > >(tee "$tmp/console.log" | sed -u 's/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g') 2>&1 &
qemu_pid=$!

timed_out=0
deadline=$((SECONDS + timeout_s))
while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
        timed_out=1
        kill "$qemu_pid" 2>/dev/null || true
        break
    fi
    sleep 0.2
done
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
sleep 0.2 # let tee drain
end=$(date +%s.%N)

boot=$(grep -c KISTE-VM-START "$tmp/console.log" || true)
[ "$boot" = 0 ] && boot=
status=$(tr -d '\r' <"$tmp/console.log" | sed -n 's/^KISTE-VM-EXIT=\([0-9]*\)$/\1/p' | tail -n 1)
elapsed=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
if [ $timed_out = 1 ]; then
    echo "vm.sh: timed out after ${timeout_s}s${boot:+ (the command was running)}" >&2
    exit 124
fi
if [ -z "$status" ]; then
    echo "vm.sh: the VM stopped after ${elapsed}s without reporting an exit status${boot:+ (the command had started)}" >&2
    exit 125
fi
echo "vm.sh: exit status $status (VM ran ${elapsed}s)" >&2
exit "$status"
