//! /dev inside the container: the default devices, `linux.devices`, and the
//! usual symlinks. Device nodes are made with mknod, or, in a user namespace
//! (where mknod is refused), bind-mounted from the host.

use super::fdmount::{attach, clone_tree};
use super::resolve;
use crate::error::{Context, Result};
use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub struct Device {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (runtime-spec "Default Devices").
pub fn defaults() -> Vec<Device> {
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
        .into_iter()
        .map(|(name, major, minor)| Device {
            path: PathBuf::from("/dev").join(name),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

pub fn from_config(d: &LinuxDevice) -> Device {
    let kind = match d.typ() {
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        _ => SFlag::S_IFCHR,
    };
    Device {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    }
}

/// Makes every device in `devs`. mknod runs with a umask of 0 meanwhile,
/// so that a node of root's with plain permissions needs nothing more.
pub fn create_all(root: &OwnedFd, devs: &[Device], userns: bool) -> Result<()> {
    let old = nix::sys::stat::umask(Mode::empty());
    let res = devs.iter().try_for_each(|d| create(root, d, userns));
    nix::sys::stat::umask(old);
    res
}

fn create(root: &OwnedFd, dev: &Device, userns: bool) -> Result<()> {
    let what = || format!("create device {}", dev.path.display());
    if userns {
        let target = resolve::create_file(root, &dev.path, 0o644).with_context(what)?;
        let host = dev.path.to_str().unwrap_or_default();
        let tree = clone_tree(libc::AT_FDCWD, host, false).with_context(what)?;
        return attach(&tree, &target).with_context(what);
    }
    let parent_path = dev.path.parent().unwrap_or(Path::new("/dev"));
    let parent = resolve::mkdir_all(root, parent_path, 0o755).with_context(what)?;
    let name = dev.path.file_name().unwrap_or_default();
    // A file already there (from the image, or a default the config
    // repeats) gives way to the device the config asks for.
    let _ = nix::unistd::unlinkat(&parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    let rdev = nix::sys::stat::makedev(dev.major, dev.minor);
    nix::sys::stat::mknodat(&parent, name, dev.kind, Mode::from_bits_truncate(dev.mode), rdev).with_context(what)?;
    // Made by the init (root, not yet its user) with the umask at 0, the
    // node mostly has the owner and mode asked for already: one stat
    // instead of an open, a chmod and a chown. (Not always: the init's
    // group, a setgid /dev or a default ACL may give it others.)
    if nix::sys::stat::fstatat(&parent, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| st.st_mode & 0o7777 == dev.mode && st.st_uid == dev.uid && st.st_gid == dev.gid)
    {
        return Ok(());
    }
    // Set the exact mode and owner asked for.
    let fd = resolve::open(root, &dev.path, libc::O_PATH | libc::O_NOFOLLOW).with_context(what)?;
    let p = resolve::fd_path(&fd);
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        p.as_str(),
        Mode::from_bits_truncate(dev.mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .with_context(what)?;
    nix::unistd::fchownat(nix::fcntl::AT_FDCWD, p.as_str(), Some(dev.uid.into()), Some(dev.gid.into()), nix::fcntl::AtFlags::empty())
        .with_context(what)?;
    Ok(())
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx (to the container's devpts) and
/// /dev/core where the kernel has /proc/kcore.
pub fn symlinks(root: &OwnedFd) -> Result<()> {
    let dev = resolve::mkdir_all(root, Path::new("/dev"), 0o755).context("open /dev")?;
    let mut links =
        vec![("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"), ("/proc/self/fd/2", "stderr")];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match nix::unistd::symlinkat(target, &dev, name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("symlink /dev/{name}")),
        }
    }
    // /dev/ptmx must lead to the container's own devpts instance.
    let _ = nix::unistd::unlinkat(&dev, "ptmx", nix::unistd::UnlinkatFlags::NoRemoveDir);
    nix::unistd::symlinkat("pts/ptmx", &dev, "ptmx").context("symlink /dev/ptmx")
}
