//! Path resolution inside the rootfs: every lookup is `openat2` with
//! `RESOLVE_IN_ROOT`, so `..` and symlinks (absolute or relative) stay inside
//! the rootfs however they are crafted, and magic links are refused.

use nix::errno::Errno;
use std::collections::VecDeque;
use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

type R<T> = std::result::Result<T, Errno>;

/// Opens `path` (absolute paths count from `root`) as an fd, `flags` added
/// to `O_CLOEXEC`.
pub fn open(root: &OwnedFd, path: &Path, flags: i32) -> R<OwnedFd> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() { Path::new(".") } else { rel };
    let c = CString::new(rel.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    loop {
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if ret >= 0 {
            return Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) });
        }
        match Errno::last() {
            // The kernel asks for a retry when a rename raced the walk.
            Errno::EAGAIN | Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// O_PATH fd of `path`, a directory created (with its parents) if missing.
/// A dangling symlink on the way is followed as the kernel would follow it,
/// but inside the rootfs: its target is created there.
pub fn mkdir_all(root: &OwnedFd, path: &Path, mode: u32) -> R<OwnedFd> {
    // Mostly the directory is there: one lookup, resolved as the walk
    // below would resolve it.
    match open(root, path, libc::O_PATH | libc::O_DIRECTORY) {
        Err(Errno::ENOENT) => {}
        other => return other,
    }
    let mut todo: VecDeque<OsString> = names(path);
    let mut prefix = PathBuf::new();
    let mut cur = open(root, Path::new("."), libc::O_PATH | libc::O_DIRECTORY)?;
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        let next = prefix.join(&name);
        match open(root, &next, libc::O_PATH | libc::O_DIRECTORY) {
            Ok(fd) => {
                cur = fd;
                prefix = next;
            }
            Err(Errno::ENOENT) => {
                if let Ok(target) = nix::fcntl::readlinkat(&cur, name.as_os_str()) {
                    links += 1;
                    if links > 40 {
                        return Err(Errno::ELOOP);
                    }
                    let target = PathBuf::from(target);
                    if target.is_absolute() {
                        prefix = PathBuf::new();
                        cur = open(root, Path::new("."), libc::O_PATH | libc::O_DIRECTORY)?;
                    }
                    for n in names(&target).into_iter().rev() {
                        todo.push_front(n);
                    }
                    continue;
                }
                match nix::sys::stat::mkdirat(&cur, name.as_os_str(), nix::sys::stat::Mode::from_bits_truncate(mode)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
                cur = open(root, &next, libc::O_PATH | libc::O_DIRECTORY)?;
                prefix = next;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(cur)
}

/// The names of a path, `..` included, without `/` and `.`.
fn names(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// O_PATH fd of the file `path`, created empty (with its parent directories)
/// if missing: the mount point of a file bind mount or a device.
pub fn create_file(root: &OwnedFd, path: &Path, mode: u32) -> R<OwnedFd> {
    match open(root, path, libc::O_PATH) {
        Err(Errno::ENOENT) => {}
        other => return other,
    }
    let parent = mkdir_all(root, path.parent().unwrap_or(Path::new("/")), 0o755)?;
    let name = path.file_name().ok_or(Errno::EINVAL)?;
    let c = CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)?;
    let fd = unsafe {
        libc::openat(
            parent.as_raw_fd(),
            c.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC,
            mode,
        )
    };
    if fd < 0 && Errno::last() != Errno::EEXIST {
        return Err(Errno::last());
    }
    if fd >= 0 {
        unsafe { libc::close(fd) };
    }
    open(root, path, libc::O_PATH)
}

/// The /proc/self/fd path of an fd, for the few calls that only take paths.
pub fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}
