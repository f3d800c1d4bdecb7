//! The shape in which `config.json` (and an exec's `--process` file) is read.
//!
//! It is oci-spec's `Spec` and `Process`, field for field, read through our
//! own two top-level structs so that oci-spec's own deserializer for
//! `Process` is never linked in: that one checks `execCPUAffinity` with the
//! `regex` crate, about 400 KB of code, and every page of the binary costs
//! start-up time and resident memory. The CPU list is checked here instead.
//! Every other field keeps oci-spec's type and deserializer, so errors name
//! the same JSON paths.

use oci_spec::runtime::{
    Box as ConsoleBox, Capabilities, Capability, ExecCPUAffinity, Hooks, Linux, LinuxCapabilities, LinuxIOPriority, Mount,
    PosixRlimitBuilder, PosixRlimitType, Process, Root, Scheduler, Spec, User,
};
use serde::{Deserialize, Deserializer, de};
use std::collections::HashMap;
use std::path::PathBuf;

/// `config.json`'s top level. Fields of other platforms (solaris, windows,
/// vm, zos) are not read: a Linux runtime has no use for them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecDocument {
    #[serde(default, rename = "ociVersion")]
    version: String,
    #[serde(default)]
    root: Option<Root>,
    #[serde(default)]
    mounts: Option<Vec<Mount>>,
    #[serde(default)]
    process: Option<ProcessDocument>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    domainname: Option<String>,
    #[serde(default)]
    hooks: Option<Hooks>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
    #[serde(default)]
    linux: Option<Linux>,
}

impl SpecDocument {
    pub fn into_spec(self) -> Spec {
        // Spec's Default is a whole example config; every field is set here.
        let mut s = Spec::default();
        s.set_version(self.version)
            .set_root(self.root)
            .set_mounts(self.mounts)
            .set_process(self.process.map(ProcessDocument::into_process))
            .set_hostname(self.hostname)
            .set_domainname(self.domainname)
            .set_hooks(self.hooks)
            .set_annotations(self.annotations)
            .set_linux(self.linux)
            .set_solaris(None)
            .set_windows(None)
            .set_vm(None)
            .set_zos(None);
        s
    }
}

/// `process`, in config.json or in an exec's `--process` file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessDocument {
    #[serde(default)]
    terminal: Option<bool>,
    #[serde(default)]
    console_size: Option<ConsoleBox>,
    user: UserDocument,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    command_line: Option<String>,
    #[serde(default)]
    env: Option<Vec<String>>,
    cwd: PathBuf,
    #[serde(default)]
    capabilities: Option<CapabilitiesDocument>,
    #[serde(default)]
    rlimits: Option<Vec<RlimitDocument>>,
    #[serde(default)]
    no_new_privileges: Option<bool>,
    #[serde(default)]
    apparmor_profile: Option<String>,
    #[serde(default)]
    oom_score_adj: Option<i32>,
    #[serde(default)]
    selinux_label: Option<String>,
    #[serde(default)]
    io_priority: Option<LinuxIOPriority>,
    #[serde(default)]
    scheduler: Option<Scheduler>,
    #[serde(default, rename = "execCPUAffinity")]
    exec_cpu_affinity: Option<CpuAffinityDocument>,
}

/// `process.user`: uid and gid are required (runc would take a missing one
/// for 0, that is root), and ids the kernel reads as -1 ("unchanged") or
/// as negative are refused.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDocument {
    #[serde(deserialize_with = "id")]
    uid: u32,
    #[serde(deserialize_with = "id")]
    gid: u32,
    #[serde(default, deserialize_with = "umask")]
    umask: Option<u32>,
    #[serde(default, deserialize_with = "ids")]
    additional_gids: Option<Vec<u32>>,
    #[serde(default)]
    username: Option<String>,
}

/// `process.rlimits[i]`: both limits required.
#[derive(Deserialize)]
struct RlimitDocument {
    #[serde(rename = "type")]
    typ: PosixRlimitType,
    hard: u64,
    soft: u64,
}

/// `process.capabilities`: names this build does not know are dropped with
/// a warning, as runc does (a newer kernel's capability in an older
/// runtime); anything but a string is a type error.
#[derive(Deserialize)]
struct CapabilitiesDocument {
    #[serde(default)]
    bounding: Option<Vec<String>>,
    #[serde(default)]
    effective: Option<Vec<String>>,
    #[serde(default)]
    inheritable: Option<Vec<String>>,
    #[serde(default)]
    permitted: Option<Vec<String>>,
    #[serde(default)]
    ambient: Option<Vec<String>>,
}

