//! `container commit`: a new image, the container's image plus one layer
//! made from the container's writable layer (overlayfs upper dir, whose
//! whiteouts become OCI ones again).

use super::digest::{Digest, HashingWriter};
use super::store::{ImageRecord, Store, normalize_name};
use crate::error::{Context, Error, Result};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub fn commit(store: &Store, upper: &Path, base: &ImageRecord, name: &str, created_by: &str) -> Result<ImageRecord> {
    let name = normalize_name(name);
    let tmp = store.temp_dir("commit")?;
    let res = (|| -> Result<ImageRecord> {
        // The layer as a tar (hashed: its diff_id), then gzipped (its digest).
        let tar_path = tmp.join("layer.tar");
        let mut w = HashingWriter::new(std::fs::File::create(&tar_path).context("create layer.tar")?);
        {
            let mut b = tar::Builder::new(&mut w);
            b.follow_symlinks(false);
            add_dir(&mut b, upper, Path::new(""))?;
            b.finish().context("write the layer")?;
        }
        let (diff_id, _, mut f) = w.finish();
        f.flush()?;
        drop(f);
        let gz_path = tmp.join("layer.tar.gz");
        let mut src = std::fs::File::open(&tar_path)?;
        let mut gz = flate2::write::GzEncoder::new(HashingWriter::new(std::fs::File::create(&gz_path)?), flate2::Compression::fast());
        std::io::copy(&mut src, &mut gz).context("compress the layer")?;
        let (blob, size, _) = gz.finish().context("compress the layer")?.finish();
        store.put_blob(&blob, Some(size), std::fs::File::open(&gz_path)?)?;
        // The layer unpacked into the store, as an imported one would be.
        if !store.layer_path(&diff_id).exists() {
            let dir = store.temp_dir("layer")?;
            let unpacked = super::unpack::unpack(std::fs::File::open(&tar_path)?, &dir).and_then(|_| store.place_layer(&dir, &diff_id));
            if let Err(e) = unpacked {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        }
        // Config and manifest: the base image's, one layer more.
        let mut config: Value = json_blob(store, &base.config)?;
        config["created"] = json!(crate::utils::rfc3339_now(false));
        config["rootfs"]["diff_ids"]
            .as_array_mut()
            .ok_or_else(|| Error::msg("base image config: no diff_ids"))?
            .push(json!(diff_id.to_string()));
        if !config["history"].is_array() {
            config["history"] = json!([]);
        }
        let entry = json!({"created": config["created"], "created_by": created_by});
        if let Some(h) = config["history"].as_array_mut() {
            h.push(entry);
        }
        let cb = serde_json::to_vec(&config).map_err(|e| Error::msg(e.to_string()))?;
        let config_d = Digest::of(&cb);
        store.put_blob(&config_d, Some(cb.len() as u64), &cb[..])?;
        let mut manifest: Value = json_blob(store, &base.manifest)?;
        manifest["config"] =
            json!({"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_d.to_string(), "size": cb.len()});
        manifest["layers"]
            .as_array_mut()
            .ok_or_else(|| Error::msg("base image manifest: no layers"))?
            .push(json!({"mediaType": LAYER_GZIP, "digest": blob.to_string(), "size": size}));
        let mb = serde_json::to_vec(&manifest).map_err(|e| Error::msg(e.to_string()))?;
        let manifest_d = Digest::of(&mb);
        store.put_blob(&manifest_d, Some(mb.len() as u64), &mb[..])?;
        let mut layers = base.layers.clone();
        layers.push(diff_id.to_string());
        let rec = ImageRecord {
            name: name.clone(),
            manifest: manifest_d.to_string(),
            config: config_d.to_string(),
            layers,
            size: base.size + size,
        };
        store.set_image(rec.clone())?;
        Ok(rec)
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    res
}

fn json_blob(store: &Store, d: &str) -> Result<Value> {
    let d = Digest::parse(d)?;
    let mut b = Vec::new();
    store.open_blob(&d)?.read_to_end(&mut b)?;
    serde_json::from_slice(&b).map_err(|e| Error::msg(format!("blob {d}: {e}")))
}

/// Adds the entries of `dir` (on disk) under `name` (in the tar), in name
/// order: overlayfs whiteouts (0:0 character devices) as `.wh.NAME`, an
/// opaque directory with `.wh..wh..opq`; nothing is followed.
fn add_dir<W: Write>(b: &mut tar::Builder<W>, dir: &Path, name: &Path) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = name.join(e.file_name());
        let meta = std::fs::symlink_metadata(&path).with_context(|| format!("stat {}", path.display()))?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            let wh = rel.with_file_name(format!(".wh.{}", e.file_name().to_string_lossy()));
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(0);
            h.set_mode(0o644);
            h.set_mtime(meta.mtime() as u64);
            b.append_data(&mut h, &wh, std::io::empty()).with_context(|| format!("add {}", wh.display()))?;
            continue;
        }
        b.append_path_with_name(&path, &rel).with_context(|| format!("add {}", rel.display()))?;
        if ft.is_dir() {
            if opaque(&path) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                h.set_mode(0o644);
                b.append_data(&mut h, rel.join(".wh..wh..opq"), std::io::empty()).context("add an opaque marker")?;
            }
            add_dir(b, &path, &rel)?;
        }
    }
    Ok(())
}

fn opaque(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(p) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return false };
    let mut v = [0u8; 4];
    let n = unsafe { libc::lgetxattr(p.as_ptr(), c"trusted.overlay.opaque".as_ptr(), v.as_mut_ptr().cast(), v.len()) };
    n == 1 && v[0] == b'y'
}
