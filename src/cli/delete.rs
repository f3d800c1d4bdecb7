use crate::error::Result;
use std::path::Path;

#[derive(clap::Args)]
#[cfg_attr(test, derive(Debug))]
pub struct Args {
    /// Kill a running container and delete it
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    crate::container::delete::delete(root, &a.id, a.force)?;
    Ok(0)
}
