//! `kiste image import`, `ls`, `inspect`, and safe unpacking of hostile
//! layers. The OCI layouts are built here, entry by entry (raw tar headers,
//! so that hostile names can be written at all).

mod common;
use common::layout::*;
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

struct Img {
    env: Env,
    data: PathBuf,
}

impl Img {
    fn new(name: &str) -> Img {
        let env = Env::new(name, "true");
        let data = env.dir.join("data");
        Img { env, data }
    }
    fn kiste(&self, args: &[&str]) -> Output {
        let mut all = vec!["--data-root", self.data.to_str().unwrap()];
        all.extend_from_slice(args);
        self.env.kiste(&all)
    }
    fn layout(&self, name: &str, layers: &[Vec<E>]) -> PathBuf {
        layout(&self.env.dir.join(name), layers, |_, _| {})
    }
    fn layers(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.data.join("layers/sha256")).map(|r| r.map(|e| e.unwrap().path()).collect()).unwrap_or_default()
    }
    /// After a failed import: nothing half-made in the store.
    fn assert_nothing_made(&self) {
        assert!(self.layers().is_empty(), "layers left: {:?}", self.layers());
        let tmp: Vec<_> = std::fs::read_dir(self.data.join("tmp")).unwrap().collect();
        assert!(tmp.is_empty(), "tmp/ holds {tmp:?}");
        assert_eq!(stdout(&self.kiste(&["image", "ls", "-q"])), "");
    }
}

fn base() -> Vec<E> {
    vec![dir("bin/"), file("bin/hello", "hello\n"), dir("etc/"), file("etc/os-release", "NAME=test\n"), symlink("bin/link", "hello")]
}

