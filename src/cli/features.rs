//! `kiste features`: the features JSON.

use crate::error::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn exec(_a: Args) -> Result<i32> {
    crate::outln!("{}", serde_json::to_string_pretty(&crate::features::features()).unwrap_or_default());
    Ok(0)
}
