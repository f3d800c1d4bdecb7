//! `-u USER[:GROUP]` and the image's `User`, as docker reads them: names
//! are looked up in the image's /etc/passwd and /etc/group (the topmost
//! layer that has the file; each read inside that layer, following no
//! symlink out of it), numbers are taken as they are, and the user's
//! supplementary groups come from /etc/group.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// `layers`: the image's layer directories, topmost first.
pub fn resolve(spec: &str, layers: &[PathBuf]) -> Result<Ids> {
    let (user, group) = spec.split_once(':').map_or((spec, None), |(u, g)| (u, Some(g)));
    resolve_in(user, group, &read(layers, "etc/passwd"), &read(layers, "etc/group"), spec)
}

fn resolve_in(user: &str, group: Option<&str>, passwd: &str, groups: &str, spec: &str) -> Result<Ids> {
    // name:x:uid:gid:... ; a numeric user that has an entry takes its gid.
    let entries: Vec<Vec<&str>> = passwd.lines().map(|l| l.split(':').collect()).filter(|f: &Vec<&str>| f.len() >= 4).collect();
    let entry = match user.parse::<u32>() {
        Ok(uid) => entries.iter().find(|f| f[2].parse() == Ok(uid)),
        Err(_) => Some(
            entries
                .iter()
                .find(|f| f[0] == user)
                .ok_or_else(|| Error::msg(format!("user {spec:?}: unable to find user {user}: no matching entries in passwd file")))?,
        ),
    };
    let uid = match user.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => number(entry.map_or("", |f| f[2]), spec)?,
    };
    let name = entry.map(|f| f[0]);
    let group_entries: Vec<Vec<&str>> = groups.lines().map(|l| l.split(':').collect()).filter(|f: &Vec<&str>| f.len() >= 3).collect();
    let gid = match group {
        Some(g) if !g.is_empty() => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => number(
                group_entries
                    .iter()
                    .find(|f| f[0] == g)
                    .map(|f| f[2])
                    .ok_or_else(|| Error::msg(format!("user {spec:?}: unable to find group {g}: no matching entries in group file")))?,
                spec,
            )?,
        },
        _ => entry.map_or(Ok(0), |f| number(f[3], spec))?,
    };
    let groups = match name {
        Some(n) => group_entries
            .iter()
            .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == n))
            .filter_map(|f| f[2].parse().ok())
            .filter(|&g| g != gid)
            .collect(),
        None => Vec::new(),
    };
    Ok(Ids { uid, gid, groups })
}

fn number(s: &str, spec: &str) -> Result<u32> {
    s.parse().map_err(|_| Error::msg(format!("user {spec:?}: the image's passwd or group file has a bad id {s:?}")))
}

/// The file from the topmost layer that has it, or "" (no such file, or
/// too large to be one).
fn read(layers: &[PathBuf], rel: &str) -> String {
    for layer in layers {
        let Ok(root) = nix::fcntl::open(layer, nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY, nix::sys::stat::Mode::empty())
        else {
            continue;
        };
        // Non-blocking: a layer may make the file a fifo, which would hang an
        // open for reading; only a regular file is read.
        let Ok(fd) = crate::rootfs::resolve::open(&root, Path::new(rel), libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW) else {
            continue;
        };
        if !nix::sys::stat::fstat(&fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG) {
            return String::new();
        }
        let mut text = String::new();
        let _ = std::fs::File::from(fd).take(1 << 20).read_to_string(&mut text);
        return text;
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app,root\nvideo:x:44:app\n";

    fn ids(user: &str, group: Option<&str>) -> Result<Ids> {
        resolve_in(user, group, PASSWD, GROUP, user)
    }

    #[test]
    fn names_numbers_and_groups() {
        assert_eq!(ids("app", None).unwrap(), Ids { uid: 1000, gid: 1000, groups: vec![10, 44] });
        assert_eq!(ids("nobody", Some("app")).unwrap(), Ids { uid: 65534, gid: 1000, groups: vec![] });
        assert_eq!(ids("1000", None).unwrap(), Ids { uid: 1000, gid: 1000, groups: vec![10, 44] });
        assert_eq!(ids("4242", Some("44")).unwrap(), Ids { uid: 4242, gid: 44, groups: vec![] });
        assert_eq!(ids("4242", None).unwrap(), Ids { uid: 4242, gid: 0, groups: vec![] });
        assert!(ids("ghost", None).unwrap_err().to_string().contains("unable to find user ghost"));
        assert!(ids("app", Some("ghosts")).unwrap_err().to_string().contains("unable to find group ghosts"));
    }
}
