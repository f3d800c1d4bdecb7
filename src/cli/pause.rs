use crate::error::Result;
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn exec(root: &Path, a: Args, pause: bool) -> Result<i32> {
    if pause {
        crate::container::pause::pause(root, &a.id)?;
    } else {
        crate::container::pause::resume(root, &a.id)?;
    }
    Ok(0)
}
