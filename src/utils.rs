//! Small helpers without a better home: time stamps, atomic writes, /proc reads.

use crate::error::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Now as RFC 3339 in UTC; with nanoseconds when `nanos` (runc's `created`).
pub fn rfc3339_now(nanos: bool) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if nanos {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{:09}Z", now.subsec_nanos())
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Writes `data` to `path` so that readers see the old or the new file, never
/// half of one: a temporary file beside it, then rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    write_then_publish(path, &tmp, data, |tmp| std::fs::rename(tmp, path))
}

/// As `write_atomic`, for a file that does not outlive the boot (a
/// container's state): an existing file is swapped with the new one
/// (RENAME_EXCHANGE) and the old one unlinked. On ext4 a rename over an
/// existing file makes the kernel write the new data out at once
/// (auto_da_alloc) and the unlink of the old free its blocks: about 0.2 ms
/// of a `run` here, for a file that only needs to survive a killed kiste,
/// not a crash of the machine. `tmp`: the temporary file's name (its
/// writers take turns).
pub fn write_atomic_volatile(path: &Path, tmp: &Path, data: &[u8]) -> Result<()> {
    write_then_publish(path, tmp, data, |tmp| {
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other);
        let (from, to) = (c(tmp)?, c(path)?);
        // SAFETY: two NUL-terminated paths; musl's libc has no renameat2.
        let rc = unsafe {
            libc::syscall(libc::SYS_renameat2, libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_EXCHANGE)
        };
        if rc == 0 {
            // The new state is in place; the old one left behind is only
            // litter.
            let _ = std::fs::remove_file(tmp);
            return Ok(());
        }
        match std::io::Error::last_os_error() {
            // Nothing to swap with yet, a filesystem that cannot swap, or a
            // kernel (or seccomp filter) without renameat2.
            e if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL | libc::ENOSYS | libc::EPERM)) => std::fs::rename(tmp, path),
            e => Err(e),
        }
    })
}

/// Writes `data` to a new temporary file beside `path`, then `publish`es
/// it in place; on error the temporary file is removed.
fn write_then_publish(path: &Path, tmp: &Path, data: &[u8], publish: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<()> {
    let res = (|| -> std::io::Result<()> {
        let open = || std::fs::OpenOptions::new().write(true).create_new(true).open(tmp);
        let mut f = match open() {
            // Left by a writer that was killed: replaced (never followed).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(tmp)?;
                open()?
            }
            r => r?,
        };
        f.write_all(data)?;
        drop(f);
        publish(tmp)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    res.with_context(|| format!("write {}", path.display()))
}

/// `path` made absolute with every symlink resolved, as
/// `std::fs::canonicalize`, but asked of the kernel: opened (O_PATH), then
/// its /proc/self/fd link read. musl's realpath reads a link per component
/// (30 µs for a bundle path here). Falls back to canonicalize without
/// /proc, or for a path the link cannot show as it is.
pub fn real_path(path: &Path) -> std::io::Result<PathBuf> {
    let f = open_raw(path, libc::O_PATH)?;
    use std::os::fd::AsRawFd;
    match std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())) {
        Ok(p) if p.is_absolute() && !p.as_os_str().as_encoded_bytes().ends_with(b" (deleted)") => Ok(p),
        _ => std::fs::canonicalize(path),
    }
}

/// open(2) without the extra fcntl(F_SETFD) musl's open() makes after an
/// O_CLOEXEC open (for kernels older than 2.6.23), for the small files of
/// the hot path (cgroup and /proc files).
fn open_raw(path: &Path, flags: i32) -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other)?;
    loop {
        // SAFETY: a NUL-terminated path; the fd returned is ours.
        let fd = unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c.as_ptr(), flags | libc::O_CLOEXEC, 0o666) };
        if fd >= 0 {
            return Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) });
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A small file (a /proc or cgroup file, which report no size) read whole:
/// one read for most, where std's read_to_string starts at 32 bytes.
pub fn read_small(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = open_raw(path, libc::O_RDONLY)?;
    let mut buf = Vec::with_capacity(4096);
    f.read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(std::io::Error::other)
}

/// Writes `data` to an existing file (a cgroup or /proc file) in one write.
pub fn write_small(path: &Path, data: &[u8]) -> std::io::Result<()> {
    open_raw(path, libc::O_WRONLY)?.write_all(data)
}

/// What /proc/PID/stat says of a process: its state letter and start time
/// (in clock ticks since boot), which together tell a live process from a
/// zombie or from another process that got the same PID later.
pub struct ProcStat {
    pub state: char,
    pub start_time: u64,
}

pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let s = read_small(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    // The command name may hold spaces and parentheses: skip to the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // Field 22 of stat is starttime; `rest` starts at field 3.
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

/// Columns padded like Go's tabwriter as runc uses it (min width 12,
/// padding 3).
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count() + 3).max().unwrap_or(0).max(12)).collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

/// The spec's spelling of an enum value ("SCMP_ACT_ERRNO", "SCHED_FIFO",
/// …), as serde writes it.
pub fn spec_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// A CPU or NUMA node list ("0-3,7") as the numbers it names.
pub fn parse_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if a > b || b > 4095 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok().filter(|n| *n <= 4095)?),
        }
    }
    Some(out)
}
