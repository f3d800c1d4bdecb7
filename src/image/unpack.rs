//! Unpacking one layer (a tar stream) into an empty directory of its own,
//! safely: every path is resolved inside that directory (`openat2` with
//! `RESOLVE_IN_ROOT`), `..` in an entry's name is refused, the last
//! component is never followed (a write never goes through a symlink),
//! hardlinks can only point inside the layer, device nodes are not made,
//! and GNU sparse files are refused (their holes are unbounded).
//! OCI whiteouts become overlayfs ones: `.wh.NAME` a 0:0 character device,
//! `.wh..wh..opq` the `trusted.overlay.opaque` attribute.

use crate::error::{Context, Error, Result};
use crate::rootfs::resolve;
use nix::errno::Errno;
use std::ffi::CString;
use std::io::{BufRead, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What unpacking left out, for a warning.
#[derive(Default, Debug)]
pub struct Skipped {
    pub devices: Vec<String>,
}

/// Unpacks the tar stream `r` into `dest`, an existing empty directory.
pub fn unpack(r: impl Read, dest: &Path) -> Result<Skipped> {
    let root = open_dir(dest)?;
    let mut skipped = Skipped::default();
    let mut archive = tar::Archive::new(r);
    let root_user = nix::unistd::geteuid().is_root();
    for (i, entry) in archive.entries().context("read layer")?.enumerate() {
        let mut e = entry.with_context(|| format!("read layer entry {i}"))?;
        let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let what = || format!("layer entry {raw:?}");
        let Some(path) = clean(&raw).with_context(what)? else { continue };
        let name = path.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_default();
        let parent_path = path.parent().unwrap_or(Path::new(""));
        // Whiteouts, in overlayfs' own form.
        if name == b".wh..wh..opq" {
            let dir = resolve::mkdir_all(&root, parent_path, 0o755).with_context(what)?;
            let dir = reopen(&dir, libc::O_RDONLY | libc::O_DIRECTORY).with_context(what)?;
            xattr(&dir, "trusted.overlay.opaque", b"y").with_context(what)?;
            continue;
        }
        let parent = resolve::mkdir_all(&root, parent_path, 0o755).with_context(what)?;
        if let Some(hidden) = name.strip_prefix(b".wh.") {
            if matches!(hidden, b"" | b"." | b"..") {
                return Err(Error::msg(format!("{}: a whiteout of {:?} is not allowed", path.display(), String::from_utf8_lossy(hidden))));
            }
            let c = cname(hidden)?;
            remove(&parent, &c).with_context(what)?;
            check(unsafe { libc::mknodat(parent.as_raw_fd(), c.as_ptr(), libc::S_IFCHR, 0) }).with_context(what)?;
            continue;
        }
        let c = cname(&name)?;
        let header = e.header().clone();
        let kind = header.entry_type();
        let mut mode = header.mode().unwrap_or(0o644) & 0o7777;
        if !root_user {
            mode &= !0o6000;
        }
        if !kind.is_dir() {
            remove(&parent, &c).with_context(what)?;
        }
        match kind {
            tar::EntryType::Directory => match check(unsafe { libc::mkdirat(parent.as_raw_fd(), c.as_ptr(), 0o700) }) {
                Ok(()) => {}
                Err(Errno::EEXIST) if is_dir(&parent, &c) => {}
                // A symlink or file of that name: the directory replaces
                // it, so that the chmod below cannot go through a symlink
                // to something outside the layer.
                Err(Errno::EEXIST) => {
                    remove(&parent, &c).with_context(what)?;
                    check(unsafe { libc::mkdirat(parent.as_raw_fd(), c.as_ptr(), 0o700) }).with_context(what)?;
                }
                Err(err) => return Err(err).with_context(what),
            },
            // Its holes, read as zeros and written out, let a few bytes of
            // layer fill the disk (1 GiB from a 2 KiB layer, or any size);
            // OCI layers should not hold sparse files (image-spec).
            tar::EntryType::GNUSparse => {
                crate::bail!(
                    "{}: a GNU sparse file ({} bytes from {} in the layer): not supported",
                    what(),
                    e.size(),
                    header.entry_size().unwrap_or(0)
                )
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = unsafe {
                    libc::openat(
                        parent.as_raw_fd(),
                        c.as_ptr(),
                        libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                        0o600,
                    )
                };
                if fd < 0 {
                    return Err(Errno::last()).with_context(what);
                }
                let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
                std::io::copy(&mut e, &mut f).with_context(what)?;
            }
            tar::EntryType::Symlink => {
                let target = e.link_name_bytes().ok_or_else(|| Error::msg(format!("{}: a symlink without a target", what())))?;
                let t = cname(&target)?;
                check(unsafe { libc::symlinkat(t.as_ptr(), parent.as_raw_fd(), c.as_ptr()) }).with_context(what)?;
            }
            tar::EntryType::Link => {
                let target = e.link_name_bytes().ok_or_else(|| Error::msg(format!("{}: a hardlink without a target", what())))?;
                let target = String::from_utf8_lossy(&target).into_owned();
                let t =
                    clean(&target).with_context(what)?.ok_or_else(|| Error::msg(format!("{}: a hardlink to the layer's root", what())))?;
                let src = resolve::open(&root, &t, libc::O_PATH | libc::O_NOFOLLOW)
                    .with_context(|| format!("{}: hardlink target {target:?} (inside the layer)", what()))?;
                let ret = unsafe { libc::linkat(src.as_raw_fd(), c"".as_ptr(), parent.as_raw_fd(), c.as_ptr(), libc::AT_EMPTY_PATH) };
                check(ret).with_context(what)?;
                continue; // a hardlink shares its target's owner and mode
            }
            tar::EntryType::Fifo => {
                check(unsafe { libc::mknodat(parent.as_raw_fd(), c.as_ptr(), libc::S_IFIFO | 0o600, 0) }).with_context(what)?;
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                // The runtime makes the devices a container gets.
                skipped.devices.push(path.display().to_string());
                continue;
            }
            // Global/extended headers and the like carry no file.
            _ => continue,
        }
        let uid = header.uid().unwrap_or(0) as u32;
        let gid = header.gid().unwrap_or(0) as u32;
        check(unsafe { libc::fchownat(parent.as_raw_fd(), c.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) }).with_context(what)?;
        if !kind.is_symlink() {
            check(unsafe { libc::fchmodat(parent.as_raw_fd(), c.as_ptr(), mode, 0) }).with_context(what)?;
        }
        if let Ok(mtime) = header.mtime() {
            let t = libc::timespec { tv_sec: mtime as _, tv_nsec: 0 };
            let times = [t, t];
            unsafe { libc::utimensat(parent.as_raw_fd(), c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
        }
    }
    Ok(skipped)
}

/// A layer blob's tar stream: gzip or zstd decompressed (by the media type,
/// or by the blob's first bytes), anything else read as it is.
pub fn decompressed<'a>(mut r: impl BufRead + 'a, media: &str) -> Result<Box<dyn Read + 'a>> {
    let magic = r.fill_buf().context("read layer")?.get(..4).map(|m| m.to_vec()).unwrap_or_default();
    let gzip = media.ends_with("gzip") || magic.starts_with(&[0x1f, 0x8b]);
    let zstd = media.ends_with("zstd") || magic == [0x28, 0xb5, 0x2f, 0xfd];
    Ok(if gzip {
        Box::new(flate2::read::GzDecoder::new(r))
    } else if zstd {
        Box::new(zstd::stream::read::Decoder::with_buffer(r).context("zstd")?)
    } else {
        Box::new(r)
    })
}

/// An entry's name as a relative path: a leading `/` or `./` is dropped,
/// `..` is refused. None for the layer's root itself.
fn clean(raw: &str) -> Result<Option<PathBuf>> {
    let mut out = PathBuf::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => crate::bail!("'..' in a layer path leads out of the layer"),
            p => out.push(p),
        }
    }
    Ok(if out.as_os_str().is_empty() { None } else { Some(out) })
}

