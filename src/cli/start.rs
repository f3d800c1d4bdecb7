use crate::error::Result;
use std::path::Path;

#[derive(clap::Args)]
#[cfg_attr(test, derive(Debug))]
pub struct Args {
    pub id: String,
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    crate::container::start::start(root, &a.id)?;
    Ok(0)
}
