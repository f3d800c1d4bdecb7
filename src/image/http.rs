//! A small blocking HTTP/1.1 client over `std::net::TcpStream`, enough for a
//! registry: GET and HEAD, bodies framed by Content-Length, chunked, or the
//! end of the connection, and redirects (to another host too). One request
//! per connection (`Connection: close`). Plain HTTP only: kiste has no TLS
//! stack, and an `https://` URL is refused with an error that says so.
//! Everything read from the network is bounded and checked; a bad answer is
//! an error naming the URL, never a panic.

use crate::error::{Context, Error, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_LINE: usize = 16 << 10;
const MAX_HEADERS: usize = 200;
const MAX_REDIRECTS: usize = 10;

/// An absolute `http://` or `https://` URL, split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// The host as written, brackets kept for IPv6 (`[::1]`).
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url> {
        let (https, rest) = if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else {
            crate::bail!("URL {s:?}: not http:// or https://");
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
        let path = path.split('#').next().unwrap_or("/").to_string();
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = split_host_port(authority).with_context(|| format!("URL {s:?}"))?;
        let port = port.unwrap_or(if https { 443 } else { 80 });
        if host.is_empty() || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            crate::bail!("URL {s:?}: no host, or a space or control character in it");
        }
        Ok(Url { https, host, port, path })
    }

    /// `host` or `host:port` (the port only when it is not the scheme's).
    pub fn authority(&self) -> String {
        if self.port == if self.https { 443 } else { 80 } { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }

    /// A `Location` header's target, relative to this URL.
    pub fn join(&self, location: &str) -> Result<Url> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Url::parse(location);
        }
        let scheme = if self.https { "https" } else { "http" };
        if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("{scheme}://{rest}"));
        }
        let path = if location.starts_with('/') {
            location.to_string()
        } else {
            let base = self.path.split('?').next().unwrap_or("/");
            format!("{}{location}", &base[..base.rfind('/').map_or(0, |i| i + 1)])
        };
        Url::parse(&format!("{scheme}://{}{path}", self.authority()))
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", if self.https { "https" } else { "http" }, self.authority(), self.path)
    }
}

/// `host[:port]`, `[v6][:port]`.
pub fn split_host_port(s: &str) -> Result<(String, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']').ok_or_else(|| Error::msg(format!("{s:?}: an IPv6 address without its ']'")))?;
        let port = s[end + 1..].strip_prefix(':');
        if port.is_none() && end + 1 != s.len() {
            crate::bail!("{s:?}: something after the IPv6 address");
        }
        (&s[..=end], port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().map_err(|_| Error::msg(format!("{s:?}: port {p:?} is not a number up to 65535")))?),
        None => None,
    };
    if host.bytes().any(|b| !(b.is_ascii_alphanumeric() || b"-._[]:".contains(&b))) {
        crate::bail!("{s:?}: not a host name");
    }
    Ok((host.to_ascii_lowercase(), port))
}

/// Percent-encodes a query value (everything but the unreserved characters).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response: status, headers, and the body to read.
pub struct Response {
    pub status: u16,
    pub reason: String,
    headers: Vec<(String, String)>,
    /// The URL that answered (after redirects).
    pub url: Url,
    body: Body,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every header of that name.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body, up to `limit` bytes (more is an error).
    pub fn bytes(mut self, limit: u64) -> Result<Vec<u8>> {
        let mut b = Vec::new();
        let url = self.url.to_string();
        (&mut self).take(limit.saturating_add(1)).read_to_end(&mut b).with_context(|| format!("{url}: read the body"))?;
        if b.len() as u64 > limit {
            crate::bail!("{url}: the body is larger than {limit} bytes");
        }
        Ok(b)
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.body.read(buf)
    }
}

enum Framing {
    Length(u64),
    /// Bytes left in the current chunk; `None` before the first size line.
    Chunked(Option<u64>),
    Close,
    Done,
}

