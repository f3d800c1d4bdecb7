//! The command line as C's `main` received it. kiste enters through `main`
//! (src/main.rs), and with musl the Rust standard library never sees argv
//! then (glibc hands it to static initialisers; musl does not), so
//! `std::env::args_os()` would be empty. `main` records it here first.

use std::ffi::{CStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::sync::OnceLock;

static ARGV: OnceLock<Vec<OsString>> = OnceLock::new();

/// Records argv.
///
/// # Safety
/// `argv` holds `argc` valid C strings.
pub unsafe fn set(argc: i32, argv: *const *const libc::c_char) {
    let args = (0..argc.max(0) as usize)
        .map(|i| unsafe { *argv.add(i) })
        .take_while(|p| !p.is_null())
        .map(|p| OsString::from_vec(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()))
        .collect();
    let _ = ARGV.set(args);
}

/// The arguments, program name first (the standard library's view when
/// `set` was not called, as in tests).
pub fn args() -> &'static [OsString] {
    ARGV.get_or_init(|| std::env::args_os().collect())
}
