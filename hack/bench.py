#!/usr/bin/env python3
"""Timing harness behind hack/bench.sh.

Runs container runtimes side by side on the same busybox bundles and prints,
for each figure, the median and min-max per runtime plus the kiste/<other>
ratios. Every command is started with os.posix_spawn, reaped with os.wait4
and timed with time.perf_counter_ns, so the harness costs the same for every
runtime. Peak RSS comes from separate, untimed lifecycles whose commands run
under `bench-helper rss` (see hack/bench-helper.c for why). Runtimes are interleaved: in each
iteration each runtime runs once, in an order that rotates by one every
iteration.

The harness makes itself a child subreaper: a container's init is orphaned
when `create` returns and is reparented to us, and we reap it at once (this
machine's PID 1 reaps orphans only every couple of seconds, and a runtime's
`delete` can be slowed down by a zombie init).

Only stdlib. Normally started by hack/bench.sh, which makes the bundles and
picks the mount namespace; see there for the environment variables.
"""

import argparse
import ctypes
import errno
import json
import os
import signal
import statistics
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def die(msg):
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(1)


def progress(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class CmdError(Exception):
    pass


class Reaper:
    """Spawns commands and reaps every child, ours or orphaned."""

    def __init__(self):
        self.tracked = set()
        self.done = {}  # pid -> (status, rusage, end_ns)
        self.devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)

    def spawn(self, argv, out_fd):
        actions = [
            (os.POSIX_SPAWN_DUP2, self.devnull, 0),
            (os.POSIX_SPAWN_DUP2, out_fd, 1),
            (os.POSIX_SPAWN_DUP2, out_fd, 2),
        ]
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        self.tracked.add(pid)
        return pid

    def _record(self, pid, status, ru):
        end = time.perf_counter_ns()
        if pid in self.tracked:
            self.tracked.discard(pid)
            self.done[pid] = (status, ru, end)

    def reap_nohang(self):
        while True:
            try:
                pid, status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._record(pid, status, ru)

    def wait_any(self):
        """Blocks until some tracked command ends; returns its pid."""
        while True:
            for pid in self.done:
                return pid
            try:
                pid, status, ru = os.wait4(-1, 0)
            except ChildProcessError:
                raise RuntimeError("no children left to wait for")
            except InterruptedError:
                continue
            self._record(pid, status, ru)

    def wait(self, pid):
        while pid not in self.done:
            try:
                p, status, ru = os.wait4(-1, 0)
            except InterruptedError:
                continue
            self._record(p, status, ru)
        return self.done.pop(pid)

    def kill_children(self):
        """SIGKILLs and reaps whatever is still our child (leftover inits)."""
        me = str(os.getpid())
        for ent in os.listdir("/proc"):
            if not ent.isdigit():
                continue
            try:
                with open(f"/proc/{ent}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = stat[stat.rfind(")") + 2 :].split()[1]
            if ppid == me:
                try:
                    os.kill(int(ent), signal.SIGKILL)
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                pid, _, _ = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.05)


def exit_code(status):
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 255


class Runtime:
    def __init__(self, name, path, state_root, logdir, is_runtime=True):
        self.name = name
        self.path = path
        self.root = os.path.join(state_root, name)
        self.is_runtime = is_runtime
        self.unavailable = None  # reason, if the runtime cannot run at all
        self.ids = set()  # containers that may still exist
        self.version = ""
        os.makedirs(self.root, exist_ok=True)
        self.log_path = os.path.join(logdir, f"{name}.log")
        self.log = os.open(self.log_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)

    def argv(self, *args):
        return [self.path, "--root", self.root, *args]

    def log_reset(self):
        os.ftruncate(self.log, 0)
        os.lseek(self.log, 0, os.SEEK_SET)

    def log_text(self, limit=4000):
        os.lseek(self.log, 0, os.SEEK_SET)
        data = os.read(self.log, limit)
        return data.decode(errors="replace")

    def log_tail(self):
        lines = [ln.strip() for ln in self.log_text().splitlines() if ln.strip()]
        if not lines:
            return "no output"
        msg = lines[-1]
        # runc-style logs are logfmt (time=... level=error msg="...") or
        # json; keep just the message
        if msg.startswith("{"):
            try:
                msg = json.loads(msg).get("msg", msg)
            except ValueError:
                pass
        elif ' msg="' in msg:
            msg = msg.split(' msg="', 1)[1]
            msg = msg[:-1] if msg.endswith('"') else msg
            msg = msg.replace('\\"', '"')
        return msg[:160]


