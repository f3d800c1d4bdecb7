#!/usr/bin/env python3
"""OCI runtime-spec conformance runner for runc-compatible runtimes.

Usage:  RUNTIME=/path/to/runtime python3 conformance/runner.py [FILTER...]

Each case in conformance/cases/*.json is run against $RUNTIME. A case is
selected when no FILTER is given, or when any FILTER is a substring of
(or a shell-style glob matching) its name.

Environment:
  RUNTIME   runtime binary (default: "runc" from PATH)
  REPORT    if set, write a markdown report (case | result | detail |
            outcome | first stderr line) there
  VERBOSE   if set to 1, print the commands and outputs of failing cases
            to stderr
  KEEP      if set to 1, keep the temporary directory for inspection
  TIMEOUT   per-command timeout in seconds (default 10)
  CASES     directory of case files (default conformance/cases)
  STRICT_ERRORS  if set to 1, the "error_names" check fails a case; otherwise
            a miss is only recorded as information (see README)
  REPORT_JSON  if set, also write the results there as JSON: {"runtime",
            "strict_errors", "results": [{name, result, detail, description,
            outcome, rc, first_stderr_line, stderr_head, notes}]}

Only the Python standard library is used.  Must be run as root.
"""

import ctypes
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUSYBOX = "/bin/busybox"
APPLETS = [
    "sh", "ash", "cat", "echo", "ls", "id", "hostname", "mount", "grep",
    "sleep", "stat", "readlink", "test", "[", "true", "false", "ps", "env",
    "pwd", "head", "tail", "wc", "touch", "mkdir", "rm", "sysctl", "kill",
    "awk", "sed", "tr", "cut", "printf", "uname", "ln", "chmod", "dd",
    "df", "xargs", "sort", "nproc", "dnsdomainname", "mv", "mknod",
]
NAMESPACE_TYPES = ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"]
UNSHARE_FLAG = {"net": "--net", "network": "--net", "ipc": "--ipc",
                "uts": "--uts", "cgroup": "--cgroup"}
PR_SET_CHILD_SUBREAPER = 36
DEFAULT_TIMEOUT = float(os.environ.get("TIMEOUT", "10"))
STRICT_ERRORS = os.environ.get("STRICT_ERRORS") == "1"


CASE_KEYS = {"name", "description", "config", "raw_config", "setup", "expect",
             "steps", "command", "cwd", "requires"}
CHECK_KEYS = {"exit", "stdout_equals", "stdout_contains", "stdout_not_contains",
              "stdout_regex", "stderr_contains", "stderr_regex", "json",
              "json_keys", "pid", "pid_file", "files", "files_regex",
              "files_json", "files_missing", "error_names"}
STEP_KEYS = {"run": CHECK_KEYS | {"run", "cwd", "outcome"},
             "host": CHECK_KEYS | {"host", "outcome", "within"},
             "wait_status": {"wait_status", "timeout"},
             "output_of_step": CHECK_KEYS | {"output_of_step"},
             "sleep": {"sleep"}}
SETUP_KEYS = {"mkdir": {"mkdir", "mode"},
              "write": {"write", "content", "mode"},
              "symlink": {"symlink", "target"},
              "remove": {"remove"},
              "mount_tmpfs": {"mount_tmpfs", "files"},
              "persistent_ns": {"persistent_ns", "type"}}


class CaseFailure(Exception):
    """Raised when a case's expectation is not met."""


class CaseError(Exception):
    """Raised when a case is malformed (a bug in the case, not the runtime)."""


# --------------------------------------------------------------------------
# process housekeeping

def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("warning: prctl(PR_SET_CHILD_SUBREAPER) failed", file=sys.stderr)


def reap():
    """Collect every exited child.  Safe because the runner is single-threaded
    and never has a subprocess of its own in flight when this is called."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def read_stat(pid):
    """Return (comm, state, ppid) for pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    lpar, rpar = data.index("("), data.rindex(")")
    rest = data[rpar + 2:].split()
    return data[lpar + 1:rpar], rest[0], int(rest[1])


