//! [`LocalHost`]: the host executor for the machine it runs on.
//!
//! The host root, `containers/` and the vassals directory are opened once as directory
//! capabilities (cap-std: `openat2` with `RESOLVE_BENEATH` where the kernel has it). Inside a
//! home every component is opened without following symbolic links, so a link a customer plants
//! (`distros -> /etc`) is reported and left alone, never followed. Files a customer can replace
//! are opened non-blocking and must be regular files, so a planted FIFO cannot stall a worker.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, File, MetadataExt, OpenOptions, OpenOptionsExt};

use crate::domain::image_source::{HomeFile, Sha256Hex};
use crate::domain::values::{DistroPath, Uid};
use crate::host::report::ReportLine;
use crate::host::store::{ImageDirs, Store};
use crate::host::vassal::{HostLayout, RenderedVassal, SKELETON};
use crate::host::{
    DiskUse, HostError, HostExecutor, ImageCheck, ImageRef, Skipped, Staged, check, home_label,
    image, unpack, usage,
};
use crate::phases::{self, Phase};

pub struct LocalHost {
    layout: HostLayout,
    containers: Dir,
    store: Store,
    vassals: Dir,
    vassals_path: PathBuf,
    /// Restarts renaming vassals at the same time share one fsync of the directory.
    vassals_synced: super::group_sync::GroupSync,
    /// Running as root: new directories are given to the container's uid.
    give_to_container: bool,
}

fn open_ambient(path: &Path) -> Result<Dir, HostError> {
    std::fs::create_dir_all(path).map_err(|e| HostError::io(path.display(), e))?;
    Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| HostError::io(path.display(), e))
}

impl LocalHost {
    /// Opens (creating if missing) the host's shared directories and distropanel's store
    /// ([`Store`]) and the vassals directory.
    pub fn open(host_root: &Path, vassals_dir: &Path) -> Result<Self, HostError> {
        let layout = HostLayout::new(host_root)?;
        let root = open_ambient(host_root)?;
        let store = Store::open(&root, layout.root())?;
        let containers = store.containers()?;
        let vassals = open_ambient(vassals_dir)?;
        Ok(Self {
            layout,
            containers,
            store,
            vassals,
            vassals_synced: Default::default(),
            vassals_path: vassals_dir.to_path_buf(),
            give_to_container: rustix::process::geteuid().is_root(),
        })
    }

    pub fn vassals_dir(&self) -> &Path {
        &self.vassals_path
    }

    fn owner(uid: Uid) -> Result<(rustix::fs::Uid, rustix::fs::Gid), HostError> {
        let raw = u32::try_from(uid.get()).map_err(|_| {
            HostError::refused(home_label(uid), "the uid does not fit a system uid")
        })?;
        Ok((
            rustix::fs::Uid::from_raw(raw),
            rustix::fs::Gid::from_raw(raw),
        ))
    }

    fn give(&self, fd: impl rustix::fd::AsFd, uid: Uid, label: &str) -> Result<(), HostError> {
        if self.give_to_container {
            let (u, g) = Self::owner(uid)?;
            crate::host::give_unless_owned(fd, u, g).map_err(|e| HostError::io(label, e))?;
        }
        Ok(())
    }

    /// Who owns an unpacked image: the storage container, when we may give files away.
    fn image_owner(&self, uid: Uid) -> Result<Option<u32>, HostError> {
        if !self.give_to_container {
            return Ok(None);
        }
        Ok(Some(Self::owner(uid)?.0.as_raw()))
    }

    /// The home of `uid`, created (and given to the container) when `create`.
    fn home(&self, uid: Uid, create: bool) -> Result<Dir, HostError> {
        let label = home_label(uid);
        let home = subdir(&self.containers, &uid.to_string(), &label, create)?;
        if create {
            self.give(&home, uid, &label)?;
        }
        Ok(home)
    }

    /// `name` inside `parent`, a plain directory owned by the container.
    fn owned_subdir(
        &self,
        parent: &Dir,
        name: &str,
        label: &str,
        uid: Uid,
    ) -> Result<Dir, HostError> {
        let dir = subdir(parent, name, label, true)?;
        self.give(&dir, uid, label)?;
        Ok(dir)
    }

    /// Writes `vassal` to the new file `temp` in the vassals directory (synced when `sync`),
    /// with an mtime past the one of the vassal `name` it will replace.
    fn write_vassal_temp(
        &self,
        temp: &str,
        name: &str,
        vassal: &RenderedVassal,
        sync: bool,
    ) -> io::Result<()> {
        let mut options = OpenOptions::new();
        options
            .write(true)
            .create_new(true)
            .mode(0o644)
            .follow(FollowSymlinks::No);
        let mut file = self.vassals.open_with(temp, &options)?;
        file.write_all(vassal.as_str().as_bytes())?;
        if sync {
            file.sync_all()?;
        }
        // The Emperor notices a change by the file's mtime in whole seconds: a second
        // restart within the same second must still move it forward.
        if let Ok(previous) = self.vassals.metadata(name).and_then(|m| m.modified()) {
            let previous = previous.into_std();
            let now = SystemTime::now();
            if whole_seconds(previous) >= whole_seconds(now) {
                let bumped = UNIX_EPOCH + Duration::from_secs(whole_seconds(previous) + 1);
                file.into_std().set_modified(bumped)?;
            }
        }
        Ok(())
    }

