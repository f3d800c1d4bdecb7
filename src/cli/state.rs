use crate::error::Result;
use std::path::Path;

#[derive(clap::Args)]
#[cfg_attr(test, derive(Debug))]
pub struct Args {
    pub id: String,
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    let (state, status) = crate::container::read_state(root, &a.id)?;
    crate::outln!("{}", serde_json::to_string_pretty(&state.to_oci(status)).unwrap_or_default());
    Ok(0)
}
