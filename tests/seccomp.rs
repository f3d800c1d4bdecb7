//! linux.seccomp: actions, argument comparisons, unknown syscalls, flags,
//! and SCMP_ACT_NOTIFY answered by a listener of our own.

mod common;
use common::*;
use serde_json::json;

/// This test calls libseccomp itself; with musl the one glibc-only symbol
/// libseccomp.a needs comes from kiste's library (see src/seccomp.rs), and
/// only a reference to it makes the linker take it.
#[cfg(target_env = "musl")]
#[used]
static FPRINTF_CHK: extern "C" fn(*mut libc::c_void, libc::c_int, *const libc::c_char) -> libc::c_int = kiste::seccomp::__fprintf_chk;

fn with_seccomp(name: &str, script: &str, seccomp: serde_json::Value) -> Env {
    let env = Env::new(name, script);
    env.config(|c| {
        c["root"]["readonly"] = false.into();
        c["linux"]["seccomp"] = seccomp;
    });
    env
}

#[test]
fn an_errno_rule_with_argument_comparisons() {
    // kill(pid, sig): refuse signal 0 (EQ) and signals with both low bits
    // set (MASKED_EQ: sig & 3 == 3), allow the rest. kill is a shell builtin:
    // the shell itself makes the calls.
    let env = with_seccomp(
        "scerrno",
        "kill -0 $$ 2>&1; kill -CONT $$ && echo cont-ok; kill -URG $$ 2>&1; true",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["kill", "no_such_syscall_here"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95,
                 "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 1, "value": 3, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }),
    );
    let id = env.id("a");
    let out = env.run(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("not supported"), "{text}");
    assert_eq!(lines[1], "cont-ok", "{text}");
    assert!(lines[2].contains("Permission denied") || lines[2].contains("denied"), "{text}");
    env.assert_clean(&id);
}

#[test]
fn kill_process_ends_the_container_with_sigsys() {
    for nnp in [true, false] {
        let env = with_seccomp(
            "sckill",
            "echo before; exec mkdir /tmp/x",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS"}]}),
        );
        env.config(|c| {
            c["process"]["noNewPrivileges"] = nnp.into();
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        });
        let id = env.id("a");
        let out = env.run(&id);
        assert_eq!(out.status.code(), Some(128 + libc::SIGSYS), "nnp={nnp}: {}", stderr(&out));
        assert_eq!(stdout(&out), "before\n");
        env.assert_clean(&id);
    }
}

#[test]
fn a_bad_action_names_the_field() {
    let env = with_seccomp("scbad", "true", json!({"defaultAction": "SCMP_ACT_NONSENSE"}));
    let id = env.id("a");
    let out = env.create(&id);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("linux.seccomp.defaultAction"), "{}", stderr(&out));
    env.assert_clean(&id);
}

/// A notified mkdir is answered by our listener (with EOPNOTSUPP), which
/// also gets the container process state the runtime-spec describes.
#[test]
fn notify_is_answered_by_the_listener() {
    use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
    use std::os::fd::AsRawFd;
    let env = with_seccomp("scnotify", "mkdir /tmp/n 2>&1; echo done", json!({}));
    let sock = env.dir.join("listener.sock");
    env.config(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "hello",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let handle = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 8192];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg =
            nix::sys::socket::recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut cmsg), nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC)
                .unwrap();
        let mut fd = -1;
        for c in msg.cmsgs().unwrap() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
                fd = fds[0];
            }
        }
        let n = msg.bytes;
        let state: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
        let req = ScmpNotifReq::receive(fd).unwrap();
        ScmpNotifResp::new_error(req.id, -libc::EOPNOTSUPP, ScmpNotifRespFlags::empty()).respond(fd).unwrap();
        state
    });
    let id = env.id("a");
    let out = env.run(&id);
    let state = handle.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("not supported"), "{}", stdout(&out));
    assert!(stdout(&out).ends_with("done\n"));
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "hello");
    assert_eq!(state["state"]["id"], id.as_str());
    assert!(state["pid"].as_i64().unwrap() > 0);
    env.assert_clean(&id);
}
