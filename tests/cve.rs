//! Regression tests for runc's CVEs, each reproducing the attack's pattern
//! against kiste: the image (rootfs content), a volume whose content the
//! attacker controls (a host directory bind-mounted by the config), or a
//! racing process changes what a path means, and kiste must either refuse
//! the container or do what the config asked of the real object, never of
//! the attacker's substitute.
//!
//! Already covered in tests/security.rs (and not repeated here):
//! - CVE-2019-5736: `cve_2019_5736_the_init_runs_from_a_write_protected_exe`,
//!   `cve_2019_5736_proc_self_exe_shebang_does_not_reach_the_host_binary`,
//!   `cve_2019_5736_exec_runs_from_a_write_protected_exe`;
//! - CVE-2024-21626 (fds left open after execve, cwd through a leaked fd):
//!   `cve_2024_21626_no_host_fd_reaches_the_container`,
//!   `cve_2024_21626_cwd_cannot_point_at_a_host_fd`;
//! - CVE-2021-30465 (static symlinks out of the rootfs):
//!   `cve_2021_30465_mount_destinations_stay_inside_the_rootfs`;
//! - CVE-2025-31133 (/dev/null a symlink to a host file):
//!   `masking_refuses_a_dev_null_that_is_not_the_null_device`.
//!
//! No test writes to a host file of any importance: redirected writes are
//! aimed at files of the test's own directory or at UTS-namespaced procfs
//! files (`kernel.hostname` of the container's own UTS namespace), never at
//! `core_pattern` or `sysrq-trigger`, which the real attacks aim at.

mod common;
use common::*;
use serde_json::json;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// An AppArmor profile no host has: writing it to the real
/// /proc/<pid>/attr/{apparmor/,}exec fails with AppArmor (ENOENT) and
/// without it (EINVAL), so a container asking for it can only start if the
/// write went to some other file.
const NO_PROFILE: &str = "kiste-cve-test-no-such-profile";

/// A fake procfs as a volume would hold it: `self/attr/exec` and
/// `self/attr/apparmor/exec`, empty regular files, under `dir`.
fn fake_proc(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("self/attr/apparmor")).unwrap();
    std::fs::write(dir.join("self/attr/exec"), "").unwrap();
    std::fs::write(dir.join("self/attr/apparmor/exec"), "").unwrap();
    dir.to_path_buf()
}

/// Neither fake LSM file got the profile.
fn assert_fake_lsm_files_untouched(fake: &Path) {
    for f in ["self/attr/exec", "self/attr/apparmor/exec"] {
        let text = std::fs::read_to_string(fake.join(f)).unwrap();
        assert!(text.is_empty(), "kiste wrote {text:?} to the fake {f}: the profile was never applied");
    }
}

/// Runs the container, which must be refused before its program ran (the
/// program prints RAN), and leave nothing behind; returns kiste's output.
fn refused(env: &Env, why: &str) -> std::process::Output {
    let id = env.id("a");
    let out = env.run(&id);
    assert!(!out.status.success(), "{why}: {}", stdout(&out));
    assert!(!stdout(&out).contains("RAN"), "{}", stdout(&out));
    env.assert_clean(&id);
    out
}

/// CVE-2019-16884: the image declares a volume at /proc, so the config
/// bind-mounts a directory of the attacker's content over the container's
/// procfs; it holds regular files `self/attr/exec` and
/// `self/attr/apparmor/exec`. The runtime's write of the AppArmor profile
/// lands in that file, succeeds, and the program runs unconfined.
/// The run must fail (a mount over /proc that is not procfs refused, as runc
/// does, or the profile written through a procfs handle of kiste's own);
/// without either defence kiste writes "exec <profile>" into the fake file,
/// the program prints RAN, and the assertions fail.
#[test]
fn cve_2019_16884_a_volume_over_proc_cannot_swallow_the_apparmor_profile() {
    let env = Env::new("procvol", "echo RAN");
    let fake = fake_proc(&env.dir.join("procvol"));
    env.config(|c| {
        c["process"]["apparmorProfile"] = NO_PROFILE.into();
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/proc", "type": "bind", "source": fake, "options": ["rbind"]}));
    });
    refused(&env, "the container ran without its AppArmor profile");
    assert_fake_lsm_files_untouched(&fake);
}

