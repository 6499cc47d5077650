//! Staged, bounded, link-safe extraction of an image archive into a directory.
//!
//! The archive is refused whole when a member would land outside the target: an absolute
//! name, a `..` component, a hard link whose target leaves the image, or a write through a
//! symbolic link. Names are never rewritten. Device nodes and fifos are skipped and set-uid /
//! set-gid bits dropped, each reported. Every write goes through a capability on the target
//! directory and never follows a symbolic link, so a hostile archive cannot reach anything
//! outside it whatever it contains.
//!
//! Nothing an archive claims grows memory past a bound: extension headers (GNU long names and
//! links, PAX records) are capped before the tar reader sees them, member names and link
//! targets at [`MAX_NAME_BYTES`]. The deadline in [`Limits`] is looked at for every chunk read
//! and every member, so a slow or endless archive stops with it.

mod extension_cap;
mod formats;
mod open_path;
mod pool;

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use cap_fs_ext::DirExt;
use cap_std::fs::{Dir, Permissions, PermissionsExt};
use rustix::fs::{AtFlags, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use extension_cap::ExtensionCap;
use open_path::OpenPath;

use crate::domain::archive_format::ArchiveFormat;
use crate::domain::image_source::Sha256Hex;
use crate::host::deadline::{Deadline, DeadlinePassed};
use crate::host::progress::Progress;
use crate::host::report::{Findings, ReportLine};

pub use extension_cap::MAX_EXTENSION_BYTES;

/// The longest member name or link target taken, in bytes (Linux's `PATH_MAX`).
pub const MAX_NAME_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of file content the image may hold (the storage quota).
    pub max_bytes: u64,
    /// Members the archive may have.
    pub max_entries: u64,
    /// Bytes of the archive itself, as it comes (compressed, trailing padding included). A
    /// download or an upload longer than this is cut off and refused.
    pub max_archive_bytes: u64,
    /// When the job must be done by: past it, the unpack stops and nothing is swapped in.
    pub deadline: Deadline,
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("the archive was refused: {0}")]
    Refused(String),
    #[error("the image is larger than the {limit} bytes the storage quota allows")]
    TooLarge { limit: u64 },
    #[error("the archive is longer than the {limit} bytes allowed for an image archive")]
    ArchiveTooLarge { limit: u64 },
    #[error("the archive has more than {0} members")]
    TooManyEntries(u64),
    #[error("the archive could not be read: {0}")]
    Corrupt(String),
    /// None of the formats taken, or a compressed stream without a tar inside.
    #[error("{0}")]
    Format(String),
    #[error(transparent)]
    PastDeadline(#[from] DeadlinePassed),
    #[error("writing the image failed: {0}")]
    Io(#[from] io::Error),
}

#[derive(Debug)]
pub struct Unpacked {
    /// Bytes of file content written.
    pub bytes: u64,
    pub entries: u64,
    pub report: Vec<ReportLine>,
    /// Bytes of the archive as it came, compressed, trailing padding included.
    pub archive_bytes: u64,
    /// The SHA-256 of exactly those bytes: what `sha256sum` says of the archive file.
    pub sha256: Sha256Hex,
    /// What the archive came as, told by its first bytes.
    pub format: ArchiveFormat,
}

/// What the members wrote, before the archive is measured.
#[derive(Debug, Default)]
struct Written {
    format: Option<ArchiveFormat>,
    bytes: u64,
    entries: u64,
    report: Vec<ReportLine>,
}

/// Hashes and counts every byte read from an archive and refuses to read past the limit. It
/// also remembers why its source failed: the tar and gzip readers above it turn errors into
/// their own, and a connection that drops is worth a retry where a corrupt archive is not.
/// It looks at the deadline before every read, so a source that drips bytes stops with it.
struct Measured<R> {
    source: R,
    hasher: Sha256,
    bytes: u64,
    limit: u64,
    over_limit: bool,
    source_error: Option<io::Error>,
    deadline: Deadline,
    past_deadline: Option<DeadlinePassed>,
}

impl<R: Read> Measured<R> {
    fn new(source: R, limits: &Limits) -> Self {
        Self {
            source,
            hasher: Sha256::new(),
            bytes: 0,
            limit: limits.max_archive_bytes,
            over_limit: false,
            source_error: None,
            deadline: limits.deadline,
            past_deadline: None,
        }
    }

    /// Reads what is left after the tar end marker (the rest of the record, a gzip trailer),
    /// so the digest is the whole archive's.
    fn drain(&mut self) -> Result<(), UnpackError> {
        io::copy(self, &mut io::sink())?;
        Ok(())
    }

    /// The error to report for a failed unpack: running past the limit or a failing source
    /// explains whatever the readers above made of it.
    fn blame(self, error: UnpackError) -> UnpackError {
        if let Some(passed) = self.past_deadline {
            UnpackError::PastDeadline(passed)
        } else if self.over_limit {
            UnpackError::ArchiveTooLarge { limit: self.limit }
        } else if let Some(source) = self.source_error {
            UnpackError::Io(source)
        } else {
            error
        }
    }

    fn finish(self) -> (u64, Sha256Hex) {
        let digest: [u8; 32] = self.hasher.finalize().into();
        (self.bytes, Sha256Hex::from_digest(&digest))
    }
}

impl<R: Read> Read for Measured<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Err(passed) = self.deadline.check() {
            self.past_deadline = Some(passed);
            return Err(io::Error::new(io::ErrorKind::TimedOut, passed.to_string()));
        }
        // one byte past the limit is enough to know the archive is too long
        let room = self.limit.saturating_sub(self.bytes).saturating_add(1);
        let wanted = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let read = match self.source.read(&mut buf[..wanted]) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                // a download cut off by its own time limit ran out of the job's time
                if let Err(passed) = self.deadline.check() {
                    self.past_deadline = Some(passed);
                }
                let told = io::Error::new(e.kind(), e.to_string());
                self.source_error = Some(e);
                return Err(told);
            }
        };
        self.bytes += read as u64;
        if self.bytes > self.limit {
            self.over_limit = true;
            return Err(io::Error::other("the archive is longer than allowed"));
        }
        self.hasher.update(&buf[..read]);
        Ok(read)
    }
}

