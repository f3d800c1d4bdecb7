//! Finding the program to run inside the container, before it is started, so
//! that a missing one fails `create` with the words callers look for
//! ("executable file not found in $PATH", "no such file or directory",
//! "permission denied").

use crate::error::{Error, Result, errno_text};
use nix::errno::Errno;
use nix::unistd::{AccessFlags, access};
use std::path::{Path, PathBuf};

pub fn find(program: &str, env: &[String]) -> Result<PathBuf> {
    if program.contains('/') {
        check(Path::new(program)).map_err(|e| Error::msg(format!("exec: {program:?}: stat {program}: {}", errno_text(e))))?;
        return Ok(PathBuf::from(program));
    }
    let path =
        env.iter().rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut denied = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(program);
        match check(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(Errno::EACCES) => denied = Some(candidate),
            Err(_) => {}
        }
    }
    if let Some(c) = denied {
        return Err(Error::msg(format!("exec: {program:?}: {}: permission denied", c.display())));
    }
    Err(Error::msg(format!("exec: {program:?}: executable file not found in $PATH")))
}

fn check(p: &Path) -> std::result::Result<(), Errno> {
    let meta = std::fs::metadata(p).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)))?;
    if meta.is_dir() {
        return Err(Errno::EACCES);
    }
    access(p, AccessFlags::X_OK)
}
