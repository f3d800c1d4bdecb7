#!/usr/bin/env bash
# fuzz.sh [SECONDS [TARGET...]]: the fuzz targets in fuzz/ (issue 8), each
# for SECONDS (default 60) with cargo-fuzz and libFuzzer, on nightly Rust.
#
#   config  bytes as config.json: kiste::config::parse, then validate; a
#           parsed spec written back out must parse and validate the same
#   unpack  bytes as a layer (tar; gzip'd or zstd'd too) through
#           kiste::image::unpack into a fresh directory; nothing outside
#           that directory may change
#
# Neither may panic, on any input. Not part of hack/test.sh: fuzzing for a
# bounded time finds different things on different runs.
#
# Missing nightly or cargo-fuzz is installed (rustup, cargo install). Each
# target is built for the host's glibc target with AddressSanitizer (the
# musl target of .cargo/config.toml has no sanitizers; cargo-fuzz passes
# --target itself). The corpus of a target is fuzz/corpus/TARGET: seeded
# here on every run from fuzz/seeds/TARGET (committed), the configs of the
# conformance cases (conformance/cases and conformance/hostile, merged onto
# conformance/base.json as the runner does) and a few tar layers made here
# with python3; what libFuzzer finds interesting is kept there for the next
# run (git ignores it). A crash is written to fuzz/artifacts/TARGET/.
#
# Output: one line per target, `PASS|FAIL TARGET: N runs in S s (R/s)` (a
# FAIL names the artifact and how to replay it), then `N passed, N failed`.
# The exit status is non-zero if a target crashed or could not be built.
# libFuzzer's log of each target: fuzz/logs/TARGET.log.
#
# Environment: FUZZ_ARGS, more libFuzzer flags (e.g. -jobs=2 -workers=2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=hack/lib.sh
. hack/lib.sh

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config unpack)
case $seconds in
    '' | *[!0-9]*)
        echo "usage: hack/fuzz.sh [SECONDS [TARGET...]] (targets: config unpack)" >&2
        exit 2
        ;;
esac

ensure_cargo
if ! command -v rustup >/dev/null 2>&1; then
    echo "fuzz: rustup not found: cargo-fuzz needs a nightly toolchain; install rustup, then rerun" >&2
    exit 1
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    heading "Installing nightly Rust (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    heading "Installing cargo-fuzz"
    cargo install cargo-fuzz --locked || cargo install cargo-fuzz
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "fuzz: python3 not found (it makes the seed layers): apt-get install python3" >&2
    exit 1
fi

