#!/usr/bin/env python3
"""reliability.py: kiste under faults, damage, a full disk, load and races.

Run by hack/reliability.sh (which builds the fault-injection binary and
also runs the hostile-input table and the CVE tests); see there. Prints one
line per check (PASS/FAIL name: detail) and, last, `N passed, N failed`.

Usage: reliability.py KISTE_WITH_FAULTS [GROUP...]
Groups: faults damage full load races (default: all).
Needs root, /bin/busybox (busybox-static) and hack/make-bundle.sh.
"""

import concurrent.futures
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KISTE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
GROUPS = sys.argv[2:] or ["faults", "damage", "full", "load", "races"]
CG_PARENT = "kiste-reliability"

results = []


def report(name, ok, detail=""):
    results.append(ok)
    line = f"{'PASS' if ok else 'FAIL'} {name}"
    if detail and not ok:
        line += f": {detail}"
    print(line, flush=True)


class Runner:
    """One state root and bundle directory for a group of checks."""

    def __init__(self, work, root=None):
        self.work = work
        self.root = root or os.path.join(work, "state")
        self.n = 0
        self.token = random.randrange(10**6, 10**7)

    def kiste(self, *args, env=None, timeout=30):
        e = dict(os.environ)
        e.pop("KISTE_FAULT", None)
        if env:
            e.update(env)
        # Files, not pipes: a container's init inherits kiste's stdout and
        # stderr and would hold a pipe open long after kiste returned.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                p = subprocess.run([KISTE, "--root", self.root, *args], stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, env=e, timeout=timeout)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = None
            out.seek(0)
            err.seek(0)
            return rc, out.read().decode(errors="replace"), err.read().decode(errors="replace") or ("timed out" if rc is None else "")

    def bundle(self, args, cgroups_path=True):
        """A bundle whose process args carry a token unique to it, so that its
        processes can be found on the host by their command line."""
        self.n += 1
        cid = f"rel{os.getpid()}-{self.n}"
        b = os.path.join(self.work, cid)
        marker = str(self.token * 1000 + self.n)
        argv = [a.replace("@", marker) for a in args]
        subprocess.run([os.path.join(HERE, "make-bundle.sh"), b, *argv], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(b, "config.json")) as f:
            c = json.load(f)
        if cgroups_path:
            c["linux"]["cgroupsPath"] = f"/{CG_PARENT}/{cid}"
        else:  # several containers of one bundle: each gets a cgroup named by its id
            c["linux"].pop("cgroupsPath", None)
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(c, f)
        return cid, b, marker


def processes_with(marker):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in argv:
            found.append(int(p))
    return found


def cgroup_dirs(cid):
    out = []
    base = "/sys/fs/cgroup"
    for h in os.listdir(base):
        d = os.path.join(base, h, CG_PARENT, cid)
        if os.path.isdir(d):
            out.append(d)
    if os.path.isdir(os.path.join(base, CG_PARENT, cid)):
        out.append(os.path.join(base, CG_PARENT, cid))
    return out


def leftovers(r, cid, bundle, marker, pid_file=None):
    """What a container left behind: processes, cgroups, mounts, state, pid file."""
    left = []
    for _ in range(50):  # a killed process may take a moment to be reaped
        procs = processes_with(marker)
        if not procs:
            break
        time.sleep(0.02)
    if procs:
        left.append(f"processes {procs}")
    if cgroup_dirs(cid):
        left.append(f"cgroups {cgroup_dirs(cid)}")
    with open("/proc/self/mountinfo") as f:
        mounts = [line for line in f if bundle in line]
    if mounts:
        left.append(f"{len(mounts)} mounts under the bundle")
    files = state_files(r, cid)
    if files:
        left.append(f"state files {files}")
    if pid_file and os.path.exists(pid_file):
        left.append("pid file")
    return left