/// CVE-2023-27561 (a regression of CVE-2019-19921), runc's own regression
/// test: the image makes /proc a symlink. runc refuses to mount procfs
/// through it ("must be mounted on ordinary directory"): what /proc means
/// would then be up to whoever controls the symlink's target. Without the
/// check kiste mounts procfs wherever the symlink leads and the run
/// succeeds.
#[test]
fn cve_2023_27561_proc_in_the_image_must_not_be_a_symlink() {
    let env = Env::new("proclink", "echo RAN");
    let rootfs = env.bundle.join("rootfs");
    std::fs::remove_dir(rootfs.join("proc")).unwrap();
    std::fs::create_dir(rootfs.join("bad-proc")).unwrap();
    symlink("/bad-proc", rootfs.join("proc")).unwrap();
    refused(&env, "procfs was mounted through a symlinked /proc");
}

/// CVE-2023-27561, the attack itself: the image's /proc is a symlink to
/// /vol/proc, and a volume is mounted at /vol after procfs: procfs lands on
/// the rootfs's /vol/proc and is then hidden under the volume, whose
/// `proc/self/attr/...` are the attacker's regular files. (With runc the
/// volume's content was swapped by a racing container; mount order does it
/// here without a race.) The AppArmor profile must not end up in the fake
/// file: without a defence kiste writes it there, the program prints RAN,
/// and the assertions fail.
#[test]
fn cve_2023_27561_a_symlinked_proc_cannot_swallow_the_apparmor_profile() {
    let env = Env::new("proclinkvol", "echo RAN");
    let rootfs = env.bundle.join("rootfs");
    std::fs::remove_dir(rootfs.join("proc")).unwrap();
    std::fs::create_dir(rootfs.join("vol")).unwrap();
    symlink("/vol/proc", rootfs.join("proc")).unwrap();
    let vol = env.dir.join("vol");
    let fake = fake_proc(&vol.join("proc"));
    env.config(|c| {
        c["process"]["apparmorProfile"] = NO_PROFILE.into();
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind"]}));
    });
    refused(&env, "the container ran without its AppArmor profile");
    assert_fake_lsm_files_untouched(&fake);
}

