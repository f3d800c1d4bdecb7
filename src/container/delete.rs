//! `delete`: remove a stopped container and everything it owns. Like runc,
//! a `created` container is killed and removed; a running one only with
//! `--force`.

use super::Container;
use super::kill::{pidfd, send, wait_exit};
use super::state::Status;
use crate::bail;
use crate::cgroups::Cgroup;
use crate::error::Result;
use std::path::Path;

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match Container::open(root, id) {
        Ok(c) => c,
        Err(e) => {
            super::id::validate(id)?;
            let dir = root.join(id);
            if !dir.exists() {
                // Like runc and crun: deleting what is not there, with --force, succeeds.
                return if force { Ok(()) } else { Err(e) };
            }
            if !force {
                return Err(e);
            }
            // A damaged state (a file truncated or removed by hand, a
            // `create` killed before its first save): what the journal
            // names is removed, then the directory.
            match Container::open_damaged(root, id) {
                Some(c) => {
                    stop(&c);
                    destroy(&c);
                }
                None => {
                    if let Ok(f) = std::fs::File::open(&dir)
                        && let Ok(_lock) = super::lock(f, &dir)
                    {
                        let _ = std::fs::remove_dir_all(&dir);
                    }
                }
            }
            return Ok(());
        }
    };
    match c.status() {
        Status::Stopped => {}
        Status::Created => stop(&c),
        Status::Running | Status::Paused | Status::Creating if force => stop(&c),
        s => bail!("cannot delete container {id} that is not stopped: {}", s.as_str()),
    }
    destroy(&c);
    Ok(())
}

/// SIGKILL the init and wait for it to die.
fn stop(c: &Container) {
    if let Some(fd) = pidfd(c.state.pid, c.state.pid_start)
        && send(&fd, libc::SIGKILL).is_ok()
    {
        // A frozen process dies only once thawed.
        let cg = Cgroup::from_dirs(c.state.cgroup.clone());
        if crate::cgroups::freezer::is_frozen(&cg) {
            let _ = crate::cgroups::freezer::set(&cg, false);
        }
        wait_exit(&fd, 10_000);
    }
    if c.state.pid == 0 && c.state.creator > 0 {
        // A `create` still at work (or hung): stop it too.
        if let Some(fd) = pidfd(c.state.creator, c.state.creator_start) {
            let _ = send(&fd, libc::SIGKILL);
            wait_exit(&fd, 10_000);
        }
    }
}

/// Removes what the container owns: leftover processes in its cgroup, the
/// cgroup directories and the state directory.
pub fn destroy(c: &Container) {
    let cg = Cgroup::from_dirs(c.state.cgroup.clone());
    if crate::cgroups::freezer::is_frozen(&cg) {
        let _ = crate::cgroups::freezer::set(&cg, false);
    }
    for _ in 0..100 {
        let pids = cg.pids();
        if pids.is_empty() {
            break;
        }
        for p in pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    crate::fault::point("delete.processes-killed");
    cg.remove();
    crate::fault::point("delete.cgroups-removed");
    super::state::run_late_hooks(&c.state, super::state::Status::Stopped, true);
    if let Some(p) = &c.state.pid_file {
        let _ = std::fs::remove_file(p);
    }
    let _ = std::fs::remove_dir_all(&c.dir);
}
