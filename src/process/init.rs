//! The container's init, from its birth by clone() to the execve of the user
//! program: namespaces, rootfs, the process attributes, then waiting for
//! `start`. Runs in the child; every error goes back to kiste over the sync
//! channel and ends the child.

use super::lookup;
use super::spawn::Join;
use super::sync::{CGROUPS, Channel, ERROR, GO, HOOKS, NEED_MAPS, READY, SECCOMP_FD};
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::namespaces::{self, Plan};
use crate::rootfs::{self, Rootfs};
use crate::{bail, capabilities, rlimits, sysctl};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType as T, Spec};
use std::cell::Cell;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What the init waits on before it execs the user program.
pub enum Gate {
    /// `create`: the exec fifo (opened by kiste before the clone, since a
    /// user namespace's root may not reach the state root), which
    /// `start` opens for writing.
    Fifo(OwnedFd),
    /// `run` in the foreground: nothing; the program starts as soon as the
    /// init is ready (kiste blocked the signals it forwards before the
    /// clone, so none is lost meanwhile).
    Open,
}

pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub plan: &'a Plan,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub gate: Gate,
    pub cgroup_v1: Vec<(String, PathBuf)>,
    /// The container's v2 cgroup, to bind at a cgroup mount (no cgroupns).
    pub cgroup_v2: Option<PathBuf>,
    /// With `process.terminal`: the socket the pty master goes to.
    pub console: Option<OwnedFd>,
}

/// The child of a single clone() that made every namespace.
pub fn single_stage(a: &InitArgs, ch: &Channel, join: Join) -> ! {
    report(
        ch,
        (|| {
            set_dumpable(false);
            let later = match join {
                Join::Done(joined) => {
                    joined?;
                    None
                }
                Join::Later(cgroup, into_v2) => Some((cgroup, into_v2)),
            };
            initial_affinity(a.spec)?;
            ch.expect(GO)?;
            if a.plan.new_userns() {
                become_root()?;
            }
            a.plan.join_all(false)?;
            let gate =
                CgroupGate { ch, spec: a.spec, later, newns: a.plan.new.contains(CloneFlags::CLONE_NEWCGROUP), done: Cell::new(false) };
            if later.is_none() {
                gate.wait()?;
            }
            crate::logging::stage("namespaces");
            crate::fault::point("init.namespaces");
            container(a, ch, &gate)
        })(),
    )
}

/// The point where the init is in its cgroup (and, if asked, in a cgroup
/// namespace rooted there): before the first cgroup mount, the hooks and
/// the user program.
struct CgroupGate<'a> {
    ch: &'a Channel,
    spec: &'a Spec,
    /// To join when kiste says CGROUPS (and whether the v2 one is joined).
    later: Option<(&'a Cgroup, bool)>,
    /// Make a cgroup namespace once in.
    newns: bool,
    done: Cell<bool>,
}

impl CgroupGate<'_> {
    fn wait(&self) -> Result<()> {
        if self.done.replace(true) {
            return Ok(());
        }
        if let Some((cgroup, into_v2)) = self.later {
            self.ch.expect(CGROUPS)?;
            cgroup.join_self(into_v2)?;
            // Joining a v1 cpuset resets the CPU affinity.
            initial_affinity(self.spec)?;
        }
        // The cgroup namespace is made only now that we are in the
        // container's cgroup, so that it is rooted there.
        if self.newns {
            nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).context("create cgroup namespace")?;
        }
        Ok(())
    }
}

/// The middle process: joins namespaces by path, makes the new ones, and
/// forks the init into them.
pub fn two_stage(a: &InitArgs, ch: &Channel, join: Join) -> ! {
    report(
        ch,
        (|| {
            set_dumpable(false);
            let Join::Done(joined) = join else { bail!("a two-stage init joins its cgroup at birth") };
            joined?;
            initial_affinity(a.spec)?;
            ch.expect(GO)?;
            a.plan.join_all(false)?;
            let mut rest = a.plan.new;
            if a.plan.new_userns() {
                nix::sched::unshare(CloneFlags::CLONE_NEWUSER).context("create user namespace")?;
                ch.send(NEED_MAPS, &[])?;
                ch.expect(GO)?;
                become_root()?;
                rest.remove(CloneFlags::CLONE_NEWUSER);
            }
            nix::sched::unshare(rest).with_context(|| format!("create namespaces {rest:?}"))?;
            if rest.contains(namespaces::flag(T::Time)) {
                namespaces::write_time_offsets(a.spec)?;
            }
            super::clone::fork_reporting_pid(ch)?;
            let gate = CgroupGate { ch, spec: a.spec, later: None, newns: false, done: Cell::new(true) };
            container(a, ch, &gate)
        })(),
    )
}

