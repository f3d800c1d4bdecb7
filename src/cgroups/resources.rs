//! `linux.resources` written into the container's cgroup, for v1 and v2.
//! Each value the kernel refuses is an error naming the key and the value.

use super::Cgroup;
use crate::error::{Context, Result};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

fn write(dir: &Path, file: &str, value: &str, key: &str) -> Result<()> {
    std::fs::write(dir.join(file), value).with_context(|| format!("linux.resources.{key}: write {value:?} to {}", dir.join(file).display()))
}

fn max_or(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

/// `devices`: the config's `linux.devices`, which are allowed too.
pub fn apply(cg: &Cgroup, r: &LinuxResources, devices: &[oci_spec::runtime::LinuxDevice]) -> Result<()> {
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) && super::mode() != super::Mode::Unified {
        crate::bail!("linux.resources.unified: raw cgroup2 keys need a pure cgroup v2 host (this one has {:?} cgroups)", super::mode());
    }
    let dev_rules = super::devices::rules(r.devices().as_deref().unwrap_or(&[]), devices);
    for (ctrls, dir) in &cg.dirs {
        let v2 = ctrls.is_empty();
        // On v2 a controller is there if the parent enabled it for us.
        let enabled =
            if v2 { std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default() } else { ctrls.replace(',', " ") };
        let has = |c: &str| enabled.split_whitespace().any(|x| x == c);
        if !v2 && has("devices") {
            super::devices::apply_v1(dir, &dev_rules)?;
        }
        // v2 has no device controller but a BPF program per cgroup (on a
        // hybrid host the v1 device cgroup does the work). Without
        // privilege (rootless) there is none, as with runc.
        if v2 && !dev_rules.is_empty() && super::mode() == super::Mode::Unified && nix::unistd::geteuid().is_root() {
            super::bpf::apply(dir, &dev_rules)?;
        }
        super::limits::apply(dir, v2, &has, r)?;
        if let Some(m) = r.memory() {
            if has("memory")
                && m.check_before_update() == Some(true)
                && let Some(l) = m.limit().filter(|l| *l > 0)
            {
                let usage = if v2 { "memory.current" } else { "memory.usage_in_bytes" };
                let used: i64 = std::fs::read_to_string(dir.join(usage)).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
                if l < used {
                    crate::bail!(
                        "linux.resources.memory.limit: {l} is below the current usage ({used} bytes) and checkBeforeUpdate is set"
                    );
                }
            }
            if v2 && has("memory") {
                if let Some(l) = m.limit() {
                    write(dir, "memory.max", &max_or(l), "memory.limit")?;
                }
                if let Some(l) = m.reservation() {
                    write(dir, "memory.low", &max_or(l), "memory.reservation")?;
                }
                if let (Some(s), l) = (m.swap(), m.limit()) {
                    // v1's swap is memory+swap; v2 counts swap alone.
                    let v = if s < 0 { "max".to_string() } else { (s - l.unwrap_or(0)).max(0).to_string() };
                    write(dir, "memory.swap.max", &v, "memory.swap")?;
                }
            } else if has("memory") {
                if let Some(l) = m.limit() {
                    write(dir, "memory.limit_in_bytes", &l.to_string(), "memory.limit")?;
                }
                if let Some(l) = m.reservation() {
                    write(dir, "memory.soft_limit_in_bytes", &l.to_string(), "memory.reservation")?;
                }
                if let Some(s) = m.swap() {
                    write(dir, "memory.memsw.limit_in_bytes", &s.to_string(), "memory.swap")?;
                }
                if let Some(s) = m.swappiness() {
                    write(dir, "memory.swappiness", &s.to_string(), "memory.swappiness")?;
                }
                if m.disable_oom_killer() == Some(true) {
                    write(dir, "memory.oom_control", "1", "memory.disableOOMKiller")?;
                }
                // Every kernel since 5.x is hierarchical; only "true" is written.
                if m.use_hierarchy() == Some(true) && dir.join("memory.use_hierarchy").exists() {
                    write(dir, "memory.use_hierarchy", "1", "memory.useHierarchy")?;
                }
                // Kernel memory limits: deprecated, skipped where the kernel
                // has no such file or no longer supports them (as runc does).
                for (v, file, key) in [
                    (m.kernel(), "memory.kmem.limit_in_bytes", "memory.kernel"),
                    (m.kernel_tcp(), "memory.kmem.tcp.limit_in_bytes", "memory.kernelTCP"),
                ] {
                    if let Some(v) = v
                        && dir.join(file).exists()
                    {
                        match write(dir, file, &v.to_string(), key) {
                            Err(e) if e.errno() == Some(nix::errno::Errno::EOPNOTSUPP) => {}
                            r => r?,
                        }
                    }
                }
            }
        }
        if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
            if !v2 && has("blkio") {
                write(dir, "blkio.weight", &w.to_string(), "blockIO.weight")?;
            } else if v2 && has("io") {
                // blkio's 10-1000 onto io.weight's 1-10000, as runc maps it.
                write(dir, "io.weight", &(1 + (u64::from(w).saturating_sub(10)) * 9999 / 990).to_string(), "blockIO.weight")?;
            }
        }
        if let Some(p) = r.pids()
            && has("pids")
        {
            write(dir, "pids.max", &max_or(if p.limit() > 0 { p.limit() } else { -1 }), "pids.limit")?;
        }
        if let Some(c) = r.cpu() {
            if v2 && has("cpu") {
                if let Some(s) = c.shares() {
                    // runc's conversion of shares [2, 262144] to weight [1, 10000].
                    let w = if s == 0 { 0 } else { 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142 };
                    if w > 0 {
                        write(dir, "cpu.weight", &w.to_string(), "cpu.shares")?;
                    }
                }
                if c.quota().is_some() || c.period().is_some() {
                    let q = c.quota().map_or("max".to_string(), max_or);
                    write(dir, "cpu.max", &format!("{q} {}", c.period().unwrap_or(100_000)), "cpu.quota")?;
                }
                if let Some(b) = c.burst() {
                    write(dir, "cpu.max.burst", &b.to_string(), "cpu.burst")?;
                }
            } else if has("cpu") {
                if let Some(s) = c.shares() {
                    write(dir, "cpu.shares", &s.to_string(), "cpu.shares")?;
                }
                if let Some(p) = c.period() {
                    write(dir, "cpu.cfs_period_us", &p.to_string(), "cpu.period")?;
                }
                if let Some(q) = c.quota() {
                    write(dir, "cpu.cfs_quota_us", &q.to_string(), "cpu.quota")?;
                }
                if let Some(p) = c.realtime_period() {
                    write(dir, "cpu.rt_period_us", &p.to_string(), "cpu.realtimePeriod")?;
                }
                if let Some(r) = c.realtime_runtime() {
                    write(dir, "cpu.rt_runtime_us", &r.to_string(), "cpu.realtimeRuntime")?;
                }
                if let Some(b) = c.burst() {
                    write(dir, "cpu.cfs_burst_us", &b.to_string(), "cpu.burst")?;
                }
            }
            if let Some(i) = c.idle().filter(|_| has("cpu")) {
                write(dir, "cpu.idle", &i.to_string(), "cpu.idle")?;
            }
            if has("cpuset") {
                if let Some(s) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                    write(dir, "cpuset.cpus", s, "cpu.cpus")?;
                }
                if let Some(s) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                    write(dir, "cpuset.mems", s, "cpu.mems")?;
                }
            }
        }
    }
    Ok(())
}
