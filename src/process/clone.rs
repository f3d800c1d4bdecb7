//! clone3() without a new stack: a fork that can also create namespaces.

use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::sched::CloneFlags;

/// Returns 0 in the child and the child's PID in the parent.
pub fn fork_with(flags: CloneFlags) -> Result<i32> {
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags.bits() as u64;
    args.exit_signal = libc::SIGCHLD as u64;
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut libc::clone_args, std::mem::size_of::<libc::clone_args>()) };
    if ret < 0 {
        return Err(Error::sys(format!("clone with namespaces {flags:?}"), Errno::last()));
    }
    Ok(ret as i32)
}
