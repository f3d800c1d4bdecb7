//! A managed container's OCI bundle: config.json made from the image's
//! config and the command line, and a rootfs that is the image's layers
//! stacked read-only under the container's own writable layer (overlayfs).

use crate::error::{Context, Error, Result};
use crate::image::digest::Digest;
use crate::image::store::{ImageRecord, Store};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// What `container run`/`create` take from the command line.
#[derive(Default, Clone)]
pub struct Options {
    pub image: String,
    pub command: Vec<String>,
    pub name: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub entrypoint: Option<String>,
    pub volumes: Vec<String>,
    pub read_only: bool,
    pub hostname: Option<String>,
    pub memory: Option<i64>,
    pub pids_limit: Option<i64>,
    pub tty: bool,
    pub rm: bool,
    pub detach: bool,
}

/// config.json for a container of `image` (its config `ic`).
/// `layers`: the image's layer directories, topmost first (for user names).
pub fn config(id: &str, ic: &Value, o: &Options, extra_mounts: &[Value], layers: &[PathBuf]) -> Result<Value> {
    let mut spec = crate::config::default::spec(false);
    let c = &ic["config"];
    let strings = |v: &Value| -> Vec<String> { v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect() };
    let mut args = match &o.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => strings(&c["Entrypoint"]),
    };
    if o.command.is_empty() {
        if o.entrypoint.is_none() || args.is_empty() {
            args.extend(strings(&c["Cmd"]));
        }
    } else {
        args.extend(o.command.iter().cloned());
    }
    if args.is_empty() {
        crate::bail!("no command: the image {} has none, and none was given", o.image);
    }
    let mut env = strings(&c["Env"]);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    for e in &o.env {
        if !e.contains('=') {
            crate::bail!("-e {e:?}: expected KEY=VALUE");
        }
        let key = e.split('=').next().unwrap_or("");
        env.retain(|old| old.split('=').next() != Some(key));
        env.push(e.clone());
    }
    let hostname = o.hostname.clone().unwrap_or_else(|| id[..12].to_string());
    env.push(format!("HOSTNAME={hostname}"));
    let user = o.user.clone().or_else(|| c["User"].as_str().filter(|u| !u.is_empty()).map(String::from));
    let ids = match user.as_deref() {
        None | Some("") => super::user::Ids { uid: 0, gid: 0, groups: Vec::new() },
        Some(u) => super::user::resolve(u, layers)?,
    };
    let cwd =
        o.workdir.clone().or_else(|| c["WorkingDir"].as_str().filter(|w| !w.is_empty()).map(String::from)).unwrap_or_else(|| "/".into());
    spec["process"]["args"] = json!(args);
    spec["process"]["env"] = json!(env);
    spec["process"]["cwd"] = json!(cwd);
    spec["process"]["user"] = json!({"uid": ids.uid, "gid": ids.gid, "additionalGids": ids.groups});
    spec["process"]["terminal"] = json!(o.tty);
    spec["root"] = json!({"path": "rootfs", "readonly": o.read_only});
    spec["hostname"] = json!(hostname);
    let mounts = spec["mounts"].as_array_mut().ok_or_else(|| Error::msg("default spec without mounts"))?;
    mounts.extend(extra_mounts.iter().cloned());
    if let Some(m) = o.memory {
        spec["linux"]["resources"]["memory"] = json!({"limit": m});
    }
    if let Some(p) = o.pids_limit {
        spec["linux"]["resources"]["pids"] = json!({"limit": p});
    }
    Ok(spec)
}

/// What one `-v` asks for.
pub enum VolumeSpec {
    /// `/host/dir:/path[:ro]`
    Bind { source: String, dest: String, ro: bool },
    /// `NAME:/path[:ro]`, or `/path` alone (anonymous: no name given)
    Volume { name: Option<String>, dest: String, ro: bool },
}

/// Parses `-v SOURCE:DEST[:ro|rw]` or `-v DEST`.
pub fn parse_volume(v: &str) -> Result<VolumeSpec> {
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dest, mode) = match parts.as_slice() {
        [d] => ("", *d, "rw"),
        [s, d] => (*s, *d, "rw"),
        [s, d, m] => (*s, *d, *m),
        _ => crate::bail!("-v {v:?}: expected [SOURCE:]DEST[:ro|rw]"),
    };
    if !dest.starts_with('/') {
        crate::bail!("-v {v:?}: the destination must be an absolute path");
    }
    if !matches!(mode, "ro" | "rw") {
        crate::bail!("-v {v:?}: mode {mode:?} is not ro or rw");
    }
    let ro = mode == "ro";
    Ok(if src.is_empty() {
        VolumeSpec::Volume { name: None, dest: dest.into(), ro }
    } else if src.starts_with('/') {
        std::fs::metadata(src).with_context(|| format!("-v {v:?}: source {src}"))?;
        VolumeSpec::Bind { source: src.into(), dest: dest.into(), ro }
    } else {
        crate::volume::check_name(src).with_context(|| format!("-v {v:?}"))?;
        VolumeSpec::Volume { name: Some(src.into()), dest: dest.into(), ro }
    })
}

/// A bind mount for config.json.
pub fn bind_mount(source: &Path, dest: &str, ro: bool) -> Value {
    let mut opts = vec!["rbind", "rprivate"];
    if ro {
        opts.push("ro");
    }
    json!({"destination": dest, "type": "bind", "source": source, "options": opts})
}

/// The image's layer directories, top first (overlayfs' lowerdir order).
pub fn lower_dirs(store: &Store, image: &ImageRecord) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for l in image.layers.iter().rev() {
        let p = store.layer_path(&Digest::parse(l)?);
        if !p.is_dir() {
            crate::bail!("image {}: layer {l} is missing from the store", image.name);
        }
        out.push(p);
    }
    Ok(out)
}

/// Mounts the overlay at `dir/bundle/rootfs`.
pub fn mount_rootfs(dir: &Path, lower: &[PathBuf]) -> Result<()> {
    let lowers: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
    let data = format!("lowerdir={},upperdir={},workdir={}", lowers.join(":"), dir.join("upper").display(), dir.join("work").display());
    let target = dir.join("bundle/rootfs");
    nix::mount::mount(Some("overlay"), &target, Some("overlay"), nix::mount::MsFlags::empty(), Some(data.as_str()))
        .with_context(|| format!("mount the container's overlay on {}", target.display()))
}

pub fn unmount_rootfs(dir: &Path) {
    let _ = nix::mount::umount2(&dir.join("bundle/rootfs"), nix::mount::MntFlags::MNT_DETACH);
}
