use crate::error::{Error, Result};
use std::path::Path;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Print the stats once and exit
    #[arg(long)]
    pub stats: bool,
    /// How often to print stats (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

/// Go's duration spelling, as runc takes it: "5s", "500ms", "1m".
fn duration(s: &str) -> Result<Duration> {
    let bad = || Error::msg(format!("--interval: invalid duration {s:?}"));
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(bad)?;
    let n: f64 = s[..split].parse().map_err(|_| bad())?;
    let secs = match &s[split..] {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    crate::container::events::events(root, &a.id, a.stats, duration(&a.interval)?)?;
    Ok(0)
}