/// Gives an open file or directory to `owner` (uid and gid alike), when there is one. Works on
/// path-only descriptors too, which is how directories are held.
pub(crate) fn chown(fd: impl std::os::fd::AsFd, owner: Option<u32>) -> io::Result<()> {
    if let Some(uid) = owner {
        let id = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(uid)));
        rustix::fs::chownat(fd, "", id.0, id.1, AtFlags::EMPTY_PATH)?;
    }
    Ok(())
}

/// The components of a member name, or why the name is refused. `.` components and
/// repeated or trailing slashes carry no meaning and are passed over.
fn member_components(raw: &[u8]) -> Result<Vec<&OsStr>, String> {
    let path = Path::new(OsStr::from_bytes(raw));
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "the member '{}' has an absolute name",
                    path.display()
                ));
            }
            Component::ParentDir => {
                return Err(format!(
                    "the member '{}' climbs out with '..'",
                    path.display()
                ));
            }
        }
    }
    Ok(parts)
}

fn joined(parts: &[&OsStr]) -> PathBuf {
    parts.iter().collect()
}

struct Extractor {
    /// The target directory.
    root: Arc<Dir>,
    /// Creates the small files, when its threads could be started.
    pool: Option<pool::Pool>,
    owner: Option<u32>,
    limits: Limits,
    written: Written,
    directory_modes: Vec<(PathBuf, u32)>,
    devices: Findings,
    setid: Findings,
    other: Findings,
}

impl Extractor {
    fn chown_fd(&self, fd: impl std::os::fd::AsFd) -> io::Result<()> {
        chown(fd, self.owner)
    }

