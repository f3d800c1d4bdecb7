//! `kiste image pull` from Debian's docker-registry on loopback (images
//! pushed there by skopeo) and from a fake registry in this process (token
//! and basic authentication, blobs redirected to another host, chunked
//! bodies, tampered blobs).

mod common;
use common::layout::*;
use common::registry::*;
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

struct T {
    env: Env,
    data: PathBuf,
}

impl T {
    fn new(name: &str) -> T {
        let env = Env::new(name, "true");
        let data = env.dir.join("data");
        T { env, data }
    }

    fn k(&self, args: &[&str]) -> Output {
        self.k_env(args, &[])
    }

    fn k_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut all = vec!["--data-root", self.data.to_str().unwrap()];
        all.extend_from_slice(args);
        let mut c = self.env.cmd(&all);
        c.env_remove("KISTE_REGISTRY_AUTH");
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.k(args);
        assert!(out.status.success(), "kiste {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    fn count(&self, sub: &str) -> usize {
        std::fs::read_dir(self.data.join(sub)).map(|r| r.count()).unwrap_or(0)
    }

    /// After a failed pull: no layer, blob, temporary file or image left.
    fn assert_nothing_made(&self) {
        assert_eq!(self.count("layers/sha256"), 0, "layers left");
        assert_eq!(self.count("blobs/sha256"), 0, "blobs left");
        assert_eq!(self.count("tmp"), 0, "tmp/ not empty");
        assert_eq!(self.ok(&["image", "ls", "-q"]), "");
    }
}

/// A busybox image with `motd` in /etc/motd (a second layer).
fn image(at: &Path, motd: &str) -> PathBuf {
    let motd: &'static str = Box::leak(motd.to_string().into_boxed_str());
    layout(at, &[busybox_layer(), vec![file("etc/motd", motd)]], |_, _| {})
}

fn blob_digests(layout: &Path) -> (String, Vec<String>) {
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let m = &index["manifests"][0]["digest"].as_str().unwrap()[7..];
    let m: Value = serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(m)).unwrap()).unwrap();
    let layers = m["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect();
    (m["config"]["digest"].as_str().unwrap().to_string(), layers)
}

