//! `kiste container …`: containers made from images, as with docker.

use crate::error::Result;
use crate::managed::{self, Roots, bundle::Options, record};
use clap::{Args as ClapArgs, Subcommand};
use std::path::Path;

/// What `run` and `exec` both take for the process.
#[derive(ClapArgs)]
pub struct ProcessArgs {
    /// Keep stdin open (it always is: accepted as docker takes it)
    #[arg(short, long)]
    interactive: bool,
    /// Give the process a terminal
    #[arg(short, long)]
    tty: bool,
    /// Environment variables, KEY=VALUE
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long = "workdir")]
    workdir: Option<String>,
    /// User, UID[:GID]
    #[arg(short, long)]
    user: Option<String>,
}

#[derive(ClapArgs)]
pub struct RunArgs {
    /// Remove the container when it exits
    #[arg(long)]
    rm: bool,
    #[command(flatten)]
    process: ProcessArgs,
    /// Run in the background and print the container's id
    #[arg(short, long)]
    detach: bool,
    /// The container's name
    #[arg(long)]
    name: Option<String>,
    /// Bind mounts, /host/dir:/path[:ro]
    #[arg(short, long = "volume")]
    volume: Vec<String>,
    /// Read-only root filesystem
    #[arg(long = "read-only")]
    read_only: bool,
    #[arg(long)]
    hostname: Option<String>,
    /// Memory limit in bytes (k, m, g suffixes)
    #[arg(long)]
    memory: Option<String>,
    #[arg(long = "pids-limit")]
    pids_limit: Option<i64>,
    /// Override the image's entrypoint
    #[arg(long)]
    entrypoint: Option<String>,
    image: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a container from an image and run it
    Run(RunArgs),
    /// Create a container from an image, without starting it
    Create(RunArgs),
    /// Start a created or stopped container (detached unless -a)
    Start {
        /// Attach: run in the foreground and return its exit code
        #[arg(short, long)]
        attach: bool,
        container: String,
    },
    /// Stop a running container: SIGTERM, then SIGKILL after the grace period
    Stop {
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
        containers: Vec<String>,
    },
    /// Remove containers and their writable layers (-v: their anonymous volumes too)
    Rm {
        #[arg(short, long)]
        force: bool,
        #[arg(short, long)]
        volumes: bool,
        containers: Vec<String>,
    },
    /// List containers (running ones, or all with -a)
    Ps {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Run another process in a running container
    Exec {
        #[command(flatten)]
        process: ProcessArgs,
        container: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Make a new image from a container: its image plus its writable layer
    Commit { container: String, image: String },
    /// Print the output a detached container wrote
    Logs { container: String },
    /// Show a container's record as JSON
    Inspect { container: String },
}

fn parse_size(s: &str) -> Result<i64> {
    let (num, mult) = match s.to_ascii_lowercase().chars().last() {
        Some('k') => (&s[..s.len() - 1], 1 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<i64>().map(|n| n * mult).map_err(|_| crate::error::Error::msg(format!("--memory {s:?}: not a size")))
}

impl RunArgs {
    fn options(&self) -> Result<Options> {
        Ok(Options {
            image: self.image.clone(),
            command: self.command.clone(),
            name: self.name.clone(),
            env: self.process.env.clone(),
            workdir: self.process.workdir.clone(),
            user: self.process.user.clone(),
            entrypoint: self.entrypoint.clone(),
            volumes: self.volume.clone(),
            read_only: self.read_only,
            hostname: self.hostname.clone(),
            memory: self.memory.as_deref().map(parse_size).transpose()?,
            pids_limit: self.pids_limit,
            tty: self.process.tty,
            rm: self.rm,
            detach: self.detach,
        })
    }
}

pub fn exec(data_root: &Path, runtime_root: &Path, c: Command) -> Result<i32> {
    let r = Roots { data: data_root, runtime: runtime_root };
    match c {
        Command::Run(a) => {
            let o = a.options()?;
            let rec = managed::create(&r, &o)?;
            if o.detach {
                let id = rec.id.clone();
                managed::run_detached(&r, rec)?;
                crate::outln!("{id}");
                Ok(0)
            } else {
                managed::run_foreground(&r, rec)
            }
        }
        Command::Create(a) => {
            crate::outln!("{}", managed::create(&r, &a.options()?)?.id);
            Ok(0)
        }
        Command::Start { attach, container } => {
            let rec = record::find(data_root, &container)?;
            if rec.status == "running" {
                return Ok(0);
            }
            if attach {
                managed::run_foreground(&r, rec)
            } else {
                let name = rec.name.clone();
                managed::run_detached(&r, rec)?;
                crate::outln!("{name}");
                Ok(0)
            }
        }
        Command::Stop { time, containers } => {
            for c in containers {
                crate::outln!("{}", managed::stop(&r, &c, time)?.name);
            }
            Ok(0)
        }
        Command::Rm { force, volumes, containers } => {
            for c in containers {
                crate::outln!("{}", managed::remove(&r, &c, force, volumes)?.name);
            }
            Ok(0)
        }
        Command::Ps { all, quiet } => {
            let list: Vec<_> = record::all(data_root)?.into_iter().filter(|x| all || x.status == "running").collect();
            if !quiet {
                crate::outln!("{:<14} {:<24} {:<24} {:<14} NAMES", "CONTAINER ID", "IMAGE", "COMMAND", "STATUS");
            }
            for x in list {
                if quiet {
                    crate::outln!("{}", &x.id[..12]);
                    continue;
                }
                let mut cmd = x.command.join(" ");
                if cmd.len() > 22 {
                    cmd = format!("{}…", cmd.chars().take(21).collect::<String>());
                }
                crate::outln!(
                    "{:<14} {:<24} {:<24} {:<14} {}",
                    &x.id[..12],
                    x.image,
                    format!("\"{cmd}\""),
                    managed::status_text(&x),
                    x.name
                );
            }
            Ok(0)
        }
        Command::Exec { process: ProcessArgs { interactive: _, tty, env, workdir, user }, container, command } => {
            let rec = record::find(data_root, &container)?;
            if rec.status != "running" {
                crate::bail!("container {} is not running", rec.name);
            }
            let o = crate::container::exec::ExecOptions { id: rec.id, args: command, tty, env, cwd: workdir, user, ..Default::default() };
            crate::container::exec::exec(runtime_root, &o)
        }
        Command::Commit { container, image } => {
            let rec = managed::commit(&r, &container, &image)?;
            crate::outln!("{}", rec.config);
            Ok(0)
        }
        Command::Logs { container } => {
            let rec = record::find(data_root, &container)?;
            let dir = rec.dir(data_root);
            for (f, to_err) in [("stdout.log", false), ("stderr.log", true)] {
                let text = std::fs::read(dir.join(f)).unwrap_or_default();
                use std::io::Write;
                let _ = if to_err { std::io::stderr().write_all(&text) } else { std::io::stdout().write_all(&text) };
            }
            Ok(0)
        }
        Command::Inspect { container } => {
            let rec = record::find(data_root, &container)?;
            crate::outln!("{}", serde_json::to_string_pretty(&rec).unwrap_or_default());
            Ok(0)
        }
    }
}