def descendants():
    """Live (non-zombie) descendants of this runner: pid -> comm."""
    children = {}
    info = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = read_stat(int(name))
        if st is None:
            continue
        info[int(name)] = st
        children.setdefault(st[2], []).append(int(name))
    found = {}
    todo = list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        comm, state, _ = info[pid]
        if state != "Z":
            found[pid] = comm
        todo.extend(children.get(pid, []))
    return found


def cgroups_named(fragment, root="/sys/fs/cgroup", depth=6):
    """Cgroup directories whose name contains fragment (not followed by a
    digit: kc7-1 is not kc7-10), deepest first."""
    pattern = re.compile(re.escape(fragment) + r"(?![0-9])")
    found = []
    if not os.path.isdir(root):
        return found
    base_depth = root.rstrip("/").count("/")
    for dirpath, dirnames, _ in os.walk(root):
        if dirpath.count("/") - base_depth >= depth:
            dirnames[:] = []
        for d in dirnames:
            if pattern.search(d):
                found.append(os.path.join(dirpath, d))
    return sorted(found, key=lambda p: -p.count("/"))


def fs_type(path):
    """Filesystem type of the mount holding path (this mount namespace)."""
    best, best_type = "", None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mnt = fields[4]
            fstype = fields[fields.index("-") + 1]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) \
                    and len(mnt) >= len(best):
                best, best_type = mnt, fstype
    return best_type


def mounts_under(path):
    """Mount points (in this mount namespace) at or below path, deepest first."""
    res = []
    prefix = path.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4]
            mnt = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), mnt)
            if mnt == path or mnt.startswith(prefix):
                res.append(mnt)
    return sorted(res, key=lambda p: -p.count("/"))


# --------------------------------------------------------------------------
# config handling

def deep_merge(base, patch):
    """Merge patch into a copy of base.

    - dicts merge key by key, recursively;
    - any other value (lists included) replaces the base value wholesale;
    - the string "$delete" removes the key;
    - {"$append": [...]} appends items to the base list.
    """
    if isinstance(patch, dict) and set(patch) == {"$append"}:
        items = patch["$append"]
        return list(base if isinstance(base, list) else []) + list(items)
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return json.loads(json.dumps(patch))
    out = dict(base)
    for key, value in patch.items():
        if value == "$delete":
            out.pop(key, None)
        elif key in out:
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = deep_merge({}, value) if isinstance(value, dict) else \
                json.loads(json.dumps(value))
    return out


PLACEHOLDER = re.compile(r"\{\{(\w+)(?::([\w.-]+))?\}\}")


def substitute(obj, ctx):
    """Replace {{name}} / {{name:arg}} placeholders in every string."""
    if isinstance(obj, str):
        def repl(m):
            key = m.group(1) if m.group(2) is None else f"{m.group(1)}:{m.group(2)}"
            if key not in ctx:
                raise CaseError(f"unknown placeholder {m.group(0)}")
            return str(ctx[key])
        return PLACEHOLDER.sub(repl, obj)
    if isinstance(obj, list):
        return [substitute(x, ctx) for x in obj]
    if isinstance(obj, dict):
        return {k: substitute(v, ctx) for k, v in obj.items()}
    return obj


# --------------------------------------------------------------------------
# the runner