/// `process.execCPUAffinity.initial`: where the runtime's part of the
/// process runs, from its birth until the `final` affinity.
fn initial_affinity(spec: &Spec) -> Result<()> {
    let initial = spec.process().as_ref().and_then(|p| p.exec_cpu_affinity().as_ref()).and_then(|a| a.initial().as_deref());
    match initial {
        Some(list) => crate::scheduling::set_affinity(list, "process.execCPUAffinity.initial"),
        None => Ok(()),
    }
}

/// Sends a setup error to kiste and ends the child. (Success never returns:
/// it ends in execve.)
fn report(ch: &Channel, res: Result<std::convert::Infallible>) -> ! {
    let Err(e) = res;
    let _ = ch.send(ERROR, e.to_string().as_bytes());
    unsafe { libc::_exit(1) }
}

fn set_dumpable(on: bool) {
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0, 0, 0) };
}

/// In a new user namespace: become its root (uid/gid 0, mapped by now).
fn become_root() -> Result<()> {
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).context("setresgid 0 in user namespace")?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).context("setresuid 0 in user namespace")?;
    Ok(())
}

/// Everything inside the namespaces, up to the execve of the user program.
fn container(a: &InitArgs, ch: &Channel, cgroup: &CgroupGate) -> Result<std::convert::Infallible> {
    let spec = a.spec;
    let process = spec.process().as_ref().ok_or_else(|| Error::msg("process: must be set"))?;
    // A session of its own, as with runc (and needed for a controlling tty).
    nix::unistd::setsid().context("setsid")?;
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).with_context(|| format!("hostname: set {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        let c = CString::new(d).map_err(|_| Error::msg("domainname: contains NUL"))?;
        if unsafe { libc::setdomainname(c.as_ptr(), d.len()) } != 0 {
            return Err(nix::errno::Errno::last()).with_context(|| format!("domainname: set {d:?}"));
        }
    }
    let fifo = match &a.gate {
        Gate::Fifo(fd) => Some(fd),
        Gate::Open => None,
    };
    // Without a mount namespace of its own the container gets no mounts (they
    // would land on the host), only a chroot into its rootfs, as with runc.
    let mntns = a.plan.has(T::Mount);
    if !mntns && spec.linux().as_ref().is_some_and(|l| l.masked_paths().is_some() || l.readonly_paths().is_some()) {
        bail!("linux.maskedPaths: masking or read-only paths need a mount namespace");
    }
    let userns = a.plan.has(T::User);
    let r = Rootfs {
        spec,
        rootfs: a.rootfs,
        bundle: a.bundle,
        userns,
        no_pivot: a.no_pivot,
        cgroup_v1: &a.cgroup_v1,
        cgroup_v2: a.cgroup_v2.as_deref(),
        cgroup_ready: &|| cgroup.wait(),
    };
    // Writes into /proc go through a procfs of our own (src/procfs.rs),
    // made now, while the host's /proc is still fully visible, which a user
    // namespace needs for it.
    let proc = crate::procfs::Lazy::default();
    if writes_proc(spec, process) {
        proc.get()?;
    }
    if mntns {
        rootfs::setup(&r)?;
    }
    cgroup.wait()?;
    crate::logging::stage("mounts");
    crate::fault::point("init.mounts");
    // Hooks see the container's mounts but not yet its pivot_root.
    let hooks = spec.hooks().as_ref();
    let mut state = serde_json::Value::Null;
    if hooks.is_some_and(|h| {
        h.prestart().is_some() || h.create_runtime().is_some() || h.create_container().is_some() || h.start_container().is_some()
    }) {
        ch.send(HOOKS, &[])?;
        state = serde_json::from_slice(&ch.expect(GO)?).unwrap_or_default();
        if let Some(list) = hooks.and_then(|h| h.create_container().as_ref()) {
            crate::hooks::run_all("createContainer", list, &state)?;
        }
    }
    crate::logging::stage("hooks");
    crate::fault::point("init.hooks");
    if mntns {
        rootfs::enter(&r)?;
    } else {
        nix::unistd::chroot(a.rootfs).with_context(|| format!("chroot into {}", a.rootfs.display()))?;
        nix::unistd::chdir("/").context("chdir to /")?;
    }
    if let Some(socket) = &a.console {
        let size = process.console_size().as_ref().map(|b| (b.height() as u16, b.width() as u16));
        let pty = super::tty::open_pty(size)?;
        if mntns {
            rootfs::mount_console(&pty.slave)?;
        }
        super::tty::send_fd(socket, &pty.master, &pty.name)?;
        drop(pty.master);
        super::tty::become_tty(&pty.slave)?;
    }
    crate::logging::stage("pivot_root");
    crate::fault::point("init.pivot-root");
    let cwd = process.cwd();
    // CVE-2024-21626: the working directory is resolved inside the root,
    // magic links (/proc/self/fd/N) refused, and entered by that fd.
    let cwd_fd = rootfs::resolve::mkdir_all(&root_fd()?, cwd, 0o755).with_context(|| format!("process.cwd: create {}", cwd.display()))?;
    if let Some(s) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        sysctl::apply(s, proc.get()?)?;
    }
    if mntns {
        rootfs::finish(spec)?;
    }
    crate::logging::stage("rootfs finish");
    crate::fault::point("init.rootfs-finish");

    let keep: Vec<RawFd> = std::iter::once(ch.0.as_raw_fd()).chain(fifo.map(|f| f.as_raw_fd())).chain(crate::logging::file_fd()).collect();
    exec_process(spec, process, proc, cwd_fd, ch, OpenFds { preserve: a.preserve_fds, keep }, || {
        wait_gate(fifo)?;
        // startContainer hooks run before the program: the status is still
        // "created" (runtime.md), as runc passes it.
        if let Some(list) = hooks.and_then(|h| h.start_container().as_ref())
            && let Err(e) = crate::hooks::run_all("startContainer", list, &state)
        {
            eprintln!("kiste: {e}");
            unsafe { libc::_exit(1) }
        }
        Ok(())
    })
}

