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
    file: Option<String>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

pub fn init(file: Option<String>, format: Format, debug: bool) {
    let _ = LOGGER.set(Logger { file, format, debug });
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
        Some(l) => (l.file.as_deref(), l.format),
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
        Some(path) => {
            if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}
