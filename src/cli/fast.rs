//! The commands a container engine calls for every container (create,
//! start, run, exec, delete, state, kill), read without clap when their
//! words are plain. clap builds its command tree before it reads a word:
//! 0.15 ms of each call here, as much as parsing the container's config.
//!
//! Only what this knows for certain is taken: the flags listed below, as
//! `--flag value`, `--flag=value` or `-f value`, each at most once, with
//! values that are not empty and do not start with '-'. Anything else
//! (help, a version, an unknown or repeated flag, `--`, a cluster of short
//! flags, a word that is not UTF-8, a missing or extra argument) returns
//! None and clap reads the command line, so every error and help text
//! stays clap's. The tests check that both read every accepted command
//! line alike.

use super::{Cli, Command};
use std::ffi::OsString;
use std::path::PathBuf;

/// A flag: its long name, its short one, whether it takes a value.
type Flag = (&'static str, Option<char>, bool);

/// The global flags, accepted before and after the command (`--rootless`
/// only before it, as with runc).
const GLOBAL: &[Flag] = &[
    ("root", None, true),
    ("log", None, true),
    ("log-format", None, true),
    ("debug", None, false),
    ("criu", None, true),
    ("data-root", None, true),
];

const CREATE: &[Flag] = &[
    ("bundle", Some('b'), true),
    ("pid-file", None, true),
    ("console-socket", None, true),
    ("no-pivot", None, false),
    ("no-new-keyring", None, false),
    ("preserve-fds", None, true),
];

/// `run`'s, besides `create`'s.
const RUN: &[Flag] = &[("detach", Some('d'), false), ("keep", None, false)];

const EXEC: &[Flag] = &[
    ("process", Some('p'), true),
    ("tty", Some('t'), false),
    ("console-socket", None, true),
    ("detach", Some('d'), false),
    ("pid-file", None, true),
    ("preserve-fds", None, true),
];

const DELETE: &[Flag] = &[("force", Some('f'), false)];
const KILL: &[Flag] = &[("all", Some('a'), false)];

/// What was read: flags by long name (a value, or "" for a switch), and
/// the positional words in order.
#[derive(Default)]
struct Words {
    flags: Vec<(&'static str, String)>,
    positional: Vec<String>,
}

impl Words {
    fn value(&self, name: &str) -> Option<String> {
        self.flags.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }

    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| *n == name)
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.value(name).map(PathBuf::from)
    }
}

/// Reads the command line; None when clap must.
pub(super) fn parse(args: &[OsString]) -> Option<Cli> {
    let mut words: Vec<&str> = Vec::with_capacity(args.len());
    for a in args.iter().skip(1) {
        words.push(a.to_str()?);
    }
    let mut w = Words::default();
    let mut i = 0;
    // Global flags, then the command.
    let command = loop {
        let word = *words.get(i)?;
        i += 1;
        if !word.starts_with('-') {
            break word;
        }
        let rootless: &[Flag] = &[("rootless", None, true)];
        if !take_flag(word, &words, &mut i, &[GLOBAL, rootless], &mut w)? {
            return None;
        }
    };
    let (flags, positional): (&[&[Flag]], std::ops::RangeInclusive<usize>) = match command {
        "create" => (&[GLOBAL, CREATE], 1..=1),
        "run" => (&[GLOBAL, CREATE, RUN], 1..=1),
        "start" | "state" => (&[GLOBAL], 1..=1),
        "delete" => (&[GLOBAL, DELETE], 1..=1),
        "kill" => (&[GLOBAL, KILL], 1..=2),
        "exec" => (&[GLOBAL, EXEC], 1..=usize::MAX),
        _ => return None,
    };
    while let Some(&word) = words.get(i) {
        i += 1;
        if command == "exec" && !w.positional.is_empty() {
            // After the id, every word is the command's (clap's trailing
            // var arg); a flag-like word right after the id is left to clap.
            if w.positional.len() == 1 && word.starts_with('-') {
                return None;
            }
            w.positional.push(word.to_string());
            continue;
        }
        if word.starts_with('-') {
            if !take_flag(word, &words, &mut i, flags, &mut w)? {
                return None;
            }
        } else {
            w.positional.push(word.to_string());
        }
    }
    if !positional.contains(&w.positional.len()) {
        return None;
    }
    build(command, w)
}

/// Takes one flag (and its value) if it is one of `lists`, plain and not
/// seen before: Some(true); Some(false) if not; None if its value is
/// missing or looks like a flag.
fn take_flag(word: &str, words: &[&str], i: &mut usize, lists: &[&[Flag]], w: &mut Words) -> Option<bool> {
    let (name, inline) = if let Some(long) = word.strip_prefix("--") {
        match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        }
    } else {
        let mut chars = word.chars();
        match (chars.next(), chars.next(), chars.next()) {
            (Some('-'), Some(c), None) => {
                let Some(&(long, _, _)) = lists.iter().flat_map(|l| l.iter()).find(|f| f.1 == Some(c)) else {
                    return Some(false);
                };
                (long, None)
            }
            _ => return Some(false),
        }
    };
    let Some(&(long, _, takes)) = lists.iter().flat_map(|l| l.iter()).find(|f| f.0 == name) else {
        return Some(false);
    };
    if w.has(long) {
        return Some(false);
    }
    let value = match (takes, inline) {
        (false, None) => String::new(),
        (false, Some(_)) => return Some(false),
        (true, Some(v)) => v.to_string(),
        (true, None) => {
            let v = *words.get(*i)?;
            *i += 1;
            v.to_string()
        }
    };
    // clap refuses an empty path and a value that looks like a flag.
    if takes && (value.is_empty() || value.starts_with('-')) {
        return None;
    }
    w.flags.push((long, value));
    Some(true)
}

