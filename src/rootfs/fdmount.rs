//! Mounting by file descriptor (fsopen/fsmount, open_tree, move_mount,
//! mount_setattr): sources and targets are held as fds resolved inside the
//! rootfs, so no path is walked twice and no symlink swapped in between can
//! redirect a mount (CVE-2021-30465).

use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::msg(format!("{s:?} contains a NUL byte")))
}

fn fd_result(ret: libc::c_long) -> std::result::Result<OwnedFd, Errno> {
    if ret < 0 { Err(Errno::last()) } else { Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) }) }
}

/// A new, detached filesystem mount: `fstype` configured with `source`,
/// superblock flags and data options, then mounted with `attrs`.
pub fn new_fs(fstype: &str, source: Option<&str>, sb_flags: &[&str], data: &[String], attrs: u64) -> Result<OwnedFd> {
    let t = cstr(fstype)?;
    let fs = fd_result(unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), libc::FSOPEN_CLOEXEC) })
        .with_context(|| format!("open filesystem type {fstype:?}"))?;
    let config = |cmd: libc::c_uint, key: Option<&str>, value: Option<&str>| -> Result<()> {
        let k = key.map(cstr).transpose()?;
        let v = value.map(cstr).transpose()?;
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                cmd,
                k.as_ref().map_or(std::ptr::null(), |k| k.as_ptr()),
                v.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
                0,
            )
        };
        if ret < 0 {
            let errno = Errno::last();
            let what = match (key, value) {
                (Some(k), Some(v)) => format!("{fstype}: option {k}={v}"),
                (Some(k), None) => format!("{fstype}: option {k}"),
                _ => format!("{fstype}: create"),
            };
            return Err(Error::sys(with_kernel_message(&fs, what), errno));
        }
        Ok(())
    };
    if let Some(s) = source {
        config(libc::FSCONFIG_SET_STRING, Some("source"), Some(s))?;
    }
    for f in sb_flags {
        config(libc::FSCONFIG_SET_FLAG, Some(f), None)?;
    }
    for d in data {
        match d.split_once('=') {
            Some((k, v)) => config(libc::FSCONFIG_SET_STRING, Some(k), Some(v))?,
            None => config(libc::FSCONFIG_SET_FLAG, Some(d), None)?,
        }
    }
    config(libc::FSCONFIG_CMD_CREATE, None, None)?;
    fd_result(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), libc::FSMOUNT_CLOEXEC, attrs) })
        .map_err(|e| Error::sys(with_kernel_message(&fs, format!("mount {fstype}")), e))
}

/// The kernel explains a refused fsconfig() in messages read from the fd.
fn with_kernel_message(fs: &OwnedFd, what: String) -> String {
    let mut buf = [0u8; 256];
    let n = unsafe { libc::read(fs.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n > 2 {
        let msg = String::from_utf8_lossy(&buf[2..n as usize]).trim().to_string();
        return format!("{what} ({msg})");
    }
    what
}

/// A detached copy of the mount tree at `dirfd`/`path` (`recursive`: with its
/// submounts), ready to be attached elsewhere: a bind mount.
pub fn clone_tree(dirfd: i32, path: &str, recursive: bool) -> std::result::Result<OwnedFd, Errno> {
    let p = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    fd_result(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, p.as_ptr(), flags) })
}

/// Changes attributes (and propagation, when non-zero) of the mount `fd`.
pub fn set_attr(fd: &OwnedFd, set: u64, clr: u64, propagation: u64, recursive: bool) -> std::result::Result<(), Errno> {
    if set == 0 && clr == 0 && propagation == 0 {
        return Ok(());
    }
    let mut attr: libc::mount_attr = unsafe { std::mem::zeroed() };
    attr.attr_set = set;
    attr.attr_clr = clr;
    attr.propagation = propagation;
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    let empty = c"";
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if ret < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// Attaches the detached mount `mnt` on top of `target` (an O_PATH fd).
pub fn attach(mnt: &OwnedFd, target: &OwnedFd) -> std::result::Result<(), Errno> {
    let empty = c"";
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            empty.as_ptr(),
            target.as_raw_fd(),
            empty.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if ret < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// Sets propagation of the mount at a host path (e.g. "/" before setup).
pub fn set_propagation_path(path: &Path, flag: u64, recursive: bool) -> Result<()> {
    let mut flags = flag as libc::c_ulong;
    if recursive {
        flags |= libc::MS_REC;
    }
    nix::mount::mount::<Path, Path, str, str>(None, path, None, nix::mount::MsFlags::from_bits_retain(flags), None)
        .with_context(|| format!("set propagation of {}", path.display()))
}
