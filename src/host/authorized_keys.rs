//! `<home>/.ssh/uwsgi_authorized_keys`, written by the executor from keys it parsed, through
//! the home's directory capability. Nothing here follows a link: `.ssh` is opened without
//! following one (a link or anything but a directory there is refused, and nothing is
//! written), and the file is written under a fresh name and renamed over the old one, which
//! replaces whatever entry had that name (a planted link included) without following it.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

use crate::domain::authorized_key::AuthorizedKey;
use crate::host::{HostError, unpack};

pub const SSH_DIR: &str = ".ssh";
pub const FILE: &str = "uwsgi_authorized_keys";

/// Replaces `.ssh/uwsgi_authorized_keys` in `home` (named `home_label` in messages) with one
/// line per key; no keys writes an empty file. `.ssh` is created when missing; `.ssh` and the
/// file are given to `owner` (uid and gid alike) when there is one, the file with mode 0600.
pub fn write(
    home: &Dir,
    home_label: &str,
    keys: &[AuthorizedKey],
    owner: Option<u32>,
) -> Result<KeysFile, HostError> {
    let ssh_label = format!("{home_label}/{SSH_DIR}");
    let ssh = ssh_dir(home, &ssh_label)?;
    give(&ssh, owner).map_err(|e| HostError::io(&ssh_label, e))?;

    let label = format!("{ssh_label}/{FILE}");
    let text = text_of(keys);
    if in_place(&ssh, text.as_bytes(), owner) {
        return Ok(KeysFile::Unchanged);
    }
    let temp = temp_name();
    let written = write_temp(&ssh, &temp, &text, owner, true)
        .and_then(|()| rustix::fs::renameat(&ssh, &temp, &ssh, FILE).map_err(io::Error::from));
    if let Err(error) = written {
        let _ = ssh.remove_file(&temp);
        return Err(rename_error(label, error));
    }
    sync_dir(&ssh).map_err(|e| HostError::io(label, e))?;
    Ok(KeysFile::Written)
}

/// What [`write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysFile {
    Written,
    /// The file already held exactly these keys, as [`write`] leaves it: nothing was written
    /// and nothing waited for a sync.
    Unchanged,
}

/// What [`write`] does up to the rename: the keys are written to a fresh file in `.ssh`, not
/// yet synced; [`Staged::publish`](crate::host::Staged) renames it into place once a sync has
/// made it durable. A directory already at the file's name is refused here, as [`write`]
/// refuses it at the rename. `None` when the file already holds exactly these keys.
pub fn stage(
    home: &Dir,
    home_label: &str,
    keys: &[AuthorizedKey],
    owner: Option<u32>,
) -> Result<Option<crate::host::Staged>, HostError> {
    let ssh_label = format!("{home_label}/{SSH_DIR}");
    let ssh = ssh_dir(home, &ssh_label)?;
    give(&ssh, owner).map_err(|e| HostError::io(&ssh_label, e))?;
    let label = format!("{ssh_label}/{FILE}");
    let text = text_of(keys);
    if in_place(&ssh, text.as_bytes(), owner) {
        return Ok(None);
    }
    match ssh.symlink_metadata(FILE) {
        Ok(meta) if meta.is_dir() => {
            return Err(HostError::refused(
                label,
                "is a directory; it was left alone and no key was written",
            ));
        }
        _ => {}
    }
    let temp = temp_name();
    if let Err(error) = write_temp(&ssh, &temp, &text, owner, false) {
        let _ = ssh.remove_file(&temp);
        return Err(HostError::io(label, error));
    }
    Ok(Some(crate::host::Staged {
        dir: ssh,
        temp,
        name: FILE.to_owned(),
        label,
    }))
}

/// The file's text: one line per key.
fn text_of(keys: &[AuthorizedKey]) -> String {
    let mut text = String::new();
    for key in keys {
        text.push_str(key.as_str());
        text.push('\n');
    }
    text
}

/// `.ssh` given to the container, unless it already has it.
fn give(ssh: &Dir, owner: Option<u32>) -> io::Result<()> {
    if let Some(id) = owner {
        let (uid, gid) = (rustix::fs::Uid::from_raw(id), rustix::fs::Gid::from_raw(id));
        crate::host::give_unless_owned(ssh, uid, gid)?;
    }
    Ok(())
}