/// CVE-2021-30465, the race itself: while kiste sets the container up, a
/// racing process flips the rootfs's /vol/x between a directory and a
/// symlink to a host directory; the config mounts a tmpfs at /vol/x/y. Some
/// runs may fail (the path changed under kiste), but no mount and no mount
/// point may ever appear in the host directory. Without fd-based mounting
/// resolved inside the rootfs (resolve.rs, fdmount.rs) a run that resolves
/// the path while it is the symlink creates `y` in the host directory and
/// mounts there.
#[test]
fn cve_2021_30465_a_racing_symlink_swap_never_mounts_outside() {
    let env = Env::new("mountrace", "true");
    let host = env.dir.join("host-target");
    std::fs::create_dir_all(&host).unwrap();
    let rootfs = env.bundle.join("rootfs");
    std::fs::create_dir_all(rootfs.join("vol")).unwrap();
    env.config(|c| {
        c["root"]["readonly"] = false.into();
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/vol/x/y", "type": "tmpfs", "source": "kiste-race"}));
    });
    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let x = rootfs.join("vol/x");
        let host = host.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match std::fs::symlink_metadata(&x) {
                    Ok(m) if m.file_type().is_symlink() => {
                        let _ = std::fs::remove_file(&x);
                        let _ = std::fs::create_dir(&x);
                    }
                    Ok(_) => {
                        // Never follows a symlink: removes what is there.
                        let _ = std::fs::remove_dir_all(&x);
                        let _ = symlink(&host, &x);
                    }
                    Err(_) => {
                        let _ = symlink(&host, &x);
                    }
                }
            }
        })
    };
    for i in 0..20 {
        let id = env.id(&format!("r{i}"));
        let _ = env.run(&id);
        env.assert_clean(&id);
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();
    let inside: Vec<_> = std::fs::read_dir(&host).unwrap().flatten().map(|e| e.path()).collect();
    assert!(inside.is_empty(), "created in the host directory: {inside:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("kiste-race"), "a mount reached the host");
}

/// What the host program prints when it runs.
const ESCAPED: &str = "ESCAPED-THROUGH-A-KISTE-FD";

/// The program paths that reach a host program, a copy of busybox named
/// `echo` in the test's directory, through /proc/self/fd/`n`: relative to
/// the container's state directory (<dir>/state/<id>, which `create`,
/// `run` and `exec` hold open), and from the host's root whatever directory
/// the fd is (`..` stops at the root). A binary, not a script: the kernel
/// would run a script found this way, but its interpreter could not open
/// it again by that path once the fd is closed, and nothing would show it.
fn through_fd(env: &Env, n: i32) -> Vec<String> {
    let canary = env.dir.join("escape/echo");
    if !canary.exists() {
        std::fs::create_dir_all(canary.parent().unwrap()).unwrap();
        std::fs::copy("/bin/busybox", &canary).unwrap();
        std::fs::set_permissions(&canary, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    vec![format!("/proc/self/fd/{n}/../../escape/echo"), format!("/proc/self/fd/{n}{}{}", "/..".repeat(40), canary.display())]
}

/// CVE-2024-21626 (attack 3: process.args through a leaked fd): until
/// its execve the init holds fds of kiste's own that lead to host
/// directories (the state directory, the container's cgroup directory)
/// with close-on-exec set, but close-on-exec only closes them after the
/// kernel has resolved the program's path. A program /proc/self/fd/N/...
/// then runs a host file inside the container, whose /proc/PID/exe is then
/// the host file, writable through the CVE-2019-5736 technique. kiste must
/// have closed them (or refuse the path) before the program is looked up;
/// without that `run` executes the host program, its output shows, and the
/// assertion fails.
#[test]
fn cve_2024_21626_run_program_path_through_a_kiste_fd_is_refused() {
    let env = Env::new("argsfd", "true");
    for n in 3..=10 {
        for (k, p) in through_fd(&env, n).into_iter().enumerate() {
            env.config(|c| c["process"]["args"] = json!([p, ESCAPED]));
            let id = env.id(&format!("fd{n}-{k}"));
            let out = env.run(&id);
            assert!(!stdout(&out).contains(ESCAPED), "fd {n}: {p} ran a host program");
            env.assert_clean(&id);
        }
    }
}

/// CVE-2024-21626 through `create` and `start`, runc's original setting:
/// the init waits for `start` holding, among others, an O_PATH fd of the
/// container's cgroup directory; the program's path must not go through
/// any such fd (see the test above for the pattern).
#[test]
fn cve_2024_21626_create_program_path_through_a_kiste_fd_is_refused() {
    let env = Env::new("argsfdc", "true");
    let bundle = env.bundle.to_str().unwrap().to_string();
    for n in 3..=10 {
        for (k, p) in through_fd(&env, n).into_iter().enumerate() {
            env.config(|c| c["process"]["args"] = json!([p, ESCAPED]));
            let id = env.id(&format!("fd{n}-{k}"));
            let log = env.dir.join(format!("create-fd{n}-{k}.out"));
            let f = std::fs::File::create(&log).unwrap();
            let status = env.cmd(&["create", "--bundle", &bundle, &id]).stdout(f.try_clone().unwrap()).stderr(f).status().unwrap();
            if status.success() {
                assert!(env.kiste(&["start", &id]).status.success());
                env.wait_status(&id, "stopped");
                assert!(env.kiste(&["delete", &id]).status.success());
            }
            let text = std::fs::read_to_string(&log).unwrap();
            assert!(!text.contains(ESCAPED), "fd {n}: {p} ran a host program");
            env.assert_clean(&id);
        }
    }
}

/// CVE-2024-21626 through `exec`: the exec'd process is a fork of `kiste
/// exec` and holds its fds until its execve; a program path through one of
/// them must not reach a host file (see above).
#[test]
fn cve_2024_21626_exec_program_path_through_a_kiste_fd_is_refused() {
    let env = Env::new("argsfde", "sleep 30");
    let id = env.id("a");
    assert!(env.run_detached(&id).status.success());
    for n in 3..=10 {
        for p in through_fd(&env, n) {
            let out = env.kiste(&["exec", &id, &p, ESCAPED]);
            assert!(!stdout(&out).contains(ESCAPED), "fd {n}: {p} ran a host program");
        }
    }
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    env.assert_clean(&id);
}

/// Replaces the config's /dev mounts by a bind mount of `dev`, a directory
/// of the attacker's content (a volume shared with another container).
fn dev_from(c: &mut serde_json::Value, dev: &Path) {
    let m = c["mounts"].as_array_mut().unwrap();
    m.retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
    m.push(json!({"destination": "/dev", "type": "bind", "source": dev, "options": ["rbind"]}));
}

/// CVE-2025-31133, attack 1: the container's /dev/null is a symlink to
/// /proc/sys/kernel/core_pattern when kiste masks paths with it; bound over
/// a masked path it would give the container a writable core_pattern (a
/// host escape through the core dump helper). kiste checks the very fd it
/// binds is the 1:3 character device (masked.rs `null_device`); without
/// that check the container runs with core_pattern bound over
/// /proc/kcore, and the assertions fail. Nothing is written to
/// core_pattern either way.
#[test]
fn cve_2025_31133_dev_null_symlink_to_core_pattern_is_refused() {
    let env = Env::new("nullcore", "echo RAN");
    let dev = env.dir.join("devvol");
    std::fs::create_dir_all(&dev).unwrap();
    symlink("/proc/sys/kernel/core_pattern", dev.join("null")).unwrap();
    env.config(|c| {
        dev_from(c, &dev);
        c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/keys", "/proc/timer_list"]);
    });
    let before = std::fs::read("/proc/sys/kernel/core_pattern").unwrap();
    let out = refused(&env, "masked with a /dev/null that is core_pattern");
    assert!(stderr(&out).contains("not the null device"), "{}", stderr(&out));
    assert_eq!(std::fs::read("/proc/sys/kernel/core_pattern").unwrap(), before);
}

/// CVE-2025-31133, attack 2: the container's /dev/null is deleted; runc
/// ignored the ENOENT and left the masked paths unmasked. kiste must fail
/// instead; without that the program runs with /proc/kcore etc. readable
/// and the assertions fail.
#[test]
fn cve_2025_31133_missing_dev_null_is_an_error_not_an_unmasked_path() {
    let env = Env::new("nonull", "echo RAN");
    let dev = env.dir.join("devvol");
    std::fs::create_dir_all(&dev).unwrap();
    env.config(|c| {
        dev_from(c, &dev);
        c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/keys", "/proc/timer_list"]);
    });
    refused(&env, "ran with its masked paths unmasked");
}

/// CVE-2025-52565: runc opened the console's slave by its path
/// /dev/pts/$n inside the container and bound it onto /dev/console before
/// masking; with /dev/pts/$n a symlink to a procfs file (core_pattern in the
/// attack) the container got a writable copy of it at /dev/console. Here
/// /dev is the attacker's directory: /dev/ptmx leads to a real devpts at
/// /realpts, while /dev/pts/0..15 are symlinks to the container's own
/// /proc/sys/kernel/hostname (UTS-namespaced, harmless). kiste takes the
/// slave from the master with TIOCGPTPEER (tty.rs `open_pty`), so
/// /dev/console must be the pty; a lookup of /dev/pts/$n by path would bind
/// (or fail on) the procfs file, and the assertions fail.
#[test]
fn cve_2025_52565_console_is_the_container_pty_not_a_dev_pts_path() {
    let env = Env::new(
        "ptspeer",
        "test -c /dev/console && echo console-is-a-tty; grep -q ' /dev/console .* - devpts ' /proc/self/mountinfo && echo console-from-devpts; true",
    );
    let dev = env.dir.join("devvol");
    std::fs::create_dir_all(dev.join("pts")).unwrap();
    for n in 0..16 {
        symlink("/proc/sys/kernel/hostname", dev.join(format!("pts/{n}"))).unwrap();
    }
    symlink("/realpts/ptmx", dev.join("ptmx")).unwrap();
    env.config(|c| {
        c["process"]["terminal"] = true.into();
        // No /dev/null in the attacker's /dev: nothing to mask with.
        c["linux"]["maskedPaths"] = json!([]);
        dev_from(c, &dev);
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/realpts", "type": "devpts", "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
        }));
    });
    let id = env.id("a");
    let out = env.run(&id);
    let text = stdout(&out).replace("\r\n", "\n");
    assert!(out.status.success(), "{}{text}", stderr(&out));
    assert!(text.contains("console-is-a-tty"), "{text}");
    assert!(text.contains("console-from-devpts"), "{text}");
    env.assert_clean(&id);
}

