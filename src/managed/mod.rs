//! Managed containers: the `kiste container …` layer. A container is made
//! from an image: its layers stacked read-only under a writable layer of
//! its own (overlayfs), a config.json made from the image config, and a
//! record under the data root. It runs through the same code as `kiste
//! run`; it lives as long as its PID 1. `stop` and `start` keep its
//! writable layer; `rm` deletes it.

pub mod bundle;
pub mod record;
pub mod user;

use crate::container::create::CreateOptions;
use crate::error::{Context, Error, Result};
use crate::image::store::Store;
use crate::utils::rfc3339_now;
use bundle::Options;
use record::Record;
use std::path::Path;

/// Where a managed container's runtime state goes (`--root`), and its data.
pub struct Roots<'a> {
    pub data: &'a Path,
    pub runtime: &'a Path,
}

/// `container create`: the record, the bundle and the writable layer.
pub fn create(r: &Roots, o: &Options) -> Result<Record> {
    let store = Store::open(r.data)?;
    let image = store.find(&o.image)?;
    let ic: serde_json::Value = serde_json::from_slice(&store.read_blob(&crate::image::digest::Digest::parse(&image.config)?)?)
        .map_err(|e| Error::msg(format!("image config {}: {e}", image.config)))?;
    let layers = bundle::lower_dirs(&store, &image)?;
    let id = record::new_id()?;
    let all = record::all(r.data)?;
    let name = match &o.name {
        Some(n) => {
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                crate::bail!("--name {n:?}: only letters, digits, '_', '.' and '-'");
            }
            if all.iter().any(|x| &x.name == n) {
                crate::bail!("--name {n:?}: a container of that name exists already");
            }
            n.clone()
        }
        None => format!("kiste_{}", &id[..8]),
    };
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for v in &o.volumes {
        match bundle::parse_volume(v)? {
            bundle::VolumeSpec::Bind { source, dest, ro } => mounts.push(bundle::bind_mount(Path::new(&source), &dest, ro)),
            bundle::VolumeSpec::Volume { name, dest, ro } => {
                let (name, anonymous) = match name {
                    Some(n) => (n, false),
                    None => (record::new_id()?, true),
                };
                let vol = crate::volume::create(r.data, &name, anonymous)?;
                mounts.push(bundle::bind_mount(&vol.data(), &dest, ro));
                volumes.push((name, dest));
            }
        }
    }
    // The image's VOLUMEs not covered by a -v: an anonymous volume each,
    // filled from the image at its first start, as docker does.
    let taken: Vec<String> = mounts.iter().filter_map(|m| m["destination"].as_str().map(String::from)).collect();
    for dest in ic["config"]["Volumes"].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
        if !dest.starts_with('/') || taken.iter().any(|t| t.trim_end_matches('/') == dest.trim_end_matches('/')) {
            continue;
        }
        let name = record::new_id()?;
        let vol = crate::volume::create(r.data, &name, true)?;
        mounts.push(bundle::bind_mount(&vol.data(), &dest, false));
        volumes.push((name, dest));
    }
    let spec = match bundle::config(&id, &ic, o, &mounts, &layers) {
        Ok(s) => s,
        Err(e) => {
            let _ = forget(r, &Record { id: id.clone(), volumes, ..Default::default() }, true);
            return Err(e);
        }
    };
    let rec = Record {
        volumes,
        id: id.clone(),
        name,
        image: image.name.clone(),
        image_id: image.config.clone(),
        command: spec["process"]["args"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(String::from)).collect(),
        created: rfc3339_now(true),
        status: "created".into(),
        auto_remove: o.rm,
        ..Default::default()
    };
    let dir = rec.dir(r.data);
    let res = (|| -> Result<()> {
        for d in ["bundle/rootfs", "upper", "work"] {
            std::fs::create_dir_all(dir.join(d)).with_context(|| format!("create {}", dir.join(d).display()))?;
        }
        let text = serde_json::to_vec_pretty(&spec).map_err(|e| Error::msg(e.to_string()))?;
        crate::utils::write_atomic(&dir.join("bundle/config.json"), &text)?;
        rec.save(r.data)
    })();
    if let Err(e) = res {
        let _ = forget(r, &rec, true);
        return Err(e);
    }
    Ok(rec)
}

/// Runs the container in the foreground: mounts its rootfs, runs it as
/// `kiste run` does, unmounts, records the exit code. Returns that code.
pub fn run_foreground(r: &Roots, mut rec: Record) -> Result<i32> {
    let dir = rec.dir(r.data);
    let mounted = (|| {
        let store = Store::open(r.data)?;
        let image = store.find(&rec.image_id)?;
        bundle::mount_rootfs(&dir, &bundle::lower_dirs(&store, &image)?)?;
        let filled = (|| {
            for (name, dest) in &rec.volumes {
                let v = crate::volume::Volume::load(r.data, name)?;
                crate::volume::fill_from_image(&v, &dir.join("bundle/rootfs"), dest)?;
            }
            rec.status = "running".into();
            rec.started = Some(rfc3339_now(true));
            rec.exit_code = None;
            rec.save(r.data)
        })();
        // Whatever failed after the mount, the overlay goes.
        if filled.is_err() {
            bundle::unmount_rootfs(&dir);
        }
        filled
    })();
    if let Err(e) = mounted {
        if rec.auto_remove {
            let _ = forget(r, &rec, true);
        }
        return Err(e);
    }
    let o = CreateOptions {
        id: rec.id.clone(),
        bundle: dir.join("bundle"),
        pid_file: None,
        no_pivot: false,
        preserve_fds: 0,
        console_socket: None,
    };
    let res = crate::container::run::run(r.runtime, &o, false);
    bundle::unmount_rootfs(&dir);
    rec.status = "exited".into();
    rec.exit_code = Some(*res.as_ref().unwrap_or(&127));
    rec.finished = Some(rfc3339_now(true));
    if rec.auto_remove {
        forget(r, &rec, true)?;
    } else {
        rec.save(r.data)?;
    }
    res
}

