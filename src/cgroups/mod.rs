//! Cgroups (cgroupfs driver, v1, hybrid and unified): placing the container
//! in its own cgroup on every hierarchy and removing it again. Resource
//! limits come on top of this placement.

pub mod bpf;
pub mod devices;
pub mod freezer;
pub mod hierarchy;
pub mod limits;
pub mod resources;
pub mod stats;

use crate::error::{Context, Result};
use crate::utils::{read_small, write_small};
use nix::errno::Errno;
use std::path::{Path, PathBuf};

/// The cgroup layout of the host, as `kiste features` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Legacy,
    Hybrid,
    Unified,
}

pub fn mode() -> Mode {
    let is_v2 = |p: &str| nix::sys::statfs::statfs(p).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    if is_v2("/sys/fs/cgroup") {
        Mode::Unified
    } else if is_v2("/sys/fs/cgroup/unified") {
        Mode::Hybrid
    } else {
        Mode::Legacy
    }
}

/// Which of a cgroup's directories to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    All,
    /// The v2 one.
    Unified,
    /// The v1 ones.
    Legacy,
}

/// The container's cgroup: one directory per hierarchy.
#[derive(Debug, Clone, Default)]
pub struct Cgroup {
    /// (hierarchy controllers, directory); v2 has empty controllers.
    pub dirs: Vec<(String, PathBuf)>,
    /// Each hierarchy's mount point, parallel to `dirs` (after `plan`).
    mount_points: Vec<PathBuf>,
}

/// On cgroup v2 a cgroup gets a controller only if every ancestor enables it
/// in cgroup.subtree_control. Best effort: a parent holding processes cannot
/// enable any, and then resource writes fail with a clear error.
fn enable_controllers(mount_point: &Path, dir: &Path) {
    let Some(parent) = dir.parent() else { return };
    let Ok(rel) = parent.strip_prefix(mount_point) else { return };
    let mut cur = mount_point.to_path_buf();
    let mut levels = vec![cur.clone()];
    for comp in rel.components() {
        cur.push(comp);
        levels.push(cur.clone());
    }
    for level in levels {
        let ctrls = std::fs::read_to_string(level.join("cgroup.controllers")).unwrap_or_default();
        let want: Vec<String> = ctrls.split_whitespace().map(|c| format!("+{c}")).collect();
        if !want.is_empty() {
            let _ = std::fs::write(level.join("cgroup.subtree_control"), want.join(" "));
        }
    }
}

/// A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and
/// refuses processes until given some: copy the parent's, level by level.
fn inherit_cpuset(mount_point: &Path, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(mount_point) else {
        return Ok(());
    };
    let mut cur = mount_point.to_path_buf();
    for comp in rel.components() {
        let parent = cur.clone();
        cur.push(comp);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = read_small(&cur.join(file)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = read_small(&parent.join(file)).with_context(|| format!("read {}", parent.join(file).display()))?;
                write_small(&cur.join(file), theirs.trim().as_bytes()).with_context(|| format!("write {}", cur.join(file).display()))?;
            }
        }
    }
    Ok(())
}

/// The container's directory in one hierarchy: `cgroups_path` if absolute,
/// else relative to our own cgroup; the id when the config names none.
fn dir_in(h: &hierarchy::Hierarchy, cgroups_path: Option<&Path>, id: &str) -> PathBuf {
    let p = cgroups_path.filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(id));
    let rel = if p.is_absolute() { p.to_path_buf() } else { Path::new(&h.own).join(p) };
    h.mount_point.join(rel.strip_prefix("/").unwrap_or(&rel))
}

impl Cgroup {
    /// The cgroup a container's state recorded.
    pub fn from_dirs(dirs: Vec<(String, PathBuf)>) -> Cgroup {
        Cgroup { dirs, mount_points: Vec::new() }
    }

