//! clone3() without a new stack: a fork that can also create namespaces.

use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use std::os::fd::{AsRawFd, OwnedFd};

/// Returns 0 in the child and the child's PID in the parent.
/// With `cgroup` (a cgroup2 directory fd), the child starts in that cgroup.
pub fn fork_with(flags: CloneFlags, cgroup: Option<&OwnedFd>) -> Result<i32> {
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags.bits() as u64;
    args.exit_signal = libc::SIGCHLD as u64;
    if let Some(fd) = cgroup {
        // CLONE_INTO_CGROUP (linux/sched.h); libc's constant is too narrow.
        args.flags |= 0x2_0000_0000;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut libc::clone_args, std::mem::size_of::<libc::clone_args>()) };
    if ret < 0 {
        return Err(Error::sys(format!("clone with namespaces {flags:?}"), Errno::last()));
    }
    Ok(ret as i32)
}

/// In a middle process (one that joined or made the namespaces the
/// container's process must be born in): forks that process, tells kiste
/// its PID (INIT_PID) and exits. Returns Ok only in the new process, and
/// only once the middle is gone (an Err in the middle, which could not
/// tell kiste, after it killed the new one): whatever it then sends kiste (READY, HOOKS)
/// comes after its PID, never before (under load the middle could be
/// descheduled between fork and send, and kiste took READY with no PID).
pub fn fork_reporting_pid(ch: &super::sync::Channel) -> Result<()> {
    use nix::unistd::ForkResult;
    // Only the middle holds the write end: the new process reads the byte it
    // writes once INIT_PID is sent (EOF alone: the middle died first).
    let (done_r, done_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))?;
    // SAFETY: the middle is single-threaded; both sides only make syscalls
    // before they exec or exit.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork into the container", e))? {
        ForkResult::Child => {
            drop(done_w);
            let mut b = [0u8; 1];
            let n = loop {
                let n = unsafe { libc::read(done_r.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
                if n >= 0 || Errno::last() != Errno::EINTR {
                    break n;
                }
            };
            // A middle that died before it told kiste: kiste cannot know
            // this process, so it must not go on.
            if n != 1 {
                unsafe { libc::_exit(1) }
            }
            Ok(())
        }
        ForkResult::Parent { child } => {
            if let Err(e) = ch.send(super::sync::INIT_PID, child.as_raw().to_string().as_bytes()) {
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                return Err(e);
            }
            let _ = nix::unistd::write(&done_w, b"1");
            drop(done_w);
            unsafe { libc::_exit(0) }
        }
    }
}
