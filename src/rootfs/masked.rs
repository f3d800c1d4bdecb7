//! `linux.maskedPaths` and `linux.readonlyPaths`, applied after pivot_root.
//! Each path is resolved inside the new root; a file is masked with the
//! container's /dev/null only after checking that it really is the null
//! device (a container could have swapped it for a symlink), a directory with
//! an empty read-only tmpfs.

use super::fdmount::{attach, clone_tree, new_fs, set_attr};
use super::resolve;
use crate::bail;
use crate::error::{Context, Result};
use nix::errno::Errno;
use nix::sys::stat::{SFlag, fstat};
use std::os::fd::OwnedFd;
use std::path::Path;

pub fn mask(root: &OwnedFd, paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let null = null_device(root)?;
    for p in paths {
        let target = match resolve::open(root, Path::new(p), libc::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("linux.maskedPaths: open {p}")),
        };
        let st = fstat(&target).with_context(|| format!("linux.maskedPaths: stat {p}"))?;
        let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        let mnt = if is_dir {
            new_fs("tmpfs", Some("tmpfs"), &["ro"], &[], libc::MOUNT_ATTR_RDONLY)
        } else {
            clone_tree(null_fd_raw(&null), "", false).context("clone /dev/null")
        }
        .with_context(|| format!("linux.maskedPaths: mask {p}"))?;
        attach(&mnt, &target).with_context(|| format!("linux.maskedPaths: mask {p}"))?;
    }
    Ok(())
}

fn null_fd_raw(fd: &OwnedFd) -> i32 {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

/// The container's /dev/null, checked to be the real null device (1:3).
fn null_device(root: &OwnedFd) -> Result<OwnedFd> {
    let fd = resolve::open(root, Path::new("/dev/null"), libc::O_PATH | libc::O_NOFOLLOW).context("open /dev/null")?;
    let st = fstat(&fd).context("stat /dev/null")?;
    let is_chr = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_chr || nix::sys::stat::major(st.st_rdev) != 1 || nix::sys::stat::minor(st.st_rdev) != 3 {
        bail!("/dev/null in the container is not the null device: refusing to mask paths with it");
    }
    Ok(fd)
}

pub fn readonly(root: &OwnedFd, paths: &[String]) -> Result<()> {
    for p in paths {
        let target = match resolve::open(root, Path::new(p), libc::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("linux.readonlyPaths: open {p}")),
        };
        // Bind the path onto itself (with submounts), then make it read-only.
        let tree = clone_tree(null_fd_raw(&target), "", true).with_context(|| format!("linux.readonlyPaths: bind {p}"))?;
        set_attr(&tree, libc::MOUNT_ATTR_RDONLY, 0, 0, true).with_context(|| format!("linux.readonlyPaths: make {p} read-only"))?;
        attach(&tree, &target).with_context(|| format!("linux.readonlyPaths: {p}"))?;
    }
    Ok(())
}
