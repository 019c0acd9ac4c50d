//! Deterministic release archives: the same inputs give the same bytes on every machine and run.
//!
//! Everything a packer would take from the environment is fixed: entry order (as given), modification
//! time, owner, group and permissions; gzip carries no timestamp or file name. That is what makes a
//! manifest's `sha256` reproducible from the archive's inputs.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// The modification time of every archive entry: 1980-01-01T00:00:00Z, the earliest time zip can
/// represent, used for tar too so both formats agree.
pub const MTIME: u64 = 315_532_800;

/// One file to put in an archive, under `name` at the archive root.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub source: PathBuf,
    pub executable: bool,
}

impl Entry {
    fn mode(&self) -> u32 {
        if self.executable { 0o755 } else { 0o644 }
    }
}

/// Archive formats krew unpacks; Windows users get zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TarGz,
    Zip,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
        }
    }
}

/// Writes `entries` into a new archive at `dest` (via a temporary file, so a failed run never leaves
/// a truncated archive behind that a later `--render-only` would hash).
pub fn pack(format: Format, entries: &[Entry], dest: &Path) -> anyhow::Result<()> {
    let tmp = dest.with_extension("partial");
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let result = match format {
        Format::TarGz => write_tar_gz(entries, BufWriter::new(file)),
        Format::Zip => write_zip(entries, file),
    };
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("packing {}", dest.display())));
    }
    std::fs::rename(&tmp, dest).with_context(|| format!("moving {} to {}", tmp.display(), dest.display()))
}

fn open(entry: &Entry) -> anyhow::Result<(File, u64)> {
    let file = File::open(&entry.source).with_context(|| format!("opening {}", entry.source.display()))?;
    let size = file.metadata().with_context(|| format!("reading {}", entry.source.display()))?.len();
    Ok((file, size))
}

