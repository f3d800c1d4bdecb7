use crate::error::Result;
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {}

/// Prints the id of each container removed, one per line.
pub fn exec(root: &Path, _a: Args) -> Result<i32> {
    for id in crate::container::gc::gc(root) {
        crate::outln!("{id}");
    }
    Ok(0)
}