    /// The data of one staged file, through the descriptor of its directory.
    /// The staged name lies in a directory the container's user may write (its `.ssh`), so
    /// what is there now may not be the file written: never follow a link, never wait on a
    /// fifo, and sync only a regular file.
    fn sync_staged(staged: &Staged) -> io::Result<()> {
        use rustix::fs::{FileType, Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = rustix::fs::openat(&staged.dir, staged.temp.as_str(), flags, Mode::empty())?;
        if FileType::from_raw_mode(rustix::fs::fstat(&file)?.st_mode) != FileType::RegularFile {
            return Err(not_regular());
        }
        rustix::fs::fdatasync(&file)?;
        Ok(())
    }

    /// Whether the staged name still holds a regular file, looked at without opening it.
    fn still_regular(staged: &Staged) -> io::Result<()> {
        use rustix::fs::{AtFlags, FileType};
        let stat =
            rustix::fs::statat(&staged.dir, staged.temp.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(not_regular());
        }
        Ok(())
    }

    /// One `fsync` of each directory the batch renamed into (the vassals directory once,
    /// each home's `.ssh` once), so the renames are durable.
    fn sync_directories(staged: &[Staged]) -> io::Result<()> {
        let mut synced = std::collections::HashSet::new();
        for s in staged {
            let stat = rustix::fs::fstat(&s.dir)?;
            if synced.insert((stat.st_dev, stat.st_ino)) {
                rustix::fs::fsync(open_synchronisable(&s.dir)?)?;
            }
        }
        Ok(())
    }

    /// A descriptor of each filesystem the staged files lie on, for `syncfs`.
    fn filesystems(staged: &[Staged]) -> io::Result<Vec<rustix::fd::OwnedFd>> {
        let mut seen = std::collections::HashSet::new();
        let mut found = Vec::new();
        for s in staged {
            if seen.insert(rustix::fs::fstat(&s.dir)?.st_dev) {
                found.push(open_synchronisable(&s.dir)?);
            }
        }
        Ok(found)
    }

    /// Each file's data synced on its own, then each directory renamed into: a few files
    /// cost a few syncs, and nothing else on the filesystem is waited for.
    fn publish_each(staged: &mut [Staged]) -> Vec<Result<(), HostError>> {
        let mut results: Vec<Result<(), HostError>> = staged
            .iter_mut()
            .map(|s| {
                phases::time(Phase::SyncFiles, || Self::sync_staged(s))
                    .map_err(|e| HostError::io(&s.label, e))
                    .and_then(|()| rename_staged(s))
            })
            .collect();
        if let Err(e) = phases::time(Phase::SyncDirs, || Self::sync_directories(staged)) {
            fail_the_rest(&mut results, staged, &e);
        }
        results
    }

    /// The whole filesystem synced twice: once for the staged files' data, before any is
    /// renamed over what it replaces, once for the renames. A large batch costs two syncs
    /// rather than three per restart, at the price of also waiting for what others wrote.
    fn publish_together(staged: &mut [Staged]) -> Vec<Result<(), HostError>> {
        let mut results: Vec<Result<(), HostError>> = staged
            .iter()
            .map(|s| Self::still_regular(s).map_err(|e| HostError::io(&s.label, e)))
            .collect();
        let synced = phases::time(Phase::SyncFiles, || -> io::Result<_> {
            let filesystems = Self::filesystems(staged)?;
            for filesystem in &filesystems {
                rustix::fs::syncfs(filesystem)?;
            }
            Ok(filesystems)
        });
        let filesystems = match synced {
            Ok(filesystems) => filesystems,
            Err(e) => {
                fail_the_rest(&mut results, staged, &e);
                return results;
            }
        };
        for (result, s) in results.iter_mut().zip(staged.iter_mut()) {
            if result.is_ok() {
                *result = rename_staged(s);
            }
        }
        let synced = phases::time(Phase::SyncDirs, || {
            filesystems.iter().try_for_each(rustix::fs::syncfs)
        });
        if let Err(e) = synced {
            fail_the_rest(&mut results, staged, &io::Error::from(e));
        }
        results
    }

    /// The image directories of a storage container, if it ever had an image.
    fn image_dirs(&self, storage: Uid) -> Result<Option<ImageDirs>, HostError> {
        self.store.existing_image_dirs(storage)
    }

    /// The installed image directory `image`, if it is a plain directory.
    fn image_root(&self, image: &ImageRef) -> Result<Option<Dir>, HostError> {
        let Some(installed) = self.store.installed(image.storage_uid)? else {
            return Ok(None);
        };
        match subdir(&installed, image.path.as_str(), &image.label(), false) {
            Ok(root) => Ok(Some(root)),
            Err(HostError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// What a storage container's home and images already hold, less what installing
    /// `path` drops (its kept previous image): the quota left for the new image is the rest.
    fn storage_used(&self, storage: Uid, dirs: &ImageDirs, path: &DistroPath) -> io::Result<u64> {
        let home = self
            .containers
            .open_dir_nofollow(storage.to_string())
            .and_then(|home| usage::bytes_below(&home))
            .or_else(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    Ok(0)
                } else {
                    Err(e)
                }
            })?;
        let installed = usage::bytes_below(&dirs.installed)?;
        let previous = usage::bytes_below(&dirs.previous)?;
        let dropped = usage::bytes_of(&dirs.previous, path.as_str())?;
        Ok(home
            .saturating_add(installed)
            .saturating_add(previous.saturating_sub(dropped)))
    }

    /// `<home>/logs/emperor.log`, opened without following links and only if it is a regular
    /// file.
    fn emperor_log(&self, uid: Uid, write: bool) -> Result<File, HostError> {
        let label = format!("{}/logs/emperor.log", home_label(uid));
        let logs = if write {
            let home = self.home(uid, true)?;
            self.owned_subdir(&home, "logs", &format!("{}/logs", home_label(uid)), uid)?
        } else {
            let home = self.home(uid, false)?;
            subdir(&home, "logs", &format!("{}/logs", home_label(uid)), false)?
        };
        let mut options = OpenOptions::new();
        if write {
            options.append(true).create(true).mode(0o640);
        } else {
            options.read(true);
        }
        options.follow(FollowSymlinks::No).custom_flags(
            (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32,
        );
        let file = logs
            .open_with("emperor.log", &options)
            .map_err(|e| explain_open(&logs, "emperor.log", &label, e))?;
        let meta = file.metadata().map_err(|e| HostError::io(&label, e))?;
        if !meta.is_file() {
            return Err(HostError::refused(
                label,
                "is not a regular file; it was left alone",
            ));
        }
        // a hard link would let a write (or the chown) reach the file it is linked to
        if write && meta.nlink() > 1 {
            return Err(HostError::refused(
                label,
                "has other hard links; it was left alone",
            ));
        }
        if write {
            self.give(&file, uid, &label)?;
        }
        Ok(file)
    }
}

/// From how many staged files [`HostExecutor::publish`] syncs whole filesystems rather than
/// each file and directory.
const SYNC_TOGETHER_FROM: usize = 16;

fn not_regular() -> io::Error {
    io::Error::other("was replaced by something that is not a regular file")
}

/// The directory itself, opened for syncing: a directory capability may be an `O_PATH`
/// descriptor, which cannot be synced.
fn open_synchronisable(dir: &Dir) -> io::Result<rustix::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, ".", flags, Mode::empty())?)
}

