//! `process.terminal`: the pty, the console socket, kiste's own proxy in
//! the foreground; and fds passed in (--preserve-fds, socket activation).

mod common;
use common::*;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

/// Accepts one connection and receives the fd sent on it, with its name.
fn receive_master(listener: UnixListener) -> (String, OwnedFd) {
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC)
        .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let n = msg.bytes;
    (String::from_utf8_lossy(&buf[..n]).into_owned(), fd.expect("an fd came with the message"))
}

fn read_all(fd: OwnedFd) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break; // EIO once the container side is closed
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

#[test]
fn console_socket_gets_the_pty_master() {
    let env = Env::new("console", "tty; stty size; stat -c '%t:%T' /dev/console; ls -l /proc/self/fd/0; echo done");
    env.config(|c| {
        c["process"]["terminal"] = serde_json::json!(true);
        c["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 111});
    });
    let sock = env.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || {
        let (name, master) = receive_master(listener);
        (name, read_all(master))
    });
    let id = env.id("a");
    let out = env.kiste(&["run", "-d", "--console-socket", sock.to_str().unwrap(), "--bundle", env.bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (name, text) = receiver.join().unwrap();
    assert_eq!(name, "/dev/pts/0");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "/dev/pts/0", "{text}");
    assert_eq!(lines[1], "33 111", "{text}");
    // /dev/console is the pty (major 136 = 0x88), and so is stdin.
    assert_eq!(lines[2], "88:0", "{text}");
    assert!(lines[3].ends_with("/dev/pts/0"), "{text}");
    assert_eq!(lines.last(), Some(&"done"), "{text}");
    env.wait_status(&id, "stopped");
    assert!(env.kiste(&["delete", &id]).status.success());
    env.assert_clean(&id);
}

#[test]
fn terminal_errors_are_runc_s() {
    let env = Env::new("ttyerr", "true");
    let id = env.id("a");
    let out = env.kiste(&["create", "--console-socket", "/nonexistent.sock", "--bundle", env.bundle.to_str().unwrap(), &id]);
    assert!(stderr(&out).contains("cannot use console socket if kiste will not detach or allocate tty"), "{}", stderr(&out));
    env.config(|c| c["process"]["terminal"] = serde_json::json!(true));
    let out = env.kiste(&["run", "-d", "--bundle", env.bundle.to_str().unwrap(), &id]);
    assert!(stderr(&out).contains("cannot allocate tty if kiste will detach without setting console socket"), "{}", stderr(&out));
    let out = env.kiste(&["create", "--console-socket", "/nonexistent.sock", "--bundle", env.bundle.to_str().unwrap(), &id]);
    assert!(stderr(&out).contains("--console-socket: connect to /nonexistent.sock"), "{}", stderr(&out));
    env.assert_clean(&id);
}

/// `run` in the foreground with a terminal, under script(1) for a real
/// terminal: input reaches the container, output comes back, the size of
/// the caller's terminal is passed on, the exit code is the container's.
#[test]
fn run_in_the_foreground_proxies_the_terminal() {
    let env = Env::new("ttyrun", "tty; stty size; read x; echo got=$x; exit 3");
    env.config(|c| c["process"]["terminal"] = serde_json::json!(true));
    let id = env.id("a");
    let cmd =
        format!("stty rows 40 cols 100; {KISTE} --root {} run --bundle {} {id}; echo rc=$?", env.root.display(), env.bundle.display());
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from bsdutils");
    std::thread::sleep(std::time::Duration::from_millis(500));
    use std::io::Write;
    child.stdin.as_mut().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert!(text.contains("/dev/pts/0\n40 100\n"), "{text}");
    assert!(text.contains("got=hello"), "{text}");
    assert!(text.contains("rc=3"), "{text}");
    env.assert_clean(&id);
}

/// `exec -t` with a console socket, as containerd does it.
#[test]
fn exec_with_a_tty_and_console_socket() {
    let env = Env::new("exectty", "sleep 30");
    let id = env.id("a");
    assert!(env.run_detached(&id).status.success());
    let sock = env.dir.join("exec.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || read_all(receive_master(listener).1));
    let out = env.kiste(&["exec", "-t", "-d", "--console-socket", sock.to_str().unwrap(), &id, "sh", "-c", "tty; echo exec-ok"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = receiver.join().unwrap();
    assert!(text.starts_with("/dev/pts/") && text.contains("exec-ok"), "{text}");
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    env.assert_clean(&id);
}

/// --preserve-fds and systemd socket activation (LISTEN_FDS for kiste's
/// PID): the fds reach the container, and LISTEN_FDS/LISTEN_PID=1 are set.
#[test]
fn preserved_and_activation_fds_reach_the_container() {
    let env = Env::new("fds", "cat <&3; cat <&4; echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; ls /proc/self/fd | wc -l");
    std::fs::write(env.dir.join("three"), "three\n").unwrap();
    std::fs::write(env.dir.join("four"), "four\n").unwrap();
    let id = env.id("a");
    let script = format!(
        "exec 3<{} 4<{}; LISTEN_FDS=1 LISTEN_PID=$$ exec {KISTE} --root {} run --preserve-fds 1 --bundle {} {id}",
        env.dir.join("three").display(),
        env.dir.join("four").display(),
        env.root.display(),
        env.bundle.display()
    );
    let out = std::process::Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[..3], ["three", "four", "LISTEN_FDS=1 LISTEN_PID=1"], "{s}");
    // 0, 1, 2, 3, 4 and the one ls opens for the directory.
    assert_eq!(lines[3].trim(), "6", "{s}");
    env.assert_clean(&id);
}
