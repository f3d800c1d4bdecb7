//! Lifecycle hooks (config.md "POSIX-platform Hooks"): each is a program run
//! with the container's state JSON on its stdin; a failing or timed-out hook
//! fails the operation it belongs to (except poststart/poststop, which only
//! warn, as runc does).

use crate::error::{Context, Error, Result};
use oci_spec::runtime::Hook;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn run_all(kind: &str, hooks: &[Hook], state: &serde_json::Value) -> Result<()> {
    hooks.iter().enumerate().try_for_each(|(i, h)| run(kind, i, h, state))
}

/// Runs hook number `index` of the `kind` list.
pub fn run(kind: &str, index: usize, h: &Hook, state: &serde_json::Value) -> Result<()> {
    run_one(h, &state.to_string()).with_context(|| format!("error running {kind} hook #{index} ({})", h.path().display()))
}

fn run_one(h: &Hook, input: &str) -> Result<()> {
    let mut cmd = Command::new(h.path());
    let args = h.args().as_deref().unwrap_or(&[]);
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().context("start")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(input.as_bytes());
    }
    let deadline = h.timeout().filter(|t| *t > 0).map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        if let Some(s) = child.try_wait().context("wait")? {
            break s;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::msg(format!("timed out after {} s", h.timeout().unwrap_or(0))));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if !status.success() {
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut o) = child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        return Err(Error::msg(format!("{status}, stdout: {}, stderr: {}", out.trim(), err.trim())));
    }
    Ok(())
}