fn write_tar_gz<W: Write>(entries: &[Entry], out: W) -> anyhow::Result<()> {
    // GzBuilder::new() writes mtime 0 and no file name: no trace of when or where it was packed.
    let gz = flate2::GzBuilder::new().write(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for entry in entries {
        let (file, size) = open(entry)?;
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(entry.mode());
        header.set_mtime(MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, &entry.name, BufReader::new(file))
            .with_context(|| format!("adding {}", entry.name))?;
    }
    let gz = tar.into_inner()?;
    gz.finish()?.flush()?;
    Ok(())
}

fn write_zip<W: Write + Seek>(entries: &[Entry], out: W) -> anyhow::Result<()> {
    let mut zip = zip::ZipWriter::new(out);
    for entry in entries {
        let (file, _) = open(entry)?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(entry.mode());
        zip.start_file(entry.name.as_str(), options).with_context(|| format!("adding {}", entry.name))?;
        io::copy(&mut BufReader::new(file), &mut zip)?;
    }
    zip.finish()?.flush()?;
    Ok(())
}

/// Lowercase hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file = BufReader::new(File::open(path).with_context(|| format!("opening {}", path.display()))?);
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256sum`-compatible lines (`HEX  NAME`), sorted by name so the file is reproducible and
/// `sha256sum --check SHA256SUMS` verifies a download directory.
pub fn sha256sums(sums: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = sums.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.iter().map(|(name, sum)| format!("{sum}  {name}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(dir: &Path) -> Vec<Entry> {
        std::fs::write(dir.join("bin"), b"#!/bin/sh\necho hi\n").unwrap();
        std::fs::write(dir.join("LICENSE"), b"Apache License\n").unwrap();
        vec![
            Entry { name: "kubectl-x".into(), source: dir.join("bin"), executable: true },
            Entry { name: "LICENSE".into(), source: dir.join("LICENSE"), executable: false },
        ]
    }

    fn set_mtime(path: &Path, secs: u64) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)).unwrap();
    }

    #[test]
    fn archives_do_not_depend_on_when_or_where_they_are_packed() {
        for format in [Format::TarGz, Format::Zip] {
            let a = tempfile::tempdir().unwrap();
            let b = tempfile::tempdir().unwrap();
            let entries_a = inputs(a.path());
            let entries_b = inputs(b.path());
            // Different source mtimes and directories must not leak into the archive.
            set_mtime(&a.path().join("bin"), 1_000_000);
            set_mtime(&b.path().join("bin"), 2_000_000_000);
            pack(format, &entries_a, &a.path().join("out")).unwrap();
            pack(format, &entries_b, &b.path().join("out")).unwrap();
            let bytes_a = std::fs::read(a.path().join("out")).unwrap();
            let bytes_b = std::fs::read(b.path().join("out")).unwrap();
            assert_eq!(bytes_a, bytes_b, "{format:?} archives differ");
            assert_eq!(sha256_file(&a.path().join("out")).unwrap(), sha256_file(&b.path().join("out")).unwrap());
            assert!(!a.path().join("out.partial").exists());
        }
    }

    #[test]
    fn tar_gz_has_fixed_metadata_in_the_given_order() {
        let dir = tempfile::tempdir().unwrap();
        let entries = inputs(dir.path());
        let dest = dir.path().join("a.tar.gz");
        pack(Format::TarGz, &entries, &dest).unwrap();
        let bytes = std::fs::read(&dest).unwrap();
        // gzip header: magic, method, flags (no FNAME), then MTIME (4 bytes) all zero.
        assert_eq!(&bytes[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(bytes[3] & 0x08, 0, "no file name in the gzip header");
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "no timestamp in the gzip header");
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let seen: Vec<(String, u32, u64, u64, u64, String)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut content = String::new();
                e.read_to_string(&mut content).unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    content,
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("kubectl-x".into(), 0o755, MTIME, 0, 0, "#!/bin/sh\necho hi\n".into()),
                ("LICENSE".into(), 0o644, MTIME, 0, 0, "Apache License\n".into()),
            ]
        );
    }

    #[test]
    fn zip_has_fixed_metadata_in_the_given_order() {
        let dir = tempfile::tempdir().unwrap();
        let entries = inputs(dir.path());
        let dest = dir.path().join("a.zip");
        pack(Format::Zip, &entries, &dest).unwrap();
        let mut archive = zip::ZipArchive::new(File::open(&dest).unwrap()).unwrap();
        let mut seen = Vec::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).unwrap();
            let mut content = String::new();
            file.read_to_string(&mut content).unwrap();
            let modified = file.last_modified().unwrap();
            seen.push((file.name().unwrap().to_string(), file.unix_mode().unwrap() & 0o777, modified.year(), content));
        }
        assert_eq!(
            seen,
            vec![
                ("kubectl-x".to_string(), 0o755, 1980, "#!/bin/sh\necho hi\n".to_string()),
                ("LICENSE".to_string(), 0o644, 1980, "Apache License\n".to_string()),
            ]
        );
    }

    #[test]
    fn a_missing_input_fails_without_leaving_a_partial_archive() {
        let dir = tempfile::tempdir().unwrap();
        let entries = vec![Entry { name: "x".into(), source: dir.path().join("missing"), executable: true }];
        let dest = dir.path().join("a.tar.gz");
        let error = pack(Format::TarGz, &entries, &dest).unwrap_err();
        assert!(format!("{error:#}").contains("missing"), "{error:#}");
        assert!(!dest.exists());
        assert!(!dest.with_extension("partial").exists());
    }

    #[test]
    fn sha256sums_is_sorted_and_sha256sum_compatible() {
        let sums = vec![("b.zip".to_string(), "22".repeat(32)), ("a.tar.gz".to_string(), "11".repeat(32))];
        assert_eq!(sha256sums(&sums), format!("{}  a.tar.gz\n{}  b.zip\n", "11".repeat(32), "22".repeat(32)));
    }

    #[test]
    fn sha256_of_a_known_input() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("abc"), b"abc").unwrap();
        assert_eq!(
            sha256_file(&dir.path().join("abc")).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