def force_clean(r, cid, marker):
    """After a failed check: make sure nothing stays for the next one."""
    r.kiste("delete", "--force", cid)
    for p in processes_with(marker):
        try:
            os.kill(p, 9)
        except OSError:
            pass
    for d in cgroup_dirs(cid):
        try:
            os.rmdir(d)
        except OSError:
            pass
    for f in state_files(r, cid):
        try:
            os.remove(os.path.join(r.root, f))
        except OSError:
            pass


def state_files(r, cid):
    """The container's files under the state root (ID.journal, ID.json, ...)."""
    try:
        return sorted(f for f in os.listdir(r.root) if f.startswith(cid + "."))
    except OSError:
        return []


def killed(rc):
    return rc == -9


# --- faults -----------------------------------------------------------------

CREATE_POINTS = ["create.journal-made", "create.journal-written", "create.cgroups-made", "create.state-saved",
                 "create.init-ready",
                 "create.pid-saved", "create.pid-file-written"]
INIT_POINTS = ["init.namespaces", "init.mounts", "init.hooks", "init.pivot-root", "init.rootfs-finish",
               "process.seccomp-compile", "process.attributes"]
START_POINTS = ["start.fifo-opened", "start.signalled", "start.fifo-removed"]
DELETE_POINTS = ["delete.processes-killed", "delete.cgroups-removed"]
EXEC_POINTS = ["exec.root", "process.seccomp-compile", "process.attributes"]


def check_faults(work):
    r = Runner(work)
    for point in CREATE_POINTS + INIT_POINTS:
        cid, b, m = r.bundle(["sleep", "@"])
        pid_file = os.path.join(work, cid + ".pid")
        rc, _, err = r.kiste("create", "--bundle", b, "--pid-file", pid_file, cid, env={"KISTE_FAULT": point})
        fired = killed(rc) if point.startswith("create.") else (rc not in (0, None) and "level=error" in err)
        if not fired:
            report(f"fault {point}: create", False, f"the fault did not strike (exit {rc}, {err.strip()[:200]})")
            force_clean(r, cid, m)
            continue
        # gc first: it removes a half-made container (no init recorded) and
        # nothing else; then delete --force, which must succeed either way.
        rc_gc, out_gc, err_gc = r.kiste("gc")
        rc_d, _, err_d = r.kiste("delete", "--force", cid)
        left = leftovers(r, cid, b, m, pid_file)
        ok = rc_gc == 0 and rc_d == 0 and not left
        report(f"fault {point}: gc and delete --force leave nothing", ok,
               f"gc exit {rc_gc} {err_gc.strip()[:200]}; delete exit {rc_d} {err_d.strip()[:200]}; left: {left}")
        if not ok:
            force_clean(r, cid, m)
    # A container set up by `setup`, then the faulted command; a delete
    # --force after it must leave nothing.
    phases = [(p, ["create"], ["start"], "delete --force leaves nothing") for p in START_POINTS]
    phases += [(p, ["run", "--detach"], ["delete", "--force"], "a second delete --force leaves nothing") for p in DELETE_POINTS]
    for point, setup, faulted, what in phases:
        cid, b, m = r.bundle(["sleep", "@"])
        r.kiste(*setup, "--bundle", b, cid)
        rc, _, err = r.kiste(*faulted, cid, env={"KISTE_FAULT": point})
        rc_d, _, err_d = r.kiste("delete", "--force", cid)
        left = leftovers(r, cid, b, m)
        ok = killed(rc) and rc_d == 0 and not left
        report(f"fault {point}: {what}", ok,
               f"{faulted[0]} exit {rc} {err.strip()[:200]}; delete exit {rc_d} {err_d.strip()[:200]}; left: {left}")
        if not ok:
            force_clean(r, cid, m)
    for point in EXEC_POINTS:
        cid, b, m = r.bundle(["sleep", "@"])
        r.kiste("run", "--detach", "--bundle", b, cid)
        rc, _, err = r.kiste("exec", cid, "sleep", m, env={"KISTE_FAULT": point})
        rc_s, out_s, _ = r.kiste("state", cid)
        still = rc_s == 0 and json.loads(out_s or "{}").get("status") == "running"
        rc2, out2, _ = r.kiste("exec", cid, "echo", "again")
        rc_d, _, err_d = r.kiste("delete", "--force", cid)
        left = leftovers(r, cid, b, m)
        ok = rc not in (0, None) and still and rc2 == 0 and out2 == "again\n" and rc_d == 0 and not left
        report(f"fault {point} (exec): the container runs on, takes execs, and deletes cleanly", ok,
               f"exec exit {rc} {err.strip()[:200]}; running after: {still}; next exec {rc2} {out2!r}; "
               f"delete {rc_d} {err_d.strip()[:200]}; left: {left}")
        if not ok:
            force_clean(r, cid, m)


