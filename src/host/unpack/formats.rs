//! The tar stream inside an archive, whatever it is compressed with: the format is told by the
//! first bytes ([`crate::domain::archive_format::sniff`]), never by a name, and what comes out
//! of a decompressor must itself start with a tar header.
//!
//! The decoders' memory is bounded: xz to [`XZ_MEMORY_LIMIT`] (what `xz -9` needs, and some),
//! zstd to windows of 2^[`ZSTD_WINDOW_LOG_MAX`] bytes (every level up to 19 and most `--ultra`
//! ones).

use std::io::{self, BufReader, Read};

use crate::domain::archive_format::{ArchiveFormat, SNIFF_BYTES, sniff};

use super::UnpackError;

/// The most memory the xz decoder may take; `xz -9` needs 65 MiB.
pub const XZ_MEMORY_LIMIT: u64 = 80 << 20;
/// The largest zstd window taken: 32 MiB.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 25;
/// What is read from the archive at a time.
const READ_BUFFER: usize = 256 * 1024;

/// A stream whose first bytes were read to look at, put back in front of the rest.
type Replayed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Reads the first [`SNIFF_BYTES`] of `reader` (fewer when it ends sooner) and gives them back
/// with a reader that starts over from the first byte.
fn peek<R: Read>(mut reader: R) -> io::Result<(Vec<u8>, Replayed<R>)> {
    let mut head = vec![0u8; SNIFF_BYTES];
    let mut filled = 0;
    while filled < SNIFF_BYTES {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(filled);
    Ok((head.clone(), io::Cursor::new(head).chain(reader)))
}

/// How the first bytes look, for a refusal: the first 16 in hexadecimal.
fn looks_like(head: &[u8]) -> String {
    if head.is_empty() {
        return "it is empty".into();
    }
    let shown: Vec<String> = head.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("it starts with {}", shown.join(" "))
}

/// The decoder for `format` over `reader`.
fn decoder<'a>(format: ArchiveFormat, reader: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let buffered = BufReader::with_capacity(READ_BUFFER, reader);
    Ok(match format {
        ArchiveFormat::Tar => Box::new(buffered),
        ArchiveFormat::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        ArchiveFormat::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMORY_LIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(io::Error::other)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(buffered, stream))
        }
        ArchiveFormat::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(buffered)?;
            decoder.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
            Box::new(decoder)
        }
        ArchiveFormat::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
    })
}

/// The tar stream of `archive`, and the format it came in. An archive of none of the formats,
/// or a compressed stream that holds no tar, is refused with what it is instead.
pub fn tar_stream<'a>(
    archive: impl Read + 'a,
) -> Result<(Box<dyn Read + 'a>, ArchiveFormat), UnpackError> {
    let (head, archive) = peek(archive)?;
    let Some(format) = sniff(&head) else {
        return Err(UnpackError::Format(format!(
            "the file is not an image archive: {} ({} is taken)",
            looks_like(&head),
            ArchiveFormat::accepted()
        )));
    };
    let decoded = decoder(format, archive)?;
    if !format.is_compressed() {
        return Ok((decoded, format));
    }
    let (inner, decoded) = peek(decoded)
        .map_err(|e| UnpackError::Corrupt(format!("the {format} stream could not be read: {e}")))?;
    if sniff(&inner) != Some(ArchiveFormat::Tar) {
        return Err(UnpackError::Format(format!(
            "the {format} stream holds no tar archive: what it holds {}",
            looks_like(&inner).trim_start_matches("it ")
        )));
    }
    Ok((Box::new(decoded), format))
}