/// Renames a staged file into place.
fn rename_staged(s: &mut Staged) -> Result<(), HostError> {
    let renamed = phases::time(Phase::Rename, || {
        rustix::fs::renameat(&s.dir, &s.temp, &s.dir, &s.name)
    });
    match renamed {
        Ok(()) => {
            s.temp.clear();
            Ok(())
        }
        Err(e) => Err(crate::host::authorized_keys::rename_error(
            s.label.clone(),
            io::Error::from(e),
        )),
    }
}

/// Fails every file not failed yet with `error`: a sync covering them all failed.
fn fail_the_rest(results: &mut [Result<(), HostError>], staged: &[Staged], error: &io::Error) {
    for (result, s) in results.iter_mut().zip(staged) {
        if result.is_ok() {
            *result = Err(HostError::io(
                &s.label,
                io::Error::new(error.kind(), error.to_string()),
            ));
        }
    }
}

/// Opens `name` in `parent` as a directory without following a link, creating it first when
/// `create`. A link or a non-directory in its place is refused and left alone.
fn subdir(parent: &Dir, name: &str, label: &str, create: bool) -> Result<Dir, HostError> {
    // opened first: a directory that exists (every restart's case) costs a lookup, not a
    // mkdir, which locks the parent (`containers/`, shared by every home) for writing
    match parent.open_dir_nofollow(name) {
        Ok(dir) => return Ok(dir),
        Err(e) if create && e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(explain_open(parent, name, label, e)),
    }
    crate::host::make_dir(parent, name, 0o755).map_err(|e| HostError::io(label, e))?;
    parent
        .open_dir_nofollow(name)
        .map_err(|e| explain_open(parent, name, label, e))
}

fn explain_open(parent: &Dir, name: &str, label: &str, error: io::Error) -> HostError {
    match parent.symlink_metadata(name) {
        Ok(meta) if meta.is_symlink() => {
            HostError::refused(label, "is a symbolic link; it was not followed")
        }
        Ok(meta) if !meta.is_dir() && !meta.is_file() => HostError::refused(
            label,
            "is neither a file nor a directory; it was left alone",
        ),
        Ok(meta)
            if meta.is_file()
                && error.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) =>
        {
            HostError::refused(
                label,
                "is a file where a directory belongs; it was left alone",
            )
        }
        _ => HostError::io(label, error),
    }
}

fn no_such_home_file(file: &HomeFile, uid: Uid) -> HostError {
    HostError::refused(
        file,
        format!("no such file in the home of {}", home_label(uid)),
    )
}

/// Why the directory `walked`, on the way to `file`, cannot be passed through.
fn home_step_refusal(
    parent: &Dir,
    name: &str,
    walked: &str,
    file: &HomeFile,
    uid: Uid,
    error: io::Error,
) -> HostError {
    let home = home_label(uid);
    match parent.symlink_metadata(name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => no_such_home_file(file, uid),
        Ok(meta) if meta.is_symlink() => HostError::refused(
            file,
            format!("{walked} is a symbolic link in the home of {home}; links are not followed"),
        ),
        Ok(meta) if !meta.is_dir() => HostError::refused(
            file,
            format!("{walked} is not a directory in the home of {home}"),
        ),
        _ => HostError::io(format!("{home}/{walked}"), error),
    }
}

/// Why `file` itself, found in the home, is not something to read an archive from.
fn not_a_regular_home_file(meta: &cap_std::fs::Metadata, file: &HomeFile, uid: Uid) -> HostError {
    let home = home_label(uid);
    let why = if meta.is_symlink() {
        format!(
            "is a symbolic link in the home of {home}; links are not followed, put the archive itself there"
        )
    } else if meta.is_dir() {
        format!("is a directory in the home of {home}, not an image archive")
    } else {
        format!(
            "is not a regular file in the home of {home} (a device, a fifo or a socket); it was left alone"
        )
    };
    HostError::refused(file, why)
}

