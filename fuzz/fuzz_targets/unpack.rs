//! A layer as kiste unpacks it: any bytes through
//! `image::unpack::decompressed` (gzip, zstd or plain, as `image import`
//! and `image pull` read a blob) and `image::unpack::unpack`, into a fresh
//! directory each run. Errors are fine; a panic is not, and neither is a
//! change to anything outside that directory.
//!
//! The first byte of the input picks a mode, the rest is the layer:
//! - bit 0: every tar header's checksum is set right first (else nearly
//!   every mutation of a header would only reach the checksum error);
//! - bit 1: the layer is gzip'd first, as most registries serve layers.
//!
//! The layer goes to `BASE/a/b/layer`; `BASE`, `BASE/a` and `BASE/a/b`
//! each hold an `outside/` with files, a directory and a symlink in it.
//! After every run all of `BASE` but `layer` must be exactly as before
//! (names, types, modes, owners, link counts, contents, link targets), so a
//! write, chmod, chown, hardlink or removal that escapes the layer by up to
//! three `..` is caught. (An escape through an absolute symlink would land
//! on the host's own paths, which cannot be watched this way; the unpacker
//! resolves every path with RESOLVE_IN_ROOT, which makes both the same.)
//!
//! Files are capped at 64 MiB (RLIMIT_FSIZE): a few bytes of layer that
//! expand past that end the run with SIGXFSZ, which libFuzzer reports.
//!
//! BASE is `$KISTE_FUZZ_TMP/kiste-fuzz-unpack.PID` (default: the temp dir),
//! removed at exit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What is watched of one path outside the layer.
#[derive(PartialEq, Eq, Debug, Clone)]
struct Stat {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    content: Option<Vec<u8>>,
    target: Option<PathBuf>,
}

struct Place {
    base: PathBuf,
    layer: PathBuf,
    before: BTreeMap<PathBuf, Stat>,
}

static PLACE: OnceLock<Place> = OnceLock::new();

const FILE_LIMIT: u64 = 64 << 20;

fuzz_target!(
    init: {
        kiste::logging::init(Some("/dev/null".into()), kiste::logging::Format::Text, false);
        let limit = libc::rlimit { rlim_cur: FILE_LIMIT, rlim_max: FILE_LIMIT };
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &limit) }, 0, "setrlimit RLIMIT_FSIZE");
        PLACE.get_or_init(setup);
        unsafe { libc::atexit(cleanup) };
    },
    |data: &[u8]| {
        let Some((&mode, rest)) = data.split_first() else { return };
        let mut layer = rest.to_vec();
        if mode & 1 != 0 {
            fix_checksums(&mut layer);
        }
        if mode & 2 != 0 {
            layer = gzip(&layer);
        }
        let place = PLACE.get().expect("set up in init");
        std::fs::create_dir(&place.layer).expect("create the layer directory");
        if let Ok(stream) = kiste::image::unpack::decompressed(&layer[..], "").map_err(|e| e.to_string()) {
            let _ = kiste::image::unpack::unpack(stream, &place.layer).map_err(|e| e.to_string());
        }
        let after = snapshot(&place.base, &place.layer);
        if after != place.before {
            panic!("the layer changed something outside its directory:\n{}", differences(&place.before, &after));
        }
        remove(&place.layer);
    }
);

fn setup() -> Place {
    let tmp = std::env::var_os("KISTE_FUZZ_TMP").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let base = tmp.join(format!("kiste-fuzz-unpack.{}", std::process::id()));
    if base.exists() {
        remove(&base);
    }
    let parent = base.join("a/b");
    std::fs::create_dir_all(&parent).expect("create the fuzz directory");
    for dir in [base.clone(), base.join("a"), parent.clone()] {
        let outside = dir.join("outside");
        std::fs::create_dir_all(outside.join("dir")).expect("create outside/dir");
        std::fs::write(outside.join("file"), b"sentinel\n").expect("create outside/file");
        std::fs::write(outside.join("dir/file"), b"sentinel\n").expect("create outside/dir/file");
        std::fs::set_permissions(outside.join("file"), std::fs::Permissions::from_mode(0o640)).expect("chmod");
        std::os::unix::fs::symlink("file", outside.join("link")).expect("create outside/link");
    }
    // Taken with the layer's directory there, as it is when checked.
    let layer = parent.join("layer");
    std::fs::create_dir(&layer).expect("create the layer directory");
    let before = snapshot(&base, &layer);
    remove(&layer);
    Place { base, layer, before }
}

