#!/usr/bin/env bash
# demo.sh: set up a fresh Debian machine, build kiste and run one container.
#
# Installs the packages it needs (only the missing ones), builds
# target/x86_64-unknown-linux-musl/release/kiste, makes a busybox bundle in /var/tmp/kiste-demo and
# runs a container that prints its PID, its hostname and its mounts.
# Safe to run again: it removes the previous demo container first.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/lib.sh
. hack/lib.sh

if [ "$(id -u)" != 0 ]; then
    echo "demo: containers need root; run: sudo $0" >&2
    exit 1
fi

bundle=${DEMO_BUNDLE:-/var/tmp/kiste-demo}
state=${DEMO_ROOT:-/run/kiste-demo}
id=demo-busybox
kiste=$PWD/target/x86_64-unknown-linux-musl/release/kiste

heading "Installing missing Debian packages"
ensure_packages

heading "Building kiste: cargo build --release"
ensure_cargo
cargo build --release

heading "Making a busybox bundle in $bundle"
# A container left over from an earlier run would keep the old rootfs busy.
"$kiste" --root "$state" delete -f "$id" >/dev/null 2>&1 || true
# shellcheck disable=SC2016 # $$ and $(hostname) expand inside the container
hack/make-bundle.sh "$bundle" /bin/sh -c '
echo "PID: $$"
echo "hostname: $(hostname)"
echo "mounts (/proc/self/mounts):"
cat /proc/self/mounts
'
echo "rootfs:      $bundle/rootfs (busybox)"
echo "config.json: $bundle/config.json"

heading "Running: kiste --root $state run -b $bundle $id"
rc=0
"$kiste" --root "$state" run -b "$bundle" "$id" </dev/null || rc=$?

heading "Exit code: $rc"
exit "$rc"
