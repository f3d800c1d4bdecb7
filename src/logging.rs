//! Log lines as runc writes them: logrus text (`time="…" level=error msg="…"`)
//! or one JSON object per line (`{"level":"error","msg":"…","time":"…"}`),
//! to `--log FILE` or, without it, to stderr. containerd reads the last
//! `"level":"error"` line of the file and shows its `msg` to users.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<std::fs::File>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Opens `--log FILE` once, here on the host: a container's init must never
/// resolve that path again after it entered the container's root, where it
/// would name a file of the container's choosing. A file that cannot be
/// opened leaves the lines on stderr.
pub fn init(path: Option<String>, format: Format, debug: bool) {
    let file = path.and_then(|p| OpenOptions::new().create(true).append(true).open(p).ok());
    let _ = LOGGER.set(Logger { file, format, debug });
}

/// The log file's fd, which a container's init keeps open until its execve.
pub fn file_fd() -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    LOGGER.get().and_then(|l| l.file.as_ref()).map(|f| f.as_raw_fd())
}

pub fn debug_enabled() -> bool {
    LOGGER.get().is_some_and(|l| l.debug)
}

/// True when log lines go to a file rather than to stderr.
pub fn to_file() -> bool {
    LOGGER.get().is_some_and(|l| l.file.is_some())
}

pub fn error(msg: &str) {
    write("error", msg)
}

pub fn warn(msg: &str) {
    write("warning", msg)
}

pub fn debug(msg: &str) {
    if debug_enabled() {
        write("debug", msg)
    }
}

fn write(level: &str, msg: &str) {
    let (file, format) = match LOGGER.get() {
        Some(l) => (l.file.as_ref(), l.format),
        None => (None, Format::Text),
    };
    let time = crate::utils::rfc3339_now(false);
    let line = match format {
        Format::Json => {
            let v = serde_json::json!({ "level": level, "msg": msg, "time": time });
            format!("{v}\n")
        }
        Format::Text => format!("time=\"{time}\" level={level} msg={}\n", quote(msg)),
    };
    match file {
        Some(mut f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Per-stage timing (`--debug`, or `KISTE_TRACE=1`): each `stage(name)`
/// records the time since the previous one; `report_stages` logs them all
/// on one debug line (or, with KISTE_TRACE alone, on stderr). The init
/// records its own stages and sends them to kiste with READY (`encode`,
/// `add_encoded`).
mod stages {
    use std::sync::Mutex;
    use std::time::Instant;

    pub static STAGES: Mutex<Vec<(String, u128)>> = Mutex::new(Vec::new());
    pub static LAST: Mutex<Option<Instant>> = Mutex::new(None);
}

pub fn tracing() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| debug_enabled() || std::env::var_os("KISTE_TRACE").is_some_and(|v| !v.is_empty() && v != "0"))
}

pub fn stage(name: &str) {
    if !tracing() {
        return;
    }
    let now = std::time::Instant::now();
    let mut last = stages::LAST.lock().unwrap_or_else(|e| e.into_inner());
    let since = last.map_or(0, |l| now.duration_since(l).as_micros());
    *last = Some(now);
    stages::STAGES.lock().unwrap_or_else(|e| e.into_inner()).push((name.to_string(), since));
}

/// Starts the clock afresh (in a child, which inherited its parent's).
pub fn reset_stages() {
    if tracing() {
        stages::STAGES.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *stages::LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
    }
}

/// This process's stages as "name=µs,name=µs" (for the sync channel).
pub fn encode_stages() -> String {
    let list = stages::STAGES.lock().unwrap_or_else(|e| e.into_inner());
    list.iter().map(|(n, us)| format!("{n}={us}")).collect::<Vec<_>>().join(",")
}

/// Adds stages another process sent, each name prefixed.
pub fn add_encoded_stages(prefix: &str, text: &str) {
    if !tracing() {
        return;
    }
    let mut list = stages::STAGES.lock().unwrap_or_else(|e| e.into_inner());
    for item in text.split(',').filter(|s| !s.is_empty()) {
        if let Some((n, us)) = item.split_once('=') {
            list.push((format!("{prefix}{n}"), us.parse().unwrap_or(0)));
        }
    }
}

/// Logs the stages of this command, if any were recorded.
pub fn report_stages() {
    if !tracing() {
        return;
    }
    let list = std::mem::take(&mut *stages::STAGES.lock().unwrap_or_else(|e| e.into_inner()));
    if list.is_empty() {
        return;
    }
    let total: u128 = list.iter().filter(|(n, _)| !n.contains('.')).map(|(_, us)| us).sum();
    let parts: Vec<String> = list.iter().map(|(n, us)| format!("{n} {:.2}ms", *us as f64 / 1000.0)).collect();
    let msg = format!("stages: {} (total {:.2}ms)", parts.join(", "), total as f64 / 1000.0);
    if debug_enabled() {
        debug(&msg);
    } else {
        let _ = writeln!(std::io::stderr(), "kiste: {msg}");
    }
}
