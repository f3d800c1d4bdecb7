//! The device cgroup: which device nodes the container may read, write or
//! make. The rules are `linux.resources.devices` in order, then the devices
//! every container may use (the default devices, ptys, and making any
//! node) and those of `linux.devices`, as runc allows them. On v1 they are
//! written to `devices.allow`/`devices.deny`; on v2 they become a BPF
//! program (`bpf.rs`).

use crate::error::{Context, Result};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use std::path::Path;

/// Access bits, as the kernel's BPF device context has them.
pub const MKNOD: u32 = 1;
pub const READ: u32 = 2;
pub const WRITE: u32 = 4;

/// One allow or deny rule. `None` is a wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// 'b', 'c', 'p', or None for all.
    pub kind: Option<char>,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: u32,
}

impl Rule {
    fn parse_access(s: &str) -> u32 {
        s.chars()
            .map(|c| match c {
                'r' => READ,
                'w' => WRITE,
                'm' => MKNOD,
                _ => 0,
            })
            .fold(0, |a, b| a | b)
    }

    fn from_spec(r: &LinuxDeviceCgroup) -> Rule {
        let kind = match r.typ() {
            Some(LinuxDeviceType::B) => Some('b'),
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some('c'),
            Some(LinuxDeviceType::P) => Some('p'),
            _ => None,
        };
        let num = |n: Option<i64>| n.filter(|n| *n >= 0);
        let access = Self::parse_access(r.access().as_deref().unwrap_or("rwm"));
        Rule { allow: r.allow(), kind, major: num(r.major()), minor: num(r.minor()), access }
    }

    fn allow(kind: char, major: Option<i64>, minor: Option<i64>, access: u32) -> Rule {
        Rule { allow: true, kind: Some(kind), major, minor, access }
    }

    /// Matches every device and every access: it decides alone.
    pub fn is_total(&self) -> bool {
        self.kind.is_none() && self.major.is_none() && self.minor.is_none() && self.access == MKNOD | READ | WRITE
    }

    /// The v1 `devices.allow`/`devices.deny` line.
    fn v1_line(&self) -> String {
        if self.kind.is_none() && self.major.is_none() && self.minor.is_none() {
            return "a".into();
        }
        let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        let access: String =
            [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')].iter().filter(|(b, _)| self.access & b != 0).map(|(_, c)| *c).collect();
        format!("{} {}:{} {access}", self.kind.unwrap_or('a'), num(self.major), num(self.minor))
    }
}

/// The whole list, in the order it takes effect (a later rule overrides an
/// earlier one). Empty when the config has no device rules: then the
/// container keeps what its parent cgroup allows.
pub fn rules(spec: &[LinuxDeviceCgroup], devices: &[LinuxDevice]) -> Vec<Rule> {
    if spec.is_empty() {
        return Vec::new();
    }
    let rwm = MKNOD | READ | WRITE;
    let mut out: Vec<Rule> = spec.iter().map(Rule::from_spec).collect();
    // Always allowed (runc's list): mknod of anything, the default devices,
    // /dev/console, ptmx and the ptys, tun.
    out.push(Rule::allow('c', None, None, MKNOD));
    out.push(Rule::allow('b', None, None, MKNOD));
    for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (10, 200)] {
        out.push(Rule::allow('c', Some(major), Some(minor), rwm));
    }
    out.push(Rule::allow('c', Some(136), None, rwm));
    for d in devices {
        let kind = match d.typ() {
            LinuxDeviceType::B => 'b',
            // A fifo is no device to the device controller (v1 refuses 'p').
            LinuxDeviceType::P => continue,
            _ => 'c',
        };
        out.push(Rule::allow(kind, Some(d.major()), Some(d.minor()), rwm));
    }
    out
}

/// v1: one write per rule (the kernel takes one rule per write), through
/// one open file for each of devices.allow and devices.deny.
pub fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<()> {
    use std::io::Write;
    let (mut allow, mut deny) = (None, None);
    for r in rules {
        let (name, slot) = if r.allow { ("devices.allow", &mut allow) } else { ("devices.deny", &mut deny) };
        let path = dir.join(name);
        if slot.is_none() {
            *slot = Some(std::fs::OpenOptions::new().write(true).open(&path).with_context(|| format!("open {}", path.display()))?);
        }
        let line = r.v1_line();
        if let Some(f) = slot {
            f.write_all(line.as_bytes()).with_context(|| format!("linux.resources.devices: write {line:?} to {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxDeviceBuilder, LinuxDeviceCgroupBuilder};

    #[test]
    fn devices_of_the_config_are_allowed_but_fifos_need_no_rule() {
        let deny = LinuxDeviceCgroupBuilder::default().allow(false).access("rwm").build().unwrap();
        let dev = |t, major, minor| LinuxDeviceBuilder::default().path("/dev/x").typ(t).major(major).minor(minor).build().unwrap();
        let devices = [dev(LinuxDeviceType::C, 4, 5), dev(LinuxDeviceType::B, 7, 1), dev(LinuxDeviceType::P, 0, 0)];
        let lines: Vec<String> = rules(&[deny], &devices).iter().map(|r| r.v1_line()).collect();
        assert!(lines.contains(&"c 4:5 rwm".to_string()), "{lines:?}");
        assert!(lines.contains(&"b 7:1 rwm".to_string()), "{lines:?}");
        assert!(lines.iter().all(|l| !l.starts_with('p')), "{lines:?}");
    }
}
