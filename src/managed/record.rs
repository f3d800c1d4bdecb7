//! A managed container's record, under `<data root>/containers/<id>/`:
//!
//! ```text
//! record.json   id, name, image, command, status, exit code, times
//! bundle/       the OCI bundle: config.json, and rootfs/ (the overlay's mount point)
//! upper/ work/  the container's own writable layer (overlayfs upper and work dirs)
//! stdout.log stderr.log   the output of a detached container
//! ```

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub image: String,
    /// The image's config digest.
    pub image_id: String,
    pub command: Vec<String>,
    pub created: String,
    /// created, running, exited
    pub status: String,
    pub exit_code: Option<i32>,
    pub started: Option<String>,
    pub finished: Option<String>,
    /// `--rm`: removed when it exits.
    pub auto_remove: bool,
    /// The volumes it mounts: (name, destination).
    #[serde(default)]
    pub volumes: Vec<(String, String)>,
}

pub fn containers_dir(data_root: &Path) -> PathBuf {
    data_root.join("containers")
}

impl Record {
    pub fn dir(&self, data_root: &Path) -> PathBuf {
        containers_dir(data_root).join(&self.id)
    }

    pub fn save(&self, data_root: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::msg(e.to_string()))?;
        crate::utils::write_atomic(&self.dir(data_root).join("record.json"), &text)
    }

    pub fn load(dir: &Path) -> Result<Record> {
        let p = dir.join("record.json");
        let b = std::fs::read(&p).with_context(|| format!("read {}", p.display()))?;
        serde_json::from_slice(&b).map_err(|e| Error::msg(format!("{}: {e}", p.display())))
    }
}

/// Every record, oldest first.
pub fn all(data_root: &Path) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let dir = containers_dir(data_root);
    let Ok(rd) = std::fs::read_dir(&dir) else { return Ok(out) };
    for e in rd.flatten() {
        if let Ok(r) = Record::load(&e.path()) {
            out.push(r);
        }
    }
    out.sort_by(|a, b| a.created.cmp(&b.created));
    Ok(out)
}

/// The container named `key`, or whose id starts with it (unique prefix).
pub fn find(data_root: &Path, key: &str) -> Result<Record> {
    let all = all(data_root)?;
    if let Some(r) = all.iter().find(|r| r.name == key || r.id == key) {
        return Ok(r.clone());
    }
    let hits: Vec<&Record> = all.iter().filter(|r| !key.is_empty() && r.id.starts_with(key)).collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::msg(format!("no such container: {key}"))),
        _ => Err(Error::msg(format!("container id prefix {key:?} is ambiguous"))),
    }
}

/// 32 random hex digits.
pub fn new_id() -> Result<String> {
    let mut b = [0u8; 16];
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        return Err(nix::errno::Errno::last()).context("getrandom");
    }
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
