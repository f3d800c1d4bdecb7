//! `linux.seccomp`, compiled and loaded with libseccomp. Syscall names the
//! library does not know are skipped, as runc skips them. With
//! SCMP_ACT_NOTIFY the listener fd goes to `listenerPath` (by kiste, on
//! the host: see `send_to_listener`).

use crate::bail;
use crate::error::{Context, Error, Result};
use crate::logging;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::LinuxSeccomp;
use std::os::fd::{FromRawFd, OwnedFd};
use std::str::FromStr;

use crate::utils::spec_name;

fn action(name: &str, errno: Option<u32>) -> Result<ScmpAction> {
    let errno = errno.unwrap_or(libc::EPERM as u32);
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno as i32),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno as u16),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        other => bail!("unknown action {other}"),
    })
}

fn compare(op: &str, value: u64, value_two: Option<u64>) -> Result<(ScmpCompareOp, u64)> {
    Ok(match op {
        "SCMP_CMP_NE" => (ScmpCompareOp::NotEqual, value),
        "SCMP_CMP_LT" => (ScmpCompareOp::Less, value),
        "SCMP_CMP_LE" => (ScmpCompareOp::LessOrEqual, value),
        "SCMP_CMP_EQ" => (ScmpCompareOp::Equal, value),
        "SCMP_CMP_GE" => (ScmpCompareOp::GreaterEqual, value),
        "SCMP_CMP_GT" => (ScmpCompareOp::Greater, value),
        // value is the mask, valueTwo the value compared after masking.
        "SCMP_CMP_MASKED_EQ" => (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0)),
        other => bail!("unknown operator {other}"),
    })
}

fn lib_err(e: libseccomp::error::SeccompError) -> Error {
    match e.errno() {
        Some(errno) => Error::sys(e.to_string(), nix::errno::Errno::from_raw(errno as i32)),
        None => Error::msg(e.to_string()),
    }
}

/// Builds the filter (does not load it).
pub fn compile(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let default = action(&spec_name(&s.default_action()), s.default_errno_ret()).context("linux.seccomp.defaultAction")?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib_err).context("linux.seccomp: create filter")?;
    // kiste sets no_new_privs itself, when the config asks for it.
    ctx.set_ctl_nnp(false).map_err(lib_err).context("linux.seccomp")?;
    for (i, arch) in s.architectures().iter().flatten().enumerate() {
        let name = spec_name(arch);
        let a = ScmpArch::from_str(&name).map_err(lib_err).with_context(|| format!("linux.seccomp.architectures[{i}]"))?;
        if !ctx.is_arch_present(a).unwrap_or(false) {
            ctx.add_arch(a).map_err(lib_err).with_context(|| format!("linux.seccomp.architectures[{i}]: add {name}"))?;
        }
    }
    for flag in s.flags().iter().flatten() {
        let name = spec_name(flag);
        let res = match name.as_str() {
            "SECCOMP_FILTER_FLAG_LOG" => ctx.set_ctl_log(true),
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => ctx.set_ctl_ssb(true),
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => ctx.set_ctl_waitkill(true),
            other => bail!("linux.seccomp.flags: {other} is not supported"),
        };
        res.map_err(lib_err).with_context(|| format!("linux.seccomp.flags: {name}"))?;
    }
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let act = action(&spec_name(&rule.action()), rule.errno_ret()).with_context(|| format!("linux.seccomp.syscalls[{i}].action"))?;
        if act == default {
            continue; // libseccomp refuses rules that repeat the default
        }
        let mut conds = Vec::new();
        for (j, a) in rule.args().iter().flatten().enumerate() {
            let (op, datum) = compare(&spec_name(&a.op()), a.value(), a.value_two())
                .with_context(|| format!("linux.seccomp.syscalls[{i}].args[{j}].op"))?;
            if a.index() > 5 {
                bail!("linux.seccomp.syscalls[{i}].args[{j}].index: {} is not an argument index (0-5)", a.index());
            }
            conds.push(ScmpArgCompare::new(a.index() as u32, op, datum));
        }
        // Conditions on one argument index cannot be ANDed in one rule:
        // like runc, make each its own rule then.
        let mut seen = std::collections::HashSet::new();
        let separate = rule.args().iter().flatten().any(|a| !seen.insert(a.index()));
        for name in rule.names() {
            let Ok(sys) = ScmpSyscall::from_name(name) else {
                logging::debug(&format!("linux.seccomp.syscalls[{i}]: unknown syscall {name} skipped"));
                continue;
            };
            let res = if conds.is_empty() {
                ctx.add_rule(act, sys).map(|_| ())
            } else if separate {
                conds.iter().try_for_each(|c| ctx.add_rule_conditional(act, sys, std::slice::from_ref(c)).map(|_| ()))
            } else {
                ctx.add_rule_conditional(act, sys, &conds).map(|_| ())
            };
            res.map_err(lib_err).with_context(|| format!("linux.seccomp.syscalls[{i}]: rule for {name}"))?;
        }
    }
    Ok(ctx)
}

/// Does the filter use SCMP_ACT_NOTIFY (and so need a listener)?
pub fn wants_notify(s: &LinuxSeccomp) -> bool {
    spec_name(&s.default_action()) == "SCMP_ACT_NOTIFY"
        || s.syscalls().iter().flatten().any(|r| spec_name(&r.action()) == "SCMP_ACT_NOTIFY")
}

/// Loads the filter into the calling process; returns the notify fd when
/// the filter has SCMP_ACT_NOTIFY rules.
pub fn load(ctx: &ScmpFilterContext, notify: bool) -> Result<Option<OwnedFd>> {
    ctx.load().map_err(lib_err).context("linux.seccomp: load filter")?;
    if !notify {
        return Ok(None);
    }
    let fd = ctx.get_notify_fd().map_err(lib_err).context("linux.seccomp: get notify fd")?;
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Hands the notify fd to the listener at `listenerPath`, with the
/// container process state of the runtime-spec (`fds`, `pid`, `metadata`,
/// `state`) in the same message.
pub fn send_to_listener(s: &LinuxSeccomp, fd: &OwnedFd, pid: i32, state: &serde_json::Value) -> Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    use std::os::fd::AsRawFd;
    let path = s.listener_path().as_ref().ok_or_else(|| Error::msg("linux.seccomp.listenerPath: needed for SCMP_ACT_NOTIFY"))?;
    let sock = std::os::unix::net::UnixStream::connect(path)
        .with_context(|| format!("linux.seccomp.listenerPath: connect to {}", path.display()))?;
    let msg = serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": s.listener_metadata().clone().unwrap_or_default(),
        "state": state,
    })
    .to_string();
    let fds = [fd.as_raw_fd()];
    let iov = [std::io::IoSlice::new(msg.as_bytes())];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
        .with_context(|| format!("linux.seccomp.listenerPath: send to {}", path.display()))?;
    Ok(())
}

/// Debian's static libseccomp is built against glibc and calls glibc's
/// fortified `__fprintf_chk`, which musl lacks. Only `seccomp_export_pfc`
/// (a human-readable dump of a filter) prints, and kiste never calls it, so
/// the symbol is satisfied with a stub that prints nothing and reports a
/// failure. (The call is variadic; a callee that reads none of the variadic
/// arguments may be declared without them in the x86-64 C ABI.)
#[cfg(target_env = "musl")]
#[unsafe(no_mangle)]
pub extern "C" fn __fprintf_chk(_stream: *mut libc::c_void, _flag: libc::c_int, _format: *const libc::c_char) -> libc::c_int {
    -1
}
