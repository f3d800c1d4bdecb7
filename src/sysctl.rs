//! `linux.sysctl`: which keys a container may set (those its own namespaces
//! isolate, as runc allows) and writing them under /proc/sys.

use crate::bail;
use crate::error::{Context, Result};

const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

pub fn check(key: &str, netns: bool, ipcns: bool, utsns: bool) -> Result<()> {
    if key.is_empty() || key.contains("..") || key.starts_with(['/', '.']) {
        bail!("not a sysctl name");
    }
    let key = key.replace('/', ".");
    if IPC_KEYS.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
        if !ipcns {
            bail!("needs a new IPC namespace");
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if !netns {
            bail!("needs a new network namespace");
        }
        return Ok(());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        if !utsns {
            bail!("needs a new UTS namespace");
        }
        return Ok(());
    }
    bail!("not allowed in a container: it is not namespaced")
}

/// Writes each value through kiste's own procfs (src/procfs.rs), never
/// through the container's /proc, which the container could redirect.
pub fn apply(sysctl: &std::collections::HashMap<String, String>, proc: &crate::procfs::Proc) -> Result<()> {
    for (key, value) in sysctl {
        let rel = format!("sys/{}", key.replace('.', "/"));
        proc.write(&rel, value.as_bytes()).with_context(|| format!("linux.sysctl.{key}: write {value:?}"))?;
    }
    Ok(())
}