fn cname(b: &[u8]) -> Result<CString> {
    CString::new(b).map_err(|_| Error::msg("a name with a NUL byte"))
}

fn check(ret: i32) -> std::result::Result<(), Errno> {
    if ret < 0 { Err(Errno::last()) } else { Ok(()) }
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    let c = cname(p.as_os_str().as_bytes())?;
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last()).with_context(|| format!("open {}", p.display()));
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn reopen(fd: &OwnedFd, flags: i32) -> std::result::Result<OwnedFd, Errno> {
    let ret = unsafe { libc::openat(fd.as_raw_fd(), c".".as_ptr(), flags | libc::O_CLOEXEC) };
    if ret < 0 { Err(Errno::last()) } else { Ok(unsafe { OwnedFd::from_raw_fd(ret) }) }
}

fn xattr(fd: &OwnedFd, name: &str, value: &[u8]) -> std::result::Result<(), Errno> {
    let n = CString::new(name).map_err(|_| Errno::EINVAL)?;
    check(unsafe { libc::fsetxattr(fd.as_raw_fd(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) })
}

/// Whether `name` in `parent` is a directory itself (not a symlink to one).
fn is_dir(parent: &OwnedFd, name: &CString) -> bool {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let ret = unsafe { libc::fstatat(parent.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    ret == 0 && st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// Removes what a later entry replaces (not a directory: a directory entry
/// over an existing directory only changes its attributes).
fn remove(parent: &OwnedFd, name: &CString) -> std::result::Result<(), Errno> {
    // A whiteout `.wh..` or `.wh...` names the directory itself or its
    // parent: never something to remove.
    if matches!(name.as_bytes(), b"" | b"." | b"..") {
        return Err(Errno::EINVAL);
    }
    match check(unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), 0) }) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::EISDIR) => remove_tree(parent, name, 0),
        Err(e) => Err(e),
    }
}

