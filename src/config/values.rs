//! Checks of values that parse but that the spec or the kernel refuse, or
//! that the kernel would silently read as something else: hooks, device
//! numbers and modes, paths, sizes. Each error names the JSON field.

use crate::bail;
use crate::error::Result;
use oci_spec::runtime::{Hook, Spec};
use std::path::{Component, Path};

/// The kernel's limit for one argument or environment string.
const MAX_ARG_STRLEN: usize = 32 * 4096;

pub fn check(spec: &Spec) -> Result<()> {
    version(spec.version())?;
    if let Some(p) = spec.process() {
        arg_sizes(p.args().as_deref().unwrap_or(&[]), p.env().as_deref().unwrap_or(&[]))?;
    }
    if let Some(h) = spec.hooks() {
        let kinds: [(&str, &Option<Vec<Hook>>); 6] = [
            ("prestart", h.prestart()),
            ("createRuntime", h.create_runtime()),
            ("createContainer", h.create_container()),
            ("startContainer", h.start_container()),
            ("poststart", h.poststart()),
            ("poststop", h.poststop()),
        ];
        for (kind, list) in kinds {
            for (i, hook) in list.iter().flatten().enumerate() {
                self::hook(&format!("hooks.{kind}[{i}]"), hook)?;
            }
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        absolute(&format!("mounts[{i}].destination"), m.destination())?;
    }
    let Some(l) = spec.linux() else { return Ok(()) };
    for (field, list) in [("maskedPaths", l.masked_paths()), ("readonlyPaths", l.readonly_paths())] {
        for (i, p) in list.iter().flatten().enumerate() {
            absolute(&format!("linux.{field}[{i}]"), Path::new(p))?;
        }
    }
    for (field, maps) in [("uidMappings", l.uid_mappings()), ("gidMappings", l.gid_mappings())] {
        for (i, m) in maps.iter().flatten().enumerate() {
            if m.size() == 0 {
                bail!("linux.{field}[{i}].size: must be at least 1");
            }
        }
    }
    for (i, d) in l.devices().iter().flatten().enumerate() {
        if d.path().components().any(|c| c == Component::ParentDir) {
            bail!("linux.devices[{i}].path: {:?} must not contain \"..\"", d.path());
        }
        // Above these the kernel's dev_t encoding wraps to another device.
        if d.major() > 4095 {
            bail!("linux.devices[{i}].major: {} is above the largest major number, 4095", d.major());
        }
        if d.minor() > 1_048_575 {
            bail!("linux.devices[{i}].minor: {} is above the largest minor number, 1048575", d.minor());
        }
        if let Some(m) = d.file_mode()
            && m > 0o777
        {
            bail!("linux.devices[{i}].fileMode: {m} is not a permission mode (0 to 0o777, i.e. 511)");
        }
    }
    if let Some(r) = l.resources() {
        for (i, d) in r.devices().iter().flatten().enumerate() {
            if let Some(a) = d.access()
                && a.chars().any(|c| !matches!(c, 'r' | 'w' | 'm'))
            {
                bail!("linux.resources.devices[{i}].access: {a:?} may only hold r, w and m");
            }
        }
        for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
            if !page_size(h.page_size()) {
                bail!("linux.resources.hugepageLimits[{i}].pageSize: {:?} is not a page size such as 2MB or 1GB", h.page_size());
            }
        }
    }
    if let Some(s) = l.seccomp() {
        if let Some(e) = s.default_errno_ret() {
            errno("linux.seccomp.defaultErrnoRet", e)?;
        }
        for (i, rule) in s.syscalls().iter().flatten().enumerate() {
            if let Some(e) = rule.errno_ret() {
                errno(&format!("linux.seccomp.syscalls[{i}].errnoRet"), e)?;
            }
        }
    }
    Ok(())
}

/// `ociVersion`: a version such as 1.0.2 or 1.2.0-rc.1.
fn version(v: &str) -> Result<()> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        bail!("ociVersion: {v:?} is not a version such as 1.0.2");
    }
    Ok(())
}

fn hook(field: &str, h: &Hook) -> Result<()> {
    absolute(&format!("{field}.path"), h.path())?;
    if let Some(t) = h.timeout()
        && t <= 0
    {
        bail!("{field}.timeout: {t} must be greater than zero");
    }
    for (i, e) in h.env().iter().flatten().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            bail!("{field}.env[{i}]: {e:?} is not of the form KEY=VALUE");
        }
    }
    Ok(())
}

fn absolute(field: &str, p: &Path) -> Result<()> {
    if !p.is_absolute() {
        bail!("{field}: {:?} is not an absolute path", p);
    }
    Ok(())
}

/// What execve would refuse with E2BIG, said before anything is made.
fn arg_sizes(args: &[String], env: &[String]) -> Result<()> {
    for (field, list) in [("process.args", args), ("process.env", env)] {
        if let Some((i, s)) = list.iter().enumerate().find(|(_, s)| s.len() >= MAX_ARG_STRLEN) {
            bail!("{field}[{i}]: {} bytes long, the kernel takes at most {} per string", s.len(), MAX_ARG_STRLEN - 1);
        }
    }
    let max = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
    let total: usize = args.iter().chain(env).map(|s| s.len() + 1 + size_of::<usize>()).sum();
    if max > 0 && total > max as usize {
        bail!("process.args: the arguments and environment take {total} bytes, more than the kernel's limit of {max}");
    }
    Ok(())
}

fn errno(field: &str, e: u32) -> Result<()> {
    if e > 4095 {
        bail!("{field}: {e} is not an errno number (1 to 4095)");
    }
    Ok(())
}

/// A hugetlb page size: a power of two with a KB, MB or GB suffix.
fn page_size(s: &str) -> bool {
    let Some(unit) = ["KB", "MB", "GB"].iter().find(|u| s.ends_with(*u)) else { return false };
    s[..s.len() - unit.len()].parse::<u64>().is_ok_and(|n| n.is_power_of_two())
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_and_page_sizes() {
        for ok in ["1.0.0", "1.2.1", "1.0.2-dev", "1.1.0-rc.1+build"] {
            assert!(super::version(ok).is_ok(), "{ok}");
        }
        for bad in ["", "banana", "1.0", "1..0", "v1.0.0"] {
            assert!(super::version(bad).is_err(), "{bad}");
        }
        assert!(super::page_size("2MB") && super::page_size("1GB") && super::page_size("64KB"));
        assert!(!super::page_size("3MB") && !super::page_size("2M") && !super::page_size("MB"));
    }
}