/// The directory holding `file` in `home`, walked one plain directory at a time.
fn home_file_parent(home: Dir, file: &HomeFile, uid: Uid) -> Result<Dir, HostError> {
    let steps = file.components();
    let mut dir = home;
    for depth in 0..steps.len().saturating_sub(1) {
        let name = &steps[depth];
        dir = dir
            .open_dir_nofollow(name)
            .map_err(|e| home_step_refusal(&dir, name, &steps[..=depth].join("/"), file, uid, e))?;
    }
    Ok(dir)
}

/// Opens `file`, found in `dir`, for reading if it is a regular file of its own.
fn open_regular_home_file(dir: &Dir, file: &HomeFile, uid: Uid) -> Result<File, HostError> {
    let label = format!("{}/{file}", home_label(uid));
    let Some(name) = file.components().last() else {
        return Err(no_such_home_file(file, uid));
    };
    // looked at before opening, so a device node or a fifo is never opened at all
    match dir.symlink_metadata(name) {
        Ok(meta) if meta.is_file() => {}
        Ok(meta) => return Err(not_a_regular_home_file(&meta, file, uid)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(no_such_home_file(file, uid)),
        Err(e) => return Err(HostError::io(label, e)),
    }
    let mut options = OpenOptions::new();
    options
        .read(true)
        .follow(FollowSymlinks::No)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32);
    let opened = dir
        .open_with(name, &options)
        .map_err(|e| HostError::io(&label, e))?;
    let meta = opened.metadata().map_err(|e| HostError::io(&label, e))?;
    if !meta.is_file() {
        return Err(not_a_regular_home_file(&meta, file, uid));
    }
    // a hard link could make a file the customer may not read look like theirs
    if meta.nlink() > 1 {
        return Err(HostError::refused(
            file,
            format!(
                "has other hard links in the home of {}; put a plain copy of the archive there",
                home_label(uid)
            ),
        ));
    }
    Ok(opened)
}

fn is_plain_dir(dir: &Dir, name: &str) -> bool {
    dir.symlink_metadata(name).is_ok_and(|m| m.is_dir())
}

