//! The OS and architecture a binary was built for, read from its own header (ELF, Mach-O, PE),
//! so that a copied binary of another platform is checked against that platform's checksum.
//!
//! Names follow Go and dl.k8s.io: `linux`/`darwin`/`windows`, `amd64`/`arm64`/`arm`/`386`/
//! `ppc64le`/`s390x`/`riscv64`.

use std::fmt;
use std::fs::File;
use std::path::Path;

use harden_cli::error::{Error, Result};
use object::read::ReadCache;
use object::{Architecture, BinaryFormat, Endianness, FileKind, Object, ReadRef};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)
    }
}

impl Platform {
    /// The platform this program runs on, in the same names.
    pub fn host() -> Platform {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            other => other,
        };
        Platform { os: os.into(), arch: arch.into() }
    }
}

/// Reads the platform from the header of the file at `path`, reading only the parts it needs.
pub fn detect_file(path: &Path) -> Result<Platform> {
    let file = File::open(path).map_err(|e| Error::other(format!("opening {}: {e}", path.display())))?;
    let cache = ReadCache::new(file);
    detect(&cache).map_err(|e| e.context(path.display()))
}

/// Reads the platform from an executable's header.
pub fn detect<'data, R: ReadRef<'data>>(data: R) -> Result<Platform> {
    let unknown = || {
        Error::invalid("not an ELF, Mach-O or PE executable, so its OS and architecture are unknown")
            .with_hint("pass --os and --arch (e.g. --os linux --arch amd64)")
    };
    let kind = FileKind::parse(data).map_err(|_| unknown())?;
    match kind {
        FileKind::MachOFat32 | FileKind::MachOFat64 => {
            return Err(Error::invalid("a universal (fat) Mach-O binary holds several architectures").with_hint(
                "pass --os darwin and --arch with the one to check (Kubernetes publishes one per architecture)",
            ));
        }
        FileKind::Elf32 | FileKind::Elf64 | FileKind::MachO32 | FileKind::MachO64 | FileKind::Pe32 | FileKind::Pe64 => {
        }
        _ => return Err(unknown()),
    }
    let file = object::File::parse(data).map_err(|e| {
        Error::invalid(format!("the executable header is damaged: {e}")).with_hint("pass --os and --arch")
    })?;
    let os = match file.format() {
        BinaryFormat::Elf => elf_os(data)?,
        BinaryFormat::MachO => "darwin",
        BinaryFormat::Pe => "windows",
        _ => return Err(unknown()),
    };
    let little = file.endianness() == Endianness::Little;
    let arch = match file.architecture() {
        Architecture::X86_64 => "amd64",
        Architecture::Aarch64 => "arm64",
        Architecture::Arm => "arm",
        Architecture::I386 => "386",
        Architecture::PowerPc64 if little => "ppc64le",
        Architecture::PowerPc64 => "ppc64",
        Architecture::S390x => "s390x",
        Architecture::Riscv64 => "riscv64",
        Architecture::LoongArch64 => "loong64",
        Architecture::Mips64 if little => "mips64le",
        Architecture::Mips64 => "mips64",
        other => {
            return Err(Error::invalid(format!("the executable's architecture {other:?} has no Kubernetes name"))
                .with_hint("pass --arch"));
        }
    };
    Ok(Platform { os: os.into(), arch: arch.into() })
}

