#!/usr/bin/env bash
# reliability.sh: kiste killed half-way, its state damaged, its disk full,
# under load, raced, fed hostile bundles, and attacked as runc's CVEs did
# (issue 8). Fuzzing is separate (hack/fuzz.sh).
#
#   1. hack/reliability.py against a build with fault injection (cargo
#      feature `fault-injection`, in target/faults): kiste SIGKILLed at every
#      step of create, start, exec and delete and the init at every step of
#      its setup, then `kiste gc` and `delete --force` must leave nothing
#      (process, cgroup, mount, state file, pid file); the state file
#      truncated, removed or garbled; PID 1 killed at a random moment; --root
#      on a full tmpfs; 200 containers 20 at a time and 20 concurrent execs,
#      with kiste processes, mounts, cgroups and state counted before and after;
#      start/kill/delete/state/list racing on one id.
#   2. hack/hostile.sh: the table of malformed and hostile bundles
#      (conformance/hostile/), against kiste only (hack/hostile.sh itself
#      also runs runc for the comparison in docs/hostile-inputs.md).
#   3. The CVE regression tests: cargo test --test cve --test security.
#
# One line per check (PASS/FAIL), and last `N passed, N failed`; the exit
# status is non-zero if any check failed. Needs root.
#
# Environment: KISTE (default target/x86_64-unknown-linux-musl/release/kiste,
# for the hostile table; the CVE tests use the one cargo builds).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/lib.sh
. hack/lib.sh

if [ "$(id -u)" != 0 ]; then
    echo "reliability: must run as root" >&2
    exit 1
fi
ensure_cargo
logs=$(mktemp -d /tmp/kiste-reliability-logs.XXXXXX)
trap 'rm -rf "$logs"' EXIT

passed=0
failed=0
summary=()

# part LABEL CMD...: runs CMD, adds the counts of its last `N passed, N failed`.
part() {
    local label=$1 rc=0 p f
    shift
    heading "$label"
    "$@" </dev/null 2>&1 | tee "$logs/part.log" || rc=$?
    read -r p f <<<"$(counts "$logs/part.log" "$rc")"
    passed=$((passed + p))
    failed=$((failed + f))
    summary+=("$label: $p passed, $f failed (exit $rc)")
}

heading "Build with fault injection: cargo build --release --features fault-injection --target-dir target/faults"
faults=target/faults/x86_64-unknown-linux-musl/release/kiste
if ! cargo build --release --features fault-injection --target-dir target/faults </dev/null; then
    summary+=("build with fault injection: FAILED")
    failed=$((failed + 1))
else
    part "Faults, damage, a full --root, load, races: hack/reliability.py" python3 hack/reliability.py "$faults"
fi

part "Hostile bundles: hack/hostile.sh (kiste)" env RUNC=none KISTE="${KISTE:-target/x86_64-unknown-linux-musl/release/kiste}" hack/hostile.sh

# cargo prints `test NAME ... ok|FAILED` per test and a `test result:` line
# per test binary; turned into this script's PASS/FAIL lines and counts.
cve_tests() {
    local rc=0
    cargo test --release --test cve --test security 2>&1 >"$logs/cve.log" || rc=$?
    sed -n -E 's/^test (.*) \.\.\. ok$/PASS \1/p; s/^test (.*) \.\.\. FAILED$/FAIL \1/p' "$logs/cve.log"
    sed -n -E 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$logs/cve.log" |
        awk '{p += $1; f += $2} END {printf "%d passed, %d failed\n", p, f}'
    [ "$rc" = 0 ] || { tail -n 30 "$logs/cve.log"; return "$rc"; }
}
part "CVE regression tests: cargo test --test cve --test security" cve_tests

heading "Reliability summary"
for s in "${summary[@]}"; do
    echo "  $s"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