class Harness:
    def __init__(self, args):
        self.args = args
        self.reaper = Reaper()
        self.prefix = f"kb{os.getpid()}"
        self.seq = 0

    # -- running commands ---------------------------------------------------

    def cmd(self, rt, argv, check=True):
        """Runs one command; returns (ns, maxrss_kib, exit_code)."""
        self.reaper.reap_nohang()
        rt.log_reset()
        t0 = time.perf_counter_ns()
        pid = self.reaper.spawn(argv, rt.log)
        status, ru, end = self.reaper.wait(pid)
        code = exit_code(status)
        if check and code != 0:
            shown = argv
            if rt.is_runtime:
                shown = [a for a in argv if a != rt.path]
                i = shown.index("--root")
                del shown[i : i + 2]
            raise CmdError(f"`{' '.join(shown)}` exited {code}: {rt.log_tail()}")
        return end - t0, ru.ru_maxrss, code

    def new_id(self, rt, tag):
        self.seq += 1
        cid = f"{self.prefix}-{rt.name}-{tag}{self.seq}"
        rt.ids.add(cid)
        return cid

    def delete(self, rt, cid):
        """Best-effort delete -f outside of any timing."""
        try:
            self.cmd(rt, rt.argv("delete", "-f", cid), check=False)
        except OSError:
            pass
        rt.ids.discard(cid)

    def cleanup(self, runtimes):
        for rt in runtimes:
            if not rt.is_runtime:
                continue
            for cid in sorted(rt.ids):
                self.delete(rt, cid)
        self.reaper.kill_children()

    # -- checks ---------------------------------------------------------------

    def probe(self, rt):
        if not rt.path:
            rt.unavailable = "not given"
            return
        if not (os.path.isfile(rt.path) and os.access(rt.path, os.X_OK)):
            rt.unavailable = f"not found: {rt.path}"
            return
        try:
            _, _, code = self.cmd(rt, [rt.path, "--version"], check=False)
            text = rt.log_text().strip().splitlines()
            rt.version = text[0][:60] if text and code == 0 else ""
            # Smoke 1: `run` really runs the process in a new pid namespace.
            cid = self.new_id(rt, "smoke")
            self.cmd(rt, rt.argv("run", "--bundle", self.args.smoke_bundle, cid))
            rt.ids.discard(cid)
            out = rt.log_text()
            if "kiste-bench-smoke 1 kiste" not in out:
                first = out.strip().splitlines()[0][:80] if out.strip() else "nothing"
                raise CmdError(f"`run` printed {first!r}, not the smoke line")
            # Smoke 2: create leaves a container in state "created".
            cid = self.new_id(rt, "smoke")
            self.cmd(rt, rt.argv("create", "--bundle", self.args.bundle, cid))
            self.cmd(rt, rt.argv("state", cid))
            try:
                status = json.loads(rt.log_text(1 << 16)).get("status")
            except ValueError:
                raise CmdError("`state` did not print JSON")
            if status != "created":
                raise CmdError(f"`state` after create says {status!r}")
            self.cmd(rt, rt.argv("start", cid))
            self.cmd(rt, rt.argv("delete", "-f", cid))
            rt.ids.discard(cid)
        except (CmdError, OSError) as e:
            rt.unavailable = f"smoke test failed: {e}"
        finally:
            for cid in list(rt.ids):
                self.delete(rt, cid)

    # -- figures --------------------------------------------------------------

    def lifecycle(self, rt):
        cid = self.new_id(rt, "a")
        t0 = time.perf_counter_ns()
        try:
            self.cmd(rt, rt.argv("create", "--bundle", self.args.bundle, cid))
            self.cmd(rt, rt.argv("start", cid))
            self.cmd(rt, rt.argv("delete", "-f", cid))
        except CmdError:
            self.delete(rt, cid)
            raise
        t1 = time.perf_counter_ns()
        rt.ids.discard(cid)
        return (t1 - t0) / 1e6

    def lifecycle_rss(self, rt):
        """The lifecycle again, untimed, each command under `bench-helper rss`."""
        cid = self.new_id(rt, "e")
        out = os.path.join(self.args.work, "rss")
        peak = 0
        try:
            for argv in (
                rt.argv("create", "--bundle", self.args.bundle, cid),
                rt.argv("start", cid),
                rt.argv("delete", "-f", cid),
            ):
                try:
                    os.unlink(out)
                except FileNotFoundError:
                    pass
                try:
                    self.cmd(rt, [self.args.helper, "rss", out, *argv])
                except CmdError as e:
                    raise CmdError(str(e).replace(f"{self.args.helper} rss {out} ", "", 1))
                with open(out) as f:
                    peak = max(peak, int(f.read()))
        except CmdError:
            self.delete(rt, cid)
            raise
        rt.ids.discard(cid)
        return peak / 1024

    def run_fg(self, rt):
        cid = self.new_id(rt, "b")
        try:
            ns, _, _ = self.cmd(rt, rt.argv("run", "--bundle", self.args.bundle, cid))
        except CmdError:
            self.delete(rt, cid)
            raise
        rt.ids.discard(cid)
        return ns / 1e6

    def exec_setup(self, rt):
        cid = self.new_id(rt, "c")
        self.cmd(rt, rt.argv("create", "--bundle", self.args.sleep_bundle, cid))
        self.cmd(rt, rt.argv("start", cid))
        self.cmd(rt, rt.argv("exec", cid, "/bin/true"))  # warm-up and check
        return cid

    def exec_true(self, rt, cid):
        ns, _, _ = self.cmd(rt, rt.argv("exec", cid, "/bin/true"))
        return ns / 1e6

    def parallel(self, rt, k):
        """k create+start+delete -f chains at once; returns containers/s."""
        steps = [
            lambda cid: rt.argv("create", "--bundle", self.args.bundle, cid),
            lambda cid: rt.argv("start", cid),
            lambda cid: rt.argv("delete", "-f", cid),
        ]
        ids = [self.new_id(rt, "d") for _ in range(k)]
        running = {}  # pid -> (cid, step)
        failure = None
        self.reaper.reap_nohang()
        rt.log_reset()
        t0 = time.perf_counter_ns()
        for cid in ids:
            running[self.reaper.spawn(steps[0](cid), rt.log)] = (cid, 0)
        while running:
            pid = self.reaper.wait_any()
            status, _, _ = self.reaper.done.pop(pid)
            cid, step = running.pop(pid)
            code = exit_code(status)
            if code != 0 and failure is None:
                verb = steps[step](cid)[3]
                failure = f"`{verb}` exited {code}: {rt.log_tail()}"
            if code == 0 and step + 1 < len(steps):
                running[self.reaper.spawn(steps[step + 1](cid), rt.log)] = (cid, step + 1)
            elif code == 0:
                rt.ids.discard(cid)
        t1 = time.perf_counter_ns()
        if failure:
            for cid in ids:
                if cid in rt.ids:
                    self.delete(rt, cid)
            raise CmdError(failure)
        return k / ((t1 - t0) / 1e9)

    def floor(self, rt):
        ns, _, _ = self.cmd(rt, rt.path_argv)
        return ns / 1e6


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def on_term(signum, frame):
    raise KeyboardInterrupt


