//! The command line itself: runc's flags and spellings, logging.

mod common;
use common::*;
use std::process::Command;

#[test]
fn version_and_help() {
    let v = Command::new(KISTE).arg("--version").output().unwrap();
    assert!(v.status.success());
    assert!(stdout(&v).starts_with("kiste "));
    let h = Command::new(KISTE).arg("--help").output().unwrap();
    assert!(h.status.success());
    for cmd in ["create", "start", "run", "state", "list", "kill", "delete", "spec"] {
        assert!(stdout(&h).contains(cmd), "help lacks {cmd}");
    }
}

#[test]
fn spec_writes_a_valid_config_and_refuses_to_overwrite() {
    let dir = std::env::temp_dir().join(format!("kiste-spec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(KISTE).args(["spec", "--bundle", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["process"]["args"][0], "sh");
    let again = Command::new(KISTE).args(["spec", "--bundle", dir.to_str().unwrap()]).output().unwrap();
    assert!(!again.status.success());
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let rootless = Command::new(KISTE).args(["spec", "--rootless", "-b", dir.to_str().unwrap()]).output().unwrap();
    assert!(rootless.status.success());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert!(v["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "user"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flags_take_both_spellings() {
    let env = Env::new("flags", "echo hi");
    let id = env.id("a");
    let root = format!("--root={}", env.root.display());
    let bundle = format!("--bundle={}", env.bundle.display());
    let out = Command::new(KISTE).args([root.as_str(), "run", bundle.as_str(), &id]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
}

#[test]
fn errors_go_to_the_log_file_as_json() {
    let env = Env::new("jsonlog", "true");
    let log = env.dir.join("log.json");
    let out = env.kiste(&["--log", log.to_str().unwrap(), "--log-format", "json", "state", "nope"]);
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert_eq!(last["msg"], "container does not exist");
    assert!(last["time"].is_string());
    // The person at the terminal still sees it.
    assert!(stderr(&out).contains("container does not exist"));
}

#[test]
fn systemd_cgroup_is_a_clear_not_supported_error() {
    let env = Env::new("systemd", "true");
    let out = env.kiste(&["--systemd-cgroup", "list"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not supported yet"), "{}", stderr(&out));
}

/// `features`: the runtime-spec features JSON, with the host's cgroup
/// layout as an annotation.
#[test]
fn features_reports_what_kiste_supports() {
    let env = Env::new("features", "true");
    let out = env.kiste(&["features"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert_eq!(f["hooks"].as_array().unwrap().len(), 6, "{f}");
    let ns = f["linux"]["namespaces"].as_array().unwrap();
    assert!(ns.iter().any(|n| n == "time") && ns.iter().any(|n| n == "user"), "{f}");
    assert!(f["linux"]["capabilities"].as_array().unwrap().iter().any(|c| c == "CAP_SYS_ADMIN"), "{f}");
    assert!(f["mountOptions"].as_array().unwrap().iter().any(|o| o == "rro"), "{f}");
    assert_eq!(f["linux"]["cgroup"]["systemd"], false);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v2_at = |p: &str| mounts.lines().any(|l| l.split(' ').nth(4) == Some(p) && l.contains(" - cgroup2 "));
    let want = if v2_at("/sys/fs/cgroup") {
        "unified"
    } else if v2_at("/sys/fs/cgroup/unified") {
        "hybrid"
    } else {
        "legacy"
    };
    assert_eq!(f["annotations"]["org.kiste.cgroup.mode"], want, "{f}");
}
