//! `gc`: sweep the containers under `--root` whose `create` died half-way
//! (killed, out of memory, the machine's caller gone): no init was ever
//! recorded and the creator is no longer alive. Each is removed as
//! `delete --force` would, from what its state or journal names, and
//! nothing else. Containers that exist (created, running, stopped) are left
//! alone: removing those is `delete`'s job.

use super::Container;
use super::state::{State, alive};
use std::path::Path;

/// Returns the ids removed.
pub fn gc(root: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(root) else { return Vec::new() };
    let mut removed = Vec::new();
    for e in rd.flatten() {
        let Some(id) = e.file_name().to_str().map(String::from) else { continue };
        if super::id::validate(&id).is_err() || !e.path().is_dir() {
            continue;
        }
        // Open takes the lock: a create still at work holds it, and this
        // waits for it to finish (or die).
        let Some(c) = Container::open_damaged(root, &id) else {
            // Nothing readable: a directory a create left before its first
            // save, or one emptied by hand. Removed if it holds no state.
            if let Some(_lock) = abandoned_dir(&e.path()) {
                // Removed while locked: a create that opens the directory
                // meanwhile fails to save into it rather than losing it.
                let _ = std::fs::remove_dir_all(e.path());
                removed.push(id);
            }
            continue;
        };
        if c.state.pid == 0 && !alive(c.state.creator, c.state.creator_start) {
            super::delete::destroy(&c);
            removed.push(id);
        }
    }
    removed
}

/// A directory holding neither a state nor a journal, that nobody locks:
/// its lock, held for the removal.
fn abandoned_dir(dir: &Path) -> Option<nix::fcntl::Flock<std::fs::File>> {
    let lock = super::lock(std::fs::File::open(dir).ok()?, dir).ok()?;
    (State::load(dir).is_err() && State::recover(dir, "").is_none()).then_some(lock)
}
