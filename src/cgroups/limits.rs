//! The less common parts of `linux.resources`: block I/O per device,
//! hugetlb, network class and priorities (v1), rdma, and raw cgroup2 keys
//! (`unified`). Each write that the kernel refuses names key and value.

use crate::bail;
use crate::error::{Context, Result};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

fn write(dir: &Path, file: &str, value: &str, key: &str) -> Result<()> {
    std::fs::write(dir.join(file), value).with_context(|| format!("linux.resources.{key}: write {value:?} to {}", dir.join(file).display()))
}

/// One hierarchy's directory; `has` says which controllers it holds.
pub fn apply(dir: &Path, v2: bool, has: &dyn Fn(&str) -> bool, r: &LinuxResources) -> Result<()> {
    if let Some(b) = r.block_io() {
        if !v2 && has("blkio") {
            if let Some(w) = b.leaf_weight() {
                write(dir, "blkio.leaf_weight", &w.to_string(), "blockIO.leafWeight")?;
            }
            for d in b.weight_device().iter().flatten() {
                if let Some(w) = d.weight() {
                    write(dir, "blkio.weight_device", &format!("{}:{} {w}", d.major(), d.minor()), "blockIO.weightDevice")?;
                }
            }
        }
        let throttles = [
            (b.throttle_read_bps_device(), "blkio.throttle.read_bps_device", "rbps", "throttleReadBpsDevice"),
            (b.throttle_write_bps_device(), "blkio.throttle.write_bps_device", "wbps", "throttleWriteBpsDevice"),
            (b.throttle_read_iops_device(), "blkio.throttle.read_iops_device", "riops", "throttleReadIOPSDevice"),
            (b.throttle_write_iops_device(), "blkio.throttle.write_iops_device", "wiops", "throttleWriteIOPSDevice"),
        ];
        for (list, v1_file, v2_key, key) in throttles {
            for d in list.iter().flatten() {
                if !v2 && has("blkio") {
                    write(dir, v1_file, &format!("{}:{} {}", d.major(), d.minor(), d.rate()), &format!("blockIO.{key}"))?;
                } else if v2 && has("io") {
                    write(dir, "io.max", &format!("{}:{} {v2_key}={}", d.major(), d.minor(), d.rate()), &format!("blockIO.{key}"))?;
                }
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        if has("hugetlb") {
            let file = if v2 { format!("hugetlb.{}.max", h.page_size()) } else { format!("hugetlb.{}.limit_in_bytes", h.page_size()) };
            write(dir, &file, &h.limit().to_string(), &format!("hugepageLimits.{}", h.page_size()))?;
        }
    }
    if let Some(n) = r.network() {
        if !v2
            && has("net_cls")
            && let Some(id) = n.class_id()
        {
            write(dir, "net_cls.classid", &id.to_string(), "network.classID")?;
        }
        if !v2 && has("net_prio") {
            for p in n.priorities().iter().flatten() {
                write(dir, "net_prio.ifpriomap", &format!("{} {}", p.name(), p.priority()), "network.priorities")?;
            }
        }
    }
    for (dev, l) in r.rdma().iter().flatten() {
        if has("rdma") {
            let mut v = dev.clone();
            if let Some(h) = l.hca_handles() {
                v.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = l.hca_objects() {
                v.push_str(&format!(" hca_object={o}"));
            }
            write(dir, "rdma.max", &v, &format!("rdma.{dev}"))?;
        }
    }
    if v2 {
        for (key, value) in r.unified().iter().flatten() {
            if key.contains('/') || key.starts_with('.') {
                bail!("linux.resources.unified: {key:?} is not a cgroup file name");
            }
            write(dir, key, value, &format!("unified.{key}"))?;
        }
    }
    Ok(())
}