/// Whether `.ssh/uwsgi_authorized_keys` already is what [`write`] would leave: exactly `text`,
/// in a regular file of its own (one link), mode 0600, owned by `owner`. Then a restart has
/// nothing to write and no sync to wait for. Only a regular file is opened, without following a
/// link and without blocking, so a fifo swapped in meanwhile is never waited on; what it is
/// comes from the opened descriptor, not from the earlier look.
fn in_place(ssh: &Dir, text: &[u8], owner: Option<u32>) -> bool {
    use cap_std::fs::MetadataExt;
    use std::io::Read;

    // anything but a regular file is rewritten without being opened at all; the descriptor
    // below is what decides, in case the entry changed since
    if !ssh.symlink_metadata(FILE).is_ok_and(|meta| meta.is_file()) {
        return false;
    }
    let mut options = OpenOptions::new();
    options.read(true).follow(FollowSymlinks::No).custom_flags(
        rustix::fs::OFlags::NONBLOCK.bits() as i32 | rustix::fs::OFlags::NOCTTY.bits() as i32,
    );
    let Ok(file) = ssh.open_with(FILE, &options) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    let owned = owner.is_none_or(|id| meta.uid() == id && meta.gid() == id);
    if !meta.is_file()
        || meta.nlink() != 1
        || meta.mode() & 0o7777 != 0o600
        || !owned
        || meta.len() != text.len() as u64
    {
        return false;
    }
    let mut found = Vec::with_capacity(text.len() + 1);
    match file.take(text.len() as u64 + 1).read_to_end(&mut found) {
        Ok(_) => found == text,
        Err(_) => false,
    }
}

/// A failed rename over the keys file: a directory there is refused, anything else is an
/// I/O error.
pub(crate) fn rename_error(label: String, error: io::Error) -> HostError {
    match error
        .raw_os_error()
        .map(rustix::io::Errno::from_raw_os_error)
    {
        Some(rustix::io::Errno::ISDIR | rustix::io::Errno::NOTEMPTY) => HostError::refused(
            label,
            "is a directory; it was left alone and no key was written",
        ),
        _ => HostError::io(label, error),
    }
}

/// `.ssh` in `home`, created (0700) when missing, opened without following a link.
fn ssh_dir(home: &Dir, label: &str) -> Result<Dir, HostError> {
    crate::host::make_dir(home, SSH_DIR, 0o700).map_err(|e| HostError::io(label, e))?;
    // looked at first, so a fifo or a device there is never opened at all
    match home.symlink_metadata(SSH_DIR) {
        Ok(meta) if meta.is_symlink() => {
            return Err(HostError::refused(
                label,
                "is a symbolic link; it was not followed and no key was written",
            ));
        }
        Ok(meta) if !meta.is_dir() => {
            return Err(HostError::refused(
                label,
                "is not a directory; it was left alone and no key was written",
            ));
        }
        Ok(_) => {}
        Err(e) => return Err(HostError::io(label, e)),
    }
    // the entry may have changed since: opening without following a link is what counts
    home.open_dir_nofollow(SSH_DIR)
        .map_err(|e| match home.symlink_metadata(SSH_DIR) {
            Ok(meta) if !meta.is_dir() => HostError::refused(
                label,
                "is not a directory; it was left alone and no key was written",
            ),
            _ => HostError::io(label, e),
        })
}

/// A name no one else is writing: the process and the time.
fn temp_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(".{FILE}.{}.{nanos}.tmp", std::process::id())
}

/// Writes the keys to a new file `temp` in `ssh`: created, never opened through a link,
/// owned by `owner`, mode 0600, and with `sync` on disk before it is renamed.
fn write_temp(ssh: &Dir, temp: &str, text: &str, owner: Option<u32>, sync: bool) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options
        .write(true)
        .create_new(true)
        .mode(0o600)
        .follow(FollowSymlinks::No);
    let mut file = ssh.open_with(temp, &options)?;
    file.write_all(text.as_bytes())?;
    unpack::chown(&file, owner)?;
    rustix::fs::fchmod(&file, rustix::fs::Mode::from_raw_mode(0o600))?;
    if sync {
        file.sync_all()?;
    }
    Ok(())
}

