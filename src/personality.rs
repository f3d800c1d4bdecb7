//! `linux.personality` (the execution domain) and `linux.memoryPolicy`
//! (the NUMA policy), both set on the init before it execs.

use crate::bail;
use crate::error::{Context, Result};
use crate::utils::{parse_list, spec_name};
use oci_spec::runtime::{LinuxMemoryPolicy, LinuxPersonality};

pub fn set_personality(p: &LinuxPersonality) -> Result<()> {
    let domain: libc::c_ulong = match spec_name(&p.domain()).as_str() {
        "LINUX" => 0x0000,
        "LINUX32" => 0x0008,
        other => bail!("linux.personality.domain: unknown domain {other}"),
    };
    if let Some(f) = p.flags().as_ref().and_then(|f| f.first()) {
        bail!("linux.personality.flags: {f} is not supported");
    }
    if unsafe { libc::personality(domain) } < 0 {
        return Err(nix::errno::Errno::last()).context("linux.personality: personality");
    }
    Ok(())
}

pub fn set_memory_policy(m: &LinuxMemoryPolicy) -> Result<()> {
    let mut mode: i32 = match spec_name(&m.mode()).as_str() {
        "MPOL_DEFAULT" => 0,
        "MPOL_PREFERRED" => 1,
        "MPOL_BIND" => 2,
        "MPOL_INTERLEAVE" => 3,
        "MPOL_LOCAL" => 4,
        "MPOL_PREFERRED_MANY" => 5,
        "MPOL_WEIGHTED_INTERLEAVE" => 6,
        other => bail!("linux.memoryPolicy.mode: unknown mode {other}"),
    };
    for f in m.flags().iter().flatten() {
        mode |= match spec_name(f).as_str() {
            "MPOL_F_NUMA_BALANCING" => 1 << 13,
            "MPOL_F_RELATIVE_NODES" => 1 << 14,
            "MPOL_F_STATIC_NODES" => 1 << 15,
            other => bail!("linux.memoryPolicy.flags: unknown flag {other}"),
        };
    }
    let nodes = m.nodes().as_deref().unwrap_or("");
    let list =
        parse_list(nodes).ok_or_else(|| crate::error::Error::msg(format!("linux.memoryPolicy.nodes: {nodes:?} is not a node list")))?;
    let mut mask = vec![0u64; 64];
    for n in &list {
        mask[n / 64] |= 1 << (n % 64);
    }
    let (ptr, maxnode) = if list.is_empty() { (std::ptr::null(), 0) } else { (mask.as_ptr(), mask.len() * 64) };
    if unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) } != 0 {
        return Err(nix::errno::Errno::last())
            .with_context(|| format!("linux.memoryPolicy: set_mempolicy {} nodes {nodes:?}", spec_name(&m.mode())));
    }
    Ok(())
}
