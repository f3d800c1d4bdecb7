//! process.* and linux.* attributes of the container process, read back
//! from the kernel inside the container; LSM and Intel RDT error paths; and
//! what the default config keeps a container from doing.

mod common;
use common::*;
use serde_json::json;

fn run_ok(env: &Env) -> String {
    let id = env.id("a");
    let out = env.run(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    env.assert_clean(&id);
    stdout(&out)
}

fn create_fails(env: &Env, want: &str) {
    let id = env.id("f");
    let out = env.create(&id);
    assert!(!out.status.success(), "create succeeded");
    assert!(stderr(&out).contains(want), "{:?} lacks {want:?}", stderr(&out));
    env.assert_clean(&id);
}

#[test]
fn scheduler_io_priority_personality_affinity() {
    // /proc/self/stat fields 19 (nice) and 41 (policy) of the `cut` itself.
    let env = Env::new("sched", "cut -d' ' -f19,41 /proc/self/stat; ionice; uname -m; grep Cpus_allowed_list /proc/self/status");
    env.config(|c| {
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
        c["process"]["execCPUAffinity"] = json!({"initial": "0-1", "final": "1"});
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    let text = run_ok(&env);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "7 3", "nice and SCHED_BATCH: {text}");
    assert!(lines[1].contains("best-effort") && lines[1].contains('6'), "{text}");
    assert_eq!(lines[2], "i686", "LINUX32 personality: {text}");
    assert!(lines[3].ends_with("\t1"), "{text}");
}

#[test]
fn memory_policy_is_set() {
    let env = Env::new("mempol", "grep -m1 -o 'bind:0' /proc/self/numa_maps");
    env.config(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"}));
    assert_eq!(run_ok(&env), "bind:0\n");
    env.config(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "x-y"}));
    create_fails(&env, "linux.memoryPolicy.nodes");
}

#[test]
fn bad_scheduler_values_name_the_field() {
    let env = Env::new("badsched", "true");
    env.config(|c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 9}));
    create_fails(&env, "process.ioPriority.priority");
    env.config(|c| {
        c["process"].as_object_mut().unwrap().remove("ioPriority");
        c["process"]["execCPUAffinity"] = json!({"final": "banana"});
    });
    create_fails(&env, "process.execCPUAffinity.final");
}

/// Where AppArmor is absent (this machine), asking for a profile fails at
/// the write runc also makes; with AppArmor the test does not apply.
#[test]
fn apparmor_profile_without_apparmor_is_a_clear_error() {
    if kiste::lsm::apparmor_enabled() {
        eprintln!("skipped: AppArmor is enabled on this host");
        return;
    }
    let env = Env::new("apparmor", "true");
    env.config(|c| c["process"]["apparmorProfile"] = "kiste-test".into());
    create_fails(&env, "process.apparmorProfile: apply profile");
    create_fails(&env, &format!("write {}", kiste::lsm::apparmor_exec_file()));
}

#[test]
fn selinux_label_without_selinux_is_refused_at_create() {
    if kiste::lsm::selinux_enabled() {
        eprintln!("skipped: SELinux is enabled on this host");
        return;
    }
    let env = Env::new("selinux", "true");
    env.config(|c| c["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0".into());
    create_fails(&env, "selinux is disabled or not supported");
}

#[test]
fn intel_rdt_without_resctrl_is_refused() {
    let env = Env::new("rdt", "true");
    env.config(|c| c["linux"]["intelRdt"] = json!({"closID": "kiste"}));
    create_fails(&env, "linux.intelRdt");
}

/// The default config keeps the container from mounting anything.
#[test]
fn the_default_config_cannot_mount() {
    let env = Env::new("nomount", "mount -t tmpfs none /tmp 2>&1; grep -c ' /tmp ' /proc/self/mountinfo; true");
    let text = run_ok(&env);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("denied") || lines[0].contains("not permitted"), "mount: {text}");
    assert_eq!(lines[1], "0", "{text}");
}

/// ... nor load a kernel module: CAP_SYS_MODULE is out of its bounding set
/// (this kernel refuses modules to anyone, so the capability is what is
/// checked besides the failing insmod).
#[test]
fn the_default_config_cannot_load_a_module() {
    let env =
        Env::new("nomodule", "echo x > /dev/shm/m.ko; insmod /dev/shm/m.ko 2>&1 || echo insmod-failed; grep CapBnd /proc/self/status");
    let text = run_ok(&env);
    assert!(text.contains("insmod-failed"), "insmod: {text}");
    let bnd = text.lines().find_map(|l| l.strip_prefix("CapBnd:")).unwrap().trim();
    assert_eq!(u64::from_str_radix(bnd, 16).unwrap() & (1 << 16), 0, "CAP_SYS_MODULE in {bnd}");
}

/// ... nor change the host's name (nor, without CAP_SYS_ADMIN, its own).
#[test]
fn the_default_config_cannot_rename_the_host() {
    let env = Env::new("norename", "hostname evil 2>&1; hostname");
    let host = nix::unistd::gethostname().unwrap();
    let text = run_ok(&env);
    assert!(text.contains("sethostname: Operation not permitted"), "{text}");
    assert!(text.ends_with("kiste\n"), "{text}");
    assert_eq!(nix::unistd::gethostname().unwrap(), host);
}

/// With noNewPrivileges a setuid-root program runs with the caller's uid;
/// without it, it gets root (which shows the test can tell).
#[test]
fn no_new_privileges_stops_setuid_gaining_root() {
    let env = Env::new("nnp", "/suid");
    let src = env.dir.join("suid.c");
    std::fs::write(&src, "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"%d\\n\", (int)geteuid());return 0;}\n").unwrap();
    let bin = env.bundle.join("rootfs/suid");
    let cc = std::process::Command::new("gcc").args(["-static", "-o", bin.to_str().unwrap(), src.to_str().unwrap()]).status().unwrap();
    assert!(cc.success(), "gcc -static failed (gcc and libc6-dev are installed by hack/test.sh)");
    std::process::Command::new("chmod").args(["4755", bin.to_str().unwrap()]).status().unwrap();
    for (nnp, want) in [(true, "1000\n"), (false, "0\n")] {
        env.config(|c| {
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
            c["process"]["noNewPrivileges"] = nnp.into();
        });
        assert_eq!(run_ok(&env), want, "noNewPrivileges {nnp}");
    }
}
