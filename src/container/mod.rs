//! Containers and their lifecycle (runtime.md): creating → created →
//! running → stopped. Each operation locks the container's journal, so two
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
use state::{Files, State, Status};
use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

pub const DEFAULT_ROOT: &str = "/run/kiste";

/// A container whose journal this process holds locked.
pub struct Container {
    pub id: String,
    pub files: Files,
    pub state: State,
    /// The journal, open for appending.
    journal: Flock<File>,
}

pub fn not_found() -> Error {
    Error::msg("container does not exist")
}

impl Container {
    /// Opens and locks an existing container.
    pub fn open(root: &Path, id: &str) -> Result<Container> {
        id::validate(id)?;
        let files = Files::new(root, id);
        let journal = lock_journal(&files)?;
        let state = match State::load(&files) {
            Ok(s) => s,
            Err(_) if !files.state().exists() => return Err(not_found()),
            Err(e) => return Err(e),
        };
        Ok(Container { id: id.to_string(), files, state, journal })
    }

    /// Makes a new container's journal and locks it; the id is taken.
    pub fn claim(root: &Path, id: &str, state: State) -> Result<Container> {
        let files = Files::new(root, id);
        let path = files.journal();
        for _ in 0..10 {
            let f = match File::options().append(true).create_new(true).custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW).open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::msg(format!("container with given ID already exists: {id}")));
                }
                Err(e) => return Err(e).with_context(|| format!("create {}", path.display())),
            };
            let journal = match lock(f, &path) {
                Ok(j) => j,
                Err(e) => {
                    // Made but not ours: not left behind.
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            };
            // Between the create and the lock, a `gc` or `delete --force`
            // may have taken the empty journal for a dead create's and
            // removed it: then it is made again.
            if same_file(&journal, &path) {
                return Ok(Container { id: id.to_string(), files, state, journal });
            }
        }
        Err(Error::msg(format!("container {id}: its journal kept being removed while it was made")))
    }

    /// Opens and locks a container for removal: a damaged or missing
    /// state is replaced by what its journal says (`State::recover`).
    /// None if it is gone or nothing of it can be read.
    pub fn open_damaged(root: &Path, id: &str) -> Option<Container> {
        let files = Files::new(root, id);
        let journal = lock_journal(&files).ok()?;
        let state = State::load_or_recover(&files, id)?;
        Some(Container { id: id.to_string(), files, state, journal })
    }

    pub fn status(&self) -> Status {
        self.state.status(&self.files)
    }

    pub fn save(&self) -> Result<()> {
        self.state.save(&self.files, &self.journal)
    }

    /// Appends to the journal only (see `State::note`).
    pub fn note(&self) -> Result<()> {
        self.state.note(&self.files, &self.journal)
    }
}

pub fn lock(f: File, path: &Path) -> Result<Flock<File>> {
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| e).with_context(|| format!("lock {}", path.display()))
}

/// A container's journal, locked: `not_found` if there is none, or it was
/// removed (the container deleted) while we waited for the lock.
pub fn lock_journal(files: &Files) -> Result<Flock<File>> {
    let path = files.journal();
    let f = match File::options().append(true).custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    };
    let locked = lock(f, &path)?;
    if !same_file(&locked, &path) {
        return Err(not_found());
    }
    Ok(locked)
}

/// Whether `f` is (still) the file at `path`.
fn same_file(f: &File, path: &Path) -> bool {
    match (f.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// The state of one container, read without taking its lock (the file is
/// replaced atomically, so a reader never sees half of it).
pub fn read_state(root: &Path, id: &str) -> Result<(State, Status)> {
    id::validate(id)?;
    let files = Files::new(root, id);
    let s = State::load(&files).map_err(|e| if files.state().exists() { e } else { not_found() })?;
    let status = s.status(&files);
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
        let name = e.file_name();
        if let Some(id) = name.to_str().and_then(Files::id_of)
            && let Ok(s) = read_state(root, id)
        {
            out.push(s);
        }
    }
    out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    Ok(out)
}
