//! Copying a directory tree fd to fd, never following a symlink: for
//! `tmpcopyup` (a new tmpfs starts with a copy of what the rootfs held at
//! its mount point; podman asks for it with `--read-only`) and for a new
//! volume, first filled with the image's content at its mount point.

use crate::error::{Context, Result};
use nix::errno::Errno;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Copies the tree under `from` (a directory fd, O_PATH is fine) into the
/// directory `to` (a detached mount's root, or a volume's), with modes,
/// owners and symlinks; `to` takes `from`'s mode and owner.
pub fn copy_into(from: &OwnedFd, to: &OwnedFd) -> Result<()> {
    let src = reopen_dir(from).context("open the directory to copy")?;
    let st = fstat(&src)?;
    let _ = unsafe { libc::fchmod(to.as_raw_fd(), st.st_mode & 0o7777) };
    let _ = unsafe { libc::fchown(to.as_raw_fd(), st.st_uid, st.st_gid) };
    copy_dir(&src, to, 0)
}

fn reopen_dir(fd: &OwnedFd) -> Result<OwnedFd> {
    open_at(fd, c".", libc::O_RDONLY | libc::O_DIRECTORY)
}

fn open_at(dir: &OwnedFd, name: &CStr, flags: i32) -> Result<OwnedFd> {
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0) };
    if fd < 0 {
        return Err(Errno::last()).with_context(|| format!("open {}", name.to_string_lossy()));
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fstat(fd: &OwnedFd) -> Result<libc::stat> {
    nix::sys::stat::fstat(fd).context("stat")
}

fn check(ret: i32, what: &str, name: &CStr) -> Result<()> {
    if ret < 0 {
        return Err(Errno::last()).with_context(|| format!("{what} {}", name.to_string_lossy()));
    }
    Ok(())
}

fn copy_dir(src: &OwnedFd, dst: &OwnedFd, depth: u32) -> Result<()> {
    if depth > 256 {
        crate::bail!("directory tree too deep");
    }
    for name in entries(src).context("read directory")? {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        check(unsafe { libc::fstatat(src.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) }, "stat", &name)?;
        let mode = st.st_mode & 0o7777;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                check(unsafe { libc::mkdirat(dst.as_raw_fd(), name.as_ptr(), 0o700) }, "mkdir", &name)?;
                let s = open_at(src, &name, libc::O_RDONLY | libc::O_DIRECTORY)?;
                let d = open_at(dst, &name, libc::O_RDONLY | libc::O_DIRECTORY)?;
                copy_dir(&s, &d, depth + 1)?;
                check(unsafe { libc::fchmod(d.as_raw_fd(), mode) }, "chmod", &name)?;
            }
            libc::S_IFREG => {
                let s = open_at(src, &name, libc::O_RDONLY)?;
                let d = open_at(dst, &name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)?;
                std::io::copy(&mut File::from(s), &mut File::from(d.try_clone().context("dup")?))
                    .with_context(|| format!("copy {}", name.to_string_lossy()))?;
                check(unsafe { libc::fchmod(d.as_raw_fd(), mode) }, "chmod", &name)?;
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src, name.as_c_str()).context("readlink")?;
                let target =
                    CString::new(target.into_encoded_bytes()).map_err(|_| crate::error::Error::msg("symlink target holds a NUL"))?;
                check(unsafe { libc::symlinkat(target.as_ptr(), dst.as_raw_fd(), name.as_ptr()) }, "symlink", &name)?;
            }
            libc::S_IFIFO | libc::S_IFCHR | libc::S_IFBLK => {
                check(unsafe { libc::mknodat(dst.as_raw_fd(), name.as_ptr(), st.st_mode, st.st_rdev) }, "mknod", &name)?;
            }
            _ => continue, // sockets are not copied
        }
        check(unsafe { libc::fchownat(dst.as_raw_fd(), name.as_ptr(), st.st_uid, st.st_gid, libc::AT_SYMLINK_NOFOLLOW) }, "chown", &name)?;
    }
    Ok(())
}

/// The names in the directory `dir` (an fd open for reading), without `.`
/// and `..`.
pub fn entries(dir: &OwnedFd) -> std::result::Result<Vec<CString>, Errno> {
    let d = nix::dir::Dir::from_fd(dir.try_clone().map_err(|_| Errno::EBADF)?)?;
    Ok(d.into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect())
}
