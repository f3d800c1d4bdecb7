//! Registries for the pull tests: Debian's `docker-registry` (the
//! distribution project's server) as a child process on a free loopback
//! port with its storage in a temporary directory, images pushed to it with
//! skopeo; and a small fake registry (a `TcpListener` thread) serving an OCI
//! layout, for what the real one will not do on demand: token and basic
//! authentication, blobs redirected to another host, chunked bodies, a
//! tampered blob.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub const DOCKER_REGISTRY: &str = "/usr/bin/docker-registry";

/// `docker-registry serve` on 127.0.0.1:port, killed on drop.
pub struct DockerRegistry {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl DockerRegistry {
    pub fn start(dir: &Path) -> DockerRegistry {
        assert!(Path::new(DOCKER_REGISTRY).exists(), "Debian's docker-registry is installed ({DOCKER_REGISTRY})");
        std::fs::create_dir_all(dir).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: kiste-test\n",
                dir.join("storage").display()
            );
            std::fs::write(dir.join("config.yml"), config).unwrap();
            let log = std::fs::File::create(dir.join("registry.log")).unwrap();
            let child = Command::new(DOCKER_REGISTRY)
                .arg("serve")
                .arg(dir.join("config.yml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut r = DockerRegistry { port, dir: dir.to_path_buf(), child };
            for _ in 0..200 {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return r;
                }
                if r.child.try_wait().unwrap().is_some() {
                    break; // the port was taken after all: another one
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
        }
        panic!("docker-registry did not start: {}", std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default());
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `skopeo copy` of the layout's image `tag` to `repo:dest_tag` here;
    /// `extra` flags (`--all`, `-f v2s2`). Returns the pushed digest.
    pub fn push(&self, layout: &Path, tag: &str, repo_tag: &str, extra: &[&str]) -> String {
        let digest = self.dir.join("digest");
        let out = Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--dest-tls-verify=false", "--digestfile"])
            .arg(&digest)
            .args(extra)
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.host()))
            .output()
            .expect("skopeo is installed");
        assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(digest).unwrap().trim().to_string()
    }

    /// The blob requests kiste made (its access log lines).
    pub fn blob_gets(&self) -> usize {
        let log = std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains("\"GET /v2/") && l.contains("/blobs/") && l.contains("\"kiste\"")).count()
    }

