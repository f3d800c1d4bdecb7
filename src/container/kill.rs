//! `kill`: send a signal to the container's init (or, with --all, to every
//! process in its cgroup), and waiting for a process to exit.

use super::Container;
use super::state::Status;
use crate::bail;
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::utils::proc_stat;
use nix::sys::signal::Signal;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::str::FromStr;

/// A signal by name (`KILL`, `SIGKILL`, `kill`) or number (`9`).
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal: {s}");
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    if let Some(rt) = name.strip_prefix("SIGRTMIN") {
        let off: i32 = if rt.is_empty() { 0 } else { rt.parse().map_err(|_| Error::msg(format!("invalid signal: {s}")))? };
        return Ok(libc::SIGRTMIN() + off);
    }
    if let Some(rt) = name.strip_prefix("SIGRTMAX") {
        let off: i32 = if rt.is_empty() { 0 } else { rt.parse().map_err(|_| Error::msg(format!("invalid signal: {s}")))? };
        return Ok(libc::SIGRTMAX() + off);
    }
    Signal::from_str(&name).map(|s| s as i32).map_err(|_| Error::msg(format!("invalid signal: {s}")))
}

pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<()> {
    let c = Container::open(root, id)?;
    match c.status() {
        Status::Created | Status::Running | Status::Paused => {}
        _ => bail!("container not running"),
    }
    if all {
        let cg = Cgroup::from_dirs(c.state.cgroup.clone());
        // On v2, cgroup.kill kills every process at once, new forks included.
        if sig == libc::SIGKILL && cg.kill_all() {
            return Ok(());
        }
        for pid in cg.pids() {
            // libc's kill: nix's Signal has no real-time signals.
            unsafe { libc::kill(pid, sig) };
        }
        return Ok(());
    }
    let fd = pidfd(c.state.pid, c.state.pid_start).ok_or_else(|| Error::msg("container not running"))?;
    send(&fd, sig).with_context(|| format!("kill container {id}"))
}

/// A pidfd for `pid`, only if it is still the process that started at
/// `start` (the pidfd then stays bound to it even if the PID is reused).
pub fn pidfd(pid: i32, start: u64) -> Option<OwnedFd> {
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    proc_stat(pid).filter(|s| s.start_time == start).map(|_| fd)
}

pub fn send(fd: &OwnedFd, sig: i32) -> Result<()> {
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0) };
    if r < 0 {
        let e = nix::errno::Errno::last();
        if e == nix::errno::Errno::ESRCH {
            bail!("no such process");
        }
        return Err(e).context("send signal");
    }
    Ok(())
}

/// Waits until the process behind `fd` has exited (it may stay a zombie
/// that somebody else reaps); false on timeout.
pub fn wait_exit(fd: &OwnedFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    loop {
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
            continue;
        }
        return r > 0;
    }
}
