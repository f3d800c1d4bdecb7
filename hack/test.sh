#!/usr/bin/env bash
# test.sh: every test kiste has, in one go (this is what CI runs).
#
#   1. install the missing Debian packages
#   2. cargo build --release
#   3. cargo test --release (tests/ drive target/x86_64-unknown-linux-musl/release/kiste)
#   4. the conformance suite against kiste, then against runc (as a
#      reference: a test that fails with runc is a broken test)
#   5. the cgroup cases of that suite on pure cgroup v2, in a QEMU VM
#      (hack/vm-conformance.sh), against kiste and runc
#   6. end to end with the real clients: containerd (hack/e2e-containerd.sh)
#      and podman (hack/e2e-podman.sh), each with its own private daemon
#      or storage
#   7. the reliability suite (hack/reliability.sh): faults injected at every
#      step, damaged state, a full --root, load, races, the hostile-bundle
#      table and the CVE tests
#
# Every part runs even when an earlier one failed; the exit status is
# non-zero if any failed. The last line sums cargo test and the kiste
# conformance run: `N passed, N failed` (a part that failed without
# printing counts counts as one failure). VM=0 skips step 5.
#
# Environment: RUNC (default /usr/sbin/runc, else runc from PATH).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/lib.sh
. hack/lib.sh

repo=$PWD
logs=$(mktemp -d /tmp/kiste-test.XXXXXX)
trap 'rm -rf "$logs"' EXIT

status=0
passed=0
failed=0
results=()

note() {
    results+=("$1")
}

if [ "$(id -u)" != 0 ]; then
    echo "test: warning: not root; container tests will fail" >&2
fi

heading "Packages"
if ! ensure_packages; then
    note "packages: could not install the missing ones"
    status=1
    failed=$((failed + 1))
fi

heading "Build: cargo build --release"
built=0
if ensure_cargo && cargo build --release </dev/null; then
    built=1
    note "build: ok"
else
    note "build: FAILED"
    status=1
    failed=$((failed + 1))
fi

heading "Unit and integration tests: cargo test --release"
if [ "$built" = 1 ]; then
    rc=0
    timeout --kill-after=30 1800 cargo test --release --no-fail-fast </dev/null 2>&1 | tee "$logs/cargo-test.log" || rc=$?
    # One `test result: ok. N passed; M failed; ...` line per test binary.
    read -r p f <<<"$(sed -n -E 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$logs/cargo-test.log" |
        awk '{p += $1; f += $2} END {print p + 0, f + 0}')"
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1 # failed to build or crashed before reporting
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    note "cargo test: $p passed, $f failed (exit $rc)"
    [ "$rc" = 0 ] || status=1
else
    note "cargo test: not run (build failed)"
fi

# conformance RUNTIME LABEL COUNT: runs conformance/run.sh against RUNTIME;
# adds its counts to the summary if COUNT=1.
conformance() {
    local runtime=$1 label=$2 count=$3 rc=0 p f log
    log="$logs/conformance-$label.log"
    heading "Conformance suite against $label: RUNTIME=$runtime conformance/run.sh"
    if [ ! -x conformance/run.sh ]; then
        echo "conformance/run.sh is missing or not executable"
        note "conformance ($label): MISSING conformance/run.sh"
        status=1
        [ "$count" = 1 ] && failed=$((failed + 1))
        return 0
    fi
    if [ ! -x "$runtime" ]; then
        echo "$runtime is missing"
        note "conformance ($label): $runtime missing"
        status=1
        [ "$count" = 1 ] && failed=$((failed + 1))
        return 0
    fi
    RUNTIME=$runtime timeout --kill-after=30 1200 conformance/run.sh </dev/null 2>&1 | tee "$log" || rc=$?
    read -r p f <<<"$(counts "$log" "$rc")"
    note "conformance ($label): $p passed, $f failed (exit $rc)"
    [ "$rc" = 0 ] && [ "$f" = 0 ] || status=1
    if [ "$count" = 1 ]; then
        passed=$((passed + p))
        failed=$((failed + f))
    fi
}

if [ "$built" = 1 ]; then
    conformance "$repo/target/x86_64-unknown-linux-musl/release/kiste" kiste 1
else
    note "conformance (kiste): not run (build failed)"
    failed=$((failed + 1))
fi
runc=${RUNC:-/usr/sbin/runc}
[ -x "$runc" ] || runc=$(command -v runc || echo /usr/sbin/runc)
conformance "$runc" runc 0

if [ "${VM:-1}" = 0 ]; then
    note "conformance on cgroup v2 (VM): skipped (VM=0)"
elif [ "$built" = 1 ]; then
    heading "Conformance cgroup cases on pure cgroup v2, in a VM: hack/vm-conformance.sh"
    rc=0
    RUNC=$runc timeout --kill-after=30 900 hack/vm-conformance.sh </dev/null 2>&1 | tee "$logs/vm.log" || rc=$?
    read -r p f <<<"$(counts "$logs/vm.log" "$rc")"
    passed=$((passed + p))
    failed=$((failed + f))
    note "conformance on cgroup v2 (VM, kiste): $p passed, $f failed (exit $rc)"
    [ "$rc" = 0 ] || status=1
else
    note "conformance on cgroup v2 (VM): not run (build failed)"
    failed=$((failed + 1))
fi

# e2e SCRIPT LABEL: runs one end-to-end script; counts its PASS/FAIL lines.
e2e() {
    local script=$1 label=$2 rc=0 p f log
    log="$logs/e2e-$label.log"
    if [ "$built" != 1 ]; then
        note "e2e ($label): not run (build failed)"
        failed=$((failed + 1))
        return 0
    fi
    heading "End to end with $label: $script"
    KISTE="$repo/target/x86_64-unknown-linux-musl/release/kiste" timeout --kill-after=30 900 "$script" </dev/null 2>&1 | tee "$log" || rc=$?
    read -r p f <<<"$(counts "$log" "$rc")"
    passed=$((passed + p))
    failed=$((failed + f))
    note "e2e ($label): $p passed, $f failed (exit $rc)"
    [ "$rc" = 0 ] || status=1
}
e2e hack/e2e-containerd.sh containerd
e2e hack/e2e-podman.sh podman
e2e hack/reliability.sh reliability

heading "Summary"
for r in "${results[@]}"; do
    echo "  $r"
done
echo "(the total counts cargo test, the conformance runs against kiste on the host and in the VM, the e2e scenarios and the reliability checks)"
echo "$passed passed, $failed failed"
exit "$status"
