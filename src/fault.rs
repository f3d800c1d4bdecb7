//! Fault injection, for the reliability suite (hack/reliability.sh): with
//! the cargo feature `fault-injection`, `KISTE_FAULT=NAME` makes the process
//! that reaches `point(NAME)` kill itself with SIGKILL there, as if the
//! machine's OOM killer or an impatient caller had struck. Without the
//! feature (every normal build) a point is nothing at all.
//!
//! The points are named `COMMAND.STEP` (`create.cgroups-made`, …) for kiste
//! itself, `init.STEP` for the container's init and `exec.STEP` for an
//! exec'd process before its execve.

#[cfg(feature = "fault-injection")]
pub fn point(name: &str) {
    if std::env::var_os("KISTE_FAULT").is_some_and(|v| v == name) {
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
            // PID 1 of a pid namespace (the container's init) cannot be
            // killed from inside it: it ends at once instead.
            libc::_exit(137);
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_name: &str) {}
