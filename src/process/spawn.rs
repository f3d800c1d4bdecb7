//! kiste's side of making the container's init: clone, place it in its
//! cgroup, write its id maps, and wait until it is set up (or failed).

use super::clone::fork_with;
use super::init::{self, InitArgs};
use super::sync::{self, CGROUPS, Channel, ERROR, GO, HOOKS, INIT_PID, NEED_MAPS, READY, SECCOMP_FD};
use crate::cgroups::{Cgroup, Which};
use crate::error::{Error, Result};
use crate::namespaces;
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType as T;

/// A container init that is set up: waiting for `start`, or (`run` in the
/// foreground) on its way to its program.
pub struct Spawned {
    /// Its PID on the host.
    pub pid: i32,
    /// The channel to it (kept open by `run` until the init is recorded).
    pub channel: Channel,
    /// `run` in the foreground with a terminal: the pty master.
    pub pty: Option<std::os::fd::OwnedFd>,
}

/// Where the init gets into its cgroup.
pub enum Join<'a> {
    /// At birth: `Ok` if it got in.
    Done(Result<()>),
    /// At its first cgroup mount, or when its mounts are done, after kiste
    /// says the v1 directories are made (CGROUPS); `bool`: it was cloned
    /// into its v2 directory.
    Later(&'a Cgroup, bool),
}

/// `make_cgroup`: makes the cgroup's directories `which` (all, or the
/// unified or legacy ones) and, once all are made, applies the resources.
/// `save`: saves the container's state, if `make_cgroup` has not: called
/// once the init is on its way, before any hook.
/// `state`: the container's state for hooks, given the init's PID.
pub fn spawn(
    a: &InitArgs,
    cgroup: &Cgroup,
    make_cgroup: &dyn Fn(Which) -> Result<()>,
    save: &dyn Fn() -> Result<()>,
    state: &dyn Fn(i32) -> serde_json::Value,
) -> Result<Spawned> {
    let (parent, child) = sync::pair()?;
    let two = a.plan.needs_two_stages();
    // Making a cgroup on ten v1 hierarchies takes half a millisecond, as
    // long as the init's first mounts: done side by side when the init can
    // join later by itself. A process in a new user namespace could not
    // join the host's cgroups, and a middle process forks the init, so
    // those join at birth, and so does one that joins a mount or cgroup
    // namespace by path (the host's cgroup paths are reached before it
    // enters those). The v2 directory is made first either way: the init is
    // cloned straight into it. (Pure v1: the state is saved once the init
    // may go on.)
    let joins = |t| a.plan.join.iter().any(|(j, _)| *j == t);
    let later = !two && !a.plan.new_userns() && cgroup.has_legacy() && !joins(T::Mount) && !joins(T::Cgroup);
    if !later {
        make_cgroup(Which::All)?;
    } else if cgroup.has_unified() {
        make_cgroup(Which::Unified)?;
    }
    let flags = if two { CloneFlags::empty() } else { a.plan.new - CloneFlags::CLONE_NEWCGROUP };
    let v2 = cgroup.v2_fd();
    let (pid, into_v2) = match fork_with(flags, v2.as_ref()) {
        Ok(pid) => (pid, v2.is_some()),
        // A kernel without CLONE_INTO_CGROUP: the child joins by writing.
        Err(e) if v2.is_some() && e.errno() == Some(nix::errno::Errno::EINVAL) => (fork_with(flags, None)?, false),
        Err(e) => return Err(e),
    };
    if pid == 0 {
        crate::logging::reset_stages();
        drop(parent);
        // The child moves itself into the cgroup: cheaper than us moving it.
        let join = if later { Join::Later(cgroup, into_v2) } else { Join::Done(cgroup.join_self(into_v2)) };
        if two { init::two_stage(a, &child, join) } else { init::single_stage(a, &child, join) }
    }
    drop(child);
    crate::logging::stage("clone");
    let mut init_pid = pid;
    let res = (|| -> Result<()> {
        if !two && a.plan.new_userns() {
            namespaces::write_id_maps(pid, a.spec)?;
        }
        parent.send(GO, &[])?;
        if later {
            make_cgroup(Which::Legacy)?;
            // An init that failed meanwhile has closed its end: its error
            // is read below.
            let _ = parent.send(CGROUPS, &[]);
        }
        save()?;
        loop {
            match parent.recv_with_fd()? {
                // (fork_reporting_pid makes INIT_PID come first.)
                Some((READY | HOOKS, _)) if two && init_pid == pid => {
                    return Err(Error::msg("container init spoke before its pid came"));
                }
                Some((NEED_MAPS, _)) => {
                    namespaces::write_id_maps(pid, a.spec)?;
                    parent.send(GO, &[])?;
                }
                Some((INIT_PID, p)) => {
                    init_pid = String::from_utf8_lossy(&p).parse().map_err(|_| Error::msg("bad init pid from container"))?;
                    let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
                }
                Some((HOOKS, _)) => {
                    let s = state(init_pid);
                    if let Some(h) = a.spec.hooks() {
                        crate::hooks::run_all("prestart", h.prestart().as_deref().unwrap_or(&[]), &s)?;
                        crate::hooks::run_all("createRuntime", h.create_runtime().as_deref().unwrap_or(&[]), &s)?;
                    }
                    parent.send(GO, s.to_string().as_bytes())?;
                }
                Some((SECCOMP_FD, _)) => {
                    let fd = parent.take_fd().ok_or_else(|| Error::msg("linux.seccomp: no notify fd came from the container"))?;
                    let s = a
                        .spec
                        .linux()
                        .as_ref()
                        .and_then(|l| l.seccomp().as_ref())
                        .ok_or_else(|| Error::msg("linux.seccomp: unexpected notify fd"))?;
                    crate::seccomp::send_to_listener(s, &fd, init_pid, &state(init_pid))?;
                }
                Some((READY, stages)) => {
                    crate::logging::stage("init setup");
                    crate::logging::add_encoded_stages("init.", &String::from_utf8_lossy(&stages));
                    return Ok(());
                }
                Some((ERROR, msg)) => {
                    return Err(Error::msg(String::from_utf8_lossy(&msg).into_owned()));
                }
                Some((t, _)) => {
                    return Err(Error::msg(format!("unexpected message {:?} from container init", t as char)));
                }
                None => return Err(Error::msg("container init exited during setup")),
            }
        }
    })();
    if let Err(e) = res {
        for p in [pid, init_pid] {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(p), None);
        }
        return Err(e);
    }
    Ok(Spawned { pid: init_pid, channel: parent, pty: None })
}
