//! Where the cgroup hierarchies are and where this process sits in them,
//! read once from /proc/self/cgroup and /proc/self/mountinfo.

use crate::error::{Context, Result};
use std::path::{Path, PathBuf};

/// One hierarchy: v1 (named by its controllers, "memory", "cpu,cpuacct",
/// "name=systemd") or the v2 unified one (empty name).
#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub controllers: String,
    pub mount_point: PathBuf,
    /// This process's cgroup in it, e.g. "/" or "/user.slice".
    pub own: String,
}

impl Hierarchy {
    pub fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }
}

pub fn discover() -> Result<Vec<Hierarchy>> {
    let own = crate::utils::read_small(Path::new("/proc/self/cgroup")).context("read /proc/self/cgroup")?;
    let info = crate::utils::read_small(Path::new("/proc/self/mountinfo")).context("read /proc/self/mountinfo")?;
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post = post.split(' ');
        let (fstype, _src, opts) = (post.next().unwrap_or(""), post.next(), post.next().unwrap_or(""));
        let Some(mp) = pre.split(' ').nth(4) else {
            continue;
        };
        match fstype {
            "cgroup2" => mounts.push((String::new(), PathBuf::from(mp))),
            "cgroup" => {
                let ctrls: Vec<&str> = opts
                    .split(',')
                    .filter(|o| {
                        !matches!(*o, "rw" | "ro")
                            && !o.starts_with("release_agent")
                            && *o != "clone_children"
                            && *o != "noprefix"
                            && *o != "xattr"
                            && *o != "cpuset_v2_mode"
                    })
                    .collect();
                mounts.push((ctrls.join(","), PathBuf::from(mp)));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for line in own.lines() {
        let mut f = line.splitn(3, ':');
        let (_id, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
        let wanted: Vec<&str> = ctrls.split(',').filter(|c| !c.is_empty()).collect();
        let found = mounts.iter().find(|(m, _)| {
            let have: Vec<&str> = m.split(',').filter(|c| !c.is_empty()).collect();
            have.len() == wanted.len() && wanted.iter().all(|w| have.contains(w))
        });
        if let Some((c, mp)) = found {
            if out.iter().any(|h: &Hierarchy| h.mount_point == *mp) {
                continue;
            }
            out.push(Hierarchy { controllers: c.clone(), mount_point: mp.clone(), own: path.to_string() });
        }
    }
    Ok(out)
}