/// The process attributes of `process` (the container's, or an `exec`'s),
/// applied inside the container's root, up to the execve: rlimits,
/// scheduling, seccomp, capabilities, user, LSM, cwd. After READY,
/// `before_exec` (waiting for `start`) runs.
pub fn exec_process(
    spec: &Spec,
    process: &oci_spec::runtime::Process,
    proc: crate::procfs::Lazy,
    cwd_fd: OwnedFd,
    ch: &Channel,
    fds: OpenFds,
    before_exec: impl FnOnce() -> Result<()>,
) -> Result<std::convert::Infallible> {
    let cwd = process.cwd();
    if let Some(r) = process.rlimits() {
        rlimits::apply(r)?;
    }
    if let Some(adj) = process.oom_score_adj() {
        proc.get()
            .and_then(|p| p.write(&p.thread_path("oom_score_adj")?, adj.to_string().as_bytes()))
            .with_context(|| format!("process.oomScoreAdj: set {adj}"))?;
    }
    if let Some(s) = process.scheduler() {
        crate::scheduling::set_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        crate::scheduling::set_io_priority(p)?;
    }
    if let Some(l) = spec.linux() {
        if let Some(p) = l.personality() {
            crate::personality::set_personality(p)?;
        }
        if let Some(m) = l.memory_policy() {
            crate::personality::set_memory_policy(m)?;
        }
    }
    // Seccomp: compiled now; loaded while still privileged when the process
    // may gain privileges (as runc does), else as late as possible.
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let filter = seccomp.map(crate::seccomp::compile).transpose()?;
    crate::logging::stage("seccomp compile");
    crate::fault::point("process.seccomp-compile");
    let nnp = process.no_new_privileges().unwrap_or(false);
    if let (Some(f), Some(s), false) = (&filter, seccomp, nnp) {
        load_seccomp(f, s, ch)?;
    }
    if let Some(c) = process.capabilities() {
        capabilities::drop_bounding(c)?;
    }
    switch_user(process.user())?;
    if let Some(c) = process.capabilities() {
        capabilities::apply(c)?;
    }
    if process.no_new_privileges().unwrap_or(false) && unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(nix::errno::Errno::last()).context("process.noNewPrivileges");
    }
    crate::lsm::apply(process, &proc)?;
    drop(proc);
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    nix::unistd::fchdir(&cwd_fd).with_context(|| format!("process.cwd: chdir to {}", cwd.display()))?;
    drop(cwd_fd);
    // CVE-2024-21626: every fd kiste had (its journal, a cgroup
    // directory, …) is closed now, not only marked close-on-exec: the kernel
    // resolves the program's path before it closes those, so a program
    // named /proc/self/fd/N/../../bin/sh would otherwise run from the host.
    // Only stdio, the --preserve-fds ones and those in `keep` stay.
    close_fds_except(3 + fds.preserve, &fds.keep);
    let env: Vec<String> = process.env().clone().unwrap_or_default();
    let args = process.args().as_deref().unwrap_or(&[]);
    let program = lookup::find(&args[0], &env).map_err(|e| Error::msg(format!("unable to start container process: {e}")))?;
    let argv: Vec<CString> = args
        .iter()
        .map(|s| CString::new(s.as_str()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::msg("process.args: contains NUL"))?;
    let envp: Vec<CString> = env
        .iter()
        .map(|s| CString::new(s.as_str()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::msg("process.env: contains NUL"))?;
    let path = CString::new(program.as_os_str().as_bytes()).map_err(|_| Error::msg("program path contains NUL"))?;

    // And the ones kept until now (the channel, the exec fifo) do not reach
    // the user program.
    unsafe { libc::syscall(libc::SYS_close_range, 3 + fds.preserve, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if let Some(list) = process.exec_cpu_affinity().as_ref().and_then(|a| a.cpu_affinity_final().as_deref()) {
        crate::scheduling::set_affinity(list, "process.execCPUAffinity.final")?;
    }
    if let (Some(f), Some(s), true) = (&filter, seccomp, nnp) {
        load_seccomp(f, s, ch)?;
    }
    crate::logging::stage("attributes");
    crate::fault::point("process.attributes");
    ch.send(READY, crate::logging::encode_stages().as_bytes())?;
    before_exec()?;
    reset_signals();
    let e = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    // Past `start` nobody listens on the channel any more: say it on stderr.
    eprintln!("kiste: exec {}: {}", program.display(), crate::error::errno_text(e));
    unsafe { libc::_exit(127) }
}

/// Loads the filter; a notify fd goes to kiste, which passes it on to the
/// listener (its path is on the host, out of our reach now).
fn load_seccomp(filter: &libseccomp::ScmpFilterContext, s: &oci_spec::runtime::LinuxSeccomp, ch: &Channel) -> Result<()> {
    if let Some(fd) = crate::seccomp::load(filter, crate::seccomp::wants_notify(s))? {
        ch.send_fd(SECCOMP_FD, &fd)?;
    }
    Ok(())
}

/// The fds a process keeps open up to its execve: `preserve` after stdio
/// (--preserve-fds, passed on to the program) and `keep` (kiste's own, such
/// as the sync channel, closed at the execve).
pub struct OpenFds {
    pub preserve: u32,
    pub keep: Vec<RawFd>,
}

/// Whether the init will write into /proc: sysctls, oom_score_adj, labels.
fn writes_proc(spec: &Spec, process: &oci_spec::runtime::Process) -> bool {
    let label = |l: &Option<String>| l.as_deref().is_some_and(|l| !l.is_empty());
    spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()).is_some_and(|s| !s.is_empty())
        || process.oom_score_adj().is_some()
        || label(process.apparmor_profile())
        || label(process.selinux_label())
}

/// Closes every fd from `from` up, except those in `keep`.
fn close_fds_except(from: u32, keep: &[RawFd]) {
    let mut keep: Vec<u32> = keep.iter().filter_map(|&fd| u32::try_from(fd).ok()).filter(|&fd| fd >= from).collect();
    keep.sort_unstable();
    let mut lo = from;
    for fd in keep {
        if fd > lo {
            unsafe { libc::syscall(libc::SYS_close_range, lo, fd - 1, 0) };
        }
        lo = fd + 1;
    }
    unsafe { libc::syscall(libc::SYS_close_range, lo, u32::MAX, 0) };
}

fn root_fd() -> Result<OwnedFd> {
    nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("open /")
}

fn switch_user(user: &oci_spec::runtime::User) -> Result<()> {
    let gids: Vec<Gid> = user.additional_gids().iter().flatten().map(|g| Gid::from_raw(*g)).collect();
    // setgroups is refused in a user namespace whose setgroups file says
    // "deny"; then the config must not ask for groups.
    if let Err(e) = nix::unistd::setgroups(&gids)
        && (!gids.is_empty() || e != nix::errno::Errno::EPERM)
    {
        return Err(e).context("process.user.additionalGids: setgroups");
    }
    let gid = Gid::from_raw(user.gid());
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresgid(gid, gid, gid).with_context(|| format!("process.user.gid: setresgid {gid}"))?;
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    nix::unistd::setresuid(uid, uid, uid).with_context(|| format!("process.user.uid: setresuid {uid}"))?;
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    Ok(())
}

fn wait_gate(fifo: Option<&OwnedFd>) -> Result<()> {
    let Some(f) = fifo else { return Ok(()) };
    let mut b = [0u8; 1];
    loop {
        let n = unsafe { libc::read(f.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
        if n == 1 {
            return Ok(());
        }
        if n < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
            continue;
        }
        bail!("wait for start: exec fifo closed");
    }
}

/// The user program starts with default signal handling and nothing blocked.
fn reset_signals() {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}