/// CVE-2025-52565, runc's companion hardening ("avoid trivial symlink
/// attacks for /dev/console"): the attacker's /dev/console is a symlink to
/// a procfs file. kiste must refuse it or mount the pty on /dev/console
/// itself, not follow the symlink and mount over the procfs file. (Not an
/// escape by itself: the pty, not the procfs file, is what gets mounted;
/// but the mount target is the attacker's choice.) Without the defence the
/// container's /proc/sys/kernel/hostname is overmounted and the assertion
/// fails.
#[test]
fn cve_2025_52565_a_dev_console_symlink_is_not_followed() {
    let env = Env::new("consolelink", "grep -c ' /proc/sys/kernel/hostname ' /proc/self/mountinfo; true");
    let dev = env.dir.join("devvol");
    std::fs::create_dir_all(dev.join("pts")).unwrap();
    symlink("pts/ptmx", dev.join("ptmx")).unwrap();
    symlink("/proc/sys/kernel/hostname", dev.join("console")).unwrap();
    env.config(|c| {
        c["process"]["terminal"] = true.into();
        c["linux"]["maskedPaths"] = json!([]);
        let m = c["mounts"].as_array_mut().unwrap();
        // The attacker's /dev, then the usual devpts inside it.
        m.retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev") || m["destination"] == "/dev/pts");
        let at = m.iter().position(|m| m["destination"] == "/dev/pts").unwrap();
        m.insert(at, json!({"destination": "/dev", "type": "bind", "source": dev, "options": ["rbind"]}));
    });
    let id = env.id("a");
    let out = env.run(&id);
    if out.status.success() {
        let text = stdout(&out).replace("\r\n", "\n");
        assert_eq!(text.lines().next().map(str::trim), Some("0"), "the pty was mounted over /proc/sys/kernel/hostname: {text}");
    }
    env.assert_clean(&id);
}

