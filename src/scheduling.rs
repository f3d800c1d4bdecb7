//! How the container process is scheduled: `process.scheduler`
//! (sched_setattr), `process.ioPriority` (ioprio_set) and
//! `process.execCPUAffinity` (sched_setaffinity).

use crate::bail;
use crate::error::{Context, Result};
use crate::utils::{parse_list, spec_name};
use oci_spec::runtime::{LinuxIOPriority, Scheduler};

/// struct sched_attr of the kernel (linux/sched/types.h).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

pub fn set_scheduler(s: &Scheduler) -> Result<()> {
    let policy = match spec_name(s.policy()).as_str() {
        "SCHED_OTHER" => 0,
        "SCHED_FIFO" => 1,
        "SCHED_RR" => 2,
        "SCHED_BATCH" => 3,
        "SCHED_ISO" => 4,
        "SCHED_IDLE" => 5,
        "SCHED_DEADLINE" => 6,
        other => bail!("process.scheduler.policy: unknown policy {other}"),
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match spec_name(f).as_str() {
            "SCHED_RESET_ON_FORK" | "SCHED_FLAG_RESET_ON_FORK" => 0x01,
            "SCHED_FLAG_RECLAIM" => 0x02,
            "SCHED_FLAG_DL_OVERRUN" => 0x04,
            "SCHED_FLAG_KEEP_POLICY" => 0x08,
            "SCHED_FLAG_KEEP_PARAMS" => 0x10,
            "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
            "SCHED_FLAG_UTIL_CLAMP_MAX" => 0x40,
            other => bail!("process.scheduler.flags: unknown flag {other}"),
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } != 0 {
        return Err(nix::errno::Errno::last())
            .with_context(|| format!("process.scheduler: sched_setattr policy {}", spec_name(s.policy())));
    }
    Ok(())
}

pub fn set_io_priority(p: &LinuxIOPriority) -> Result<()> {
    let class = match spec_name(&p.class()).as_str() {
        "IOPRIO_CLASS_RT" => 1,
        "IOPRIO_CLASS_BE" => 2,
        "IOPRIO_CLASS_IDLE" => 3,
        other => bail!("process.ioPriority.class: unknown class {other}"),
    };
    if !(0..=7).contains(&p.priority()) {
        bail!("process.ioPriority.priority: {} is not in 0-7", p.priority());
    }
    const IOPRIO_WHO_PROCESS: i32 = 1;
    let value = (class << 13) | p.priority() as i32;
    if unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) } != 0 {
        return Err(nix::errno::Errno::last()).context("process.ioPriority: ioprio_set");
    }
    Ok(())
}

/// Pins the calling process to the CPUs of a list ("0-3,7").
pub fn set_affinity(list: &str, field: &str) -> Result<()> {
    let cpus = parse_list(list).ok_or_else(|| crate::error::Error::msg(format!("{field}: {list:?} is not a CPU list")))?;
    let mut set = nix::sched::CpuSet::new();
    for c in cpus {
        set.set(c).with_context(|| format!("{field}: CPU {c}"))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).with_context(|| format!("{field}: sched_setaffinity {list:?}"))
}