#[test]
fn import_lists_inspects_and_shares_layers() {
    let t = Img::new("imgimport");
    let two = vec![base(), vec![file("etc/motd", "second\n"), E { name: "bin/.wh.link", ..file("x", "") }]];
    let src = t.layout("lay", &two);
    let out = t.kiste(&["image", "import", src.to_str().unwrap(), "first"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "first:latest\n");
    assert!(stderr(&out).contains("layer 2/2"), "progress: {}", stderr(&out));
    let out = t.kiste(&["image", "import", src.to_str().unwrap(), "second:v1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("already unpacked"), "{}", stderr(&out));
    assert_eq!(t.layers().len(), 2, "each layer is unpacked once");
    let ls = stdout(&t.kiste(&["image", "ls"]));
    assert!(ls.contains("first") && ls.contains("second") && ls.contains("v1"), "{ls}");
    let v: Value = serde_json::from_slice(&t.kiste(&["image", "inspect", "second:v1"]).stdout).unwrap();
    assert_eq!(v[0]["Config"]["Cmd"], json!(["sh"]));
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    // The layer directories: content, modes, a whiteout in overlayfs' form.
    let bottom = t.data.join("layers/sha256").join(&v[0]["RootFS"]["Layers"][0].as_str().unwrap()[7..]);
    let top = t.data.join("layers/sha256").join(&v[0]["RootFS"]["Layers"][1].as_str().unwrap()[7..]);
    assert_eq!(std::fs::read_to_string(bottom.join("bin/hello")).unwrap(), "hello\n");
    assert_eq!(std::fs::read_link(bottom.join("bin/link")).unwrap(), Path::new("hello"));
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let wh = std::fs::symlink_metadata(top.join("bin/link")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0, "whiteout: {wh:?}");
    assert!(!top.join("bin/.wh.link").exists());
    let out = t.kiste(&["image", "inspect", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no such image: nosuch"), "{}", stderr(&out));
}

/// Each hostile layer is refused with an error naming the entry, or
/// contained inside its layer; nothing outside the store is touched.
#[test]
fn hostile_layers_are_refused_or_contained() {
    let t = Img::new("imghostile");
    let outside = t.env.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let out_s: &'static str = Box::leak(outside.to_str().unwrap().to_string().into_boxed_str());
    let victim_s: &'static str = Box::leak(victim.to_str().unwrap().to_string().into_boxed_str());
    let dotdot: &'static str = Box::leak(format!("../../../../../../..{out_s}/pwned").into_boxed_str());

    // Refused: `..` in a name, `..` in a hardlink target, a hardlink to a
    // host file (resolved inside the layer, where it does not exist).
    for (case, entries, msg) in [
        ("dotdot", vec![file(dotdot, "x")], "'..' in a layer path"),
        ("hardlink-dotdot", vec![hardlink("bin/l", "../../../../etc/passwd")], "'..' in a layer path"),
        ("hardlink-host", vec![hardlink("bin/l", victim_s)], "hardlink target"),
    ] {
        let src = t.layout(case, &[entries]);
        let out = t.kiste(&["image", "import", src.to_str().unwrap(), case]);
        assert_eq!(out.status.code(), Some(1), "{case}: {}", stderr(&out));
        assert!(stderr(&out).contains(msg), "{case}: {}", stderr(&out));
        t.assert_nothing_made();
    }
    assert!(!outside.join("pwned").exists());

    // Contained: an absolute name, a write through a symlink that points
    // out (absolute, and relative), a device node (not made), setuid (kept:
    // we are root).
    let abs: &'static str = Box::leak(format!("{out_s}/abs").into_boxed_str());
    let through: &'static str = Box::leak(format!("{out_s}/x").into_boxed_str());
    let _ = through;
    let entries = vec![
        file(abs, "abs\n"),
        symlink("escape", out_s),
        file("escape/pwned", "through a symlink\n"),
        symlink("up", "../../../../../../../../.."),
        file("up/pwned-too", "through ..\n"),
        E { name: "dev/evil", kind: tar::EntryType::Char, data: vec![], link: "", mode: 0o666 },
        E { mode: 0o4755, ..file("bin/suid", "x") },
        // A later entry replaces a directory (and what it held) with a file.
        dir("r/"),
        file("r/y", "gone\n"),
        file("r", "replaced\n"),
    ];
    let src = t.layout("contained", &[entries]);
    let out = t.kiste(&["image", "import", src.to_str().unwrap(), "contained"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("device nodes not created: dev/evil"), "{}", stderr(&out));
    let layer = &t.layers()[0];
    assert_eq!(std::fs::read_to_string(layer.join(format!("{}/abs", &out_s[1..]))).unwrap(), "abs\n");
    assert_eq!(std::fs::read_to_string(layer.join(format!("{}/pwned", &out_s[1..]))).unwrap(), "through a symlink\n");
    assert_eq!(std::fs::read_to_string(layer.join("pwned-too")).unwrap(), "through ..\n");
    assert!(!layer.join("dev/evil").exists());
    assert_eq!(std::fs::read_to_string(layer.join("r")).unwrap(), "replaced\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(layer.join("bin/suid")).unwrap().permissions().mode() & 0o7777, 0o4755);
    let host: Vec<_> = std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(host, vec![std::ffi::OsString::from("victim")], "written outside the store");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
}

#[test]
fn corrupt_blobs_and_archives_are_refused_and_leave_nothing() {
    let t = Img::new("imgcorrupt");
    for (case, tamper, msg) in [("digest", 0usize, "hashes to"), ("truncated", 1, "hashes to")] {
        let dir = t.env.dir.join(case);
        let src = layout(&dir, &[base()], |_, b| {
            if tamper == 0 {
                let n = b.len() / 2;
                b[n] ^= 0xff;
            } else {
                b.truncate(b.len() / 2);
            }
        });
        let out = t.kiste(&["image", "import", src.to_str().unwrap(), case]);
        assert_eq!(out.status.code(), Some(1), "{case}");
        assert!(stderr(&out).contains(msg), "{case}: {}", stderr(&out));
        t.assert_nothing_made();
    }
    // A layer whose content does not match its diff_id (the blob digest
    // itself is right): the config below claims another layer.
    let dir = t.env.dir.join("diffid");
    let src = layout(&dir, &[base()], |_, _| {});
    let idx: Value = serde_json::from_slice(&std::fs::read(src.join("index.json")).unwrap()).unwrap();
    let m: Value = serde_json::from_slice(
        &std::fs::read(src.join("blobs/sha256").join(&idx["manifests"][0]["digest"].as_str().unwrap()[7..])).unwrap(),
    )
    .unwrap();
    let cfg_path = src.join("blobs/sha256").join(&m["config"]["digest"].as_str().unwrap()[7..]);
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["rootfs"]["diff_ids"][0] = json!(sha(b"something else"));
    let cb = serde_json::to_vec(&cfg).unwrap();
    std::fs::write(src.join("blobs/sha256").join(&sha(&cb)[7..]), &cb).unwrap();
    let mut m2 = m.clone();
    m2["config"]["digest"] = json!(sha(&cb));
    m2["config"]["size"] = json!(cb.len());
    let mb = serde_json::to_vec(&m2).unwrap();
    std::fs::write(src.join("blobs/sha256").join(&sha(&mb)[7..]), &mb).unwrap();
    let mut idx2 = idx.clone();
    idx2["manifests"][0]["digest"] = json!(sha(&mb));
    idx2["manifests"][0]["size"] = json!(mb.len());
    std::fs::write(src.join("index.json"), serde_json::to_vec(&idx2).unwrap()).unwrap();
    let out = t.kiste(&["image", "import", src.to_str().unwrap(), "diffid"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not to its diff_id"), "{}", stderr(&out));
    t.assert_nothing_made();
    // Not a layout at all.
    let out = t.kiste(&["image", "import", t.env.bundle.to_str().unwrap(), "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not an OCI image layout"), "{}", stderr(&out));
}

/// A tar of a layout (as `skopeo copy … oci-archive:` writes one).
#[test]
fn import_of_a_layout_tar() {
    let t = Img::new("imgtar");
    let src = t.layout("lay", &[base()]);
    let tarball = t.env.dir.join("image.tar");
    let ok = std::process::Command::new("tar").args(["-C", src.to_str().unwrap(), "-cf", tarball.to_str().unwrap(), "."]).status().unwrap();
    assert!(ok.success());
    let out = t.kiste(&["image", "import", tarball.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Named from the file and the layout's ref name ("latest").
    assert_eq!(stdout(&out), "image:latest\n");
    assert_eq!(t.layers().len(), 1);
}

#[test]
fn tag_history_and_rm_free_only_unused_layers() {
    let t = Img::new("imgrm");
    let a = t.layout("a", &[base(), vec![file("a", "a\n")]]);
    let b = t.layout("b", &[base(), vec![file("b", "b\n")]]);
    assert!(t.kiste(&["image", "import", a.to_str().unwrap(), "a"]).status.success());
    assert!(t.kiste(&["image", "import", b.to_str().unwrap(), "b"]).status.success());
    assert_eq!(t.layers().len(), 3, "the shared bottom layer is stored once");
    assert!(t.kiste(&["image", "tag", "a", "a2:v1"]).status.success());
    let hist = stdout(&t.kiste(&["image", "history", "a2:v1"]));
    assert!(hist.contains("CREATED BY") && hist.contains("test"), "{hist}");
    // a is still named a2:v1: nothing freed.
    let out = t.kiste(&["image", "rm", "a"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.layers().len(), 3);
    // Now a's top layer goes; the bottom one stays for b.
    let out = t.kiste(&["image", "rm", "a2:v1"]);
    assert!(stdout(&out).contains("Deleted: 1 layer(s)"), "{}", stdout(&out));
    assert_eq!(t.layers().len(), 2);
    assert!(t.kiste(&["image", "rm", "b"]).status.success());
    assert!(t.layers().is_empty());
    assert_eq!(std::fs::read_dir(t.data.join("blobs/sha256")).unwrap().count(), 0, "blobs left");
    let out = t.kiste(&["image", "rm", "b"]);
    assert_eq!(out.status.code(), Some(1));
}

/// A docker-archive (`docker save`): files named by path, a manifest.json,
/// a layer reached through a symlink as some writers make them.
#[test]
fn import_of_a_docker_archive() {
    let t = Img::new("imgdocker");
    let dir = t.env.dir.join("docker");
    std::fs::create_dir_all(dir.join("abc")).unwrap();
    let layer = tar_of(&base());
    std::fs::write(dir.join("abc/layer.tar"), &layer).unwrap();
    std::fs::write(dir.join("abc/VERSION"), "1.0").unwrap();
    std::os::unix::fs::symlink("abc/layer.tar", dir.join("top.tar")).unwrap();
    let config = json!({"architecture": "amd64", "os": "linux", "created": "2026-12-01T00:00:00Z",
        "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]}});
    std::fs::write(dir.join("cfg.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    let manifest = json!([{"Config": "cfg.json", "RepoTags": ["docker.io/library/saved:1"], "Layers": ["top.tar"]}]);
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    let tarball = t.env.dir.join("saved.tar");
    let ok = std::process::Command::new("tar").args(["-C", dir.to_str().unwrap(), "-cf", tarball.to_str().unwrap(), "."]).status().unwrap();
    assert!(ok.success());
    let out = t.kiste(&["image", "import", tarball.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "saved:1\n");
    let v: Value = serde_json::from_slice(&t.kiste(&["image", "inspect", "saved:1"]).stdout).unwrap();
    assert_eq!(v[0]["Config"]["Cmd"], json!(["sh"]));
    let layer_dir = t.layers().pop().unwrap();
    assert_eq!(std::fs::read_to_string(layer_dir.join("bin/hello")).unwrap(), "hello\n");
    // A manifest.json naming a file the archive lacks.
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&json!([{"Config": "cfg.json", "Layers": ["nope.tar"]}])).unwrap())
        .unwrap();
    let ok = std::process::Command::new("tar").args(["-C", dir.to_str().unwrap(), "-cf", tarball.to_str().unwrap(), "."]).status().unwrap();
    assert!(ok.success());
    let out = t.kiste(&["image", "import", tarball.to_str().unwrap(), "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.tar") && stderr(&out).contains("is not in the archive"), "{}", stderr(&out));
}

/// Two identical layers in one image (one blob, one diff_id), fetched and
/// unpacked on two threads at once: one copy is kept, no error.
#[test]
fn an_image_with_the_same_layer_twice() {
    let t = Img::new("imgtwice");
    let src = t.layout("twice", &[base(), base()]);
    let out = t.kiste(&["image", "import", src.to_str().unwrap(), "twice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.layers().len(), 1);
    assert_eq!(std::fs::read_dir(t.data.join("tmp")).unwrap().count(), 0, "tmp/ not empty");
}
