use crate::error::{Context, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write config.json
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A config for running without privileges
    #[arg(long)]
    pub rootless: bool,
}

pub fn exec(a: Args) -> Result<i32> {
    let path = a.bundle.join(crate::config::CONFIG_FILE);
    if path.exists() {
        crate::bail!("File {} exists. Remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&crate::config::default::spec(a.rootless)).unwrap_or_default();
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}
