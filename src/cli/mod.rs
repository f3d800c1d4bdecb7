//! The command line, runc's flag for flag. Each command's file only turns
//! flags into a call of `container::…` and prints the result; errors are
//! reported here, once.

mod container;
mod create;
mod delete;
mod events;
mod exec;
mod fast;
mod features;
mod gc;
mod image;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;
mod volume;

use crate::error::Result;
use crate::logging;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "kiste", version, about = "kiste: an OCI container runtime, runc-compatible")]
struct Cli {
    /// Directory for the containers' state
    #[arg(long, global = true, default_value = crate::container::DEFAULT_ROOT)]
    root: PathBuf,
    /// Log file (default: stderr)
    #[arg(long, global = true)]
    log: Option<String>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text")]
    log_format: String,
    /// Log debug messages
    #[arg(long, global = true)]
    debug: bool,
    /// Manage cgroups through systemd (not supported yet)
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (before the command, as in runc)
    #[arg(long)]
    rootless: Option<String>,
    /// Accepted for compatibility; unused
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    /// Where images, layers and volumes are kept (the high-level commands)
    #[arg(long = "data-root", global = true, default_value = crate::image::store::DEFAULT_DATA_ROOT)]
    data_root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Create a container; its process waits for `start`
    Create(create::Args),
    /// Start a created container
    Start(start::Args),
    /// Create and start a container
    Run(run::Args),
    /// Print the state of a container as JSON
    State(state::Args),
    /// List containers
    #[command(alias = "ls")]
    List(list::Args),
    /// Send a signal to a container's process
    Kill(kill::Args),
    /// Delete a container
    Delete(delete::Args),
    /// Remove the containers whose create was killed half-way (kiste's own)
    Gc(gc::Args),
    /// Write a default config.json
    Spec(spec::Args),
    /// Freeze every process of a container
    Pause(pause::Args),
    /// Thaw a paused container
    Resume(pause::Args),
    /// List the processes of a container
    Ps(ps::Args),
    /// Change the resource limits of a container
    Update(update::Args),
    /// Print resource usage (and OOM) events of a container as JSON
    Events(events::Args),
    /// Run a new process in a running container
    Exec(exec::Args),
    /// Print what this runtime supports, as JSON (runtime-spec features)
    Features(features::Args),
    /// Manage images: pull, import, ls, inspect, history, tag, rm
    #[command(disable_help_flag = true)]
    Image(Nested),
    /// Manage containers made from images: run, create, start, stop, rm, ps, exec, logs, commit, inspect
    #[command(disable_help_flag = true)]
    Container(Nested),
    /// Manage volumes: create, ls, inspect, rm, prune
    #[command(disable_help_flag = true)]
    Volume(Nested),
}

// The arguments of a high-level noun (`image`, `container`, `volume`),
// parsed by that noun's own parser: the runtime commands, on the hot path,
// do not pay for building the high-level ones. (A plain comment: with the
// subcommands deferred, a doc comment here would replace their about.)
#[derive(clap::Args)]
struct Nested {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Parses a noun's arguments with its own parser; `Err(code)` when clap
/// printed help, a version or an error.
fn nested<T: Subcommand>(noun: &str, n: Nested) -> std::result::Result<T, i32> {
    #[derive(Parser)]
    struct One<T: Subcommand> {
        #[command(subcommand)]
        c: T,
    }
    let argv = std::iter::once(format!("kiste {noun}")).chain(n.args);
    One::<T>::try_parse_from(argv).map(|o| o.c).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() { 1 } else { 0 }
    })
}

/// Command output on stdout. A reader that went away (`kiste list | head`)
/// ends kiste by SIGPIPE, as with runc, rather than a panic: kiste ignores
/// SIGPIPE (see main.rs), so the write fails with EPIPE instead.
pub fn write_out(args: std::fmt::Arguments, newline: bool) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let res = o.write_fmt(args).and_then(|_| if newline { o.write_all(b"\n") } else { Ok(()) }).and_then(|_| o.flush());
    if res.is_err() {
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGPIPE);
            libc::_exit(141);
        }
    }
}

#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => { $crate::cli::write_out(format_args!($($t)*), true) };
}

#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::write_out(format_args!($($t)*), false) };
}

