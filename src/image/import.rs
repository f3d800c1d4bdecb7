//! `image import`: an OCI image layout (a directory, or a tar of one as
//! `skopeo copy … oci-archive:` writes), or a docker-archive (`docker
//! save`), into the store. Every blob is
//! checked against its digest on the way in, and every layer is unpacked
//! once, checked against its diff_id, into a directory of its own.

use super::digest::Digest;
use super::install::{digest_of, install, is_index, json, platform};
use super::progress::{Counting, Progress, human};
use super::store::{ImageRecord, Store, normalize_name};
use crate::error::{Context, Error, Result};
use serde_json::Value;
use std::io::Read;
use std::path::Path;

const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Imports the images of the layout at `src`; `name` names the image (else
/// the layout's ref name annotation).
pub fn import(store: &Store, src: &Path, name: Option<&str>, progress: &Progress) -> Result<Vec<ImageRecord>> {
    let index: Value = if src.is_dir() { from_dir(src)? } else { from_tar(store, src, progress)? };
    let manifests = index["manifests"].as_array().ok_or_else(|| Error::msg(format!("{}: index.json has no manifests", src.display())))?;
    if manifests.is_empty() {
        crate::bail!("{}: index.json lists no image", src.display());
    }
    if name.is_some() && manifests.len() > 1 {
        crate::bail!("{}: the layout holds {} images; a name can only be given to one", src.display(), manifests.len());
    }
    let mut out = Vec::new();
    for (i, desc) in manifests.iter().enumerate() {
        let ref_name = desc["annotations"][REF_NAME].as_str();
        let name = match (name, ref_name) {
            (Some(n), _) => normalize_name(n),
            (None, Some(r)) if r.contains(':') || r.contains('/') => normalize_name(r),
            (None, Some(tag)) => format!("{}:{tag}", stem(src)),
            (None, None) => crate::bail!("{}: manifests[{i}] has no {REF_NAME}: give the image a name", src.display()),
        };
        let (manifest_d, manifest) = resolve_manifest(store, src, desc, progress)?;
        let fetch = |d: &Digest, size: Option<u64>| fetch(store, src, d, size, progress);
        out.push(install(store, &name, &manifest_d, &manifest, &fetch, progress)?);
    }
    Ok(out)
}

fn stem(p: &Path) -> String {
    let s = p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    s.trim_end_matches(".tar").trim_end_matches(".oci").to_string()
}

fn from_dir(dir: &Path) -> Result<Value> {
    check_layout(&std::fs::read(dir.join("oci-layout")).with_context(|| format!("{}: not an OCI image layout", dir.display()))?)?;
    let index = json(&std::fs::read(dir.join("index.json")).with_context(|| format!("{}: read index.json", dir.display()))?, "index.json")?;
    // Blobs are copied (and checked) as the manifests name them.
    Ok(index)
}

fn check_layout(bytes: &[u8]) -> Result<()> {
    let v = json(bytes, "oci-layout")?;
    match v["imageLayoutVersion"].as_str() {
        Some(ver) if ver.starts_with("1.") => Ok(()),
        other => crate::bail!("oci-layout: imageLayoutVersion {other:?} is not 1.x"),
    }
}

/// A tar of a layout: every blob goes into the store as it streams past
/// (checked against the digest its name claims).
fn from_tar(store: &Store, file: &Path, progress: &Progress) -> Result<Value> {
    let f = std::fs::File::open(file).with_context(|| format!("open {}", file.display()))?;
    progress.expect(f.metadata().map_or(0, |m| m.len()));
    let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(1 << 20, Counting { inner: f, progress }));
    let (mut index, mut layout, mut docker) = (None, None, None);
    // A docker-archive names its files by path: each is stored by the
    // digest of its content, and found again through this map.
    let mut by_path: std::collections::HashMap<String, (Digest, u64)> = std::collections::HashMap::new();
    let mut links = Vec::new();
    for entry in archive.entries().with_context(|| format!("{}: read", file.display()))? {
        let mut e = entry.with_context(|| format!("{}: read", file.display()))?;
        let path = String::from_utf8_lossy(&e.path_bytes()).trim_start_matches("./").to_string();
        let small = |e: &mut tar::Entry<_>| -> Result<Vec<u8>> {
            let mut b = Vec::new();
            e.take(16 << 20).read_to_end(&mut b)?;
            Ok(b)
        };
        if path == "index.json" {
            index = Some(json(&small(&mut e)?, "index.json")?);
        } else if path == "oci-layout" {
            layout = Some(small(&mut e)?);
        } else if path == "manifest.json" {
            docker = Some(json(&small(&mut e)?, "manifest.json")?);
        } else if let Some(hex) = path.strip_prefix("blobs/sha256/")
            && !hex.is_empty()
        {
            let d = Digest::parse(&format!("sha256:{hex}")).with_context(|| format!("{}: {path}", file.display()))?;
            let size = e.header().size().ok();
            if store.put_blob(&d, size, &mut e)? {
                progress.line(&format!("blob {} {}", d.short(), human(size.unwrap_or(0))));
            }
        } else if e.header().entry_type().is_file() && path != "repositories" && !path.ends_with("/json") && !path.ends_with("/VERSION") {
            let (d, size) = store.put_any_blob(&mut e).with_context(|| format!("{}: {path}", file.display()))?;
            by_path.insert(path, (d, size));
        } else if matches!(e.header().entry_type(), tar::EntryType::Symlink | tar::EntryType::Link) {
            // (docker-archive writers link `<id>/layer.tar` and `<digest>.tar`)
            let target = e.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default();
            let base = if e.header().entry_type() == tar::EntryType::Symlink { path.rsplit_once('/').map_or("", |(d, _)| d) } else { "" };
            let resolved = normalize(base, &target);
            links.push((path, resolved));
        }
    }
    for (path, target) in links {
        if let Some(v) = by_path.get(&target).cloned() {
            by_path.insert(path, v);
        }
    }
    if index.is_none()
        && let Some(m) = docker
    {
        return docker_index(store, file, &m, &by_path);
    }
    check_layout(&layout.ok_or_else(|| Error::msg(format!("{}: no oci-layout file: not an OCI image layout", file.display())))?)?;
    index.ok_or_else(|| Error::msg(format!("{}: no index.json", file.display())))
}

