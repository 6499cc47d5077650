//! Installing an image as `images/<storage uid>/<path>` in distropanel's store without ever
//! leaving it half-written: unpack into `staging/<storage uid>/<path>`, then swap it in with
//! one atomic exchange; the image it replaces is kept as `previous/<storage uid>/<path>` for a
//! rollback. All three are root-owned directories outside the home ([`crate::host::store`]),
//! on one filesystem, so the swap is a rename and nothing a customer plants is on the way.
//!
//! The checklist ([`crate::host::check`]) runs on the staged tree before the swap: an image it
//! finds errors in (one a container would not boot) is not swapped in unless forced.

use std::io::{self, Read};

use cap_fs_ext::DirExt;
use cap_std::fs::Dir;
use rustix::fs::RenameFlags;

use crate::domain::image_source::Sha256Hex;
use crate::domain::values::DistroPath;
use crate::host::check::{self, CheckError, CheckFacts};
use crate::host::progress::{Phase, Progress};
use crate::host::report::{Level, ReportLine};
use crate::host::store::ImageDirs;
use crate::host::unpack::{self, Limits, UnpackError, Unpacked};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error("there is no previous image to go back to")]
    NoPrevious,
    #[error("the archive's SHA-256 is {actual}, not the {expected} that was given")]
    DigestMismatch {
        actual: Sha256Hex,
        expected: Sha256Hex,
    },
    /// The checklist found errors in the staged image; the installed one stays.
    #[error("{}", unbootable(.0))]
    Unbootable(Vec<ReportLine>),
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What an install refused by its check says: the errors, one after the other.
pub(crate) fn unbootable(report: &[ReportLine]) -> String {
    let errors: Vec<&str> = report
        .iter()
        .filter(|line| line.level == Level::Error)
        .map(|line| line.message.as_str())
        .collect();
    format!(
        "the image check found errors, so the installed image was kept: {}. \
         Fix the archive, or install it anyway with force",
        errors.join("; ")
    )
}

/// What decides whether a staged image goes in: the checklist with these facts (unless
/// `force`), and where the install's progress goes.
pub struct Gate<'a> {
    pub facts: &'a CheckFacts,
    /// Swap the image in whatever the check finds.
    pub force: bool,
    pub progress: &'a Progress<'a>,
}

/// An image swapped in: what the unpack wrote and what the check found.
#[derive(Debug)]
pub struct Installed {
    pub unpacked: Unpacked,
    pub report: Vec<ReportLine>,
    /// The check found errors and the image went in all the same.
    pub forced: bool,
}

fn has_errors(report: &[ReportLine]) -> bool {
    report.iter().any(|line| line.level == Level::Error)
}

