//! Resource usage of a container's cgroup, in the shape of runc's `events`
//! stats (cpu, memory, pids, blkio, hugetlb), from v1 or v2 files.

use super::Cgroup;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok().map(|s| s.trim().to_string())
}

fn num(dir: &Path, file: &str) -> u64 {
    read(dir, file).and_then(|s| if s == "max" { Some(u64::MAX) } else { s.parse().ok() }).unwrap_or(0)
}

/// "key value" lines (memory.stat, cpu.stat, …) as a map.
fn keyed(dir: &Path, file: &str) -> Map<String, Value> {
    read(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), json!(v.trim().parse::<u64>().ok()?)))
        })
        .collect()
}

fn dir_of(cg: &Cgroup, ctrl: &str) -> Option<PathBuf> {
    cg.dirs.iter().find(|(c, _)| c.split(',').any(|x| x == ctrl)).map(|(_, d)| d.clone())
}

fn v2_dir(cg: &Cgroup) -> Option<PathBuf> {
    cg.dirs.iter().find(|(c, _)| c.is_empty()).map(|(_, d)| d.clone()).filter(|d| d.join("cgroup.controllers").exists())
}

pub fn stats(cg: &Cgroup) -> Value {
    let mut out = json!({"cpu": {}, "memory": {}, "pids": {}, "blkio": {}, "hugetlb": {}});
    let tick_ns = 1_000_000_000 / 100; // USER_HZ
    if let Some(d) = dir_of(cg, "cpuacct") {
        let stat = keyed(&d, "cpuacct.stat");
        let g = |k: &str| stat.get(k).and_then(Value::as_u64).unwrap_or(0) * tick_ns;
        let percpu: Vec<u64> =
            read(&d, "cpuacct.usage_percpu").unwrap_or_default().split_whitespace().filter_map(|v| v.parse().ok()).collect();
        out["cpu"]["usage"] = json!({"total": num(&d, "cpuacct.usage"), "percpu": percpu, "kernel": g("system"), "user": g("user")});
    }
    if let Some(d) = dir_of(cg, "cpu") {
        let s = keyed(&d, "cpu.stat");
        let g = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
        out["cpu"]["throttling"] =
            json!({"periods": g("nr_periods"), "throttled_periods": g("nr_throttled"), "throttled_time": g("throttled_time")});
    }
    if let Some(d) = dir_of(cg, "memory") {
        out["memory"] = json!({
            "usage": {"usage": num(&d, "memory.usage_in_bytes"), "max": num(&d, "memory.max_usage_in_bytes"),
                      "failcnt": num(&d, "memory.failcnt"), "limit": num(&d, "memory.limit_in_bytes")},
            "raw": keyed(&d, "memory.stat"),
        });
    }
    if let Some(d) = dir_of(cg, "pids") {
        out["pids"] = json!({"current": num(&d, "pids.current"), "limit": num(&d, "pids.max")});
    }
    if let Some(d) = v2_dir(cg) {
        let has = |f: &str| d.join(f).exists();
        if has("cpu.stat") && out["cpu"].get("usage").is_none() {
            let s = keyed(&d, "cpu.stat");
            let g = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
            out["cpu"] = json!({
                "usage": {"total": g("usage_usec") * 1000, "kernel": g("system_usec") * 1000, "user": g("user_usec") * 1000},
                "throttling": {"periods": g("nr_periods"), "throttled_periods": g("nr_throttled"), "throttled_time": g("throttled_usec") * 1000},
            });
        }
        if has("memory.current") && out["memory"].get("usage").is_none() {
            let events = keyed(&d, "memory.events");
            out["memory"] = json!({
                "usage": {"usage": num(&d, "memory.current"), "max": num(&d, "memory.peak"),
                          "failcnt": events.get("max").and_then(Value::as_u64).unwrap_or(0), "limit": num(&d, "memory.max")},
                "raw": keyed(&d, "memory.stat"),
            });
        }
        if has("pids.current") && out["pids"].get("current").is_none() {
            out["pids"] = json!({"current": num(&d, "pids.current"), "limit": num(&d, "pids.max")});
        }
    }
    blkio_and_hugetlb(cg, &mut out);
    out
}

