//! kiste: an OCI container runtime.
//!
//! Layers, top to bottom: `cli` (one file per command) → `container`
//! (lifecycle and state) → `process` (clone, init, sync) → the kernel
//! features, one module each: `namespaces`, `rootfs`, `cgroups`,
//! `capabilities`, `rlimits`, `sysctl`.

pub mod argv;
pub mod capabilities;
pub mod cgroups;
pub mod cli;
pub mod config;
pub mod container;
pub mod error;
pub mod fault;
pub mod features;
pub mod hooks;
pub mod image;
pub mod logging;
pub mod lsm;
pub mod managed;
pub mod namespaces;
pub mod personality;
pub mod process;
pub mod procfs;
pub mod rlimits;
pub mod rootfs;
pub mod scheduling;
pub mod seccomp;
pub mod sysctl;
pub mod utils;
pub mod volume;

/// The runtime-spec version kiste implements.
pub const OCI_VERSION: &str = "1.2.0";