#[test]
fn pull_by_tag_runs_and_pulls_again_nothing_then_by_digest() {
    let t = T::new("pulltag");
    let reg = DockerRegistry::start(&t.env.dir.join("registry"));
    let src = image(&t.env.dir.join("layout"), "from the registry\n");
    let digest = reg.push(&src, "latest", "test/busybox:v1", &[]);
    let name = format!("{}/test/busybox:v1", reg.host());

    let out = t.k(&["image", "pull", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{name}\n"));
    let err = stderr(&out);
    assert_eq!(err.matches("downloaded, unpacked").count(), 2, "{err}");
    assert!(err.contains("layer 1/2") && err.contains("layer 2/2") && err.contains(&digest), "{err}");
    assert_eq!(reg.blob_gets(), 3, "the config and two layers");
    let ls = t.ok(&["image", "ls"]);
    assert!(ls.contains(&format!("{}/test/busybox ", reg.host())) && ls.contains(" v1 "), "{ls}");
    let out = t.k(&["container", "run", "--rm", &name, "cat", "/etc/motd"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "from the registry\n");

    // Again: the manifest is read, no blob is downloaded.
    let out = t.k(&["image", "pull", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("already unpacked").count(), 2, "{err}");
    assert!(!err.contains("downloaded"), "{err}");
    assert_eq!(reg.blob_gets(), 3, "blobs downloaded again");

    // By digest: the same image, named by its digest (no tag, as docker shows it).
    let by_digest = format!("{}/test/busybox@{digest}", reg.host());
    let out = t.k(&["image", "pull", &by_digest]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{by_digest}\n"));
    assert!(t.ok(&["image", "ls"]).contains("<none>"));
    assert_eq!(t.ok(&["container", "run", "--rm", &by_digest, "echo", "by digest"]), "by digest\n");
    assert_eq!(reg.blob_gets(), 3);
    // A digest the repository does not have.
    let other = format!("{}/test/busybox@{}", reg.host(), sha(b"nothing"));
    let out = t.k(&["image", "pull", &other]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));

    // Docker schema 2 manifests (skopeo converts): same config and layers.
    reg.push(&src, "latest", "test/docker:v2", &["-f", "v2s2"]);
    let docker = format!("{}/test/docker:v2", reg.host());
    let out = t.k(&["image", "pull", &docker]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&t.k(&["image", "inspect", &docker]).stdout).unwrap();
    let m = std::fs::read_to_string(t.data.join("blobs/sha256").join(&v[0]["Manifest"].as_str().unwrap()[7..])).unwrap();
    assert!(m.contains("application/vnd.docker.distribution.manifest.v2+json"), "{m}");
    assert_eq!(t.ok(&["container", "run", "--rm", &docker, "cat", "/etc/motd"]), "from the registry\n");
}

/// An OCI layout whose `latest` is an index of these (os/arch, motd)
/// images, in that order.
fn multi(dir: &Path, platforms: &[(&str, &str, &str)]) -> PathBuf {
    let out = dir.join("multi");
    std::fs::create_dir_all(out.join("blobs/sha256")).unwrap();
    let mut manifests = Vec::new();
    for (os, arch, motd) in platforms {
        let one = image(&dir.join(format!("{os}-{arch}")), motd);
        for e in std::fs::read_dir(one.join("blobs/sha256")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), out.join("blobs/sha256").join(e.file_name())).unwrap();
        }
        let index: Value = serde_json::from_slice(&std::fs::read(one.join("index.json")).unwrap()).unwrap();
        let mut desc = index["manifests"][0].clone();
        desc.as_object_mut().unwrap().remove("annotations");
        desc["platform"] = json!({"os": os, "architecture": arch});
        manifests.push(desc);
    }
    let idx =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}))
            .unwrap();
    let d = sha(&idx);
    std::fs::write(out.join("blobs/sha256").join(&d[7..]), &idx).unwrap();
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": idx.len(),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    std::fs::write(out.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    std::fs::write(out.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    out
}

