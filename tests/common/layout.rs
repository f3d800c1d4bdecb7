//! OCI image layouts built entry by entry (raw tar headers, so that even
//! hostile names can be written), for the image and container tests.

use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn sha(b: &[u8]) -> String {
    format!("sha256:{}", Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// One tar entry: name, type, body or link target, mode.
pub struct E {
    pub name: &'static str,
    pub kind: tar::EntryType,
    pub data: Vec<u8>,
    pub link: &'static str,
    pub mode: u32,
}

pub fn file(name: &'static str, data: &str) -> E {
    E { name, kind: tar::EntryType::Regular, data: data.as_bytes().to_vec(), link: "", mode: 0o644 }
}
pub fn dir(name: &'static str) -> E {
    E { name, kind: tar::EntryType::Directory, data: vec![], link: "", mode: 0o755 }
}
pub fn symlink(name: &'static str, to: &'static str) -> E {
    E { name, kind: tar::EntryType::Symlink, data: vec![], link: to, mode: 0o777 }
}
pub fn hardlink(name: &'static str, to: &'static str) -> E {
    E { name, kind: tar::EntryType::Link, data: vec![], link: to, mode: 0o644 }
}

/// A tar stream of the entries, names written as given (no checks).
pub fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_ustar();
        let raw = h.as_old_mut();
        raw.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        raw.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_size(e.data.len() as u64);
        h.set_mtime(1_700_000_000);
        if e.kind == tar::EntryType::Char {
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(b).unwrap();
    g.finish().unwrap()
}

/// An OCI layout directory with one image of these layers (bottom first);
/// `tamper` may change a layer blob after its digest was taken.
pub fn layout(dir: &Path, layers: &[Vec<E>], tamper: impl Fn(usize, &mut Vec<u8>)) -> PathBuf {
    layout_with(dir, layers, tamper, json!({}))
}

/// `layout`, with `image_config` (e.g. `{"Volumes": {"/data": {}}}`) added
/// to the image config's `config`.
#[allow(dead_code)]
pub fn layout_with(dir: &Path, layers: &[Vec<E>], tamper: impl Fn(usize, &mut Vec<u8>), image_config: serde_json::Value) -> PathBuf {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| -> String {
        let d = sha(b);
        std::fs::write(blobs.join(&d[7..]), b).unwrap();
        d
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, entries) in layers.iter().enumerate() {
        let t = tar_of(entries);
        diff_ids.push(sha(&t));
        let z = gzip(&t);
        let d = sha(&z);
        let mut stored = z.clone();
        tamper(i, &mut stored);
        std::fs::write(blobs.join(&d[7..]), &stored).unwrap();
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": z.len()}));
    }
    let mut config = json!({
        "created": "2026-12-01T00:00:00Z", "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "test"}],
    });
    for (k, v) in image_config.as_object().into_iter().flatten() {
        config["config"][k] = v.clone();
    }
    let cb = serde_json::to_vec(&config).unwrap();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(&cb), "size": cb.len()},
        "layers": descs,
    });
    let mb = serde_json::to_vec(&manifest).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(&mb), "size": mb.len(),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    dir.to_path_buf()
}

/// A busybox layer: /bin/busybox and its applets as symlinks, /etc/passwd.
pub fn busybox_layer() -> Vec<E> {
    let bb = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    let mut v = vec![dir("bin/"), E { name: "bin/busybox", kind: tar::EntryType::Regular, data: bb, link: "", mode: 0o755 }];
    for a in ["sh", "echo", "cat", "ls", "sleep", "touch", "id", "hostname", "test", "grep", "mount", "stat", "true", "false"] {
        v.push(symlink(Box::leak(format!("bin/{a}").into_boxed_str()), "busybox"));
    }
    v.push(dir("etc/"));
    v.push(file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
    v.push(dir("tmp/"));
    v
}
