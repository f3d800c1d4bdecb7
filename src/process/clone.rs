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
