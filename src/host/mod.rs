//! Everything that happens on a container host. Only this module touches host files.
//!
//! [`HostExecutor`] is what the job worker drives; [`local::LocalHost`] does it on the
//! machine it runs on, through directory capabilities: every path a customer can influence is
//! resolved beneath the container's home and never through a symbolic link, so nothing planted
//! in a home can make the executor touch a file outside it. [`fetch::Fetcher`] downloads image
//! archives; it is not part of the executor because it touches no host file, only the network.

pub mod authorized_keys;
pub mod check;
pub mod deadline;
pub mod fetch;
pub mod group_sync;
pub mod image;
pub mod local;
pub mod progress;
pub mod report;
pub mod sample_image;
pub mod store;
pub mod unpack;
pub mod usage;
pub mod vassal;

use std::fmt;
use std::io;
use std::sync::Arc;

use anyhow::Context;

use crate::domain::image_source::{HomeFile, Sha256Hex};
use crate::domain::values::{DistroPath, Uid};

/// Makes the directory `name` in `parent` with `mode`. An entry already there is left as it
/// is: what it is gets checked when it is opened, without following a link.
pub(crate) fn make_dir(parent: &cap_std::fs::Dir, name: &str, mode: u32) -> io::Result<()> {
    use cap_std::fs::DirBuilderExt;
    let mut builder = cap_std::fs::DirBuilder::new();
    builder.mode(mode);
    match parent.create_dir_with(name, &builder) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Gives what `fd` opens to `uid:gid` unless it already belongs to them, and says what it found
/// before. A chown writes the inode even when nothing changes, and on a busy host that write
/// waits for the filesystem's journal; every restart would pay it for each directory of the home.
pub(crate) fn give_unless_owned(
    fd: impl rustix::fd::AsFd,
    uid: rustix::fs::Uid,
    gid: rustix::fs::Gid,
) -> io::Result<rustix::fs::Stat> {
    use rustix::fs::{AtFlags, chownat, statat};
    // directory capabilities may be O_PATH descriptors, which fchown and fstat refuse
    let stat = statat(&fd, "", AtFlags::EMPTY_PATH)?;
    if stat.st_uid != uid.as_raw() || stat.st_gid != gid.as_raw() {
        chownat(&fd, "", Some(uid), Some(gid), AtFlags::EMPTY_PATH)?;
    }
    Ok(stat)
}

/// The executor for this machine and the vassal template, as configured (blocking work done
/// off the runtime).
pub async fn open_local(
    config: &crate::config::Config,
) -> anyhow::Result<(Arc<dyn HostExecutor>, Arc<vassal::VassalTemplate>)> {
    let root = config.host_root.clone();
    let vassals = config.vassals_dir.clone();
    let template = config.vassal_template.clone();
    tokio::task::spawn_blocking(move || {
        let host = local::LocalHost::open(&root, &vassals)
            .with_context(|| format!("opening the host root {}", root.display()))?;
        let template = vassal::VassalTemplate::load(template.as_deref())?;
        Ok((Arc::new(host) as Arc<dyn HostExecutor>, Arc::new(template)))
    })
    .await?
}

/// The container-side path of a home, as the container and its alarms name it.
pub fn home_label(uid: Uid) -> String {
    format!("/containers/{uid}")
}

/// A custom distro image: `distros/<path>` in the home of its storage container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub storage_uid: Uid,
    pub path: DistroPath,
}

impl ImageRef {
    /// `/containers/<storage uid>/distros/<path>`: how alarms and logs name the image.
    pub fn label(&self) -> String {
        format!("{}/distros/{}", home_label(self.storage_uid), self.path)
    }
}

/// What the image directory holds of what every image needs to boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageCheck {
    /// `pivot_root` keeps the host's root there.
    pub old_root: bool,
    /// The home is mounted at `/containers/<uid>` inside it.
    pub containers: bool,
}

impl ImageCheck {
    /// An image missing either directory cannot boot: the container falls back.
    pub fn bootable(&self) -> bool {
        self.old_root && self.containers
    }

    /// The level-0 alarms a restart raises for this image, in uwsgi.it's words.
    pub fn danger_alarms(&self, image: &ImageRef) -> Vec<String> {
        let mut alarms = Vec::new();
        for (present, dir) in [
            (self.old_root, ".old_root"),
            (self.containers, "containers"),
        ] {
            if !present {
                alarms.push(format!(
                    "[DANGER] {}/{dir} does not exist as a custom distro",
                    image.label()
                ));
            }
        }
        alarms
    }
}