# --- damage ------------------------------------------------------------------

def check_damage(work):
    r = Runner(work)

    def damaged(name, damage, expect_clean=True):
        cid, b, m = r.bundle(["sleep", "@"])
        rc, _, err = r.kiste("run", "--detach", "--bundle", b, cid)
        if rc != 0:
            report(f"damage {name}", False, f"run failed: {err.strip()[:200]}")
            return
        damage(r.root, cid)
        rc_s, _, err_s = r.kiste("state", cid)
        clear = rc_s != 0 and err_s.count("level=error") == 1 and "panick" not in err_s
        rc_d, _, err_d = r.kiste("delete", "--force", cid)
        left = leftovers(r, cid, b, m)
        ok = clear and rc_d == 0 and (not left or not expect_clean)
        report(f"damage {name}: state says so clearly, delete --force cleans up", ok,
               f"state exit {rc_s} {err_s.strip()[:200]}; delete exit {rc_d} {err_d.strip()[:200]}; left: {left}")
        force_clean(r, cid, m)

    # Each damages the file ID+suffix under the state root.
    def truncate(suffix):
        return lambda root, cid: open(os.path.join(root, cid + suffix), "w").close()

    def remove(suffix):
        return lambda root, cid: os.remove(os.path.join(root, cid + suffix))

    def garble(suffix):
        def g(root, cid):
            with open(os.path.join(root, cid + suffix), "r+b") as fh:
                fh.seek(7)
                fh.write(b"\xff\x00{]")
        return g

    damaged("state truncated", truncate(".json"))
    damaged("state removed", remove(".json"))
    damaged("state garbled", garble(".json"))

    # The journal alone damaged: the state is whole, so every command works.
    cid, b, m = r.bundle(["sleep", "@"])
    r.kiste("run", "--detach", "--bundle", b, cid)
    truncate(".journal")(r.root, cid)
    rc_s, out_s, _ = r.kiste("state", cid)
    rc_d, _, _ = r.kiste("delete", "--force", cid)
    left = leftovers(r, cid, b, m)
    report("damage journal truncated: state works, delete --force cleans up",
           rc_s == 0 and '"running"' in out_s and rc_d == 0 and not left, f"left: {left}")
    force_clean(r, cid, m)

    # PID 1 killed from outside, at a random moment of its life.
    for i in range(10):
        cid, b, m = r.bundle(["sleep", "@"])
        t = threading.Thread(target=lambda: r.kiste("run", "--detach", "--bundle", b, cid))
        t.start()
        time.sleep(random.uniform(0, 0.03))
        for p in processes_with(m):
            try:
                os.kill(p, 9)
            except OSError:
                pass
        t.join()
        rc_s, out_s, err_s = r.kiste("state", cid)
        status_ok = rc_s != 0 or json.loads(out_s).get("status") in ("stopped", "running", "created")
        rc_d, _, err_d = r.kiste("delete", "--force", cid)
        left = leftovers(r, cid, b, m)
        report(f"init killed from outside #{i + 1}: a true status, delete --force cleans up",
               status_ok and rc_d == 0 and not left, f"state {rc_s} {out_s[:100]} {err_s[:100]}; delete {rc_d} {err_d[:200]}; left: {left}")
        force_clean(r, cid, m)


# --- a full /run ---------------------------------------------------------------

