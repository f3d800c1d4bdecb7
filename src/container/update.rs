//! `update`: new resource limits for a live container.

use super::Container;
use super::state::Status;
use crate::bail;
use crate::cgroups::{Cgroup, resources};
use crate::error::Result;
use oci_spec::runtime::LinuxResources;
use std::path::Path;

pub fn update(root: &Path, id: &str, r: &LinuxResources) -> Result<()> {
    let c = Container::open(root, id)?;
    if matches!(c.status(), Status::Stopped | Status::Creating) {
        bail!("container not running");
    }
    // Device rules are left as they are: update changes limits only.
    resources::apply(&Cgroup::from_dirs(c.state.cgroup.clone()), r, &[])
}
