//! The device cgroup of cgroup v1: `linux.resources.devices` in order,
//! then the devices every container may use (the default devices, ptys,
//! and making any node) and those of `linux.devices`, as runc allows them.
//! (cgroup v2 needs a BPF program; not there yet.)

use crate::error::{Context, Result};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use std::path::Path;

fn num(n: Option<i64>) -> String {
    n.filter(|n| *n >= 0).map_or("*".to_string(), |n| n.to_string())
}

fn kind(t: Option<LinuxDeviceType>) -> &'static str {
    match t {
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::P) => "p",
        _ => "a",
    }
}

/// Always allowed (runc's list): mknod of anything, the default devices,
/// /dev/console, ptmx and the ptys, tun.
const DEFAULT_ALLOW: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup], devices: &[LinuxDevice]) -> Result<()> {
    let write = |file: &str, rule: &str| {
        std::fs::write(dir.join(file), rule)
            .with_context(|| format!("linux.resources.devices: write {rule:?} to {}", dir.join(file).display()))
    };
    for r in rules {
        let rule = if kind(r.typ()) == "a" && r.major().is_none() && r.minor().is_none() {
            "a".to_string()
        } else {
            format!("{} {}:{} {}", kind(r.typ()), num(r.major()), num(r.minor()), r.access().as_deref().unwrap_or("rwm"))
        };
        write(if r.allow() { "devices.allow" } else { "devices.deny" }, &rule)?;
    }
    if rules.is_empty() {
        return Ok(());
    }
    for rule in DEFAULT_ALLOW {
        write("devices.allow", rule)?;
    }
    for d in devices {
        write("devices.allow", &format!("{} {}:{} rwm", kind(Some(d.typ())), d.major(), d.minor()))?;
    }
    Ok(())
}