fn exists(dir: &Dir, name: &str) -> io::Result<bool> {
    match dir.symlink_metadata(name) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes `name` in `dir` whatever it is, without following links.
pub(crate) fn remove_any(dir: &Dir, name: &str) -> io::Result<()> {
    match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_dir() => dir.remove_dir_all(name),
        Ok(_) => dir.remove_file(name),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Atomically swaps two names; both must exist.
fn exchange(a_dir: &Dir, a: &str, b_dir: &Dir, b: &str) -> io::Result<()> {
    rustix::fs::renameat_with(a_dir, a, b_dir, b, RenameFlags::EXCHANGE)?;
    Ok(())
}

/// Moves `from` to `to`, refusing to replace anything at `to`.
fn move_new(from_dir: &Dir, from: &str, to_dir: &Dir, to: &str) -> io::Result<()> {
    rustix::fs::renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE)?;
    Ok(())
}

/// The unpacked archive, if it is the one that was asked for.
fn verified(unpacked: Unpacked, expect: Option<&Sha256Hex>) -> Result<Unpacked, ImageError> {
    match expect {
        Some(expected) if *expected != unpacked.sha256 => Err(ImageError::DigestMismatch {
            actual: unpacked.sha256,
            expected: expected.clone(),
        }),
        _ => Ok(unpacked),
    }
}

/// Unpacks `archive` as the image `path` of one storage container, its files owned by
/// `owner`, and checks it. The digest and the check come before the swap: a refused, broken,
/// unexpected or unbootable (and not forced) archive leaves the installed image exactly as
/// it was.
pub fn install(
    dirs: &ImageDirs,
    path: &DistroPath,
    archive: impl Read,
    expect: Option<&Sha256Hex>,
    owner: Option<u32>,
    limits: Limits,
    gate: &Gate<'_>,
) -> Result<Installed, ImageError> {
    let name = path.as_str();
    remove_any(&dirs.staging, name)?;
    dirs.staging.create_dir(name)?;
    let target = dirs.staging.open_dir_nofollow(name)?;
    unpack::chown(&target, owner)?;
    let archive = gate.progress.counting(archive);
    let staged = unpack::unpack(archive, &target, owner, limits, gate.progress)
        .map_err(ImageError::from)
        .and_then(|unpacked| verified(unpacked, expect))
        .and_then(|unpacked| checked(&target, unpacked, gate));
    drop(target);
    let installed = match staged {
        Ok(installed) => installed,
        Err(e) => {
            remove_any(&dirs.staging, name)?;
            return Err(e);
        }
    };
    swap_in(dirs, name)?;
    Ok(installed)
}

/// Runs the checklist on the staged tree: errors refuse it, unless forced.
fn checked(staged: &Dir, unpacked: Unpacked, gate: &Gate<'_>) -> Result<Installed, ImageError> {
    gate.progress.phase(Phase::Checking)?;
    let report = check::check(staged, gate.facts)?;
    let broken = has_errors(&report);
    if broken && !gate.force {
        return Err(ImageError::Unbootable(report));
    }
    Ok(Installed {
        unpacked,
        report,
        forced: broken,
    })
}

/// Swaps the staged image in; the one it replaces becomes the previous one.
fn swap_in(dirs: &ImageDirs, name: &str) -> io::Result<()> {
    if exists(&dirs.installed, name)? {
        exchange(&dirs.staging, name, &dirs.installed, name)?;
        remove_any(&dirs.previous, name)?;
        move_new(&dirs.staging, name, &dirs.previous, name)
    } else {
        move_new(&dirs.staging, name, &dirs.installed, name)
    }
}

/// Puts the previous image back; the one it replaces becomes the previous one, so a second
/// rollback undoes the first.
pub fn rollback(dirs: &ImageDirs, path: &DistroPath) -> Result<(), ImageError> {
    let name = path.as_str();
    if !exists(&dirs.previous, name)? {
        return Err(ImageError::NoPrevious);
    }
    if exists(&dirs.installed, name)? {
        exchange(&dirs.previous, name, &dirs.installed, name)?;
    } else {
        move_new(&dirs.previous, name, &dirs.installed, name)?;
    }
    Ok(())
}

/// Renames the image `from` to `to`, and the previous image kept for it, so a rollback after
/// the rename still finds it. Nothing at `from` (renamed already, or no image was ever put
/// there) counts as done; a previous image already kept as `to` belonged to an earlier distro
/// of that path and goes.
pub fn rename(dirs: &ImageDirs, from: &DistroPath, to: &DistroPath) -> Result<(), RenameError> {
    match move_new(&dirs.installed, from.as_str(), &dirs.installed, to.as_str()) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(RenameError::Taken),
        Err(e) => return Err(RenameError::Io(e)),
    }
    if exists(&dirs.previous, from.as_str())? {
        remove_any(&dirs.previous, to.as_str())?;
        move_new(&dirs.previous, from.as_str(), &dirs.previous, to.as_str())?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum RenameError {
    #[error("an image is installed there already; nothing was renamed")]
    Taken,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Deletes the image `path`, the previous image kept for it and any staging left by an install
/// that never finished. A missing one counts as deleted.
pub fn purge(dirs: &ImageDirs, path: &DistroPath) -> io::Result<()> {
    for dir in [&dirs.installed, &dirs.previous, &dirs.staging] {
        remove_any(dir, path.as_str())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::PathBuf;

    use cap_std::ambient_authority;
    use sha2::{Digest, Sha256};

    use super::*;

    fn roomy() -> Limits {
        Limits {
            max_bytes: 1 << 20,
            max_entries: 100,
            max_archive_bytes: 1 << 20,
            deadline: crate::host::deadline::Deadline::NONE,
        }
    }

    /// An image holding `marker`, as `tar` writes it: two zero blocks after the last member,
    /// then zeros to the end of a 10 KiB record.
    fn image_archive(marker: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for dir in [".old_root", "containers"] {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder.append_data(&mut header, dir, io::empty()).unwrap();
        }
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_size(marker.len() as u64);
        builder.append_data(&mut header, "marker", marker).unwrap();
        let mut bytes = builder.into_inner().unwrap();
        bytes.resize(bytes.len().next_multiple_of(10240), 0);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn sha256(bytes: &[u8]) -> Sha256Hex {
        Sha256Hex::from_digest(&Sha256::digest(bytes).into())
    }

    /// The store of one storage container, in a temporary directory.
    struct Home {
        root: tempfile::TempDir,
    }

    impl Home {
        fn new() -> Self {
            Self {
                root: tempfile::tempdir().unwrap(),
            }
        }

        fn path(&self) -> PathBuf {
            self.root.path().join("var/lib/distropanel")
        }

        fn dirs(&self) -> ImageDirs {
            let root = Dir::open_ambient_dir(self.root.path(), ambient_authority()).unwrap();
            crate::host::store::Store::open(&root, "/")
                .unwrap()
                .image_dirs(crate::domain::values::Uid::of(
                    30000,
                    crate::domain::ids::ContainerId(1),
                ))
                .unwrap()
        }

        fn install_with(
            &self,
            archive: impl Read,
            expect: Option<&Sha256Hex>,
            limits: Limits,
        ) -> Result<Unpacked, ImageError> {
            self.install_gated(archive, expect, limits, false)
                .map(|installed| installed.unpacked)
        }

        fn install_gated(
            &self,
            archive: impl Read,
            expect: Option<&Sha256Hex>,
            limits: Limits,
            force: bool,
        ) -> Result<Installed, ImageError> {
            let progress = Progress::none();
            let gate = Gate {
                facts: &CheckFacts::default(),
                force,
                progress: &progress,
            };
            install(&self.dirs(), &img(), archive, expect, None, limits, &gate)
        }

        fn install(&self, archive: &[u8]) -> Result<Unpacked, ImageError> {
            self.install_with(archive, None, roomy())
        }

        fn marker(&self) -> Vec<u8> {
            std::fs::read(self.path().join("images/30001/img/marker")).unwrap()
        }

        fn previous_marker(&self) -> Vec<u8> {
            std::fs::read(self.path().join("previous/30001/img/marker")).unwrap()
        }

        fn nothing_staged(&self) -> bool {
            !self.path().join("staging/30001/img").exists()
        }
    }

    /// An archive without the directories a container boot maps into.
    fn unbootable_archive() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_size(6);
        builder
            .append_data(&mut header, "marker", &b"broken"[..])
            .unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn an_image_the_check_finds_errors_in_is_not_swapped_in_unless_forced() {
        let home = Home::new();
        home.install(&image_archive(b"v1")).unwrap();
        let broken = unbootable_archive();
        let refused = home
            .install_gated(&broken[..], None, roomy(), false)
            .unwrap_err();
        let ImageError::Unbootable(report) = &refused else {
            panic!("{refused:?}");
        };
        assert!(has_errors(report));
        assert!(
            refused.to_string().contains("/.old_root is missing"),
            "{refused}"
        );
        assert_eq!(home.marker(), b"v1", "the working image stays");
        assert!(home.nothing_staged());

        let forced = home
            .install_gated(&broken[..], None, roomy(), true)
            .unwrap();
        assert!(forced.forced);
        assert_eq!(home.marker(), b"broken");
        assert_eq!(home.previous_marker(), b"v1");
    }

    #[test]
    fn a_forced_image_without_errors_is_not_called_forced() {
        let home = Home::new();
        let done = home
            .install_gated(&image_archive(b"v1")[..], None, roomy(), true)
            .unwrap();
        assert!(!done.forced);
        assert!(!has_errors(&done.report));
    }

    fn img() -> DistroPath {
        DistroPath::parse("img").unwrap()
    }

    #[test]
    fn the_digest_and_length_are_the_whole_archives_trailing_padding_included() {
        let home = Home::new();
        let plain = image_archive(b"v1");
        let done = home.install(&plain).unwrap();
        assert_eq!(done.archive_bytes, 10240);
        assert_eq!(done.sha256, sha256(&plain));
        assert!(
            done.report
                .iter()
                .any(|l| l.message
                    == format!("the archive (tar): 10240 bytes, SHA-256 {}", done.sha256)),
            "{:?}",
            done.report
        );

        let mut compressed = gzip(&image_archive(b"v2"));
        compressed.extend_from_slice(&[0; 700]);
        let done = home.install(&compressed).unwrap();
        assert_eq!(home.marker(), b"v2");
        assert_eq!(done.archive_bytes, compressed.len() as u64);
        assert_eq!(done.sha256, sha256(&compressed));
    }

    #[test]
    fn a_digest_that_matches_installs_the_image() {
        let home = Home::new();
        let archive = image_archive(b"v1");
        let given = Sha256Hex::parse(&sha256(&archive).as_str().to_uppercase()).unwrap();
        home.install_with(&archive[..], Some(&given), roomy())
            .unwrap();
        assert_eq!(home.marker(), b"v1");
    }

    #[test]
    fn a_digest_that_does_not_match_leaves_the_installed_image() {
        let home = Home::new();
        home.install(&image_archive(b"v0")).unwrap();
        home.install(&image_archive(b"v1")).unwrap();
        let sent = image_archive(b"v2");
        let meant = sha256(&image_archive(b"v3"));
        let refused = home
            .install_with(&sent[..], Some(&meant), roomy())
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "the archive's SHA-256 is {}, not the {meant} that was given",
                sha256(&sent)
            )
        );
        assert_eq!(home.marker(), b"v1", "the installed image stays");
        assert_eq!(home.previous_marker(), b"v0", "and so does the kept one");
        assert!(home.nothing_staged());
    }

    #[test]
    fn an_archive_longer_than_allowed_is_refused_even_when_only_its_padding_is_too_long() {
        let home = Home::new();
        home.install(&image_archive(b"v1")).unwrap();
        let archive = image_archive(b"v2");
        let exactly = Limits {
            max_archive_bytes: archive.len() as u64,
            ..roomy()
        };
        let one_short = Limits {
            max_archive_bytes: archive.len() as u64 - 1,
            ..roomy()
        };
        let tiny = Limits {
            max_archive_bytes: 700,
            ..roomy()
        };
        for limits in [one_short, tiny] {
            let refused = home.install_with(&archive[..], None, limits).unwrap_err();
            assert!(
                matches!(
                    refused,
                    ImageError::Unpack(UnpackError::ArchiveTooLarge { limit })
                        if limit == limits.max_archive_bytes
                ),
                "{refused:?}"
            );
            assert_eq!(home.marker(), b"v1");
            assert!(home.nothing_staged());
        }
        home.install_with(&archive[..], None, exactly).unwrap();
        assert_eq!(home.marker(), b"v2");
    }

    /// Hands out `good` bytes, then fails as a dropped connection does.
    struct Dropped<'a> {
        good: &'a [u8],
    }

    impl Read for Dropped<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.good.is_empty() {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            self.good.read(buf)
        }
    }

    #[test]
    fn a_download_that_drops_midway_is_the_connections_fault_and_a_cut_archive_is_corrupt() {
        let home = Home::new();
        home.install(&image_archive(b"v1")).unwrap();
        let archive = gzip(&image_archive(b"v2"));
        let half = &archive[..archive.len() / 2];
        let dropped = home
            .install_with(Dropped { good: half }, None, roomy())
            .unwrap_err();
        assert!(
            matches!(&dropped, ImageError::Unpack(UnpackError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset),
            "{dropped:?}"
        );
        let cut = home.install_with(half, None, roomy()).unwrap_err();
        assert!(
            matches!(cut, ImageError::Unpack(UnpackError::Corrupt(_))),
            "{cut:?}"
        );
        assert_eq!(home.marker(), b"v1");
        assert!(home.nothing_staged());
    }
}
