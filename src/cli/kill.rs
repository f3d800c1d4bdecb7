use crate::container::kill::{kill, parse_signal};
use crate::error::Result;
use std::path::Path;

#[derive(clap::Args)]
#[cfg_attr(test, derive(Debug))]
pub struct Args {
    /// Send the signal to every process of the container
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// Signal name or number (default SIGTERM)
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    let sig = parse_signal(&a.signal)?;
    kill(root, &a.id, sig, a.all)?;
    Ok(0)
}
