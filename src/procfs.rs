//! Writes into /proc that a container cannot redirect (the 2025 runc
//! advisories, CVE-2025-52881 and kin): kiste sets a container's sysctls,
//! oom_score_adj and LSM labels by writing procfs files, and a container
//! (through its image, a volume, or a racing neighbour) can put a symlink,
//! a bind mount or a tmpfs where /proc/sys/… or /proc/self/attr/… should
//! be, so that the write lands elsewhere (core_pattern, say) or nowhere.
//!
//! So such writes never go through the container's /proc path. They go
//! through a procfs instance of kiste's own, made with fsopen and never
//! attached anywhere (nothing can be mounted on it), of the caller's pid
//! namespace, and each file is opened beneath it with no symlink, no magic
//! link and no mount crossing allowed, then checked to be on procfs.

use crate::error::{Context, Error, Result};
use crate::rootfs::fdmount;
use nix::errno::Errno;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const PROC_ROOT_INO: u64 = 1;

pub struct Proc(OwnedFd);

impl Proc {
    /// A procfs of the calling process's pid namespace. Where a new procfs
    /// may not be made (a user namespace without a fully visible /proc), a
    /// non-recursive clone of the /proc mount (which drops whatever is
    /// mounted over parts of it), checked to be a procfs root.
    pub fn private() -> Result<Proc> {
        let attrs = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;
        let fd = match fdmount::new_fs("proc", Some("proc"), &[], &[], attrs) {
            Ok(fd) => fd,
            Err(_) => fdmount::clone_tree(libc::AT_FDCWD, "/proc", false).context("open a procfs of our own")?,
        };
        let st = nix::sys::stat::fstat(&fd).context("procfs: stat")?;
        if !is_procfs(&fd) || st.st_ino != PROC_ROOT_INO {
            return Err(Error::msg("procfs: /proc is not the root of a procfs"));
        }
        Ok(Proc(fd))
    }

    /// `REL` under this procfs, e.g. `sys/net/ipv4/ip_forward`; the
    /// calling thread's own files are `thread_path("attr/exec")`.
    pub fn write(&self, rel: &str, data: &[u8]) -> Result<()> {
        let f = self.open(rel, libc::O_WRONLY).with_context(|| format!("open /proc/{rel}"))?;
        let mut f = std::fs::File::from(f);
        f.write_all(data).with_context(|| format!("write /proc/{rel}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.open(rel, libc::O_PATH).is_ok()
    }

    fn open(&self, rel: &str, flags: i32) -> std::result::Result<OwnedFd, Errno> {
        let c = CString::new(rel).map_err(|_| Errno::EINVAL)?;
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (flags | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64;
        how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_XDEV;
        let fd = loop {
            let ret = unsafe {
                libc::syscall(libc::SYS_openat2, self.0.as_raw_fd(), c.as_ptr(), &how as *const libc::open_how, size_of::<libc::open_how>())
            };
            if ret >= 0 {
                break unsafe { OwnedFd::from_raw_fd(ret as i32) };
            }
            match Errno::last() {
                Errno::EAGAIN | Errno::EINTR => continue,
                e => return Err(e),
            }
        };
        if !is_procfs(&fd) {
            return Err(Errno::EXDEV);
        }
        Ok(fd)
    }
}

impl Proc {
    /// The calling thread's directory in this procfs, `PID/task/TID/REL`, as
    /// its own `thread-self` link names it: in the procfs of another pid
    /// namespace (the host's /proc, where fsopen was refused) the caller
    /// has other numbers than getpid() says. (`self` and `thread-self`
    /// themselves are symlinks, which `write` refuses to follow.)
    pub fn thread_path(&self, rel: &str) -> Result<String> {
        let me = nix::fcntl::readlinkat(&self.0, "thread-self").context("procfs: read thread-self")?;
        let me = me.to_str().filter(|m| !m.is_empty() && !m.starts_with('/')).ok_or_else(|| Error::msg("procfs: no thread-self"))?;
        Ok(format!("{me}/{rel}"))
    }
}

pub fn is_procfs(fd: &OwnedFd) -> bool {
    nix::sys::statfs::fstatfs(fd).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

/// A `Proc` made on first use, for a process that may write nothing.
#[derive(Default)]
pub struct Lazy(std::cell::OnceCell<Proc>);

impl Lazy {
    pub fn get(&self) -> Result<&Proc> {
        if let Some(p) = self.0.get() {
            return Ok(p);
        }
        let p = Proc::private()?;
        Ok(self.0.get_or_init(|| p))
    }
}
