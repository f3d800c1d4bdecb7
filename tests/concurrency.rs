//! Many commands at once: distinct containers in parallel, and racing
//! commands on one id, never corrupt the state or report a false status.

mod common;
use common::*;
use std::sync::Arc;

#[test]
fn twenty_parallel_lifecycles() {
    let env = Arc::new(Env::new("par", "true"));
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let env = env.clone();
            std::thread::spawn(move || {
                let id = env.id(&i.to_string());
                let c = env.create(&id);
                assert!(c.status.success(), "create {id}: {}", stderr(&c));
                let s = env.kiste(&["start", &id]);
                assert!(s.status.success(), "start {id}: {}", stderr(&s));
                let d = env.kiste(&["delete", "--force", &id]);
                assert!(d.status.success(), "delete {id}: {}", stderr(&d));
                env.assert_clean(&id);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn only_one_of_racing_creates_of_one_id_succeeds() {
    let env = Arc::new(Env::new("racecreate", "sleep 30"));
    let id = env.id("a");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (env, id) = (env.clone(), id.clone());
            std::thread::spawn(move || env.create(&id).status.success())
        })
        .collect();
    let wins = handles.into_iter().map(|h| h.join().unwrap()).filter(|w| *w).count();
    assert_eq!(wins, 1);
    assert_eq!(env.status(&id), "created");
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    env.assert_clean(&id);
}

#[test]
fn racing_start_kill_delete_and_state_on_one_id() {
    let env = Arc::new(Env::new("race", "sleep 30"));
    for round in 0..5 {
        let id = env.id(&round.to_string());
        assert!(env.create(&id).status.success());
        let cmds: Vec<Vec<&'static str>> = vec![
            vec!["start"],
            vec!["start"],
            vec!["kill", "KILL"],
            vec!["delete", "--force"],
            vec!["state"],
            vec!["state"],
            vec!["delete"],
        ];
        let handles: Vec<_> = cmds
            .into_iter()
            .map(|cmd| {
                let (env, id) = (env.clone(), id.clone());
                std::thread::spawn(move || {
                    let mut args: Vec<&str> = vec![cmd[0]];
                    if cmd[0] == "kill" {
                        args.push(&id);
                        args.push(cmd[1]);
                    } else {
                        args.extend(&cmd[1..]);
                        args.push(&id);
                    }
                    let out = env.kiste(&args);
                    if cmd[0] == "state" && out.status.success() {
                        // Whatever moment it saw, it is a whole, valid state.
                        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("state is valid JSON");
                        assert!(["created", "running", "stopped"].contains(&v["status"].as_str().unwrap()), "{v}");
                    }
                    if !out.status.success() {
                        let e = stderr(&out);
                        assert!(
                            e.contains("does not exist")
                                || e.contains("not running")
                                || e.contains("cannot start")
                                || e.contains("not stopped")
                                || e.contains("no such process"),
                            "{args:?}: unexpected error {e}"
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let _ = env.kiste(&["delete", "--force", &id]);
        env.assert_clean(&id);
    }
}

/// `exec` under load: the process joining the container is forked by a
/// middle process, which reports its PID. Before the fix, a middle
/// descheduled between its fork and that report let the process's READY
/// arrive first: kiste took PID 0, waited forever and forwarded signals to
/// its own process group (about 1 exec in 150 here, with four at once).
/// Every exec must come back with the process's status, in time.
#[test]
fn parallel_execs_all_return_the_exit_status() {
    use std::time::{Duration, Instant};
    let env = Arc::new(Env::new("parexec", "sleep 60"));
    let id = env.id("a");
    assert!(env.run_detached(&id).status.success());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (env, id) = (env.clone(), id.clone());
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let mut child = env
                        .cmd(&["exec", &id, "sh", "-c", "exit 7"])
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .unwrap();
                    let deadline = Instant::now() + Duration::from_secs(20);
                    let status = loop {
                        if let Some(s) = child.try_wait().unwrap() {
                            break Some(s);
                        }
                        if Instant::now() > deadline {
                            let _ = child.kill();
                            let _ = child.wait();
                            break None;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    };
                    let code = status.and_then(|s| s.code());
                    if code != Some(7) {
                        return Err(format!("exec ended with {code:?} (None: hung, killed after 20 s)"));
                    }
                }
                Ok(())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(env.kiste(&["delete", "-f", &id]).status.success());
    env.assert_clean(&id);
    for r in results {
        r.unwrap();
    }
}
