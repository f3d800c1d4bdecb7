//! `kiste image …`: pull, import, ls, inspect, history, tag, rm.

use crate::error::Result;
use crate::image::progress::{Progress, human};
use crate::image::{self, store::Store};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum Command {
    /// Pull an image from a registry (plain HTTP: on this machine, or with --insecure)
    Pull {
        /// Reach a registry that is not on this machine over plain HTTP (kiste has no TLS)
        #[arg(long)]
        insecure: bool,
        /// NAME[:TAG] or NAME@DIGEST, as docker reads them (busybox, host:5000/app:1)
        reference: String,
    },
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
    /// Show the history of an image: its layers, sizes and what made them
    History { image: String },
    /// Give an image another name
    Tag { source: String, target: String },
    /// Remove image names, and the layers no other image uses
    Rm {
        /// Even if a container uses it
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Show an image's details as JSON
    Inspect {
        /// Image names or id prefixes
        #[arg(required = true)]
        images: Vec<String>,
    },
}

pub fn exec(data_root: &Path, c: Command) -> Result<i32> {
    if let Command::Rm { force, images } = &c {
        return rm(data_root, *force, images);
    }
    let store = Store::open(data_root)?;
    match c {
        // The progress bar goes (drop) before the result is printed.
        Command::Pull { insecure, reference } => {
            let progress = Progress::stderr();
            let res = image::pull::pull(&store, &reference, insecure, &progress);
            drop(progress);
            crate::outln!("{}", res?.name);
        }
        Command::Import { file, name } => {
            let progress = Progress::stderr();
            let res = image::import::import(&store, &file, name.as_deref(), &progress);
            drop(progress);
            for rec in res? {
                crate::outln!("{}", rec.name);
            }
        }
        Command::Ls { quiet } => {
            let rows = image::list(&store)?;
            if quiet {
                for r in rows {
                    crate::outln!("{}", r["Id"].as_str().unwrap_or("").trim_start_matches("sha256:").get(..12).unwrap_or(""));
                }
            } else {
                crate::outln!("{:<30} {:<15} {:<14} {:<22} {:>10}", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
                for r in rows {
                    let id = r["Id"].as_str().unwrap_or("").trim_start_matches("sha256:");
                    crate::outln!(
                        "{:<30} {:<15} {:<14} {:<22} {:>10}",
                        r["Repository"].as_str().unwrap_or(""),
                        r["Tag"].as_str().unwrap_or(""),
                        id.get(..12).unwrap_or(id),
                        r["Created"].as_str().unwrap_or("").get(..19).unwrap_or(""),
                        human(r["Size"].as_u64().unwrap_or(0))
                    );
                }
            }
        }
        Command::History { image } => {
            crate::outln!("{:<22} {:<50} {:>10}", "CREATED", "CREATED BY", "SIZE");
            for h in image::history(&store, &image)? {
                let by: String = h["CreatedBy"].as_str().unwrap_or("").chars().take(48).collect();
                crate::outln!(
                    "{:<22} {:<50} {:>10}",
                    h["Created"].as_str().unwrap_or("").get(..19).unwrap_or(""),
                    by,
                    human(h["Size"].as_u64().unwrap_or(0))
                );
            }
        }
        Command::Tag { source, target } => image::tag(&store, &source, &target)?,
        Command::Rm { .. } => unreachable!("handled above"),
        Command::Inspect { images } => {
            let all: Vec<_> = images.iter().map(|i| image::inspect(&store, i)).collect::<Result<_>>()?;
            crate::outln!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
        }
    }
    Ok(0)
}

/// `image rm`: refused while a container uses the image, unless `force`.
fn rm(data_root: &Path, force: bool, images: &[String]) -> Result<i32> {
    let store = Store::open(data_root)?;
    for name in images {
        let i = store.find(name)?;
        let users: Vec<String> = crate::managed::record::all(data_root)?
            .into_iter()
            .filter(|c| c.image_id == i.config && c.image == i.name)
            .map(|c| c.name)
            .collect();
        if !users.is_empty() && !force {
            crate::bail!("image {} is used by container(s) {} (rm -f to remove it anyway)", i.name, users.join(", "));
        }
        let (layers, blobs) = store.remove_image(&i.name)?;
        crate::outln!("Untagged: {}", i.name);
        if layers + blobs > 0 {
            crate::outln!("Deleted: {layers} layer(s), {blobs} blob(s)");
        }
    }
    Ok(0)
}