heading "Seeds"
for t in "${targets[@]}"; do
    case $t in
        config | unpack) mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" ;;
        *)
            echo "fuzz: unknown target $t (targets: config unpack)" >&2
            exit 2
            ;;
    esac
    if [ -d "fuzz/seeds/$t" ]; then
        cp fuzz/seeds/"$t"/* "fuzz/corpus/$t/"
    fi
done
mkdir -p fuzz/logs
python3 - "${targets[@]}" <<'EOF'
import copy, glob, gzip, hashlib, io, json, os, sys, tarfile

def put(target, data):
    d = f"fuzz/corpus/{target}"
    if os.path.isdir(d):
        with open(f"{d}/seed-{hashlib.sha256(data).hexdigest()[:16]}", "wb") as f:
            f.write(data)

# config: what conformance/runner.py would write as config.json.
def merge(base, patch):
    if isinstance(patch, dict) and set(patch) == {"$append"}:
        return list(base if isinstance(base, list) else []) + list(patch["$append"])
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return copy.deepcopy(patch)
    out = dict(base)
    for k, v in patch.items():
        if v == "$delete":
            out.pop(k, None)
        else:
            out[k] = merge(out[k], v) if k in out else merge(None, v)
    return out

base = json.load(open("conformance/base.json"))
put("config", json.dumps(base, indent=2).encode())
for path in sorted(glob.glob("conformance/cases/*.json") + glob.glob("conformance/hostile/*.json")):
    cases = json.load(open(path))
    for case in cases if isinstance(cases, list) else [cases]:
        raw = case.get("raw_config")
        if isinstance(raw, str):
            put("config", raw.encode())
        elif raw is None:
            put("config", json.dumps(merge(base, case.get("config", {})), indent=1).encode())

# unpack: small layers, good and hostile. The first byte is the target's
# mode: 1 = checksums set right by the target, 3 = that and gzip'd there,
# 0 = as is (for a layer that is already gzip'd).
def layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode, info.uid, info.gid = 1700000000, extra.get("mode", 0o755 if kind == "dir" else 0o644), extra.get("uid", 0), 0
            data = None
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "file":
                data = extra.get("data", b"hello\n")
                info.size = len(data)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra["to"]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, extra["to"]
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "char":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
        end = tf.offset
    return buf.getvalue()[: end + 1024]

D, F, S, H = "dir", "file", "symlink", "hardlink"
layers = [
    [("etc", D, {}), ("etc/hostname", F, {}), ("usr/bin", D, {}), ("bin", S, {"to": "usr/bin"}),
     ("usr/bin/sh", F, {"mode": 0o4755, "data": b"#!x\n"}), ("usr/bin/ash", H, {"to": "usr/bin/sh"}),
     ("home/u", D, {"uid": 1000, "mode": 0o700}), ("run/fifo", "fifo", {}), ("dev/null", "char", {})],
    [("a", D, {}), ("a/.wh..wh..opq", F, {"data": b""}), ("a/.wh.gone", F, {"data": b""}), ("b/c", F, {})],
    [("x", F, {}), ("x", D, {}), ("x/y", F, {}), ("x", F, {}), ("./z", F, {}), ("/abs/file", F, {})],
    [("up", S, {"to": "../outside"}), ("up/file", F, {}), ("abs", S, {"to": "/etc"}), ("abs/passwd", F, {}),
     ("dot", S, {"to": "."}), ("dot/dot/f", F, {}), ("loop", S, {"to": "loop"}), ("loop/f", F, {})],
    [("../escape", F, {}), ("ok", F, {})],
    [("f", F, {}), ("h", H, {"to": "../outside/file"}), ("h2", H, {"to": "f"}), ("h3", H, {"to": "/"})],
    [("d" * 120 + "/" + "e" * 120, F, {}), ("long-link", S, {"to": "t" * 200})],
]
for entries in layers:
    tar = layer(entries)
    put("unpack", b"\x01" + tar)
    put("unpack", b"\x03" + tar)
put("unpack", b"\x00" + gzip.compress(layer(layers[0]), mtime=0))
print(f"seeds: {len(os.listdir('fuzz/corpus/config')) if 'config' in sys.argv else 0} configs, "
      f"{len(os.listdir('fuzz/corpus/unpack')) if 'unpack' in sys.argv else 0} layers in the corpus")
EOF

heading "Build"
: >fuzz/logs/build.log
if ! (for t in "${targets[@]}"; do cargo +nightly fuzz build -O "$t" >>fuzz/logs/build.log 2>&1 || exit 1; done); then
    tail -n 30 fuzz/logs/build.log >&2
    echo "fuzz: cargo fuzz build failed (log: fuzz/logs/build.log)" >&2
    echo "0 passed, ${#targets[@]} failed"
    exit 1
fi
echo "built: ${targets[*]}"

tmp=$(mktemp -d /tmp/kiste-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export KISTE_FUZZ_TMP=$tmp

passed=0
failed=0
lines=()
for t in "${targets[@]}"; do
    heading "Fuzzing $t for $seconds s"
    log=fuzz/logs/$t.log
    rc=0
    # shellcheck disable=SC2086
    cargo +nightly fuzz run -O "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    runs=${runs:-$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)}
    runs=${runs:-0}
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    took=${took:-$seconds}
    rate=$((runs / (took > 0 ? took : 1)))
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        lines+=("PASS $t: $runs runs in $took s ($rate/s)")
    else
        failed=$((failed + 1))
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        if [ -n "$artifact" ]; then
            lines+=("FAIL $t: crash after $runs runs: $artifact (replay: cargo +nightly fuzz run $t $artifact; minimize: cargo +nightly fuzz tmin $t $artifact; log: $log)")
        else
            lines+=("FAIL $t: cargo fuzz run exited $rc after $runs runs (log: $log)")
        fi
        grep -m 1 -B 2 -A 20 -E '^(==[0-9]+==ERROR|thread .* panicked|ERROR: libFuzzer)' "$log" | head -n 40 >&2 || tail -n 20 "$log" >&2
    fi
done

heading "Results"
printf '%s\n' "${lines[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
