//! Containers and their lifecycle (runtime.md): creating → created →
//! running → stopped. Each operation locks the container's directory, so two
//! commands on one id never interleave.

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod foreground;
pub mod gc;
pub mod id;
pub mod kill;
pub mod pause;
pub mod run;
pub mod start;
pub mod state;
pub mod update;

use crate::error::{Context, Error, Result};
use nix::fcntl::{Flock, FlockArg};
use state::{State, Status};
use std::fs::File;
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/run/kiste";

/// A container whose directory this process holds locked.
pub struct Container {
    pub id: String,
    pub dir: PathBuf,
    pub state: State,
    _lock: Flock<File>,
}

pub fn not_found() -> Error {
    Error::msg("container does not exist")
}

impl Container {
    /// Opens and locks an existing container.
    pub fn open(root: &Path, id: &str) -> Result<Container> {
        id::validate(id)?;
        let dir = root.join(id);
        let f = File::open(&dir).map_err(|_| not_found())?;
        let lock = lock(f, &dir)?;
        // Deleted while we waited for the lock?
        let state = match State::load(&dir) {
            Ok(s) => s,
            Err(_) if !dir.join(state::STATE_FILE).exists() => return Err(not_found()),
            Err(e) => return Err(e),
        };
        Ok(Container { id: id.to_string(), dir, state, _lock: lock })
    }

    /// Opens and locks a container for removal: a damaged or missing
    /// state.json is replaced by what its journal says (`State::recover`).
    /// None if the directory is gone or nothing in it can be read.
    pub fn open_damaged(root: &Path, id: &str) -> Option<Container> {
        let dir = root.join(id);
        let lock = lock(File::open(&dir).ok()?, &dir).ok()?;
        let state = State::load(&dir).ok().or_else(|| State::recover(&dir, id))?;
        Some(Container { id: id.to_string(), dir, state, _lock: lock })
    }

    pub fn status(&self) -> Status {
        self.state.status(&self.dir)
    }

    pub fn save(&self) -> Result<()> {
        self.state.save(&self.dir)
    }
}

pub fn lock(f: File, dir: &Path) -> Result<Flock<File>> {
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| e).with_context(|| format!("lock {}", dir.display()))
}

/// The state of one container, read without taking its lock (the file is
/// replaced atomically, so a reader never sees half of it).
pub fn read_state(root: &Path, id: &str) -> Result<(State, Status)> {
    id::validate(id)?;
    let dir = root.join(id);
    let s = State::load(&dir).map_err(|e| if dir.join(state::STATE_FILE).exists() { e } else { not_found() })?;
    let status = s.status(&dir);
    Ok((s, status))
}

/// Every container under `root`, by id.
pub fn list(root: &Path) -> Result<Vec<(State, Status)>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("read {}", root.display())),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Ok(s) = read_state(root, &name) {
            out.push(s);
        }
    }
    out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    Ok(out)
}
