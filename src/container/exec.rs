//! `exec`: run another process in a running container, with the
//! container's namespaces, cgroup, root, seccomp filter and the process
//! attributes of `--process` (or of the config's process, changed by the
//! command-line flags, as runc builds it).

use super::Container;
use super::state::Status;
use crate::bail;
use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::process::exec::ExecArgs;
use crate::utils::write_atomic;
use oci_spec::runtime::Process;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Default)]
pub struct ExecOptions {
    pub id: String,
    /// `--process`: a process.json; the flags below are then ignored.
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    /// "UID[:GID]"
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// A sub-cgroup of the container's to run in.
    pub cgroup: Option<String>,
}

fn parse_process(v: Value, what: &str) -> Result<Process> {
    serde_path_to_error::deserialize(v)
        .map(crate::config::ProcessDocument::into_process)
        .map_err(|e| Error::msg(format!("{what}: {}: {}", e.path(), e.inner())))
}

/// runc's way: the config's process, with the args, cwd, env, user, caps
/// and labels of the command line.
fn from_flags(config_process: Value, o: &ExecOptions) -> Result<Process> {
    let mut p = config_process;
    if !p.is_object() {
        p = json!({"cwd": "/", "user": {"uid": 0, "gid": 0}});
    }
    if o.args.is_empty() {
        bail!("exec: no command given (arguments after the container id, or --process)");
    }
    p["args"] = json!(o.args);
    p["terminal"] = json!(o.tty);
    if let Some(c) = &o.cwd {
        p["cwd"] = json!(c);
    }
    let mut env: Vec<String> = p["env"].as_array().into_iter().flatten().filter_map(|e| e.as_str().map(String::from)).collect();
    for e in &o.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|old| old.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p["env"] = json!(env);
    if let Some(u) = &o.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, ""));
        let num = |s: &str| s.parse::<u32>().map_err(|_| Error::msg(format!("--user: {u:?} is not UID[:GID] (numbers)")));
        p["user"]["uid"] = json!(num(uid)?);
        p["user"]["gid"] = json!(if gid.is_empty() { 0 } else { num(gid)? });
    }
    if !o.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(o.additional_gids);
    }
    for cap in &o.caps {
        for set in ["bounding", "effective", "permitted"] {
            if !p["capabilities"][set].is_array() {
                p["capabilities"][set] = json!([]);
            }
            if let Some(a) = p["capabilities"][set].as_array_mut() {
                a.push(json!(cap));
            }
        }
    }
    if o.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    if let Some(a) = &o.apparmor {
        p["apparmorProfile"] = json!(a);
    }
    if let Some(l) = &o.process_label {
        p["selinuxLabel"] = json!(l);
    }
    parse_process(p, "exec")
}

/// Starts the process; in the foreground waits for it and returns its exit
/// status, with `--detach` returns 0 once it runs.
pub fn exec(root: &Path, o: &ExecOptions) -> Result<i32> {
    // CVE-2019-5736: neither must the exec'd process, until its execve.
    crate::process::sealed::ensure()?;
    let c = Container::open(root, &o.id)?;
    match c.status() {
        Status::Running | Status::Created => {}
        Status::Paused if o.ignore_paused => {}
        Status::Paused => bail!("cannot exec in a paused container (use --ignore-paused to override)"),
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Creating => bail!("cannot exec in a container that is still being created"),
    }
    let cfg = crate::config::load(&c.state.bundle).with_context(|| format!("the config of container {}", o.id))?;
    let process = match &o.process {
        Some(f) => {
            let text = std::fs::read(f).with_context(|| format!("--process: read {}", f.display()))?;
            let v: Value =
                serde_json::from_slice(&text).map_err(|e| Error::msg(format!("--process: {}: invalid JSON: {e}", f.display())))?;
            parse_process(v, &format!("--process {}", f.display()))?
        }
        None => from_flags(serde_json::to_value(cfg.spec.process()).unwrap_or_default(), o)?,
    };
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("process.args: must not be empty");
    }
    crate::logging::stage("config");
    let terminal = process.terminal().unwrap_or(false);
    let (console_for_proc, console_for_us) = super::create::console(terminal, o.console_socket.as_deref(), !o.detach)?;
    let mut cgroup = Cgroup::from_dirs(c.state.cgroup.clone());
    if let Some(sub) = &o.cgroup {
        let sub = sub.split_once(':').map_or(sub.as_str(), |(_, s)| s).trim_start_matches('/');
        if sub.split('/').any(|p| p == "..") {
            bail!("--cgroup: {sub:?} must stay inside the container's cgroup");
        }
        for (_, d) in cgroup.dirs.iter_mut() {
            *d = d.join(sub);
            if !d.is_dir() {
                bail!("--cgroup: no cgroup {}", d.display());
            }
        }
    }
    let set = if o.detach {
        None
    } else {
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        Some(super::foreground::block_signals().context("block signals")?)
    };
    let args = ExecArgs {
        spec: &cfg.spec,
        process: &process,
        pid: c.state.pid,
        cgroup: &cgroup,
        preserve_fds: o.preserve_fds,
        console: console_for_proc,
    };
    let pid = crate::process::exec::exec(&args)?;
    drop(args);
    let pty = console_for_us.as_ref().map(crate::process::tty::recv_fd).transpose()?;
    if let Some(p) = &o.pid_file {
        write_atomic(p, pid.to_string().as_bytes()).context("--pid-file")?;
    }
    drop(c);
    crate::process::sealed::release();
    match set {
        None => Ok(0),
        Some(set) => Ok(super::foreground::wait(pid, &set, pty)),
    }
}
