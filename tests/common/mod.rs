//! Shared by the integration tests: a busybox bundle in a temporary
//! directory, kiste with its own `--root`, and checks that nothing is left
//! behind (state, mounts, cgroups, processes). Tests run as root.

#![allow(dead_code)]

pub mod layout;
pub mod registry;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const KISTE: &str = env!("CARGO_BIN_EXE_kiste");
static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct Env {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub name: String,
}

/// The template rootfs of the test binary running as `pid`.
fn template_path(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("kiste-test-rootfs-{pid}"))
}

/// Removes this test binary's template when it exits.
extern "C" fn remove_template() {
    let _ = std::fs::remove_dir_all(template_path(std::process::id()));
}

/// A busybox rootfs, made once per test binary and hard-linked per test.
/// It is removed at exit, and the templates of test binaries that are gone
/// (killed before their exit) are removed here.
fn template() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        for e in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("kiste-test-rootfs-").and_then(|p| p.parse::<u32>().ok())
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let t = template_path(std::process::id());
        let _ = std::fs::remove_dir_all(&t);
        unsafe { libc::atexit(remove_template) };
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
            std::fs::create_dir_all(t.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", t.join("bin/busybox")).expect("busybox-static is installed (/bin/busybox)");
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", t.join("bin").join(applet));
            }
        }
        std::fs::write(t.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n").unwrap();
        std::fs::write(t.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        std::fs::write(t.join("etc/hostname"), "image\n").unwrap();
        t
    })
    .clone()
}

impl Env {
    /// A fresh bundle whose process runs `sh -c script`.
    pub fn new(name: &str, script: &str) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("kt-{name}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&tag);
        let _ = std::fs::remove_dir_all(&dir);
        let bundle = dir.join("bundle");
        std::fs::create_dir_all(&bundle).unwrap();
        let ok = Command::new("cp").arg("-al").arg(template()).arg(bundle.join("rootfs")).status().unwrap();
        assert!(ok.success());
        let root = dir.join("state");
        let env = Env { dir, root, bundle, name: tag };
        let out = env.kiste(&["spec", "--bundle", env.bundle.to_str().unwrap()]);
        assert!(out.status.success(), "kiste spec: {}", stderr(&out));
        env.config(|c| {
            c["process"]["terminal"] = false.into();
            c["process"]["args"] = serde_json::json!(["sh", "-c", script]);
        });
        env
    }

    /// A container id unique to this test.
    pub fn id(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    pub fn config(&self, f: impl FnOnce(&mut Value)) {
        let p = self.bundle.join("config.json");
        let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(KISTE);
        c.arg("--root").arg(&self.root).args(args).stdin(Stdio::null());
        c
    }

    pub fn kiste(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `kiste run` in the foreground of this bundle.
    pub fn run(&self, id: &str) -> Output {
        self.kiste(&["run", "--bundle", self.bundle.to_str().unwrap(), id])
    }

    /// `kiste create`. The container's init keeps the stdio it is given, as
    /// with runc, so its stdout and stderr go to a file, not to a pipe.
    pub fn create(&self, id: &str) -> Output {
        self.create_with(id, &[])
    }

    pub fn create_with(&self, id: &str, extra: &[&str]) -> Output {
        let log = self.dir.join(format!("create-{}.log", COUNTER.fetch_add(1, Ordering::SeqCst)));
        let f = std::fs::File::create(&log).unwrap();
        let mut args = vec!["create", "--bundle", self.bundle.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        let status = self.cmd(&args).stdout(f.try_clone().unwrap()).stderr(f).status().unwrap();
        Output { status, stdout: Vec::new(), stderr: std::fs::read(&log).unwrap_or_default() }
    }

    /// `kiste run --detach`, stdio to a file as for `create`.
    pub fn run_detached(&self, id: &str) -> Output {
        let log = self.dir.join(format!("run-{}.log", COUNTER.fetch_add(1, Ordering::SeqCst)));
        let f = std::fs::File::create(&log).unwrap();
        let status = self
            .cmd(&["run", "--detach", "--bundle", self.bundle.to_str().unwrap(), id])
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .status()
            .unwrap();
        Output { status, stdout: Vec::new(), stderr: std::fs::read(&log).unwrap_or_default() }
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.kiste(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Polls until the container reaches `status` (or panics after 10 s).
    pub fn wait_status(&self, id: &str, status: &str) {
        for _ in 0..1000 {
            if self.status(id) == status {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("{id} never became {status}");
    }

    /// Nothing of container `id` is left: no state directory, no mount, no
    /// cgroup directory, no process.
    pub fn assert_clean(&self, id: &str) {
        // Its files under the state root: ID.journal, ID.json, ID.fifo, ID.tmp.
        let prefix = format!("{id}.");
        let left: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "state files of {id} left behind: {left:?}");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let b = self.bundle.to_str().unwrap();
        assert!(!mounts.lines().any(|l| l.contains(b)), "mount of {b} left behind");
        assert!(cgroup_dirs(id).is_empty(), "cgroups of {id} left behind: {:?}", cgroup_dirs(id));
        assert!(processes_of(id).is_empty(), "processes of {id} left behind: {:?}", processes_of(id));
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(out) = self.cmd(&["list", "-q"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.kiste(&["delete", "--force", id]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Cgroup directories named `id` on any hierarchy.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    fn walk(dir: &Path, id: &str, depth: usize, found: &mut Vec<PathBuf>) {
        if depth > 5 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let p = e.path();
                if e.file_name().to_string_lossy() == id {
                    found.push(p.clone());
                }
                walk(&p, id, depth + 1, found);
            }
        }
    }
    walk(Path::new("/sys/fs/cgroup"), id, 0, &mut found);
    found
}

/// Live processes in a cgroup named `id` on any hierarchy.
pub fn processes_of(id: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let needle = format!("/{id}");
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z')) {
            continue;
        }
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if cg.lines().any(|l| l.ends_with(&needle) || l.contains(&format!("{needle}/"))) {
            out.push(pid);
        }
    }
    out
}

/// Waits (up to 10 s) for a file to appear.
pub fn wait_file(p: &Path) {
    for _ in 0..1000 {
        if p.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} never appeared", p.display());
}