/// Removes the directory `name` and everything in it, by fd, following no
/// symlink.
fn remove_tree(parent: &OwnedFd, name: &CString, depth: u32) -> std::result::Result<(), Errno> {
    if depth > 512 {
        return Err(Errno::ELOOP);
    }
    let fd =
        unsafe { libc::openat(parent.as_raw_fd(), name.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    let dir = unsafe { OwnedFd::from_raw_fd(fd) };
    for n in crate::rootfs::copyup::entries(&dir)? {
        match check(unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), 0) }) {
            Err(Errno::EISDIR) => remove_tree(&dir, &n, depth + 1)?,
            Err(Errno::ENOENT) | Ok(()) => {}
            Err(e) => return Err(e),
        }
    }
    check(unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) })
}

#[cfg(test)]
mod tests {
    use super::unpack;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    /// A scratch directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let p = std::env::temp_dir().join(format!("kiste-unpack-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Scratch(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A layer of a symlink `name` to `target`, then a directory `name`
    /// of mode 0o777 owned by us.
    fn symlink_then_dir(name: &str, target: &Path) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, name, target).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_uid(nix::unistd::geteuid().as_raw().into());
        h.set_gid(nix::unistd::getegid().as_raw().into());
        b.append_data(&mut h, name, std::io::empty()).unwrap();
        b.into_inner().unwrap()
    }

    /// A GNU sparse entry: 512 bytes of data at 1 GiB. Written out, its
    /// hole was 1 GiB of zeros from a 2 KiB layer (any size, with a larger
    /// offset). Seen while writing the unpack fuzz target, whose file size
    /// limit (RLIMIT_FSIZE) catches it.
    #[test]
    fn a_sparse_file_is_refused_not_expanded() {
        let s = Scratch::new("sparse");
        let mut h = [0u8; 512];
        let fields: [(usize, &[u8]); 10] = [
            (0, b"big"),
            (100, b"0000644\0"),
            (124, b"00000001000\0"),
            (136, b"00000000000\0"),
            (148, b"        "),
            (156, b"S"),
            (257, b"ustar  \0"),
            (386, b"10000000000\0"), // first block: offset 1 GiB ...
            (398, b"00000001000\0"), // ... 512 bytes long
            (483, b"10000001000\0"), // real size
        ];
        for (off, v) in fields {
            h[off..off + v.len()].copy_from_slice(v);
        }
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut layer = h.to_vec();
        layer.extend_from_slice(&[b'A'; 512]);
        layer.extend_from_slice(&[0; 1024]);
        let err = unpack(&layer[..], &s.0).unwrap_err().to_string();
        assert!(err.contains("\"big\": a GNU sparse file"), "{err}");
        assert!(std::fs::metadata(s.0.join("big")).is_err(), "nothing written");
    }

    /// Seen while writing the unpack fuzz target (fuzz/, hack/fuzz.sh),
    /// whose check of the directories around the layer catches it: a
    /// directory entry over a symlink of the same name had its mode set
    /// through the symlink, on whatever the symlink named outside the
    /// layer (`../x`, or `/` itself).
    #[test]
    fn a_directory_over_a_symlink_does_not_chmod_its_target() {
        let s = Scratch::new("dir-over-symlink");
        let outside = s.0.join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o750)).unwrap();
        for (i, target) in [Path::new("../outside"), outside.as_path()].into_iter().enumerate() {
            let layer = s.0.join(format!("layer{i}"));
            std::fs::create_dir(&layer).unwrap();
            unpack(&symlink_then_dir("up", target)[..], &layer).unwrap();
            assert_eq!(std::fs::metadata(&outside).unwrap().mode() & 0o7777, 0o750, "{target:?}: mode changed outside the layer");
            let up = std::fs::symlink_metadata(layer.join("up")).unwrap();
            assert!(up.is_dir(), "{target:?}: the directory replaces the symlink");
            assert_eq!(up.mode() & 0o7777, 0o777);
        }
    }

    /// A whiteout `.wh...` names `..`, the directory above the one it is
    /// in, and `.wh..` that directory itself: unlinking either fails with
    /// EISDIR, and the tree removal that follows would have emptied the
    /// layer's parent (the other layers, the store). Refused.
    #[test]
    fn a_whiteout_of_dot_or_dotdot_is_refused() {
        let s = Scratch::new("whiteout-dotdot");
        let layer = s.0.join("store/layer");
        std::fs::create_dir_all(&layer).unwrap();
        std::fs::write(s.0.join("store/other-layer"), "keep").unwrap();
        std::fs::write(layer.join("mine"), "keep").unwrap();
        for name in ["a/.wh...", ".wh...", ".wh..", "a/.wh.."] {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(0);
            h.set_mode(0o644);
            b.append_data(&mut h, name, std::io::empty()).unwrap();
            let err = unpack(&b.into_inner().unwrap()[..], &layer).unwrap_err();
            assert!(err.to_string().contains("whiteout"), "{name}: {err}");
            assert!(s.0.join("store/other-layer").exists() && layer.join("mine").exists(), "{name}: a whiteout removed files");
        }
    }
}