impl CapabilitiesDocument {
    fn into_capabilities(self) -> LinuxCapabilities {
        let set = |name: &str, list: Option<Vec<String>>| -> Option<Capabilities> {
            list.map(|l| {
                l.into_iter()
                    .filter_map(|c| match serde_json::from_value::<Capability>(serde_json::Value::String(c.clone())) {
                        Ok(cap) => Some(cap),
                        Err(_) => {
                            crate::logging::warn(&format!("process.capabilities.{name}: unknown capability {c:?} ignored"));
                            None
                        }
                    })
                    .collect()
            })
        };
        let mut caps = LinuxCapabilities::default();
        caps.set_bounding(set("bounding", self.bounding))
            .set_effective(set("effective", self.effective))
            .set_inheritable(set("inheritable", self.inheritable))
            .set_permitted(set("permitted", self.permitted))
            .set_ambient(set("ambient", self.ambient));
        caps
    }
}

/// The largest id a process can have: above it the kernel's int is negative.
const ID_MAX: u32 = i32::MAX as u32;

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if v > ID_MAX {
        return Err(de::Error::custom(format!("{v} is out of range (0 to {ID_MAX})")));
    }
    Ok(v)
}

fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u32>>, D::Error> {
    let v = Option::<Vec<u32>>::deserialize(d)?;
    if let Some(bad) = v.iter().flatten().find(|&&g| g > ID_MAX) {
        return Err(de::Error::custom(format!("{bad} is out of range (0 to {ID_MAX})")));
    }
    Ok(v)
}

fn umask<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = Option::<u32>::deserialize(d)?;
    if let Some(m) = v
        && m > 0o777
    {
        return Err(de::Error::custom(format!("{m} is not a umask (0 to 0o777, i.e. 511)")));
    }
    Ok(v)
}

#[derive(Deserialize)]
struct CpuAffinityDocument {
    #[serde(default, deserialize_with = "cpu_list")]
    initial: Option<String>,
    #[serde(default, rename = "final", deserialize_with = "cpu_list")]
    last: Option<String>,
}

impl ProcessDocument {
    pub fn into_process(self) -> Process {
        let mut p = Process::default();
        let affinity = self.exec_cpu_affinity.map(|a| {
            let mut e = ExecCPUAffinity::default();
            e.set_initial(a.initial).set_cpu_affinity_final(a.last);
            e
        });
        p.set_terminal(self.terminal)
            .set_console_size(self.console_size)
            .set_user({
                let u = self.user;
                let mut user = User::default();
                user.set_uid(u.uid).set_gid(u.gid).set_umask(u.umask).set_additional_gids(u.additional_gids).set_username(u.username);
                user
            })
            .set_args(self.args)
            .set_command_line(self.command_line)
            .set_env(self.env)
            .set_cwd(self.cwd)
            .set_capabilities(self.capabilities.map(CapabilitiesDocument::into_capabilities))
            .set_rlimits(self.rlimits.map(|l| {
                l.into_iter()
                    .map(|r| {
                        PosixRlimitBuilder::default().typ(r.typ).hard(r.hard).soft(r.soft).build().expect("every field of an rlimit is set")
                    })
                    .collect()
            }))
            .set_no_new_privileges(self.no_new_privileges)
            .set_apparmor_profile(self.apparmor_profile)
            .set_oom_score_adj(self.oom_score_adj)
            .set_selinux_label(self.selinux_label)
            .set_io_priority(self.io_priority)
            .set_scheduler(self.scheduler)
            .set_exec_cpu_affinity(affinity);
        p
    }
}

/// A CPU list as the kernel's cpuset files write it: `0-3,7`.
fn cpu_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    if let Some(s) = &value
        && !is_cpu_list(s)
    {
        return Err(de::Error::custom(format!("{s:?} is not a CPU list such as 0-3,7")));
    }
    Ok(value)
}

fn is_cpu_list(s: &str) -> bool {
    let number = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    s.split(',').all(|item| match item.split_once('-') {
        Some((a, b)) => number(a) && number(b),
        None => number(item),
    })
}

#[cfg(test)]
mod tests {
    use super::is_cpu_list;

    #[test]
    fn cpu_lists() {
        for ok in ["0", "0-3", "0-3,7", "1,2,3", "10-12,14"] {
            assert!(is_cpu_list(ok), "{ok}");
        }
        for bad in ["", ",", "0,", "-1", "0-", "a", "0-3-5", "0 ,1", "0;1"] {
            assert!(!is_cpu_list(bad), "{bad}");
        }
    }
}