/// Why a host operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Something a customer put in a home or asked for is not what it must be (a link, a file
    /// where a directory belongs, an archive that is not the one named, an address that is
    /// not on the public internet). Trying again will not help until the customer fixes it.
    #[error("{path}: {why}")]
    Refused { path: String, why: String },
    /// The operating system said no; it may work next time.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    /// The vassal template could not be rendered.
    #[error("rendering the vassal: {0}")]
    Template(String),
    /// The work ran past its job's deadline and stopped; what it had begun was undone.
    #[error("{path}: {passed}")]
    PastDeadline {
        path: String,
        passed: deadline::DeadlinePassed,
    },
    /// The checklist found errors in a new image, which was not swapped in: the report says
    /// which. The same archive will fail the same way.
    #[error("{path}: {why}")]
    Unbootable {
        path: String,
        why: String,
        report: Vec<report::ReportLine>,
    },
    /// Whoever runs the work asked it to stop; what it had begun was undone.
    #[error("{path}: cancelled; nothing was changed")]
    Cancelled { path: String },
}

impl HostError {
    pub fn io(path: impl fmt::Display, source: io::Error) -> Self {
        HostError::Io {
            path: path.to_string(),
            source,
        }
    }

    pub fn refused(path: impl fmt::Display, why: impl Into<String>) -> Self {
        HostError::Refused {
            path: path.to_string(),
            why: why.into(),
        }
    }

    /// Retrying cannot help: the job fails at once. Work past its deadline would most likely
    /// run past it again, and hold a slot each time: it is not retried either.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            HostError::Refused { .. }
                | HostError::Template(_)
                | HostError::PastDeadline { .. }
                | HostError::Unbootable { .. }
                | HostError::Cancelled { .. }
        )
    }
}

/// What a container holds on its host, by [`usage`]'s accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskUse {
    /// Its home, below `containers/<uid>`.
    pub home_bytes: u64,
    /// The custom distro images it stores, installed and kept previous ones.
    pub images_bytes: u64,
}

/// One thing a step left alone, for the operation log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub why: String,
}

/// A file written under a temporary name in `dir` and not yet synced:
/// [`HostExecutor::publish`] makes a batch of them durable and renames each into place. One
/// dropped unpublished is removed.
pub struct Staged {
    pub(crate) dir: cap_std::fs::Dir,
    /// Emptied once renamed.
    pub(crate) temp: String,
    pub(crate) name: String,
    /// The file as messages name it.
    pub label: String,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.temp.is_empty() {
            let _ = self.dir.remove_file(&self.temp);
        }
    }
}

