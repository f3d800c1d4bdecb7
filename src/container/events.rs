//! `events`: the container's resource usage as runc's JSON events, once
//! (`--stats`) or every interval, with `oom` events when the OOM killer
//! acts; ends when the container stops.

use super::read_state;
use super::state::Status;
use crate::bail;
use crate::cgroups::{Cgroup, stats};
use crate::error::Result;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

pub fn events(root: &Path, id: &str, once: bool, interval: Duration) -> Result<()> {
    let (state, status) = read_state(root, id)?;
    if matches!(status, Status::Stopped | Status::Creating) {
        bail!("container not running");
    }
    let cg = Cgroup::from_dirs(state.cgroup.clone());
    let print = |v: serde_json::Value| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
        let _ = out.flush();
    };
    let stats_event = || json!({"type": "stats", "id": id, "data": stats::stats(&cg)});
    if once {
        print(stats_event());
        return Ok(());
    }
    let mut ooms = stats::oom_kills(&cg);
    let tick = Duration::from_millis(100).min(interval);
    let mut waited = Duration::ZERO;
    loop {
        // Reports an OOM within a tick, stats every interval. The state is
        // read before the OOM count, so an OOM kill that ended the container
        // is still reported on the pass that sees it stopped.
        let stopped = !matches!(read_state(root, id), Ok((_, s)) if !matches!(s, Status::Stopped));
        let now = stats::oom_kills(&cg);
        if now > ooms {
            print(json!({"type": "oom", "id": id}));
            ooms = now;
        }
        if stopped {
            return Ok(());
        }
        if waited >= interval {
            print(stats_event());
            waited = Duration::ZERO;
        }
        std::thread::sleep(tick);
        waited += tick;
    }
}
