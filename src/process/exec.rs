//! `exec`: a new process in a running container. kiste forks a child that
//! joins the container's cgroup and namespaces (user first); that child
//! forks the process itself (only a new child lands in a joined PID
//! namespace), reports its PID and exits. The process takes the
//! container's root and then the same path to execve as the init
//! (`init::exec_process`).

use super::init::exec_process;
use super::sync::{self, Channel, ERROR, INIT_PID, READY, SECCOMP_FD};
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::namespaces::Plan;
use oci_spec::runtime::{Process, Spec};
use std::os::fd::{AsRawFd, OwnedFd};

pub struct ExecArgs<'a> {
    /// The container's config (seccomp, personality, …).
    pub spec: &'a Spec,
    pub process: &'a Process,
    /// The container's init, whose namespaces and root are joined.
    pub pid: i32,
    pub cgroup: &'a Cgroup,
    pub preserve_fds: u32,
    /// With `process.terminal`: where the pty master goes.
    pub console: Option<OwnedFd>,
}

/// Starts the process; returns its host PID once it is about to execve.
pub fn exec(a: &ExecArgs) -> Result<i32> {
    let plan = Plan::of_process(a.spec, a.pid)?;
    let root = nix::fcntl::open(
        format!("/proc/{}/root", a.pid).as_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open the root of process {}", a.pid))?;
    let (parent, child) = sync::pair()?;
    // SAFETY: kiste is single-threaded here; the child only makes syscalls
    // and then execs or exits.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        nix::unistd::ForkResult::Child => {
            crate::logging::reset_stages();
            drop(parent);
            let res = (|| -> Result<std::convert::Infallible> {
                a.cgroup.join_self(false)?;
                crate::logging::stage("cgroup");
                plan.join_all(false)?;
                crate::logging::stage("namespaces");
                super::clone::fork_reporting_pid(&child)?;
                inside(a, &root, &child)
            })();
            let Err(e) = res;
            let _ = child.send(ERROR, e.to_string().as_bytes());
            unsafe { libc::_exit(1) }
        }
        nix::unistd::ForkResult::Parent { child: middle } => {
            drop(child);
            crate::logging::stage("fork");
            let res = wait_ready(a, &parent);
            let _ = nix::sys::wait::waitpid(middle, None);
            res
        }
    }
}

fn wait_ready(a: &ExecArgs, ch: &Channel) -> Result<i32> {
    let mut pid = 0;
    loop {
        match ch.recv_with_fd()? {
            Some((INIT_PID, p)) => pid = String::from_utf8_lossy(&p).parse().map_err(|_| Error::msg("bad pid from exec"))?,
            Some((SECCOMP_FD, _)) => {
                let fd = ch.take_fd().ok_or_else(|| Error::msg("linux.seccomp: no notify fd came from the process"))?;
                if let Some(s) = a.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
                    crate::seccomp::send_to_listener(s, &fd, pid, &serde_json::json!({}))?;
                }
            }
            // (fork_reporting_pid makes INIT_PID come first; a PID of 0
            // would be waited for forever, and signals sent to kiste's
            // process group.)
            Some((READY, _)) if pid <= 0 => return Err(Error::msg("the exec'd process was ready before its pid came")),
            Some((READY, stages)) => {
                crate::logging::stage("process setup");
                crate::logging::add_encoded_stages("process.", &String::from_utf8_lossy(&stages));
                return Ok(pid);
            }
            Some((ERROR, msg)) => return Err(Error::msg(String::from_utf8_lossy(&msg).into_owned())),
            Some((t, _)) => return Err(Error::msg(format!("unexpected message {:?} from exec", t as char))),
            None => return Err(Error::msg("the exec'd process exited during setup")),
        }
    }
}

/// In the container's namespaces: its root, a session, the terminal, then
/// the process attributes and execve.
fn inside(a: &ExecArgs, root: &OwnedFd, ch: &Channel) -> Result<std::convert::Infallible> {
    nix::unistd::fchdir(root).context("enter the container's root")?;
    nix::unistd::chroot(".").context("chroot into the container's root")?;
    nix::unistd::setsid().context("setsid")?;
    crate::logging::stage("root");
    crate::fault::point("exec.root");
    if let Some(socket) = &a.console {
        let size = a.process.console_size().as_ref().map(|b| (b.height() as u16, b.width() as u16));
        let pty = super::tty::open_pty(size)?;
        super::tty::send_fd(socket, &pty.master, &pty.name)?;
        drop(pty.master);
        super::tty::become_tty(&pty.slave)?;
    }
    let cwd = a.process.cwd();
    let root_fd = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("open /")?;
    let cwd_fd = crate::rootfs::resolve::open(&root_fd, cwd, libc::O_PATH | libc::O_DIRECTORY)
        .with_context(|| format!("process.cwd: {}", cwd.display()))?;
    exec_process(
        a.spec,
        a.process,
        crate::procfs::Lazy::default(),
        cwd_fd,
        ch,
        super::init::OpenFds { preserve: a.preserve_fds, keep: [ch.0.as_raw_fd()].into_iter().chain(crate::logging::file_fd()).collect() },
        || Ok(()),
    )
}