/// Makes the rename durable. Directory capabilities may be O_PATH descriptors, which cannot
/// be synced: open the directory itself.
fn sync_dir(dir: &Dir) -> io::Result<()> {
    dir.open(".")?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    use cap_std::ambient_authority;

    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFwcT/jWokBqcEoJIzm+JGfvqcxPCg0OQB5y+KIurrHX alice@laptop";

    struct Home {
        root: tempfile::TempDir,
        dir: Dir,
    }

    impl Home {
        fn new() -> Self {
            let root = tempfile::tempdir().unwrap();
            std::fs::create_dir(root.path().join("home")).unwrap();
            std::fs::create_dir(root.path().join("outside")).unwrap();
            let dir = Dir::open_ambient_dir(root.path().join("home"), ambient_authority()).unwrap();
            Self { root, dir }
        }

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.root.path().join(name)
        }

        fn write(&self, keys: &[&str]) -> Result<KeysFile, HostError> {
            let keys: Vec<AuthorizedKey> = keys
                .iter()
                .map(|k| AuthorizedKey::parse(k).unwrap())
                .collect();
            write(&self.dir, "/containers/30003", &keys, None)
        }

        fn entries(&self, dir: &str) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(self.path(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        }
    }

    #[test]
    fn the_keys_are_written_one_a_line_mode_0600_and_replaced_whole_next_time() {
        let home = Home::new();
        home.write(&[KEY, &format!("no-pty {KEY}")]).unwrap();
        let file = home.path("home/.ssh/uwsgi_authorized_keys");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            format!("{KEY}\nno-pty {KEY}\n")
        );
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(home.path("home/.ssh")).unwrap().mode() & 0o777,
            0o700
        );
        home.write(&[]).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
        assert_eq!(home.entries("home/.ssh"), ["uwsgi_authorized_keys"]);
    }

    #[test]
    fn the_same_keys_again_leave_the_file_as_it_is() {
        let home = Home::new();
        assert_eq!(home.write(&[KEY]).unwrap(), KeysFile::Written);
        let file = home.path("home/.ssh/uwsgi_authorized_keys");
        let inode = std::fs::metadata(&file).unwrap().ino();
        assert_eq!(home.write(&[KEY]).unwrap(), KeysFile::Unchanged);
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode);
        assert_eq!(home.write(&[]).unwrap(), KeysFile::Written);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
    }

    #[test]
    fn the_same_text_with_another_mode_or_a_second_link_is_written_again() {
        let home = Home::new();
        home.write(&[KEY]).unwrap();
        let file = home.path("home/.ssh/uwsgi_authorized_keys");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(home.write(&[KEY]).unwrap(), KeysFile::Written);
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o7777, 0o600);

        let elsewhere = home.path("outside/keys");
        std::fs::hard_link(&file, &elsewhere).unwrap();
        assert_eq!(home.write(&[KEY]).unwrap(), KeysFile::Written);
        assert_eq!(std::fs::metadata(&elsewhere).unwrap().nlink(), 1);
    }

    #[test]
    fn a_fifo_planted_as_the_file_is_not_waited_on_and_is_replaced() {
        let home = Home::new();
        home.write(&[]).unwrap();
        let file = home.path("home/.ssh/uwsgi_authorized_keys");
        std::fs::remove_file(&file).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &file,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // an empty text and an empty fifo would look alike by their size alone
        assert_eq!(home.write(&[]).unwrap(), KeysFile::Written);
        assert!(std::fs::symlink_metadata(&file).unwrap().is_file());
    }

    #[test]
    fn a_link_planted_as_the_file_is_replaced_and_what_it_points_at_is_untouched() {
        let home = Home::new();
        std::fs::create_dir(home.path("home/.ssh")).unwrap();
        let target = home.path("outside/shadow");
        std::fs::write(&target, "root:secret\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        symlink(&target, home.path("home/.ssh/uwsgi_authorized_keys")).unwrap();
        home.write(&[KEY]).unwrap();
        let file = home.path("home/.ssh/uwsgi_authorized_keys");
        assert!(!file.is_symlink());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("{KEY}\n"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "root:secret\n");
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o777, 0o640);
    }

    #[test]
    fn a_link_or_a_file_planted_as_ssh_is_refused_and_nothing_is_written() {
        let home = Home::new();
        symlink(home.path("outside"), home.path("home/.ssh")).unwrap();
        let refused = home.write(&[KEY]).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "/containers/30003/.ssh: is a symbolic link; it was not followed and no key was written"
        );
        assert!(home.entries("outside").is_empty());
        std::fs::remove_file(home.path("home/.ssh")).unwrap();
        std::fs::write(home.path("home/.ssh"), "").unwrap();
        assert!(matches!(home.write(&[KEY]), Err(HostError::Refused { .. })));
        std::fs::remove_file(home.path("home/.ssh")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            home.path("home/.ssh"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert!(
            matches!(home.write(&[KEY]), Err(HostError::Refused { .. })),
            "a fifo is refused without being opened, so nothing blocks"
        );
    }

    #[test]
    fn a_directory_planted_as_the_file_is_refused_and_no_temporary_file_is_left() {
        let home = Home::new();
        std::fs::create_dir_all(home.path("home/.ssh/uwsgi_authorized_keys/x")).unwrap();
        let refused = home.write(&[KEY]).unwrap_err();
        assert!(matches!(refused, HostError::Refused { .. }), "{refused}");
        assert_eq!(home.entries("home/.ssh"), ["uwsgi_authorized_keys"]);
    }
}
