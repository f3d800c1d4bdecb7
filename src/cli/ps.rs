use crate::error::{Context, Result};
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {
    /// Output format: table (ps(1)'s) or json (the PIDs)
    #[arg(short, long, default_value = "table")]
    pub format: String,
    pub id: String,
    /// Options for ps(1) (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    let pids = crate::container::pause::pids(root, &a.id)?;
    match a.format.as_str() {
        "json" => crate::outln!("{}", serde_json::json!(pids)),
        "table" => {
            // ps(1) of the host, its header and the lines of our PIDs.
            let args = if a.ps_args.is_empty() { vec!["-ef".to_string()] } else { a.ps_args.clone() };
            let out = std::process::Command::new("ps").args(&args).output().context("run ps")?;
            if !out.status.success() {
                crate::bail!("ps {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| crate::error::Error::msg("ps output has no PID column"))?;
            crate::outln!("{header}");
            for l in lines {
                if l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| pids.contains(&p)) {
                    crate::outln!("{l}");
                }
            }
        }
        f => crate::bail!("--format: unknown format {f:?} (table or json)"),
    }
    Ok(0)
}
