//! `kiste volume …`: create, ls, inspect, rm, prune.

use crate::error::Result;
use crate::volume;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand)]
pub enum Command {
    /// Create a volume
    Create { name: String },
    /// List volumes
    #[command(alias = "list")]
    Ls {
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show a volume as JSON
    Inspect { name: String },
    /// Remove volumes (refused while a container uses one)
    Rm { names: Vec<String> },
    /// Remove the anonymous volumes no container uses (-a: every unused volume)
    Prune {
        #[arg(short, long)]
        all: bool,
    },
}

pub fn exec(data_root: &Path, c: Command) -> Result<i32> {
    let users = |n: &str| crate::managed::volume_users(data_root, n);
    match c {
        Command::Create { name } => {
            volume::check_name(&name)?;
            crate::outln!("{}", volume::create(data_root, &name, false)?.name);
        }
        Command::Ls { quiet } => {
            if !quiet {
                crate::outln!("{:<34} MOUNTPOINT", "VOLUME NAME");
            }
            for v in volume::list(data_root)? {
                if quiet {
                    crate::outln!("{}", v.name);
                } else {
                    crate::outln!("{:<34} {}", v.name, v.data().display());
                }
            }
        }
        Command::Inspect { name } => {
            let v = volume::Volume::load(data_root, &name)?;
            let j = serde_json::json!([{
                "Name": v.name, "CreatedAt": v.created, "Mountpoint": v.data(), "Anonymous": v.anonymous,
                "UsedBy": users(&name)?,
            }]);
            crate::outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        }
        Command::Rm { names } => {
            for n in names {
                volume::remove(data_root, &n, &users(&n)?)?;
                crate::outln!("{n}");
            }
        }
        Command::Prune { all } => {
            for v in volume::list(data_root)? {
                if (all || v.anonymous) && users(&v.name)?.is_empty() {
                    volume::remove(data_root, &v.name, &[])?;
                    crate::outln!("{}", v.name);
                }
            }
        }
    }
    Ok(0)
}
