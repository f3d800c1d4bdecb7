//! The kiste binary. It enters through C's `main` rather than Rust's
//! runtime start-up, which would parse /proc/self/maps to place a stack
//! guard: start-up time is our headline figure, and kiste runs briefly.
#![no_main]

// musl's malloc hands freed memory back to the kernel eagerly: parsing the
// command line alone made some 60 mmap/munmap calls, half of the CPU time
// of `kiste --version` (perf). dlmalloc keeps what it freed for reuse and
// trims only above 2 MiB: 0.47 -> 0.26 ms of CPU for `--version`.
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[unsafe(no_mangle)]
/// # Safety
/// Called by the C runtime only, with argc valid strings in argv.
pub unsafe extern "C" fn main(argc: i32, argv: *const *const libc::c_char) -> i32 {
    // SAFETY: C's main gets argc valid strings.
    unsafe { kiste::argv::set(argc, argv) };
    // Rust's start-up would also make sure fds 0-2 are open: an fd we open
    // must never be taken for the container's stdio.
    for fd in 0..3 {
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
    // As Rust's start-up would: a reader gone away (a hook that ignores its
    // stdin) is an EPIPE to handle, not a signal that kills kiste. The
    // container's init restores every signal's default before its execve.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    kiste::cli::main()
}