def check_full(work):
    root = os.path.join(work, "fullroot")
    os.makedirs(root)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,nr_inodes=64", "tmpfs", root], check=True)
    try:
        r = Runner(work, root=root)
        filler = os.path.join(root, "filler")
        try:
            with open(filler, "wb") as f:
                f.write(b"\0" * (64 << 10))
        except OSError:
            pass  # ENOSPC: the point
        cid, b, m = r.bundle(["sleep", "@"])
        rc, _, err = r.kiste("run", "--detach", "--bundle", b, cid)
        clear = rc not in (0, None) and err.count("level=error") == 1 and "no space left" in err.lower()
        rc_d, _, err_d = r.kiste("delete", "--force", cid)
        left = leftovers(r, cid, b, m)
        report("--root on a full tmpfs: a clear error, nothing left", clear and rc_d == 0 and not left,
               f"run exit {rc}: {err.strip()[:200]}; delete {rc_d} {err_d.strip()[:200]}; left: {left}")
        force_clean(r, cid, m)
        os.remove(filler)
        rc, _, err = r.kiste("run", "--detach", "--bundle", b, cid)
        rc_d, _, _ = r.kiste("delete", "--force", cid)
        report("--root with room again: the same container runs", rc == 0 and rc_d == 0 and not leftovers(r, cid, b, m),
               err.strip()[:200])
        force_clean(r, cid, m)
    finally:
        subprocess.run(["umount", root])


# --- load ----------------------------------------------------------------------

def kiste_processes():
    """Processes running the kiste binary: none may outlive their command.
    (Open files die with their process; file-nr, the machine's count of
    them, is a per-CPU estimate that drifts by dozens between reads.)"""
    me = os.stat(KISTE)
    n = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = os.stat(f"/proc/{pid}/exe")  # the re-exec runs a bind mount of it: same inode
            n += (st.st_dev, st.st_ino) == (me.st_dev, me.st_ino)
        except OSError:
            pass
    return n


def counts(root):
    kiste = kiste_processes()
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for _ in f)
    cg = sum(len(dirs) for _, dirs, _ in os.walk("/sys/fs/cgroup"))
    state = len(os.listdir(root)) if os.path.isdir(root) else 0
    return {"kiste processes": kiste, "mounts": mounts, "cgroups": cg, "state": state}


def check_load(work, total=200, at_once=20):
    r = Runner(work)
    bundles = [r.bundle(["true"], cgroups_path=False) for _ in range(at_once)]
    os.makedirs(r.root, exist_ok=True)
    before = counts(r.root)
    failures = []

    def lifecycle(i):
        cid0, b, m = bundles[i % at_once]
        cid = f"{cid0}-{i}"
        for args in (["create", "--bundle", b, cid], ["start", cid]):
            rc, _, err = r.kiste(*args)
            if rc != 0:
                failures.append(f"{args[0]} {cid}: {err.strip()[:150]}")
                r.kiste("delete", "--force", cid)
                return
        for _ in range(500):
            rc, out, _ = r.kiste("state", cid)
            if rc == 0 and json.loads(out)["status"] == "stopped":
                break
            time.sleep(0.01)
        rc, _, err = r.kiste("delete", cid)
        if rc != 0:
            failures.append(f"delete {cid}: {err.strip()[:150]}")

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(at_once) as pool:
        list(pool.map(lifecycle, range(total)))
    took = time.time() - t0
    report(f"load: {total} containers, {at_once} at a time, create/start/wait/delete ({took:.1f} s)",
           not failures, "; ".join(failures[:5]))

    cid, b, m = r.bundle(["sleep", "@"], cgroups_path=False)
    r.kiste("run", "--detach", "--bundle", b, cid)
    outs = []

    def one_exec(i):
        outs.append(r.kiste("exec", cid, "echo", f"exec{i}"))

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        list(pool.map(one_exec, range(20)))
    bad = [o for o in outs if o[0] != 0 or not o[1].startswith("exec")]
    report("load: 20 concurrent execs into one container", len(outs) == 20 and not bad, str(bad[:3]))
    r.kiste("delete", "--force", cid)
    force_clean(r, cid, m)
    time.sleep(0.2)
    after = counts(r.root)
    same = after == before
    report(f"load: afterwards as before (before {before}, after {after})", same, f"before {before}, after {after}")