/// `target` (relative to the archive directory `base`) as an archive path.
fn normalize(base: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') { Vec::new() } else { base.split('/').filter(|p| !p.is_empty()).collect() };
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A docker-archive's manifest.json as an OCI index: for each image an OCI
/// manifest is written (its config and layer tars are already stored).
fn docker_index(store: &Store, file: &Path, m: &Value, by_path: &std::collections::HashMap<String, (Digest, u64)>) -> Result<Value> {
    let what = |x: &str| format!("{}: manifest.json: {x}", file.display());
    let find = |p: &Value| -> Result<&(Digest, u64)> {
        let p = p.as_str().unwrap_or("");
        by_path.get(p).ok_or_else(|| Error::msg(what(&format!("{p:?} is not in the archive"))))
    };
    let mut manifests = Vec::new();
    for (i, img) in m.as_array().ok_or_else(|| Error::msg(what("not a list")))?.iter().enumerate() {
        let (cd, cs) = find(&img["Config"])?;
        let mut layers = Vec::new();
        for l in img["Layers"].as_array().ok_or_else(|| Error::msg(what(&format!("[{i}]: no Layers"))))? {
            let (ld, ls) = find(l)?;
            layers.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld.to_string(), "size": ls}));
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cs},
            "layers": layers,
        });
        let mb = serde_json::to_vec(&manifest).map_err(|e| Error::msg(e.to_string()))?;
        let md = Digest::of(&mb);
        store.put_blob(&md, Some(mb.len() as u64), &mb[..])?;
        let mut desc =
            serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": mb.len()});
        if let Some(tag) = img["RepoTags"].as_array().and_then(|t| t.first()).and_then(|t| t.as_str()) {
            desc["annotations"] = serde_json::json!({ REF_NAME: tag });
        }
        manifests.push(desc);
    }
    Ok(serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
}

/// Copies a blob from a layout directory into the store (checked), unless
/// it is there already; from an archive, every blob is stored already.
fn fetch(store: &Store, src: &Path, d: &Digest, size: Option<u64>, progress: &Progress) -> Result<Option<&'static str>> {
    if src.is_dir() {
        if store.blob_path(d).exists() {
            return Ok(None);
        }
        let p = src.join("blobs/sha256").join(d.hex());
        let f = std::fs::File::open(&p).with_context(|| format!("{}: blob {d} is missing", src.display()))?;
        progress.expect(size.unwrap_or(0));
        let copied = store.put_blob(d, size, Counting { inner: f, progress })?;
        Ok(copied.then_some("copied"))
    } else if !store.blob_path(d).exists() {
        crate::bail!("{}: blob {d} is missing from the archive", src.display());
    } else {
        Ok(None)
    }
}

/// The image manifest a descriptor leads to; an index picks linux/amd64.
fn resolve_manifest(store: &Store, src: &Path, desc: &Value, progress: &Progress) -> Result<(Digest, Value)> {
    let mut desc = desc.clone();
    for _ in 0..4 {
        let d = digest_of(&desc, "index.json: manifest")?;
        fetch(store, src, &d, desc["size"].as_u64(), progress)?;
        let m = json(&store.read_blob(&d)?, &format!("manifest {d}"))?;
        if is_index(&m, desc["mediaType"].as_str().unwrap_or("")) {
            desc = platform(&m, &format!("index {d}"))?;
            continue;
        }
        return Ok((d, m));
    }
    crate::bail!("{}: indexes nested too deep", src.display())
}