/// Whether the command (the first word after the global options, with the
/// values they take) puts a process into a container.
fn starts_a_process(args: &[std::ffi::OsString]) -> bool {
    const WITH_VALUE: &[&str] = &["--root", "--log", "--log-format", "--rootless", "--criu", "--data-root"];
    let mut words = args.iter().skip(1).filter_map(|a| a.to_str());
    let mut positional = Vec::new();
    while let Some(a) = words.next() {
        if a == "--" || positional.len() == 2 {
            break;
        }
        if WITH_VALUE.contains(&a) {
            words.next();
        } else if !a.starts_with('-') {
            positional.push(a);
        }
    }
    match positional.as_slice() {
        ["create" | "run" | "exec", ..] => true,
        ["container", sub, ..] => matches!(*sub, "run" | "create" | "start" | "exec"),
        _ => false,
    }
}

pub fn main() -> i32 {
    // The commands that put a process into a container re-execute kiste
    // from a protected file first (CVE-2019-5736): done before parsing, so
    // the parse is not paid twice. (A word taken for a command here that is
    // not one only costs that re-exec; the commands check again.)
    // `container run|create|start|exec` re-execute first too: they are not
    // safe to run twice, and a re-exec half-way would start them over.
    if starts_a_process(crate::argv::args())
        && let Err(e) = crate::process::sealed::ensure()
    {
        return fail(e);
    }
    let parsed = match fast::parse(crate::argv::args()) {
        Some(c) => Ok(c),
        None => Cli::try_parse_from(crate::argv::args()),
    };
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let format = if cli.log_format == "json" { logging::Format::Json } else { logging::Format::Text };
    logging::init(cli.log.clone(), format, cli.debug);
    if cli.log_format != "json" && cli.log_format != "text" {
        return fail(crate::error::Error::msg(format!("--log-format: unknown format {:?}", cli.log_format)));
    }
    if cli.systemd_cgroup {
        return fail(crate::error::Error::msg("--systemd-cgroup: systemd cgroup management is not supported yet"));
    }
    let root = cli.root.clone();
    logging::reset_stages();
    let res: Result<i32> = match cli.command {
        Command::Create(a) => create::exec(&root, a),
        Command::Start(a) => start::exec(&root, a),
        Command::Run(a) => run::exec(&root, a),
        Command::State(a) => state::exec(&root, a),
        Command::List(a) => list::exec(&root, a),
        Command::Kill(a) => kill::exec(&root, a),
        Command::Delete(a) => delete::exec(&root, a),
        Command::Gc(a) => gc::exec(&root, a),
        Command::Spec(a) => spec::exec(a),
        Command::Pause(a) => pause::exec(&root, a, true),
        Command::Resume(a) => pause::exec(&root, a, false),
        Command::Ps(a) => ps::exec(&root, a),
        Command::Update(a) => update::exec(&root, a),
        Command::Events(a) => events::exec(&root, a),
        Command::Features(a) => features::exec(a),
        Command::Exec(a) => exec::exec(&root, a),
        Command::Image(n) => match nested("image", n) {
            Ok(c) => image::exec(&cli.data_root, c),
            Err(code) => return code,
        },
        Command::Container(n) => match nested("container", n) {
            Ok(c) => container::exec(&cli.data_root, &root, c),
            Err(code) => return code,
        },
        Command::Volume(n) => match nested("volume", n) {
            Ok(c) => volume::exec(&cli.data_root, c),
            Err(code) => return code,
        },
    };
    logging::report_stages();
    match res {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// Reports an error once: to the log (file or stderr) and, when the log is
/// a file, also on stderr for the person at the terminal.
fn fail(e: crate::error::Error) -> i32 {
    let msg = e.to_string();
    logging::error(&msg);
    if logging::to_file() {
        eprintln!("kiste: {msg}");
    }
    1
}

#[cfg(test)]
mod tests {
    fn starts(line: &str) -> bool {
        let args: Vec<std::ffi::OsString> = std::iter::once("kiste").chain(line.split_whitespace()).map(Into::into).collect();
        super::starts_a_process(&args)
    }

    #[test]
    fn which_commands_re_execute_first() {
        for yes in [
            "run -b b id",
            "--root /r create id",
            "--log x --log-format json exec id sh",
            "container run --rm img",
            "--data-root d container exec c sh",
        ] {
            assert!(starts(yes), "{yes}");
        }
        for no in
            ["state run", "delete exec", "kill create", "container ps", "container logs run", "--root run list", "image import run", "list"]
        {
            assert!(!starts(no), "{no}");
        }
    }
}
