//! `run`: create + start. In the foreground kiste becomes a child subreaper,
//! forwards signals to the container, waits for its init, deletes the
//! container and returns the init's exit status (128+N for signal N).

use super::create::{CreateOptions, create, record_init};
use super::delete::destroy;
use crate::error::{Context, Result};
use std::path::Path;

pub fn run(root: &Path, o: &CreateOptions, detach: bool) -> Result<i32> {
    if detach {
        let (c, _spawned) = create(root, o, true)?;
        drop(c);
        if let Err(e) = super::start::start(root, &o.id) {
            // Nothing of a container that never ran stays behind.
            let _ = super::delete::delete(root, &o.id, true);
            return Err(e);
        }
        return Ok(0);
    }
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // Every signal we may forward is blocked, from before the init exists
    // (it starts its program as soon as it is ready, and restores its own
    // mask first), and taken from a signalfd: none is lost before the wait.
    let set = super::foreground::block_signals().context("block signals")?;
    let (mut c, spawned) = create(root, o, false)?;
    if let Err(e) = record_init(&mut c, o.pid_file.as_deref()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(spawned.pid), nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(spawned.pid), None);
        destroy(&c);
        return Err(e);
    }
    drop(spawned.channel);
    super::state::run_late_hooks(&c.state, super::state::Status::Running, false);
    crate::logging::stage("start");
    crate::process::sealed::release();
    // The container's lock is not held while it runs: `kill`, `state`,
    // `pause`, `exec` from elsewhere must not wait for it to end.
    drop(c);
    let code = super::foreground::wait(spawned.pid, &set, spawned.pty);
    crate::logging::stage("container ran");
    // Unless someone deleted it meanwhile (`delete --force`), it is ours
    // to remove; a new container that took the id since is not.
    if let Ok(c) = super::Container::open(root, &o.id)
        && c.state.pid == spawned.pid
    {
        destroy(&c);
    }
    crate::logging::stage("teardown");
    Ok(code)
}
