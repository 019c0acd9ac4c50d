//! Files the user names: read with a size limit, written without ever being tricked.
//!
//! Reading ([`read_limited`]): `-` is standard input; a regular file larger than the limit is
//! refused before it is read; a FIFO or device (`/dev/zero`, `<(cmd)`) is read once, up to the
//! limit, and opening one that has no writer does not hang. A directory is an error.
//!
//! Writing ([`write_new`]): the content goes to a new temporary file created exclusively in the
//! target directory, with its final mode (0600 for keys) from the first byte, then renamed into
//! place. A symlink or anything but a regular file at the target is refused, an existing file is
//! replaced only when the caller says so (`--overwrite`), and a directory that another user could
//! change under us is refused. The file is never opened by its final name, so a symlink, FIFO or
//! a file owned by someone else planted there cannot redirect, block or keep the write.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// The limits the plugins read user input with.
pub mod limits {
    /// Kubernetes manifests for the NetworkPolicy engine (`-f`): all files of one command together.
    pub const MANIFESTS: u64 = 256 * 1024 * 1024;
    /// A PEM certificate chain or key.
    pub const PEM: u64 = 1024 * 1024;
    /// A checksum file.
    pub const CHECKSUMS: u64 = 1024 * 1024;
    /// A kube-bench report.
    pub const REPORT: u64 = 64 * 1024 * 1024;
    /// Kubeconfig files: `--kubeconfig`, else every `KUBECONFIG` entry, else `~/.kube/config`, all
    /// of one command together.
    pub const KUBECONFIG: u64 = 16 * 1024 * 1024;
    /// A certificate, key or token file a kubeconfig names.
    pub const CREDENTIAL: u64 = 1024 * 1024;
}

fn too_large(what: &str, limit: u64) -> Error {
    Error::new(ErrorKind::TooLarge, format!("{what} is too large: more than {} MiB", limit / (1024 * 1024)))
        .with_hint("give a smaller file; this limit keeps a wrong path (or /dev/zero) from exhausting memory")
}

/// Reads what `path` names (`-` for standard input), at most `limit` bytes. `what` names it in
/// errors, e.g. `--cert ./tls.crt`.
pub fn read_limited(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        return read_stream(std::io::stdin().lock(), what, limit);
    }
    let cannot = |e: std::io::Error| {
        Error::invalid(format!("cannot read {what}: {e}")).with_hint("check the path and that it is readable")
    };
    let file = open_for_reading(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if meta.is_dir() {
        return Err(Error::invalid(format!("cannot read {what}: it is a directory")));
    }
    if meta.is_file() && meta.len() > limit {
        return Err(too_large(what, limit));
    }
    read_stream(file, what, limit)
}

/// Reads what `path` names as UTF-8 text (a leading byte-order mark is dropped).
pub fn read_text(path: &Path, what: &str, limit: u64) -> Result<String> {
    let bytes = read_limited(path, what, limit)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::invalid(format!("{what} is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

fn read_stream(reader: impl Read, what: &str, limit: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::invalid(format!("cannot read {what}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(what, limit));
    }
    Ok(bytes)
}

/// Opens for reading without blocking on a FIFO that has no writer, then reads blockingly (a FIFO
/// with a writer, such as `<(kubectl get pods -o yaml)`, is read to its end).
#[cfg(unix)]
fn open_for_reading(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC).open(path)?;
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL only change its status flags.
    unsafe {
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_for_reading(path: &Path) -> std::io::Result<fs::File> {
    fs::File::open(path)
}

/// How [`write_new`] treats a file that exists at the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse (the default of every plugin).
    Refuse,
    /// Replace a regular file (`--overwrite`). Symlinks and other kinds are still refused.
    Replace,
}

/// Writes `contents` as `dir/name` with `mode` (e.g. 0o600), safely (see the module docs).
/// `flag` names the option that chose the directory, for messages. Returns the path written.
pub fn write_new(
    dir: &Path,
    name: &str,
    contents: &[u8],
    mode: u32,
    existing: Existing,
    flag: &str,
) -> Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::invalid(format!("{name:?} is not a file name")));
    }
    let failed = |doing: &str, e: std::io::Error| Error::other(format!("{doing} in {flag} {}: {e}", dir.display()));
    fs::create_dir_all(dir).map_err(|e| failed("creating the directory", e))?;
    check_directory(dir, flag)?;
    let target = dir.join(name);
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(Error::conflict(format!(
                "{} is a symbolic link; refusing to write through it",
                target.display()
            ))
            .with_hint("remove the link, or choose another directory"));
        }
        Ok(meta) if !meta.is_file() => {
            return Err(Error::conflict(format!("{} exists and is not a regular file", target.display())));
        }
        Ok(_) if existing == Existing::Refuse => {
            return Err(Error::conflict(format!("{} already exists; it was left as it is", target.display()))
                .with_hint("re-run with --overwrite to replace it, or choose another directory"));
        }
        Ok(_) | Err(_) => {}
    }
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Created with O_EXCL and this mode: the content is never readable by others, not even briefly.
    #[cfg(unix)]
    builder.permissions(permissions(mode));
    let mut temp = builder.tempfile_in(dir).map_err(|e| failed("creating a temporary file", e))?;
    set_mode(temp.as_file(), mode).map_err(|e| failed("setting the mode of a temporary file", e))?;
    temp.write_all(contents).map_err(|e| failed("writing", e))?;
    temp.as_file().sync_all().map_err(|e| failed("writing", e))?;
    let persisted = match existing {
        // Atomic "create if absent": a file planted since the check above is not replaced.
        Existing::Refuse => temp.persist_noclobber(&target).map_err(|e| e.error),
        // rename(2) replaces the directory entry itself: a symlink planted since the check is
        // replaced, never followed.
        Existing::Replace => temp.persist(&target).map_err(|e| e.error),
    };
    persisted.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::conflict(format!("{} appeared while writing; it was left as it is", target.display()))
        } else {
            failed("renaming into place", e)
        }
    })?;
    Ok(target)
}

