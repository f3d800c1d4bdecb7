//! Linux security modules: `process.apparmorProfile`, `process.selinuxLabel`
//! and `linux.mountLabel`. A profile or label is set for the next execve
//! through /proc/self/attr. Where the LSM is absent: AppArmor fails on that
//! write, and an SELinux label is refused at create, as with runc.

use crate::bail;
use crate::error::{Context, Result};
use std::path::Path;

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y")
}

pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Checked at create: SELinux labels need SELinux.
pub fn check(spec: &oci_spec::runtime::Spec) -> Result<()> {
    let label = spec.process().as_ref().and_then(|p| p.selinux_label().as_deref()).filter(|l| !l.is_empty());
    if label.is_some() && !selinux_enabled() {
        bail!("process.selinuxLabel: selinux label is specified in config, but selinux is disabled or not supported");
    }
    Ok(())
}

/// The file that sets the AppArmor profile for the next exec: the
/// AppArmor-specific one where the kernel has it.
pub fn apparmor_exec_file() -> &'static str {
    if Path::new("/proc/self/attr/apparmor/exec").exists() { "/proc/self/attr/apparmor/exec" } else { "/proc/self/attr/exec" }
}

/// Sets the profile and label the user program gets at execve, written
/// through kiste's own procfs (src/procfs.rs): a container that puts
/// something over its /proc/self/attr must not swallow them.
pub fn apply(process: &oci_spec::runtime::Process, proc: &crate::procfs::Lazy) -> Result<()> {
    if let Some(profile) = process.apparmor_profile().as_deref().filter(|p| !p.is_empty()) {
        let file = apparmor_exec_file();
        proc.get()
            .and_then(|p| p.write(&p.thread_path(file.trim_start_matches("/proc/self/"))?, format!("exec {profile}").as_bytes()))
            .with_context(|| format!("process.apparmorProfile: apply profile {profile:?}: write {file}"))?;
    }
    if let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        proc.get()
            .and_then(|p| p.write(&p.thread_path("attr/exec")?, label.as_bytes()))
            .with_context(|| format!("process.selinuxLabel: apply {label:?}: write /proc/self/attr/exec"))?;
    }
    Ok(())
}
