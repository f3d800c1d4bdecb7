#!/usr/bin/env python3
"""bench-image.py: `kiste image import` (blobs checked and stored, layers
unpacked) against `umoci unpack` of the same OCI layout, interleaved.

The image: busybox plus three layers of about 33 MB each of random
(incompressible) data, built here with umoci. Prints medians, min-max and
the ratio. Called by hack/bench.sh (IMAGE=0 skips it).
"""
import argparse, os, shutil, statistics, subprocess, sys, time


def sh(*cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def build(work, layer_mb):
    layout = os.path.join(work, "layout")
    sh("umoci", "init", "--layout", layout)
    sh("umoci", "new", "--image", layout + ":bench")
    bundle = os.path.join(work, "build")
    for i in range(3):
        shutil.rmtree(bundle, ignore_errors=True)
        sh("umoci", "unpack", "--image", layout + ":bench", bundle)
        root = os.path.join(bundle, "rootfs")
        if i == 0:
            os.makedirs(os.path.join(root, "bin"), exist_ok=True)
            shutil.copy("/bin/busybox", os.path.join(root, "bin/busybox"))
        d = os.path.join(root, "data%d" % i)
        os.makedirs(d, exist_ok=True)
        for j in range(layer_mb):
            with open(os.path.join(d, "f%03d" % j), "wb") as f:
                f.write(os.urandom(1 << 20))
        sh("umoci", "repack", "--image", layout + ":bench", bundle)
    shutil.rmtree(bundle, ignore_errors=True)
    return layout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiste", required=True)
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--layer-mb", type=int, default=33)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    if not shutil.which("umoci"):
        print("bench-image: umoci not found; skipped", file=sys.stderr)
        return 0
    os.makedirs(a.work, exist_ok=True)
    print("bench: building a 3-layer image of %d MB of data" % (3 * a.layer_mb), file=sys.stderr)
    layout = build(a.work, a.layer_mb)
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(layout, "blobs")) for f in fs)
    times = {"kiste import": [], "umoci unpack": []}
    for i in range(a.n):
        order = list(times) if i % 2 == 0 else list(reversed(list(times)))
        for name in order:
            target = os.path.join(a.work, "t-%s" % name.split()[0])
            shutil.rmtree(target, ignore_errors=True)
            subprocess.run(["sync"])
            if name == "kiste import":
                cmd = [a.kiste, "--data-root", target, "image", "import", layout, "bench"]
            else:
                cmd = ["umoci", "unpack", "--image", layout + ":bench", target]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append((time.perf_counter() - t) * 1000)
            shutil.rmtree(target, ignore_errors=True)
    print()
    print("=== image: import + unpack of a 3-layer image (%.0f MB of blobs), n=%d, interleaved ===" % (size / 2**20, a.n))
    for name, v in times.items():
        print("  %-14s median %9.1f ms   min–max %9.1f – %.1f" % (name, statistics.median(v), min(v), max(v)))
    print("  ratio (medians): kiste import / umoci unpack %.2fx" % (statistics.median(times["kiste import"]) / statistics.median(times["umoci unpack"])))
    shutil.rmtree(os.path.join(a.work), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
