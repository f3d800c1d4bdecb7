//! Linux namespaces: which ones the config asks for, new or joined by path,
//! how they are entered, and the user namespace's id maps.

use crate::bail;
use crate::error::{Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType as T, Spec};
use std::os::fd::OwnedFd;

pub fn flag(t: T) -> CloneFlags {
    match t {
        T::Mount => CloneFlags::CLONE_NEWNS,
        T::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        T::Uts => CloneFlags::CLONE_NEWUTS,
        T::Ipc => CloneFlags::CLONE_NEWIPC,
        T::User => CloneFlags::CLONE_NEWUSER,
        T::Pid => CloneFlags::CLONE_NEWPID,
        T::Network => CloneFlags::CLONE_NEWNET,
        T::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The namespaces of a container: the ones to create and the ones to join.
pub struct Plan {
    pub new: CloneFlags,
    /// Opened namespace files, user namespace first, mount namespace last.
    pub join: Vec<(T, OwnedFd)>,
}

impl Plan {
    pub fn from_spec(spec: &Spec) -> Result<Plan> {
        let mut new = CloneFlags::empty();
        let mut join = Vec::new();
        let list = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
        for (i, ns) in list.into_iter().flatten().enumerate() {
            match ns.path() {
                None => new |= flag(ns.typ()),
                Some(p) => {
                    let fd = nix::fcntl::open(p, nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                        .with_context(|| format!("linux.namespaces[{i}].path: open {}", p.display()))?;
                    check_type(&fd, ns.typ()).with_context(|| format!("linux.namespaces[{i}].path: {}", p.display()))?;
                    join.push((ns.typ(), fd));
                }
            }
        }
        let order = |t: &T| match t {
            T::User => 0,
            T::Mount => 2,
            _ => 1,
        };
        join.sort_by_key(|(t, _)| order(t));
        Ok(Plan { new, join })
    }

    pub fn has(&self, t: T) -> bool {
        self.new.contains(flag(t)) || self.join.iter().any(|(j, _)| *j == t)
    }

    pub fn new_userns(&self) -> bool {
        self.new.contains(CloneFlags::CLONE_NEWUSER)
    }

    /// One clone() can make everything only when no namespace has to be
    /// joined before the new ones are made: joining a user or PID namespace,
    /// making a time namespace (its offsets are written between unshare and
    /// fork), or joining anything while making a user namespace (runc joins
    /// first, so the joined ones stay owned by the host) needs a middle
    /// process that joins and unshares, then forks the init.
    pub fn needs_two_stages(&self) -> bool {
        self.join.iter().any(|(t, _)| matches!(t, T::User | T::Pid))
            || self.new.contains(flag(T::Time))
            || (self.new_userns() && !self.join.is_empty())
    }

    /// Joins the namespaces given by path (skipping `skip`).
    /// The namespaces of a running container's process `pid`, for `exec`:
    /// every type the config lists, user first and mount last.
    pub fn of_process(spec: &Spec, pid: i32) -> Result<Plan> {
        let types: Vec<T> = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()).into_iter().flatten().map(|n| n.typ()).collect();
        let mut order: Vec<T> = Vec::new();
        for t in [T::User, T::Pid, T::Uts, T::Ipc, T::Network, T::Cgroup, T::Time, T::Mount] {
            if types.contains(&t) {
                order.push(t);
            }
        }
        let mut join = Vec::new();
        for t in order {
            let name = match t {
                T::Mount => "mnt",
                T::Network => "net",
                T::Cgroup => "cgroup",
                T::Uts => "uts",
                T::Ipc => "ipc",
                T::User => "user",
                T::Pid => "pid",
                T::Time => "time",
            };
            let p = format!("/proc/{pid}/ns/{name}");
            let fd =
                nix::fcntl::open(p.as_str(), nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                    .with_context(|| format!("open {p}"))?;
            join.push((t, fd));
        }
        Ok(Plan { new: CloneFlags::empty(), join })
    }

    pub fn join_all(&self, skip_user: bool) -> Result<()> {
        for (t, fd) in &self.join {
            if skip_user && *t == T::User {
                continue;
            }
            nix::sched::setns(fd, flag(*t)).with_context(|| format!("join {t} namespace"))?;
        }
        Ok(())
    }
}

/// The file must be a namespace of the type the config says.
fn check_type(fd: &OwnedFd, t: T) -> Result<()> {
    use std::os::fd::AsRawFd;
    let got = unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_NSTYPE as _) };
    if got < 0 {
        return Err(nix::errno::Errno::last()).context("not a namespace file");
    }
    if got as i64 != flag(t).bits() as i64 {
        bail!("not a namespace of type {t}");
    }
    Ok(())
}

/// Writes the user namespace's id maps for process `pid`.
pub fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let text = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.iter().flatten().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect::<String>()
    };
    let uid = text(linux.uid_mappings());
    let gid = text(linux.gid_mappings());
    std::fs::write(format!("/proc/{pid}/uid_map"), uid.as_bytes()).with_context(|| format!("linux.uidMappings: write {uid:?}"))?;
    std::fs::write(format!("/proc/{pid}/gid_map"), gid.as_bytes()).with_context(|| format!("linux.gidMappings: write {gid:?}"))?;
    Ok(())
}

/// Writes the time namespace offsets (after unshare, before the fork).
pub fn write_time_offsets(spec: &Spec) -> Result<()> {
    let Some(offsets) = spec.linux().as_ref().and_then(|l| l.time_offsets().as_ref()) else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, o) in offsets {
        text.push_str(&format!("{clock} {} {}\n", o.secs().unwrap_or(0), o.nanosecs().unwrap_or(0)));
    }
    std::fs::write("/proc/self/timens_offsets", text.as_bytes()).with_context(|| format!("linux.timeOffsets: write {text:?}"))
}