/// What must happen on a container host. Implementations are blocking; the worker calls
/// them off the async runtime.
pub trait HostExecutor: Send + Sync + 'static {
    /// Creates what is missing of the home skeleton (`logs/`, `etc/`, `run/`, `tmp/`,
    /// `vassals/`, `.old_root/<uid>`), owned by the container. Entries that exist but are not
    /// plain directories are left alone and reported.
    fn ensure_home(&self, uid: Uid) -> Result<Vec<Skipped>, HostError>;

    /// Creates `<home>/distros` for a storage container, owned by the container.
    fn ensure_storage_dir(&self, uid: Uid) -> Result<(), HostError>;

    /// Looks for `/.old_root` and `/containers` in a custom distro image.
    fn check_image(&self, image: &ImageRef) -> Result<ImageCheck, HostError>;

    /// Atomically replaces the container's vassal in the Emperor's directory, which makes the
    /// Emperor restart the container.
    fn restart(&self, uid: Uid, vassal: &vassal::RenderedVassal) -> Result<(), HostError>;

    /// Renames `distros/<from>` to `distros/<to>` in a storage container, and the previous
    /// image kept for a rollback with it. Nothing at `from` (renamed already, or no image was
    /// ever put there) counts as done.
    fn rename_image(
        &self,
        storage: Uid,
        from: &DistroPath,
        to: &DistroPath,
    ) -> Result<(), HostError>;

    /// Deletes `distros/<path>` of a storage container and the previous image kept for it; a
    /// missing one counts as deleted.
    fn purge_image(&self, storage: Uid, path: &DistroPath) -> Result<(), HostError>;

    /// Appends lines to `<home>/logs/emperor.log`, in one write.
    fn append_log(&self, uid: Uid, lines: &[String]) -> Result<(), HostError>;

    /// Whether `<home>/bin/uwsgi` exists (reached without following a link), where a
    /// container's Emperor looks for uwsgi first.
    fn home_has_uwsgi(&self, uid: Uid) -> bool;

    /// The last `max_bytes` (at most) of `<home>/logs/emperor.log`, from a line start.
    fn log_tail(&self, uid: Uid, max_bytes: usize) -> Result<String, HostError>;

    /// Where things are on this host, for rendering vassals.
    fn layout(&self) -> &vassal::HostLayout;

    /// Unpacks an image archive as `distros/<path>` of a storage container: staged, then
    /// swapped in atomically, the replaced image kept for [`HostExecutor::rollback_image`].
    /// Every byte of the archive is hashed; when `expect` is given and the archive's SHA-256
    /// differs, nothing is swapped. The checklist runs on the staged tree with the facts of
    /// `gate`: errors refuse it unless forced. A refused archive leaves the installed image as
    /// it was, and so does an install its progress sink stopped.
    fn install_image(
        &self,
        storage: Uid,
        path: &DistroPath,
        archive: &mut dyn io::Read,
        expect: Option<&Sha256Hex>,
        limits: unpack::Limits,
        gate: &image::Gate<'_>,
    ) -> Result<image::Installed, HostError>;

    /// Opens a regular file in a container's home for reading (an image archive the customer
    /// put there), never through a symbolic link at any step; with its size, read from the
    /// opened file.
    fn open_home_file(
        &self,
        uid: Uid,
        file: &HomeFile,
    ) -> Result<(Box<dyn io::Read + Send>, u64), HostError>;

    /// Puts the previous image of `distros/<path>` back (a second call undoes the first).
    fn rollback_image(&self, storage: Uid, path: &DistroPath) -> Result<(), HostError>;

    /// The whole checklist of an image (what `check_image` decides boot on, and more).
    fn inspect_image(
        &self,
        image: &ImageRef,
        facts: &check::CheckFacts,
    ) -> Result<Vec<report::ReportLine>, HostError>;

    /// Replaces `<home>/.ssh/uwsgi_authorized_keys` with these keys, one a line (no keys: an
    /// empty file), atomically, mode 0600, owned by the container, never through a link: a
    /// link or anything but a directory at `.ssh` is refused and nothing is written. A file
    /// that already is exactly that is left as it is ([`authorized_keys::KeysFile::Unchanged`]).
    fn write_authorized_keys(
        &self,
        uid: Uid,
        keys: &[crate::domain::authorized_key::AuthorizedKey],
    ) -> Result<authorized_keys::KeysFile, HostError>;

    /// What [`HostExecutor::write_authorized_keys`] writes, staged for
    /// [`HostExecutor::publish`] (`.ssh` is made and checked the same way); `None` when the
    /// file in place already is exactly that.
    fn stage_authorized_keys(
        &self,
        uid: Uid,
        keys: &[crate::domain::authorized_key::AuthorizedKey],
    ) -> Result<Option<Staged>, HostError>;

    /// What [`HostExecutor::restart`] writes, staged for [`HostExecutor::publish`].
    fn stage_vassal(&self, uid: Uid, vassal: &vassal::RenderedVassal) -> Result<Staged, HostError>;

    /// Makes each staged file's data durable and renames it into place, in order, then makes
    /// the renames durable: a few files with a sync of each and one `fsync` per directory, a
    /// larger batch with one `syncfs` of each filesystem before the renames and one after.
    /// Only a regular file is renamed into place. Returns each file's outcome, in order; a
    /// failed sync of the renames fails every file of the batch.
    fn publish(&self, staged: Vec<Staged>) -> Vec<Result<(), HostError>>;

    /// How many bytes the home of `uid` holds, and the images (installed and kept previous)
    /// it stores. A missing home or store counts as nothing.
    fn disk_use(&self, uid: Uid) -> Result<DiskUse, HostError>;
}

impl From<(String, image::ImageError)> for HostError {
    /// An image error about the image at `label`: what the archive or the home holds is the
    /// customer's to fix, so only the operating system's own failures are worth a retry.
    fn from((label, error): (String, image::ImageError)) -> Self {
        match error {
            image::ImageError::Io(source)
            | image::ImageError::Unpack(unpack::UnpackError::Io(source)) => {
                HostError::io(label, source)
            }
            image::ImageError::Unpack(unpack::UnpackError::PastDeadline(passed)) => {
                HostError::PastDeadline {
                    path: label,
                    passed,
                }
            }
            image::ImageError::Check(e) => HostError::from((label, e)),
            image::ImageError::Unbootable(report) => HostError::Unbootable {
                why: image::unbootable(&report),
                path: label,
                report,
            },
            refused => HostError::refused(label, refused.to_string()),
        }
    }
}

impl From<(String, check::CheckError)> for HostError {
    /// A check error about the image at `label`.
    fn from((label, error): (String, check::CheckError)) -> Self {
        match error {
            check::CheckError::Io(source) => HostError::io(label, source),
            check::CheckError::PastDeadline(passed) => HostError::PastDeadline {
                path: label,
                passed,
            },
        }
    }
}
