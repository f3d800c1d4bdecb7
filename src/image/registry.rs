//! A distribution (v2) registry, over `http`: GETs under `/v2/<repo>/`,
//! answering its authentication challenges. `Bearer`: a token from the
//! challenge's realm for its service and scope (anonymous, or with the
//! credentials of `KISTE_REGISTRY_AUTH=user:password`); `Basic`: those
//! credentials. Errors say what was asked for, and the registry's own
//! error message.

use super::http::{self, Response, Url};
use crate::error::{Context, Error, Result};
use std::sync::Mutex;

/// The environment variable with `user:password` for the registry.
pub const AUTH_ENV: &str = "KISTE_REGISTRY_AUTH";

pub struct Registry {
    /// `http://host:port`.
    base: String,
    repository: String,
    /// The Authorization header's value, once a challenge was answered.
    auth: Mutex<Option<String>>,
    credentials: Option<String>,
}

impl Registry {
    /// A registry at `endpoint` (`host[:port]`). Plain HTTP: only to this
    /// machine, or with `insecure`; anything else is refused here, since
    /// kiste has no TLS.
    pub fn new(endpoint: &str, repository: &str, insecure: bool) -> Result<Registry> {
        let (host, _) = http::split_host_port(endpoint)?;
        let local = matches!(host.as_str(), "localhost" | "[::1]") || host.starts_with("127.");
        if !local && !insecure {
            crate::bail!(
                "registry {endpoint}: HTTPS is not built into kiste (it has no TLS stack), so it only pulls over plain HTTP: \
                 from a registry on this machine (localhost, 127.0.0.1, [::1]), or from another with --insecure"
            );
        }
        let credentials = std::env::var(AUTH_ENV).ok().filter(|c| !c.is_empty()).map(|c| http::base64(c.as_bytes()));
        Ok(Registry { base: format!("http://{endpoint}"), repository: repository.to_string(), auth: Mutex::new(None), credentials })
    }

    /// The URL of `path` under the repository (`manifests/latest`).
    pub fn url(&self, path: &str) -> Result<Url> {
        Url::parse(&format!("{}/v2/{}/{path}", self.base, self.repository))
    }

    /// GET `path` under the repository; a 401 is answered once. Any status
    /// but 200 is an error naming `what` and the registry's message.
    pub fn get(&self, path: &str, accept: Option<&str>, what: &str) -> Result<Response> {
        let url = self.url(path)?;
        let send = |auth: Option<&str>| http::get("GET", &url, accept, auth).with_context(|| what.to_string());
        let sent = self.auth.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut resp = send(sent.as_deref())?;
        if resp.status == 401 {
            let value = self.authenticate(&resp).with_context(|| format!("{what}: {url}"))?;
            if sent.as_deref() == Some(value.as_str()) {
                crate::bail!("{what}: {url}: the registry refused the credentials it asked for {}", hint());
            }
            *self.auth.lock().unwrap_or_else(|p| p.into_inner()) = Some(value.clone());
            resp = send(Some(&value))?;
        }
        if resp.status == 401 {
            return Err(status_error(resp, &format!("{what} {}", hint())));
        }
        if resp.status != 200 {
            return Err(status_error(resp, what));
        }
        Ok(resp)
    }