impl HostExecutor for LocalHost {
    fn ensure_home(&self, uid: Uid) -> Result<Vec<Skipped>, HostError> {
        let home = self.home(uid, true)?;
        let mut skipped = Vec::new();
        let mut note = |result: Result<Dir, HostError>| -> Result<Option<Dir>, HostError> {
            match result {
                Ok(dir) => Ok(Some(dir)),
                Err(HostError::Refused { path, why }) => {
                    skipped.push(Skipped { path, why });
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        };
        for name in SKELETON {
            let label = format!("{}/{name}", home_label(uid));
            let dir = note(self.owned_subdir(&home, name, &label, uid))?;
            if name == ".old_root"
                && let Some(old_root) = dir
            {
                let label = format!("{label}/{uid}");
                note(self.owned_subdir(&old_root, &uid.to_string(), &label, uid))?;
            }
        }
        match self.emperor_log(uid, true) {
            Ok(_) => {}
            Err(HostError::Refused { path, why }) => skipped.push(Skipped { path, why }),
            Err(e) => return Err(e),
        }
        self.store.ensure_view(uid)?;
        Ok(skipped)
    }

    fn ensure_storage_dir(&self, uid: Uid) -> Result<(), HostError> {
        let home = self.home(uid, true)?;
        self.store.image_dirs(uid)?;
        // the mount point of the images inside the container; the images themselves are kept
        // in the store
        let label = format!("{}/distros", home_label(uid));
        self.owned_subdir(&home, "distros", &label, uid)?;
        Ok(())
    }

    fn check_image(&self, image: &ImageRef) -> Result<ImageCheck, HostError> {
        let root = match self.image_root(image) {
            Ok(root) => root,
            Err(HostError::Refused { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(root.map_or(
            ImageCheck {
                old_root: false,
                containers: false,
            },
            |root| ImageCheck {
                old_root: is_plain_dir(&root, ".old_root"),
                containers: is_plain_dir(&root, "containers"),
            },
        ))
    }

    fn restart(&self, uid: Uid, vassal: &RenderedVassal) -> Result<(), HostError> {
        let name = format!("{uid}.ini");
        let label = self.vassals_path.join(&name).display().to_string();
        let temp = vassal_temp_name(uid);
        let write = || -> io::Result<()> {
            self.write_vassal_temp(&temp, &name, vassal, true)?;
            self.vassals.rename(&temp, &self.vassals, &name)?;
            self.vassals_synced.sync(|| sync_dir(&self.vassals))?;
            Ok(())
        };
        write().map_err(|e| {
            let _ = self.vassals.remove_file(&temp);
            HostError::io(label, e)
        })
    }

    fn stage_vassal(&self, uid: Uid, vassal: &RenderedVassal) -> Result<Staged, HostError> {
        let name = format!("{uid}.ini");
        let label = self.vassals_path.join(&name).display().to_string();
        let temp = vassal_temp_name(uid);
        let dir = self
            .vassals
            .try_clone()
            .map_err(|e| HostError::io(&label, e))?;
        if let Err(e) = self.write_vassal_temp(&temp, &name, vassal, false) {
            let _ = self.vassals.remove_file(&temp);
            return Err(HostError::io(label, e));
        }
        Ok(Staged {
            dir,
            temp,
            name,
            label,
        })
    }

    fn stage_authorized_keys(
        &self,
        uid: Uid,
        keys: &[crate::domain::authorized_key::AuthorizedKey],
    ) -> Result<Option<Staged>, HostError> {
        let home = self.home(uid, true)?;
        let owner = self.image_owner(uid)?;
        crate::host::authorized_keys::stage(&home, &home_label(uid), keys, owner)
    }

    fn publish(&self, mut staged: Vec<Staged>) -> Vec<Result<(), HostError>> {
        if staged.len() < SYNC_TOGETHER_FROM {
            Self::publish_each(&mut staged)
        } else {
            Self::publish_together(&mut staged)
        }
    }

    fn rename_image(
        &self,
        storage: Uid,
        from: &DistroPath,
        to: &DistroPath,
    ) -> Result<(), HostError> {
        let Some(dirs) = self.image_dirs(storage)? else {
            // no image was ever installed, so none to rename
            return Ok(());
        };
        image::rename(&dirs, from, to).map_err(|e| match e {
            image::RenameError::Taken => HostError::refused(
                format!("{}/distros/{to}", home_label(storage)),
                e.to_string(),
            ),
            image::RenameError::Io(source) => {
                HostError::io(format!("{}/distros/{from}", home_label(storage)), source)
            }
        })
    }

    fn purge_image(&self, storage: Uid, path: &DistroPath) -> Result<(), HostError> {
        let label = format!("{}/distros/{path}", home_label(storage));
        match self.image_dirs(storage)? {
            Some(dirs) => image::purge(&dirs, path).map_err(|e| HostError::io(label, e)),
            None => Ok(()),
        }
    }

    fn append_log(&self, uid: Uid, lines: &[String]) -> Result<(), HostError> {
        let mut file = self.emperor_log(uid, true)?;
        let mut text = String::new();
        for line in lines {
            text.push_str(&line.replace(['\n', '\r'], " "));
            text.push('\n');
        }
        file.write_all(text.as_bytes())
            .map_err(|e| HostError::io(format!("{}/logs/emperor.log", home_label(uid)), e))
    }

    fn home_has_uwsgi(&self, uid: Uid) -> bool {
        let label = format!("{}/bin", home_label(uid));
        self.home(uid, false)
            .and_then(|home| subdir(&home, "bin", &label, false))
            .is_ok_and(|bin| bin.symlink_metadata("uwsgi").is_ok())
    }

    fn log_tail(&self, uid: Uid, max_bytes: usize) -> Result<String, HostError> {
        let label = format!("{}/logs/emperor.log", home_label(uid));
        let mut file = match self.emperor_log(uid, false) {
            Ok(file) => file,
            Err(HostError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(String::new());
            }
            Err(e) => return Err(e),
        };
        let read = || -> io::Result<String> {
            let len = file.metadata()?.len();
            let start = len.saturating_sub(max_bytes as u64);
            file.seek(SeekFrom::Start(start))?;
            let mut bytes = Vec::new();
            file.take(max_bytes as u64).read_to_end(&mut bytes)?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Ok(match (start, text.find('\n')) {
                (0, _) | (_, None) => text,
                (_, Some(cut)) => text[cut + 1..].to_owned(),
            })
        };
        read().map_err(|e| HostError::io(label, e))
    }

    fn install_image(
        &self,
        storage: Uid,
        path: &DistroPath,
        archive: &mut dyn Read,
        expect: Option<&Sha256Hex>,
        limits: unpack::Limits,
        gate: &image::Gate<'_>,
    ) -> Result<image::Installed, HostError> {
        let label = format!("{}/distros/{path}", home_label(storage));
        let owner = self.image_owner(storage)?;
        let dirs = self.store.image_dirs(storage)?;
        let used = self
            .storage_used(storage, &dirs, path)
            .map_err(|e| HostError::io(&label, e))?;
        let quota = limits.max_bytes;
        let limits = unpack::Limits {
            max_bytes: quota.saturating_sub(used),
            ..limits
        };
        let installed = image::install(&dirs, path, archive, expect, owner, limits, gate);
        if gate.progress.stopped() {
            return Err(HostError::Cancelled { path: label });
        }
        installed.map_err(|e| match e {
            image::ImageError::Unpack(unpack::UnpackError::TooLarge { limit }) => {
                HostError::refused(
                    label,
                    format!(
                        "the image is larger than the {limit} bytes left of the storage quota of {quota} bytes (the home and the other images hold {used})"
                    ),
                )
            }
            e => HostError::from((label, e)),
        })
    }

    fn open_home_file(
        &self,
        uid: Uid,
        file: &HomeFile,
    ) -> Result<(Box<dyn Read + Send>, u64), HostError> {
        let home = self.home(uid, false)?;
        let dir = home_file_parent(home, file, uid)?;
        let opened = open_regular_home_file(&dir, file, uid)?.into_std();
        // the size of the file opened, not of whatever the name leads to by now
        let size = opened
            .metadata()
            .map_err(|e| HostError::io(format!("{}/{file}", home_label(uid)), e))?
            .len();
        Ok((Box::new(opened), size))
    }

    fn rollback_image(&self, storage: Uid, path: &DistroPath) -> Result<(), HostError> {
        let label = format!("{}/distros/{path}", home_label(storage));
        let Some(dirs) = self.image_dirs(storage)? else {
            return Err(HostError::from((label, image::ImageError::NoPrevious)));
        };
        image::rollback(&dirs, path).map_err(|e| HostError::from((label, e)))
    }

    fn inspect_image(
        &self,
        image: &ImageRef,
        facts: &check::CheckFacts,
    ) -> Result<Vec<ReportLine>, HostError> {
        let Some(root) = self.image_root(image)? else {
            return Err(HostError::refused(image.label(), "no image is installed"));
        };
        check::check(&root, facts).map_err(|e| HostError::from((image.label(), e)))
    }

    fn layout(&self) -> &HostLayout {
        &self.layout
    }

    fn write_authorized_keys(
        &self,
        uid: Uid,
        keys: &[crate::domain::authorized_key::AuthorizedKey],
    ) -> Result<crate::host::authorized_keys::KeysFile, HostError> {
        let home = self.home(uid, true)?;
        let owner = self.image_owner(uid)?;
        crate::host::authorized_keys::write(&home, &home_label(uid), keys, owner)
    }

    fn disk_use(&self, uid: Uid) -> Result<DiskUse, HostError> {
        let label = home_label(uid);
        let home_bytes = match self.containers.open_dir_nofollow(uid.to_string()) {
            Ok(home) => usage::bytes_below(&home).map_err(|e| HostError::io(&label, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(HostError::io(&label, e)),
        };
        let images_bytes = match self.image_dirs(uid)? {
            Some(dirs) => usage::bytes_below(&dirs.installed)
                .and_then(|installed| {
                    Ok(installed.saturating_add(usage::bytes_below(&dirs.previous)?))
                })
                .map_err(|e| HostError::io(format!("{label} images"), e))?,
            None => 0,
        };
        Ok(DiskUse {
            home_bytes,
            images_bytes,
        })
    }
}

fn vassal_temp_name(uid: Uid) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(".{uid}.ini.{}.{nanos}.tmp", std::process::id())
}

/// Makes a rename in `dir` durable. Directory capabilities may be O_PATH descriptors, which
/// cannot be synced: open the directory itself.
fn sync_dir(dir: &Dir) -> io::Result<()> {
    dir.open(".")?.sync_all()
}

fn whole_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    use super::*;
    use crate::domain::ids::ContainerId;

    /// A host root in a temporary directory with one storage container, 30003.
    struct Host {
        root: tempfile::TempDir,
        host: LocalHost,
        uid: Uid,
    }

    impl Host {
        fn new() -> Self {
            let root = tempfile::tempdir().unwrap();
            std::fs::create_dir(root.path().join("outside")).unwrap();
            let host =
                LocalHost::open(&root.path().join("host"), &root.path().join("vassals")).unwrap();
            let uid = Uid::of(30000, ContainerId(3));
            host.ensure_home(uid).unwrap();
            host.ensure_storage_dir(uid).unwrap();
            Self { root, host, uid }
        }

        fn home(&self) -> PathBuf {
            self.root.path().join("host/containers/30003")
        }

        fn outside(&self) -> PathBuf {
            self.root.path().join("outside")
        }

        fn install(&self, path: &str, marker: &[u8]) -> Result<unpack::Unpacked, HostError> {
            self.install_checked(path, marker, None)
        }

        fn install_limited(
            &self,
            path: &str,
            archive: &[u8],
            expect: Option<&Sha256Hex>,
            limits: unpack::Limits,
        ) -> Result<unpack::Unpacked, HostError> {
            let progress = crate::host::progress::Progress::none();
            let gate = image::Gate {
                facts: &crate::host::check::CheckFacts::default(),
                force: false,
                progress: &progress,
            };
            self.host
                .install_image(
                    self.uid,
                    &DistroPath::parse(path).unwrap(),
                    &mut &archive[..],
                    expect,
                    limits,
                    &gate,
                )
                .map(|installed| installed.unpacked)
        }

        fn install_checked(
            &self,
            path: &str,
            marker: &[u8],
            expect: Option<&Sha256Hex>,
        ) -> Result<unpack::Unpacked, HostError> {
            let archive = archive_with_marker(marker);
            self.install_limited(
                path,
                &archive,
                expect,
                unpack::Limits {
                    max_bytes: 1 << 20,
                    max_entries: 100,
                    max_archive_bytes: 1 << 20,
                    deadline: crate::host::deadline::Deadline::NONE,
                },
            )
        }

        fn store(&self) -> PathBuf {
            self.root.path().join("host/var/lib/distropanel")
        }

        /// The marker of the image `path`, or of the kept previous image with `previous/<path>`.
        fn marker(&self, image: &str) -> Option<Vec<u8>> {
            let dir = match image.strip_prefix("previous/") {
                Some(path) => self.store().join("previous/30003").join(path),
                None => self.store().join("images/30003").join(image),
            };
            std::fs::read(dir.join("marker")).ok()
        }

        fn write(&self, file: &str, content: &[u8]) {
            let path = self.home().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }

        fn open(&self, file: &str) -> Result<Vec<u8>, HostError> {
            let mut content = Vec::new();
            self.host
                .open_home_file(self.uid, &HomeFile::parse(file).unwrap())?
                .0
                .read_to_end(&mut content)
                .unwrap();
            Ok(content)
        }
    }

    /// A bootable image holding `marker`.
    fn archive_with_marker(marker: &[u8]) -> Vec<u8> {
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
        builder.into_inner().unwrap()
    }

    fn path(raw: &str) -> DistroPath {
        DistroPath::parse(raw).unwrap()
    }

    fn refusal(result: Result<impl std::fmt::Debug, HostError>) -> String {
        match result {
            Err(e @ HostError::Refused { .. }) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_install_reports_the_archives_digest_and_refuses_another_one_for_good() {
        let host = Host::new();
        let done = host.install("img", b"v1").unwrap();
        assert_eq!(done.archive_bytes, archive_with_marker(b"v1").len() as u64);
        let wrong = Sha256Hex::parse(&"0".repeat(64)).unwrap();
        let refused = host
            .install_checked("img", b"v2", Some(&wrong))
            .unwrap_err();
        assert!(refused.is_permanent(), "{refused}");
        assert!(
            refused
                .to_string()
                .starts_with("/containers/30003/distros/img: the archive's SHA-256 is "),
            "{refused}"
        );
        assert!(
            refused
                .to_string()
                .contains(&format!("not the {wrong} that was given"))
        );
        assert_eq!(host.marker("img").unwrap(), b"v1");
        let right = host.install("img", b"v2").unwrap().sha256;
        host.install_checked("img", b"v2", Some(&right)).unwrap();
    }

    #[test]
    fn an_archive_over_its_limit_is_refused_for_good() {
        let host = Host::new();
        let archive = archive_with_marker(b"v1");
        let refused = host
            .install_limited(
                "img",
                &archive,
                None,
                unpack::Limits {
                    max_bytes: 1 << 20,
                    max_entries: 100,
                    max_archive_bytes: 1024,
                    deadline: crate::host::deadline::Deadline::NONE,
                },
            )
            .unwrap_err();
        assert_eq!(
            refusal(Err::<(), _>(refused)),
            "/containers/30003/distros/img: the archive is longer than the 1024 bytes allowed for an image archive"
        );
    }

    #[test]
    fn the_quota_covers_the_home_every_image_and_the_kept_previous_ones() {
        let host = Host::new();
        let quota = 1 << 20;
        let big = vec![7u8; 300 << 10];
        host.install("a", &big).unwrap();
        host.install("a", &big).unwrap();
        host.install("b", &big).unwrap();
        // a, its kept previous image and b hold 900 KiB of the 1 MiB
        let refused = refusal(host.install("c", &big));
        assert!(
            refused.starts_with("/containers/30003/distros/c: the image is larger than the ")
                && refused.contains(&format!("left of the storage quota of {quota} bytes")),
            "{refused}"
        );
        assert!(host.marker("c").is_none());
        assert!(!host.store().join("staging/30003/c").exists());
        // what the customer keeps in their home counts too
        host.host.purge_image(host.uid, &path("b")).unwrap();
        host.install("c", &big).unwrap();
        host.host.purge_image(host.uid, &path("c")).unwrap();
        host.write("data/blob", &vec![1u8; 400 << 10]);
        assert!(refusal(host.install("c", &big)).contains("the image is larger than"));
        // installing again over an image drops its kept previous one: that room is the new
        // image's
        std::fs::remove_file(host.home().join("data/blob")).unwrap();
        host.install("a", &big).unwrap();
        host.install("a", &big).unwrap();
    }

    #[test]
    fn a_file_in_the_home_opens_for_reading() {
        let host = Host::new();
        host.write("images/alpine.tar.gz", b"archive bytes");
        assert_eq!(host.open("images/alpine.tar.gz").unwrap(), b"archive bytes");
        host.write("top.tar", b"top");
        assert_eq!(host.open("top.tar").unwrap(), b"top");
    }

    #[test]
    fn a_missing_file_is_refused_in_words_a_customer_understands() {
        let host = Host::new();
        for missing in ["images/x.tar.gz", "x.tar"] {
            assert_eq!(
                refusal(host.open(missing)),
                format!("{missing}: no such file in the home of /containers/30003")
            );
        }
        host.write("images/other", b"");
        assert_eq!(
            refusal(host.open("images/x.tar.gz")),
            "images/x.tar.gz: no such file in the home of /containers/30003"
        );
    }

    #[test]
    fn a_link_at_any_step_is_never_followed() {
        let host = Host::new();
        std::fs::write(host.outside().join("secret.tar"), b"secret").unwrap();
        std::fs::create_dir(host.home().join("real")).unwrap();
        symlink(host.outside(), host.home().join("images")).unwrap();
        assert_eq!(
            refusal(host.open("images/secret.tar")),
            "images/secret.tar: images is a symbolic link in the home of /containers/30003; links are not followed"
        );
        symlink(
            host.outside().join("secret.tar"),
            host.home().join("real/x.tar"),
        )
        .unwrap();
        assert_eq!(
            refusal(host.open("real/x.tar")),
            "real/x.tar: is a symbolic link in the home of /containers/30003; links are not followed, put the archive itself there"
        );
        symlink("x.tar", host.home().join("real/y.tar")).unwrap();
        assert!(refusal(host.open("real/y.tar")).contains("is a symbolic link"));
    }

    #[test]
    fn a_directory_a_fifo_or_a_hard_link_is_not_an_archive_to_read() {
        let host = Host::new();
        std::fs::create_dir_all(host.home().join("images/dir.tar")).unwrap();
        assert_eq!(
            refusal(host.open("images/dir.tar")),
            "images/dir.tar: is a directory in the home of /containers/30003, not an image archive"
        );
        rustix::fs::mknodat(
            rustix::fs::CWD,
            host.home().join("images/pipe.tar"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert!(
            refusal(host.open("images/pipe.tar")).contains("is not a regular file"),
            "a fifo is refused without being opened, so nothing blocks"
        );
        host.write("flat", b"");
        assert_eq!(
            refusal(host.open("flat/x.tar")),
            "flat/x.tar: flat is not a directory in the home of /containers/30003"
        );
        std::fs::write(host.outside().join("theirs.tar"), b"not yours").unwrap();
        std::fs::hard_link(
            host.outside().join("theirs.tar"),
            host.home().join("images/linked.tar"),
        )
        .unwrap();
        assert!(refusal(host.open("images/linked.tar")).contains("has other hard links"));
    }

    #[test]
    fn a_rename_takes_the_kept_previous_image_along_so_a_rollback_still_finds_it() {
        let host = Host::new();
        host.install("img", b"v1").unwrap();
        host.install("img", b"v2").unwrap();
        host.host
            .rename_image(host.uid, &path("img"), &path("new"))
            .unwrap();
        assert_eq!(host.marker("new").unwrap(), b"v2");
        assert_eq!(host.marker("previous/new").unwrap(), b"v1");
        assert!(host.marker("previous/img").is_none());
        host.host
            .rename_image(host.uid, &path("img"), &path("new"))
            .unwrap();
        assert_eq!(host.marker("previous/new").unwrap(), b"v1", "done already");
        host.host.rollback_image(host.uid, &path("new")).unwrap();
        assert_eq!(host.marker("new").unwrap(), b"v1");
    }

    #[test]
    fn a_home_has_uwsgi_when_its_bin_holds_one_and_bin_is_no_link() {
        let host = Host::new();
        assert!(!host.host.home_has_uwsgi(host.uid), "no bin at all");
        host.write("bin/uwsgi", b"#!/bin/sh");
        assert!(host.host.home_has_uwsgi(host.uid));
        std::fs::remove_dir_all(host.home().join("bin")).unwrap();
        std::fs::create_dir_all(host.outside().join("bin")).unwrap();
        std::fs::write(host.outside().join("bin/uwsgi"), b"x").unwrap();
        std::os::unix::fs::symlink(host.outside().join("bin"), host.home().join("bin")).unwrap();
        assert!(
            !host.host.home_has_uwsgi(host.uid),
            "a linked bin is not followed"
        );
    }

    #[test]
    fn renaming_a_distro_that_never_had_an_image_is_done_at_once() {
        let host = Host::new();
        host.install("other", b"v1").unwrap();
        host.host
            .rename_image(host.uid, &path("empty"), &path("renamed"))
            .unwrap();
        assert!(!host.home().join("distros/renamed").exists());
        assert_eq!(host.marker("other").unwrap(), b"v1");
    }

    #[test]
    fn a_rename_drops_a_stale_previous_image_of_the_new_path() {
        let host = Host::new();
        let stale = host.store().join("previous/30003/new");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("marker"), b"stale").unwrap();
        std::fs::write(stale.join("more"), b"stale").unwrap();
        host.install("img", b"v1").unwrap();
        host.install("img", b"v2").unwrap();
        host.host
            .rename_image(host.uid, &path("img"), &path("new"))
            .unwrap();
        assert_eq!(host.marker("previous/new").unwrap(), b"v1");
        assert!(!stale.join("more").exists());
    }

    #[test]
    fn links_planted_where_images_used_to_live_change_nothing() {
        let host = Host::new();
        std::fs::remove_dir_all(host.home().join("distros")).unwrap();
        std::fs::create_dir_all(host.outside().join("previous/img")).unwrap();
        std::fs::write(host.outside().join("previous/img/marker"), b"theirs").unwrap();
        symlink(host.outside(), host.home().join("distros")).unwrap();
        symlink(host.outside(), host.home().join(".distropanel")).unwrap();
        host.install("img", b"v1").unwrap();
        host.install("img", b"v2").unwrap();
        host.host
            .rename_image(host.uid, &path("img"), &path("new"))
            .unwrap();
        host.host.rollback_image(host.uid, &path("new")).unwrap();
        assert_eq!(host.marker("new").unwrap(), b"v1");
        host.host.purge_image(host.uid, &path("new")).unwrap();
        assert!(host.marker("new").is_none());
        assert_eq!(
            std::fs::read(host.outside().join("previous/img/marker")).unwrap(),
            b"theirs"
        );
        assert_eq!(std::fs::read_dir(host.outside()).unwrap().count(), 1);
        assert!(host.home().join("distros").is_symlink());
    }

    #[test]
    fn a_purge_deletes_the_kept_previous_image_too() {
        let host = Host::new();
        host.install("img", b"v1").unwrap();
        host.install("img", b"v2").unwrap();
        host.host.purge_image(host.uid, &path("img")).unwrap();
        assert!(host.marker("img").is_none());
        assert!(host.marker("previous/img").is_none());
        assert!(
            refusal(host.host.rollback_image(host.uid, &path("img")))
                .contains("there is no previous image")
        );
        host.host.purge_image(host.uid, &path("img")).unwrap();
    }

    #[test]
    fn a_purge_deletes_the_kept_image_even_when_the_homes_distros_directory_is_gone() {
        let host = Host::new();
        host.install("img", b"v1").unwrap();
        host.install("img", b"v2").unwrap();
        std::fs::remove_dir_all(host.home().join("distros")).unwrap();
        host.host.purge_image(host.uid, &path("img")).unwrap();
        assert!(host.marker("previous/img").is_none());
    }

    #[test]
    fn a_purge_removes_a_link_planted_as_the_previous_image_not_what_it_points_at() {
        let host = Host::new();
        host.install("img", b"v1").unwrap();
        host.install("img", b"v2").unwrap();
        let kept = host.store().join("previous/30003/img");
        std::fs::remove_dir_all(&kept).unwrap();
        std::fs::write(host.outside().join("marker"), b"theirs").unwrap();
        symlink(host.outside(), &kept).unwrap();
        host.host.purge_image(host.uid, &path("img")).unwrap();
        assert!(!kept.exists() && !kept.is_symlink());
        assert_eq!(
            std::fs::read(host.outside().join("marker")).unwrap(),
            b"theirs"
        );
    }
}
