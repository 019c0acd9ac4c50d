//! Reading the user's PEM files (bounded) and writing the certificate and key for curl tests
//! through the runtime's safe writer: new files only (or `--overwrite`), the key 0600 from its
//! first byte, never through a symlink.

use std::path::{Path, PathBuf};

use harden_cli::Error;
use harden_cli::files::{Existing, limits, read_limited, write_new};

use crate::cert::Material;

/// Reads a PEM file named by `flag`; a missing, unreadable or oversized file is invalid input.
pub fn read(flag: &str, path: &Path) -> Result<Vec<u8>, Error> {
    read_limited(path, &format!("{flag} {}", path.display()), limits::PEM)
        .map_err(|e| if e.hint.is_none() { e.with_hint(format!("give a readable PEM file to {flag}")) } else { e })
}

fn names(name: &str) -> (String, String) {
    (format!("{name}.crt"), format!("{name}.key"))
}

/// Refuses, before anything is created in the cluster, a `--write-cert` that would fail: an
/// existing file (without `--overwrite`), a symlink or a non-regular file at either name.
pub fn check_pair(dir: &Path, name: &str, overwrite: bool) -> Result<(), Error> {
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
            Ok(_) if !overwrite => {
                return Err(Error::conflict(format!("{} already exists; nothing was changed", path.display()))
                    .with_hint("re-run with --overwrite to replace it, or choose another --write-cert directory"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes `DIR/NAME.crt` (0644) and `DIR/NAME.key` (0600), creating DIR if needed.
pub fn write_pair(dir: &Path, name: &str, material: &Material, overwrite: bool) -> Result<(PathBuf, PathBuf), Error> {
    check_pair(dir, name, overwrite)?;
    let existing = if overwrite { Existing::Replace } else { Existing::Refuse };
    let (cert, key) = names(name);
    let key = write_new(dir, &key, material.key_pem.as_bytes(), 0o600, existing, "--write-cert")?;
    let cert = write_new(dir, &cert, material.cert_pem.as_bytes(), 0o644, existing, "--write-cert")?;
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
        assert!(err.to_string().contains("--overwrite"), "{err}");
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

    #[test]
    fn unreadable_files_are_invalid_input_naming_the_flag() {
        let err = read("--cert", Path::new("/nonexistent/x.crt")).unwrap_err();
        assert_eq!(err.kind, harden_cli::ErrorKind::InvalidInput);
        assert!(err.message.contains("cannot read --cert /nonexistent/x.crt"), "{err}");
        let err = read("--cert", Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.kind, harden_cli::ErrorKind::TooLarge);
    }
}