    /// Answers a 401's challenge: the Authorization value to send.
    fn authenticate(&self, resp: &Response) -> Result<String> {
        let challenges: Vec<&str> = resp.headers("www-authenticate").collect();
        let hint = hint();
        let bearer = challenges.iter().find_map(|c| strip_scheme(c, "bearer"));
        if let Some(params) = bearer {
            let p = parse_params(params);
            let get = |k: &str| p.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str());
            let realm = get("realm").ok_or_else(|| Error::msg("the registry's Bearer challenge names no realm"))?;
            let mut q = Vec::new();
            if let Some(s) = get("service") {
                q.push(format!("service={}", http::encode(s)));
            }
            let scope = get("scope").map(str::to_string).unwrap_or_else(|| format!("repository:{}:pull", self.repository));
            q.push(format!("scope={}", http::encode(&scope)));
            let sep = if realm.contains('?') { '&' } else { '?' };
            let url = Url::parse(&format!("{realm}{sep}{}", q.join("&"))).context("the token realm")?;
            let basic = self.credentials.as_ref().map(|c| format!("Basic {c}"));
            let what = format!("token from {url}");
            let r = http::get("GET", &url, Some("application/json"), basic.as_deref()).with_context(|| what.clone())?;
            if r.status != 200 {
                return Err(status_error(r, &format!("{what} {hint}")));
            }
            let body = r.bytes(1 << 20).with_context(|| what.clone())?;
            let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| Error::msg(format!("{what}: invalid JSON: {e}")))?;
            let token = v["token"].as_str().or(v["access_token"].as_str()).filter(|t| !t.is_empty());
            let token = token.ok_or_else(|| Error::msg(format!("{what}: the answer has no token")))?;
            if token.contains(['\r', '\n']) {
                crate::bail!("{what}: the token has a line break in it");
            }
            Ok(format!("Bearer {token}"))
        } else if challenges.iter().any(|c| strip_scheme(c, "basic").is_some()) {
            let c = self
                .credentials
                .as_ref()
                .ok_or_else(|| Error::msg(format!("the registry asks for a user and password: set {AUTH_ENV}=user:password")))?;
            Ok(format!("Basic {c}"))
        } else {
            crate::bail!("unauthorized, and the registry offers no Bearer or Basic challenge ({:?})", challenges);
        }
    }
}

fn hint() -> String {
    format!("(anonymous, or with the credentials in {AUTH_ENV}=user:password)")
}

/// The parameters of a challenge of that scheme.
fn strip_scheme<'a>(challenge: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = challenge.trim().split_once(' ').unwrap_or((challenge.trim(), ""));
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// `realm="https://a/token",service="r",scope="repository:x:pull,push"`.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        c => value.push(c),
                    }
                }
            } else {
                value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
            }
        }
        out.push((key.trim().to_string(), value.trim().to_string()));
    }
    out
}

/// An error for a status that is not 200: what was asked, the status, and
/// the registry's error message (`{"errors":[{"code","message"}]}`).
fn status_error(resp: Response, what: &str) -> Error {
    let (status, reason, url) = (resp.status, resp.reason.clone(), resp.url.to_string());
    let body = resp.bytes(64 << 10).unwrap_or_default();
    let detail = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let msgs: Vec<String> = v["errors"]
                .as_array()?
                .iter()
                .map(|e| format!("{} ({})", e["message"].as_str().unwrap_or(""), e["code"].as_str().unwrap_or("")))
                .collect();
            Some(msgs.join("; "))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string());
    let mut msg = format!("{what}: {url}: {status} {reason}");
    if !detail.is_empty() {
        msg.push_str(&format!(": {detail}"));
    }
    Error::msg(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull,push""#;
        let p = parse_params(strip_scheme(c, "bearer").unwrap());
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("realm"), Some("http://127.0.0.1:1/token"));
        assert_eq!(get("service"), Some("reg"));
        assert_eq!(get("scope"), Some("repository:a/b:pull,push"));
        assert!(strip_scheme(c, "basic").is_none());
        assert_eq!(parse_params(r#"realm=plain, x="a\"b""#), vec![("realm".into(), "plain".into()), ("x".into(), "a\"b".into())]);
        assert!(
            Registry::new("registry-1.docker.io", "library/busybox", false).is_err_and(|e| e.to_string().contains("HTTPS is not built"))
        );
        assert!(Registry::new("127.0.0.1:5000", "a", false).is_ok());
        assert!(Registry::new("[::1]:5000", "a", false).is_ok());
        assert!(Registry::new("r.example:5000", "a", true).is_ok());
    }
}