extern "C" fn cleanup() {
    if let Some(p) = PLACE.get() {
        let _ = std::fs::remove_dir_all(&p.base);
    }
}

/// Everything under `root` but `skip`, by path relative to `root`, never
/// following a symlink.
fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, Stat> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(_) => continue,
        };
        let ft = m.file_type();
        let content = if ft.is_file() { std::fs::read(&p).ok() } else { None };
        let target = if ft.is_symlink() { std::fs::read_link(&p).ok() } else { None };
        if ft.is_dir() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                if e.path() != skip {
                    todo.push(e.path());
                }
            }
        }
        let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
        out.insert(rel, Stat { mode: m.mode(), uid: m.uid(), gid: m.gid(), nlink: m.nlink(), content, target });
    }
    out
}

fn differences(before: &BTreeMap<PathBuf, Stat>, after: &BTreeMap<PathBuf, Stat>) -> String {
    let mut out = String::new();
    for (p, s) in before {
        match after.get(p) {
            None => out += &format!("  removed: {}\n", p.display()),
            Some(a) if a != s => out += &format!("  changed: {}: {s:?} -> {a:?}\n", p.display()),
            Some(_) => {}
        }
    }
    for (p, a) in after {
        if !before.contains_key(p) {
            out += &format!("  added: {}: {a:?}\n", p.display());
        }
    }
    out
}

/// Removes the layer; where a directory's mode keeps even its owner out
/// (not as root), its modes are opened up first.
fn remove(p: &Path) {
    if std::fs::remove_dir_all(p).is_ok() {
        return;
    }
    let mut todo = vec![p.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(m) = std::fs::symlink_metadata(&d) else { continue };
        if m.is_dir() {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
            todo.extend(std::fs::read_dir(&d).into_iter().flatten().flatten().map(|e| e.path()));
        }
    }
    std::fs::remove_dir_all(p).unwrap_or_else(|e| panic!("remove {}: {e}", p.display()));
}

/// Sets the checksum of every tar header where a reader would look for one:
/// the first block, then each block after an entry's data (and after a GNU
/// sparse header's extension blocks). Zero blocks are passed over.
fn fix_checksums(b: &mut [u8]) {
    let mut pos = 0usize;
    while pos + 512 <= b.len() {
        let h = &mut b[pos..pos + 512];
        if h.iter().all(|&c| c == 0) {
            pos += 512;
            continue;
        }
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&c| u32::from(c)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let size = header_size(&h[124..136]);
        let sparse_ext = h[156] == b'S' && h[482] != 0;
        let mut next = pos + 512;
        if sparse_ext {
            while next + 512 <= b.len() {
                let more = b[next + 504] != 0;
                next += 512;
                if !more {
                    break;
                }
            }
        }
        let Some(data) = usize::try_from(size).ok().and_then(|s| s.checked_next_multiple_of(512)) else { return };
        let Some(n) = next.checked_add(data) else { return };
        pos = n;
    }
}

/// A tar size field: octal text, or big-endian binary when the first
/// byte's high bit is set.
fn header_size(f: &[u8]) -> u64 {
    if f[0] & 0x80 != 0 {
        return f[f.len() - 8..].iter().fold(0u64, |n, &c| (n << 8) | u64::from(c));
    }
    let text: String = f.iter().map(|&c| c as char).filter(|c| !matches!(c, ' ' | '\0')).collect();
    u64::from_str_radix(&text, 8).unwrap_or(0)
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}
