//! `kiste image …`: import, ls, inspect.

use crate::error::Result;
use crate::image::{self, store::Store};
use clap::Subcommand;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum Command {
    /// Import an OCI image layout (a directory, or a tar of one)
    Import {
        /// The layout: a directory, or a tar as `skopeo copy … oci-archive:` writes
        file: PathBuf,
        /// The image's name (default: the layout's ref name annotation)
        name: Option<String>,
    },
    /// List images
    #[command(alias = "list")]
    Ls {
        /// Only the image ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show an image's details as JSON
    Inspect {
        /// Image names or id prefixes
        #[arg(required = true)]
        images: Vec<String>,
    },
}

pub fn exec(data_root: &Path, c: Command) -> Result<i32> {
    let store = Store::open(data_root)?;
    match c {
        Command::Import { file, name } => {
            let tty = std::io::stderr().is_terminal();
            let mut progress = |line: &str| {
                if tty {
                    eprint!("\r\x1b[K{line}");
                    if line.starts_with("image ") {
                        eprintln!();
                    }
                } else {
                    eprintln!("{line}");
                }
            };
            for rec in image::import::import(&store, &file, name.as_deref(), &mut progress)? {
                println!("{}", rec.name);
            }
        }
        Command::Ls { quiet } => {
            let rows = image::list(&store)?;
            if quiet {
                for r in rows {
                    println!("{}", r["Id"].as_str().unwrap_or("").trim_start_matches("sha256:").get(..12).unwrap_or(""));
                }
            } else {
                println!("{:<30} {:<15} {:<14} {:<22} {:>10}", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
                for r in rows {
                    let id = r["Id"].as_str().unwrap_or("").trim_start_matches("sha256:");
                    println!(
                        "{:<30} {:<15} {:<14} {:<22} {:>10}",
                        r["Repository"].as_str().unwrap_or(""),
                        r["Tag"].as_str().unwrap_or(""),
                        id.get(..12).unwrap_or(id),
                        r["Created"].as_str().unwrap_or("").get(..19).unwrap_or(""),
                        image::import::human(r["Size"].as_u64().unwrap_or(0))
                    );
                }
            }
        }
        Command::Inspect { images } => {
            let all: Vec<_> = images.iter().map(|i| image::inspect(&store, i)).collect::<Result<_>>()?;
            println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
        }
    }
    Ok(0)
}