# --- races ---------------------------------------------------------------------

ORDER = {"creating": 0, "created": 1, "running": 2, "paused": 2, "stopped": 3}


def check_races(work, rounds=8, workers=6, ops=25):
    r = Runner(work)
    problems = []
    for n in range(rounds):
        cid, b, m = r.bundle(["sleep", "@"])
        rc, _, err = r.kiste("create", "--bundle", b, cid)
        if rc != 0:
            problems.append(f"create: {err[:150]}")
            continue

        def worker(w):
            seen = []
            rnd = random.Random(w * 1000 + n)
            for _ in range(ops):
                op = rnd.choice(["state", "state", "start", "kill", "delete", "list"])
                if op == "state":
                    rc, out, err = r.kiste("state", cid)
                    if rc == 0:
                        try:
                            st = json.loads(out)
                        except ValueError:
                            problems.append(f"state output is not JSON: {out[:100]!r}")
                            continue
                        s = st.get("status")
                        if s not in ORDER:
                            problems.append(f"unknown status {s!r}")
                            continue
                        if seen and ORDER[s] < ORDER[seen[-1]]:
                            problems.append(f"status went back from {seen[-1]} to {s}")
                        if s in ("running", "created") and not os.path.exists(f"/proc/{st.get('pid')}"):
                            # The process may have died since: ask again.
                            rc2, out2, _ = r.kiste("state", cid)
                            if rc2 == 0 and json.loads(out2).get("status") in ("running", "created"):
                                problems.append(f"status {s} for a dead pid {st.get('pid')}")
                        seen.append(s)
                    elif "does not exist" not in err:
                        problems.append(f"state failed: {err.strip()[:150]}")
                    else:
                        seen.append("stopped")
                elif op == "start":
                    r.kiste("start", cid)
                elif op == "kill":
                    r.kiste("kill", cid, "KILL")
                elif op == "delete":
                    r.kiste("delete", cid)
                else:
                    rc, out, err = r.kiste("list", "--format", "json")
                    if rc != 0:
                        problems.append(f"list failed: {err.strip()[:150]}")

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(worker, range(workers)))
        rc_d, _, err_d = r.kiste("delete", "--force", cid)
        left = leftovers(r, cid, b, m)
        if rc_d != 0 or left:
            problems.append(f"after the race: delete {rc_d} {err_d[:100]}; left {left}")
        force_clean(r, cid, m)
    report(f"races: start/kill/delete/state/list from {workers} processes on one id, {rounds} rounds: "
           "statuses true and in order, state never corrupt, nothing left", not problems, "; ".join(problems[:5]))


def main():
    if KISTE is None:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    # Not a child subreaper: the threads here run subprocesses, whose exit
    # statuses a reaper would steal. An exited container init is reparented
    # to PID 1 and stays a zombie until reaped; kiste counts a zombie as
    # stopped, and it no longer counts in a cgroup.
    work = tempfile.mkdtemp(prefix="kiste-reliability.")
    try:
        for g in GROUPS:
            {"faults": check_faults, "damage": check_damage, "full": check_full, "load": check_load,
             "races": check_races}[g](work)
    finally:
        for h in os.listdir("/sys/fs/cgroup"):
            d = os.path.join("/sys/fs/cgroup", h, CG_PARENT)
            if os.path.isdir(d):
                for sub in sorted((os.path.join(p, x) for p, ds, _ in os.walk(d) for x in ds), reverse=True):
                    try:
                        os.rmdir(sub)
                    except OSError:
                        pass
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        with open("/proc/self/mountinfo") as f:
            if work not in f.read():
                shutil.rmtree(work, ignore_errors=True)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
