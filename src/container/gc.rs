//! `gc`: sweep the containers under `--root` whose `create` died half-way
//! (killed, out of memory, the machine's caller gone): no init was ever
//! recorded and the creator is no longer alive. Each is removed as
//! `delete --force` would, from what its state or journal names, and
//! nothing else. Containers that exist (created, running, stopped) are left
//! alone: removing those is `delete`'s job.

use super::Container;
use super::state::{Files, State, alive};
use std::path::Path;

/// Returns the ids removed.
pub fn gc(root: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(root) else { return Vec::new() };
    let mut removed = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(id) = name.to_str().and_then(Files::id_of).map(String::from) else { continue };
        if super::id::validate(&id).is_err() {
            continue;
        }
        // Open takes the lock: a create still at work holds it, and this
        // waits for it to finish (or die).
        let Some(c) = Container::open_damaged(root, &id) else {
            // Nothing readable: what a create left before its first save,
            // or a journal emptied by hand. Removed if there is no state.
            let files = Files::new(root, &id);
            if let Some(_lock) = abandoned(&files) {
                // Removed while locked: a create that opens the journal
                // meanwhile finds it gone rather than half removed.
                files.remove();
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

/// A journal with nothing readable and no state, that nobody locks: its
/// lock, held for the removal.
fn abandoned(files: &Files) -> Option<nix::fcntl::Flock<std::fs::File>> {
    let lock = super::lock_journal(files).ok()?;
    State::load_or_recover(files, "").is_none().then_some(lock)
}
