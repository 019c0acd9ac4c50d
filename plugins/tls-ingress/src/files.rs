//! Reading the user's PEM files and writing the certificate and key for curl tests, with the key
//! file private (0600) from the moment it exists.

use std::fs::{self, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use harden_cli::Error;

use crate::cert::Material;

/// Reads a file named by `flag`; a missing or unreadable file is invalid input.
pub fn read(flag: &str, path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|e| {
        Error::invalid(format!("cannot read {flag} {}: {e}", path.display()))
            .with_hint(format!("give a readable PEM file to {flag}"))
    })
}

fn write(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let failed = |e: std::io::Error| Error::other(format!("writing {}: {e}", path.display()));
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path).map_err(failed)?;
    // `mode` only applies to new files; an existing file keeps its mode unless set here, before writing.
    file.set_permissions(Permissions::from_mode(mode)).map_err(failed)?;
    file.write_all(contents).map_err(failed)
}

/// Writes `DIR/NAME.crt` (0644) and `DIR/NAME.key` (0600), creating DIR if needed.
pub fn write_pair(dir: &Path, name: &str, material: &Material) -> Result<(PathBuf, PathBuf), Error> {
    fs::create_dir_all(dir)
        .map_err(|e| Error::other(format!("creating --write-cert directory {}: {e}", dir.display())))?;
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    write(&cert, material.cert_pem.as_bytes(), 0o644)?;
    write(&key, material.key_pem.as_bytes(), 0o600)?;
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn key_is_private_and_cert_is_readable_even_over_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("certs");
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("s.key"), "old").unwrap();
        fs::set_permissions(out.join("s.key"), Permissions::from_mode(0o666)).unwrap();
        let material = Material { cert_pem: "CERT".into(), key_pem: "KEY".into() };
        let (cert, key) = write_pair(&out, "s", &material).unwrap();
        assert_eq!(mode(&cert), 0o644);
        assert_eq!(mode(&key), 0o600);
        assert_eq!(fs::read_to_string(&key).unwrap(), "KEY");
        assert_eq!(fs::read_to_string(&cert).unwrap(), "CERT");
    }

    #[test]
    fn unreadable_files_are_invalid_input_naming_the_flag() {
        let err = read("--cert", Path::new("/nonexistent/x.crt")).unwrap_err();
        assert_eq!(err.kind, harden_cli::error::ErrorKind::InvalidInput);
        assert!(err.message.contains("cannot read --cert /nonexistent/x.crt"), "{err}");
    }
}
