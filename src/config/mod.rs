//! Reading and checking a bundle's `config.json`. Every error names the field
//! (as a JSON path, e.g. `linux.namespaces[2].type`) and the reason.

use crate::bail;
use crate::error::{Context, Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub mod default;
mod document;
mod values;

pub use document::ProcessDocument;

pub const CONFIG_FILE: &str = "config.json";

/// A checked configuration with its bundle and rootfs made absolute.
pub struct Config {
    pub spec: Spec,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
}

pub fn load(bundle: &Path) -> Result<Config> {
    let bundle = crate::utils::real_path(bundle).with_context(|| format!("bundle {}", bundle.display()))?;
    let path = bundle.join(CONFIG_FILE);
    let text = read_config(&path)?;
    let spec = parse(&text).with_context(|| format!("{}", path.display()))?;
    let root = spec.root().as_ref().ok_or_else(|| Error::msg("root: must be set"))?;
    if root.path().as_os_str().is_empty() {
        bail!("root.path: must not be empty");
    }
    let rootfs = bundle.join(root.path());
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("root.path: rootfs ({}) is not a directory", rootfs.display()),
        Err(_) => bail!("root.path: rootfs ({}) does not exist", rootfs.display()),
    }
    let rootfs = crate::utils::real_path(&rootfs).with_context(|| format!("rootfs {}", rootfs.display()))?;
    if rootfs == Path::new("/") {
        bail!("root.path: {:?} leads to the host's / , which cannot be a container's rootfs", root.path());
    }
    validate(&spec)?;
    Ok(Config { spec, bundle, rootfs })
}

/// No config.json is larger than this; a larger file is not one.
const MAX_CONFIG: u64 = 16 << 20;

/// Reads config.json, which must be a regular file of sensible size (not,
/// say, a link to /dev/zero).
fn read_config(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let meta = f.metadata().with_context(|| format!("stat {}", path.display()))?;
    if !meta.is_file() {
        bail!("{}: not a regular file", path.display());
    }
    // Sized from the file: one read, not a doubling series from 32 bytes.
    let mut text = Vec::with_capacity(meta.len().min(MAX_CONFIG) as usize + 1);
    f.take(MAX_CONFIG + 1).read_to_end(&mut text).with_context(|| format!("read {}", path.display()))?;
    if text.len() as u64 > MAX_CONFIG {
        bail!("{}: larger than {} MiB", path.display(), MAX_CONFIG >> 20);
    }
    Ok(text)
}

/// Parses config.json text, straight from the bytes (so that a key given
/// twice is refused rather than the last one silently winning). Every
/// error names the JSON path where it was found.
pub fn parse(text: &[u8]) -> Result<Spec> {
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        bail!("invalid JSON: the top level must be an object");
    }
    // Without path tracking first (half the cost); an error is found
    // again with it, for the message.
    if let Ok(doc) = serde_json::from_slice::<document::SpecDocument>(text) {
        return Ok(doc.into_spec());
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    let doc: document::SpecDocument = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let syntax = matches!(inner.classify(), serde_json::error::Category::Syntax | serde_json::error::Category::Eof);
        match (syntax, path.as_str()) {
            (true, ".") => Error::msg(format!("invalid JSON: {inner}")),
            (true, _) => Error::msg(format!("{path}: invalid JSON: {inner}")),
            (false, ".") => Error::msg(format!("config: {inner}")),
            (false, _) => Error::msg(format!("{path}: {inner}")),
        }
    })?;
    de.end().map_err(|e| Error::msg(format!("invalid JSON: {e}")))?;
    Ok(doc.into_spec())
}

