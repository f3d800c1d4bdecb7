//! CVE-2019-5736: a container must never get a writable handle on the kiste
//! binary. The init is a fork of kiste, so until its final execve its
//! /proc/self/exe is kiste; a container program `#!/proc/self/exe` would make
//! the kernel run kiste's own file inside the container, where it could be
//! reopened for writing. So `create` and `run` first re-execute kiste from a
//! sealed, read-only memfd copy: /proc/self/exe then leads to that copy.

use crate::error::{Context, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

const SEALS: i32 = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Is this process running from a sealed memfd?
pub fn is_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Re-executes the current command from a sealed copy, unless already there.
/// Returns only on error.
pub fn ensure() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let exe = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
    let len = exe.metadata().context("stat /proc/self/exe")?.len();
    let name = c"kiste";
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(nix::errno::Errno::last()).context("memfd_create");
    }
    let mem = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut left = len as usize;
    while left > 0 {
        let n = unsafe { libc::sendfile(mem.as_raw_fd(), exe.as_raw_fd(), std::ptr::null_mut(), left) };
        if n <= 0 {
            return Err(nix::errno::Errno::last()).context("copy kiste into memfd");
        }
        left -= n as usize;
    }
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(nix::errno::Errno::last()).context("seal memfd");
    }
    let args: Vec<CString> = std::env::args_os().map(|a| CString::new(a.as_bytes()).unwrap_or_default()).collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut b = k.as_bytes().to_vec();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            CString::new(b).unwrap_or_default()
        })
        .collect();
    let e = nix::unistd::fexecve(&mem, &args, &env).unwrap_err();
    Err(e).context("re-execute kiste from a sealed copy")
}
