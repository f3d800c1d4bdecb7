#!/usr/bin/env bash
# hostile.sh [FILTER...]: the table of malformed and hostile bundles
# (conformance/hostile/, issue 8) against kiste, strictly, and against runc
# as the reference, leniently.
#
# Every case expects the runtime to refuse the bundle with one error that
# names the offending field (the "error_names" check) and to leave nothing
# behind; the cases marked CONTAINED in their description may also be
# accepted, as long as nothing outside the rootfs is touched. See
# conformance/README.md ("Hostile inputs") and docs/hostile-inputs.md.
#
# kiste runs with STRICT_ERRORS=1: a refusal whose message does not name the
# field fails the case. runc runs without it, and its results are only
# reported: what it refused or accepted, and its first stderr line.
#
# Output: one line per case for kiste (`kiste PASS|FAIL name: outcome`),
# one per case for runc (`runc  outcome  name`), a summary of the
# comparison, and, as the last line, kiste's `N passed, N failed`. The exit
# status is non-zero if and only if a kiste case failed (or the runner could
# not run).
#
# Environment:
#   KISTE    kiste binary (default target/x86_64-unknown-linux-musl/release/kiste)
#   RUNC     reference runtime (default /usr/sbin/runc; RUNC=none skips it)
#   COMPARE  also write a markdown comparison table (case | kiste | runc |
#            note) to this file
#   KEEP     1: keep the runners' JSON results and logs (the path is printed)
# FILTERs select cases as in conformance/run.sh (substring or shell glob).
# Must run as root (the runner makes containers).
set -euo pipefail

