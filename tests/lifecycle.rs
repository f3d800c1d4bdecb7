//! The lifecycle of runtime.md through the command line: create, start,
//! state, kill, delete, run, list; exit codes; what the container sees.

mod common;
use common::*;

#[test]
fn run_prints_from_pid1_and_returns_its_exit_code() {
    let env = Env::new("run", "echo pid=$$; hostname; exit 3");
    let id = env.id("a");
    let out = env.run(&id);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "pid=1\nkiste\n");
    env.assert_clean(&id);
}

#[test]
fn run_reports_death_by_signal_as_128_plus_n() {
    // PID 1 cannot be killed from inside its own namespace: kill it from the host.
    let env = Env::new("sig", "touch /tmp/ready; sleep 30");
    env.config(|c| c["root"]["readonly"] = false.into());
    let id = env.id("a");
    let child = env.cmd(&["run", "-b", env.bundle.to_str().unwrap(), &id]).stdout(std::process::Stdio::null()).spawn().unwrap();
    wait_file(&env.bundle.join("rootfs/tmp/ready"));
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(137));
    env.assert_clean(&id);
}

#[test]
fn create_start_state_kill_delete_walk_the_states() {
    let env = Env::new("walk", "sleep 30");
    let id = env.id("a");
    let pid_file = env.dir.join("pid");
    let out = env.create_with(&id, &["--pid-file", pid_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = env.state(&id);
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["bundle"], env.bundle.canonicalize().unwrap().to_str().unwrap());
    assert!(s["ociVersion"].is_string() && s["created"].is_string());
    let pid = s["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap().trim(), pid.to_string());
    // The init waits: it is not yet the user program.
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!cmdline.contains("sleep"), "user program ran before start: {cmdline}");

    let out = env.kiste(&["start", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.status(&id), "running");
    // `start` returns once the init has been told; the exec follows at once.
    let mut cmdline = String::new();
    for _ in 0..200 {
        cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
        if cmdline.starts_with("sh") || cmdline.starts_with("sleep") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(cmdline.starts_with("sh") || cmdline.starts_with("sleep"), "{cmdline}");

    let again = env.kiste(&["start", &id]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("cannot start an already running container"), "{}", stderr(&again));

    let refused = env.kiste(&["delete", &id]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("that is not stopped: running"), "{}", stderr(&refused));

    let out = env.kiste(&["kill", &id, "KILL"]);
    assert!(out.status.success(), "{}", stderr(&out));
    env.wait_status(&id, "stopped");
    assert_eq!(env.state(&id)["pid"], 0);
    let out = env.kiste(&["kill", &id, "TERM"]);
    assert!(stderr(&out).contains("container not running"), "{}", stderr(&out));

    let out = env.kiste(&["delete", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let gone = env.kiste(&["state", &id]);
    assert!(!gone.status.success());
    assert!(stderr(&gone).contains("does not exist"), "{}", stderr(&gone));
    env.assert_clean(&id);
}

#[test]
fn delete_of_a_created_container_kills_it_as_runc_does() {
    let env = Env::new("delcreated", "sleep 30");
    let id = env.id("a");
    assert!(env.create(&id).status.success());
    let out = env.kiste(&["delete", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    env.assert_clean(&id);
}

#[test]
fn delete_force_kills_a_running_container() {
    let env = Env::new("delforce", "sleep 30");
    let id = env.id("a");
    let out = env.run_detached(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.status(&id), "running");
    let out = env.kiste(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    env.assert_clean(&id);
}

#[test]
fn delete_force_of_a_missing_container_succeeds_as_with_runc() {
    let env = Env::new("delmissing", "true");
    let out = env.kiste(&["delete", "--force", "no-such-container"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.kiste(&["delete", "no-such-container"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("container does not exist"), "{}", stderr(&out));
    // What a `create` killed before its first save leaves: an empty journal.
    std::fs::create_dir_all(&env.root).unwrap();
    std::fs::write(env.root.join("half.journal"), "").unwrap();
    let out = env.kiste(&["delete", "--force", "half"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!env.root.join("half.journal").exists());
    let out = env.kiste(&["delete", "--force", "../escape"]);
    assert_eq!(out.status.code(), Some(1), "a bad id is still refused");
}

#[test]
fn kill_takes_names_and_numbers() {
    for sig in ["KILL", "SIGKILL", "9", "kill"] {
        let env = Env::new("killsig", "sleep 30");
        let id = env.id("a");
        assert!(env.create(&id).status.success());
        assert!(env.kiste(&["start", &id]).status.success());
        let out = env.kiste(&["kill", &id, sig]);
        assert!(out.status.success(), "{sig}: {}", stderr(&out));
        env.wait_status(&id, "stopped");
        assert!(env.kiste(&["delete", &id]).status.success());
        env.assert_clean(&id);
    }
    let env = Env::new("killbad", "sleep 30");
    let id = env.id("a");
    assert!(env.create(&id).status.success());
    let out = env.kiste(&["kill", &id, "NOSUCHSIG"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid signal"), "{}", stderr(&out));
}

#[test]
fn default_kill_signal_is_sigterm() {
    // PID 1 drops signals it has no handler for: wait until the trap is set.
    let env = Env::new("term", "trap 'echo got-term > /tmp/t; exit 7' TERM; touch /tmp/ready; while true; do sleep 0.1; done");
    env.config(|c| c["root"]["readonly"] = false.into());
    let id = env.id("a");
    assert!(env.create(&id).status.success());
    assert!(env.kiste(&["start", &id]).status.success());
    wait_file(&env.bundle.join("rootfs/tmp/ready"));
    assert!(env.kiste(&["kill", &id]).status.success());
    env.wait_status(&id, "stopped");
    assert_eq!(std::fs::read_to_string(env.bundle.join("rootfs/tmp/t")).unwrap(), "got-term\n");
}

#[test]
fn state_is_stopped_when_the_process_was_killed_from_outside() {
    let env = Env::new("outside", "sleep 30");
    let id = env.id("a");
    assert!(env.run_detached(&id).status.success());
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGKILL) };
    // Nobody reaps it quickly on this machine: a zombie counts as stopped.
    env.wait_status(&id, "stopped");
    assert!(env.kiste(&["delete", &id]).status.success());
    env.assert_clean(&id);
}

#[test]
fn a_recycled_pid_is_not_taken_for_the_container() {
    let env = Env::new("recycled", "sleep 30");
    let id = env.id("a");
    assert!(env.run_detached(&id).status.success());
    // Make the record point at a live process that is not the container: a
    // host process started later. Start times count clock ticks (10 ms), so
    // wait until the stand-in's differs from the container's; the test
    // harness itself may well have started in the container's tick.
    let state_file = env.root.join(format!("{id}.json"));
    let mut s: serde_json::Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    let real = s["pid"].clone();
    let start_time = |pid: i32| kiste::utils::proc_stat(pid).unwrap().start_time;
    let real_start = start_time(real.as_i64().unwrap() as i32);
    std::thread::sleep(std::time::Duration::from_millis(30));
    let mut stand_in = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    assert_ne!(start_time(stand_in.id() as i32), real_start, "the stand-in must have started in another tick");
    s["pid"] = (stand_in.id() as i64).into();
    std::fs::write(&state_file, serde_json::to_vec(&s).unwrap()).unwrap();
    assert_eq!(env.status(&id), "stopped");
    let out = env.kiste(&["kill", &id, "KILL"]);
    assert!(!out.status.success(), "kill must not reach another process");
    assert!(stand_in.try_wait().unwrap().is_none(), "the process with the recycled pid was killed");
    stand_in.kill().unwrap();
    stand_in.wait().unwrap();
    s["pid"] = real;
    std::fs::write(&state_file, serde_json::to_vec(&s).unwrap()).unwrap();
    assert_eq!(env.status(&id), "running");
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    env.assert_clean(&id);
}

#[test]
fn list_shows_containers_as_table_json_and_ids() {
    let env = Env::new("list", "sleep 30");
    let a = env.id("a");
    let b = env.id("b");
    assert!(env.create(&a).status.success());
    assert!(env.create(&b).status.success());
    assert!(env.kiste(&["start", &b]).status.success());
    let table = stdout(&env.kiste(&["list"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("STATUS") && lines[0].contains("BUNDLE"), "{table}");
    assert!(lines.iter().any(|l| l.starts_with(&a) && l.contains("created")), "{table}");
    assert!(lines.iter().any(|l| l.starts_with(&b) && l.contains("running")), "{table}");
    let json: serde_json::Value = serde_json::from_slice(&env.kiste(&["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let quiet = stdout(&env.kiste(&["list", "-q"]));
    assert_eq!(quiet, format!("{a}\n{b}\n"));
}

#[test]
fn the_container_has_its_own_namespaces_hostname_and_mounts() {
    let env = Env::new("ns", "for n in pid net ipc uts mnt; do readlink /proc/self/ns/$n; done; hostname; grep -c . /proc/self/mountinfo");
    let id = env.id("a");
    let out = env.run(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    for (i, n) in ["pid", "net", "ipc", "uts", "mnt"].iter().enumerate() {
        let host = std::fs::read_link(format!("/proc/self/ns/{n}")).unwrap();
        assert_ne!(lines[i], host.to_str().unwrap(), "{n} namespace is the host's");
    }
    assert_eq!(lines[5], "kiste");
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count();
    let mounts: usize = lines[6].parse().unwrap();
    assert!(mounts < host_mounts || mounts < 40, "container sees {mounts} mounts");
}

#[test]
fn no_pivot_runs_the_container_with_chroot() {
    let env = Env::new("nopivot", "echo ok; cat /proc/self/mountinfo | head -1");
    let id = env.id("a");
    let out = env.kiste(&["run", "--no-pivot", "-b", env.bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok\n"));
    env.assert_clean(&id);
}

#[test]
fn run_forwards_signals_to_the_container() {
    // PID 1 only gets signals it has a handler for: wait until the trap is set.
    let env = Env::new("fwd", "trap 'exit 42' USR1; touch /tmp/ready; while true; do sleep 0.05; done");
    env.config(|c| c["root"]["readonly"] = false.into());
    let id = env.id("a");
    let child = env.cmd(&["run", "-b", env.bundle.to_str().unwrap(), &id]).stdout(std::process::Stdio::null()).spawn().unwrap();
    wait_file(&env.bundle.join("rootfs/tmp/ready"));
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42));
    env.assert_clean(&id);
}

/// A container run in the foreground can be reached from elsewhere while it
/// runs: `state`, `exec`, `kill` (and `delete --force`) do not wait for it.
#[test]
fn a_foreground_run_does_not_lock_out_other_commands() {
    let env = Env::new("fglock", "touch /tmp/ready; sleep 30");
    env.config(|c| c["root"]["readonly"] = false.into());
    let id = env.id("a");
    let child = env.cmd(&["run", "-b", env.bundle.to_str().unwrap(), &id]).stdout(std::process::Stdio::null()).spawn().unwrap();
    wait_file(&env.bundle.join("rootfs/tmp/ready"));
    let t = std::time::Instant::now();
    assert_eq!(env.status(&id), "running");
    let out = env.kiste(&["exec", &id, "echo", "in"]);
    assert_eq!(stdout(&out), "in\n", "{}", stderr(&out));
    let out = env.kiste(&["kill", &id, "KILL"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = child.wait_with_output().unwrap();
    assert!(t.elapsed() < std::time::Duration::from_secs(10), "took {:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(137));
    env.assert_clean(&id);
}

#[test]
fn tmpcopyup_fills_a_tmpfs_with_what_the_rootfs_held_there() {
    let env = Env::new(
        "copyup",
        "cat /srv/d/f; readlink /srv/d/l; stat -c '%a %u:%g' /srv/d /srv/d/f; echo new > /srv/d/g; grep ' /srv ' /proc/mounts | cut -d' ' -f3",
    );
    let d = env.bundle.join("rootfs/srv/d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("f"), "hello\n").unwrap();
    std::os::unix::fs::symlink("../../../../etc/shadow", d.join("l")).unwrap();
    std::os::unix::fs::chown(d.join("f"), Some(5), Some(6)).unwrap();
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();
    env.config(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/srv", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "tmpcopyup", "size=1m"]
        }))
    });
    let id = env.id("a");
    let out = env.run(&id);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\n../../../../etc/shadow\n750 0:0\n644 5:6\ntmpfs\n");
    assert!(!d.join("g").exists(), "a write to the tmpfs reached the rootfs");
    env.assert_clean(&id);
}