    /// Where the container's cgroup goes on every hierarchy, made of
    /// `linux.cgroupsPath` (or the id); nothing is created yet, so that the
    /// caller can record the directories first (a crash half-way through
    /// `create` must not leave cgroups that `delete` does not know of).
    pub fn plan(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup> {
        if crate::logging::debug_enabled() {
            crate::logging::debug(&format!("cgroup mode: {:?}", mode()));
        }
        let mut cg = Cgroup::default();
        for h in hierarchy::discover()? {
            let dir = dir_in(&h, cgroups_path, id);
            cg.dirs.push((h.controllers, dir));
            cg.mount_points.push(h.mount_point);
        }
        Ok(cg)
    }

    /// Creates the planned directories (`which` of them). On error, every
    /// planned directory is removed.
    pub fn make(&self, which: Which) -> Result<()> {
        match which {
            Which::All => self.make_where(|_| true),
            Which::Unified => self.make_where(str::is_empty),
            Which::Legacy => self.make_where(|c| !c.is_empty()),
        }
    }

    /// Whether it has a directory on the v2 hierarchy.
    pub fn has_unified(&self) -> bool {
        self.dirs.iter().any(|(c, _)| c.is_empty())
    }

    /// Whether it has a directory on a v1 hierarchy.
    pub fn has_legacy(&self) -> bool {
        self.dirs.iter().any(|(c, _)| !c.is_empty())
    }

    fn make_where(&self, which: impl Fn(&str) -> bool) -> Result<()> {
        let res = (|| {
            for ((ctrls, dir), mount_point) in self.dirs.iter().zip(&self.mount_points) {
                if !which(ctrls) {
                    continue;
                }
                std::fs::create_dir_all(dir).with_context(|| format!("linux.cgroupsPath: create cgroup {}", dir.display()))?;
                if ctrls.is_empty() && mode() == Mode::Unified {
                    enable_controllers(mount_point, dir);
                }
                if ctrls.split(',').any(|c| c == "cpuset") {
                    inherit_cpuset(mount_point, dir)?;
                }
            }
            Ok(())
        })();
        if res.is_err() {
            // Only these: another part may hold a live process already.
            for (ctrls, dir) in &self.dirs {
                if which(ctrls) {
                    let _ = std::fs::remove_dir(dir);
                }
            }
        }
        res
    }

    /// Moves the calling (single-threaded) process into the cgroup on every
    /// v1 hierarchy, and on v2 unless `skip_v2` (it was cloned into it).
    /// On v1, a thread that moves itself through `tasks` spares the kernel
    /// the global lock (and RCU wait) that moving a whole process through
    /// cgroup.procs takes: milliseconds per hierarchy.
    pub fn join_self(&self, skip_v2: bool) -> Result<()> {
        for (ctrls, dir) in &self.dirs {
            let file = if !ctrls.is_empty() {
                "tasks"
            } else if skip_v2 {
                continue;
            } else {
                "cgroup.procs"
            };
            write_small(&dir.join(file), b"0").with_context(|| format!("join cgroup {}", dir.display()))?;
        }
        Ok(())
    }

    /// The v2 directory, opened for clone3's CLONE_INTO_CGROUP.
    pub fn v2_fd(&self) -> Option<std::os::fd::OwnedFd> {
        let (_, dir) = self.dirs.iter().find(|(c, _)| c.is_empty())?;
        nix::fcntl::open(
            dir,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ok()
    }

    /// The directories of v1 hierarchies, by name, for the container's
    /// /sys/fs/cgroup; empty on a unified host.
    pub fn v1_dirs(&self) -> Vec<(String, PathBuf)> {
        self.dirs
            .iter()
            .filter(|(c, _)| !c.is_empty())
            .map(|(c, d)| (c.strip_prefix("name=").unwrap_or(c).to_string(), d.clone()))
            .collect()
    }

    /// On a pure v2 host, a container without a cgroup namespace sees its
    /// own cgroup directory at /sys/fs/cgroup (a bind mount, as with runc):
    /// a new cgroup2 mount would show the whole host tree.
    pub fn v2_bind_source(&self, plan: &crate::namespaces::Plan) -> Option<PathBuf> {
        let has_cgroupns = plan.new.contains(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            || plan.join.iter().any(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::Cgroup);
        if has_cgroupns || mode() != Mode::Unified {
            return None;
        }
        self.dirs.iter().find(|(c, _)| c.is_empty()).map(|(_, d)| d.clone())
    }

    /// SIGKILLs every process through cgroup v2's cgroup.kill; false where
    /// the kernel or layout has none (the caller signals PID by PID then).
    pub fn kill_all(&self) -> bool {
        self.dirs.iter().filter(|(c, _)| c.is_empty()).any(|(_, d)| std::fs::write(d.join("cgroup.kill"), "1").is_ok())
    }

    /// PIDs in the container's cgroup.
    pub fn pids(&self) -> Vec<i32> {
        let Some((_, dir)) = self.dirs.first() else {
            return Vec::new();
        };
        read_small(&dir.join("cgroup.procs")).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
    }

    /// Removes the first directory (the one `pids` reads) if it holds no
    /// process; true if it is gone.
    pub fn remove_first_if_empty(&self) -> bool {
        let Some((_, dir)) = self.dirs.first() else { return true };
        match std::fs::remove_dir(dir) {
            Ok(()) => true,
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        }
    }

    /// Removes the directories; a cgroup whose last process just died may
    /// be busy for a moment, so EBUSY is retried briefly.
    pub fn remove(&self) {
        for (_, dir) in &self.dirs {
            for attempt in 0..200 {
                match std::fs::remove_dir(dir) {
                    Err(e) if e.raw_os_error() == Some(Errno::EBUSY as i32) && attempt < 199 => {
                        std::thread::sleep(std::time::Duration::from_millis(5))
                    }
                    _ => break,
                }
            }
        }
    }
}
