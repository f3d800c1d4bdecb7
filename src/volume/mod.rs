//! Volumes: directories kiste manages under `<data root>/volumes/<name>/`
//! (`_data/` is what containers see, `volume.json` its record). They
//! outlive containers. An empty volume is first filled with the image's
//! content at its mount point; one that holds data hides that content.

use crate::error::{Context, Error, Result};
use crate::utils::rfc3339_now;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Volume {
    pub name: String,
    pub created: String,
    /// Made for one container (`-v /path`): removed with it by `--rm`.
    pub anonymous: bool,
    #[serde(skip)]
    pub dir: PathBuf,
}

fn volumes_dir(data_root: &Path) -> PathBuf {
    data_root.join("volumes")
}

pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 128
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        || name.starts_with(['.', '-'])
    {
        crate::bail!("volume name {name:?}: only letters, digits, '_', '.' and '-', not first");
    }
    Ok(())
}

impl Volume {
    pub fn data(&self) -> PathBuf {
        self.dir.join("_data")
    }

    pub fn load(data_root: &Path, name: &str) -> Result<Volume> {
        check_name(name)?;
        let dir = volumes_dir(data_root).join(name);
        let b = std::fs::read(dir.join("volume.json")).map_err(|_| Error::msg(format!("no such volume: {name}")))?;
        let mut v: Volume = serde_json::from_slice(&b).map_err(|e| Error::msg(format!("volume {name}: {e}")))?;
        v.dir = dir;
        Ok(v)
    }

    pub fn is_empty(&self) -> bool {
        std::fs::read_dir(self.data()).map(|mut r| r.next().is_none()).unwrap_or(true)
    }
}

/// Creates the volume, or returns it if it exists.
pub fn create(data_root: &Path, name: &str, anonymous: bool) -> Result<Volume> {
    if let Ok(v) = Volume::load(data_root, name) {
        return Ok(v);
    }
    let dir = volumes_dir(data_root).join(name);
    std::fs::create_dir_all(dir.join("_data")).with_context(|| format!("create volume {}", dir.display()))?;
    let v = Volume { name: name.to_string(), created: rfc3339_now(false), anonymous, dir };
    let text = serde_json::to_vec_pretty(&v).map_err(|e| Error::msg(e.to_string()))?;
    crate::utils::write_atomic(&v.dir.join("volume.json"), &text)?;
    Ok(v)
}

pub fn list(data_root: &Path) -> Result<Vec<Volume>> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(volumes_dir(data_root)) {
        for e in rd.flatten() {
            if let Ok(v) = Volume::load(data_root, &e.file_name().to_string_lossy()) {
                out.push(v);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Removes a volume; `users` are the containers that use it (refused then).
pub fn remove(data_root: &Path, name: &str, users: &[String]) -> Result<()> {
    let v = Volume::load(data_root, name)?;
    if !users.is_empty() {
        crate::bail!("volume {name} is in use by container(s) {}", users.join(", "));
    }
    std::fs::remove_dir_all(&v.dir).with_context(|| format!("remove {}", v.dir.display()))
}

/// Fills an empty volume with what the container's rootfs holds at `dest`
/// (resolved inside the rootfs; nothing if it is not a directory there).
pub fn fill_from_image(v: &Volume, rootfs: &Path, dest: &str) -> Result<()> {
    if !v.is_empty() {
        return Ok(());
    }
    let open = |p: &Path| -> Result<std::os::fd::OwnedFd> {
        nix::fcntl::open(
            p,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .with_context(|| format!("open {}", p.display()))
    };
    let root = open(rootfs)?;
    let Ok(src) = crate::rootfs::resolve::open(&root, Path::new(dest), libc::O_PATH | libc::O_DIRECTORY) else {
        return Ok(());
    };
    let to = nix::fcntl::open(
        &v.data(),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {}", v.data().display()))?;
    crate::rootfs::copyup::copy_into(&src, &to).with_context(|| format!("volume {}: copy the image's {dest}", v.name))
}