/// CVE-2025-52881, sysctl: the image has /evil -> /proc/sys/net/ipv4 and
/// the config bind-mounts a volume at /evil; in the volume, `ip_forward` is
/// a symlink to /proc/sys/kernel/hostname. kiste's write of
/// linux.sysctl["net.ipv4.ip_forward"] then lands in another procfs file
/// (the real attack picks core_pattern, which is not namespaced: a host
/// escape). A mount landing inside /proc must be refused (as runc does), or
/// the write must go through a procfs handle no mount can cover, refusing
/// symlinks. Without either the container's hostname becomes the sysctl's
/// value and the assertion fails.
#[test]
fn cve_2025_52881_sysctl_write_cannot_be_redirected_to_another_procfs_file() {
    let env = Env::new("sysctlredir", "hostname");
    symlink("/proc/sys/net/ipv4", env.bundle.join("rootfs/evil")).unwrap();
    let vol = env.dir.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    symlink("/proc/sys/kernel/hostname", vol.join("ip_forward")).unwrap();
    env.config(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "redirected"});
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/evil", "type": "bind", "source": vol, "options": ["rbind"]}));
    });
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let id = env.id("a");
    let out = env.run(&id);
    assert!(!stdout(&out).contains("redirected"), "the sysctl was written to kernel.hostname: {}", stdout(&out));
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host_name);
    env.assert_clean(&id);
}

/// CVE-2025-52881, LSM label: the image has /evil -> /proc/self/attr and
/// the config mounts a tmpfs at /evil, over the init's procfs attr
/// directory; the AppArmor profile is then written into a new tmpfs file,
/// and the program runs unconfined. The run must fail (the mount refused, or
/// the profile written through kiste's own procfs handle, without O_CREAT);
/// without a defence the program prints RAN.
#[test]
fn cve_2025_52881_lsm_write_cannot_land_in_a_tmpfs_over_proc_self_attr() {
    let env = Env::new("attrtmpfs", "echo RAN");
    symlink("/proc/self/attr", env.bundle.join("rootfs/evil")).unwrap();
    env.config(|c| {
        c["process"]["apparmorProfile"] = NO_PROFILE.into();
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"}));
    });
    refused(&env, "the container ran without its AppArmor profile");
}