    /// The file the registry keeps a blob's bytes in.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.join("storage/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the fake registry behaves.
#[derive(Clone, Default)]
pub struct Fake {
    /// Ask for a Bearer token from its own /token (this one is accepted).
    pub token: Option<String>,
    /// Ask for Basic credentials (`user:password`).
    pub basic: Option<String>,
    /// Redirect blobs to a second listener reached as `localhost`.
    pub redirect: bool,
    /// Flip a byte of this blob (a digest) as it is served.
    pub tamper: Option<String>,
}

/// A registry serving one OCI layout as repository `test/fake`; requests
/// are recorded as `METHOD PATH AUTHORIZATION`.
pub struct FakeRegistry {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
}

struct Shared {
    layout: PathBuf,
    fake: Fake,
    port: u16,
    blob_port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeRegistry {
    pub fn start(layout: &Path, fake: Fake) -> FakeRegistry {
        let main = TcpListener::bind("127.0.0.1:0").unwrap();
        let blobs = TcpListener::bind("127.0.0.1:0").unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            layout: layout.to_path_buf(),
            fake,
            port: main.local_addr().unwrap().port(),
            blob_port: blobs.local_addr().unwrap().port(),
            requests: requests.clone(),
        });
        for l in [main, blobs] {
            let s = shared.clone();
            std::thread::spawn(move || {
                for conn in l.incoming().flatten() {
                    let s = s.clone();
                    std::thread::spawn(move || serve(&s, conn));
                }
            });
        }
        FakeRegistry { port: shared.port, requests }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(s: &Shared, mut conn: TcpStream) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let auth = headers.get("authorization").cloned().unwrap_or_default();
    s.requests.lock().unwrap().push(format!("{method} {path} {auth}").trim().to_string());
    let local = conn.local_addr().unwrap().port();
    let (status, head, body, chunked) = answer(s, local, &path, &auth);
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in head {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if chunked {
        out.push_str("Transfer-Encoding: chunked\r\n\r\n");
        let mut w = out.into_bytes();
        for c in body.chunks(1000) {
            w.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            w.extend_from_slice(c);
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(b"0\r\n\r\n");
        let _ = conn.write_all(&w);
    } else {
        out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut w = out.into_bytes();
        w.extend_from_slice(&body);
        let _ = conn.write_all(&w);
    }
    let _ = conn.flush();
    let _ = conn.read(&mut [0u8; 1]);
}

type Answer = (&'static str, Vec<(String, String)>, Vec<u8>, bool);

fn error(status: &'static str, code: &str, msg: &str) -> Answer {
    let body = format!(r#"{{"errors":[{{"code":"{code}","message":"{msg}"}}]}}"#);
    (status, vec![("Content-Type".into(), "application/json".into())], body.into_bytes(), false)
}

fn answer(s: &Shared, local: u16, path: &str, auth: &str) -> Answer {
    let blob = |hex: &str| std::fs::read(s.layout.join("blobs/sha256").join(hex)).ok();
    // The blob host (no credentials must reach it): chunked bodies.
    if local == s.blob_port {
        if !auth.is_empty() {
            return error("400 Bad Request", "DENIED", "credentials sent to the storage host");
        }
        let d = path.trim_start_matches("/storage/");
        let Some(mut b) = blob(d.trim_start_matches("sha256:")) else { return error("404 Not Found", "BLOB_UNKNOWN", "no blob") };
        if s.fake.tamper.as_deref() == Some(d) {
            let n = b.len() / 2;
            b[n] ^= 0xff;
        }
        return ("200 OK", vec![], b, true);
    }
    if path.starts_with("/token") {
        let Some(t) = &s.fake.token else { return error("404 Not Found", "NOT_FOUND", "no token service") };
        if !path.contains("scope=repository%3Atest%2Ffake%3Apull") || !path.contains("service=fake") {
            return error("400 Bad Request", "DENIED", "wrong scope or service");
        }
        return ("200 OK", vec![], format!(r#"{{"token":"{t}","expires_in":300}}"#).into_bytes(), false);
    }
    let challenge = match (&s.fake.token, &s.fake.basic) {
        (Some(t), _) if auth != format!("Bearer {t}") => {
            Some(format!(r#"Bearer realm="http://127.0.0.1:{}/token",service="fake",scope="repository:test/fake:pull""#, s.port))
        }
        (_, Some(b)) if auth != format!("Basic {}", base64(b.as_bytes())) => Some(r#"Basic realm="fake""#.to_string()),
        _ => None,
    };
    if let Some(c) = challenge {
        let (st, mut h, b, ch) = error("401 Unauthorized", "UNAUTHORIZED", "authentication required");
        h.push(("WWW-Authenticate".into(), c));
        return (st, h, b, ch);
    }
    let Some(rest) = path.strip_prefix("/v2/test/fake/") else { return error("404 Not Found", "NAME_UNKNOWN", "no such repository") };
    if let Some(r) = rest.strip_prefix("manifests/") {
        let index: serde_json::Value = serde_json::from_slice(&std::fs::read(s.layout.join("index.json")).unwrap()).unwrap();
        let desc = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["digest"] == r || m["annotations"]["org.opencontainers.image.ref.name"] == r);
        let hex = match desc {
            Some(m) => m["digest"].as_str().unwrap()[7..].to_string(),
            None if r.starts_with("sha256:") => r[7..].to_string(),
            None => return error("404 Not Found", "MANIFEST_UNKNOWN", "manifest unknown"),
        };
        let Some(b) = blob(&hex) else { return error("404 Not Found", "MANIFEST_UNKNOWN", "manifest unknown") };
        let media = serde_json::from_slice::<serde_json::Value>(&b).unwrap()["mediaType"].as_str().unwrap_or("").to_string();
        return ("200 OK", vec![("Content-Type".into(), media), ("Docker-Content-Digest".into(), format!("sha256:{hex}"))], b, false);
    }
    if let Some(d) = rest.strip_prefix("blobs/") {
        if s.fake.redirect {
            return (
                "307 Temporary Redirect",
                vec![("Location".into(), format!("http://localhost:{}/storage/{d}", s.blob_port))],
                vec![],
                false,
            );
        }
        let Some(mut b) = blob(d.trim_start_matches("sha256:")) else { return error("404 Not Found", "BLOB_UNKNOWN", "no blob") };
        if s.fake.tamper.as_deref() == Some(d) {
            let n = b.len() / 2;
            b[n] ^= 0xff;
        }
        return ("200 OK", vec![], b, false);
    }
    error("404 Not Found", "NOT_FOUND", "not found")
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { A[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}
