//! The container's filesystem view: mounts, /dev, pivot_root, masked and
//! read-only paths. Runs in the container's init, inside its new mount
//! namespace, before the user program.

pub mod copyup;
pub mod devices;
pub mod fdmount;
pub mod masked;
pub mod mounts;
pub mod options;
pub mod pivot;
pub mod resolve;

use crate::error::{Context, Result};
use nix::mount::{MsFlags, mount};
use oci_spec::runtime::Spec;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct Rootfs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub userns: bool,
    pub no_pivot: bool,
    pub cgroup_v1: &'a [(String, PathBuf)],
    pub cgroup_v2: Option<&'a Path>,
    /// Called before the first mount that shows a cgroup or may open a
    /// device, and before the device nodes are made: returns once the init
    /// is in the container's cgroup.
    pub cgroup_ready: &'a dyn Fn() -> Result<()>,
}

fn propagation(spec: &Spec) -> Option<(u64, bool)> {
    let p = spec.linux().as_ref()?.rootfs_propagation().as_ref()?;
    options::propagation(p)
}

/// The propagation `setup` gives the host's tree ("/") before anything is
/// mounted: a recursive slave unless linux.rootfsPropagation says other.
/// (An unbindable "/" could not even be bound onto itself: that one is
/// applied after pivot_root only, see `finish`.)
fn host_tree_propagation(spec: &Spec) -> (u64, bool) {
    match propagation(spec) {
        Some((libc::MS_UNBINDABLE, rec)) => (libc::MS_PRIVATE, rec),
        Some(p) => p,
        None => (libc::MS_SLAVE, true),
    }
}

/// Everything before pivot_root: propagation, mounts, devices.
/// /dev/console: the container's pty slave bound onto it (by fd, onto a
/// file resolved inside the root: no path a container process could swap).
pub fn mount_console(slave: &OwnedFd) -> Result<()> {
    let root =
        nix::fcntl::open("/", nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty()).context("open /")?;
    // CVE-2025-52565: a /dev/console the image made a symlink (to a procfs
    // file, say) is removed, not followed: the pty goes on a file of ours.
    let dev = resolve::mkdir_all(&root, Path::new("/dev"), 0o755).context("process.terminal: create /dev")?;
    if nix::sys::stat::fstatat(&dev, "console", nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK)
    {
        nix::unistd::unlinkat(&dev, "console", nix::unistd::UnlinkatFlags::NoRemoveDir)
            .context("process.terminal: remove the symlink /dev/console")?;
    }
    let target = resolve::create_file(&root, Path::new("/dev/console"), 0o666).context("process.terminal: create /dev/console")?;
    let tree = fdmount::clone_tree(slave.as_raw_fd(), "", false).context("process.terminal: bind the pty")?;
    fdmount::attach(&tree, &target).context("process.terminal: mount the pty on /dev/console")?;
    Ok(())
}

pub fn setup(r: &Rootfs) -> Result<()> {
    // Nothing we mount may propagate to the host.
    let (flag, rec) = host_tree_propagation(r.spec);
    fdmount::set_propagation_path(Path::new("/"), flag, rec)?;
    if flag == libc::MS_SHARED {
        // pivot_root refuses a new root whose parent mount is shared.
        parent_mount_private(r.rootfs)?;
    }
    mount(Some(r.rootfs), r.rootfs, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .with_context(|| format!("bind rootfs {} onto itself", r.rootfs.display()))?;
    let root = open_root(r.rootfs)?;
    let mounts = r.spec.mounts().as_deref().unwrap_or(&[]);
    let mount_label =
        r.spec.linux().as_ref().and_then(|l| l.mount_label().as_deref()).filter(|l| !l.is_empty() && crate::lsm::selinux_enabled());
    let root_path = std::fs::read_link(resolve::fd_path(&root)).context("read the rootfs's path")?;
    let env = mounts::MountEnv {
        root: &root,
        root_path: &root_path,
        bundle: r.bundle,
        userns: r.userns,
        cgroup_v1: r.cgroup_v1,
        cgroup_v2: r.cgroup_v2,
        cgroup_ready: r.cgroup_ready,
        mount_label,
    };
    mounts::mount_all(&env, mounts)?;
    let dev_is_bind = mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind") || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind"))
    });
    if !dev_is_bind {
        // mknod answers to the container's device rules, as with runc.
        (r.cgroup_ready)()?;
        let mut devs = devices::defaults();
        let extra = r.spec.linux().as_ref().and_then(|l| l.devices().as_ref());
        devs.extend(extra.into_iter().flatten().map(devices::from_config));
        devices::create_all(&root, &devs, r.userns)?;
        devices::symlinks(&root)?;
    }
    Ok(())
}

/// Makes the prepared rootfs the container's "/".
pub fn enter(r: &Rootfs) -> Result<()> {
    if r.no_pivot {
        return pivot::no_pivot(r.rootfs);
    }
    // The old root's unmount must not reach the host: unless the whole
    // tree is a slave (or private) already, it is made one first.
    let isolated = matches!(host_tree_propagation(r.spec), (libc::MS_SLAVE | libc::MS_PRIVATE, true));
    pivot::pivot(r.rootfs, !isolated)
}

/// After pivot_root (and sysctls): propagation of the new "/", read-only and
/// masked paths, and a read-only root.
pub fn finish(spec: &Spec) -> Result<()> {
    if let Some((flag, rec)) = propagation(spec) {
        fdmount::set_propagation_path(Path::new("/"), flag, rec)?;
    }
    let root = open_root(Path::new("/"))?;
    if let Some(l) = spec.linux() {
        masked::readonly(&root, l.readonly_paths().as_deref().unwrap_or(&[]))?;
        masked::mask(&root, l.masked_paths().as_deref().unwrap_or(&[]))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        fdmount::set_attr(&root, libc::MOUNT_ATTR_RDONLY, 0, 0, false).context("root.readonly: make / read-only")?;
    }
    Ok(())
}

fn open_root(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {}", path.display()))
}

/// Makes the mount that holds `rootfs` private.
fn parent_mount_private(rootfs: &Path) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
    let parent = rootfs.parent().unwrap_or(Path::new("/"));
    let best = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(Path::new)
        .filter(|mp| parent.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len())
        .unwrap_or(Path::new("/"));
    fdmount::set_propagation_path(best, libc::MS_PRIVATE, false)
}
