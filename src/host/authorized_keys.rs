//! `<home>/.ssh/uwsgi_authorized_keys`, written by the executor from keys it parsed, through
//! the home's directory capability. Nothing here follows a link: `.ssh` is opened without
//! following one (a link or anything but a directory there is refused, and nothing is
//! written), and the file is written under a fresh name and renamed over the old one, which
//! replaces whatever entry had that name (a planted link included) without following it.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt, OpenOptions, OpenOptionsExt};

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
) -> Result<(), HostError> {
    let ssh_label = format!("{home_label}/{SSH_DIR}");
    let ssh = ssh_dir(home, &ssh_label)?;
    unpack::chown(&ssh, owner).map_err(|e| HostError::io(&ssh_label, e))?;

    let label = format!("{ssh_label}/{FILE}");
    let temp = temp_name();
    let written = write_temp(&ssh, &temp, keys, owner, true)
        .and_then(|()| rustix::fs::renameat(&ssh, &temp, &ssh, FILE).map_err(io::Error::from));
    if let Err(error) = written {
        let _ = ssh.remove_file(&temp);
        return Err(rename_error(label, error));
    }
    sync_dir(&ssh).map_err(|e| HostError::io(label, e))
}

/// What [`write`] does up to the rename: the keys are written to a fresh file in `.ssh`, not
/// yet synced; [`Staged::publish`](crate::host::Staged) renames it into place once a sync has
/// made it durable. A directory already at the file's name is refused here, as [`write`]
/// refuses it at the rename.
pub fn stage(
    home: &Dir,
    home_label: &str,
    keys: &[AuthorizedKey],
    owner: Option<u32>,
) -> Result<crate::host::Staged, HostError> {
    let ssh_label = format!("{home_label}/{SSH_DIR}");
    let ssh = ssh_dir(home, &ssh_label)?;
    unpack::chown(&ssh, owner).map_err(|e| HostError::io(&ssh_label, e))?;
    let label = format!("{ssh_label}/{FILE}");
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
    if let Err(error) = write_temp(&ssh, &temp, keys, owner, false) {
        let _ = ssh.remove_file(&temp);
        return Err(HostError::io(label, error));
    }
    Ok(crate::host::Staged {
        dir: ssh,
        temp,
        name: FILE.to_owned(),
        label,
    })
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
    let mut builder = DirBuilder::new();
    builder.mode(0o700);
    match home.create_dir_with(SSH_DIR, &builder) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(HostError::io(label, e)),
    }
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
fn write_temp(
    ssh: &Dir,
    temp: &str,
    keys: &[AuthorizedKey],
    owner: Option<u32>,
    sync: bool,
) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options
        .write(true)
        .create_new(true)
        .mode(0o600)
        .follow(FollowSymlinks::No);
    let mut file = ssh.open_with(temp, &options)?;
    let mut text = String::new();
    for key in keys {
        text.push_str(key.as_str());
        text.push('\n');
    }
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

        fn write(&self, keys: &[&str]) -> Result<(), HostError> {
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
