//! Reading the user's PEM files (bounded) and writing the certificate and key for curl tests
//! through the runtime's safe writer: new files only (or `--overwrite-files`), the key 0600 from
//! its first byte, never through a symlink. Everything that can be known about the target is
//! checked before the cluster is changed ([`check_pair`]), and nothing is written in a dry run.

use std::path::{Path, PathBuf};

use harden_cli::Error;
use harden_cli::files::{Existing, check_target_dir, limits, read_limited, write_new};

use harden_tls::cert::Material;

/// The flag that lets `create --write-cert` replace existing local files. `--overwrite` is for
/// objects in the cluster only: one flag never grants both.
pub const REPLACE_FLAG: &str = "--overwrite-files";

/// Reads a PEM file named by `flag`; a missing, unreadable or oversized file is invalid input.
pub fn read(flag: &str, path: &Path) -> Result<Vec<u8>, Error> {
    read_limited(path, &format!("{flag} {}", path.display()), limits::PEM)
        .map_err(|e| if e.hint.is_none() { e.with_hint(format!("give a readable PEM file to {flag}")) } else { e })
}

fn names(name: &str) -> (String, String) {
    (format!("{name}.crt"), format!("{name}.key"))
}

/// The two files `--write-cert DIR` writes for the Secret `name`.
pub fn paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = names(name);
    (dir.join(cert), dir.join(key))
}

/// Refuses, before anything is changed in the cluster, a `--write-cert` that would fail: a
/// directory that cannot be written (or created) or that other users can change, an existing file
/// (unless `replace`), a symlink or a non-regular file at either name. With `probe` (not in a dry
/// run, which writes nothing) a file is also created and removed in DIR, to catch what
/// permissions do not tell (a pseudo-filesystem such as /sys).
pub fn check_pair(dir: &Path, name: &str, replace: bool, probe: bool) -> Result<(), Error> {
    check(dir, name, replace, probe).map_err(|mut e| {
        e.message.push_str("; nothing was changed");
        e
    })
}

fn check(dir: &Path, name: &str, replace: bool, probe: bool) -> Result<(), Error> {
    check_target_dir(dir, "--write-cert")?;
    let (cert, key) = names(name);
    for file in [cert, key] {
        let path = dir.join(&file);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::conflict(format!(
                    "{} is a symbolic link; refusing to write through it",
                    path.display()
                ))
                .with_hint("remove the link, or choose another --write-cert directory"));
            }
            Ok(meta) if !meta.is_file() => {
                return Err(Error::conflict(format!("{} exists and is not a regular file", path.display())));
            }
            Ok(_) if !replace => return Err(exists(&path)),
            _ => {}
        }
    }
    if probe && dir.is_dir() {
        let probe = dir.join(format!(".{name}.probe-{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&probe).map_err(|e| {
            Error::other(format!("cannot write in --write-cert {}: {e}", dir.display()))
                .with_hint("choose a directory you can write to for --write-cert")
        })?;
        std::fs::remove_file(&probe)?;
    }
    Ok(())
}

fn exists(path: &Path) -> Error {
    Error::conflict(format!("{} already exists", path.display())).with_hint(format!(
        "re-run with {REPLACE_FLAG} to replace the local files (--overwrite is for objects in the cluster), \
         or choose another --write-cert directory"
    ))
}

/// Writes `DIR/NAME.crt` (0644) and `DIR/NAME.key` (0600), creating DIR (0700) if needed.
pub fn write_pair(dir: &Path, name: &str, material: &Material, replace: bool) -> Result<(PathBuf, PathBuf), Error> {
    check(dir, name, replace, false)?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    // Private from the start: created with the default mode, a umask of 0 would leave it open to
    // everyone, and the writer would then refuse it.
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::other(format!("creating the directory --write-cert {}: {e}", dir.display())))?;
    let existing = if replace { Existing::Replace } else { Existing::Refuse };
    let (cert, key) = names(name);
    let written = |file: &str, contents: &str, mode: u32| {
        write_new(dir, file, contents.as_bytes(), mode, existing, "--write-cert").map_err(|e| {
            // The writer's own hint names the generic --overwrite, which here is the cluster's.
            if e.message.contains("already exists") { exists(&dir.join(file)) } else { e }
        })
    };
    let key = written(&key, &material.key_pem, 0o600)?;
    let cert = written(&cert, &material.cert_pem, 0o644)?;
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn material() -> Material {
        Material { cert_pem: "CERT".into(), key_pem: "KEY".into() }
    }

    #[test]
    fn key_is_private_and_cert_is_readable() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("certs");
        let (cert, key) = write_pair(&out, "s", &material(), false).unwrap();
        assert_eq!((mode(&cert), mode(&key)), (0o644, 0o600));
        assert_eq!(fs::read_to_string(&key).unwrap(), "KEY");
    }

    /// Issue 12: an existing key was replaced silently, keeping its owner and mode.
    #[test]
    fn existing_files_are_kept_unless_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(dir.path().join("s.key"), "old").unwrap();
        fs::set_permissions(dir.path().join("s.key"), fs::Permissions::from_mode(0o666)).unwrap();
        let err = write_pair(dir.path(), "s", &material(), false).unwrap_err();
        assert!(err.to_string().contains("re-run with --overwrite-files to replace the local files"), "{err}");
        assert!(!dir.path().join("s.crt").exists(), "nothing half-written");
        write_pair(dir.path(), "s", &material(), true).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("s.key")).unwrap(), "KEY");
        assert_eq!(mode(&dir.path().join("s.key")), 0o600);
    }

    /// Issue 12: a planted symlink made the key overwrite (and chmod) another file.
    #[test]
    fn planted_symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("s.key")).unwrap();
        let err = write_pair(dir.path(), "s", &material(), true).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(mode(&victim), 0o644, "not chmodded");
    }

    /// Issue 32: `create --write-cert DIR` found an unwritable DIR only after the Secret and the
    /// Ingress were created. Every such DIR is refused by the check that runs before the cluster.
    #[test]
    fn unwritable_targets_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let file = dir.path().join("plain-file");
        fs::write(&file, "x").unwrap();
        for (target, says) in [
            (file.clone(), "is not a directory"),
            (file.join("below"), "is not a directory"),
            (PathBuf::from("/proc/self/certs"), "cannot"),
            (PathBuf::from("/sys/kernel"), "cannot write in"),
        ] {
            let err = check_pair(&target, "s", false, true).unwrap_err();
            assert!(err.to_string().contains(says), "{}: {err}", target.display());
        }
        // A good directory passes, and neither the check nor its probe leaves anything there.
        check_pair(dir.path(), "s", false, true).unwrap();
        check_pair(&dir.path().join("new"), "s", false, true).unwrap();
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        assert_eq!(left, ["plain-file"], "{left:?}");
    }

    #[test]
    fn a_missing_directory_is_created_private_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let out = dir.path().join("a/b");
        write_pair(&out, "s", &material(), false).unwrap();
        assert_eq!(mode(&out), 0o700);
    }

    #[test]
    fn unreadable_files_are_invalid_input_naming_the_flag() {
        let err = read("--cert", Path::new("/nonexistent/x.crt")).unwrap_err();
        assert_eq!(err.kind, harden_cli::ErrorKind::InvalidInput);
        assert!(err.message.contains("cannot read --cert /nonexistent/x.crt"), "{err}");
        let err = read("--cert", Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.kind, harden_cli::ErrorKind::TooLarge);
    }
}
