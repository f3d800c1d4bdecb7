//! `kiste container …` on a busybox image built here: the Docker tutorial's
//! steps, each checked as a user would see them.

mod common;
use common::layout::*;
use common::*;
use std::path::PathBuf;
use std::process::Output;

struct Box_ {
    env: Env,
    data: PathBuf,
}

impl Box_ {
    /// A data root with the image `busybox:latest` imported.
    fn new(name: &str) -> Box_ {
        let env = Env::new(name, "true");
        let data = env.dir.join("data");
        let b = Box_ { env, data };
        let src = layout(&b.env.dir.join("layout"), &[busybox_layer(), vec![file("etc/motd", "from the image\n")]], |_, _| {});
        let out = b.k(&["image", "import", src.to_str().unwrap(), "busybox"]);
        assert!(out.status.success(), "{}", stderr(&out));
        b
    }

    fn k(&self, args: &[&str]) -> Output {
        let mut all = vec!["--data-root", self.data.to_str().unwrap()];
        all.extend_from_slice(args);
        self.env.kiste(&all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.k(args);
        assert!(out.status.success(), "kiste {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// Nothing of any container left mounted or in the runtime's state.
    fn assert_no_leftovers(&self) {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(self.data.to_str().unwrap()), "a container's overlay is still mounted");
        let state: Vec<_> = std::fs::read_dir(&self.env.root).map(|r| r.collect()).unwrap_or_default();
        assert!(state.is_empty(), "runtime state left: {state:?}");
    }
}

#[test]
fn run_rm_prints_and_returns_pid1_exit_code() {
    let b = Box_::new("ctrrun");
    let out = b.k(&["container", "run", "--rm", "busybox", "sh", "-c", "echo pid=$$; cat /etc/motd; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "pid=1\nfrom the image\n");
    assert_eq!(b.ok(&["container", "ps", "-a", "-q"]), "", "--rm left the container");
    b.assert_no_leftovers();
}

#[test]
fn each_run_is_a_new_container_and_start_keeps_the_writable_layer() {
    let b = Box_::new("ctrlayer");
    let out = b.ok(&["container", "run", "--name", "c1", "busybox", "sh", "-c", "echo line >> /notes; cat /notes"]);
    assert_eq!(out, "line\n");
    // A new container does not see it; the image did not change.
    let out = b.k(&["container", "run", "--rm", "busybox", "cat", "/notes"]);
    assert_ne!(out.status.code(), Some(0));
    // The same container, started again, keeps its writable layer.
    let out = b.ok(&["container", "start", "-a", "c1"]);
    assert_eq!(out, "line\nline\n");
    let ps = b.ok(&["container", "ps", "-a"]);
    assert!(ps.contains("c1") && ps.contains("Exited (0)"), "{ps}");
    // create + start -a.
    let id = b.ok(&["container", "create", "--name", "c2", "-e", "WHO=you", "-w", "/tmp", "busybox", "sh", "-c", "echo $WHO in $(pwd)"]);
    assert_eq!(id.trim().len(), 32);
    assert!(b.ok(&["container", "ps", "-a"]).contains("Created"));
    assert_eq!(b.ok(&["container", "start", "-a", &id.trim()[..8]]), "you in /tmp\n");
    // Names are unique.
    let out = b.k(&["container", "create", "--name", "c1", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
    let out = b.k(&["image", "rm", "busybox"]);
    assert_eq!(out.status.code(), Some(1), "an image in use must not be removed");
    assert!(stderr(&out).contains("used by container"), "{}", stderr(&out));
    b.ok(&["container", "rm", "c1", "c2"]);
    assert_eq!(b.ok(&["container", "ps", "-a", "-q"]), "");
    assert_eq!(std::fs::read_dir(b.data.join("containers")).unwrap().count(), 0, "rm left the writable layer");
    b.assert_no_leftovers();
}

#[test]
fn detached_logs_stop_and_rm() {
    let b = Box_::new("ctrdetach");
    let id = b.ok(&["container", "run", "-d", "--name", "d", "busybox", "sh", "-c", "echo out; echo err >&2; sleep 60"]);
    assert_eq!(id.trim().len(), 32);
    assert!(b.ok(&["container", "ps"]).contains("Up"));
    // Logs: stdout and stderr kept apart.
    let mut out = b.k(&["container", "logs", "d"]);
    for _ in 0..200 {
        if stdout(&out) == "out\n" && stderr(&out) == "err\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        out = b.k(&["container", "logs", "d"]);
    }
    assert_eq!((stdout(&out).as_str(), stderr(&out).as_str()), ("out\n", "err\n"));
    let out = b.k(&["container", "exec", "-e", "X=1", "d", "sh", "-c", "echo $X; exit 4"]);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(4), "1\n"), "{}", stderr(&out));
    let out = b.k(&["container", "rm", "d"]);
    assert_eq!(out.status.code(), Some(1), "rm of a running container must be refused");
    // sh as PID 1 ignores SIGTERM: SIGKILL after the grace period.
    let t = std::time::Instant::now();
    b.ok(&["container", "stop", "-t", "1", "d"]);
    assert!(t.elapsed() < std::time::Duration::from_secs(8), "stop took {:?}", t.elapsed());
    assert!(b.ok(&["container", "ps", "-a"]).contains("Exited (137)"));
    b.ok(&["container", "rm", "d"]);
    b.assert_no_leftovers();
}

#[test]
fn bind_mounts_and_read_only() {
    let b = Box_::new("ctrbind");
    let host = b.env.dir.join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from the host\n").unwrap();
    let rw = format!("{}:/data", host.display());
    let out = b.ok(&["container", "run", "--rm", "-v", &rw, "busybox", "sh", "-c", "cat /data/in; echo back > /data/out"]);
    assert_eq!(out, "from the host\n");
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "back\n");
    let ro = format!("{}:/data:ro", host.display());
    let out = b.k(&["container", "run", "--rm", "-v", &ro, "busybox", "sh", "-c", "echo no > /data/no"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!host.join("no").exists());
    let out = b.k(&["container", "run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_ne!(out.status.code(), Some(0));
    let out = b.k(&["container", "run", "--rm", "-v", "../evil:/data", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("volume name"), "{}", stderr(&out));
    assert_eq!(b.ok(&["container", "ps", "-a", "-q"]), "");
    b.assert_no_leftovers();
}

#[test]
fn named_volumes_outlive_containers_and_are_filled_once_from_the_image() {
    let b = Box_::new("ctrvol");
    // A new, empty volume at /etc is first filled with the image's /etc.
    let out = b.ok(&["container", "run", "--rm", "-v", "conf:/etc", "busybox", "sh", "-c", "cat /etc/motd; echo mine > /etc/motd"]);
    assert_eq!(out, "from the image\n");
    // The volume outlived the container (--rm keeps named volumes), and now
    // that it holds data, it hides the image's content.
    assert!(b.ok(&["volume", "ls", "-q"]).contains("conf"));
    let out = b.ok(&["container", "run", "--rm", "-v", "conf:/etc", "busybox", "cat", "/etc/motd"]);
    assert_eq!(out, "mine\n");
    // Written by one container, read by another after the first is removed.
    b.ok(&["container", "run", "--name", "w", "-v", "shared:/data", "busybox", "sh", "-c", "echo note > /data/n"]);
    let out = b.k(&["volume", "rm", "shared"]);
    assert_eq!(out.status.code(), Some(1), "a volume in use must not be removed");
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    b.ok(&["container", "rm", "w"]);
    assert_eq!(b.ok(&["container", "run", "--rm", "-v", "shared:/data", "busybox", "cat", "/data/n"]), "note\n");
    // An anonymous volume goes with its --rm container.
    b.ok(&["container", "run", "--rm", "-v", "/scratch", "busybox", "touch", "/scratch/x"]);
    let left = b.ok(&["volume", "ls", "-q"]);
    assert_eq!(left, "conf\nshared\n");
    b.ok(&["volume", "rm", "shared"]);
    assert_eq!(b.ok(&["volume", "prune"]), "", "prune leaves named volumes, as docker 23+ does");
    assert_eq!(b.ok(&["volume", "prune", "-a"]), "conf\n");
    assert_eq!(b.ok(&["volume", "ls", "-q"]), "");
    b.assert_no_leftovers();
}

#[test]
fn commit_makes_an_image_of_the_writable_layer() {
    let b = Box_::new("ctrcommit");
    b.ok(&["container", "run", "--name", "s", "busybox", "sh", "-c", "echo snap > /snap; rm /etc/motd"]);
    let id = b.ok(&["container", "commit", "s", "snapped:v1"]);
    assert!(id.starts_with("sha256:"), "{id}");
    let hist = b.ok(&["image", "history", "snapped:v1"]);
    assert!(hist.lines().nth(1).unwrap_or("").contains("kiste container commit s"), "{hist}");
    // The new image has the file, and the deletion (a whiteout) too.
    let out = b.k(&["container", "run", "--rm", "snapped:v1", "sh", "-c", "cat /snap; test -e /etc/motd || echo gone"]);
    assert_eq!(stdout(&out), "snap\ngone\n", "{}", stderr(&out));
    // The image it came from did not change.
    assert_eq!(b.ok(&["container", "run", "--rm", "busybox", "cat", "/etc/motd"]), "from the image\n");
    b.ok(&["container", "rm", "s"]);
    b.assert_no_leftovers();
}

/// `-u NAME[:GROUP]` and numeric ids, looked up in the image's own
/// /etc/passwd and /etc/group (of the topmost layer that has them), with
/// the user's supplementary groups, as docker does.
#[test]
fn user_names_are_looked_up_in_the_image() {
    let b = Box_::new("ctruser");
    let accounts = vec![
        file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"),
        file("etc/group", "root:x:0:\napp:x:1001:\nwheel:x:10:app\nstaff:x:50:\n"),
    ];
    let src = layout(&b.env.dir.join("layout2"), &[busybox_layer(), accounts], |_, _| {});
    b.ok(&["image", "import", src.to_str().unwrap(), "accounts"]);
    let ids = |user: &str| b.ok(&["container", "run", "--rm", "-u", user, "accounts", "sh", "-c", "id -u; id -g; id -G"]);
    assert_eq!(ids("app"), "1000\n1001\n1001 10\n");
    assert_eq!(ids("app:staff"), "1000\n50\n50 10\n");
    assert_eq!(ids("1000"), "1000\n1001\n1001 10\n");
    assert_eq!(ids("4242:7"), "4242\n7\n7\n");
    let out = b.k(&["container", "run", "--rm", "-u", "ghost", "accounts", "true"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unable to find user ghost"), "{}", stderr(&out));
    b.assert_no_leftovers();
}

/// Anonymous volumes as docker keeps them: an image VOLUME gets one, filled
/// from the image; `rm` keeps it (dangling), `rm -v` and `run --rm` remove
/// it; `volume prune` removes unused anonymous volumes, `prune -a` the
/// named ones too; named volumes are never removed with a container.
#[test]
fn anonymous_volumes_follow_docker() {
    let b = Box_::new("ctranon");
    let src = layout_with(
        &b.env.dir.join("layout2"),
        &[busybox_layer(), vec![dir("data"), file("data/seed", "from the image\n")]],
        |_, _| {},
        serde_json::json!({"Volumes": {"/data": {}}}),
    );
    b.ok(&["image", "import", src.to_str().unwrap(), "withvol"]);
    let vols = || b.ok(&["volume", "ls", "-q"]).lines().map(String::from).collect::<Vec<_>>();
    assert!(vols().is_empty());
    // The image's VOLUME: an anonymous volume, filled from the image.
    assert_eq!(
        b.ok(&["container", "run", "--name", "a", "withvol", "sh", "-c", "cat /data/seed; echo mine > /data/new"]),
        "from the image\n"
    );
    assert_eq!(vols().len(), 1, "one anonymous volume for the image's VOLUME");
    b.ok(&["container", "rm", "a"]);
    assert_eq!(vols().len(), 1, "rm without -v keeps the anonymous volume");
    b.ok(&["container", "run", "--name", "b", "-v", "named:/data", "withvol", "true"]);
    let v = vols();
    assert!(v.len() == 2 && v.contains(&"named".to_string()), "-v over the image's VOLUME: no anonymous one for it: {v:?}");
    b.ok(&["container", "rm", "-v", "b"]);
    assert!(vols().contains(&"named".to_string()), "rm -v keeps named volumes");
    b.ok(&["container", "run", "--name", "c", "withvol", "true"]);
    assert_eq!(vols().len(), 3);
    b.ok(&["container", "rm", "-v", "c"]);
    assert_eq!(vols().len(), 2, "rm -v removes the container's anonymous volume");
    b.ok(&["container", "run", "--rm", "withvol", "true"]);
    assert_eq!(vols().len(), 2, "run --rm removes its anonymous volume");
    b.ok(&["volume", "prune"]);
    assert_eq!(vols(), vec!["named".to_string()], "prune removes the dangling anonymous volume only");
    b.ok(&["volume", "prune", "-a"]);
    assert!(vols().is_empty(), "prune -a removes unused named volumes too");
    b.assert_no_leftovers();
}
