#!/usr/bin/env bash
# vm-conformance.sh [FILTER...]: the cgroup conformance cases on pure cgroup
# v2, in a throwaway VM (hack/vm.sh), against kiste and then against runc as
# the reference. Default filters: cgroup- ns-cgroup.
#
# The last line is kiste's `N passed, N failed` (what hack/test.sh counts);
# the exit status is non-zero if any kiste case failed, the VM did not
# finish, or a case failed with runc too (then the case is wrong).
# Environment: KISTE (default target/x86_64-unknown-linux-musl/release/kiste), RUNC (default
# /usr/sbin/runc; RUNC=none skips the reference run), TIMEOUT (seconds for
# the whole VM run, default 600).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kiste=${KISTE:-target/x86_64-unknown-linux-musl/release/kiste}
runc=${RUNC:-/usr/sbin/runc}
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=(cgroup- ns-cgroup)
quoted=$(printf '%q ' "${filters[@]}")

bin_args=()
script="echo '== kiste'; RUNTIME=/usr/local/bin/kiste /root/conformance/run.sh $quoted >/root/kiste.out 2>&1; k=\$?; cat /root/kiste.out"
if [ "$runc" != none ]; then
    bin_args=(--bin "$runc")
    script+="; echo '== runc (reference)'; RUNTIME=$runc /root/conformance/run.sh $quoted; r=\$?"
else
    script+="; r=0"
fi
# kiste's summary last, for the caller to count.
script+="; echo '== kiste summary'; tail -n 1 /root/kiste.out; [ \$k = 0 ] && [ \$r = 0 ]"

exec hack/vm.sh --kiste "$kiste" --python --add conformance:/root/conformance "${bin_args[@]}" \
    --timeout "${TIMEOUT:-600}" -- "$script"