/// Checks, without writing anything, what about `dir` would make [`write_new`] fail, so that a
/// command can refuse before its first change (a Secret created, then no place for its key):
/// `dir` is a directory this process may create files in, that no other user can change; or it
/// does not exist yet and the nearest directory above it is one this process may create it in
/// (it is then created private). `flag` names the option that chose it, for messages.
pub fn check_target_dir(dir: &Path, flag: &str) -> Result<()> {
    let shown = || format!("{flag} {}", dir.display());
    match fs::metadata(dir) {
        Ok(_) => {
            check_directory(dir, flag)?;
            may_write_in(dir).map_err(|e| {
                Error::other(format!("cannot write in {}: {e}", shown()))
                    .with_hint(format!("choose a directory you can write to for {flag}"))
            })
        }
        // Absent, or below something that is not a directory (`a-file/certs`): look above.
        Err(e) if is_missing(&e) => {
            let mut above = dir.parent();
            // `certs` (relative, one level) has the parent "": the current directory.
            while let Some(parent) = above {
                let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
                match fs::metadata(parent) {
                    Ok(meta) if meta.is_dir() => {
                        return may_write_in(parent).map_err(|e| {
                            Error::other(format!(
                                "cannot create {}: {} cannot be written: {e}",
                                shown(),
                                parent.display()
                            ))
                            .with_hint(format!("choose a directory you can write to for {flag}"))
                        });
                    }
                    Ok(_) => {
                        return Err(Error::invalid(format!(
                            "cannot create {}: {} is not a directory",
                            shown(),
                            parent.display()
                        )));
                    }
                    Err(e) if is_missing(&e) => above = parent.parent(),
                    Err(e) => {
                        return Err(Error::other(format!("cannot create {}: {}: {e}", shown(), parent.display())));
                    }
                }
            }
            Err(Error::other(format!("cannot create {}: no directory above it exists", shown())))
        }
        Err(e) => Err(Error::other(format!("cannot use {}: {e}", shown()))),
    }
}

fn is_missing(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
}

/// Whether this process (its effective user) may create entries in `dir`: the permission bits,
/// ACLs and a read-only mount all count, as the kernel decides.
#[cfg(unix)]
fn may_write_in(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path contains a NUL byte"))?;
    // SAFETY: faccessat with a valid NUL-terminated path; it only reads.
    let answer = unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::W_OK | libc::X_OK, libc::AT_EACCESS) };
    if answer == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[cfg(not(unix))]
fn may_write_in(dir: &Path) -> std::io::Result<()> {
    if fs::metadata(dir)?.permissions().readonly() {
        return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "read-only"));
    }
    Ok(())
}

/// A directory another user can change could swap the file between our checks and the rename.
#[cfg(unix)]
fn check_directory(dir: &Path, flag: &str) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).map_err(|e| Error::other(format!("reading {flag} {}: {e}", dir.display())))?;
    if !meta.is_dir() {
        return Err(Error::invalid(format!("{flag} {} is not a directory", dir.display())));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let sticky = meta.mode() & 0o1000 != 0;
    let writable_by_others = meta.mode() & 0o022 != 0;
    if meta.uid() != me && meta.uid() != 0 {
        return Err(Error::conflict(format!(
            "{flag} {} belongs to another user (uid {}); refusing to write a key there",
            dir.display(),
            meta.uid()
        ))
        .with_hint("choose a directory of your own"));
    }
    if writable_by_others && !sticky {
        return Err(Error::conflict(format!(
            "{flag} {} can be written by other users; refusing to write a key there",
            dir.display()
        ))
        .with_hint("choose a directory only you can write to (chmod go-w)"));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_directory(dir: &Path, flag: &str) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::invalid(format!("{flag} {} is not a directory", dir.display())));
    }
    Ok(())
}

