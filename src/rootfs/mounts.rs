//! The mounts of config.json, in order, each attached by fd onto a mount
//! point resolved inside the rootfs.

use super::fdmount::{attach, clone_tree, new_fs, set_attr};
use super::options::{MountOptions, parse};
use super::resolve;
use crate::bail;
use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use oci_spec::runtime::Mount;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What mounting needs to know besides the mount itself.
pub struct MountEnv<'a> {
    /// The rootfs, opened after it was bind-mounted onto itself.
    pub root: &'a OwnedFd,
    /// Its path, as the kernel names it (for what a mount point resolved to).
    pub root_path: &'a Path,
    pub bundle: &'a Path,
    /// In a new user namespace some filesystems must be bind-mounted instead.
    pub userns: bool,
    /// Host directories of the container's v1 cgroups, by hierarchy name.
    pub cgroup_v1: &'a [(String, PathBuf)],
    /// The container's own v2 cgroup, bound at a cgroup mount when it has
    /// no cgroup namespace.
    pub cgroup_v2: Option<&'a Path>,
    /// Returns once the init is in the container's cgroup (and cgroup
    /// namespace): called before a mount that shows cgroups or may open a
    /// device.
    pub cgroup_ready: &'a dyn Fn() -> Result<()>,
    /// `linux.mountLabel`, where SELinux is enabled: the context of the
    /// filesystems kiste creates.
    pub mount_label: Option<&'a str>,
}

pub fn mount_all(env: &MountEnv, mounts: &[Mount]) -> Result<()> {
    for (i, m) in mounts.iter().enumerate() {
        if needs_cgroup(m) {
            (env.cgroup_ready)()?;
        }
        mount_one(env, m).with_context(|| format!("mounts[{i}]: mount {} on {}", source_text(m), m.destination().display()))?;
    }
    Ok(())
}

/// Whether a mount must wait until the init is in its cgroup: a cgroup
/// filesystem, a bind of something under /sys/fs/cgroup (which may be the
/// container's own cgroup), or a filesystem that may open a block device,
/// which the container's device rules must govern. Binds and the
/// filesystems of the kernel's own (proc, tmpfs, …) can come before.
fn needs_cgroup(m: &Mount) -> bool {
    let opts = m.options().as_deref().unwrap_or(&[]);
    let bind = opts.iter().any(|o| o == "bind" || o == "rbind");
    let fstype = m.typ().as_deref().unwrap_or("");
    let pseudo = bind || matches!(fstype, "bind" | "proc" | "sysfs" | "tmpfs" | "devpts" | "mqueue" | "");
    !pseudo || matches!(fstype, "cgroup" | "cgroup2") || m.source().as_ref().is_some_and(|s| s.starts_with("/sys/fs/cgroup"))
}

fn source_text(m: &Mount) -> String {
    m.source().as_ref().map(|s| s.display().to_string()).unwrap_or_else(|| m.typ().clone().unwrap_or_default())
}

fn mount_one(env: &MountEnv, m: &Mount) -> Result<()> {
    let opts = parse(m.options().as_deref().unwrap_or(&[]));
    let fstype = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    if opts.bind || fstype == "bind" {
        let src = m.source().as_ref().ok_or_else(|| Error::msg("a bind mount needs a source"))?;
        let src = if src.is_absolute() { src.clone() } else { env.bundle.join(src) };
        return bind(env, &src, dest, &opts);
    }
    if fstype == "cgroup" && !env.cgroup_v1.is_empty() {
        return cgroup_v1(env, dest, &opts);
    }
    if matches!(fstype, "cgroup" | "cgroup2")
        && let Some(dir) = env.cgroup_v2
    {
        let opts = MountOptions { recursive_bind: false, ..opts };
        return bind(env, dir, dest, &opts);
    }
    let target = resolve::mkdir_all(env.root, dest, 0o755).context("create mount point")?;
    check_target(env, &target, dest, fstype, None)?;
    let source = m.source().as_ref().and_then(|s| s.to_str()).unwrap_or(fstype);
    let fstype = if fstype == "cgroup" { "cgroup2" } else { fstype };
    let attrs = opts.attr_set | opts.rattr_set;
    let mut opts = opts;
    if let Some(label) = env.mount_label.filter(|_| matches!(fstype, "tmpfs" | "devpts" | "mqueue"))
        && !opts.data.iter().any(|d| d.starts_with("context="))
    {
        opts.data.push(format!("context=\"{label}\""));
    }
    let mnt = match new_fs(fstype, Some(source), &opts.sb_flags, &opts.data, attrs) {
        Ok(mnt) => mnt,
        // A devpts `gid=` naming a group the user namespace does not map.
        Err(e) if fstype == "devpts" && e.errno() == Some(Errno::EINVAL) && opts.data.iter().any(|d| d.starts_with("gid=")) => {
            let data: Vec<String> = opts.data.iter().filter(|d| !d.starts_with("gid=")).cloned().collect();
            new_fs(fstype, Some(source), &opts.sb_flags, &data, attrs)?
        }
        // sysfs and mqueue belong to namespaces a user namespace may not
        // own: bind the host's instead, as runc does.
        Err(e) if env.userns && e.errno() == Some(Errno::EPERM) && matches!(fstype, "sysfs" | "mqueue") => {
            let host = if fstype == "sysfs" { "/sys" } else { "/dev/mqueue" };
            let tree = clone_tree(libc::AT_FDCWD, host, true).with_context(|| format!("bind {host}"))?;
            set_attr(&tree, attrs, 0, 0, true).context("set mount attributes")?;
            tree
        }
        Err(e) => return Err(e),
    };
    if opts.copy_up && fstype == "tmpfs" {
        super::copyup::copy_into(&target, &mnt).context("tmpcopyup")?;
    }
    attach(&mnt, &target).context("attach mount")?;
    propagate(&mnt, &opts)
}