/// v1 blkio lines "MAJ:MIN Op value" as runc's entries.
fn blkio_v1(dir: &Path, file: &str) -> Vec<Value> {
    read(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, op, v) = (f.next()?, f.next()?, f.next()?);
            let (maj, min) = dev.split_once(':')?;
            Some(json!({"major": maj.parse::<u64>().ok()?, "minor": min.parse::<u64>().ok()?, "op": op, "value": v.parse::<u64>().ok()?}))
        })
        .collect()
}

/// v2 io.stat ("MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..") as runc's
/// service bytes and serviced entries.
fn io_v2(dir: &Path) -> (Vec<Value>, Vec<Value>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for l in read(dir, "io.stat").unwrap_or_default().lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else { continue };
        let (Ok(maj), Ok(min)) = (maj.parse::<u64>(), min.parse::<u64>()) else { continue };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else { continue };
            let Ok(v) = v.parse::<u64>() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            list.push(json!({"major": maj, "minor": min, "op": op, "value": v}));
        }
    }
    (bytes, ios)
}

/// The huge page sizes of this machine, as cgroup files name them ("2MB").
fn hugepage_sizes() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") else { return Vec::new() };
    rd.flatten()
        .filter_map(|e| {
            let kb: u64 = e.file_name().to_str()?.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()?;
            Some(if kb >= 1 << 20 {
                format!("{}GB", kb >> 20)
            } else if kb >= 1 << 10 {
                format!("{}MB", kb >> 10)
            } else {
                format!("{kb}KB")
            })
        })
        .collect()
}

fn blkio_and_hugetlb(cg: &Cgroup, out: &mut Value) {
    if let Some(d) = dir_of(cg, "blkio") {
        out["blkio"] = json!({
            "ioServiceBytesRecursive": blkio_v1(&d, "blkio.throttle.io_service_bytes_recursive"),
            "ioServicedRecursive": blkio_v1(&d, "blkio.throttle.io_serviced_recursive"),
        });
    } else if let Some(d) = v2_dir(cg).filter(|d| d.join("io.stat").exists()) {
        let (bytes, ios) = io_v2(&d);
        out["blkio"] = json!({"ioServiceBytesRecursive": bytes, "ioServicedRecursive": ios});
    }
    let (dir, v2) = match dir_of(cg, "hugetlb") {
        Some(d) => (Some(d), false),
        None => (v2_dir(cg), true),
    };
    if let Some(d) = dir {
        for size in hugepage_sizes() {
            let stat = if v2 {
                let events = keyed(&d, &format!("hugetlb.{size}.events"));
                json!({"usage": num(&d, &format!("hugetlb.{size}.current")), "max": 0,
                       "failcnt": events.get("max").and_then(Value::as_u64).unwrap_or(0)})
            } else {
                json!({"usage": num(&d, &format!("hugetlb.{size}.usage_in_bytes")), "max": num(&d, &format!("hugetlb.{size}.max_usage_in_bytes")),
                       "failcnt": num(&d, &format!("hugetlb.{size}.failcnt"))})
            };
            if d.join(format!("hugetlb.{size}.{}", if v2 { "current" } else { "usage_in_bytes" })).exists() {
                out["hugetlb"][size] = stat;
            }
        }
    }
}

/// How many times the OOM killer acted in the cgroup so far.
pub fn oom_kills(cg: &Cgroup) -> u64 {
    if let Some(d) = v2_dir(cg).filter(|d| d.join("memory.events").exists()) {
        return keyed(&d, "memory.events").get("oom_kill").and_then(Value::as_u64).unwrap_or(0);
    }
    dir_of(cg, "memory").map_or(0, |d| keyed(&d, "memory.oom_control").get("oom_kill").and_then(Value::as_u64).unwrap_or(0))
}
