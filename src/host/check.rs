//! The image checklist: what the platform's "check list for when you have problems" names,
//! checked before a container boots into the image rather than after it fails to.
//!
//! The image belongs to a customer, who can change it while it is checked: no file is opened
//! that is not a regular file of its own (never a link, a fifo or a device), nothing is read
//! past a bound, the walk holds at most [`MAX_OPEN_DIRS`] directories open, and it stops at
//! the deadline in [`CheckFacts`].

use std::ffi::CStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::host::deadline::{Deadline, DeadlinePassed};
use crate::host::report::{Findings, ReportLine};

/// Directories the walk holds open at once, the image's own included. Deeper directories are
/// reported and not looked into.
pub const MAX_OPEN_DIRS: usize = 64;

/// The most of `etc/passwd` or `etc/nsswitch.conf` that is read.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// What the check needs to know besides the image itself.
#[derive(Debug, Clone, Default)]
pub struct CheckFacts {
    /// uids of the containers that map (or are about to map) this distro.
    pub mapped_uids: Vec<u32>,
    /// Those of `mapped_uids` whose own home has `bin/uwsgi` (their Emperor looks there first).
    pub homes_with_uwsgi: Vec<u32>,
    /// When the job must be done by: past it, the walk stops and the check fails.
    pub deadline: Deadline,
}

/// Why the check did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    PastDeadline(#[from] DeadlinePassed),
}

impl From<Errno> for CheckError {
    fn from(errno: Errno) -> Self {
        CheckError::Io(errno.into())
    }
}

/// Where the Emperor of each booting container finds uwsgi: `bin/uwsgi` of its own home, then
/// `/usr/local/bin/uwsgi`, then `/opt/unbit/uwsgi/uwsgi` of the image (the vassal's order).
fn uwsgi_binary(image: &Dir, facts: &CheckFacts) -> ReportLine {
    let in_image = ["usr/local/bin/uwsgi", "opt/unbit/uwsgi/uwsgi"]
        .into_iter()
        .find(|path| image.symlink_metadata(path).is_ok());
    let without: Vec<String> = facts
        .mapped_uids
        .iter()
        .filter(|uid| !facts.homes_with_uwsgi.contains(uid))
        .map(ToString::to_string)
        .collect();
    match in_image {
        Some(path) if without.is_empty() && !facts.mapped_uids.is_empty() => {
            ReportLine::info(format!(
                "every container booting it has bin/uwsgi in its home; /{path} of the image is the fallback"
            ))
        }
        Some(path) => ReportLine::info(format!(
            "the Emperor uses /{path} of the image unless a container's home has bin/uwsgi"
        )),
        None if facts.mapped_uids.is_empty() => ReportLine::warning(
            "no uwsgi binary in the image (/usr/local/bin/uwsgi, /opt/unbit/uwsgi/uwsgi): a container \
             booting it needs bin/uwsgi in its home, or its Emperor will not start",
        ),
        None if without.is_empty() => ReportLine::info(
            "every container booting it has bin/uwsgi in its home (the image has no uwsgi binary)",
        ),
        None => ReportLine::warning(format!(
            "no uwsgi binary where the Emperor looks for uid {} (bin/uwsgi of its home, \
             /usr/local/bin/uwsgi or /opt/unbit/uwsgi/uwsgi of the image): its Emperor will not \
             start; etc/rc.local in the home still runs",
            without.join(", ")
        )),
    }
}

/// Whether `name` is a real directory in `dir` (a link to one does not count).
fn is_dir(dir: &Dir, name: &str) -> bool {
    dir.symlink_metadata(name).is_ok_and(|m| m.is_dir())
}

