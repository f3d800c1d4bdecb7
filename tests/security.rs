//! runc's CVEs, each tried against kiste: the container must not reach the
//! kiste binary, a host fd or cwd, or a host path through a symlink.

mod common;
use common::*;
use std::os::unix::process::CommandExt;

/// Makes `cmd` start with `fd` open as `target`, without close-on-exec
/// (dup2 onto itself would keep the flag: it is cleared explicitly).
fn pass_fd(cmd: &mut std::process::Command, fd: i32, target: i32) {
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, target) < 0 || libc::fcntl(target, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn sha(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Whether the executable behind `/proc/PID/exe` is protected from writes:
/// the attack's pattern is to hold an O_PATH fd on it and reopen it for
/// writing once kiste has exited (while it runs, the kernel says ETXTBSY).
/// Returns the fd, to be tried with `write_refused` after the process is gone.
fn hold_exe(pid: i64) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_PATH).open(format!("/proc/{pid}/exe")).unwrap()
}

/// The held exe must sit on a read-only mount or be a memfd sealed against
/// writes, and reopening it for writing must fail (EROFS on a read-only
/// mount; ETXTBSY while some kiste still runs it, as parallel tests may).
/// Nothing is ever written: a failing test must not damage the binary.
fn write_refused(held: &std::fs::File) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}", held.as_raw_fd());
    let c = std::ffi::CString::new(path.clone()).unwrap();
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let ro = unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0 && st.f_flag & libc::ST_RDONLY != 0;
    let sealed = std::fs::File::open(&path)
        .map(|f| unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) })
        .is_ok_and(|seals| seals >= 0 && seals & libc::F_SEAL_WRITE != 0);
    if !ro && !sealed {
        return Err(format!("{} is on a writable mount and not a sealed memfd", std::fs::read_link(&path).unwrap().display()));
    }
    match std::fs::OpenOptions::new().write(true).open(&path) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EROFS) | Some(libc::ETXTBSY)) => Ok(()),
        Err(e) => Err(format!("refused, but not as expected: {e}")),
        // A sealed memfd opens for writing; its seal refuses every write.
        Ok(_) if sealed => Ok(()),
        Ok(_) => Err("the executable could be opened for writing".to_string()),
    }
}

/// CVE-2019-5736: the init of a created container does not run from a file
/// anyone can write: the fd a container could take on its /proc/PID/exe
/// cannot be reopened for writing once the init is gone.
#[test]
fn cve_2019_5736_the_init_runs_from_a_write_protected_exe() {
    let before = sha(KISTE);
    let env = Env::new("exe", "true");
    let id = env.id("a");
    assert!(env.create(&id).status.success());
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let held = hold_exe(pid);
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    let res = write_refused(&held);
    assert_eq!(sha(KISTE), before);
    res.unwrap();
    env.assert_clean(&id);
}

