//! `start`: let the waiting init exec the user program.

use super::Container;
use super::state::Status;
use crate::bail;
use crate::error::{Context, Result};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let c = Container::open(root, id)?;
    match c.status() {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Running | Status::Paused => bail!("cannot start an already running container"),
        Status::Creating => bail!("cannot start a container that is still being created"),
    }
    crate::logging::stage("state");
    let fifo = c.files.fifo();
    // The init holds the fifo open for reading; without it, open fails.
    let mut f = match std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(&fifo) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            bail!("cannot start a container that has stopped")
        }
        Err(e) => return Err(e).with_context(|| format!("open {}", fifo.display())),
    };
    crate::fault::point("start.fifo-opened");
    f.write_all(&[0]).context("signal the container to start")?;
    crate::fault::point("start.signalled");
    std::fs::remove_file(&fifo).with_context(|| format!("remove {}", fifo.display()))?;
    crate::fault::point("start.fifo-removed");
    crate::logging::stage("start signal");
    super::state::run_late_hooks(&c.state, Status::Running, false);
    crate::logging::stage("poststart hooks");
    Ok(())
}
