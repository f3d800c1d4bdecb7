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
            let files = super::state::Files::new(root, id);
            if !files.journal().exists() {
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
                None => match super::lock_journal(&files) {
                    // Still nothing readable: what a create left before its
                    // first save. (A create that was just starting has since
                    // made a whole container: removed as any other.)
                    Ok(lock) => {
                        if super::state::State::load_or_recover(&files, id).is_none() {
                            files.remove();
                        } else {
                            drop(lock);
                            if let Some(c) = Container::open_damaged(root, id) {
                                stop(&c);
                                destroy(&c);
                            }
                        }
                    }
                    // Gone meanwhile: deleted, as asked.
                    Err(_) if !files.journal().exists() => {}
                    // Not ours to remove (a permission error, say): said so.
                    Err(e) => return Err(e),
                },
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
/// cgroup directories and the container's files.
pub fn destroy(c: &Container) {
    let cg = Cgroup::from_dirs(c.state.cgroup.clone());
    // Mostly empty by now (with the init reaped, in its own PID namespace,
    // every other process is gone too): removing the directory whose
    // processes `pids` lists shows it at once. Otherwise they are stopped.
    if !cg.remove_first_if_empty() {
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
    }
    crate::fault::point("delete.processes-killed");
    cg.remove();
    crate::fault::point("delete.cgroups-removed");
    super::state::run_late_hooks(&c.state, super::state::Status::Stopped, true);
    if let Some(p) = &c.state.pid_file {
        remove_pid_file(p, c.state.pid);
    }
    c.files.remove();
}

/// Removes the `--pid-file` kiste wrote, if it is still that file: its
/// directory reached by the path recorded at create (made canonical then)
/// with no symlink on the way now, and the file a regular one holding the
/// init's pid. Anything else stays: root must not unlink through a path
/// someone changed since.
fn remove_pid_file(path: &Path, pid: i32) {
    use std::os::unix::ffi::OsStrExt;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
    let Ok(cdir) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return };
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS;
    let fd = unsafe {
        libc::syscall(libc::SYS_openat2, libc::AT_FDCWD, cdir.as_ptr(), &how as *const libc::open_how, size_of::<libc::open_how>())
    };
    if fd < 0 {
        return;
    }
    let dir = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    let Ok(file) = nix::fcntl::openat(
        &dir,
        name,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) else {
        return;
    };
    let mut text = String::new();
    let regular = nix::sys::stat::fstat(&file).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_size < 32);
    if regular && std::io::Read::read_to_string(&mut std::fs::File::from(file), &mut text).is_ok() && text.trim() == pid.to_string() {
        let _ = nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    }
}
