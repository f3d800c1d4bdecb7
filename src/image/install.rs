//! An image into the store from its manifest, wherever its blobs come from
//! (a layout for `import`, a registry for `pull`): the config, then every
//! layer on a thread of its own (its blob brought in, checked, unpacked
//! once by diff_id), then the name recorded. A layer already unpacked is
//! not fetched again. On failure what this install made goes again.

use super::digest::{Digest, Hashing};
use super::progress::{Progress, human};
use super::store::{ImageRecord, Store};
use super::unpack::{decompressed, unpack};
use crate::error::{Context, Error, Result};
use serde_json::Value;

/// Brings blob `digest` (of `size` bytes, if known) into the store,
/// checked, unless it is there. Says what it did ("downloaded", "copied"),
/// or None when the blob was there already.
pub type Fetch<'a> = dyn Fn(&Digest, Option<u64>) -> Result<Option<&'static str>> + Sync + 'a;

pub fn digest_of(desc: &Value, what: &str) -> Result<Digest> {
    let d = desc["digest"].as_str().ok_or_else(|| Error::msg(format!("{what}: no digest")))?;
    Digest::parse(d).with_context(|| what.to_string())
}

pub fn json(bytes: &[u8], what: &str) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::msg(format!("{what}: invalid JSON: {e}")))
}

/// Whether a manifest is an index (OCI) or a manifest list (Docker);
/// `media` is what its descriptor or the registry said it is.
pub fn is_index(m: &Value, media: &str) -> bool {
    let media = m["mediaType"].as_str().unwrap_or(media);
    media.contains("index") || media.contains("manifest.list") || m["manifests"].is_array()
}

/// The linux/amd64 entry of an index (the variant is not looked at).
pub fn platform(index: &Value, what: &str) -> Result<Value> {
    let list = index["manifests"].as_array().map(Vec::as_slice).unwrap_or_default();
    let os_arch =
        |x: &Value| format!("{}/{}", x["platform"]["os"].as_str().unwrap_or("?"), x["platform"]["architecture"].as_str().unwrap_or("?"));
    match list.iter().find(|x| os_arch(x) == "linux/amd64") {
        Some(x) => Ok(x.clone()),
        None => {
            let has: Vec<String> = list.iter().map(os_arch).collect();
            crate::bail!("{what}: no linux/amd64 image (it has: {})", if has.is_empty() { "none".to_string() } else { has.join(", ") })
        }
    }
}

/// Installs the image of `manifest` (whose digest is `manifest_d`, already
/// stored) under `name`.
pub fn install(
    store: &Store,
    name: &str,
    manifest_d: &Digest,
    manifest: &Value,
    fetch: &Fetch,
    progress: &Progress,
) -> Result<ImageRecord> {
    let mut fetched = Vec::new();
    let res = layers(store, name, manifest, fetch, progress, &mut fetched);
    let (config_d, ids, size) = match res {
        Ok(r) => r,
        Err(e) => {
            // The blobs this install brought in go again: no image uses them.
            for d in fetched {
                let _ = std::fs::remove_file(store.blob_path(&d));
            }
            return Err(e);
        }
    };
    let rec = ImageRecord { name: name.to_string(), manifest: manifest_d.to_string(), config: config_d.to_string(), layers: ids, size };
    store.set_image(rec.clone())?;
    progress.line(&format!("image {name}: {} ({} layers, {})", config_d.short(), rec.layers.len(), human(size)));
    Ok(rec)
}

type Layer = (Digest, u64, bool, Option<Digest>, String);

