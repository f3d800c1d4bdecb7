//! Image references as docker reads them: `busybox` is
//! `docker.io/library/busybox:latest`; the first component is a registry
//! when it has a `.` or a `:` or is `localhost` (`127.0.0.1:5000/a/b:1`);
//! `name@sha256:…` names a manifest by digest.

use super::digest::Digest;
use super::store::normalize_name;
use crate::error::{Context, Result};

pub const DOCKER_HUB: &str = "docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`, `docker.io` for Docker Hub.
    pub registry: String,
    /// The repository path: `library/busybox`, `test/app`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference> {
        let what = || format!("image reference {s:?}");
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d).with_context(what)?)),
            None => (s, None),
        };
        let (rest, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        let (registry, repository) = match rest.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) => {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), rest.to_string()),
        };
        let registry = if registry == "index.docker.io" { DOCKER_HUB.to_string() } else { registry };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') { format!("library/{repository}") } else { repository };
        super::http::split_host_port(&registry).with_context(what)?;
        if repository.is_empty()
            || repository.len() > 255
            || !repository.split('/').all(|c| {
                c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                    && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                    && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            })
        {
            crate::bail!("{}: the repository {repository:?} is not lower-case letters, digits and . _ - between /", what());
        }
        if let Some(t) = &tag
            && (t.is_empty()
                || t.len() > 128
                || t.starts_with(['.', '-'])
                || !t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)))
        {
            crate::bail!("{}: the tag {t:?} is not letters, digits, _ . - (at most 128)", what());
        }
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        Ok(Reference { registry, repository, tag, digest })
    }

    /// What the manifest is asked for by: the digest, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The host (and port) that serves the registry's API.
    pub fn endpoint(&self) -> &str {
        if self.registry == DOCKER_HUB { "registry-1.docker.io" } else { &self.registry }
    }

    /// The name the image is recorded under, as docker shows it: `busybox:latest`,
    /// `127.0.0.1:5000/test/app:1`, `app@sha256:…` when pulled by digest alone.
    pub fn name(&self) -> String {
        let repo = format!("{}/{}", self.registry, self.repository);
        match (&self.tag, &self.digest) {
            (Some(t), _) => normalize_name(&format!("{repo}:{t}")),
            (None, Some(d)) => normalize_name(&format!("{repo}@{d}")),
            (None, None) => normalize_name(&repo),
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(s).unwrap();
        (r.registry, r.repository, r.tag, r.digest.map(|d| d.to_string()))
    }

    #[test]
    fn parses_as_docker_does() {
        let s = |x: &str| x.to_string();
        assert_eq!(p("busybox"), (s("docker.io"), s("library/busybox"), Some(s("latest")), None));
        assert_eq!(p("busybox:1.36"), (s("docker.io"), s("library/busybox"), Some(s("1.36")), None));
        assert_eq!(p("user/app"), (s("docker.io"), s("user/app"), Some(s("latest")), None));
        assert_eq!(p("docker.io/library/busybox:1"), (s("docker.io"), s("library/busybox"), Some(s("1")), None));
        assert_eq!(p("127.0.0.1:5000/test/busybox:v1"), (s("127.0.0.1:5000"), s("test/busybox"), Some(s("v1")), None));
        assert_eq!(p("localhost/a"), (s("localhost"), s("a"), Some(s("latest")), None));
        assert_eq!(p("localhost:5000/a"), (s("localhost:5000"), s("a"), Some(s("latest")), None));
        assert_eq!(p("[::1]:5000/a:b"), (s("[::1]:5000"), s("a"), Some(s("b")), None));
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(p(&format!("r.io/a@{d}")), (s("r.io"), s("a"), None, Some(d.clone())));
        assert_eq!(p(&format!("a:t@{d}")), (s("docker.io"), s("library/a"), Some(s("t")), Some(d.clone())));
        for bad in ["", "Busy", "a//b", "a:", "a:-x", "a@sha256:12", "a@md5:x", "h:port/x", "-a", "a/b-", "a b"] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
        let r = Reference::parse("busybox").unwrap();
        assert_eq!((r.name(), r.endpoint(), r.manifest_ref()), (s("busybox:latest"), "registry-1.docker.io", s("latest")));
        let r = Reference::parse("127.0.0.1:5000/test/busybox").unwrap();
        assert_eq!((r.name(), r.endpoint()), (s("127.0.0.1:5000/test/busybox:latest"), "127.0.0.1:5000"));
        let r = Reference::parse(&format!("127.0.0.1:5000/t@{d}")).unwrap();
        assert_eq!((r.name(), r.manifest_ref()), (format!("127.0.0.1:5000/t@{d}"), d));
    }
}