caller_dir=$PWD
abs() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    */*) printf '%s\n' "$caller_dir/$1" ;;
    *) command -v "$1" || printf '%s\n' "$1" ;;
    esac
}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -n "${KISTE:-}" ]; then
    kiste=$(abs "$KISTE")
else
    kiste=$PWD/target/x86_64-unknown-linux-musl/release/kiste
fi
runc=${RUNC:-/usr/sbin/runc}
[ "$runc" = none ] || runc=$(abs "$runc")
compare=${COMPARE:-}
[ -z "$compare" ] || compare=$(abs "$compare")

if [ ! -x "$kiste" ]; then
    echo "kiste binary not found: $kiste (build it, or set KISTE)" >&2
    exit 1
fi
if [ "$runc" != none ] && [ ! -x "$runc" ]; then
    echo "runc not found: $runc (set RUNC, or RUNC=none)" >&2
    exit 1
fi

work=$(mktemp -d /tmp/kiste-hostile.XXXXXX)
if [ "${KEEP:-}" = 1 ]; then
    echo "keeping the results and logs in $work" >&2
else
    trap 'rm -rf "$work"' EXIT
fi

# run_table LABEL RUNTIME STRICT: the whole table against one runtime; the
# runner's own output goes to $work/LABEL.log, its results to
# $work/LABEL.json. Returns the runner's exit status.
run_table() {
    local label=$1 runtime=$2 strict=$3 rc=0
    CASES=conformance/hostile RUNTIME=$runtime STRICT_ERRORS=$strict \
        REPORT_JSON="$work/$label.json" python3 conformance/runner.py "${filters[@]}" \
        >"$work/$label.log" 2>&1 </dev/null || rc=$?
    if [ ! -s "$work/$label.json" ]; then
        echo "the runner failed for $label (exit $rc):" >&2
        tail -n 20 "$work/$label.log" >&2
        exit 1
    fi
    return "$rc"
}

filters=("$@")
krc=0
run_table kiste "$kiste" 1 || krc=$?
runc_json=
if [ "$runc" != none ]; then
    run_table runc "$runc" 0 || true
    runc_json=$work/runc.json
fi

# Prints the per-case lines, the comparison (and writes COMPARE), and last,
# kiste's summary line.
python3 - "$work/kiste.json" "$runc_json" "$compare" <<'PY'
import json
import re
import sys

kiste_path, runc_path, compare_path = sys.argv[1:4]
kiste = json.load(open(kiste_path))
runc = json.load(open(runc_path)) if runc_path else None


def error_line(r):
    """The first stderr line that reports an error (runc may log warnings
    first), else the first line."""
    lines = r.get("stderr_head") or [r["first_stderr_line"]]
    return next((l for l in lines if re.match(r'(time="[^"]*" )?level=(error|fatal)|panic:', l)),
                lines[0])


def short(line, limit=140):
    """A stderr line without the log prefix, temporary paths or ids."""
    m = re.match(r'time="[^"]*" level=\w+ msg="(.*?)"?\s*$', line)
    if m:
        line = m.group(1).replace('\\"', '"')
    line = re.sub(r"/tmp/kiste-conf-[^/\s\"]+/cases/[^/\s\"]+", "<bundle>", line)
    line = re.sub(r"/tmp/kiste-conf-[^/\s\"]+/state", "<state>", line)
    line = re.sub(r"\bkc\d+-\d+", "<id>", line)
    line = re.sub(r"\[\d+\]: failed", "[N]: failed", line)
    line = re.sub(r"/proc/\d+/", "/proc/N/", line)
    return line if len(line) <= limit else line[:limit - 1] + "…"


def kind(outcome):
    return "refused" if outcome.startswith("refused") else outcome or "not run"


def why(detail):
    """A short reason for a failed case."""
    if "left behind" in detail:
        return "left something behind: " + detail.split("left behind:", 1)[1].strip()[:80]
    if "stderr does not name" in detail:
        return "the message does not name the field"
    if "exit 0, expected a non-zero exit" in detail:
        return "accepted"
    if "(host:" in detail:
        return "touched the host (" + detail.split("(host:", 1)[1].split(")", 1)[0].strip()[:60] + ")"
    if "does not match" in detail or "contains" in detail or "lacks" in detail:
        return detail.split(": ", 1)[-1][:80]
    return detail[:80]


def line_of(results, name):
    return next((r for r in results if r["name"] == name), None)


kres = [r for r in kiste["results"] if r["result"] != "SKIP"]
for r in kres:
    tail = f": {r['outcome']}" if r["outcome"] else ""
    if r["result"] == "FAIL":
        tail += f" -- {r['detail']}"
    print(f"kiste {r['result']} {r['name']}{tail}")

rows = []
counts = {"stricter": 0, "laxer": 0, "same": 0}
if runc is not None:
    rres = runc["results"]
    for r in rres:
        if r["result"] == "SKIP":
            continue
        extra = ""
        if r["result"] == "FAIL" and "exit 0, expected a non-zero exit" not in r["detail"]:
            extra = f"  [{why(r['detail'])}]"
        print(f"runc  {r['outcome'] or 'not run':<17} {r['name']}{extra}")
    for k in kres:
        rr = line_of(rres, k["name"])
        if rr is None:
            continue
        kk, rk = kind(k["outcome"]), kind(rr["outcome"])
        if kk == rk:
            verdict = "same"
        elif kk == "refused":
            verdict = "stricter"
        elif rk == "refused":
            verdict = "laxer"
        else:
            verdict = f"kiste {kk}, runc {rk}"
        counts[verdict] = counts.get(verdict, 0) + 1
        notes = [verdict]
        if k["result"] == "FAIL":
            notes.append(f"**kiste FAIL**: {why(k['detail'])}")
        if rr["result"] == "FAIL" and "exit 0, expected a non-zero exit" not in rr["detail"]:
            notes.append(f"runc: {why(rr['detail'])}")
        if any(l.startswith("panic:") for l in rr.get("stderr_head", [])):
            notes.append("runc panics")
        if kk == "refused" and not k["notes"] and "stderr does not name" not in k["detail"] \
                and rk == "refused" and rr["notes"]:
            notes.append("names the field: kiste only")
        rows.append((k, rr, notes))
    refused = sum(1 for r in rres if kind(r["outcome"]) == "refused")
    accepted = sum(1 for r in rres if kind(r["outcome"]) == "accepted")
    print(f"runc: {refused} refused, {accepted} accepted, "
          f"{len(rres) - refused - accepted} other")
    print("kiste compared with runc: " +
          ", ".join(f"{n} {v}" for v, n in counts.items() if n))

if compare_path:
    def cell(r):
        text = r["outcome"] or "not run"
        if r["first_stderr_line"] and kind(r["outcome"]) != "accepted":
            msg = short(error_line(r)).replace("|", "\\|").replace("`", "'")
            text += f": `{msg}`"
        return text

    with open(compare_path, "w") as f:
        f.write("| case | kiste | runc | note |\n|---|---|---|---|\n")
        for k, rr, notes in rows:
            f.write(f"| {k['name']} | {cell(k)} | {cell(rr)} | {'; '.join(notes)} |\n")
        if runc is None:
            for k in kres:
                f.write(f"| {k['name']} | {cell(k)} | | |\n")

passed = sum(1 for r in kres if r["result"] == "PASS")
failed = sum(1 for r in kres if r["result"] == "FAIL")
print(f"{passed} passed, {failed} failed")
PY
exit "$krc"
