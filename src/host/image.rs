//! Installing an image into a storage container's `distros/<path>` without ever leaving it
//! half-written: unpack into `<home>/.distropanel/staging/<path>`, then swap it in with one
//! atomic exchange; the image it replaces is kept in `<home>/.distropanel/previous/<path>`
//! for a rollback. Staging lives in the home, on the same filesystem as `distros/`, so the swap
//! is a rename, and it counts against the quota like everything else in the home.

use std::io::{self, Read};

use cap_fs_ext::DirExt;
use cap_std::fs::Dir;
use rustix::fs::RenameFlags;

use crate::domain::values::DistroPath;
use crate::host::unpack::{self, Limits, UnpackError, Unpacked};

const WORK_DIR: &str = ".distropanel";
const STAGING: &str = "staging";
const PREVIOUS: &str = "previous";
const DISTROS: &str = "distros";

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(
        "'{0}' in the storage container's home is a symbolic link or not a directory; it is not followed"
    )]
    NotADirectory(&'static str),
    #[error("the storage container has no 'distros' directory yet")]
    NoDistrosDir,
    #[error("there is no previous image to go back to")]
    NoPrevious,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Opens `name` inside `dir`, creating it (owned by `owner`) when missing; never follows a link.
fn own_dir(dir: &Dir, name: &'static str, owner: Option<u32>) -> Result<Dir, ImageError> {
    match dir.open_dir_nofollow(name) {
        Ok(d) => Ok(d),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            dir.create_dir(name)?;
            let created = dir.open_dir_nofollow(name)?;
            unpack::chown(&created, owner)?;
            Ok(created)
        }
        Err(_) => Err(ImageError::NotADirectory(name)),
    }
}

fn distros_dir(home: &Dir) -> Result<Dir, ImageError> {
    match home.open_dir_nofollow(DISTROS) {
        Ok(d) => Ok(d),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ImageError::NoDistrosDir),
        Err(_) => Err(ImageError::NotADirectory(DISTROS)),
    }
}

fn exists(dir: &Dir, name: &str) -> io::Result<bool> {
    match dir.symlink_metadata(name) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes `name` in `dir` whatever it is, without following links.
fn remove_any(dir: &Dir, name: &str) -> io::Result<()> {
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

/// Unpacks `archive` as the image of `distros/<path>` in the storage home `home`. A refused or
/// broken archive leaves the installed image exactly as it was.
pub fn install(
    home: &Dir,
    path: &DistroPath,
    archive: impl Read,
    owner: Option<u32>,
    limits: Limits,
) -> Result<Unpacked, ImageError> {
    let distros = distros_dir(home)?;
    let work = own_dir(home, WORK_DIR, owner)?;
    let staging = own_dir(&work, STAGING, owner)?;
    let name = path.as_str();
    remove_any(&staging, name)?;
    staging.create_dir(name)?;
    let target = staging.open_dir_nofollow(name)?;
    unpack::chown(&target, owner)?;
    let unpacked = match unpack::unpack(archive, &target, owner, limits) {
        Ok(unpacked) => unpacked,
        Err(e) => {
            drop(target);
            remove_any(&staging, name)?;
            return Err(e.into());
        }
    };
    drop(target);
    if exists(&distros, name)? {
        exchange(&staging, name, &distros, name)?;
        let previous = own_dir(&work, PREVIOUS, owner)?;
        remove_any(&previous, name)?;
        move_new(&staging, name, &previous, name)?;
    } else {
        move_new(&staging, name, &distros, name)?;
    }
    Ok(unpacked)
}

/// Puts the previous image back; the one it replaces becomes the previous one, so a second
/// rollback undoes the first.
pub fn rollback(home: &Dir, path: &DistroPath) -> Result<(), ImageError> {
    let distros = distros_dir(home)?;
    let work = home
        .open_dir_nofollow(WORK_DIR)
        .map_err(|_| ImageError::NoPrevious)?;
    let previous = work
        .open_dir_nofollow(PREVIOUS)
        .map_err(|_| ImageError::NoPrevious)?;
    let name = path.as_str();
    if !exists(&previous, name)? {
        return Err(ImageError::NoPrevious);
    }
    if exists(&distros, name)? {
        exchange(&previous, name, &distros, name)?;
    } else {
        move_new(&previous, name, &distros, name)?;
    }
    Ok(())
}
