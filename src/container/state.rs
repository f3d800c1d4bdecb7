//! What kiste remembers of a container: a few files under `--root`, named
//! by its id (see `Files`).

use crate::error::{Context, Error, Result};
use crate::utils::{proc_stat, write_atomic_volatile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A container's files, beside those of the others under `--root`:
///
/// - `ID.journal`: made first (its creation is what claims the id) and
///   removed last, locked by every command on the container. What the
///   container owns is appended to it on every save: if the state is lost
///   or damaged, `delete --force` and `gc` still know what to remove.
/// - `ID.json`: the state, replaced atomically (through `ID.tmp`, written
///   only by the lock's holder).
/// - `ID.fifo`: while the container is `created`, the exec fifo that
///   `start` opens.
///
/// Files rather than a directory per container: on ext4 a directory gets a
/// block at mkdir and gives it back at rmdir (with a discard, when mounted
/// so), 0.09 ms of every lifecycle here; small files removed before they
/// are written back never get one.
#[derive(Clone, Debug)]
pub struct Files {
    root: PathBuf,
    id: String,
}

const JOURNAL: &str = ".journal";

impl Files {
    pub fn new(root: &Path, id: &str) -> Files {
        Files { root: root.to_path_buf(), id: id.to_string() }
    }

    fn with(&self, suffix: &str) -> PathBuf {
        let mut name = String::with_capacity(self.id.len() + suffix.len());
        name.push_str(&self.id);
        name.push_str(suffix);
        self.root.join(name)
    }

    pub fn journal(&self) -> PathBuf {
        self.with(JOURNAL)
    }

    pub fn state(&self) -> PathBuf {
        self.with(".json")
    }

    fn state_tmp(&self) -> PathBuf {
        self.with(".tmp")
    }

    pub fn fifo(&self) -> PathBuf {
        self.with(".fifo")
    }

    /// The id whose journal the file `name` under the root is.
    pub fn id_of(name: &str) -> Option<&str> {
        name.strip_suffix(JOURNAL)
    }

    /// Removes them all, the journal last.
    pub fn remove(&self) {
        for p in [self.fifo(), self.state_tmp(), self.state(), self.journal()] {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct State {
    pub id: String,
    /// Host PID of the container's init; 0 until it exists.
    pub pid: i32,
    /// Its start time (clock ticks after boot): a recycled PID has another.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroup directories, (controllers, path).
    pub cgroup: Vec<(String, PathBuf)>,
    /// The `kiste create` that is making the container (while pid is 0).
    pub creator: i32,
    pub creator_start: u64,
    /// The config's hooks as they were at create (config.json may change).
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// `--pid-file`, removed with the container.
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
}

/// One journal line: the part of the state that names what exists.
#[derive(Serialize, Deserialize)]
struct Owned {
    pid: i32,
    pid_start: u64,
    cgroup: Vec<(String, PathBuf)>,
    creator: i32,
    creator_start: u64,
    pid_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Is the process `pid` that started at `start` still alive (not a zombie)?
pub fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && proc_stat(pid).is_some_and(|s| s.start_time == start && !matches!(s.state, 'Z' | 'X' | 'x'))
}

impl State {
    pub fn load(files: &Files) -> Result<State> {
        let path = files.state();
        let text = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        serde_json::from_slice(&text).map_err(|e| Error::msg(format!("{}: corrupt state: {e}", path.display())))
    }

    /// Appends the journal line (to `journal`, the journal open for
    /// appending), then writes the state (atomically). Both are written
    /// before what they name is made (see container::create). No fsync:
    /// what they guard against is a killed kiste, and the page cache
    /// outlives a process; a machine that crashes loses the processes,
    /// cgroups and mounts too.
    pub fn save(&self, files: &Files, journal: &File) -> Result<()> {
        self.note(files, journal)?;
        let text = serde_json::to_vec(self).map_err(|e| Error::msg(e.to_string()))?;
        write_atomic_volatile(&files.state(), &files.state_tmp(), &text)
    }

    /// Appends the journal line alone: what the container owns (or is
    /// about to), for `recover`.
    pub fn note(&self, files: &Files, mut journal: &File) -> Result<()> {
        let owned = Owned {
            pid: self.pid,
            pid_start: self.pid_start,
            cgroup: self.cgroup.clone(),
            creator: self.creator,
            creator_start: self.creator_start,
            pid_file: self.pid_file.clone(),
        };
        let mut line = serde_json::to_vec(&owned).map_err(|e| Error::msg(e.to_string()))?;
        line.push(b'\n');
        std::io::Write::write_all(&mut journal, &line).with_context(|| format!("write {}", files.journal().display()))
    }

    /// The state, or failing that what the journal says (`recover`); None
    /// when nothing of the container can be read.
    pub fn load_or_recover(files: &Files, id: &str) -> Option<State> {
        State::load(files).ok().or_else(|| State::recover(files, id))
    }

    /// What can be known of a container whose state is missing or
    /// damaged: the last whole line of its journal. Enough to remove it.
    pub fn recover(files: &Files, id: &str) -> Option<State> {
        let text = std::fs::read(files.journal()).ok()?;
        let owned: Owned = text.split(|&b| b == b'\n').rev().find_map(|l| serde_json::from_slice(l).ok())?;
        Some(State {
            id: id.to_string(),
            pid: owned.pid,
            pid_start: owned.pid_start,
            cgroup: owned.cgroup,
            creator: owned.creator,
            creator_start: owned.creator_start,
            pid_file: owned.pid_file,
            ..Default::default()
        })
    }

    /// The status as it is now, read from the kernel, never from a record
    /// that may be stale.
    pub fn status(&self, files: &Files) -> Status {
        if self.pid == 0 {
            return if alive(self.creator, self.creator_start) { Status::Creating } else { Status::Stopped };
        }
        if !alive(self.pid, self.pid_start) {
            return Status::Stopped;
        }
        if files.fifo().exists() {
            Status::Created
        } else if crate::cgroups::freezer::is_frozen(&crate::cgroups::Cgroup::from_dirs(self.cgroup.clone())) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The runtime-spec state object, with runc's extra fields.
    pub fn to_oci(&self, status: Status) -> serde_json::Value {
        let pid = if matches!(status, Status::Stopped) { 0 } else { self.pid };
        let mut v = serde_json::json!({
            "ociVersion": crate::OCI_VERSION,
            "id": self.id,
            "pid": pid,
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }
}

/// Runs the poststart or poststop hooks of a container; a failure is only
/// a warning and the remaining hooks still run (config.md).
pub fn run_late_hooks(state: &State, status: Status, poststop: bool) {
    let Some(h) = &state.hooks else { return };
    let (kind, list) = if poststop { ("poststop", h.poststop()) } else { ("poststart", h.poststart()) };
    let input = state.to_oci(status);
    for (i, hook) in list.iter().flatten().enumerate() {
        if let Err(e) = crate::hooks::run(kind, i, hook, &input) {
            crate::logging::warn(&e.to_string());
        }
    }
}