/// Checks the parts of the spec that serde cannot: required fields, paths that
/// must be absolute, combinations the kernel would refuse later.
pub fn validate(spec: &Spec) -> Result<()> {
    values::check(spec)?;
    let process = spec.process().as_ref().ok_or_else(|| Error::msg("process: must be set"))?;
    match process.args() {
        Some(a) if !a.is_empty() && !a[0].is_empty() => {}
        _ => bail!("process.args: must not be empty"),
    }
    if !process.cwd().is_absolute() {
        bail!("process.cwd: {:?} is not an absolute path", process.cwd());
    }
    for (i, e) in process.env().iter().flatten().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            bail!("process.env[{i}]: {e:?} is not of the form KEY=VALUE");
        }
    }
    let mut rlimit_types = HashSet::new();
    for (i, r) in process.rlimits().iter().flatten().enumerate() {
        if !rlimit_types.insert(format!("{:?}", r.typ())) {
            bail!("process.rlimits[{i}]: duplicate type {:?}", r.typ());
        }
        if r.soft() > r.hard() {
            bail!("process.rlimits[{i}]: soft limit {} is above hard limit {}", r.soft(), r.hard());
        }
    }
    let linux = spec.linux().as_ref();
    let namespaces = linux.and_then(|l| l.namespaces().as_ref());
    let mut seen = HashSet::new();
    for (i, ns) in namespaces.iter().flat_map(|v| v.iter()).enumerate() {
        if !seen.insert(ns.typ()) {
            bail!("linux.namespaces[{i}]: duplicate namespace type {}", ns.typ());
        }
        if let Some(p) = ns.path()
            && !p.is_absolute()
        {
            bail!("linux.namespaces[{i}].path: {:?} is not an absolute path", p);
        }
    }
    let has = |t: LinuxNamespaceType| seen.contains(&t);
    let userns_new = namespaces.into_iter().flatten().any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    if let Some(l) = linux {
        let maps = l.uid_mappings().as_ref().is_some_and(|m| !m.is_empty()) || l.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        if userns_new && l.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            bail!("linux.uidMappings: a new user namespace needs uid mappings");
        }
        if userns_new && l.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            bail!("linux.gidMappings: a new user namespace needs gid mappings");
        }
        if maps && !userns_new {
            bail!("linux.uidMappings: mappings are only allowed with a new user namespace");
        }
        if let Some(p) = l.rootfs_propagation()
            && crate::rootfs::options::propagation(p).is_none()
        {
            bail!("linux.rootfsPropagation: unknown value {p:?}");
        }
        for (i, d) in l.devices().iter().flatten().enumerate() {
            if !d.path().is_absolute() {
                bail!("linux.devices[{i}].path: {:?} is not an absolute path", d.path());
            }
            if !d.path().starts_with("/dev") {
                bail!("linux.devices[{i}].path: {:?} is not under /dev", d.path());
            }
            use oci_spec::runtime::LinuxDeviceType as T;
            if matches!(d.typ(), T::A) {
                bail!("linux.devices[{i}].type: \"a\" is not a device type");
            }
            if !matches!(d.typ(), T::P) && (d.major() < 0 || d.minor() < 0) {
                bail!("linux.devices[{i}]: major and minor must not be negative");
            }
        }
        // In name order: of several refused keys the same one is named on
        // every run (a HashMap's order changes from one process to the next).
        let mut keys: Vec<&String> = l.sysctl().iter().flatten().map(|(k, _)| k).collect();
        keys.sort();
        for key in keys {
            crate::sysctl::check(key, has(LinuxNamespaceType::Network), has(LinuxNamespaceType::Ipc), has(LinuxNamespaceType::Uts))
                .with_context(|| format!("linux.sysctl.{key}"))?;
        }
        if l.time_offsets().is_some() && !has(LinuxNamespaceType::Time) {
            bail!("linux.timeOffsets: needs a time namespace");
        }
        if let Some(p) = l.cgroups_path()
            && p.components().any(|c| c == std::path::Component::ParentDir)
        {
            bail!("linux.cgroupsPath: {:?} must not contain \"..\"", p);
        }
    }
    crate::lsm::check(spec)?;
    if linux.is_some_and(|l| l.intel_rdt().is_some()) {
        if std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().contains(" - resctrl ") {
            bail!("linux.intelRdt: Intel RDT is not supported by kiste yet");
        }
        bail!("linux.intelRdt: Intel RDT is not available on this host (no resctrl filesystem mounted at /sys/fs/resctrl)");
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("hostname: setting it needs a new UTS namespace");
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("domainname: setting it needs a new UTS namespace");
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if m.destination().as_os_str().is_empty() {
            bail!("mounts[{i}].destination: must not be empty");
        }
        for o in m.options().iter().flatten() {
            crate::rootfs::options::check(o).with_context(|| format!("mounts[{i}].options"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Found by the config fuzz target (a spec parsed twice validated with
    /// two different errors): with two refused sysctl keys, the one named
    /// depended on the HashMap's order, which changes from run to run.
    #[test]
    fn of_several_bad_sysctls_the_same_one_is_named_every_time() {
        let text = br#"{"ociVersion": "1.0.2", "process": {"user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/"},
            "linux": {"sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "net.core.somaxconn": "1", "fs.mqueue.msg_max": "1"}}}"#;
        for _ in 0..32 {
            let spec = super::parse(text).unwrap();
            let err = super::validate(&spec).unwrap_err().to_string();
            assert_eq!(err, "linux.sysctl.fs.mqueue.msg_max: needs a new IPC namespace");
        }
    }
}