def rotate(items, i):
    if not items:
        return items
    i %= len(items)
    return items[i:] + items[:i]


class Figure:
    def __init__(self, key, title, unit, higher_better=False, fmt="{:.2f}"):
        self.key = key
        self.title = title
        self.unit = unit
        self.higher_better = higher_better
        self.fmt = fmt
        self.samples = {}  # name -> list
        self.na = {}  # name -> reason

    def add(self, name, value):
        self.samples.setdefault(name, []).append(value)

    def fail(self, name, reason):
        self.na.setdefault(name, reason)
        self.samples.pop(name, None)

    def ok(self, name):
        return name not in self.na

    def median(self, name):
        s = self.samples.get(name)
        return statistics.median(s) if s and self.ok(name) else None


def run_loop(h, fig, runtimes, n, fn, other_fig=None, others=()):
    """Round-robin: in iteration i every runtime once, order rotated by i.
    Samples of the runtimes in `others` go to `other_fig`."""
    for i in range(n):
        for rt in rotate(runtimes, i):
            f = other_fig if rt in others else fig
            if not f.ok(rt.name):
                continue
            try:
                f.add(rt.name, fn(rt))
            except (CmdError, OSError) as e:
                f.fail(rt.name, str(e))


def print_figure(fig, names, ratio_pairs, out):
    hb = "higher is better" if fig.higher_better else "lower is better"
    print(f"\n({fig.key}) {fig.title}  [{fig.unit}, {hb}]", file=out)
    for name in names:
        if not fig.ok(name):
            print(f"  {name:<14} n/a ({fig.na[name]})", file=out)
            continue
        s = fig.samples.get(name)
        if not s:
            print(f"  {name:<14} n/a (no samples)", file=out)
            continue
        med, lo, hi = statistics.median(s), min(s), max(s)
        f = fig.fmt
        print(f"  {name:<14} median {f.format(med):>9}   min–max {f.format(lo):>9} – {f.format(hi):<9} (n={len(s)})", file=out)
    parts = []
    for a, b in ratio_pairs:
        ma, mb = fig.median(a), fig.median(b)
        if ma is None or mb is None or mb == 0:
            parts.append(f"{a}/{b} n/a")
        else:
            parts.append(f"{a}/{b} {ma / mb:.2f}x")
    if parts:
        print("  ratio (medians): " + "   ".join(parts), file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--title", required=True)
    ap.add_argument("--runtimes", required=True, help="comma list of name=path (empty path: not given)")
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--sleep-bundle", required=True)
    ap.add_argument("--smoke-bundle", required=True)
    ap.add_argument("--work", required=True, help="directory for state dirs and logs")
    ap.add_argument("--n", type=int, default=30, help="iterations per figure")
    ap.add_argument("--parallel", type=int, default=20, help="containers at once in (d)")
    ap.add_argument("--parallel-rounds", type=int, default=5)
    ap.add_argument("--rss-n", type=int, default=5, help="lifecycles measured for (e)")
    ap.add_argument("--helper", help="bench-helper binary (for RSS)")
    ap.add_argument("--floor", action="append", default=[], help="name=cmd... (space separated)")
    args = ap.parse_args()

    if os.geteuid() != 0:
        die("must run as root")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        die(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
    # A ^C or a kill from bench.sh still cleans up.
    # bench.sh starts us in the background, where SIGINT comes ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)

    h = Harness(args)
    state_root = os.path.join(args.work, "state")
    logdir = os.path.join(args.work, "logs")
    os.makedirs(logdir, exist_ok=True)

    runtimes = []
    for spec in args.runtimes.split(","):
        name, _, path = spec.partition("=")
        runtimes.append(Runtime(name, path, state_root, logdir))
    floors = []
    for spec in args.floor:
        name, _, cmdline = spec.partition("=")
        rt = Runtime(name, cmdline.split()[0], state_root, logdir, is_runtime=False)
        rt.path_argv = cmdline.split()
        floors.append(rt)

    out = sys.stdout
    load_start = loadavg()
    try:
        for rt in runtimes:
            progress(f"{args.title}: checking {rt.name}")
            h.probe(rt)
        live = [rt for rt in runtimes if not rt.unavailable]
        names = [rt.name for rt in runtimes]
        others = [n for n in names if n != "kiste"]
        pairs = [("kiste", o) for o in others] if "kiste" in names else []

        figs = {
            "a": Figure("a", "lifecycle: create + start + delete -f of /bin/true", "ms"),
            "b": Figure("b", "run of /bin/true in the foreground", "ms"),
            "c": Figure("c", "exec of /bin/true into a running sleep container", "ms"),
            "d": Figure("d", f"{args.parallel} lifecycles at once (create+start+delete -f)", "containers/s", True, "{:.1f}"),
            "e": Figure("e", "peak RSS of the lifecycle's commands (max of create/start/delete; untimed runs)", "MiB", False, "{:.1f}"),
            "f": Figure("f", "the floor: new pid+net+ipc+uts+mnt namespaces, then chroot (or pivot_root), exec /bin/true; timed with (b)", "ms"),
        }
        for rt in runtimes:
            if rt.unavailable:
                for k in "abcde":
                    figs[k].fail(rt.name, rt.unavailable)

        n = args.n
        progress(f"{args.title}: (a) lifecycle x{n}")
        run_loop(h, figs["a"], live, n, h.lifecycle)

        # The floor is timed in the same round-robin as (b): its ratio
        # compares runs made under the same conditions.
        progress(f"{args.title}: (b) run and (f) floor x{n}, interleaved")
        run_loop(h, figs["b"], live + floors, n, lambda rt: h.floor(rt) if rt in floors else h.run_fg(rt), figs["f"], floors)

        progress(f"{args.title}: (c) exec x{n}")
        sleepers = {}
        for rt in live:
            try:
                sleepers[rt.name] = h.exec_setup(rt)
            except (CmdError, OSError) as e:
                figs["c"].fail(rt.name, f"exec not available: {e}")
        run_loop(h, figs["c"], [rt for rt in live if rt.name in sleepers], n, lambda rt: h.exec_true(rt, sleepers[rt.name]))
        for rt in live:
            if rt.name in sleepers:
                h.delete(rt, sleepers[rt.name])

        if args.helper:
            progress(f"{args.title}: (e) RSS x{args.rss_n}")
            run_loop(h, figs["e"], live, args.rss_n, h.lifecycle_rss)
        else:
            for rt in live:
                figs["e"].fail(rt.name, "needs bench-helper, which needs gcc")

        rounds = args.parallel_rounds
        progress(f"{args.title}: (d) {args.parallel} at once x{rounds}")
        run_loop(h, figs["d"], live, rounds, lambda rt: h.parallel(rt, args.parallel))

        # ---- report
        print(f"\n=== {args.title} ===", file=out)
        print(
            f"N={n} iterations per figure ((d): {rounds} rounds, (e): {args.rss_n}), round-robin, order rotating each iteration",
            file=out,
        )
        print(
            f"kernel {os.uname().release}, {os.cpu_count()} CPUs, load average {load_start} at start, {loadavg()} at end",
            file=out,
        )
        for rt in runtimes:
            ver = f" ({rt.version})" if rt.version else ""
            print(f"  {rt.name:<6} {rt.path or '-'}{ver}", file=out)
        for k in "abcde":
            print_figure(figs[k], names, pairs, out)
        fl = figs["f"]
        print_figure(fl, [f.name for f in floors], [], out)
        for floor in floors:
            floor_med = fl.median(floor.name)
            if not floor_med or not floor.name.startswith("floor-c"):
                continue
            parts = []
            for name in names:
                m = figs["b"].median(name)
                parts.append(f"{name} {m / floor_med:.2f}x" if m is not None else f"{name} n/a")
            print(f"  run (b) over {floor.name} (medians): " + "   ".join(parts), file=out)
        out.flush()
    except KeyboardInterrupt:
        progress("interrupted, cleaning up")
        return_code = 130
    else:
        return_code = 0
    finally:
        # Finish cleaning up even if another ^C comes.
        signal.signal(signal.SIGINT, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)
        h.cleanup(runtimes)
    return return_code


if __name__ == "__main__":
    sys.exit(main())