struct Body {
    r: BufReader<TcpStream>,
    framing: Framing,
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.framing {
                Framing::Done => return Ok(0),
                Framing::Close => return self.r.read(buf),
                Framing::Length(0) => {
                    self.framing = Framing::Done;
                    return Ok(0);
                }
                Framing::Length(left) => {
                    let max = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.r.read(&mut buf[..max])?;
                    if n == 0 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("the connection closed with {left} bytes of the body still to come"),
                        ));
                    }
                    self.framing = Framing::Length(left - n as u64);
                    return Ok(n);
                }
                Framing::Chunked(Some(0)) | Framing::Chunked(None) => {
                    if matches!(self.framing, Framing::Chunked(Some(0))) {
                        // The CRLF after a chunk's data.
                        let end = read_line(&mut self.r)?;
                        if !end.is_empty() {
                            return Err(bad("a chunk longer than its size line says"));
                        }
                    }
                    let line = read_line(&mut self.r)?;
                    let hex = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(hex, 16).map_err(|_| bad(format!("chunk size line {line:?}")))?;
                    if size == 0 {
                        // Trailers, up to the empty line.
                        for _ in 0..MAX_HEADERS {
                            if read_line(&mut self.r)?.is_empty() {
                                self.framing = Framing::Done;
                                return Ok(0);
                            }
                        }
                        return Err(bad("too many trailer lines"));
                    }
                    self.framing = Framing::Chunked(Some(size));
                }
                Framing::Chunked(Some(left)) => {
                    let max = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.r.read(&mut buf[..max])?;
                    if n == 0 {
                        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the connection closed inside a chunk"));
                    }
                    self.framing = Framing::Chunked(Some(left - n as u64));
                    return Ok(n);
                }
            }
        }
    }
}

/// One line without its CRLF (or LF), at most MAX_LINE bytes.
fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE {
            bad("a header line longer than 16 kB")
        } else {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the connection closed in the middle of the headers")
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| bad("a header line that is not UTF-8"))
}