/// ELF says its OS in the OSABI byte of e_ident. Go leaves it 0 (System V) for Linux.
fn elf_os<'data, R: ReadRef<'data>>(data: R) -> Result<&'static str> {
    let ident = data.read_bytes_at(0, 16).map_err(|_| Error::invalid("truncated ELF header"))?;
    match ident[7] {
        0 | 3 => Ok("linux"),
        2 => Ok("netbsd"),
        9 => Ok("freebsd"),
        12 => Ok("openbsd"),
        other => Err(Error::invalid(format!("ELF binary for an unknown OS (OSABI {other})")).with_hint("pass --os")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::write;

    fn relocatable(format: BinaryFormat, arch: Architecture) -> Vec<u8> {
        let mut obj = write::Object::new(format, arch, Endianness::Little);
        let text = obj.section_id(write::StandardSection::Text);
        obj.append_section_data(text, &[0xc3], 1);
        obj.write().unwrap()
    }

    fn pe(machine: u16, is_64: bool) -> Vec<u8> {
        let mut buffer = Vec::new();
        let mut writer = object::write::pe::Writer::new(is_64, 0x1000, 0x200, &mut buffer);
        writer.reserve_dos_header_and_stub();
        writer.reserve_nt_headers(16);
        writer.reserve_section_headers(0);
        writer.write_dos_header_and_stub().unwrap();
        writer.write_nt_headers(object::write::pe::NtHeaders {
            machine,
            time_date_stamp: 0,
            characteristics: object::pe::IMAGE_FILE_EXECUTABLE_IMAGE,
            major_linker_version: 0,
            minor_linker_version: 0,
            address_of_entry_point: 0,
            image_base: 0x140000000,
            major_operating_system_version: 6,
            minor_operating_system_version: 0,
            major_image_version: 0,
            minor_image_version: 0,
            major_subsystem_version: 6,
            minor_subsystem_version: 0,
            subsystem: object::pe::IMAGE_SUBSYSTEM_WINDOWS_CUI,
            dll_characteristics: 0,
            size_of_stack_reserve: 0x100000,
            size_of_stack_commit: 0x1000,
            size_of_heap_reserve: 0x100000,
            size_of_heap_commit: 0x1000,
        });
        writer.write_section_headers();
        buffer
    }

    fn platform(data: &[u8]) -> String {
        detect(data).unwrap().to_string()
    }

    #[test]
    fn elf_amd64_and_arm64() {
        assert_eq!(platform(&relocatable(BinaryFormat::Elf, Architecture::X86_64)), "linux/amd64");
        assert_eq!(platform(&relocatable(BinaryFormat::Elf, Architecture::Aarch64)), "linux/arm64");
    }

    #[test]
    fn elf_osabi_names_the_os() {
        let mut data = relocatable(BinaryFormat::Elf, Architecture::X86_64);
        data[7] = 9;
        assert_eq!(platform(&data), "freebsd/amd64");
        data[7] = 97; // ARM bare metal
        assert!(detect(&data[..]).unwrap_err().message.contains("unknown OS"));
    }

    #[test]
    fn mach_o_is_darwin() {
        assert_eq!(platform(&relocatable(BinaryFormat::MachO, Architecture::X86_64)), "darwin/amd64");
        assert_eq!(platform(&relocatable(BinaryFormat::MachO, Architecture::Aarch64)), "darwin/arm64");
    }

    #[test]
    fn pe_is_windows() {
        assert_eq!(platform(&pe(object::pe::IMAGE_FILE_MACHINE_AMD64, true)), "windows/amd64");
        assert_eq!(platform(&pe(object::pe::IMAGE_FILE_MACHINE_ARM64, true)), "windows/arm64");
        assert_eq!(platform(&pe(object::pe::IMAGE_FILE_MACHINE_I386, false)), "windows/386");
    }

    #[test]
    fn other_files_ask_for_flags() {
        for data in [&b"#!/bin/sh\necho hi\n"[..], &[][..], &[0x7f, b'E', b'L', b'F', 2][..]] {
            let err = detect(data).unwrap_err();
            assert!(err.hint.unwrap().contains("--os"), "{data:?}");
        }
    }

    #[test]
    fn detects_from_a_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeadm");
        let mut data = relocatable(BinaryFormat::Elf, Architecture::Aarch64);
        data.resize(8 << 20, 0);
        std::fs::write(&path, &data).unwrap();
        assert_eq!(detect_file(&path).unwrap().to_string(), "linux/arm64");
    }

    #[test]
    fn the_host_has_a_go_style_name() {
        let host = Platform::host();
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(host.to_string(), "linux/amd64");
        }
        assert!(!host.arch.contains("x86_64") && !host.os.contains("macos"));
    }
}
