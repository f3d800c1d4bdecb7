//! `exec`: a new process inside a running container.

mod common;
use common::*;

fn text(o: &std::process::Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

#[test]
fn exec_joins_the_container_and_returns_the_exit_code() {
    let env = Env::new("exec", "echo $$ > /tmp/initpid; sleep 30");
    env.config(|c| c["root"]["readonly"] = serde_json::json!(false));
    let id = env.id("a");
    assert!(env.run_detached(&id).status.success());
    wait_file(&env.bundle.join("rootfs/tmp/initpid"));
    let init = env.state(&id)["pid"].as_i64().unwrap();
    let out = env.kiste(&["exec", &id, "sh", "-c", "echo pid=$$; hostname; cat /tmp/initpid; cat /proc/self/cgroup; exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let s = stdout(&out);
    // Its own PID in the container's PID namespace, the container's
    // hostname and files, the init's cgroup.
    assert!(s.lines().next().unwrap().starts_with("pid=") && !s.contains("pid=1\n"), "{s}");
    assert_eq!(s.lines().nth(1), Some("kiste"), "{s}");
    assert_eq!(s.lines().nth(2), Some("1"), "{s}");
    let init_cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    for line in s.lines().skip(3) {
        assert!(init_cg.contains(line.split(':').nth(2).unwrap_or("?")), "{line} not in {init_cg}");
    }
    for ns in ["mnt", "pid", "uts", "ipc", "net"] {
        let init_ns = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        let out = env.kiste(&["exec", &id, "readlink", &format!("/proc/self/ns/{ns}")]);
        assert_eq!(stdout(&out).trim(), init_ns.to_str().unwrap(), "{ns}: {}", text(&out));
    }
    // Flags: cwd, env, user.
    let out = env.kiste(&["exec", "--cwd", "/tmp", "-e", "FOO=bar", "-u", "1000:1001", &id, "sh", "-c", "pwd; echo $FOO; id -u; id -g"]);
    assert_eq!(stdout(&out), "/tmp\nbar\n1000\n1001\n", "{}", text(&out));
    // A missing program: runc's message, a non-zero exit.
    let out = env.kiste(&["exec", &id, "no-such-program"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("executable file not found in $PATH"), "{}", text(&out));
    // Detached, with the PID on the host in --pid-file.
    let pid_file = env.dir.join("exec.pid");
    // (stdio to a file: the detached process keeps it open)
    let log = std::fs::File::create(env.dir.join("exec-d.log")).unwrap();
    let status = env
        .cmd(&["exec", "-d", "--pid-file", pid_file.to_str().unwrap(), &id, "sleep", "20"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    assert!(status.success(), "{status}: {}", std::fs::read_to_string(env.dir.join("exec-d.log")).unwrap());
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    // Detached exec returns once the process is set up, just before its
    // execve (as runc's does): give the execve a moment.
    let mut cmdline = String::new();
    for _ in 0..200 {
        cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.starts_with("sleep") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(cmdline.starts_with("sleep"), "{cmdline:?}");
    let ps: Vec<i32> = serde_json::from_slice(&env.kiste(&["ps", "-f", "json", &id]).stdout).unwrap();
    assert!(ps.contains(&pid), "{ps:?}");
    // --process: a process.json.
    let pj = env.dir.join("process.json");
    std::fs::write(
        &pj,
        r#"{"args": ["sh", "-c", "echo from-json $A"], "env": ["A=1", "PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#,
    )
    .unwrap();
    let out = env.kiste(&["exec", "--process", pj.to_str().unwrap(), &id]);
    assert_eq!(stdout(&out), "from-json 1\n", "{}", text(&out));
    // Paused: refused unless --ignore-paused.
    assert!(env.kiste(&["pause", &id]).status.success());
    let out = env.kiste(&["exec", &id, "true"]);
    assert!(stderr(&out).contains("cannot exec in a paused container"), "{}", text(&out));
    assert!(env.kiste(&["resume", &id]).status.success());
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    env.assert_clean(&id);
}

#[test]
fn exec_into_a_stopped_container_is_refused() {
    let env = Env::new("execstop", "true");
    let id = env.id("a");
    assert!(env.run_detached(&id).status.success());
    env.wait_status(&id, "stopped");
    let out = env.kiste(&["exec", &id, "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot exec in a stopped container"), "{}", text(&out));
    let out = env.kiste(&["exec", "no-such-container", "true"]);
    assert!(stderr(&out).contains("container does not exist"), "{}", text(&out));
    assert!(env.kiste(&["delete", &id]).status.success());
    env.assert_clean(&id);
}
