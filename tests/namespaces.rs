//! Namespaces that need the two-step start (a middle process joins or
//! unshares, then forks the init): joining a PID namespace by path, a time
//! namespace with offsets, a user namespace next to joined ones; and a
//! joined mount namespace, which changes when the init joins its cgroups.

mod common;
use common::*;
use std::process::{Command, Stdio};

/// A process in namespaces of its own, to be joined by path. Its sleep
/// dies with unshare (--kill-child) and holds none of the test's output.
struct Holder(std::process::Child);

impl Holder {
    /// `unshare ARGS`, with the program forked and killed with unshare.
    fn spawn(args: &[&str]) -> Holder {
        let child = Command::new("unshare")
            .args(["--fork", "--kill-child"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Holder(child)
    }

    fn new(flags: &[&str]) -> Holder {
        let h = Holder::spawn(&[flags, &["sleep", "60"]].concat());
        // The sleep is unshare's child; wait for it to exist.
        for _ in 0..200 {
            if h.inner_pid().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        h
    }

    fn inner_pid(&self) -> Option<u32> {
        let children = std::fs::read_to_string(format!("/proc/{}/task/{}/children", self.0.id(), self.0.id())).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    fn ns(&self, name: &str) -> String {
        format!("/proc/{}/ns/{name}", self.inner_pid().unwrap())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn joins_a_pid_and_net_namespace_by_path() {
    let holder = Holder::new(&["--pid", "--net"]);
    let env = Env::new("joinpid", "readlink /proc/self/ns/pid_for_children; readlink /proc/self/ns/net; echo $$");
    let (pid_ns, net_ns) = (holder.ns("pid_for_children"), holder.ns("net"));
    env.config(|c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            match n["type"].as_str().unwrap() {
                "pid" => n["path"] = pid_ns.clone().into(),
                "network" => n["path"] = net_ns.clone().into(),
                _ => {}
            }
        }
    });
    let id = env.id("a");
    let out = env.run(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], std::fs::read_link(&pid_ns).unwrap().to_str().unwrap());
    assert_eq!(lines[1], std::fs::read_link(&net_ns).unwrap().to_str().unwrap());
    // The holder's sleep is PID 1 there; the container's process is not.
    assert_ne!(lines[2], "1");
    env.assert_clean(&id);
}

#[test]
fn a_time_namespace_gets_its_offsets() {
    let env = Env::new("timens", "cut -d. -f1 /proc/uptime");
    env.config(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "time"}));
        c["linux"]["timeOffsets"] = serde_json::json!({"boottime": {"secs": 86400, "nanosecs": 0}});
    });
    let id = env.id("a");
    let out = env.run(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    let inside: u64 = stdout(&out).trim().parse().unwrap();
    let host: u64 = std::fs::read_to_string("/proc/uptime").unwrap().split('.').next().unwrap().parse().unwrap();
    assert!(inside >= host + 86_000, "uptime inside {inside}, host {host}");
    env.assert_clean(&id);
}

#[test]
fn a_new_user_namespace_with_a_joined_network_namespace() {
    let holder = Holder::new(&["--net"]);
    let env = Env::new("userjoin", "cat /proc/self/uid_map; readlink /proc/self/ns/net; id -u");
    let net_ns = holder.ns("net");
    env.config(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "network" {
                n["path"] = net_ns.clone().into();
            }
        }
        ns.push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        // sysfs of a network namespace the user namespace does not own
        // cannot be mounted: kiste binds the host's instead.
    });
    std::process::Command::new("chmod").args(["755", env.dir.to_str().unwrap(), env.bundle.to_str().unwrap()]).status().unwrap();
    let id = env.id("a");
    let out = env.run(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let map: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"]);
    assert_eq!(lines[1], std::fs::read_link(&net_ns).unwrap().to_str().unwrap());
    assert_eq!(lines[2], "0");
    env.assert_clean(&id);
}

#[test]
fn without_a_mount_namespace_the_container_is_only_chrooted() {
    let env = Env::new("nomntns", "ls /etc");
    env.config(|c| {
        c["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
        c["linux"].as_object_mut().unwrap().remove("maskedPaths");
        c["linux"].as_object_mut().unwrap().remove("readonlyPaths");
        c.as_object_mut().unwrap().remove("hostname");
    });
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count();
    let id = env.id("a");
    let out = env.create(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(), std::fs::read_link("/proc/self/ns/mnt").unwrap());
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/root")).unwrap(), env.bundle.join("rootfs").canonicalize().unwrap());
    // The config's mounts were not made: they would have landed on the host.
    assert_eq!(std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count(), host_mounts);
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    env.assert_clean(&id);
}

/// An init that joins a mount namespace by path joins its cgroups before it
/// enters it: the host's cgroup paths may not be there. Here the joined
/// namespace has an empty tmpfs over /sys/fs/cgroup.
#[test]
fn joining_a_mount_namespace_still_puts_the_init_in_its_cgroups() {
    let holder = Holder::spawn(&["--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs none /sys/fs/cgroup && exec sleep 60"]);
    let mut ready = false;
    for _ in 0..200 {
        if let Some(pid) = holder.inner_pid()
            && std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with("sleep"))
        {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(ready, "the holder did not start");
    let env = Env::new("joinmnt", "cat /proc/self/cgroup");
    let mnt = holder.ns("mnt");
    env.config(|c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "mount" {
                n["path"] = mnt.clone().into();
            }
        }
        // A cgroup mount binds the host's cgroup directories, which that
        // namespace does not show.
        c["mounts"].as_array_mut().unwrap().retain(|m| m["type"] != "cgroup");
    });
    let id = env.id("a");
    let out = env.run(&id);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // Every hierarchy (v1 or v2) shows the container's own cgroup.
    assert!(!text.is_empty());
    for line in text.lines() {
        assert!(line.ends_with(&format!("/{id}")), "not in its cgroup there: {line}\n{text}");
    }
    env.assert_clean(&id);
}
