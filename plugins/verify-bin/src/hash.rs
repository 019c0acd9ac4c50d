//! Streaming file digests (sha256, sha512) and the hex text checksums are written in.
//!
//! Files are read in fixed-size chunks, never whole: platform binaries are 50-150 MiB. The sha2
//! crate picks SHA-NI (x86_64) or the ARMv8 SHA2 instructions (aarch64) at run time.

use std::fs::File;
use std::io::{ErrorKind as IoKind, Read};
use std::path::Path;

use clap::ValueEnum;
use harden_cli::error::{Error, Result};
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

/// Large enough that syscalls are noise next to the hashing, small enough to stay in L2.
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The file extension dl.k8s.io uses, and the name printed beside a digest.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    pub fn from_hex_len(len: usize) -> Option<Self> {
        match len {
            64 => Some(Algorithm::Sha256),
            128 => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// Digests everything `reader` yields, as lower-case hex.
pub fn digest_reader(mut reader: impl Read, algorithm: Algorithm) -> std::io::Result<String> {
    match algorithm {
        Algorithm::Sha256 => stream(&mut reader, Sha256::new()),
        Algorithm::Sha512 => stream(&mut reader, Sha512::new()),
    }
}

fn stream<D: Digest>(reader: &mut impl Read, mut hasher: D) -> std::io::Result<String> {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == IoKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(to_hex(&hasher.finalize()))
}

/// Digests a regular file; directories and unreadable paths are errors that name the path.
pub fn digest_file(path: &Path, algorithm: Algorithm) -> Result<String> {
    let file = open_regular(path)?;
    digest_reader(file, algorithm).map_err(|e| Error::other(format!("reading {}: {e}", path.display())))
}

/// Opens `path` for reading, refusing anything but a regular file (after symlinks).
pub fn open_regular(path: &Path) -> Result<File> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        IoKind::NotFound => Error::not_found(format!("{}: no such file", path.display()))
            .with_hint("give the path of the binary, or a name found in PATH"),
        _ => Error::other(format!("{}: {e}", path.display())),
    })?;
    if meta.is_dir() {
        return Err(Error::invalid(format!("{} is a directory, not a binary", path.display()))
            .with_hint("give the path of the binary file itself"));
    }
    if !meta.is_file() {
        return Err(Error::invalid(format!("{} is not a regular file", path.display())));
    }
    File::open(path).map_err(|e| Error::other(format!("opening {}: {e}", path.display())))
}

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[(byte >> 4) as usize] as char);
        text.push(DIGITS[(byte & 0xf) as usize] as char);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(
            digest_reader(&b"abc"[..], Algorithm::Sha256).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest_reader(&b""[..], Algorithm::Sha512).unwrap(),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
             47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        );
    }

    #[test]
    fn chunk_boundaries_do_not_change_the_digest() {
        let data: Vec<u8> = (0..CHUNK * 3 + 17).map(|i| (i * 31 % 251) as u8).collect();
        let whole = to_hex(&Sha256::digest(&data));
        assert_eq!(digest_reader(&data[..], Algorithm::Sha256).unwrap(), whole);
        // A reader that returns odd short reads.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(4099);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        assert_eq!(digest_reader(Trickle(&data), Algorithm::Sha256).unwrap(), whole);
    }

    #[test]
    fn directories_and_missing_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = digest_file(dir.path(), Algorithm::Sha256).unwrap_err();
        assert!(err.message.contains("is a directory"), "{err}");
        let err = digest_file(&dir.path().join("nope"), Algorithm::Sha256).unwrap_err();
        assert!(err.message.contains("no such file"), "{err}");
    }
}
