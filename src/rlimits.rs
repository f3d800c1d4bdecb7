//! `process.rlimits`.

use crate::error::{Context, Result};
use oci_spec::runtime::PosixRlimit;

#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

fn resource(name: &str) -> Option<Resource> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    for l in limits {
        let name = crate::utils::spec_name(&l.typ());
        let Some(res) = resource(&name) else { crate::bail!("process.rlimits: unknown type {name}") };
        let lim = libc::rlimit { rlim_cur: l.soft(), rlim_max: l.hard() };
        if unsafe { libc::setrlimit(res, &lim) } != 0 {
            return Err(nix::errno::Errno::last()).with_context(|| format!("process.rlimits: set {name} to {}:{}", l.soft(), l.hard()));
        }
    }
    Ok(())
}
