//! A container process kiste waits for in the foreground (`run`, `exec`):
//! signals forwarded to it, other children reaped, and, with a terminal,
//! the pty proxied to kiste's own stdin and stdout (raw mode on the
//! caller's terminal, restored at the end; window size changes passed on).

use crate::process::tty;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Every signal that can be forwarded, blocked in the calling thread so
/// that none is lost before the wait; `wait` takes them from a signalfd.
pub fn block_signals() -> nix::Result<SigSet> {
    let mut set = SigSet::all();
    for s in [Signal::SIGKILL, Signal::SIGSTOP, Signal::SIGSEGV, Signal::SIGBUS, Signal::SIGILL, Signal::SIGFPE] {
        set.remove(s);
    }
    set.thread_block()?;
    Ok(set)
}

/// The caller's terminal in raw mode for as long as this lives.
struct RawMode(Option<nix::sys::termios::Termios>);

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = nix::sys::termios::tcgetattr(stdin.as_fd()) else { return RawMode(None) };
        let mut raw = saved.clone();
        nix::sys::termios::cfmakeraw(&mut raw);
        let _ = nix::sys::termios::tcsetattr(stdin.as_fd(), nix::sys::termios::SetArg::TCSANOW, &raw);
        RawMode(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(std::io::stdin().as_fd(), nix::sys::termios::SetArg::TCSANOW, t);
        }
    }
}

fn exit_code(pid: i32) -> Option<i32> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return Some(code),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => return Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

fn write_all(fd: i32, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
            continue;
        }
        if n <= 0 {
            return false;
        }
        buf = &buf[n as usize..];
    }
    true
}

/// Copies what the pty has left to stdout, without waiting.
fn drain(master: &OwnedFd) {
    let fd = master.as_raw_fd();
    unsafe { libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK) };
    let mut buf = [0u8; 8192];
    loop {
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 || !write_all(1, &buf[..n as usize]) {
            return;
        }
    }
}

/// Waits for `pid` (a child of ours, or reparented to us as subreaper) and
/// returns its exit status (128+N for signal N). `set`: from `block_signals`.
pub fn wait(pid: i32, set: &SigSet, pty: Option<OwnedFd>) -> i32 {
    let Ok(sfd) = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC) else {
        return wait_plain(pid, set);
    };
    let _raw = pty.as_ref().filter(|_| unsafe { libc::isatty(0) } == 1).map(|_| RawMode::enter());
    if let Some(m) = &pty
        && let Some((rows, cols)) = tty::get_size(0).or_else(|| tty::get_size(1))
    {
        let _ = tty::set_size(m.as_raw_fd(), rows, cols);
    }
    let mut stdin_open = pty.is_some();
    let mut master_open = pty.is_some();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(code) = exit_code(pid) {
            if let Some(m) = &pty {
                drain(m);
            }
            return code;
        }
        let mut fds = vec![libc::pollfd { fd: sfd.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        let m = pty.as_ref().map_or(-1, |m| m.as_raw_fd());
        fds.push(libc::pollfd { fd: if master_open { m } else { -1 }, events: libc::POLLIN, revents: 0 });
        fds.push(libc::pollfd { fd: if stdin_open { 0 } else { -1 }, events: libc::POLLIN, revents: 0 });
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
            continue;
        }
        if fds[0].revents != 0
            && let Ok(Some(info)) = sfd.read_signal()
        {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => {}
                Ok(Signal::SIGWINCH) if pty.is_some() => {
                    if let Some((rows, cols)) = tty::get_size(0).or_else(|| tty::get_size(1)) {
                        let _ = tty::set_size(m, rows, cols);
                    }
                }
                Ok(sig) => {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
                }
                Err(_) => {}
            }
        }
        if fds[1].revents != 0 {
            let n = unsafe { libc::read(m, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                // EIO: every holder of the slave is gone.
                master_open = n < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR;
            } else {
                write_all(1, &buf[..n as usize]);
            }
        }
        if fds[2].revents != 0 {
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                // End of our input: an end-of-file for the terminal too.
                stdin_open = false;
                write_all(m, b"\x04");
            } else {
                write_all(m, &buf[..n as usize]);
            }
        }
    }
}

/// Without a signalfd: sigwait, and no terminal.
fn wait_plain(pid: i32, set: &SigSet) -> i32 {
    loop {
        if let Some(code) = exit_code(pid) {
            return code;
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) | Err(_) => {}
            Ok(sig) => {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
            }
        }
    }
}
