//! The channel between kiste and the container's init while it is set up: a
//! SOCK_SEQPACKET socket pair carrying one tagged message per packet.

use crate::error::{Context, Error, Result};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use std::os::fd::{AsRawFd, OwnedFd};

/// Messages (first byte of a packet).
pub const GO: u8 = b'G'; // parent -> child: proceed
pub const NEED_MAPS: u8 = b'U'; // child -> parent: write uid/gid maps for me
pub const INIT_PID: u8 = b'P'; // child -> parent: the init's pid (two-stage)
pub const READY: u8 = b'R'; // child -> parent: set up (waiting for `start`, or, for `run`, on to its program)
pub const ERROR: u8 = b'E'; // child -> parent: setup failed, text follows
pub const SECCOMP_FD: u8 = b'F'; // child -> parent: the seccomp notify fd, for the listener
pub const CGROUPS: u8 = b'C'; // parent -> child: the cgroup is made, join it
pub const HOOKS: u8 = b'H'; // child -> parent: run prestart/createRuntime hooks, then GO with the state

pub struct Channel(pub OwnedFd, std::cell::RefCell<Option<OwnedFd>>);

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).context("create sync socket")?;
    Ok((Channel(a, Default::default()), Channel(b, Default::default())))
}

impl Channel {
    /// Sends a message. Plain write(2): a seccomp profile that lets the
    /// program run also lets the init talk to kiste after it is loaded.
    pub fn send(&self, tag: u8, payload: &[u8]) -> Result<()> {
        let mut buf = Vec::with_capacity(1 + payload.len());
        buf.push(tag);
        buf.extend_from_slice(payload);
        loop {
            let n = unsafe { libc::write(self.0.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(());
            }
            let e = nix::errno::Errno::last();
            if !retry(e) {
                return Err(Error::sys("sync with container init", e));
            }
        }
    }

    /// The next message, or None when the other side has gone (read(2),
    /// for the same reason as `send`).
    pub fn recv(&self) -> Result<Option<(u8, Vec<u8>)>> {
        let mut buf = vec![0u8; 65536];
        loop {
            let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                buf.truncate(n as usize);
                let tag = buf.remove(0);
                return Ok(Some((tag, buf)));
            }
            if n == 0 {
                return Ok(None);
            }
            let e = nix::errno::Errno::last();
            if !retry(e) {
                return Err(Error::sys("sync with container init", e));
            }
        }
    }

    /// Sends a message with an fd attached.
    pub fn send_fd(&self, tag: u8, fd: &OwnedFd) -> Result<()> {
        use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
        let fds = [fd.as_raw_fd()];
        let iov = [std::io::IoSlice::new(std::slice::from_ref(&tag))];
        sendmsg::<()>(self.0.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
            .context("sync with container init: send fd")?;
        Ok(())
    }

    /// The fd that came with the last message, if any.
    pub fn take_fd(&self) -> Option<OwnedFd> {
        self.1.borrow_mut().take()
    }

    /// Like `recv`, but an fd sent with the message is kept for `take_fd`
    /// (kiste's side).
    pub fn recv_with_fd(&self) -> Result<Option<(u8, Vec<u8>)>> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        use std::os::fd::FromRawFd;
        let mut buf = vec![0u8; 65536];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        loop {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(self.0.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
                Ok(msg) => {
                    let n = msg.bytes;
                    for c in msg.cmsgs().into_iter().flatten() {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for fd in fds {
                                *self.1.borrow_mut() = Some(unsafe { OwnedFd::from_raw_fd(fd) });
                            }
                        }
                    }
                    if n == 0 {
                        return Ok(None);
                    }
                    buf.truncate(n);
                    let tag = buf.remove(0);
                    return Ok(Some((tag, buf)));
                }
                Err(e) if retry(e) => continue,
                Err(e) => return Err(Error::sys("sync with container init", e)),
            }
        }
    }

    /// Waits for `tag`; anything else (or the peer going away) is an error.
    pub fn expect(&self, tag: u8) -> Result<Vec<u8>> {
        match self.recv()? {
            Some((t, p)) if t == tag => Ok(p),
            Some((ERROR, p)) => Err(Error::msg(String::from_utf8_lossy(&p).into_owned())),
            Some((t, _)) => Err(Error::msg(format!("sync with container init: unexpected message {:?}", t as char))),
            None => Err(Error::msg("sync with container init: the other side went away")),
        }
    }
}

/// Errors after which a read is tried again. ECONNRESET: the other side
/// closed its end with a message of ours unread (an init that failed before
/// it read CGROUPS). The kernel reports that once, before the messages that
/// side sent first (its ERROR); the next read returns them, then EOF.
fn retry(e: nix::errno::Errno) -> bool {
    matches!(e, nix::errno::Errno::EINTR | nix::errno::Errno::ECONNRESET)
}
