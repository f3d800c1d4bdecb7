//! One error type for the whole runtime: a message that says what was being
//! done (with the path or field involved) and, when the kernel refused, why.
//! Errors are reported once, at the top (`cli`), never logged on the way up.

use nix::errno::Errno;
use std::fmt;

#[derive(Debug)]
pub struct Error {
    context: String,
    errno: Option<Errno>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn msg(context: impl Into<String>) -> Self {
        Error { context: context.into(), errno: None }
    }

    pub fn sys(context: impl Into<String>, errno: Errno) -> Self {
        Error { context: context.into(), errno: Some(errno) }
    }

    /// The kernel's answer that caused this error, if any.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    fn prefixed(mut self, outer: String) -> Self {
        self.context = if self.context.is_empty() { outer } else { format!("{outer}: {}", self.context) };
        self
    }
}

/// The kernel's reason in the words Go programs print (and callers parse):
/// lower-case strerror, e.g. "no such file or directory".
pub fn errno_text(e: Errno) -> String {
    let s = e.desc();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            Some(e) if self.context.is_empty() => f.write_str(&errno_text(e)),
            Some(e) => write!(f, "{}: {}", self.context, errno_text(e)),
            None => f.write_str(&self.context),
        }
    }
}

impl std::error::Error for Error {}

impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        Error { context: String::new(), errno: Some(e) }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(n) => Error::from(Errno::from_raw(n)),
            None => Error::msg(e.to_string()),
        }
    }
}

/// Adds what was being done to an error, on its way up.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().prefixed(what.to_string()))
    }
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| e.into().prefixed(what().to_string()))
    }
}

/// `bail!("...")`: return an error made of a formatted message.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::Error::msg(format!($($arg)*))) };
}
