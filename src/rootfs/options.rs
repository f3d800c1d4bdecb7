//! Mount options of config.md and mount(8), sorted into what the kernel wants:
//! per-mount attributes, superblock flags, propagation and filesystem data.

use crate::error::Result;
use libc::{MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID};
use libc::{MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME};

/// A mount's options, parsed.
#[derive(Default, Debug, Clone)]
pub struct MountOptions {
    /// `bind` or `rbind`.
    pub bind: bool,
    /// `rbind`: submounts come along.
    pub recursive_bind: bool,
    /// Attributes set on the mount itself (`ro`, `nosuid`, …).
    pub attr_set: u64,
    /// Attributes cleared on the mount itself (`rw`, `suid`, …).
    pub attr_clr: u64,
    /// Attributes set on the mount and every submount (`rro`, `rnosuid`, …).
    pub rattr_set: u64,
    pub rattr_clr: u64,
    /// Propagation changes in order, each (MS_* flag, recursive).
    pub propagation: Vec<(u64, bool)>,
    /// Superblock flags passed to the filesystem (`sync`, `dirsync`, `ro`…).
    pub sb_flags: Vec<&'static str>,
    /// Everything else, handed to the filesystem as `key[=value]`.
    pub data: Vec<String>,
    /// `tmpcopyup`: a tmpfs starts with a copy of the mount point's content.
    pub copy_up: bool,
}

/// MS_* propagation flag for a name (`private`, `rshared`, …) and whether it
/// is recursive.
pub fn propagation(name: &str) -> Option<(u64, bool)> {
    let (flag, rec) = match name {
        "private" => (libc::MS_PRIVATE, false),
        "rprivate" => (libc::MS_PRIVATE, true),
        "shared" => (libc::MS_SHARED, false),
        "rshared" => (libc::MS_SHARED, true),
        "slave" => (libc::MS_SLAVE, false),
        "rslave" => (libc::MS_SLAVE, true),
        "unbindable" => (libc::MS_UNBINDABLE, false),
        "runbindable" => (libc::MS_UNBINDABLE, true),
        _ => return None,
    };
    Some((flag, rec))
}

/// Per-mount attribute named by an option: (attribute, set or clear).
fn attribute(name: &str) -> Option<(u64, bool)> {
    Some(match name {
        "ro" => (MOUNT_ATTR_RDONLY, true),
        "rw" => (MOUNT_ATTR_RDONLY, false),
        "nosuid" => (MOUNT_ATTR_NOSUID, true),
        "suid" => (MOUNT_ATTR_NOSUID, false),
        "nodev" => (MOUNT_ATTR_NODEV, true),
        "dev" => (MOUNT_ATTR_NODEV, false),
        "noexec" => (MOUNT_ATTR_NOEXEC, true),
        "exec" => (MOUNT_ATTR_NOEXEC, false),
        "nodiratime" => (MOUNT_ATTR_NODIRATIME, true),
        "diratime" => (MOUNT_ATTR_NODIRATIME, false),
        "nosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, true),
        "symfollow" => (MOUNT_ATTR_NOSYMFOLLOW, false),
        _ => return None,
    })
}

fn atime(name: &str) -> Option<u64> {
    match name {
        "relatime" => Some(MOUNT_ATTR_RELATIME),
        "norelatime" | "atime" => Some(MOUNT_ATTR_STRICTATIME),
        "strictatime" => Some(MOUNT_ATTR_STRICTATIME),
        "noatime" => Some(MOUNT_ATTR_NOATIME),
        _ => None,
    }
}

/// Options that mean nothing to a runtime (fstab-only words), skipped as
/// runc skips them.
fn ignored(name: &str) -> bool {
    matches!(name, "defaults" | "auto" | "noauto" | "user" | "nouser" | "async" | "loud" | "_netdev" | "nofail")
}

/// Every option kiste itself understands (the rest goes to the filesystem
/// as data), for `kiste features`.
pub const NAMES: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nolazytime",
    "norelatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// Whether `parse` handles the option itself.
