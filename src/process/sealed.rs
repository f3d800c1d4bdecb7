//! CVE-2019-5736: a container must never get a writable handle on the kiste
//! binary. The init (and an exec'd process) is a fork of kiste, so until its
//! final execve its /proc/self/exe is kiste's; a container program
//! `#!/proc/self/exe` would make the kernel run that file inside the
//! container, where it could be reopened for writing. So `create`, `run`
//! and `exec` first re-execute kiste from a file nobody can write:
//!
//! - kiste's own file, through a private read-only bind mount of it (a
//!   detached mount, never attached anywhere, gone when kiste exits): no
//!   copy, so it costs one execve. Writing through /proc/PID/exe then fails
//!   with EROFS; only a process with CAP_SYS_ADMIN in the host's user
//!   namespace (a privileged container, which is no boundary anyway) could
//!   clone that mount and clear its read-only flag.
//! - failing that (no open_tree), a sealed memfd copy, as runc did first.
//!
//! When kiste's file already sits on a read-only mount, or runs from a
//! sealed memfd, there is nothing to do.
//!
//! The detached mount goes away when the last fd to it is closed, and that
//! close waits for an (expedited) RCU grace period: as a close-on-exec fd
//! it was paid on the way out of the execve, before anything else, and
//! under load it queues behind every other mount change on the machine. So
//! the fd crosses the execve open, named in `MOUNT_FD_VAR`, and the new
//! image closes it once the container runs (`release`).

use crate::error::{Context, Result};
use crate::rootfs::fdmount::{clone_tree, set_attr};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

const SEALS: i32 = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Names the fd of the read-only mount across the re-exec.
const MOUNT_FD_VAR: &str = "_KISTE_EXE_MOUNT_FD";

/// That fd, in the re-executed kiste (-1: none).
static MOUNT_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Can /proc/self/exe be written by nobody: on a read-only mount, or a
/// sealed memfd?
pub fn is_protected() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatvfs(f.as_raw_fd(), &mut st) } == 0 && st.f_flag & libc::ST_RDONLY != 0 {
        return true;
    }
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Re-executes the current command from a protected file, unless already
/// there. Returns only on error.
pub fn ensure() -> Result<()> {
    // Checked once per process: the CLI calls this before parsing, the
    // container layer again before it makes a process.
    static PROTECTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if PROTECTED.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    if is_protected() {
        PROTECTED.store(true, std::sync::atomic::Ordering::Relaxed);
        adopt_mount_fd();
        return Ok(());
    }
    let (args, mut env) = argv_envp();
    if let Ok(exe) = read_only_exe() {
        // Open across the execve (see the module's doc).
        if unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_SETFD, 0) } == 0
            && let Ok(var) = CString::new(format!("{MOUNT_FD_VAR}={}", exe.as_raw_fd()))
        {
            env.push(var);
        }
        // Returns only if the kernel refused; then the copy, which names
        // no mount fd.
        execveat(&exe, &args, &env);
        env.retain(|e| !e.as_bytes().starts_with(MOUNT_FD_VAR.as_bytes()));
    }
    let mem = sealed_copy()?;
    let e = nix::unistd::fexecve(&mem, &args, &env).unwrap_err();
    Err(e).context("re-execute kiste from a sealed copy")
}

/// Takes the fd `MOUNT_FD_VAR` names, if it is the mount of the file this
/// process runs from (a stray variable names nothing of ours), and takes
/// the variable out of the environment.
fn adopt_mount_fd() {
    let Some(n) = std::env::var_os(MOUNT_FD_VAR) else { return };
    // SAFETY: kiste is single-threaded here (before any command runs).
    unsafe { std::env::remove_var(MOUNT_FD_VAR) };
    let Some(fd) = n.to_str().and_then(|s| s.parse::<i32>().ok()).filter(|fd| *fd > 2) else { return };
    let mut a: libc::stat = unsafe { std::mem::zeroed() };
    let mut b: libc::stat = unsafe { std::mem::zeroed() };
    let ours = unsafe { libc::fstat(fd, &mut a) } == 0
        && unsafe { libc::stat(c"/proc/self/exe".as_ptr(), &mut b) } == 0
        && (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino);
    if ours && unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == 0 {
        MOUNT_FD.store(fd, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Closes the fd of the read-only mount kiste runs from (dissolving the
/// mount once no other process holds it): called once the container's
/// process runs, while kiste only waits.
pub fn release() {
    let fd = MOUNT_FD.swap(-1, std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        unsafe { libc::close(fd) };
    }
}

/// kiste's file, opened through a read-only bind mount of its own.
fn read_only_exe() -> std::result::Result<OwnedFd, nix::errno::Errno> {
    let tree = clone_tree(libc::AT_FDCWD, "/proc/self/exe", false)?;
    set_attr(&tree, libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV, 0, 0, false)?;
    Ok(tree)
}

fn execveat(fd: &OwnedFd, args: &[CString], env: &[CString]) -> nix::errno::Errno {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    unsafe { libc::syscall(libc::SYS_execveat, fd.as_raw_fd(), c"".as_ptr(), argv.as_ptr(), envp.as_ptr(), libc::AT_EMPTY_PATH) };
    nix::errno::Errno::last()
}

fn sealed_copy() -> Result<OwnedFd> {
    let exe = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
    let len = exe.metadata().context("stat /proc/self/exe")?.len();
    let fd = unsafe { libc::memfd_create(c"kiste".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(nix::errno::Errno::last()).context("memfd_create");
    }
    let mem = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut left = len as usize;
    while left > 0 {
        let n = unsafe { libc::sendfile(mem.as_raw_fd(), exe.as_raw_fd(), std::ptr::null_mut(), left) };
        if n <= 0 {
            return Err(nix::errno::Errno::last()).context("copy kiste into memfd");
        }
        left -= n as usize;
    }
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(nix::errno::Errno::last()).context("seal memfd");
    }
    Ok(mem)
}

fn argv_envp() -> (Vec<CString>, Vec<CString>) {
    let args = crate::argv::args().iter().map(|a| CString::new(a.as_bytes()).unwrap_or_default()).collect();
    let env = std::env::vars_os()
        .filter(|(k, _)| k != MOUNT_FD_VAR)
        .map(|(k, v)| {
            let mut b = k.as_bytes().to_vec();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            CString::new(b).unwrap_or_default()
        })
        .collect();
    (args, env)
}
