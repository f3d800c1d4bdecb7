use crate::error::{Context, Error, Result};
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;

// runc's flags, named as runc names them (note `--cpu-share`).
#[derive(clap::Args)]
pub struct Args {
    /// JSON file of linux.resources ("-" for stdin); flags override it
    #[arg(short, long)]
    pub resources: Option<String>,
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "kernel-memory", hide = true)]
    pub kernel_memory: Option<String>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

/// "512m", "1g", "4096", "-1" as bytes, as runc (docker's units) reads them.
fn bytes(flag: &str, s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| Error::msg(format!("--{flag}: invalid size {s:?}")))?;
    Ok((n * mul as f64) as i64)
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    let mut r: Value = match a.resources.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("read resources from stdin")?;
            serde_json::from_str(&s).map_err(|e| Error::msg(format!("--resources: invalid JSON: {e}")))?
        }
        Some(f) => serde_json::from_slice(&std::fs::read(f).with_context(|| format!("--resources: read {f}"))?)
            .map_err(|e| Error::msg(format!("--resources: {f}: invalid JSON: {e}")))?,
        None => json!({}),
    };
    if !r.is_object() {
        return Err(Error::msg("--resources: must be a JSON object (linux.resources)"));
    }
    let mut set = |path: &[&str], v: Value| {
        let mut cur = &mut r;
        for p in &path[..path.len() - 1] {
            if !cur[*p].is_object() {
                cur[*p] = json!({});
            }
            cur = &mut cur[*p];
        }
        cur[path[path.len() - 1]] = v;
    };
    for (flag, v, path) in [
        ("memory", &a.memory, ["memory", "limit"]),
        ("memory-reservation", &a.memory_reservation, ["memory", "reservation"]),
        ("memory-swap", &a.memory_swap, ["memory", "swap"]),
    ] {
        if let Some(v) = v {
            set(&path, json!(bytes(flag, v)?));
        }
    }
    let cpu: [(&str, Option<Value>); 7] = [
        ("shares", a.cpu_share.map(|v| json!(v))),
        ("quota", a.cpu_quota.map(|v| json!(v))),
        ("period", a.cpu_period.map(|v| json!(v))),
        ("realtimePeriod", a.cpu_rt_period.map(|v| json!(v))),
        ("realtimeRuntime", a.cpu_rt_runtime.map(|v| json!(v))),
        ("cpus", a.cpuset_cpus.clone().map(|v| json!(v))),
        ("mems", a.cpuset_mems.clone().map(|v| json!(v))),
    ];
    for (key, v) in cpu {
        if let Some(v) = v {
            set(&["cpu", key], v);
        }
    }
    if let Some(p) = a.pids_limit {
        set(&["pids", "limit"], json!(p));
    }
    if let Some(w) = a.blkio_weight {
        set(&["blockIO", "weight"], json!(w));
    }
    let res: oci_spec::runtime::LinuxResources =
        serde_path_to_error::deserialize(r).map_err(|e| Error::msg(format!("--resources: {}: {}", e.path(), e.inner())))?;
    crate::container::update::update(root, &a.id, &res)?;
    Ok(0)
}
