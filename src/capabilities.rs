//! `process.capabilities`: the five capability sets of the container process.

use crate::error::{Context, Result};
use crate::logging;
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

/// The capabilities this kernel knows (read once: /proc/sys/kernel/cap_last_cap).
fn supported() -> &'static CapsHashSet {
    static ALL: std::sync::OnceLock<CapsHashSet> = std::sync::OnceLock::new();
    ALL.get_or_init(|| caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all()))
}

fn to_caps(set: &Option<oci_spec::runtime::Capabilities>) -> CapsHashSet {
    let all = supported();
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let name = crate::utils::spec_name(c);
        match name.parse::<Capability>() {
            Ok(cap) if all.contains(&cap) => {
                out.insert(cap);
            }
            _ => logging::warn(&format!("process.capabilities: {name} is not supported by this kernel; skipped")),
        }
    }
    out
}

/// Drops every capability not in the bounding set (needs CAP_SETPCAP, so it
/// runs before the user switch).
pub fn drop_bounding(c: &LinuxCapabilities) -> Result<()> {
    let keep = to_caps(c.bounding());
    // Dropped without asking first (one syscall, not two). Where that fails
    // (no CAP_SETPCAP; a capability this kernel does not know), only one
    // still in the set is an error.
    for &cap in supported() {
        if !keep.contains(&cap)
            && let Err(e) = caps::drop(None, CapSet::Bounding, cap)
            && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false)
        {
            return Err(crate::error::Error::msg(e.to_string())).with_context(|| format!("process.capabilities.bounding: drop {cap}"));
        }
    }
    Ok(())
}

/// Sets effective, permitted, inheritable and ambient sets (after the user
/// switch, which kept the permitted set through PR_SET_KEEPCAPS).
pub fn apply(c: &LinuxCapabilities) -> Result<()> {
    let err = |e: caps::errors::CapsError| crate::error::Error::msg(e.to_string());
    let permitted = to_caps(c.permitted());
    let effective = to_caps(c.effective());
    let inheritable = to_caps(c.inheritable());
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(err).context("process.capabilities.inheritable")?;
    caps::set(None, CapSet::Effective, &effective.intersection(&permitted).cloned().collect())
        .map_err(err)
        .context("process.capabilities.effective")?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(err).context("process.capabilities.permitted")?;
    let ambient = to_caps(c.ambient());
    caps::clear(None, CapSet::Ambient).ok();
    // The kernel only lets a capability into the ambient set when it is
    // both permitted and inheritable; runc skips the others, and so do we.
    for cap in ambient {
        if !(permitted.contains(&cap) && inheritable.contains(&cap)) {
            logging::debug(&format!("process.capabilities.ambient: {cap} is not both permitted and inheritable; skipped"));
            continue;
        }
        caps::raise(None, CapSet::Ambient, cap).map_err(err).with_context(|| format!("process.capabilities.ambient: raise {cap}"))?;
    }
    Ok(())
}
