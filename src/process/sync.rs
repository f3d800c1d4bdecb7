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
        let mut buf: Vec<u8> = Vec::with_capacity(MAX_MESSAGE);
        loop {
            // SAFETY: the kernel writes at most `capacity` bytes; only the n
            // it wrote are taken as the vector's.
            let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.capacity()) };
            if n >= 0 {
                unsafe { buf.set_len(n as usize) };
                return Ok(message(buf));
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
        use std::os::fd::FromRawFd;
        let mut buf: Vec<u8> = Vec::with_capacity(MAX_MESSAGE);
        // Room for one cmsghdr with one fd, aligned as the kernel wants.
        let mut control = [0u64; 4];
        loop {
            let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.capacity() };
            // SAFETY: msghdr is plain data; every pointer in it is to a
            // buffer of ours of the length given.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control) as _;
            let n = unsafe { libc::recvmsg(self.0.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
            if n < 0 {
                let e = nix::errno::Errno::last();
                if retry(e) {
                    continue;
                }
                return Err(Error::sys("sync with container init", e));
            }
            // SAFETY: the kernel filled `control` as the cmsg macros read it.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                        let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
                        let count = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<libc::c_int>();
                        for i in 0..count {
                            *self.1.borrow_mut() = Some(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                        }
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
                buf.set_len(n as usize);
            }
            return Ok(message(buf));
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

/// The largest message read; the buffer is not zeroed, so only the pages
/// a message fills are touched (zeroing 64 KiB cost the init 16 page
/// faults, copies on write of kiste's heap, per message).
const MAX_MESSAGE: usize = 65536;

/// A packet as (tag, payload); None for the end of the stream.
fn message(mut buf: Vec<u8>) -> Option<(u8, Vec<u8>)> {
    if buf.is_empty() {
        return None;
    }
    let tag = buf.remove(0);
    Some((tag, buf))
}

/// Errors after which a read is tried again. ECONNRESET: the other side
/// closed its end with a message of ours unread (an init that failed before
/// it read CGROUPS). The kernel reports that once, before the messages that
/// side sent first (its ERROR); the next read returns them, then EOF.
fn retry(e: nix::errno::Errno) -> bool {
    matches!(e, nix::errno::Errno::EINTR | nix::errno::Errno::ECONNRESET)
}
