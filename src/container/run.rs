//! `run`: create + start. In the foreground kiste becomes a child subreaper,
//! forwards signals to the container, waits for its init, deletes the
//! container and returns the init's exit status (128+N for signal N).

use super::create::{CreateOptions, create};
use super::delete::destroy;
use crate::error::{Context, Result};
use crate::process::sync::START;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
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
    let (c, spawned) = create(root, o, false)?;
    // Every signal we may forward is blocked and taken with sigwait, so none
    // is lost between start and wait.
    let mut set = SigSet::all();
    for s in [Signal::SIGKILL, Signal::SIGSTOP, Signal::SIGSEGV, Signal::SIGBUS, Signal::SIGILL, Signal::SIGFPE] {
        set.remove(s);
    }
    set.thread_block().context("block signals")?;
    if let Err(e) = spawned.channel.send(START, &[]) {
        destroy(&c);
        return Err(e);
    }
    drop(spawned.channel);
    super::state::run_late_hooks(&c.state, super::state::Status::Running, false);
    let code = wait_forwarding(spawned.pid, &set);
    destroy(&c);
    Ok(code)
}

/// Waits for `pid`, forwarding every other signal to it; reaps whatever else
/// is reparented to us meanwhile.
fn wait_forwarding(pid: i32, set: &SigSet) -> i32 {
    loop {
        // Reap first: the init may be gone before we ever sleep.
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return code,
                Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                    return 128 + sig as i32;
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) => {}
            Ok(sig) => {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
            }
            Err(_) => {}
        }
    }
}
