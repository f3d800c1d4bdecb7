//! `pause` and `resume`: freeze and thaw every process of the container.

use super::Container;
use super::state::Status;
use crate::bail;
use crate::cgroups::{Cgroup, freezer};
use crate::error::Result;
use std::path::Path;

pub fn pause(root: &Path, id: &str) -> Result<()> {
    let c = Container::open(root, id)?;
    match c.status() {
        Status::Running | Status::Created => freezer::set(&Cgroup::from_dirs(c.state.cgroup.clone()), true),
        Status::Paused => bail!("container already paused"),
        _ => bail!("container not running"),
    }
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    let c = Container::open(root, id)?;
    match c.status() {
        Status::Paused => freezer::set(&Cgroup::from_dirs(c.state.cgroup.clone()), false),
        _ => bail!("container not paused"),
    }
}

/// PIDs (on the host) of every process in the container.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let (state, _) = super::read_state(root, id)?;
    Ok(Cgroup::from_dirs(state.cgroup).pids())
}