fn bind(env: &MountEnv, src: &Path, dest: &Path, opts: &MountOptions) -> Result<()> {
    let meta = std::fs::metadata(src).with_context(|| format!("bind source {}", src.display()))?;
    let target = if meta.is_dir() { resolve::mkdir_all(env.root, dest, 0o755) } else { resolve::create_file(env.root, dest, 0o644) }
        .context("create mount point")?;
    let src_str = src.to_str().ok_or_else(|| Error::msg("source is not UTF-8"))?;
    let tree = clone_tree(libc::AT_FDCWD, src_str, opts.recursive_bind).context("clone source")?;
    check_target(env, &target, dest, "bind", Some(&tree))?;
    set_attr(&tree, opts.attr_set, opts.attr_clr, 0, false).context("set mount attributes")?;
    set_attr(&tree, opts.rattr_set, opts.rattr_clr, 0, true).context("set recursive mount attributes")?;
    attach(&tree, &target).context("attach mount")?;
    propagate(&tree, opts)
}

/// Files under /proc that tools such as lxcfs replace by bind mounts;
/// nothing else may be mounted inside /proc.
const PROC_ALLOWED: &[&str] = &[
    "proc/cpuinfo",
    "proc/diskstats",
    "proc/meminfo",
    "proc/stat",
    "proc/swaps",
    "proc/uptime",
    "proc/loadavg",
    "proc/slabinfo",
    "proc/sys/kernel/ns_last_pid",
    "proc/sys/crypto/fips_enabled",
];

/// CVE-2019-16884, CVE-2023-27561, CVE-2025-52881: where the mount point
/// really is (`target`, resolved inside the rootfs) decides what may go
/// there. A procfs or sysfs goes on the directory its destination names,
/// not one a symlink of the image leads to (a later mount could then cover
/// a /proc that is not where it seems); /proc itself takes only a procfs;
/// inside /proc (or any procfs) only the files lxcfs replaces take a mount,
/// so that no file kiste or the kernel relies on there is covered.
fn check_target(env: &MountEnv, target: &OwnedFd, dest: &Path, fstype: &str, bind_source: Option<&OwnedFd>) -> Result<()> {
    let at = std::fs::read_link(resolve::fd_path(target)).context("read the mount point's path")?;
    let rel = at.strip_prefix(env.root_path).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| at.display().to_string());
    if matches!(fstype, "proc" | "sysfs") && rel != lexical(dest) {
        bail!("{fstype} must be mounted on an ordinary directory: {} leads to /{rel} through a symlink", dest.display());
    }
    if rel == "proc" {
        let is_proc = fstype == "proc" || bind_source.is_some_and(crate::procfs::is_procfs);
        if !is_proc {
            bail!("/proc cannot be mounted over with anything but a procfs (here: {fstype})");
        }
    } else if (rel.starts_with("proc/") || crate::procfs::is_procfs(target)) && !PROC_ALLOWED.contains(&rel.as_str()) {
        bail!("{} cannot be mounted because it is inside /proc (at /{rel})", dest.display());
    }
    Ok(())
}

/// `dest` as a path relative to the root, `.` and `..` applied by name.
fn lexical(dest: &Path) -> String {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in dest.components() {
        match c {
            std::path::Component::Normal(n) => parts.push(n),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>().join("/")
}

fn propagate(mnt: &OwnedFd, opts: &MountOptions) -> Result<()> {
    for &(flag, rec) in &opts.propagation {
        set_attr(mnt, 0, 0, flag, rec).context("set propagation")?;
    }
    Ok(())
}

/// cgroup v1 inside the container: a tmpfs holding one bind mount per
/// hierarchy, each showing only the container's own cgroup.
fn cgroup_v1(env: &MountEnv, dest: &Path, opts: &MountOptions) -> Result<()> {
    let target = resolve::mkdir_all(env.root, dest, 0o755).context("create mount point")?;
    let base = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;
    let tmpfs = new_fs("tmpfs", Some("tmpfs"), &[], &["mode=755".to_string()], base)?;
    attach(&tmpfs, &target).context("attach cgroup tmpfs")?;
    for (name, host_dir) in env.cgroup_v1 {
        nix::sys::stat::mkdirat(&tmpfs, name.as_str(), nix::sys::stat::Mode::from_bits_truncate(0o755))
            .with_context(|| format!("create cgroup mount point {name}"))?;
        let point = openat_path(&tmpfs, name)?;
        let host = host_dir.to_str().unwrap_or_default();
        let tree = clone_tree(libc::AT_FDCWD, host, false).with_context(|| format!("bind {host}"))?;
        set_attr(&tree, opts.attr_set | base, opts.attr_clr, 0, false).context("set mount attributes")?;
        attach(&tree, &point).with_context(|| format!("attach cgroup {name}"))?;
        // Co-mounted controllers ("cpu,cpuacct") are also reachable by name.
        if name.contains(',') {
            for alias in name.split(',') {
                let _ = nix::unistd::symlinkat(name.as_str(), &tmpfs, alias);
            }
        }
    }
    if opts.attr_set & libc::MOUNT_ATTR_RDONLY != 0 {
        set_attr(&tmpfs, libc::MOUNT_ATTR_RDONLY, 0, 0, false).context("make cgroup tmpfs read-only")?;
    }
    propagate(&tmpfs, opts)
}

fn openat_path(dir: &OwnedFd, name: &str) -> Result<OwnedFd> {
    nix::fcntl::openat(
        dir,
        name,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NOFOLLOW,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {name}"))
    .inspect(|fd| {
        let _ = fd.as_raw_fd();
    })
}