pub fn is_known(name: &str) -> bool {
    attribute(name).is_some()
        || atime(name).is_some()
        || name.strip_prefix('r').is_some_and(|r| attribute(r).is_some() || atime(r).is_some())
        || propagation(name).is_some()
        || matches!(name, "bind" | "rbind" | "lazytime" | "nolazytime" | "tmpcopyup")
        || sb_flag(name).is_some()
        || ignored(name)
}

pub fn check(option: &str) -> Result<()> {
    if option.contains(',') {
        crate::bail!("{option:?}: one option per list entry");
    }
    Ok(())
}

pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in options {
        let name = opt.as_str();
        if let Some((attr, set)) = attribute(name) {
            if name == "ro" || name == "rw" {
                o.sb_flags.retain(|f| *f != "ro");
                if set {
                    o.sb_flags.push("ro");
                }
            }
            if set {
                o.attr_set |= attr;
                o.attr_clr &= !attr;
            } else {
                o.attr_clr |= attr;
                o.attr_set &= !attr;
            }
        } else if let Some(a) = atime(name) {
            o.attr_clr |= libc::MOUNT_ATTR__ATIME;
            o.attr_set = (o.attr_set & !libc::MOUNT_ATTR__ATIME) | a;
        } else if let Some(rest) = name.strip_prefix('r').filter(|r| attribute(r).is_some() || atime(r).is_some()) {
            if let Some((attr, set)) = attribute(rest) {
                if set {
                    o.rattr_set |= attr;
                } else {
                    o.rattr_clr |= attr;
                }
            } else if let Some(a) = atime(rest) {
                o.rattr_clr |= libc::MOUNT_ATTR__ATIME;
                o.rattr_set = (o.rattr_set & !libc::MOUNT_ATTR__ATIME) | a;
            }
        } else if let Some(p) = propagation(name) {
            o.propagation.push(p);
        } else if name == "bind" {
            o.bind = true;
        } else if name == "tmpcopyup" {
            o.copy_up = true;
        } else if name == "rbind" {
            o.bind = true;
            o.recursive_bind = true;
        } else if let Some(f) = sb_flag(name) {
            o.sb_flags.push(f);
        } else if name == "lazytime" || name == "nolazytime" || ignored(name) {
            if name == "lazytime" {
                o.sb_flags.push("lazytime");
            }
        } else if !name.is_empty() {
            o.data.push(opt.clone());
        }
    }
    o
}

fn sb_flag(name: &str) -> Option<&'static str> {
    match name {
        "sync" => Some("sync"),
        "dirsync" => Some("dirsync"),
        "mand" => Some("mand"),
        "silent" => Some("silent"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_is_understood() {
        for n in NAMES {
            assert!(is_known(n), "{n}");
        }
        assert!(!is_known("size=1m") && !is_known("copyup"));
    }

    fn p(v: &[&str]) -> MountOptions {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn sorts_options() {
        let o = p(&["rbind", "ro", "nosuid", "rprivate", "size=64k", "mode=755", "rro", "tmpcopyup"]);
        assert!(o.bind && o.recursive_bind && o.copy_up);
        assert_eq!(o.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert_eq!(o.rattr_set, MOUNT_ATTR_RDONLY);
        assert_eq!(o.propagation, vec![(libc::MS_PRIVATE, true)]);
        assert_eq!(o.data, vec!["size=64k".to_string(), "mode=755".to_string()]);
        assert_eq!(o.sb_flags, vec!["ro"]);
    }

    #[test]
    fn later_option_wins() {
        let o = p(&["ro", "rw", "noatime", "strictatime"]);
        assert_eq!(o.attr_set & MOUNT_ATTR_RDONLY, 0);
        assert_ne!(o.attr_clr & MOUNT_ATTR_RDONLY, 0);
        assert!(o.sb_flags.is_empty());
        assert_eq!(o.attr_set & libc::MOUNT_ATTR__ATIME, MOUNT_ATTR_STRICTATIME);
    }
}