#[test]
fn an_index_of_two_platforms_gives_linux_amd64() {
    let t = T::new("pullindex");
    let reg = DockerRegistry::start(&t.env.dir.join("registry"));
    let src = multi(&t.env.dir.join("two"), &[("linux", "arm64", "arm64\n"), ("linux", "amd64", "amd64\n")]);
    reg.push(&src, "latest", "test/multi:1", &["--all"]);
    let name = format!("{}/test/multi:1", reg.host());
    let out = t.k(&["image", "pull", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.ok(&["container", "run", "--rm", &name, "cat", "/etc/motd"]), "amd64\n");
    // An index without linux/amd64.
    let src = multi(&t.env.dir.join("arm"), &[("linux", "arm64", "arm64\n"), ("windows", "amd64", "win\n")]);
    reg.push(&src, "latest", "test/arm:1", &["--all"]);
    let out = t.k(&["image", "pull", &format!("{}/test/arm:1", reg.host())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no linux/amd64 image (it has: linux/arm64, windows/amd64)"), "{}", stderr(&out));
}

#[test]
fn missing_tags_unreachable_and_https_registries_are_clear_errors() {
    let t = T::new("pullerr");
    let reg = DockerRegistry::start(&t.env.dir.join("registry"));
    let src = image(&t.env.dir.join("layout"), "x\n");
    reg.push(&src, "latest", "test/busybox:v1", &[]);
    for (r, msgs) in [
        (format!("{}/test/busybox:nope", reg.host()), vec!["manifest nope", "404 Not Found", "manifest unknown"]),
        (format!("{}/test/nosuch:v1", reg.host()), vec!["test/nosuch", "404 Not Found"]),
        ("busybox".to_string(), vec!["registry-1.docker.io", "HTTPS is not built into kiste"]),
        ("registry.example:5000/a".to_string(), vec!["HTTPS is not built into kiste", "--insecure"]),
        ("127.0.0.1:1/a/b".to_string(), vec!["http://127.0.0.1:1/v2/a/b/manifests/latest", "connection refused"]),
        ("Bad/Name".to_string(), vec!["image reference", "is not lower-case letters"]),
    ] {
        let out = t.k(&["image", "pull", &r]);
        assert_eq!(out.status.code(), Some(1), "{r}");
        for m in msgs {
            assert!(stderr(&out).contains(m), "{r}: {m:?} not in {}", stderr(&out));
        }
    }
    t.assert_nothing_made();
}

/// A layer blob changed in the registry's own storage: refused, its
/// digest named, nothing kept.
#[test]
fn a_tampered_blob_in_the_registry_is_refused_and_nothing_is_kept() {
    let t = T::new("pulltamper");
    let reg = DockerRegistry::start(&t.env.dir.join("registry"));
    let src = image(&t.env.dir.join("layout"), "x\n");
    reg.push(&src, "latest", "test/busybox:v1", &[]);
    let (_, layers) = blob_digests(&src);
    let f = reg.blob_file(&layers[1]);
    let mut b = std::fs::read(&f).unwrap();
    let n = b.len() / 2;
    b[n] ^= 0xff;
    std::fs::write(&f, &b).unwrap();
    let out = t.k(&["image", "pull", &format!("{}/test/busybox:v1", reg.host())]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("blob {}: its content hashes to", layers[1])), "{err}");
    t.assert_nothing_made();
}

#[test]
fn token_auth_redirects_and_chunked_blobs() {
    let t = T::new("pulltoken");
    let src = image(&t.env.dir.join("layout"), "fake\n");
    let (config, layers) = blob_digests(&src);
    let fake = FakeRegistry::start(&src, Fake { token: Some("t0k3n".into()), redirect: true, ..Fake::default() });
    let name = format!("{}/test/fake:latest", fake.host());
    let out = t.k(&["image", "pull", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reqs = fake.requests();
    assert!(reqs.iter().any(|r| r.starts_with("GET /token?")), "{reqs:?}");
    assert!(reqs.iter().any(|r| r.starts_with("GET /v2/test/fake/manifests/latest Bearer t0k3n")), "{reqs:?}");
    for d in [&config, &layers[0], &layers[1]] {
        assert!(reqs.contains(&format!("GET /v2/test/fake/blobs/{d} Bearer t0k3n")), "{d}: {reqs:?}");
        assert!(reqs.contains(&format!("GET /storage/{d}")), "{d} without credentials at the storage host: {reqs:?}");
    }
    assert_eq!(t.ok(&["container", "run", "--rm", &name, "cat", "/etc/motd"]), "fake\n");
    let before = fake.requests().len();
    assert!(t.k(&["image", "pull", &name]).status.success());
    assert!(!fake.requests()[before..].iter().any(|r| r.contains("/blobs/")), "{:?}", &fake.requests()[before..]);

    // A blob tampered with on the storage host.
    let t2 = T::new("pulltoken2");
    let fake =
        FakeRegistry::start(&src, Fake { token: Some("t".into()), redirect: true, tamper: Some(layers[0].clone()), ..Fake::default() });
    let out = t2.k(&["image", "pull", &format!("{}/test/fake", fake.host())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("blob {}: its content hashes to", layers[0])), "{}", stderr(&out));
    t2.assert_nothing_made();
}

#[test]
fn basic_auth_from_the_environment() {
    let t = T::new("pullbasic");
    let src = image(&t.env.dir.join("layout"), "basic\n");
    let fake = FakeRegistry::start(&src, Fake { basic: Some("me:secret".into()), ..Fake::default() });
    let name = format!("{}/test/fake:latest", fake.host());
    let out = t.k(&["image", "pull", &name]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("set KISTE_REGISTRY_AUTH=user:password"), "{}", stderr(&out));
    let out = t.k_env(&["image", "pull", &name], &[("KISTE_REGISTRY_AUTH", "me:wrong")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("401 Unauthorized"), "{}", stderr(&out));
    t.assert_nothing_made();
    let out = t.k_env(&["image", "pull", &name], &[("KISTE_REGISTRY_AUTH", "me:secret")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.ok(&["container", "run", "--rm", &name, "cat", "/etc/motd"]), "basic\n");
}
