//! The container's processes: cloning the init, its setup inside the
//! namespaces, and the handshake with kiste.

pub mod clone;
pub mod exec;
pub mod init;
pub mod lookup;
pub mod sealed;
pub mod spawn;
pub mod sync;
pub mod tty;
