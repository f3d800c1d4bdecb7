//! Container ids, checked as runc checks them before anything is written.

use crate::bail;
use crate::error::Result;

/// Longest id accepted: it names the container's files (`ID.journal` the
/// longest), and a file name ends at 255 bytes.
pub const MAX_LEN: usize = 255 - ".journal".len();

pub fn validate(id: &str) -> Result<()> {
    if id.is_empty() {
        bail!("invalid container ID format: the id is empty");
    }
    if id == "." || id == ".." {
        bail!("invalid container ID format: {id:?}");
    }
    if id.len() > MAX_LEN {
        bail!("invalid container ID format: longer than {MAX_LEN} bytes");
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'))) {
        bail!("invalid container ID format: {id:?} contains {c:?} (allowed: letters, digits, _ + - .)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn ids() {
        for ok in ["a", "A-b_c+d.e", "0", "x..y"] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "ä", "a\n", &"x".repeat(248)] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
