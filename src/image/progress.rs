//! Progress of `image pull` and `image import`, on stderr (stdout carries
//! the result). On a terminal: one bar, redrawn in place, with the bytes
//! brought in and the layers done, and a line for each finished step above
//! it. Otherwise: only those lines, one per step, for logs and scripts.
//! Shared by the threads that fetch and unpack layers.

use std::io::{IsTerminal, Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    bar: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    total: u64,
    done: u64,
    layers: usize,
    layers_done: usize,
    drawn: Option<Instant>,
    /// No bar any more: the work is over.
    over: bool,
}

const WIDTH: usize = 30;

impl Progress {
    /// A bar when stderr is a terminal, plain lines when it is not.
    pub fn stderr() -> Progress {
        Progress::new(std::io::stderr().is_terminal())
    }

    pub fn new(bar: bool) -> Progress {
        Progress { bar, state: Mutex::new(State::default()) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }

    /// More bytes to bring in.
    pub fn expect(&self, bytes: u64) {
        self.with(|s| {
            s.total += bytes;
            self.draw(s, false);
        });
    }

    /// `n` of them arrived.
    pub fn advance(&self, n: u64) {
        self.with(|s| {
            s.done += n;
            self.draw(s, false);
        });
    }

    /// How many layers the image has.
    pub fn layers(&self, n: usize) {
        self.with(|s| {
            s.layers += n;
            self.draw(s, true);
        });
    }

    /// A layer is done; `line` says how.
    pub fn layer_done(&self, line: &str) {
        self.with(|s| {
            s.layers_done += 1;
            self.print(s, line);
        });
    }

    /// A line that stays (above the bar, on a terminal).
    pub fn line(&self, line: &str) {
        self.with(|s| self.print(s, line));
    }

    fn print(&self, s: &mut State, line: &str) {
        if self.bar {
            let _ = write!(std::io::stderr(), "\r\x1b[K{line}\n");
            self.draw(s, true);
        } else {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    /// The bar goes for good (the work is over, or failed).
    pub fn finish(&self) {
        self.with(|s| {
            if self.bar && !std::mem::replace(&mut s.over, true) && s.drawn.is_some() {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        });
    }

    /// Redraws the bar, at most ten times a second unless `now`.
    fn draw(&self, s: &mut State, now: bool) {
        if !self.bar || s.over || (s.total == 0 && s.layers == 0) {
            return;
        }
        if !now && s.drawn.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        s.drawn = Some(Instant::now());
        let filled = (s.done.min(s.total) * WIDTH as u64).checked_div(s.total).unwrap_or(0) as usize;
        let _ = write!(
            std::io::stderr(),
            "\r\x1b[K[{}{}] {} / {}, layers {}/{}",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            human(s.done),
            human(s.total),
            s.layers_done,
            s.layers
        );
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A reader that reports the bytes passing through it.
pub struct Counting<'a, R> {
    pub inner: R,
    pub progress: &'a Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Bytes for people: `512 B`, `3.5 kB`, `1.2 MB`.
pub fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