fn build(command: &str, w: Words) -> Option<Cli> {
    let preserve_fds = match w.value("preserve-fds") {
        Some(n) => n.parse().ok()?,
        None => 0,
    };
    let id = w.positional.first()?.clone();
    let create = || super::create::Args {
        bundle: w.path("bundle").unwrap_or_else(|| PathBuf::from(".")),
        pid_file: w.path("pid-file"),
        console_socket: w.path("console-socket"),
        no_pivot: w.has("no-pivot"),
        no_new_keyring: w.has("no-new-keyring"),
        preserve_fds,
        id: id.clone(),
    };
    let command = match command {
        "create" => Command::Create(create()),
        "run" => Command::Run(super::run::Args { create: create(), detach: w.has("detach"), keep: w.has("keep") }),
        "start" => Command::Start(super::start::Args { id }),
        "state" => Command::State(super::state::Args { id }),
        "delete" => Command::Delete(super::delete::Args { force: w.has("force"), id }),
        "kill" => Command::Kill(super::kill::Args {
            all: w.has("all"),
            id,
            signal: w.positional.get(1).cloned().unwrap_or_else(|| "SIGTERM".to_string()),
        }),
        "exec" => Command::Exec(super::exec::Args {
            process: w.path("process"),
            tty: w.has("tty"),
            console_socket: w.path("console-socket"),
            cwd: None,
            env: Vec::new(),
            user: None,
            additional_gids: Vec::new(),
            cap: Vec::new(),
            no_new_privs: false,
            apparmor: None,
            process_label: None,
            detach: w.has("detach"),
            pid_file: w.path("pid-file"),
            preserve_fds,
            ignore_paused: false,
            cgroup: None,
            id,
            command: w.positional[1..].to_vec(),
        }),
        _ => return None,
    };
    Some(Cli {
        root: w.path("root").unwrap_or_else(|| PathBuf::from(crate::container::DEFAULT_ROOT)),
        log: w.value("log"),
        log_format: w.value("log-format").unwrap_or_else(|| "text".to_string()),
        debug: w.has("debug"),
        systemd_cgroup: false,
        rootless: w.value("rootless"),
        criu: w.value("criu"),
        data_root: w.path("data-root").unwrap_or_else(|| PathBuf::from(crate::image::store::DEFAULT_DATA_ROOT)),
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;
    use std::ffi::OsString;

    /// The parsed command line as text, for comparing the two readers.
    fn show(c: &Cli) -> String {
        let cmd = match &c.command {
            Command::Create(a) => format!("create {a:?}"),
            Command::Run(a) => format!("run {a:?}"),
            Command::Start(a) => format!("start {a:?}"),
            Command::State(a) => format!("state {a:?}"),
            Command::Delete(a) => format!("delete {a:?}"),
            Command::Kill(a) => format!("kill {a:?}"),
            Command::Exec(a) => format!("exec {a:?}"),
            _ => "other".to_string(),
        };
        format!(
            "{:?} {:?} {:?} {} {} {:?} {:?} {:?} {cmd}",
            c.root, c.log, c.log_format, c.debug, c.systemd_cgroup, c.rootless, c.criu, c.data_root
        )
    }

    fn argv(line: &str) -> Vec<OsString> {
        std::iter::once("kiste").chain(line.split(' ').filter(|w| !w.is_empty())).map(OsString::from).collect()
    }

    /// Each is read by the fast path, and exactly as clap reads it.
    #[test]
    fn agrees_with_clap() {
        for line in [
            "run -b /b c1",
            "run --bundle /b c1",
            "run --bundle=/b c1",
            "--root /r run --bundle /b c1",
            "--root=/r --log /l --log-format json run -d --pid-file /p -b /b c1",
            "run c1 --root /r",
            "--debug create --bundle /b --console-socket /s --pid-file /p --no-pivot --preserve-fds 3 c2",
            "create --no-new-keyring c2",
            "--rootless false start c3",
            "state c3",
            "delete -f c3",
            "delete --force c3 --root /r",
            "kill c4",
            "kill --all c4 KILL",
            "kill -a c4 9",
            "exec c5 /bin/true",
            "exec --detach --pid-file /p --process /proc.json c5",
            "exec -t --console-socket /s c5 sh -c echo -x --root",
            "--criu x --data-root /d run --keep c6",
        ] {
            let args = argv(line);
            let fast = super::parse(&args).unwrap_or_else(|| panic!("not read by the fast path: {line}"));
            let slow = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("clap refused {line}: {e}"));
            assert_eq!(show(&fast), show(&slow), "{line}");
        }
    }

    /// Each is left to clap (help, errors, flags the fast path does not
    /// know, repeated flags, values that look like flags, ...).
    #[test]
    fn leaves_the_rest_to_clap() {
        for line in [
            "",
            "--help",
            "run --help",
            "-h",
            "--version",
            "run",
            "run c1 c2",
            "run -b /b -b /c c1",
            "--root /a run --root /b c1",
            "run --bundle -x c1",
            "run --bundle= c1",
            "--root= delete --force c1",
            "run -db /b c1",
            "run --no-pivot=yes c1",
            "run --preserve-fds x c1",
            "run --systemd-cgroup c1",
            "run --unknown c1",
            "list",
            "ps c1",
            "exec c5 -- ls",
            "exec --env A=B c5 ls",
            "exec --cwd /tmp c5 ls",
            "kill c4 KILL extra",
            "start -- c3",
            "run c1 --rootless true",
            "image ls",
        ] {
            assert!(super::parse(&argv(line)).is_none(), "{line}");
        }
    }
}