/// CVE-2025-52881, oom_score_adj: the image has /evil -> /proc/self and
/// the config bind-mounts a volume at /evil, over the init's /proc/1; in it
/// `oom_score_adj` is a symlink to /proc/sys/kernel/hostname. (No
/// readonlyPaths, so that /proc/sys is writable, as a config may ask.)
/// Without a defence process.oomScoreAdj is written to the hostname, the
/// program prints 42, and the assertion fails.
#[test]
fn cve_2025_52881_oom_score_adj_write_cannot_be_redirected() {
    let env = Env::new("oomredir", "hostname");
    symlink("/proc/self", env.bundle.join("rootfs/evil")).unwrap();
    let vol = env.dir.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    symlink("/proc/sys/kernel/hostname", vol.join("oom_score_adj")).unwrap();
    env.config(|c| {
        c["process"]["oomScoreAdj"] = 42.into();
        c["linux"]["readonlyPaths"] = json!([]);
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/evil", "type": "bind", "source": vol, "options": ["rbind"]}));
    });
    let id = env.id("a");
    let out = env.run(&id);
    assert!(!stdout(&out).lines().any(|l| l.trim() == "42"), "oomScoreAdj was written to kernel.hostname: {}", stdout(&out));
    env.assert_clean(&id);
}

/// CVE-2025-52881 through `exec`: a container with CAP_SYS_ADMIN mounts a
/// tmpfs over its own /proc holding regular files self/attr/exec and
/// self/attr/apparmor/exec; `kiste exec --apparmor` then writes the profile
/// into the fake file and the exec'd process runs unconfined (AppArmor is
/// what confines such a container). The exec must fail; without a defence
/// it prints RAN.
#[test]
fn cve_2025_52881_exec_lsm_write_ignores_a_proc_faked_by_the_container() {
    let signal = "/signal";
    let env = Env::new(
        "execfakeproc",
        &format!(
            "mount -t tmpfs fake /proc && mkdir -p /proc/self/attr/apparmor && touch /proc/self/attr/exec /proc/self/attr/apparmor/exec && touch {signal}/ready; sleep 30"
        ),
    );
    let dir = env.dir.join("signal");
    std::fs::create_dir_all(&dir).unwrap();
    env.config(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set].as_array_mut().unwrap().push("CAP_SYS_ADMIN".into());
        }
        c["mounts"].as_array_mut().unwrap().push(json!({"destination": signal, "type": "bind", "source": dir, "options": ["rbind"]}));
    });
    let id = env.id("a");
    assert!(env.run_detached(&id).status.success());
    wait_file(&dir.join("ready"));
    let out = env.kiste(&["exec", "--apparmor", NO_PROFILE, &id, "sh", "-c", "echo RAN"]);
    assert!(!out.status.success(), "exec ran without its AppArmor profile: {}", stdout(&out));
    assert!(!stdout(&out).contains("RAN"));
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    env.assert_clean(&id);
}

/// CVE-2025-52881 family, kiste's own gadget: with `--debug --log PATH`,
/// the container's init logs (e.g. a seccomp rule naming an unknown
/// syscall) after pivot_root by opening PATH again, so PATH is resolved in
/// the container's root, where the image can make it a symlink to anything
/// (here a canary file of the rootfs; in an attack, a procfs file). The
/// init's log lines must go to the host's log, never through the
/// container's tree; without that the canary gets them and the assertion
/// fails.
#[test]
fn cve_2025_52881_init_log_writes_stay_on_the_host() {
    let env = Env::new("initlog", "true");
    let log = env.dir.join("kiste.log");
    let rootfs = env.bundle.join("rootfs");
    let inside = rootfs.join(log.strip_prefix("/").unwrap());
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    symlink("/canary", &inside).unwrap();
    std::fs::write(rootfs.join("canary"), "").unwrap();
    env.config(|c| {
        c["root"]["readonly"] = false.into();
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kiste_no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]
        });
    });
    let id = env.id("a");
    let out = env.kiste(&["--debug", "--log", log.to_str().unwrap(), "run", "--bundle", env.bundle.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let canary = std::fs::read_to_string(rootfs.join("canary")).unwrap();
    assert!(canary.is_empty(), "the init wrote its log through the container's tree: {canary}");
    env.assert_clean(&id);
}