/// `/etc/<name>` of the image: its text (the first [`MAX_CONFIG_BYTES`] of it), `None` when
/// there is none, or why it was not read. Only a regular file is opened, never through a link,
/// and without blocking, so a fifo planted there cannot stall the check.
fn read_etc_file(image: &Dir, name: &str) -> Result<Option<String>, String> {
    let path = format!("/etc/{name}");
    let etc = match image.open_dir_nofollow("etc") {
        Ok(etc) => etc,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(_) => {
            return Err(format!(
                "{path} was not read: /etc is not a plain directory (a symbolic link?)"
            ));
        }
    };
    match etc.symlink_metadata(name) {
        Ok(meta) if meta.is_file() => {}
        Ok(meta) if meta.is_symlink() => {
            return Err(format!(
                "{path} is a symbolic link; it was not followed, nor read"
            ));
        }
        Ok(_) => {
            return Err(format!(
                "{path} is not a regular file (a directory, a fifo, a device or a socket); it was not read"
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{path} could not be read: {e}")),
    }
    let mut options = OpenOptions::new();
    options
        .read(true)
        .follow(FollowSymlinks::No)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32);
    // looked at above, but it may have been replaced since: what was opened is what counts
    let opened = etc
        .open_with(name, &options)
        .and_then(|file| Ok((file.metadata()?.is_file(), file)));
    let file = match opened {
        Ok((true, file)) => file,
        Ok((false, _)) => {
            return Err(format!(
                "{path} is not a regular file (a fifo, a device or a socket); it was not read"
            ));
        }
        Err(e) => return Err(format!("{path} could not be read: {e}")),
    };
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{path} could not be read: {e}"))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

fn passwd_uids(passwd: &str) -> Vec<u32> {
    passwd
        .lines()
        .filter_map(|line| line.split(':').nth(2)?.trim().parse().ok())
        .collect()
}

fn nss_has_unbit(nsswitch: &str) -> bool {
    nsswitch.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("passwd:") && line.split_whitespace().any(|w| w == "unbit")
    })
}

#[derive(Default)]
struct Walk {
    bytes: u64,
    world_writable: Findings,
    setid: Findings,
    too_deep: Findings,
}

/// A directory being walked: its entries, read as the walk goes, and its path in the image.
struct Level {
    entries: rustix::fs::Dir,
    path: String,
}

/// Opens `name` in `parent` for reading its entries, if it is a directory and not a link.
fn open_dir_at(parent: impl AsFd, name: &CStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY
            | OFlags::DIRECTORY
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::NOCTTY
            | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Walks the tree depth first without following links: sizes, world-writable directories,
/// set-id files. Only the directories on the way down from the image are open, at most
/// [`MAX_OPEN_DIRS`] of them, however wide the tree is.
fn walk(image: &Dir, deadline: &Deadline) -> Result<Walk, CheckError> {
    let mut out = Walk::default();
    let mut levels = vec![Level {
        entries: rustix::fs::Dir::new(open_dir_at(image, c".")?)?,
        path: String::new(),
    }];
    loop {
        let depth = levels.len();
        let Some(level) = levels.last_mut() else {
            return Ok(out);
        };
        let Some(entry) = level.entries.read() else {
            levels.pop();
            continue;
        };
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        deadline.check()?;
        if let Some(deeper) = out.visit(level, name, depth)? {
            levels.push(deeper);
        }
    }
}

impl Walk {
    /// Counts the entry `name` of `level`, `depth` directories down, and returns the directory
    /// to walk into next, if it is one.
    fn visit(
        &mut self,
        level: &Level,
        name: &CStr,
        depth: usize,
    ) -> Result<Option<Level>, CheckError> {
        let path = format!("{}/{}", level.path, name.to_string_lossy());
        let stat = match rustix::fs::statat(level.entries.fd()?, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            // removed while it was walked: nothing to count
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mode = stat.st_mode & 0o7777;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => self.directory(level, name, path, mode, depth),
            FileType::RegularFile => {
                self.bytes += u64::try_from(stat.st_size).unwrap_or(0);
                if mode & 0o6000 != 0 {
                    self.setid.add(path);
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Notes the directory `name` of `level` and opens it to walk into, unless it is too deep
    /// or no longer a directory.
    fn directory(
        &mut self,
        level: &Level,
        name: &CStr,
        path: String,
        mode: u32,
        depth: usize,
    ) -> Result<Option<Level>, CheckError> {
        // sticky world-writable directories (/tmp) are the normal kind
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            self.world_writable.add(path.clone());
        }
        if depth >= MAX_OPEN_DIRS {
            self.too_deep.add(path);
            return Ok(None);
        }
        let fd = match open_dir_at(level.entries.fd()?, name) {
            Ok(fd) => fd,
            // replaced by a link or a file meanwhile, gone, or closed to us
            Err(Errno::LOOP | Errno::NOTDIR | Errno::NOENT | Errno::ACCESS) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(Some(Level {
            entries: rustix::fs::Dir::new(fd)?,
            path,
        }))
    }

    /// What the walk found that is worth saying, and the size of the image.
    fn report(&self) -> Vec<ReportLine> {
        let mut report = Vec::new();
        if !self.world_writable.is_empty() {
            report.push(ReportLine::warning(
                self.world_writable.describe("world-writable directories"),
            ));
        }
        if !self.setid.is_empty() {
            report.push(ReportLine::warning(
                self.setid.describe("set-uid/set-gid files"),
            ));
        }
        if !self.too_deep.is_empty() {
            report.push(ReportLine::warning(self.too_deep.describe(&format!(
                "directories nested deeper than {MAX_OPEN_DIRS} levels, not looked into"
            ))));
        }
        report.push(ReportLine::info(format!(
            "the image holds {} bytes of files",
            self.bytes
        )));
        report
    }
}

/// Whether the directories the container boot maps into are there.
fn mount_points(image: &Dir) -> Vec<ReportLine> {
    [
        (
            ".old_root",
            "the container would fall back to its default distro",
        ),
        ("containers", "the container's home could not be mapped"),
    ]
    .into_iter()
    .map(|(dir, why)| {
        if is_dir(image, dir) {
            ReportLine::info(format!("/{dir} is present"))
        } else {
            ReportLine::error(format!("/{dir} is missing or not a directory: {why}"))
        }
    })
    .collect()
}

/// Whether the shell of each mapped uid will have a name: from `/etc/passwd` or the unbit NSS
/// module. Files that could not be read are reported first.
fn user_names(image: &Dir, facts: &CheckFacts) -> Vec<ReportLine> {
    let mut report = Vec::new();
    let mut unread = |read: Result<Option<String>, String>| {
        read.unwrap_or_else(|why| {
            report.push(ReportLine::warning(why));
            None
        })
    };
    let known: Vec<u32> = unread(read_etc_file(image, "passwd"))
        .map(|p| passwd_uids(&p))
        .unwrap_or_default();
    let unbit = unread(read_etc_file(image, "nsswitch.conf")).is_some_and(|n| nss_has_unbit(&n));
    let unknown: Vec<String> = facts
        .mapped_uids
        .iter()
        .filter(|uid| !known.contains(uid))
        .map(u32::to_string)
        .collect();
    if unbit {
        report.push(ReportLine::info(
            "/etc/nsswitch.conf uses the unbit module for users",
        ));
    } else if !unknown.is_empty() {
        report.push(ReportLine::warning(format!(
            "/etc/passwd has no entry for uid {} and /etc/nsswitch.conf does not use unbit: \
             the shell will say \"I have no name\"",
            unknown.join(", ")
        )));
    }
    report
}

/// Checks the image rooted at `image`. Errors mean a container would not boot into it.
pub fn check(image: &Dir, facts: &CheckFacts) -> Result<Vec<ReportLine>, CheckError> {
    facts.deadline.check()?;
    let mut report = mount_points(image);
    report.extend(user_names(image, facts));
    report.push(uwsgi_binary(image, facts));
    if image.symlink_metadata("etc/rc.local").is_ok() {
        report.push(ReportLine::info(
            "/etc/rc.local of the image is ignored: put your script in etc/rc.local of the container's home",
        ));
    }
    report.extend(walk(image, &facts.deadline)?.report());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_entries_and_the_unbit_module_are_read() {
        assert_eq!(
            passwd_uids("root:x:0:0::/root:/bin/sh\nweb:x:30001:30001::/:/bin/sh\nbroken\n"),
            vec![0, 30001]
        );
        assert!(nss_has_unbit("passwd:   compat unbit\n"));
        assert!(!nss_has_unbit("passwd: files\n# passwd: unbit\n"));
        assert!(!nss_has_unbit("group: compat unbit\n"));
    }
}