/// One request, no redirects followed. `headers` are sent as given.
pub fn request(method: &str, url: &Url, headers: &[(&str, &str)]) -> Result<Response> {
    if url.https {
        crate::bail!(
            "{url}: HTTPS is not built into kiste (it has no TLS stack); it reaches registries over plain HTTP only: \
             on this machine (localhost, 127.0.0.1, [::1]) or with --insecure"
        );
    }
    let host = url.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (host, url.port).to_socket_addrs().with_context(|| format!("{url}: resolve {}", url.host))?.collect();
    let mut last = None;
    let mut stream = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = match (stream, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(e).with_context(|| format!("{url}: connect to {}", url.authority())),
        (None, None) => crate::bail!("{url}: {} has no address", url.host),
    };
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let mut head = format!("{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: kiste\r\nConnection: close\r\n", url.path, url.authority());
    for (k, v) in headers {
        if v.contains(['\r', '\n']) {
            crate::bail!("{url}: header {k}: a line break in its value");
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    (&stream).write_all(head.as_bytes()).with_context(|| format!("{url}: send the request"))?;
    let mut r = BufReader::with_capacity(64 << 10, stream);
    let status_line = read_line(&mut r).with_context(|| format!("{url}: read the response"))?;
    let mut parts = status_line.splitn(3, ' ');
    let (version, code, reason) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let status = code.parse::<u16>().ok().filter(|c| (100..600).contains(c) && version.starts_with("HTTP/1."));
    let Some(status) = status else { crate::bail!("{url}: not an HTTP/1.x response: {status_line:?}") };
    let mut hdrs = Vec::new();
    loop {
        let line = read_line(&mut r).with_context(|| format!("{url}: read the response headers"))?;
        if line.is_empty() {
            break;
        }
        if hdrs.len() == MAX_HEADERS {
            crate::bail!("{url}: more than {MAX_HEADERS} response headers");
        }
        let (k, v) = line.split_once(':').ok_or_else(|| Error::msg(format!("{url}: response header {line:?} has no ':'")))?;
        hdrs.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut resp =
        Response { status, reason: reason.to_string(), headers: hdrs, url: url.clone(), body: Body { r, framing: Framing::Done } };
    let chunked = resp.header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    resp.body.framing = if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Done
    } else if chunked {
        Framing::Chunked(None)
    } else if let Some(len) = resp.header("content-length") {
        Framing::Length(len.parse().map_err(|_| Error::msg(format!("{url}: Content-Length {len:?} is not a number")))?)
    } else {
        Framing::Close
    };
    Ok(resp)
}

/// A GET (or HEAD) that follows redirects. `auth` (an Authorization value)
/// goes only to the first URL's host: a blob redirected to storage
/// elsewhere is fetched without the registry's credentials.
pub fn get(method: &str, url: &Url, accept: Option<&str>, auth: Option<&str>) -> Result<Response> {
    let mut url = url.clone();
    let origin = (url.host.clone(), url.port);
    for _ in 0..=MAX_REDIRECTS {
        let mut headers = Vec::new();
        if let Some(a) = accept {
            headers.push(("Accept", a));
        }
        if let Some(a) = auth
            && (url.host.as_str(), url.port) == (origin.0.as_str(), origin.1)
        {
            headers.push(("Authorization", a));
        }
        let resp = request(method, &url, &headers)?;
        if matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
            let loc =
                resp.header("location").ok_or_else(|| Error::msg(format!("{url}: a redirect ({}) without a Location", resp.status)))?;
            url = url.join(loc).with_context(|| format!("{url}: redirect"))?;
            continue;
        }
        return Ok(resp);
    }
    crate::bail!("{url}: more than {MAX_REDIRECTS} redirects")
}

/// Standard base64, for a Basic Authorization value.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://127.0.0.1:5000/v2/a/b?x=1").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("127.0.0.1", 5000, "/v2/a/b?x=1"));
        assert_eq!(u.join("/other").unwrap().to_string(), "http://127.0.0.1:5000/other");
        assert_eq!(u.join("c").unwrap().to_string(), "http://127.0.0.1:5000/v2/a/c");
        assert_eq!(u.join("http://localhost/z").unwrap().to_string(), "http://localhost/z");
        assert_eq!(u.join("//h:81/y").unwrap().to_string(), "http://h:81/y");
        let v6 = Url::parse("http://[::1]:8080").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.path.as_str()), ("[::1]", 8080, "/"));
        assert!(Url::parse("https://r.example").unwrap().https);
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://h:99999/").is_err());
        assert!(Url::parse("http://h/a b").is_err());
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    /// Serves one canned response on a loopback port.
    fn serve(answer: &'static [u8]) -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(answer);
        });
        port
    }

    fn err<T>(r: Result<T>) -> String {
        match r {
            Ok(_) => panic!("no error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bodies_and_bad_answers() {
        let get = |answer: &'static [u8]| {
            let port = serve(answer);
            request("GET", &Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(), &[])
        };
        let r = get(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(r.bytes(100).unwrap(), b"hello");
        let r = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nT: 1\r\n\r\n").unwrap();
        assert_eq!(r.bytes(100).unwrap(), b"hello");
        let r = get(b"HTTP/1.0 200 OK\r\n\r\nuntil close").unwrap();
        assert_eq!(r.bytes(100).unwrap(), b"until close");
        let r = get(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").unwrap();
        assert!(r.bytes(100).unwrap_err().to_string().contains("still to come"));
        let r = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").unwrap();
        assert!(r.bytes(100).unwrap_err().to_string().contains("chunk size"));
        let r = get(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\ntoo long!!!").unwrap();
        assert!(r.bytes(4).unwrap_err().to_string().contains("larger than 4"));
        assert!(err(get(b"SSH-2.0-OpenSSH\r\n")).contains("not an HTTP/1.x response"));
        assert!(err(get(b"HTTP/1.1 200 OK\r\nBroken\r\n\r\n")).contains("has no ':'"));
        assert!(err(get(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")).contains("not a number"));
        let e = err(request("GET", &Url::parse("https://registry.example/v2/").unwrap(), &[]));
        assert!(e.contains("HTTPS is not built into kiste"), "{e}");
    }
}