class Runner:
    def __init__(self, runtime, cases):
        self.runtime = runtime
        self.cases = cases
        self.tmp = tempfile.mkdtemp(prefix="kiste-conf-")
        os.chmod(self.tmp, 0o755)  # user-namespaced inits must reach rootfs
        self.state_root = os.path.join(self.tmp, "state")
        self.rootfs = os.path.join(self.tmp, "rootfs")
        with open(os.path.join(HERE, "base.json")) as f:
            self.base = json.load(f)
        self.host_ns = {}
        for ns in NAMESPACE_TYPES:
            try:
                self.host_ns[ns] = os.readlink(f"/proc/self/ns/{ns}")
            except OSError:
                pass
        self.results = []
        self.log = []  # command transcript of the current case
        self.outcome = None  # result of the case's outcome step (note_outcome)
        self.outcome_marked = False
        self.notes = []  # information about the current case (not failures)

    # ---- rootfs -------------------------------------------------------
    def build_rootfs(self):
        r = self.rootfs
        for d in ["bin", "proc", "sys", "dev", "etc", "root", "mnt", "home"]:
            os.makedirs(os.path.join(r, d), mode=0o755)
        os.makedirs(os.path.join(r, "tmp"))
        os.chmod(os.path.join(r, "tmp"), 0o1777)
        shutil.copy2(BUSYBOX, os.path.join(r, "bin", "busybox"))
        for applet in APPLETS:
            os.symlink("busybox", os.path.join(r, "bin", applet))
        with open(os.path.join(r, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n"
                    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        with open(os.path.join(r, "etc", "group"), "w") as f:
            f.write("root:x:0:\ntty:x:5:\nnogroup:x:65534:\n")

    # ---- running the runtime -----------------------------------------
    def runtime_cmd(self, argstr, ctx, tag, cwd=None, timeout=DEFAULT_TIMEOUT, argv=None):
        if argv is None:
            args = shlex.split(substitute(argstr, ctx))
            argv = [self.runtime, "--root", self.state_root] + args
        out_path = os.path.join(self.tmp, "logs", f"{tag}.out")
        err_path = os.path.join(self.tmp, "logs", f"{tag}.err")
        # Files, not pipes: a detached container inherits these descriptors
        # and must not keep us waiting for EOF.
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            start = time.monotonic()
            try:
                rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, timeout=timeout,
                                    cwd=cwd or self.tmp).returncode
            except subprocess.TimeoutExpired:
                rc = None
            elapsed = time.monotonic() - start
        reap()
        res = {"argv": argv, "rc": rc, "timeout": timeout, "out_path": out_path,
               "err_path": err_path, "elapsed": elapsed}
        self.refresh_output(res)
        self.log.append(res)
        return res

    @staticmethod
    def refresh_output(res):
        with open(res["out_path"], "rb") as f:
            res["stdout"] = f.read().decode("utf-8", "replace")
        with open(res["err_path"], "rb") as f:
            res["stderr"] = f.read().decode("utf-8", "replace")

    # ---- setup actions -------------------------------------------------
    def bundle_path(self, bundle, rel):
        if os.path.isabs(rel) or ".." in rel.split("/"):
            raise CaseError(f"setup path must be relative to the bundle: {rel}")
        return os.path.join(bundle, rel)

    def do_setup(self, action, bundle, ctx, cleanup):
        verb = next((k for k in SETUP_KEYS if k in action), None)
        if verb is None or set(action) - SETUP_KEYS[verb]:
            raise CaseError(f"unknown setup action or keys: {json.dumps(action)}")
        action = substitute(action, ctx)
        mode = int(action["mode"], 8) if "mode" in action else None
        if "mkdir" in action:
            p = self.bundle_path(bundle, action["mkdir"])
            os.makedirs(p, exist_ok=True)
            if mode is not None:
                os.chmod(p, mode)
        elif "write" in action:
            p = self.bundle_path(bundle, action["write"])
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if os.path.lexists(p):
                os.unlink(p)  # never write through a hard link to the master rootfs
            with open(p, "w") as f:
                f.write(action.get("content", ""))
            if mode is not None:
                os.chmod(p, mode)
        elif "symlink" in action:
            p = self.bundle_path(bundle, action["symlink"])
            os.makedirs(os.path.dirname(p), exist_ok=True)
            os.symlink(action["target"], p)
        elif "remove" in action:
            p = self.bundle_path(bundle, action["remove"])
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            elif os.path.lexists(p):
                os.unlink(p)
        elif "mount_tmpfs" in action:
            p = self.bundle_path(bundle, action["mount_tmpfs"])
            os.makedirs(p, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", p],
                           check=True)
            cleanup.append(p)
            for name, content in action.get("files", {}).items():
                with open(os.path.join(p, name), "w") as f:
                    f.write(content)
        elif "persistent_ns" in action:
            name, nstype = action["persistent_ns"], action["type"]
            if nstype not in UNSHARE_FLAG:
                raise CaseError(f"persistent_ns: unsupported type {nstype}")
            p = os.path.join(bundle, f"ns-{name}")
            open(p, "w").close()
            subprocess.run(["unshare", f"{UNSHARE_FLAG[nstype]}={p}", "true"],
                           check=True)
            cleanup.append(p)
            ctx[f"ns:{name}"] = p
            kind = {"network": "net"}.get(nstype, nstype)
            ctx[f"nsid:{name}"] = f"{kind}:[{os.stat(p).st_ino}]"
        else:
            raise CaseError(f"unknown setup action {json.dumps(action)}")

    # ---- expectations -------------------------------------------------
    @staticmethod
    def as_list(v):
        return v if isinstance(v, list) else [v]

    def check(self, exp, res, bundle):
        """Check step expectations against a command result."""
        out, err, rc = res["stdout"], res["stderr"], res["rc"]
        short_err = err.strip().replace("\n", " | ")[:200]
        if rc is None:
            raise CaseFailure(f"timed out after {res['timeout']:g}s")
        want = exp.get("exit", 0)
        if want == "any":
            pass
        elif want == "nonzero":
            if rc == 0:
                raise CaseFailure("exit 0, expected a non-zero exit")
        elif rc != want:
            raise CaseFailure(f"exit {rc}, expected {want}; stderr: {short_err!r}"
                              f"; stdout: {out.strip()[:200]!r}")
        if "stdout_equals" in exp and out != exp["stdout_equals"]:
            raise CaseFailure(f"stdout {out[:200]!r} != {exp['stdout_equals']!r}")
        for s in self.as_list(exp.get("stdout_contains", [])):
            if s not in out:
                raise CaseFailure(f"stdout lacks {s!r}: {out[:300]!r}")
        for s in self.as_list(exp.get("stdout_not_contains", [])):
            if s in out:
                raise CaseFailure(f"stdout contains {s!r}: {out[:300]!r}")
        for rx in self.as_list(exp.get("stdout_regex", [])):
            if not re.search(rx, out, re.M):
                raise CaseFailure(f"stdout does not match /{rx}/: {out[:300]!r}")
        for s in self.as_list(exp.get("stderr_contains", [])):
            if s not in err:
                raise CaseFailure(f"stderr lacks {s!r}: {short_err!r}")
        for rx in self.as_list(exp.get("stderr_regex", [])):
            if not re.search(rx, err, re.M):
                raise CaseFailure(f"stderr does not match /{rx}/: {short_err!r}")
        # error_names: a refusal must say which field is wrong. Only looked
        # at when the command failed (a hostile input may also be accepted
        # and contained); a miss fails the case only with STRICT_ERRORS=1.
        if rc != 0:
            for rx in self.as_list(exp.get("error_names", [])):
                if not re.search(rx, err, re.M):
                    msg = f"stderr does not name /{rx}/: {short_err!r}"
                    if STRICT_ERRORS:
                        raise CaseFailure(msg)
                    self.notes.append(msg)
        doc = None
        wants_pid = any(v == "$pid" for fields in exp.get("files_json", {}).values()
                        if isinstance(fields, dict) for v in fields.values())
        if wants_pid or any(k in exp for k in ("json", "json_keys", "pid", "pid_file")):
            try:
                doc = json.loads(out)
            except ValueError:
                raise CaseFailure(f"stdout is not JSON: {out[:200]!r}")
        for key in exp.get("json_keys", []):
            if not isinstance(doc, dict) or key not in doc:
                raise CaseFailure(f"JSON lacks key {key!r}: {out[:300]!r}")
        for key, value in exp.get("json", {}).items():
            if not isinstance(doc, dict) or doc.get(key) != value:
                got = doc.get(key) if isinstance(doc, dict) else doc
                raise CaseFailure(f"JSON {key!r} is {got!r}, expected {value!r}")
        if exp.get("pid") == "positive":
            pid = doc.get("pid") if isinstance(doc, dict) else None
            if not isinstance(pid, int) or pid <= 0:
                raise CaseFailure(f"JSON pid is {pid!r}, expected > 0")
            if not os.path.exists(f"/proc/{pid}"):
                raise CaseFailure(f"pid {pid} does not exist on the host")
        if "pid_file" in exp:
            p = self.bundle_path(bundle, exp["pid_file"])
            try:
                with open(p) as f:
                    content = f.read().strip()
            except OSError as e:
                raise CaseFailure(f"pid file not readable: {e}")
            if content != str(doc.get("pid")):
                raise CaseFailure(f"pid file has {content!r}, state pid is "
                                  f"{doc.get('pid')!r}")
        for rel, content in exp.get("files", {}).items():
            p = self.bundle_path(bundle, rel)
            try:
                with open(p) as f:
                    got = f.read()
            except OSError as e:
                raise CaseFailure(f"bundle file {rel}: {e}")
            if got != content:
                raise CaseFailure(f"bundle file {rel} has {got!r}, expected {content!r}")
        for rel, patterns in exp.get("files_regex", {}).items():
            p = self.bundle_path(bundle, rel)
            try:
                with open(p) as f:
                    got = f.read()
            except OSError as e:
                raise CaseFailure(f"bundle file {rel}: {e}")
            for rx in self.as_list(patterns):
                if not re.search(rx, got, re.M):
                    raise CaseFailure(f"bundle file {rel} does not match /{rx}/: {got[:300]!r}")
        for rel, fields in exp.get("files_json", {}).items():
            p = self.bundle_path(bundle, rel)
            try:
                with open(p) as f:
                    text = f.read()
            except OSError as e:
                raise CaseFailure(f"bundle file {rel}: {e}")
            try:
                obj = json.loads(text)
            except ValueError:
                raise CaseFailure(f"bundle file {rel} is not JSON: {text[:200]!r}")
            if not isinstance(obj, dict):
                raise CaseFailure(f"bundle file {rel} is not a JSON object: {text[:200]!r}")
            for key, value in fields.items():
                if value == "$pid":
                    value = doc.get("pid") if isinstance(doc, dict) else None
                if key not in obj:
                    raise CaseFailure(f"bundle file {rel}: JSON lacks key {key!r}: {text[:300]!r}")
                if obj[key] != value:
                    raise CaseFailure(f"bundle file {rel}: JSON {key!r} is {obj[key]!r}, "
                                      f"expected {value!r}")
        for rel in exp.get("files_missing", []):
            if os.path.lexists(self.bundle_path(bundle, rel)):
                raise CaseFailure(f"bundle file {rel} exists but should not")

    def wait_status(self, step, ctx, tag):
        want = step["wait_status"]
        deadline = time.monotonic() + float(step.get("timeout", 5))
        status = None
        n = 0
        while True:
            res = self.runtime_cmd("state {{id}}", ctx, f"{tag}-poll{n % 2}")
            self.log.pop()  # do not flood the transcript with polls
            n += 1
            if res["rc"] == 0:
                try:
                    status = json.loads(res["stdout"]).get("status")
                except ValueError:
                    status = f"<bad JSON {res['stdout'][:80]!r}>"
            else:
                status = f"<state failed: {res['stderr'].strip()[:120]}>"
            if status == want:
                self.log.append(res)
                return
            if time.monotonic() > deadline:
                self.log.append(res)
                raise CaseFailure(f"status stayed {status!r}, waited for {want!r}")
            time.sleep(0.05)

    def run_step(self, step, i, index, ctx, bundle, step_results):
        tag = f"{index}-{i}"
        kind = next((k for k in STEP_KEYS if k in step), None)
        if kind is None or set(step) - STEP_KEYS[kind]:
            raise CaseError(f"unknown step or step keys: {json.dumps(step)}")
        if "run" in step:
            cwd = None
            if step.get("cwd") == "bundle":
                cwd = bundle
            elif "cwd" in step:
                raise CaseError("step cwd can only be \"bundle\"")
            res = self.runtime_cmd(step["run"], ctx, tag, cwd=cwd)
            step_results[i + 1] = res
            self.note_outcome(step, res)
            self.check(substitute({k: v for k, v in step.items()
                                   if k not in ("run", "cwd", "outcome")}, ctx), res, bundle)
        elif "host" in step:
            # a shell command on the host, e.g. to look at the container's
            # cgroup or at files it writes; RUNTIME and STATE are set. With
            # "within": S it is run again until its checks hold, for up to S
            # seconds, for what the container does in its own time.
            deadline = time.monotonic() + float(step.get("within", 0))
            exp = substitute({k: v for k, v in step.items()
                              if k not in ("host", "outcome", "within")}, ctx)
            while True:
                res = self.host_cmd(step["host"], ctx, tag)
                if time.monotonic() > deadline or self.holds(exp, res, bundle):
                    break
                self.log.pop()  # only the last try goes in the transcript
                time.sleep(0.1)
            step_results[i + 1] = res
            if step.get("outcome"):
                self.note_outcome(step, res)
            self.check(exp, res, bundle)
        elif "wait_status" in step:
            self.wait_status(step, ctx, tag)
        elif "output_of_step" in step:
            # re-read what a detached container wrote to the stdio it
            # inherited from an earlier step (numbered from 1)
            if step["output_of_step"] not in step_results:
                raise CaseError(f"no run step {step['output_of_step']} before step {i + 1}")
            res = dict(step_results[step["output_of_step"]])
            self.refresh_output(res)
            exp = {k: v for k, v in step.items() if k != "output_of_step"}
            exp.setdefault("exit", res["rc"])
            self.check(substitute(exp, ctx), res, bundle)
        elif "sleep" in step:
            time.sleep(float(step["sleep"]))
        else:
            raise CaseError(f"unknown step {json.dumps(step)}")

    def holds(self, exp, res, bundle):
        try:
            self.check(exp, res, bundle)
            return True
        except CaseFailure:
            return False

    def host_cmd(self, command, ctx, tag):
        env = dict(os.environ, RUNTIME=self.runtime, STATE=self.state_root)
        argv = ["/bin/sh", "-c", substitute(command, ctx)]
        old = os.environ.copy()
        os.environ.update(env)
        try:
            return self.runtime_cmd(None, ctx, tag, argv=argv)
        finally:
            os.environ.clear()
            os.environ.update(old)

    def note_outcome(self, step, res):
        """The case's outcome (for REPORT/REPORT_JSON): the result of the first
        step marked "outcome": true, else of the first run step."""
        if self.outcome_marked:
            return
        if step.get("outcome"):
            self.outcome, self.outcome_marked = res, True
        elif self.outcome is None and "run" in step:
            self.outcome = res

    @staticmethod
    def describe_outcome(res):
        """("refused (exit N)" / "accepted" / "timed out", the first ten
        non-empty stderr lines, each cut at 300 characters)."""
        if res is None:
            return "", []
        rc = res["rc"]
        lines = [l.strip()[:300] for l in res["stderr"].splitlines() if l.strip()][:10]
        if rc is None:
            what = "timed out"
        elif rc == 0:
            what = "accepted"
        else:
            what = f"refused (exit {rc})"
        return what, lines

    # ---- one case -----------------------------------------------------
    def run_case(self, index, case):
        name = case["name"]
        cid = f"kc{os.getpid()}-{index}"
        bundle = os.path.join(self.tmp, "cases", name)
        os.makedirs(bundle)
        self.log = []
        self.outcome = None
        self.outcome_marked = False
        self.notes = []
        cleanup_mounts = []
        ctx = {"id": cid, "bundle": bundle}
        for ns, value in self.host_ns.items():
            ctx[f"hostns:{ns}"] = value
        problems = []
        try:
            subprocess.run(["cp", "-al", self.rootfs, os.path.join(bundle, "rootfs")],
                           check=True)
            for action in case.get("setup", []):
                self.do_setup(action, bundle, ctx, cleanup_mounts)
            raw = case.get("raw_config")
            if raw is None:
                config = substitute(deep_merge(self.base, case.get("config", {})), ctx)
                with open(os.path.join(bundle, "config.json"), "w") as f:
                    json.dump(config, f, indent=2)
            elif raw is not False:
                with open(os.path.join(bundle, "config.json"), "w") as f:
                    f.write(substitute(raw, ctx))
            if "expect" in case:
                steps = [dict(case["expect"], run=case.get(
                    "command", "run --bundle {{bundle}} {{id}}"))]
                if "cwd" in case:
                    steps[0]["cwd"] = case["cwd"]
            else:
                steps = case["steps"]
            step_results = {}
            for i, step in enumerate(steps):
                try:
                    self.run_step(step, i, index, ctx, bundle, step_results)
                except CaseFailure as e:
                    what = step.get("run") or step.get("wait_status") or \
                        (f"host: {step['host'][:60]}" if "host" in step else
                         f"output of step {step.get('output_of_step')}")
                    raise CaseFailure(f"step {i + 1} ({what}): {e}")
        except (CaseFailure, CaseError) as e:
            problems.append(str(e) if isinstance(e, CaseFailure) else f"bad case: {e}")
        except Exception as e:  # runner bug or environment trouble
            problems.append(f"runner error: {type(e).__name__}: {e}")
        finally:
            leak = self.cleanup_case(cid, bundle, cleanup_mounts)
            if leak:
                problems.append(leak)
        return problems

    def cleanup_case(self, cid, bundle, our_mounts):
        """Delete every container and check nothing was left behind."""
        saved = self.log
        self.log = []
        ids = {cid}
        res = self.runtime_cmd("list -q", {}, "cleanup-list", timeout=5)
        if res["rc"] == 0:
            ids.update(x for x in res["stdout"].split() if x)
        for x in sorted(ids):
            self.runtime_cmd(f"delete -f {shlex.quote(x)}", {}, "cleanup-delete",
                             timeout=5)
        self.log = saved
        leaks = []
        # give a killed init a moment to go away, then look for stragglers
        deadline = time.monotonic() + 2
        while True:
            reap()
            procs = descendants()
            if not procs or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for pid, comm in procs.items():
            leaks.append(f"process {pid} ({comm})")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap()
        for p in our_mounts:
            subprocess.run(["umount", "-l", p], stderr=subprocess.DEVNULL)
        for mnt in mounts_under(bundle):
            leaks.append(f"mount {mnt}")
            subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
        for cg in cgroups_named(cid):
            if fs_type(cg) in ("cgroup", "cgroup2"):
                leaks.append(f"cgroup {cg}")
                try:
                    os.rmdir(cg)
                except OSError:
                    pass
            else:
                # not a cgroup at all (e.g. a directory a runtime made where
                # a hierarchy was unmounted): remove it quietly
                shutil.rmtree(cg, ignore_errors=True)
        if os.path.isdir(self.state_root):
            for entry in os.listdir(self.state_root):
                leaks.append(f"state entry {entry}")
                shutil.rmtree(os.path.join(self.state_root, entry),
                              ignore_errors=True)
        shutil.rmtree(bundle, ignore_errors=True)
        if leaks:
            return "left behind: " + ", ".join(leaks)
        return None

    # ---- whole run -----------------------------------------------------
    def run(self):
        os.makedirs(os.path.join(self.tmp, "logs"))
        os.makedirs(os.path.join(self.tmp, "cases"))
        self.build_rootfs()
        passed = failed = skipped = 0
        cgroup2 = fs_type("/sys/fs/cgroup") == "cgroup2"
        for index, case in enumerate(self.cases):
            name = case["name"]
            need = case.get("requires")
            if need in ("cgroup1", "cgroup2") and (need == "cgroup2") != cgroup2:
                skipped += 1
                print(f"SKIP {name}: needs {need}", flush=True)
                self.results.append({"name": name, "result": "SKIP",
                                     "detail": f"needs {need}"})
                continue
            problems = self.run_case(index, case)
            if problems:
                failed += 1
                detail = "; ".join(problems).replace("\n", " ")
                print(f"FAIL {name}: {detail}", flush=True)
                if os.environ.get("VERBOSE") == "1":
                    self.dump_log()
            else:
                passed += 1
                detail = ""
                info = f" (info: {'; '.join(self.notes)})" if self.notes else ""
                print(f"PASS {name}{info}", flush=True)
            outcome, lines = self.describe_outcome(self.outcome)
            self.results.append({
                "name": name, "result": "PASS" if not problems else "FAIL",
                "detail": detail, "description": case.get("description", ""),
                "outcome": outcome, "first_stderr_line": lines[0] if lines else "",
                "stderr_head": lines,
                "rc": self.outcome["rc"] if self.outcome else None,
                "notes": list(self.notes)})
        if skipped:
            print(f"({skipped} skipped: they need the other cgroup version)", flush=True)
        print(f"{passed} passed, {failed} failed", flush=True)
        return failed

    def dump_log(self):
        for res in self.log:
            print(f"    $ {' '.join(shlex.quote(a) for a in res['argv'])}"
                  f"  -> rc={res['rc']}", file=sys.stderr)
            for label in ("stdout", "stderr"):
                for line in res[label].rstrip().splitlines()[:20]:
                    print(f"      {label}: {line}", file=sys.stderr)

    def write_report(self, path):
        def cell(s):
            return s.replace("|", "\\|").replace("\n", " ")
        with open(path, "w") as f:
            f.write(f"# Conformance report\n\nRuntime: `{self.runtime}`\n\n")
            passed = sum(1 for r in self.results if r["result"] == "PASS")
            failed = sum(1 for r in self.results if r["result"] == "FAIL")
            f.write(f"{passed} passed, {failed} failed\n\n")
            f.write("| case | result | detail | outcome | first stderr line |\n"
                    "|---|---|---|---|---|\n")
            for r in self.results:
                detail = "; ".join([r["detail"]] * bool(r["detail"]) +
                                   [f"info: {n}" for n in r.get("notes", [])])
                first = cell(r.get("first_stderr_line", "")).replace("`", "'")
                f.write(f"| {cell(r['name'])} | {r['result']} | {cell(detail)} | "
                        f"{r.get('outcome', '')} | {'`' + first + '`' if first else ''} |\n")

    def write_json_report(self, path):
        with open(path, "w") as f:
            json.dump({"runtime": self.runtime, "strict_errors": STRICT_ERRORS,
                       "results": self.results}, f, indent=1)
            f.write("\n")

    def finish(self):
        reap()
        for mnt in mounts_under(self.tmp):
            subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
        if os.environ.get("KEEP") == "1":
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def load_cases(filters):
    cases = []
    seen = set()
    cases_dir = os.environ.get("CASES") or os.path.join(HERE, "cases")
    for path in sorted(glob.glob(os.path.join(cases_dir, "*.json"))):
        with open(path) as f:
            try:
                data = json.load(f)
            except ValueError as e:
                sys.exit(f"{path}: invalid JSON: {e}")
        for case in data if isinstance(data, list) else [data]:
            name = case.get("name")
            if not name or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
                sys.exit(f"{path}: case needs a name made of [A-Za-z0-9._-]")
            if name in seen:
                sys.exit(f"{path}: duplicate case name {name}")
            if set(case) - CASE_KEYS:
                sys.exit(f"{path}: case {name}: unknown keys {sorted(set(case) - CASE_KEYS)}")
            if case.get("requires", "cgroup1") not in ("cgroup1", "cgroup2"):
                sys.exit(f"{path}: case {name}: requires is cgroup1 or cgroup2")
            if ("expect" in case) == ("steps" in case):
                sys.exit(f"{path}: case {name} needs exactly one of expect/steps")
            seen.add(name)
            cases.append(case)
    if filters:
        cases = [c for c in cases
                 if any(f in c["name"] or fnmatch.fnmatch(c["name"], f)
                        for f in filters)]
    return cases


def main():
    if os.geteuid() != 0:
        sys.exit("the conformance suite must run as root")
    runtime = os.environ.get("RUNTIME") or shutil.which("runc") or "runc"
    if not os.path.isabs(runtime):
        runtime = shutil.which(runtime) or runtime
    if not os.access(runtime, os.X_OK):
        sys.exit(f"runtime not executable: {runtime}")
    if not os.access(BUSYBOX, os.X_OK):
        sys.exit(f"{BUSYBOX} is needed (apt-get install busybox-static)")
    cases = load_cases(sys.argv[1:])
    if not cases:
        sys.exit("no case matches the given filters")
    os.umask(0o022)
    become_subreaper()
    print(f"# runtime: {runtime}, {len(cases)} cases", file=sys.stderr)
    runner = Runner(runtime, cases)
    try:
        failed = runner.run()
    finally:
        runner.finish()
    if os.environ.get("REPORT"):
        runner.write_report(os.environ["REPORT"])
    if os.environ.get("REPORT_JSON"):
        runner.write_json_report(os.environ["REPORT_JSON"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