/// Removes a container's directory and, with `volumes` (`rm -v`, `run
/// --rm`), its anonymous volumes, as docker does; named ones always stay.
/// Anonymous volumes kept go with `volume rm` or `volume prune`.
fn forget(r: &Roots, rec: &Record, volumes: bool) -> Result<()> {
    let dir = rec.dir(r.data);
    let res = match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| format!("remove {}", dir.display())),
        _ => Ok(()),
    };
    for (name, _) in rec.volumes.iter().filter(|_| volumes) {
        if let Ok(v) = crate::volume::Volume::load(r.data, name)
            && v.anonymous
        {
            let _ = std::fs::remove_dir_all(&v.dir);
        }
    }
    res
}

/// The containers that use volume `name`.
pub fn volume_users(data_root: &Path, name: &str) -> Result<Vec<String>> {
    Ok(record::all(data_root)?.into_iter().filter(|c| c.volumes.iter().any(|(n, _)| n == name)).map(|c| c.name).collect())
}

/// Runs the container detached: a monitor process (a kiste fork in its own
/// session, stdout and stderr to the container's logs) runs it in the
/// foreground and records its end. Returns once it runs (or has ended).
pub fn run_detached(r: &Roots, rec: Record) -> Result<()> {
    let dir = rec.dir(r.data);
    let out = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("stdout.log")).context("open stdout.log")?;
    let err = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("stderr.log")).context("open stderr.log")?;
    let null = std::fs::File::open("/dev/null").context("open /dev/null")?;
    let started_before = rec.started.clone();
    match unsafe { nix::unistd::fork() }.context("fork the container's monitor")? {
        nix::unistd::ForkResult::Child => {
            use std::os::fd::AsRawFd;
            let _ = nix::unistd::setsid();
            unsafe {
                libc::dup2(null.as_raw_fd(), 0);
                libc::dup2(out.as_raw_fd(), 1);
                libc::dup2(err.as_raw_fd(), 2);
            }
            let code = match run_foreground(r, rec) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("kiste: {e}");
                    125
                }
            };
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            // Wait until it runs or has ended (the monitor's own fate is
            // not ours to wait for: it lives on).
            for _ in 0..2000 {
                if let Ok(now) = Record::load(&dir)
                    && (now.status == "exited" || (now.status == "running" && now.started != started_before))
                    && (now.status == "exited" || crate::container::state::Files::new(r.runtime, &now.id).state().exists())
                {
                    break;
                }
                if matches!(
                    nix::sys::wait::waitpid(child, Some(nix::sys::wait::WaitPidFlag::WNOHANG)),
                    Ok(nix::sys::wait::WaitStatus::Exited(..))
                ) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Ok(())
        }
    }
}

/// `container stop`: SIGTERM, then SIGKILL after `grace` seconds.
pub fn stop(r: &Roots, key: &str, grace: u64) -> Result<Record> {
    let rec = record::find(r.data, key)?;
    if rec.status != "running" {
        return Ok(rec);
    }
    let dir = rec.dir(r.data);
    for (sig, wait) in [(libc::SIGTERM, grace * 1000), (libc::SIGKILL, 10_000)] {
        if crate::container::kill::kill(r.runtime, &rec.id, sig, true).is_err() {
            break; // gone already
        }
        for _ in 0..wait.div_ceil(10) {
            if Record::load(&dir).map(|x| x.status != "running").unwrap_or(true) {
                return Record::load(&dir).or(Ok(rec));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    Record::load(&dir)
}

/// `container rm`: refuses a running container unless `force`.
pub fn remove(r: &Roots, key: &str, force: bool, volumes: bool) -> Result<Record> {
    let rec = record::find(r.data, key)?;
    if rec.status == "running" {
        if !force {
            crate::bail!("container {} is running: stop it first, or rm -f", rec.name);
        }
        let _ = crate::container::delete::delete(r.runtime, &rec.id, true);
    }
    bundle::unmount_rootfs(&rec.dir(r.data));
    forget(r, &rec, volumes)?;
    Ok(rec)
}

/// A status as `docker ps` shows it.
pub fn status_text(rec: &Record) -> String {
    match (rec.status.as_str(), rec.exit_code) {
        ("running", _) => "Up".into(),
        ("exited", Some(c)) => format!("Exited ({c})"),
        ("exited", None) => "Exited".into(),
        _ => "Created".into(),
    }
}

/// `container commit`: a new image from the container's image and its
/// writable layer.
pub fn commit(r: &Roots, key: &str, image: &str) -> Result<crate::image::store::ImageRecord> {
    let rec = record::find(r.data, key)?;
    let store = Store::open(r.data)?;
    let base = store.find(&rec.image_id)?;
    let by = format!("kiste container commit {} ({})", rec.name, rec.command.join(" "));
    crate::image::commit::commit(&store, &rec.dir(r.data).join("upper"), &base, image, &by)
}
