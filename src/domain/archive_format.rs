//! What an image archive is, told by its first bytes rather than by its name: a tar (POSIX
//! ustar, GNU, or the old format without a magic), or a tar compressed with gzip, xz, zstd or
//! bzip2. [`sniff`] is pure, so a server can refuse an upload from its first bytes before
//! storing the rest.

use std::fmt;

/// How many first bytes [`sniff`] needs to tell every format: a whole tar header. The
/// compressed formats are told from far fewer, a stream shorter than this from what there is.
pub const SNIFF_BYTES: usize = 512;

/// The formats an image archive may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveFormat {
    Tar,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl ArchiveFormat {
    pub const ALL: [ArchiveFormat; 5] = [
        ArchiveFormat::Tar,
        ArchiveFormat::Gzip,
        ArchiveFormat::Xz,
        ArchiveFormat::Zstd,
        ArchiveFormat::Bzip2,
    ];

    /// The name people know it by.
    pub fn name(self) -> &'static str {
        match self {
            ArchiveFormat::Tar => "tar",
            ArchiveFormat::Gzip => "gzip",
            ArchiveFormat::Xz => "xz",
            ArchiveFormat::Zstd => "zstd",
            ArchiveFormat::Bzip2 => "bzip2",
        }
    }

    pub fn is_compressed(self) -> bool {
        self != ArchiveFormat::Tar
    }

    /// The formats taken, for a refusal: "tar, gzip, xz, zstd or bzip2".
    pub fn accepted() -> &'static str {
        "a tar archive, plain or compressed with gzip, xz, zstd or bzip2"
    }
}

impl fmt::Display for ArchiveFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const GZIP: &[u8] = &[0x1f, 0x8b];
const XZ: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const TAR_BLOCK: usize = 512;
const USTAR_AT: usize = 257;
const CHECKSUM_AT: usize = 148;

/// The format of a stream that starts with `first` (at least [`SNIFF_BYTES`] of it, or all of a
/// shorter stream), or `None` when it is none of the formats taken.
pub fn sniff(first: &[u8]) -> Option<ArchiveFormat> {
    if first.starts_with(GZIP) {
        Some(ArchiveFormat::Gzip)
    } else if first.starts_with(XZ) {
        Some(ArchiveFormat::Xz)
    } else if first.starts_with(ZSTD) {
        Some(ArchiveFormat::Zstd)
    } else if is_bzip2(first) {
        Some(ArchiveFormat::Bzip2)
    } else if is_tar_header(first) {
        Some(ArchiveFormat::Tar)
    } else {
        None
    }
}

/// `BZh` and the block size, a digit from 1 to 9.
fn is_bzip2(first: &[u8]) -> bool {
    matches!(first, [b'B', b'Z', b'h', b'1'..=b'9', ..])
}

/// A first tar header: `ustar` at offset 257 (POSIX and GNU), or, for the old format without a
/// magic, a header whose checksum holds.
fn is_tar_header(first: &[u8]) -> bool {
    let Some(block) = first.get(..TAR_BLOCK) else {
        return false;
    };
    block[USTAR_AT..].starts_with(b"ustar") || checksum_holds(block)
}

/// The checksum field (octal, space or NUL terminated) equals the sum of the block's bytes with
/// the field itself counted as spaces. A block of zeros has no checksum and is no header.
fn checksum_holds(block: &[u8]) -> bool {
    let field = &block[CHECKSUM_AT..CHECKSUM_AT + 8];
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    let rest_is_padding = field
        .iter()
        .skip_while(|b| **b == b' ')
        .skip(digits.len())
        .all(|b| *b == b' ' || *b == 0);
    if digits.is_empty() || !rest_is_padding {
        return false;
    }
    let Some(told) = digits.iter().try_fold(0u32, |told, digit| {
        told.checked_mul(8)?.checked_add(u32::from(digit - b'0'))
    }) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(at, b)| {
            if (CHECKSUM_AT..CHECKSUM_AT + 8).contains(&at) {
                u32::from(b' ')
            } else {
                u32::from(*b)
            }
        })
        .sum();
    told == sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar header block for `name`, with a valid checksum and `magic` at offset 257.
    fn header(name: &str, magic: &[u8]) -> Vec<u8> {
        let mut block = vec![0u8; TAR_BLOCK];
        block[..name.len()].copy_from_slice(name.as_bytes());
        block[100..107].copy_from_slice(b"0000644");
        block[124..135].copy_from_slice(b"00000000000");
        block[156] = b'0';
        block[USTAR_AT..USTAR_AT + magic.len()].copy_from_slice(magic);
        block[CHECKSUM_AT..CHECKSUM_AT + 8].fill(b' ');
        let sum: u32 = block.iter().map(|b| u32::from(*b)).sum();
        block[CHECKSUM_AT..CHECKSUM_AT + 7].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        block
    }

    #[test]
    fn each_compressed_format_is_told_by_its_magic_bytes() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Some(ArchiveFormat::Gzip));
        assert_eq!(sniff(b"\xfd7zXZ\0\0\x04"), Some(ArchiveFormat::Xz));
        assert_eq!(
            sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0x24]),
            Some(ArchiveFormat::Zstd)
        );
        assert_eq!(sniff(b"BZh91AY&SY"), Some(ArchiveFormat::Bzip2));
    }

    #[test]
    fn a_tar_is_told_by_its_ustar_magic_or_by_the_checksum_of_an_old_header() {
        assert_eq!(
            sniff(&header("etc/", b"ustar\x0000")),
            Some(ArchiveFormat::Tar)
        );
        assert_eq!(
            sniff(&header("etc/", b"ustar  \0")),
            Some(ArchiveFormat::Tar)
        );
        assert_eq!(sniff(&header("etc/", b"")), Some(ArchiveFormat::Tar));
        let mut broken = header("etc/", b"");
        broken[0] = b'f';
        assert_eq!(sniff(&broken), None, "an old header whose checksum fails");
    }

    #[test]
    fn text_zeros_and_near_misses_are_none_of_the_formats() {
        let text = b"#!/bin/sh\necho this is not an image\n".repeat(20);
        assert_eq!(sniff(&text), None);
        assert_eq!(sniff(&[0; 1024]), None, "zeros have no checksum");
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"BZh0"), None, "bzip2 block sizes run from 1 to 9");
        assert_eq!(sniff(b"\xfd7zXY\0"), None);
        assert_eq!(sniff(&[0x1f]), None);
        assert_eq!(
            sniff(&header("etc/", b"ustar")[..511]),
            None,
            "a header cut short"
        );
    }

    #[test]
    fn every_format_has_a_name_and_only_tar_is_uncompressed() {
        let names: Vec<&str> = ArchiveFormat::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["tar", "gzip", "xz", "zstd", "bzip2"]);
        let plain: Vec<_> = ArchiveFormat::ALL
            .into_iter()
            .filter(|f| !f.is_compressed())
            .collect();
        assert_eq!(plain, [ArchiveFormat::Tar]);
    }
}