/// A bundle with `/evil`, a program whose interpreter is `/proc/self/exe`.
fn with_evil(env: Env) -> Env {
    use std::os::unix::fs::PermissionsExt;
    let evil = env.bundle.join("rootfs/evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    env
}

/// CVE-2019-5736, the attack itself: a container program `#!/proc/self/exe`
/// makes the kernel run the init's own executable inside the container; it
/// must be the sealed copy, and the host binary stays as it was.
#[test]
fn cve_2019_5736_proc_self_exe_shebang_does_not_reach_the_host_binary() {
    let before = sha(KISTE);
    let env = with_evil(Env::new("shebang", "true"));
    env.config(|c| c["process"]["args"] = serde_json::json!(["/evil"]));
    let id = env.id("a");
    let out = env.run(&id);
    // The kernel did run kiste's binary (its complaint about "/evil" as a
    // command shows it), and that did not change the binary on the host.
    assert_eq!(sha(KISTE), before);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/evil"), "{}", stderr(&out));
    env.assert_clean(&id);
}

/// CVE-2019-5736 through `exec`: the exec'd process is a fork of `kiste
/// exec` until its execve, so `kiste exec` runs from a protected exe too, and
/// a `#!/proc/self/exe` program exec'd into the container leaves the host
/// binary as it was.
#[test]
fn cve_2019_5736_exec_runs_from_a_write_protected_exe() {
    use std::io::BufRead;
    let before = sha(KISTE);
    let env = with_evil(Env::new("execexe", "sleep 30"));
    let id = env.id("a");
    assert!(env.run_detached(&id).status.success());
    let mut child = env.cmd(&["exec", &id, "sh", "-c", "echo ready; sleep 5"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let held = hold_exe(child.id() as i64);
    let _ = child.kill();
    let _ = child.wait();
    write_refused(&held).unwrap();
    let out = env.kiste(&["exec", &id, "/evil"]);
    assert!(!out.status.success());
    assert_eq!(sha(KISTE), before);
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    env.assert_clean(&id);
}

/// CVE-2024-21626: an fd the caller leaks to kiste does not reach the
/// container; only stdio and --preserve-fds do.
#[test]
fn cve_2024_21626_no_host_fd_reaches_the_container() {
    let env = Env::new("fds", "ls /proc/self/fd | tr '\\n' ' '");
    let id = env.id("a");
    let host_dir = std::fs::File::open("/").unwrap();
    use std::os::fd::AsRawFd;
    let raw = host_dir.as_raw_fd();
    let mut cmd = env.cmd(&["run", "-b", env.bundle.to_str().unwrap(), &id]);
    pass_fd(&mut cmd, raw, 7);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let fds: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().split_whitespace().collect();
    // 0-2, and the directory ls itself reads.
    assert!(fds.iter().all(|f| ["0", "1", "2", "3"].contains(f)), "container sees fds {fds:?}");
    env.assert_clean(&id);
}

/// CVE-2024-21626: a cwd through /proc/self/fd/N of a leaked host fd is
/// refused, not entered.
#[test]
fn cve_2024_21626_cwd_cannot_point_at_a_host_fd() {
    let env = Env::new("cwdfd", "pwd; ls ..");
    env.config(|c| c["process"]["cwd"] = "/proc/self/fd/7".into());
    let id = env.id("a");
    let host_dir = std::fs::File::open("/").unwrap();
    use std::os::fd::AsRawFd;
    let raw = host_dir.as_raw_fd();
    let mut cmd = env.cmd(&["run", "-b", env.bundle.to_str().unwrap(), &id]);
    pass_fd(&mut cmd, raw, 7);
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "container started in {}", stdout(&out));
    assert!(stderr(&out).contains("process.cwd"), "{}", stderr(&out));
    env.assert_clean(&id);
}

/// --preserve-fds N passes fds 3..3+N-1, as runc does.
#[test]
fn preserve_fds_passes_the_named_fds() {
    let env = Env::new("preserve", "cat <&3");
    let id = env.id("a");
    let file = env.dir.join("fd3");
    std::fs::write(&file, "through fd 3\n").unwrap();
    let f = std::fs::File::open(&file).unwrap();
    use std::os::fd::AsRawFd;
    let raw = f.as_raw_fd();
    let mut cmd = env.cmd(&["run", "--preserve-fds", "1", "-b", env.bundle.to_str().unwrap(), &id]);
    pass_fd(&mut cmd, raw, 3);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "through fd 3\n");
}

/// CVE-2021-30465: mount destinations that go through symlinks pointing out
/// of the rootfs (absolute or with ..) land inside the rootfs.
#[test]
fn cve_2021_30465_mount_destinations_stay_inside_the_rootfs() {
    let env = Env::new("symlink", "grep -c kiste-escape /proc/self/mountinfo");
    let host = std::env::temp_dir().join(format!("kiste-escape-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&host);
    std::fs::create_dir_all(&host).unwrap();
    let rootfs = env.bundle.join("rootfs");
    std::os::unix::fs::symlink(&host, rootfs.join("abs")).unwrap();
    std::os::unix::fs::symlink(format!("../../../../../../../..{}", host.display()), rootfs.join("rel")).unwrap();
    env.config(|c| {
        c["root"]["readonly"] = false.into();
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(serde_json::json!({"destination": "/abs/a", "type": "tmpfs", "source": "kiste-escape"}));
        m.push(serde_json::json!({"destination": "/rel/b", "type": "tmpfs", "source": "kiste-escape"}));
        m.push(serde_json::json!({"destination": "/../../../../tmp/c", "type": "tmpfs", "source": "kiste-escape"}));
    });
    let id = env.id("a");
    let out = env.run(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "3\n", "the three mounts are in the container");
    assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0, "something was created in the host directory");
    assert!(rootfs.join(host.strip_prefix("/").unwrap()).join("a").is_dir(), "the mount point was made inside the rootfs");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("kiste-escape"), "a mount reached the host");
    env.assert_clean(&id);
    let _ = std::fs::remove_dir_all(&host);
}

/// Masked paths are resolved inside the rootfs too: a symlink to a host
/// file masks the container's file of that name, not the host's.
#[test]
fn masked_paths_through_symlinks_stay_inside() {
    let env = Env::new("masklink", "cat /etc/hostname; echo end");
    std::os::unix::fs::symlink("/etc/hostname", env.bundle.join("rootfs/masklink")).unwrap();
    env.config(|c| c["linux"]["maskedPaths"] = serde_json::json!(["/masklink"]));
    let id = env.id("a");
    let host_before = std::fs::read_to_string("/etc/hostname").ok();
    let out = env.run(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "end\n", "the container's /etc/hostname is masked");
    assert_eq!(std::fs::read_to_string("/etc/hostname").ok(), host_before);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.lines().any(|l| l.split(' ').nth(4) == Some("/etc/hostname")), "host /etc/hostname got a mount");
}