/// The config and the layers; returns the config digest, the diff_ids and
/// the layers' size. `fetched` gets the blobs brought in.
fn layers(
    store: &Store,
    name: &str,
    manifest: &Value,
    fetch: &Fetch,
    progress: &Progress,
    fetched: &mut Vec<Digest>,
) -> Result<(Digest, Vec<String>, u64)> {
    if manifest["mediaType"].as_str().is_some_and(|m| m.contains("manifest.v1+prettyjws")) || manifest["schemaVersion"] == 1 {
        crate::bail!("image {name}: a Docker schema 1 manifest: not supported (push it again with a current tool)");
    }
    let config_d = digest_of(&manifest["config"], &format!("image {name}: manifest: config"))?;
    if fetch(&config_d, manifest["config"]["size"].as_u64()).with_context(|| format!("image {name}: config"))?.is_some() {
        fetched.push(config_d.clone());
    }
    let config = json(&store.read_blob(&config_d)?, &format!("image config {config_d}"))?;
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().cloned().unwrap_or_default();
    if layers.len() != diff_ids.len() {
        crate::bail!("image {name}: {} layers in the manifest but {} diff_ids in the config", layers.len(), diff_ids.len());
    }
    progress.layers(layers.len());
    // Layers are independent: each is fetched, checked and unpacked on a
    // thread of its own.
    let n = layers.len();
    let results: Vec<Result<Layer>> = std::thread::scope(|s| {
        let handles: Vec<_> = layers
            .iter()
            .zip(&diff_ids)
            .enumerate()
            .map(|(i, (layer, diff))| {
                s.spawn(move || -> Result<Layer> {
                    let what = format!("image {name}: layer {}/{n}", i + 1);
                    let res = one_layer(store, &what, layer, diff, fetch);
                    if let Ok((_, _, _, _, msg)) = &res {
                        progress.layer_done(msg);
                    }
                    res
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::msg("a layer's thread failed")))).collect()
    });
    let mut size = 0;
    let mut ids = Vec::new();
    let mut first_err = None;
    for r in &results {
        match r {
            Ok((d, bytes, _, blob, _)) => {
                size += bytes;
                ids.push(d.to_string());
                fetched.extend(blob.clone());
            }
            Err(e) if first_err.is_none() => first_err = Some(Error::msg(e.to_string())),
            Err(_) => {}
        }
    }
    if let Some(e) = first_err {
        // The layers this install unpacked go again: no image uses them.
        for (d, _, new, _, _) in results.iter().flatten() {
            if *new {
                let _ = std::fs::remove_dir_all(store.layer_path(d));
            }
        }
        return Err(e);
    }
    Ok((config_d, ids, size))
}

/// One layer: (diff_id, size, unpacked now, blob brought in, what was done).
fn one_layer(store: &Store, what: &str, layer: &Value, diff: &Value, fetch: &Fetch) -> Result<Layer> {
    let blob = digest_of(layer, what)?;
    let diff_id = Digest::parse(diff.as_str().unwrap_or("")).with_context(|| format!("{what}: diff_id"))?;
    let size = layer["size"].as_u64();
    let line = |bytes: u64, how: &str| format!("{what} {} {}: {how}", blob.short(), human(bytes));
    if store.layer_path(&diff_id).exists() {
        let bytes = size.unwrap_or_else(|| std::fs::metadata(store.blob_path(&blob)).map_or(0, |m| m.len()));
        return Ok((diff_id, bytes, false, None, line(bytes, "already unpacked")));
    }
    let how = fetch(&blob, size).with_context(|| what.to_string())?;
    let brought = how.map(|_| blob.clone());
    let bytes = std::fs::metadata(store.blob_path(&blob)).map_or(0, |m| m.len());
    if let Err(e) = unpack_layer(store, &blob, &diff_id, layer["mediaType"].as_str().unwrap_or("")) {
        if brought.is_some() {
            let _ = std::fs::remove_file(store.blob_path(&blob));
        }
        return Err(e).with_context(|| what.to_string());
    }
    let done = match how {
        Some(h) => format!("{h}, unpacked"),
        None => "unpacked".to_string(),
    };
    Ok((diff_id, bytes, true, brought, line(bytes, &done)))
}

/// Unpacks a layer blob into tmp/, checks the uncompressed stream against
/// the diff_id, and only then renames it into layers/.
fn unpack_layer(store: &Store, blob: &Digest, diff_id: &Digest, media: &str) -> Result<()> {
    let f = std::io::BufReader::with_capacity(1 << 20, store.open_blob(blob)?);
    let stream = decompressed(f, media)?;
    let tmp = store.temp_dir("layer")?;
    let res = (|| -> Result<()> {
        let mut h = Hashing::new(stream);
        let skipped = unpack(&mut h, &tmp)?;
        let (got, _) = h.finish().context("read layer")?;
        if got != *diff_id {
            crate::bail!("its content hashes to {got}, not to its diff_id {diff_id}");
        }
        if !skipped.devices.is_empty() {
            crate::logging::warn(&format!("layer {}: device nodes not created: {}", blob.short(), skipped.devices.join(", ")));
        }
        store.place_layer(&tmp, diff_id)?;
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    res
}
