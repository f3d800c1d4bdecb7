//! The container's terminal (`process.terminal`): a pty made from the
//! container's own devpts, its slave as the process's stdio and controlling
//! terminal, and its master sent to whoever holds the console socket
//! (containerd, conmon, or kiste itself in the foreground).

use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A new pty: (master, slave, slave's path inside the container).
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub name: String,
}

/// Opens /dev/ptmx of the container (call it inside the container's root)
/// and its slave through the master (TIOCGPTPEER: no path lookup in /dev/pts
/// that a container process could race).
pub fn open_pty(size: Option<(u16, u16)>) -> Result<Pty> {
    // Resolved inside the root (no magic link, no way out), and checked to
    // be a pty multiplexer: /dev/ptmx is the container's to replace.
    let root = nix::fcntl::open("/", nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .context("process.terminal: open /")?;
    let master = crate::rootfs::resolve::open(&root, std::path::Path::new("/dev/ptmx"), libc::O_RDWR | libc::O_NOCTTY)
        .context("process.terminal: open /dev/ptmx")?;
    drop(root);
    let st = nix::sys::stat::fstat(&master).context("process.terminal: stat /dev/ptmx")?;
    let ptmx = st.st_mode & libc::S_IFMT == libc::S_IFCHR && libc::major(st.st_rdev) == 5 && libc::minor(st.st_rdev) == 2;
    if !ptmx {
        crate::bail!("process.terminal: /dev/ptmx is not the pty multiplexer (device 5:2)");
    }
    let unlock: libc::c_int = 0;
    // SAFETY: ioctls on the fd we just opened, with pointers to locals.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) }).context("process.terminal: unlock the pty")?;
    let mut n: libc::c_uint = 0;
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) }).context("process.terminal: pty number")?;
    let slave =
        Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) })
            .context("process.terminal: open the pty's slave")?;
    // SAFETY: a new fd that nothing else owns.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    if let Some((rows, cols)) = size {
        set_size(master.as_raw_fd(), rows, cols).context("process.consoleSize")?;
    }
    Ok(Pty { master, slave, name: format!("/dev/pts/{n}") })
}

pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) }).map(|_| ()).map_err(Error::from)
}

/// The terminal size of `fd`, if it is a terminal.
pub fn get_size(fd: RawFd) -> Option<(u16, u16)> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Sends `fd` over the unix socket with SCM_RIGHTS, the pty's name as the
/// payload (what runc sends, and containerd and conmon read).
pub fn send_fd(socket: &OwnedFd, fd: &OwnedFd, name: &str) -> Result<()> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    nix::sys::socket::sendmsg::<()>(socket.as_raw_fd(), &iov, &cmsg, nix::sys::socket::MsgFlags::empty(), None)
        .context("--console-socket: send the pty master")?;
    Ok(())
}

/// Receives an fd sent with `send_fd`.
pub fn recv_fd(socket: &OwnedFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC)
        .context("receive the pty master")?;
    for c in msg.cmsgs().context("receive the pty master")? {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c
            && let Some(&fd) = fds.first()
        {
            // SAFETY: the kernel just gave us this fd.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Err(Error::msg("the container sent no pty master"))
}

/// Makes the slave the calling process's stdin, stdout, stderr and
/// controlling terminal (the caller is a session leader).
pub fn become_tty(slave: &OwnedFd) -> Result<()> {
    for fd in 0..3 {
        Errno::result(unsafe { libc::dup2(slave.as_raw_fd(), fd) }).context("process.terminal: dup the pty to stdio")?;
    }
    Errno::result(unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) }).context("process.terminal: make the pty the controlling terminal")?;
    Ok(())
}