    fn chown_link(&self, dir: &Dir, name: &OsStr) -> io::Result<()> {
        if let Some(uid) = self.owner {
            rustix::fs::chownat(
                dir,
                name,
                Some(Uid::from_raw(uid)),
                Some(Gid::from_raw(uid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )?;
        }
        Ok(())
    }

    /// Opens (creating as needed) the directory `parts[depth]` in `dir`, the directory of
    /// `parts[..depth]`, refusing to pass through a symbolic link or a file.
    fn step_into(
        &self,
        dir: &Dir,
        parts: &[&OsStr],
        depth: usize,
        member: &Path,
    ) -> Result<Dir, UnpackError> {
        let part = parts[depth];
        match dir.open_dir_nofollow(part) {
            Ok(next) => return Ok(next),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                dir.create_dir(part)?;
                let next = dir.open_dir_nofollow(part)?;
                self.chown_fd(&next)?;
                return Ok(next);
            }
            Err(_) => {}
        }
        let through = joined(&parts[..=depth]);
        let is_link = dir
            .symlink_metadata(part)
            .map(|m| m.is_symlink())
            .unwrap_or(false);
        Err(if is_link {
            UnpackError::Refused(format!(
                "the member '{}' would be written through the symbolic link '{}'",
                member.display(),
                through.display()
            ))
        } else {
            UnpackError::Corrupt(format!(
                "the member '{}' needs '{}' to be a directory, but it is not",
                member.display(),
                through.display()
            ))
        })
    }

    /// The directory `parents` (created as needed), from those `open` keeps.
    fn parent(
        &self,
        open: &mut OpenPath,
        parents: &[&OsStr],
        member: &Path,
    ) -> Result<Arc<Dir>, UnpackError> {
        open.enter(&self.root, parents, |dir, depth| {
            self.step_into(dir, parents, depth, member)
        })
        .cloned()
    }

    /// Opens the directory `parts` (creating it as needed) from the root, step by step.
    fn open_parent(&self, parts: &[&OsStr], member: &Path) -> Result<Dir, UnpackError> {
        let mut dir = self.root.try_clone()?;
        for depth in 0..parts.len() {
            dir = self.step_into(&dir, parts, depth, member)?;
        }
        Ok(dir)
    }

    /// Makes `name` in `dir` with `make`; when the name is taken, by a file or link of an
    /// earlier member, that one goes first (a directory is never replaced). Trying first saves
    /// a look for every member of the usual archive, where no name comes twice.
    fn replacing<T>(
        &self,
        dir: &Dir,
        name: &OsStr,
        member: &Path,
        make: impl Fn() -> io::Result<T>,
    ) -> Result<T, UnpackError> {
        match make() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                clear_name(dir, name, member)?;
                Ok(make()?)
            }
            made => Ok(made?),
        }
    }

    fn safe_mode(&mut self, mode: u32, member: &Path) -> u32 {
        if mode & 0o6000 != 0 {
            self.setid.add(member.display().to_string());
        }
        mode & 0o1777
    }

    /// A small file, read whole and handed to the pool to create.
    fn pooled_file(
        &mut self,
        entry: &mut impl Read,
        dir: Arc<Dir>,
        parts: &[&OsStr],
        member: &Path,
        mode: u32,
        size: u64,
    ) -> Result<(), UnpackError> {
        let room = self.limits.max_bytes.saturating_sub(self.written.bytes);
        let mut content = Vec::with_capacity(usize::try_from(size.min(room)).unwrap_or(0));
        entry
            .take(room.saturating_add(1))
            .read_to_end(&mut content)
            .map_err(|e| {
                UnpackError::Corrupt(format!(
                    "'{}' is cut short or damaged: {e}",
                    member.display()
                ))
            })?;
        let copied = content.len() as u64;
        if copied > room {
            return Err(UnpackError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        self.written.bytes += copied;
        let mode = self.safe_mode(mode, member);
        let (Some(pool), Some(name)) = (self.pool.as_mut(), parts.last()) else {
            unreachable!("a pooled file has a pool and a name");
        };
        let path = *pool.prefixes(parts).last().expect("a member has a name");
        pool.create(
            path,
            pool::Work {
                dir,
                name: name.to_os_string(),
                member: member.to_path_buf(),
                content,
                mode,
                owner: self.owner,
            },
        )
    }

    fn file(
        &mut self,
        entry: &mut impl Read,
        dir: &Dir,
        name: &OsStr,
        member: &Path,
        mode: u32,
    ) -> Result<(), UnpackError> {
        // `name` is one plain component: nothing to resolve, and never a link followed
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut file = File::from(self.replacing(dir, name, member, || {
            Ok(rustix::fs::openat(
                dir,
                name,
                flags,
                Mode::from_raw_mode(0o600),
            )?)
        })?);
        let room = self.limits.max_bytes.saturating_sub(self.written.bytes);
        let copied = copy_content(entry, &mut file, room, member)?;
        if copied > room {
            return Err(UnpackError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        self.written.bytes += copied;
        let mode = self.safe_mode(mode, member);
        rustix::fs::fchmod(&file, Mode::from_raw_mode(mode)).map_err(io::Error::from)?;
        self.chown_fd(&file)?;
        Ok(())
    }

    fn directory(
        &mut self,
        dir: &Dir,
        name: &OsStr,
        member: &Path,
        parts: &[&OsStr],
        mode: u32,
    ) -> Result<(), UnpackError> {
        match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o777)) {
            Ok(()) => {}
            Err(Errno::EXIST) if dir.symlink_metadata(name)?.is_dir() => {}
            Err(Errno::EXIST) => {
                return Err(UnpackError::Corrupt(format!(
                    "the directory '{}' would replace a file or link",
                    member.display()
                )));
            }
            Err(e) => return Err(io::Error::from(e).into()),
        }
        self.chown_link(dir, name)?;
        let mode = self.safe_mode(mode, member);
        self.directory_modes.push((joined(parts), mode));
        Ok(())
    }

    fn symlink(
        &mut self,
        dir: &Dir,
        name: &OsStr,
        member: &Path,
        target: &[u8],
    ) -> Result<(), UnpackError> {
        if target.is_empty() {
            return Err(UnpackError::Corrupt(format!(
                "the link '{}' has no target",
                member.display()
            )));
        }
        // The target is data: the container resolves it inside its own root, we never follow it.
        // (cap-std refuses absolute targets, which root filesystems are full of.)
        self.replacing(dir, name, member, || {
            Ok(rustix::fs::symlinkat(OsStr::from_bytes(target), dir, name)?)
        })?;
        self.chown_link(dir, name)?;
        Ok(())
    }

    fn hard_link(
        &mut self,
        dir: &Dir,
        name: &OsStr,
        member: &Path,
        target: &[u8],
    ) -> Result<(), UnpackError> {
        let target_parts = member_components(target).map_err(|why| {
            UnpackError::Refused(format!(
                "the hard link '{}' points outside the image: {why}",
                member.display()
            ))
        })?;
        let Some((target_name, target_parents)) = target_parts.split_last() else {
            return Err(UnpackError::Refused(format!(
                "the hard link '{}' points at the image root",
                member.display()
            )));
        };
        let target_dir = self.open_parent(target_parents, Path::new(OsStr::from_bytes(target)))?;
        let linked = self.replacing(dir, name, member, || {
            target_dir.hard_link(target_name, dir, name)
        });
        match linked {
            Err(UnpackError::Io(e)) => Err(UnpackError::Corrupt(format!(
                "the hard link '{}' points at '{}', which is not in the image before it: {e}",
                member.display(),
                String::from_utf8_lossy(target)
            ))),
            linked => linked,
        }
    }

    /// Counts one more member against the limits and the deadline.
    fn count_entry(&mut self) -> Result<(), UnpackError> {
        self.limits.deadline.check()?;
        self.written.entries += 1;
        if self.written.entries > self.limits.max_entries {
            return Err(UnpackError::TooManyEntries(self.limits.max_entries));
        }
        Ok(())
    }

    /// Writes one member, in its parent directory opened through `open`. This is the one place
    /// each member of the archive passes through.
    fn member(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        open: &mut OpenPath,
    ) -> Result<(), UnpackError> {
        use tar::EntryType;
        let kind = entry.header().entry_type();
        if is_extension_header(kind) {
            return Ok(());
        }
        self.count_entry()?;
        let raw_name = entry.path_bytes().into_owned();
        refuse_long_name(&raw_name, "name")?;
        let parts = member_components(&raw_name).map_err(UnpackError::Refused)?;
        let member = joined(&parts);
        let Some((name, parents)) = parts.split_last() else {
            return Ok(()); // the archive's own root, `./`
        };
        let (mode, link_target) = mode_and_link_target(entry)?;
        if let Some(pool) = self.pool.as_mut() {
            // a path the pool may still be writing is touched only once it is written
            pool.before(&parts)?;
            if kind == EntryType::Link {
                pool.before(&member_components(&link_target).unwrap_or_default())?;
            }
        }
        let size = entry.size();
        match kind {
            EntryType::Regular | EntryType::Continuous
                if self.pool.is_some() && size <= pool::POOLED_FILE_BYTES =>
            {
                let dir = self.parent(open, parents, &member)?;
                self.pooled_file(entry, dir, &parts, &member, mode, size)
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let dir = self.parent(open, parents, &member)?;
                self.file(entry, &dir, name, &member, mode)
            }
            EntryType::Directory => {
                let dir = self.parent(open, parents, &member)?;
                self.directory(&dir, name, &member, &parts, mode)
            }
            EntryType::Symlink => {
                let dir = self.parent(open, parents, &member)?;
                self.symlink(&dir, name, &member, &link_target)
            }
            EntryType::Link => {
                let dir = self.parent(open, parents, &member)?;
                self.hard_link(&dir, name, &member, &link_target)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.devices.add(member.display().to_string());
                Ok(())
            }
            _ => {
                self.other.add(member.display().to_string());
                Ok(())
            }
        }
    }

    fn finish(mut self) -> Result<Written, UnpackError> {
        if let Some(pool) = self.pool.as_mut() {
            pool.idle()?;
        }
        // Directory modes last, deepest first, so a read-only directory did not stop its children.
        self.directory_modes
            .sort_by_key(|(path, _)| std::cmp::Reverse(path.components().count()));
        for (path, mode) in &self.directory_modes {
            self.root
                .set_permissions(path, Permissions::from_mode(*mode))?;
        }
        if !self.devices.is_empty() {
            self.written.report.push(ReportLine::warning(
                self.devices.describe("skipped device nodes and fifos"),
            ));
        }
        if !self.setid.is_empty() {
            self.written.report.push(ReportLine::warning(
                self.setid.describe("dropped set-uid/set-gid bits"),
            ));
        }
        if !self.other.is_empty() {
            self.written.report.push(ReportLine::warning(
                self.other.describe("skipped members of unknown kinds"),
            ));
        }
        self.written.report.push(ReportLine::info(format!(
            "unpacked {} members, {} bytes",
            self.written.entries, self.written.bytes
        )));
        Ok(self.written)
    }
}

/// Makes room for a non-directory member: an earlier file or link of the same name goes,
/// a directory is never replaced.
fn clear_name(dir: &Dir, name: &OsStr, member: &Path) -> Result<(), UnpackError> {
    match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_dir() => Err(UnpackError::Corrupt(format!(
            "the member '{}' would replace a directory",
            member.display()
        ))),
        Ok(_) => Ok(dir.remove_file(name)?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The pax and GNU headers that describe the next member rather than being one; the tar reader
/// has already applied them.
fn is_extension_header(kind: tar::EntryType) -> bool {
    use tar::EntryType;
    matches!(
        kind,
        EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink
    )
}

/// The member's mode bits and its link target (empty when it is not a link).
fn mode_and_link_target(entry: &tar::Entry<'_, impl Read>) -> Result<(u32, Vec<u8>), UnpackError> {
    let mode = entry
        .header()
        .mode()
        .map_err(|e| UnpackError::Corrupt(e.to_string()))?;
    let link_target = entry
        .link_name_bytes()
        .map(|t| t.into_owned())
        .unwrap_or_default();
    refuse_long_name(&link_target, "link target")?;
    Ok((mode, link_target))
}

/// A name or link target longer than any path the system takes is refused whole.
fn refuse_long_name(raw: &[u8], what: &str) -> Result<(), UnpackError> {
    if raw.len() <= MAX_NAME_BYTES {
        return Ok(());
    }
    let start = String::from_utf8_lossy(&raw[..64]);
    Err(UnpackError::Refused(format!(
        "a member's {what} is {} bytes long (at most {MAX_NAME_BYTES} are taken): '{start}...'",
        raw.len()
    )))
}

/// Copies a member's content, reading at most one byte more than `room` so the caller can
/// tell it would not fit. A failed read is the archive's fault, a failed write the host's.
fn copy_content(
    entry: &mut impl Read,
    file: &mut impl Write,
    room: u64,
    member: &Path,
) -> Result<u64, UnpackError> {
    let mut content = entry.take(room.saturating_add(1));
    let mut buf = vec![0u8; 64 * 1024];
    let mut copied = 0u64;
    loop {
        let read = match content.read(&mut buf) {
            Ok(0) => return Ok(copied),
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(UnpackError::Corrupt(format!(
                    "'{}' is cut short or damaged: {e}",
                    member.display()
                )));
            }
        };
        file.write_all(&buf[..read])?;
        copied += read as u64;
    }
}

/// Unpacks a tar archive (plain, or compressed with gzip, xz, zstd or bzip2) into `target`, which should be empty. Files,
/// directories and links become owned by `owner` when given (the storage container's uid).
/// Every byte of the archive is counted and hashed, what follows the tar end marker too.
/// On error `target` holds a partial tree the caller throws away.
pub fn unpack(
    archive: impl Read,
    target: &Dir,
    owner: Option<u32>,
    limits: Limits,
    progress: &Progress<'_>,
) -> Result<Unpacked, UnpackError> {
    let mut measured = Measured::new(archive, &limits);
    let extracted = extract(&mut measured, target, owner, limits, progress).and_then(|written| {
        measured.drain()?;
        // nothing is swapped in after the deadline, however little was left to read
        limits.deadline.check()?;
        Ok(written)
    });
    let mut written = match extracted {
        Ok(written) => written,
        Err(e) => return Err(measured.blame(e)),
    };
    let (archive_bytes, sha256) = measured.finish();
    let format = written.format.unwrap_or(ArchiveFormat::Tar);
    written.report.push(ReportLine::info(format!(
        "the archive ({format}): {archive_bytes} bytes, SHA-256 {sha256}"
    )));
    Ok(Unpacked {
        format,
        bytes: written.bytes,
        entries: written.entries,
        report: written.report,
        archive_bytes,
        sha256,
    })
}

fn extract(
    archive: impl Read,
    target: &Dir,
    owner: Option<u32>,
    limits: Limits,
    progress: &Progress<'_>,
) -> Result<Written, UnpackError> {
    let (stream, format) = formats::tar_stream(archive)?;
    let mut archive = tar::Archive::new(ExtensionCap::new(stream));
    let mut extractor = Extractor {
        root: Arc::new(target.try_clone()?),
        // without its threads, every file is written here
        pool: pool::Pool::new().ok(),
        owner,
        limits,
        written: Written {
            format: Some(format),
            ..Written::default()
        },
        directory_modes: Vec::new(),
        devices: Findings::default(),
        setid: Findings::default(),
        other: Findings::default(),
    };
    match extract_members(&mut archive, &mut extractor, progress) {
        Ok(()) => extractor.finish(),
        // the cap's refusal explains whatever the tar reader made of the cut stream
        Err(error) => Err(match archive.into_inner().refusal() {
            Some(why) => UnpackError::Refused(why.to_owned()),
            None => error,
        }),
    }
}

fn extract_members(
    archive: &mut tar::Archive<impl Read>,
    extractor: &mut Extractor,
    progress: &Progress<'_>,
) -> Result<(), UnpackError> {
    let entries = archive
        .entries()
        .map_err(|e| UnpackError::Corrupt(e.to_string()))?;
    let mut open = OpenPath::default();
    for entry in entries {
        let mut entry = entry.map_err(|e| UnpackError::Corrupt(e.to_string()))?;
        extractor.member(&mut entry, &mut open)?;
        progress.entry(extractor.written.entries, extractor.written.bytes)?;
    }
    Ok(())
}