/// The 2025 masked-path race: masking uses the container's /dev/null only
/// if it is the real null device; anything else is refused.
#[test]
fn masking_refuses_a_dev_null_that_is_not_the_null_device() {
    let env = Env::new("fakenull", "true");
    let fake_dev = env.dir.join("fakedev");
    std::fs::create_dir_all(&fake_dev).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", fake_dev.join("null")).unwrap();
    env.config(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
        m.push(serde_json::json!({"destination": "/dev", "type": "bind", "source": fake_dev, "options": ["rbind"]}));
        c["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore", "/proc/keys"]);
    });
    let id = env.id("a");
    let out = env.run(&id);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not the null device"), "{}", stderr(&out));
    env.assert_clean(&id);
}

/// The state directory and the runtime's files are not visible inside.
#[test]
fn the_state_directory_is_out_of_reach() {
    let env = Env::new("statedir", "ls -la / /proc/self/fd 2>&1; cat /proc/self/mountinfo");
    let id = env.id("a");
    let out = env.kiste(&["run", "-b", env.bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains(env.root.to_str().unwrap()), "state dir visible: {text}");
    assert!(!text.contains(&format!("{id}.")), "{text}");
}

/// The device nodes are root's with the mode the config gives, whatever the
/// group kiste itself runs with (a node made by mknod takes its maker's
/// group; a node with mode 0660 and the caller's group would be open to
/// that group).
#[test]
fn device_nodes_belong_to_root_whatever_group_kiste_runs_with() {
    use std::os::unix::process::CommandExt;
    let env = Env::new("devgroup", "stat -c '%n %u %g %a' /dev/null /dev/tty /dev/kiste-test");
    env.config(|c| {
        c["linux"]["devices"] = serde_json::json!([{"path": "/dev/kiste-test", "type": "c", "major": 1, "minor": 3, "fileMode": 0o660}]);
    });
    let id = env.id("a");
    let out = env.cmd(&["run", "--bundle", env.bundle.to_str().unwrap(), &id]).gid(100).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "/dev/null 0 0 666\n/dev/tty 0 0 666\n/dev/kiste-test 0 0 660\n");
    env.assert_clean(&id);
}
