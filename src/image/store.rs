//! The content store under the data root (`--data-root`, default
//! /var/lib/kiste):
//!
//! ```text
//! blobs/sha256/<hex>      every blob, by the digest of its bytes (checked on the way in)
//! layers/sha256/<hex>/    each layer unpacked once, by its diff_id
//! tmp/                    work in progress, renamed into place when complete
//! images.json             the image names and what they point at
//! ```

use super::digest::{Digest, Hashing};
use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const DEFAULT_DATA_ROOT: &str = "/var/lib/kiste";

pub struct Store {
    pub root: PathBuf,
}

/// One named image.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ImageRecord {
    pub name: String,
    pub manifest: String,
    pub config: String,
    /// diff_ids, bottom layer first.
    pub layers: Vec<String>,
    /// Bytes of the layer blobs as stored (compressed).
    pub size: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct Images {
    images: Vec<ImageRecord>,
}

impl Store {
    pub fn open(root: &Path) -> Result<Store> {
        for d in ["blobs/sha256", "layers/sha256", "tmp"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).with_context(|| format!("create {}", p.display()))?;
        }
        Ok(Store { root: root.to_path_buf() })
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    pub fn layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers/sha256").join(diff_id.hex())
    }

    /// A path under tmp/ no other process or thread uses.
    fn tmp_path(&self, what: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.root.join("tmp").join(format!("{what}-{}-{n}", std::process::id()))
    }

    /// A fresh directory under tmp/, removed by the caller on failure.
    pub fn temp_dir(&self, what: &str) -> Result<PathBuf> {
        let p = self.tmp_path(what);
        std::fs::create_dir(&p).with_context(|| format!("create {}", p.display()))?;
        Ok(p)
    }

    /// Renames an unpacked layer from tmp/ into place. If the same layer got
    /// there first (another layer of the image, or another import), ours goes.
    pub fn place_layer(&self, tmp: &Path, diff_id: &Digest) -> Result<()> {
        let dest = self.layer_path(diff_id);
        match std::fs::rename(tmp, &dest) {
            Ok(()) => Ok(()),
            Err(_) if dest.is_dir() => {
                let _ = std::fs::remove_dir_all(tmp);
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("move the layer into {}", dest.display())),
        }
    }

    /// Stores a blob read from `r`, which must hash to `d` (and be `size`
    /// bytes, if given). Already present: `r` is not read.
    pub fn put_blob(&self, d: &Digest, size: Option<u64>, r: impl Read) -> Result<bool> {
        let path = self.blob_path(d);
        if path.exists() {
            return Ok(false);
        }
        let tmp = self.tmp_path("blob");
        let res = (|| -> Result<()> {
            let mut f = std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let mut h = Hashing::new(r);
            std::io::copy(&mut h, &mut f).with_context(|| format!("blob {d}: read"))?;
            let (got, n) = h.finish().with_context(|| format!("blob {d}: read"))?;
            if got != *d {
                crate::bail!("blob {d}: its content hashes to {got}: corrupt or tampered with");
            }
            if let Some(want) = size
                && want != n
            {
                crate::bail!("blob {d}: {n} bytes where the descriptor says {want}");
            }
            f.flush()?;
            f.sync_all().with_context(|| format!("sync {}", tmp.display()))?;
            std::fs::rename(&tmp, &path).with_context(|| format!("rename into {}", path.display()))?;
            Ok(())
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        res.map(|()| true)
    }

    /// Stores a blob whose digest is not known in advance (a docker-archive
    /// names files by path): hashed as it is written, then named by it.
    pub fn put_any_blob(&self, r: impl Read) -> Result<(Digest, u64)> {
        let tmp = self.tmp_path("blob");
        let res = (|| -> Result<(Digest, u64)> {
            let mut f = std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let mut h = Hashing::new(r);
            std::io::copy(&mut h, &mut f).context("read")?;
            let (d, size) = h.finish().context("read")?;
            f.sync_all().with_context(|| format!("sync {}", tmp.display()))?;
            let path = self.blob_path(&d);
            if !path.exists() {
                std::fs::rename(&tmp, &path).with_context(|| format!("rename into {}", path.display()))?;
            }
            Ok((d, size))
        })();
        let _ = std::fs::remove_file(&tmp);
        res
    }

    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let p = self.blob_path(d);
        std::fs::read(&p).with_context(|| format!("blob {d}: read {}", p.display()))
    }

    pub fn open_blob(&self, d: &Digest) -> Result<std::fs::File> {
        let p = self.blob_path(d);
        std::fs::File::open(&p).with_context(|| format!("blob {d}: open {}", p.display()))
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        let p = self.root.join("images.json");
        match std::fs::read(&p) {
            Ok(b) => {
                let i: Images = serde_json::from_slice(&b).map_err(|e| Error::msg(format!("{}: {e}", p.display())))?;
                Ok(i.images)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
        }
    }

    /// Adds or replaces the image of that name (under a lock).
    pub fn set_image(&self, rec: ImageRecord) -> Result<()> {
        let _lock = self.lock()?;
        let mut all = self.images()?;
        all.retain(|i| i.name != rec.name);
        all.push(rec);
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let text = serde_json::to_vec_pretty(&Images { images: all }).map_err(|e| Error::msg(e.to_string()))?;
        crate::utils::write_atomic(&self.root.join("images.json"), &text)
    }

    /// Removes the name; then every layer and blob no remaining image uses.
    /// Returns what was freed (layers, blobs).
    pub fn remove_image(&self, name: &str) -> Result<(usize, usize)> {
        let _lock = self.lock()?;
        let mut all = self.images()?;
        let before = all.len();
        all.retain(|i| i.name != name);
        if all.len() == before {
            crate::bail!("no such image: {name}");
        }
        let text = serde_json::to_vec_pretty(&Images { images: all.clone() }).map_err(|e| Error::msg(e.to_string()))?;
        crate::utils::write_atomic(&self.root.join("images.json"), &text)?;
        // What the remaining images use.
        let mut layers = std::collections::HashSet::new();
        let mut blobs = std::collections::HashSet::new();
        for i in &all {
            layers.extend(i.layers.iter().map(|l| l.trim_start_matches("sha256:").to_string()));
            blobs.insert(i.config.trim_start_matches("sha256:").to_string());
            blobs.insert(i.manifest.trim_start_matches("sha256:").to_string());
            let m: serde_json::Value = Digest::parse(&i.manifest)
                .and_then(|d| self.read_blob(&d))
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| Error::msg(e.to_string())))
                .with_context(|| format!("image {}: its manifest", i.name))?;
            for l in m["layers"].as_array().into_iter().flatten() {
                blobs.insert(l["digest"].as_str().unwrap_or("").trim_start_matches("sha256:").to_string());
            }
        }
        let sweep = |dir: &str, keep: &std::collections::HashSet<String>, is_dir: bool| -> usize {
            let mut n = 0;
            for e in std::fs::read_dir(self.root.join(dir)).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !keep.contains(&name) {
                    let gone = if is_dir { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
                    n += usize::from(gone.is_ok());
                }
            }
            n
        };
        Ok((sweep("layers/sha256", &layers, true), sweep("blobs/sha256", &blobs, false)))
    }

    fn lock(&self) -> Result<nix::fcntl::Flock<std::fs::File>> {
        let p = self.root.join("lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .with_context(|| format!("open {}", p.display()))?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e).with_context(|| format!("lock {}", p.display()))
    }

    /// The image named `name` (a `:latest` tag is implied), or whose id
    /// (config digest) starts with `name`.
    pub fn find(&self, name: &str) -> Result<ImageRecord> {
        let all = self.images()?;
        let full = normalize_name(name);
        if let Some(i) = all.iter().find(|i| i.name == full) {
            return Ok(i.clone());
        }
        let by_id: Vec<&ImageRecord> = all
            .iter()
            .filter(|i| name.len() >= 4 && i.config.trim_start_matches("sha256:").starts_with(name.trim_start_matches("sha256:")))
            .collect();
        match by_id.as_slice() {
            [one, rest @ ..] if rest.iter().all(|r| r.config == one.config) => Ok((*one).clone()),
            [] => Err(Error::msg(format!("no such image: {name}"))),
            _ => Err(Error::msg(format!("image id prefix {name:?} is ambiguous"))),
        }
    }
}

/// `busybox` → `busybox:latest`; `docker.io/library/busybox:1` →
/// `busybox:1`, as docker shows it.
pub fn normalize_name(name: &str) -> String {
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    let name = name.strip_prefix("library/").unwrap_or(name);
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || name.contains('@') { name.to_string() } else { format!("{name}:latest") }
}
