use crate::error::Result;
use std::path::Path;

#[derive(clap::Args)]
#[cfg_attr(test, derive(Debug))]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::Args,
    /// Return once the container is started
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container after it exits (accepted for compatibility)
    #[arg(long = "keep")]
    pub keep: bool,
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    crate::container::run::run(root, &a.create.options(), a.detach)
}
