//! Caps the extension headers of a tar stream before the tar reader sees them.
//!
//! The `tar` crate reads a GNU long name or long link, or a member's PAX records, whole into
//! memory before it yields the member they describe, however large the header says they are:
//! half a KiB of gzip can claim half a GiB. [`ExtensionCap`] sits between the decompressor and
//! the tar reader and follows the same 512-byte block structure the reader does (header, GNU
//! sparse extension blocks, data padded to a block, the size a PAX record gives the next
//! member, the end marker). It refuses a header claiming more than [`MAX_EXTENSION_BYTES`]
//! before passing it on, so the reader never starts the allocation.

use std::io::{self, Read};

/// The most bytes a GNU long name or long link, or a set of PAX records, may hold.
pub const MAX_EXTENSION_BYTES: u64 = 64 * 1024;

const BLOCK: usize = 512;
/// Where a GNU sparse extension block says whether another one follows.
const SPARSE_EXTENDED_AT: usize = 504;

enum Expect {
    Header,
    /// GNU sparse extension blocks, then the member's `data` bytes.
    SparseExtension {
        data: u64,
    },
    /// A member's data, padding included: passed on unread.
    Data {
        left: u64,
    },
    /// PAX records, kept: the size they give applies to the next member.
    Pax {
        left: u64,
        padding: u64,
    },
    /// After the end marker (or a header the tar reader refuses): nothing more to follow.
    Done,
}

pub struct ExtensionCap<R> {
    inner: R,
    block: tar::Header,
    filled: usize,
    expect: Expect,
    /// The records of a PAX header being read or read, for the member they describe.
    pax: Option<Vec<u8>>,
    refusal: Option<String>,
}

impl<R: Read> ExtensionCap<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            block: tar::Header::new_old(),
            filled: 0,
            expect: Expect::Header,
            pax: None,
            refusal: None,
        }
    }

    /// Why the stream was cut, when it was.
    pub fn refusal(&self) -> Option<&str> {
        self.refusal.as_deref()
    }

    /// Follows `bytes` through the block structure; an oversized header is refused here.
    fn follow(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            match &mut self.expect {
                Expect::Done => return Ok(()),
                Expect::Data { left } => {
                    let skipped = (*left).min(bytes.len() as u64);
                    *left -= skipped;
                    bytes = &bytes[skipped as usize..];
                    if *left == 0 {
                        self.expect = Expect::Header;
                    }
                }
                Expect::Pax { left, padding } => {
                    let taken = (*left).min(bytes.len() as u64) as usize;
                    self.pax
                        .get_or_insert_with(Vec::new)
                        .extend_from_slice(&bytes[..taken]);
                    *left -= taken as u64;
                    bytes = &bytes[taken..];
                    if *left == 0 {
                        self.expect = match *padding {
                            0 => Expect::Header,
                            left => Expect::Data { left },
                        };
                    }
                }
                Expect::Header | Expect::SparseExtension { .. } => {
                    let wanted = (BLOCK - self.filled).min(bytes.len());
                    self.block.as_mut_bytes()[self.filled..self.filled + wanted]
                        .copy_from_slice(&bytes[..wanted]);
                    self.filled += wanted;
                    bytes = &bytes[wanted..];
                    if self.filled == BLOCK {
                        self.filled = 0;
                        self.expect = self.next_after_block()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// What follows the block just read, as the tar reader will take it.
    fn next_after_block(&mut self) -> Result<Expect, String> {
        if let Expect::SparseExtension { data } = self.expect {
            let more = self.block.as_bytes()[SPARSE_EXTENDED_AT] == 1;
            return Ok(if more {
                Expect::SparseExtension { data }
            } else {
                data_of(data)
            });
        }
        let header = &self.block;
        if header.as_bytes().iter().all(|b| *b == 0) || !checksum_holds(header) {
            // the end of the archive, or a block the tar reader fails on
            return Ok(Expect::Done);
        }
        let kind = header.entry_type();
        let Ok(size) = header.entry_size() else {
            return Ok(Expect::Done);
        };
        let recognized = header.as_gnu().is_some() || header.as_ustar().is_some();
        if let Some(what) = extension_name(kind) {
            if size > MAX_EXTENSION_BYTES {
                return Err(format!(
                    "{what} of {size} bytes (at most {MAX_EXTENSION_BYTES} are taken)"
                ));
            }
            // the reader reads long names and local PAX records on its way to their member;
            // anything else it yields as a member of its own, which uses up the records
            match kind {
                tar::EntryType::XHeader if recognized => {
                    self.pax = Some(Vec::new());
                    if size == 0 {
                        return Ok(Expect::Header);
                    }
                    return Ok(Expect::Pax {
                        left: size,
                        padding: padding_of(size),
                    });
                }
                tar::EntryType::GNULongName | tar::EntryType::GNULongLink if recognized => {}
                _ => self.pax = None,
            }
            return Ok(data_of(size));
        }
        let size = self.pax.take().and_then(|p| pax_size(&p)).unwrap_or(size);
        let sparse_extended = kind.is_gnu_sparse()
            && header
                .as_gnu()
                .is_some_and(|gnu: &tar::GnuHeader| gnu.is_extended());
        Ok(if sparse_extended {
            Expect::SparseExtension { data: size }
        } else {
            data_of(size)
        })
    }
}

impl<R: Read> Read for ExtensionCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(why) = &self.refusal {
            return Err(io::Error::new(io::ErrorKind::InvalidData, why.clone()));
        }
        let read = self.inner.read(buf)?;
        if let Err(why) = self.follow(&buf[..read]) {
            self.refusal = Some(why.clone());
            return Err(io::Error::new(io::ErrorKind::InvalidData, why));
        }
        Ok(read)
    }
}

fn extension_name(kind: tar::EntryType) -> Option<&'static str> {
    match kind {
        tar::EntryType::GNULongName => Some("a GNU long name header"),
        tar::EntryType::GNULongLink => Some("a GNU long link header"),
        tar::EntryType::XHeader => Some("a PAX header"),
        tar::EntryType::XGlobalHeader => Some("a PAX global header"),
        _ => None,
    }
}

