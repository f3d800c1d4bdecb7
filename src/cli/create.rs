use crate::container::create::{CreateOptions, create};
use crate::error::Result;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[cfg_attr(test, derive(Debug))]
pub struct Args {
    /// Path to the bundle (default: current directory)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container's PID to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the terminal's master fd to
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N more file descriptors (from 3) into the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

impl Args {
    pub fn options(&self) -> CreateOptions {
        CreateOptions {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            no_pivot: self.no_pivot,
            preserve_fds: self.preserve_fds,
            console_socket: self.console_socket.clone(),
        }
    }
}

pub fn exec(root: &Path, a: Args) -> Result<i32> {
    create(root, &a.options(), true)?;
    Ok(0)
}
