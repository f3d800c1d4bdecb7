//! The freezer: `pause` and `resume` (v1 freezer.state, v2 cgroup.freeze),
//! and whether a container is frozen.

use super::Cgroup;
use crate::bail;
use crate::error::{Context, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The file that freezes the cgroup, and the words for frozen and thawed.
fn control(cg: &Cgroup) -> Option<(PathBuf, &'static str, &'static str)> {
    if let Some((_, dir)) = cg.dirs.iter().find(|(c, _)| c.split(',').any(|x| x == "freezer")) {
        return Some((dir.join("freezer.state"), "FROZEN", "THAWED"));
    }
    let (_, dir) = cg.dirs.iter().find(|(c, _)| c.is_empty())?;
    let file = dir.join("cgroup.freeze");
    file.exists().then_some((file, "1", "0"))
}

pub fn is_frozen(cg: &Cgroup) -> bool {
    match control(cg) {
        Some((file, frozen, _)) => crate::utils::read_small(&file).is_ok_and(|s| s.trim() == frozen),
        None => false,
    }
}

/// Freezes (`true`) or thaws the cgroup and waits until the kernel is done.
pub fn set(cg: &Cgroup, freeze: bool) -> Result<()> {
    let Some((file, frozen, thawed)) = control(cg) else { bail!("the container's cgroup has no freezer") };
    let want = if freeze { frozen } else { thawed };
    std::fs::write(&file, want).with_context(|| format!("write {want} to {}", file.display()))?;
    // v1 passes through FREEZING; v2 reports completion in cgroup.events.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let done = if file.ends_with("cgroup.freeze") {
            let events = std::fs::read_to_string(file.with_file_name("cgroup.events")).unwrap_or_default();
            events.lines().any(|l| l == format!("frozen {want}"))
        } else {
            std::fs::read_to_string(&file).is_ok_and(|s| s.trim() == want)
        };
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} did not become {want} within 10 s", file.display());
        }
        if freeze && !file.ends_with("cgroup.freeze") {
            // Keep asking: a v1 freeze can stall on a busy task.
            let _ = std::fs::write(&file, want);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