#[cfg(unix)]
fn permissions(mode: u32) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(mode)
}

/// The umask may have narrowed the mode at creation; set it exactly (fchmod on our own file).
#[cfg(unix)]
fn set_mode(file: &fs::File, mode: u32) -> std::io::Result<()> {
    file.set_permissions(permissions(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[cfg(unix)] // apart from `test`, so that clippy sees a test module (allow-unwrap-in-tests)
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn new_files_get_their_mode_and_content() {
        let dir = private_dir();
        let key = write_new(dir.path(), "s.key", b"KEY", 0o600, Existing::Refuse, "--write-cert").unwrap();
        let cert = write_new(dir.path(), "s.crt", b"CERT", 0o644, Existing::Refuse, "--write-cert").unwrap();
        assert_eq!((mode(&key), mode(&cert)), (0o600, 0o644));
        assert_eq!(fs::read(&key).unwrap(), b"KEY");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).collect();
        assert_eq!(leftovers.len(), 2, "no temporary file is left");
    }

    #[test]
    fn an_existing_file_is_kept_unless_replacing_is_asked() {
        let dir = private_dir();
        fs::write(dir.path().join("s.key"), "old").unwrap();
        let err = write_new(dir.path(), "s.key", b"new", 0o600, Existing::Refuse, "--write-cert").unwrap_err();
        assert!(err.to_string().contains("--overwrite"), "{err}");
        assert_eq!(fs::read_to_string(dir.path().join("s.key")).unwrap(), "old");
        fs::set_permissions(dir.path().join("s.key"), fs::Permissions::from_mode(0o666)).unwrap();
        write_new(dir.path(), "s.key", b"new", 0o600, Existing::Replace, "--write-cert").unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("s.key")).unwrap(), "new");
        assert_eq!(mode(&dir.path().join("s.key")), 0o600, "a new inode, not the old file's mode");
    }

    #[test]
    fn symlinks_are_never_written_through_even_dangling_ones() {
        let dir = private_dir();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("s.key")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("s.crt")).unwrap();
        for (name, existing) in
            [("s.key", Existing::Refuse), ("s.key", Existing::Replace), ("s.crt", Existing::Replace)]
        {
            let err = write_new(dir.path(), name, b"x", 0o600, existing, "--write-cert").unwrap_err();
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!dir.path().join("nowhere").exists(), "a dangling link creates nothing");
    }

    #[test]
    fn a_fifo_at_the_target_is_refused_without_hanging() {
        let dir = private_dir();
        let fifo = dir.path().join("s.key");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = write_new(dir.path(), "s.key", b"x", 0o600, Existing::Replace, "--write-cert").unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    /// Issue 32: a directory that cannot be written was found only after the cluster changed.
    #[test]
    fn target_directories_are_checked_without_writing() {
        let dir = private_dir();
        check_target_dir(dir.path(), "--write-cert").unwrap();
        check_target_dir(&dir.path().join("new/deeper"), "--write-cert").unwrap();
        assert!(!dir.path().join("new").exists(), "a check creates nothing");
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        let err = check_target_dir(&file, "--write-cert").unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
        let err = check_target_dir(&file.join("below"), "--write-cert").unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
        let open = tempfile::tempdir().unwrap();
        fs::set_permissions(open.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_target_dir(open.path(), "--write-cert").unwrap_err();
        assert!(err.to_string().contains("other users"), "{err}");
        // The kernel refuses new entries in /proc/self even to root: permission bits do not tell.
        if Path::new("/proc/self").is_dir() {
            let err = check_target_dir(Path::new("/proc/self/certs"), "--write-cert").unwrap_err();
            assert!(err.to_string().contains("cannot"), "{err}");
            let err = check_target_dir(Path::new("/proc/self"), "--write-cert").unwrap_err();
            assert!(err.to_string().contains("cannot write in"), "{err}");
        }
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = write_new(dir.path(), "s.key", b"x", 0o600, Existing::Refuse, "--write-cert").unwrap_err();
        assert!(err.to_string().contains("other users"), "{err}");
    }

    #[test]
    fn reads_are_bounded_and_fifos_without_writers_do_not_hang() {
        let dir = private_dir();
        let big = dir.path().join("big");
        fs::write(&big, vec![b'x'; 2048]).unwrap();
        assert_eq!(read_limited(&big, "-f big", 1024).unwrap_err().kind, ErrorKind::TooLarge);
        assert_eq!(read_limited(Path::new("/dev/zero"), "-f /dev/zero", 1024).unwrap_err().kind, ErrorKind::TooLarge);
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_limited(&fifo, "-f fifo", 1024).unwrap(), b"", "no writer: read once, empty");
        assert!(read_limited(dir.path(), "-f dir", 1024).unwrap_err().to_string().contains("directory"));
        assert_eq!(read_text(&big, "x", 4096).unwrap().len(), 2048);
    }
}
