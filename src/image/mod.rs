//! Images for the high-level layer: a content store of blobs by digest,
//! layers unpacked once each (safely), and image names; images come in by
//! import (a layout or archive) or pull (a registry).

pub mod commit;
pub mod digest;
pub mod http;
pub mod import;
pub mod install;
pub mod progress;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;

use crate::error::{Error, Result};
use serde_json::{Value, json};
use store::Store;

/// `image ls`: one row per image name.
pub fn list(store: &Store) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for i in store.images()? {
        let config = read_config(store, &i.config)?;
        // `repo@sha256:…` (pulled by digest) has no tag, as in docker.
        let (repo, tag) = match i.name.split_once('@') {
            Some((repo, _)) => (repo, "<none>"),
            None => i.name.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((&i.name, "")),
        };
        out.push(json!({
            "Repository": repo, "Tag": tag, "Id": i.config, "Created": config["created"],
            "Size": i.size, "Layers": i.layers.len(),
        }));
    }
    Ok(out)
}

/// `image inspect`: what docker shows, from the config and the record.
pub fn inspect(store: &Store, name: &str) -> Result<Value> {
    let i = store.find(name)?;
    let config = read_config(store, &i.config)?;
    Ok(json!({
        "Id": i.config,
        "RepoTags": [i.name],
        "Manifest": i.manifest,
        "Created": config["created"],
        "Author": config["author"],
        "Architecture": config["architecture"],
        "Os": config["os"],
        "Config": config["config"],
        "RootFS": {"Type": "layers", "Layers": i.layers},
        "Size": i.size,
        "History": config["history"],
    }))
}

fn read_config(store: &Store, config: &str) -> Result<Value> {
    let d = digest::Digest::parse(config)?;
    serde_json::from_slice(&store.read_blob(&d)?).map_err(|e| Error::msg(format!("image config {config}: {e}")))
}

/// `image history`: the config's history, newest first, each with the size
/// of the layer it made (compressed, as stored).
pub fn history(store: &Store, name: &str) -> Result<Vec<Value>> {
    let i = store.find(name)?;
    let config = read_config(store, &i.config)?;
    let manifest: Value = serde_json::from_slice(&store.read_blob(&digest::Digest::parse(&i.manifest)?)?)
        .map_err(|e| Error::msg(format!("manifest {}: {e}", i.manifest)))?;
    let mut sizes = manifest["layers"].as_array().cloned().unwrap_or_default().into_iter().map(|l| l["size"].as_u64().unwrap_or(0));
    let mut out = Vec::new();
    for h in config["history"].as_array().cloned().unwrap_or_default() {
        let size = if h["empty_layer"].as_bool().unwrap_or(false) { 0 } else { sizes.next().unwrap_or(0) };
        out.push(json!({"Created": h["created"], "CreatedBy": h["created_by"], "Comment": h["comment"], "Size": size}));
    }
    out.reverse();
    Ok(out)
}

/// `image tag SOURCE TARGET`.
pub fn tag(store: &Store, source: &str, target: &str) -> Result<()> {
    let mut i = store.find(source)?;
    i.name = store::normalize_name(target);
    store.set_image(i)
}
