//! `create`: set the container up and leave its init waiting for `start`.

use super::state::{EXEC_FIFO, State};
use super::{Container, id};
use crate::cgroups::Cgroup;
use crate::config;
use crate::error::{Context, Error, Result};
use crate::namespaces::Plan;
use crate::process::init::{Gate, InitArgs};
use crate::process::spawn::{Spawned, spawn};
use crate::utils::{proc_stat, write_atomic};
use std::path::{Path, PathBuf};

#[derive(Default, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub console_socket: Option<PathBuf>,
}

/// The terminal options runc accepts; kiste does not allocate a pty yet.
fn check_terminal(spec: &oci_spec::runtime::Spec, o: &CreateOptions, detached: bool) -> Result<()> {
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    match (terminal, &o.console_socket) {
        (true, Some(_)) => Err(Error::msg("process.terminal: allocating a terminal for --console-socket is not supported yet")),
        (true, None) if detached => Err(Error::msg("cannot allocate tty if kiste will detach without setting console socket")),
        (false, Some(_)) => Err(Error::msg("cannot use console socket if kiste will not detach or allocate tty")),
        (true, None) => {
            crate::logging::warn("process.terminal: no pty is allocated yet; the container uses kiste's stdio");
            Ok(())
        }
        (false, None) => Ok(()),
    }
}

/// Creates the container. With `fifo` its init waits on the exec fifo for
/// `start`; without, on the returned channel (`run`).
pub fn create(root: &Path, o: &CreateOptions, fifo: bool) -> Result<(Container, Spawned)> {
    id::validate(&o.id)?;
    let cfg = config::load(&o.bundle)?;
    let plan = Plan::from_spec(&cfg.spec)?;
    check_terminal(&cfg.spec, o, fifo)?;
    std::fs::create_dir_all(root).with_context(|| format!("create state root {}", root.display()))?;
    let dir = root.join(&o.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::msg(format!("container with given ID already exists: {}", o.id)));
        }
        Err(e) => {
            return Err(e).with_context(|| format!("create state directory {}", dir.display()));
        }
    }
    let lock = super::lock(std::fs::File::open(&dir).with_context(|| format!("open {}", dir.display()))?, &dir)?;
    let me = std::process::id() as i32;
    let state = State {
        id: o.id.clone(),
        bundle: cfg.bundle.clone(),
        rootfs: cfg.rootfs.clone(),
        created: crate::utils::rfc3339_now(true),
        annotations: cfg.spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        creator: me,
        creator_start: proc_stat(me).map_or(0, |s| s.start_time),
        hooks: cfg.spec.hooks().clone(),
        ..Default::default()
    };
    let mut c = Container { id: o.id.clone(), dir, state, _lock: lock };
    let mut cgroup = Cgroup::default();
    let res = (|| -> Result<Spawned> {
        c.save()?;
        let cgroups_path = cfg.spec.linux().as_ref().and_then(|l| l.cgroups_path().as_deref());
        // Recorded before made: `delete` after a crash finds them.
        cgroup = Cgroup::plan(cgroups_path, &o.id)?;
        c.state.cgroup = cgroup.dirs.clone();
        c.save()?;
        cgroup.make()?;
        if let Some(r) = cfg.spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
            let devices = cfg.spec.linux().as_ref().and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
            crate::cgroups::resources::apply(&cgroup, r, devices)?;
        }
        let gate = if fifo {
            let p = c.dir.join(EXEC_FIFO);
            nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).with_context(|| format!("create {}", p.display()))?;
            // Read-write, so opening does not wait for a writer; close-on-exec.
            let fd = nix::fcntl::open(&p, nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                .with_context(|| format!("open {}", p.display()))?;
            Gate::Fifo(fd)
        } else {
            Gate::Channel
        };
        let args = InitArgs {
            spec: &cfg.spec,
            rootfs: &cfg.rootfs,
            bundle: &cfg.bundle,
            plan: &plan,
            no_pivot: o.no_pivot,
            preserve_fds: o.preserve_fds,
            gate,
            cgroup_v1: cgroup.v1_dirs(),
            cgroup_v2: cgroup.v2_bind_source(&plan),
        };
        let base = c.state.clone();
        let state_for_hooks = |pid: i32| {
            let mut s = base.clone();
            s.pid = pid;
            s.to_oci(super::state::Status::Created)
        };
        let spawned = spawn(&args, &cgroup, &state_for_hooks)?;
        c.state.pid = spawned.pid;
        c.state.pid_start = proc_stat(spawned.pid).map_or(0, |s| s.start_time);
        c.save()?;
        if let Some(p) = &o.pid_file {
            write_atomic(p, spawned.pid.to_string().as_bytes()).context("--pid-file")?;
        }
        Ok(spawned)
    })();
    match res {
        Ok(s) => Ok((c, s)),
        Err(e) => {
            if c.state.pid > 0 {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.state.pid), nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(c.state.pid), None);
            }
            cgroup.remove();
            let _ = std::fs::remove_dir_all(&c.dir);
            Err(e)
        }
    }
}