fn padding_of(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// `size` bytes of data and their padding; a size the reader cannot round up ends the archive
/// for it (it fails there).
fn data_of(size: u64) -> Expect {
    match size.checked_add(padding_of(size)) {
        Some(0) => Expect::Header,
        Some(left) => Expect::Data { left },
        None => Expect::Done,
    }
}

/// The checksum test the tar reader applies before it takes a header.
fn checksum_holds(header: &tar::Header) -> bool {
    let bytes = header.as_bytes();
    let sum = bytes[..148]
        .iter()
        .chain(&bytes[156..])
        .fold(0u32, |a, b| a + u32::from(*b))
        + 8 * 32;
    header.cksum().is_ok_and(|told| told == sum)
}

/// The `size` record, read as the tar reader reads it: the first one, if it parses.
fn pax_size(records: &[u8]) -> Option<u64> {
    for record in tar::PaxExtensions::new(records) {
        let record = record.ok()?;
        if record.key() != Ok("size") {
            continue;
        }
        return record.value().ok()?.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_path(name).unwrap();
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(size);
        header.set_cksum();
        header
    }

    fn pax_records(records: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (key, value) in records {
            let body = format!(" {key}={value}\n");
            let mut len = body.len() + 1;
            while format!("{len}{body}").len() != len {
                len += 1;
            }
            out.extend_from_slice(format!("{len}{body}").as_bytes());
        }
        out
    }

    fn padded(mut bytes: Vec<u8>) -> Vec<u8> {
        bytes.resize(bytes.len().next_multiple_of(BLOCK), 0);
        bytes
    }

    /// Reads `archive` through the cap in small, uneven pieces, as a decompressor hands it on.
    fn through_cap(archive: &[u8]) -> Result<Vec<u8>, String> {
        let mut cap = ExtensionCap::new(archive);
        let mut out = Vec::new();
        let mut buf = [0u8; 333];
        loop {
            match cap.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    #[test]
    fn every_kind_of_extension_header_is_capped_at_64_kib() {
        for (kind, what) in [
            (tar::EntryType::GNULongName, "a GNU long name header"),
            (tar::EntryType::GNULongLink, "a GNU long link header"),
            (tar::EntryType::XHeader, "a PAX header"),
            (tar::EntryType::XGlobalHeader, "a PAX global header"),
        ] {
            let at_cap = header("ext", kind, MAX_EXTENSION_BYTES);
            let mut fits = at_cap.as_bytes().to_vec();
            fits.extend(vec![b'a'; MAX_EXTENSION_BYTES as usize]);
            assert!(through_cap(&fits).is_ok(), "{what} at the cap passes");
            let over = header("ext", kind, MAX_EXTENSION_BYTES + 1);
            assert_eq!(
                through_cap(over.as_bytes()).unwrap_err(),
                format!("{what} of 65537 bytes (at most 65536 are taken)")
            );
        }
    }

    #[test]
    fn a_header_hidden_where_the_tar_reader_sees_data_is_data_and_the_reverse_is_caught() {
        let bomb = header("././@LongLink", tar::EntryType::GNULongName, 1 << 30);
        // inside a member's data, a header is only bytes
        let mut hidden = header("file", tar::EntryType::Regular, 512)
            .as_bytes()
            .to_vec();
        hidden.extend_from_slice(bomb.as_bytes());
        hidden.extend_from_slice(&[0; 1024]);
        assert!(through_cap(&hidden).is_ok());

        // a PAX size shorter than the header's makes the reader find the next header early:
        // the cap finds it there too
        let records = pax_records(&[("size", "0")]);
        let mut early = header("pax", tar::EntryType::XHeader, records.len() as u64)
            .as_bytes()
            .to_vec();
        early.extend(padded(records));
        early.extend_from_slice(header("file", tar::EntryType::Regular, 512).as_bytes());
        early.extend_from_slice(bomb.as_bytes());
        assert!(
            through_cap(&early)
                .unwrap_err()
                .starts_with("a GNU long name header of 1073741824 bytes"),
        );
    }

    #[test]
    fn sparse_extension_blocks_are_headers_to_skip_not_members() {
        let mut sparse = header("sparse", tar::EntryType::GNUSparse, 512);
        sparse.as_gnu_mut().unwrap().set_is_extended(true);
        sparse.set_cksum();
        let mut archive = sparse.as_bytes().to_vec();
        let mut extension = tar::GnuExtSparseHeader::new();
        extension.set_is_extended(true);
        archive.extend_from_slice(extension.as_bytes());
        // the last extension block looks like a bomb, and is not a header
        let last = header("././@LongLink", tar::EntryType::GNULongName, 1 << 30);
        let mut last = *last.as_bytes();
        last[SPARSE_EXTENDED_AT] = 0;
        archive.extend_from_slice(&last);
        archive.extend_from_slice(&[7; 512]);
        archive.extend_from_slice(&[0; 1024]);
        assert!(through_cap(&archive).is_ok());
    }

    #[test]
    fn what_follows_the_end_marker_is_not_looked_at() {
        let mut archive = vec![0u8; 512];
        archive.extend_from_slice(
            header("././@LongLink", tar::EntryType::GNULongName, 1 << 30).as_bytes(),
        );
        assert!(through_cap(&archive).is_ok());
    }
}
