//! `create`: set the container up and leave its init waiting for `start`.

use super::state::State;
use super::{Container, id};
use crate::cgroups::{Cgroup, Which};
use crate::config;
use crate::error::{Context, Error, Result};
use crate::namespaces::Plan;
use crate::process::init::{Gate, InitArgs};
use crate::process::spawn::{Spawned, spawn};
use crate::utils::{proc_stat, write_atomic};
use std::os::fd::OwnedFd;
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

/// Where the pty master of a `process.terminal` container goes: the
/// `--console-socket` (connected now), or, for `run` in the foreground,
/// kiste itself (one end of a socket pair for the container, the other
/// returned to read the master from). runc's errors for the rest.
pub fn console(terminal: bool, socket: Option<&Path>, foreground: bool) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    match (terminal, socket) {
        (true, Some(p)) => {
            let s = std::os::unix::net::UnixStream::connect(p).with_context(|| format!("--console-socket: connect to {}", p.display()))?;
            Ok((Some(s.into()), None))
        }
        (true, None) if foreground => {
            let (a, b) = nix::sys::socket::socketpair(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::Stream,
                None,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            )
            .context("socketpair for the terminal")?;
            Ok((Some(a), Some(b)))
        }
        (true, None) => Err(Error::msg("cannot allocate tty if kiste will detach without setting console socket")),
        (false, Some(_)) => Err(Error::msg("cannot use console socket if kiste will not detach or allocate tty")),
        (false, None) => Ok((None, None)),
    }
}

/// The number of sockets systemd passed to this process (LISTEN_FDS, for
/// LISTEN_PID = our PID), or 0.
fn socket_activation() -> u32 {
    let for_us = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    if !for_us {
        return 0;
    }
    std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// `path` with its directory made canonical (as it is now), for `delete`
/// to find the same file later without following a symlink.
fn canonical_parent(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (abs.parent().and_then(|d| std::fs::canonicalize(d).ok()), abs.file_name()) {
        (Some(d), Some(n)) => d.join(n),
        _ => abs,
    }
}

/// Creates the container. With `fifo` its init waits on the exec fifo for
/// `start`; without (`run` in the foreground), it goes on to its program as
/// soon as it is ready, and the caller records it (`record_init`).
pub fn create(root: &Path, o: &CreateOptions, fifo: bool) -> Result<(Container, Spawned)> {
    // CVE-2019-5736: the init must not run from kiste's file on disk.
    crate::process::sealed::ensure()?;
    id::validate(&o.id)?;
    let mut cfg = config::load(&o.bundle)?;
    // systemd socket activation of kiste itself: the sockets (fds 3..3+N)
    // go to the container, announced in its environment, as runc does.
    let listen_fds = socket_activation();
    if listen_fds > 0
        && let Some(p) = cfg.spec.process_mut()
    {
        let env = p.env_mut().get_or_insert_with(Vec::new);
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={listen_fds}"));
        env.push("LISTEN_PID=1".to_string());
    }
    let plan = Plan::from_spec(&cfg.spec)?;
    crate::logging::stage("config");
    let terminal = cfg.spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    let (console_for_init, console_for_us) = console(terminal, o.console_socket.as_deref(), !fifo)?;
    std::fs::create_dir_all(root).with_context(|| format!("create state root {}", root.display()))?;
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
        pid_file: o.pid_file.as_ref().map(|p| canonical_parent(p)),
        ..Default::default()
    };
    let mut c = Container::claim(root, &o.id, state)?;
    crate::fault::point("create.journal-made");
    let mut cgroup = Cgroup::default();
    let res = (|| -> Result<Spawned> {
        let cgroups_path = cfg.spec.linux().as_ref().and_then(|l| l.cgroups_path().as_deref());
        cgroup = Cgroup::plan(cgroups_path, &o.id)?;
        c.state.cgroup = cgroup.dirs.clone();
        // Recorded before made: `delete --force` and `gc` after a crash find
        // them in the journal. (A crash before this leaves an empty
        // journal, which they remove.)
        c.note()?;
        crate::fault::point("create.journal-written");
        // The state itself is saved before the first cgroup directory is
        // made, or (pure v1) once they all are, while the init mounts.
        let saved = std::cell::Cell::new(false);
        let save = || -> Result<()> {
            if !saved.replace(true) {
                c.save()?;
                crate::fault::point("create.state-saved");
            }
            Ok(())
        };
        // Made by `spawn`, which knows when: before the init, or (on v1)
        // while it mounts. Resources once every directory is there.
        let make_cgroup = |which: Which| -> Result<()> {
            if which != Which::Legacy {
                save()?;
            }
            cgroup.make(which)?;
            if which == Which::Unified {
                return Ok(());
            }
            crate::fault::point("create.cgroups-made");
            if let Some(r) = cfg.spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
                let devices = cfg.spec.linux().as_ref().and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
                crate::cgroups::resources::apply(&cgroup, r, devices)?;
            }
            crate::logging::stage("cgroup");
            Ok(())
        };
        let gate = if fifo {
            let p = c.files.fifo();
            nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).with_context(|| format!("create {}", p.display()))?;
            // Read-write, so opening does not wait for a writer; close-on-exec.
            let fd = nix::fcntl::open(&p, nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                .with_context(|| format!("open {}", p.display()))?;
            Gate::Fifo(fd)
        } else {
            Gate::Open
        };
        let args = InitArgs {
            spec: &cfg.spec,
            rootfs: &cfg.rootfs,
            bundle: &cfg.bundle,
            plan: &plan,
            no_pivot: o.no_pivot,
            preserve_fds: o.preserve_fds + listen_fds,
            gate,
            cgroup_v1: cgroup.v1_dirs(),
            cgroup_v2: cgroup.v2_bind_source(&plan),
            console: console_for_init,
        };
        let base = c.state.clone();
        let state_for_hooks = |pid: i32| {
            let mut s = base.clone();
            s.pid = pid;
            s.to_oci(super::state::Status::Created)
        };
        let mut spawned = spawn(&args, &cgroup, &make_cgroup, &save, &state_for_hooks)?;
        // Known at once, so that an error below kills it (`run`'s init is
        // already on its way to its program).
        c.state.pid = spawned.pid;
        crate::fault::point("create.init-ready");
        drop(args);
        if let Some(s) = &console_for_us {
            spawned.pty = Some(crate::process::tty::recv_fd(s)?);
        }
        crate::logging::stage("init");
        // `run` in the foreground records the init once it has let it go,
        // beside its execve (see `record_init`).
        if fifo {
            record_init(&mut c, o.pid_file.as_deref())?;
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
            c.files.remove();
            Err(e)
        }
    }
}

/// Saves the init's pid (and start time) in the container's state and
/// writes the --pid-file. `create` does it before it returns; `run` in the
/// foreground once the init is ready and on its way to its execve (runc too
/// writes the pid file of `run` once the process runs), so that the save
/// is done while the init execs. A container's state reads "creating"
/// until then.
pub fn record_init(c: &mut Container, pid_file: Option<&Path>) -> Result<()> {
    c.state.pid_start = proc_stat(c.state.pid).map_or(0, |s| s.start_time);
    c.save()?;
    crate::fault::point("create.pid-saved");
    if let Some(p) = pid_file {
        write_atomic(p, c.state.pid.to_string().as_bytes()).context("--pid-file")?;
    }
    crate::fault::point("create.pid-file-written");
    Ok(())
}
