//! What kind of archive a stream of bytes is, told by its first bytes: a plain tar, or a tar
//! compressed with gzip, xz, zstd or bzip2. Anything else is no image archive.

/// The formats an image archive may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    Tar,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

/// How many leading bytes [`sniff`] needs to recognise a plain tar (`ustar` at offset 257).
/// The compressed formats are told by fewer; a stream shorter than this is no plain tar.
pub const SNIFF_BYTES: usize = 262;

const TAR_MAGIC_AT: usize = 257;

/// The archive format the leading bytes `head` show, if any.
pub fn sniff(head: &[u8]) -> Option<ArchiveFormat> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(ArchiveFormat::Gzip)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(ArchiveFormat::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(ArchiveFormat::Zstd)
    } else if head.starts_with(b"BZh") {
        Some(ArchiveFormat::Bzip2)
    } else if head.get(TAR_MAGIC_AT..SNIFF_BYTES) == Some(b"ustar") {
        Some(ArchiveFormat::Tar)
    } else {
        None
    }
}

impl ArchiveFormat {
    /// Its usual name, as people know it.
    pub fn name(self) -> &'static str {
        match self {
            ArchiveFormat::Tar => "tar",
            ArchiveFormat::Gzip => "gzip",
            ArchiveFormat::Xz => "xz",
            ArchiveFormat::Zstd => "zstd",
            ArchiveFormat::Bzip2 => "bzip2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_header() -> Vec<u8> {
        let mut header = vec![0u8; 512];
        header[..9].copy_from_slice(b"etc/hosts");
        header[257..263].copy_from_slice(b"ustar\0");
        header
    }

    #[test]
    fn each_compressed_format_is_told_by_its_magic_bytes() {
        assert_eq!(sniff(&[0x1f, 0x8b, 0x08, 0]), Some(ArchiveFormat::Gzip));
        assert_eq!(
            sniff(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00]),
            Some(ArchiveFormat::Xz)
        );
        assert_eq!(
            sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0x04]),
            Some(ArchiveFormat::Zstd)
        );
        assert_eq!(sniff(b"BZh91AY&SY"), Some(ArchiveFormat::Bzip2));
    }

    #[test]
    fn a_plain_tar_is_told_by_ustar_at_offset_257() {
        assert_eq!(sniff(&tar_header()), Some(ArchiveFormat::Tar));
        assert_eq!(
            sniff(&tar_header()[..SNIFF_BYTES]),
            Some(ArchiveFormat::Tar)
        );
        let mut gnu = tar_header();
        gnu[257..265].copy_from_slice(b"ustar  \0");
        assert_eq!(sniff(&gnu), Some(ArchiveFormat::Tar));
    }

    #[test]
    fn text_html_and_truncated_headers_are_no_archive() {
        assert_eq!(sniff(b"this is not an archive\n"), None);
        assert_eq!(sniff(b"<!DOCTYPE html><html>"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(&[0x1f]), None);
        assert_eq!(sniff(&[0xfd, b'7', b'z', b'X', b'Z']), None);
        assert_eq!(sniff(&tar_header()[..SNIFF_BYTES - 1]), None);
        let mut moved = tar_header();
        moved[257..263].copy_from_slice(b"\0ustar");
        assert_eq!(sniff(&moved), None);
    }

    #[test]
    fn each_format_has_a_name() {
        assert_eq!(ArchiveFormat::Xz.name(), "xz");
        assert_eq!(ArchiveFormat::Tar.name(), "tar");
    }
}
