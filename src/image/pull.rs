//! `image pull`: an image from a distribution (v2) registry into the store.
//! The manifest is asked for by tag or digest (OCI or Docker schema 2; an
//! index or manifest list picks linux/amd64), every manifest and blob is
//! checked against its digest as it arrives, and the image is installed as
//! an imported one is: layers fetched and unpacked in parallel, each once.

use super::digest::Digest;
use super::install::{digest_of, install, is_index, json, platform};
use super::progress::{Counting, Progress};
use super::reference::Reference;
use super::registry::Registry;
use super::store::{ImageRecord, Store};
use crate::error::{Context, Result};
use std::io::Read;

/// What a manifest may be, most wanted first.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.docker.distribution.manifest.list.v2+json, \
                      application/vnd.docker.distribution.manifest.v2+json";

/// A manifest is JSON of a few kB; more than this is not one.
const MAX_MANIFEST: u64 = 4 << 20;

pub fn pull(store: &Store, reference: &str, insecure: bool, progress: &Progress) -> Result<ImageRecord> {
    let r = Reference::parse(reference)?;
    let what = format!("pull {r}");
    let reg = Registry::new(r.endpoint(), &r.repository, insecure).with_context(|| what.clone())?;
    let name = r.name();
    let (mut d, mut bytes) = manifest(&reg, &r.manifest_ref(), r.digest.as_ref(), None).with_context(|| what.clone())?;
    for _ in 0..4 {
        let m = json(&bytes, &format!("{what}: manifest {d}"))?;
        if is_index(&m, "") {
            let desc = platform(&m, &format!("{what}: index {d}"))?;
            let want = digest_of(&desc, &format!("{what}: index {d}: linux/amd64"))?;
            (d, bytes) = manifest(&reg, &want.to_string(), Some(&want), desc["size"].as_u64()).with_context(|| what.clone())?;
            continue;
        }
        progress.line(&format!("{r}: manifest {d}"));
        let new = store.put_blob(&d, Some(bytes.len() as u64), &bytes[..])?;
        let fetch = |blob: &Digest, size: Option<u64>| fetch_blob(store, &reg, blob, size, progress);
        let res = install(store, &name, &d, &m, &fetch, progress);
        if res.is_err() && new {
            let _ = std::fs::remove_file(store.blob_path(&d));
        }
        return res;
    }
    crate::bail!("{what}: indexes nested too deep")
}

/// A manifest by tag or digest: its digest and bytes, checked against the
/// digest asked for, the one the registry names, and the size given.
fn manifest(reg: &Registry, reference: &str, want: Option<&Digest>, size: Option<u64>) -> Result<(Digest, Vec<u8>)> {
    let what = format!("manifest {reference}");
    let resp = reg.get(&format!("manifests/{reference}"), Some(ACCEPT), &what)?;
    let url = resp.url.to_string();
    let media = resp.header("content-type").unwrap_or("").to_string();
    if media.contains("distribution.manifest.v1") {
        crate::bail!("{what}: {url}: a Docker schema 1 manifest ({media}): not supported (push the image again with a current tool)");
    }
    let named = resp.header("docker-content-digest").map(str::to_string);
    let bytes = resp.bytes(MAX_MANIFEST).with_context(|| what.clone())?;
    let got = Digest::of(&bytes);
    if let Some(w) = want
        && *w != got
    {
        crate::bail!("{what}: {url}: the registry sent content that hashes to {got}: corrupt or tampered with");
    }
    if let Some(n) = named
        && n.starts_with("sha256:")
        && n != got.to_string()
    {
        crate::bail!("{what}: {url}: the registry says it is {n}, but it hashes to {got}: corrupt or tampered with");
    }
    if let Some(s) = size
        && s != bytes.len() as u64
    {
        crate::bail!("{what}: {url}: {} bytes where the index says {s}", bytes.len());
    }
    Ok((got, bytes))
}

/// A blob into the store, checked against its digest and size as it
/// streams in (nothing past the size is read), unless it is there.
fn fetch_blob(store: &Store, reg: &Registry, d: &Digest, size: Option<u64>, progress: &Progress) -> Result<Option<&'static str>> {
    if store.blob_path(d).exists() {
        return Ok(None);
    }
    let resp = reg.get(&format!("blobs/{d}"), None, &format!("blob {d}"))?;
    let url = resp.url.to_string();
    let expected = size.or_else(|| resp.header("content-length").and_then(|l| l.parse().ok()));
    progress.expect(expected.unwrap_or(0));
    let body = Counting { inner: resp, progress }.take(size.map_or(u64::MAX, |s| s.saturating_add(1)));
    store.put_blob(d, size, body).with_context(|| format!("GET {url}"))?;
    Ok(Some("downloaded"))
}
