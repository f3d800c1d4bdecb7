//! Making the rootfs the container's `/`: pivot_root with the old root
//! detached, or (`--no-pivot`, for a rootfs on ramfs) MS_MOVE + chroot.

use crate::error::{Context, Result};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::unistd::{chdir, fchdir, pivot_root};
use std::path::Path;

/// `enslave`: make the old root a recursive slave before it is detached.
pub fn pivot(rootfs: &Path, enslave: bool) -> Result<()> {
    let old = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("open old root")?;
    chdir(rootfs).with_context(|| format!("chdir to rootfs {}", rootfs.display()))?;
    // pivot_root(".", ".") stacks the old root under the new one; no
    // directory for it is needed in the rootfs.
    pivot_root(".", ".").with_context(|| format!("pivot_root into {}", rootfs.display()))?;
    fchdir(&old).context("chdir to old root")?;
    // Unmounting must not propagate back to the host.
    if enslave {
        mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>).context("make old root a slave")?;
    }
    umount2(".", MntFlags::MNT_DETACH).context("detach old root")?;
    chdir("/").context("chdir to /")
}

pub fn no_pivot(rootfs: &Path) -> Result<()> {
    chdir(rootfs).with_context(|| format!("chdir to rootfs {}", rootfs.display()))?;
    mount(Some(rootfs), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>).context("move rootfs to /")?;
    nix::unistd::chroot(".").context("chroot into rootfs")?;
    chdir("/").context("chdir to /")
}
