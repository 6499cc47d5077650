//! distropanel's own directories on a host, outside every home and owned by root, so that no
//! customer can replace anything a root operation passes through:
//!
//! - `<root>/var/lib/distropanel/images/<storage uid>/<path>`: the installed custom distro
//!   images. `images/<storage uid>` is root's, so its entries (one per distro path) cannot be
//!   swapped for links; each image directory inside belongs to the storage container, which
//!   sees `images/<storage uid>` as its `~/distros` through a bind mount in its own namespace.
//! - `staging/<storage uid>` and `previous/<storage uid>`: images being unpacked and the image
//!   each install replaced (for a rollback), on the same filesystem, so swaps are renames.
//! - `views/<uid>/<uid>`: what a container sees as `/containers` (its home is mounted on the
//!   inner directory).
//! - `<root>/ns`: where a container's new root is mounted before `pivot_root`.
//!
//! The host's shared directories, `<root>/containers` (the homes) and `<root>/distros` (the
//! platform distros), are made root's with mode 0755 too: a vassal passes through them as root.

use std::io;

use cap_fs_ext::DirExt;
use cap_std::fs::{Dir, PermissionsExt};

use crate::domain::values::Uid;
use crate::host::HostError;

pub const STORE: &str = "var/lib/distropanel";
pub const IMAGES: &str = "images";
pub const STAGING: &str = "staging";
pub const PREVIOUS: &str = "previous";
pub const VIEWS: &str = "views";
pub const NEW_ROOT: &str = "ns";
/// In a view, where a storage container's images wait for the host to be detached.
pub const VIEW_IMAGES: &str = ".images";

/// The image directories of one storage container.
pub struct ImageDirs {
    /// `images/<uid>`: the installed images, one directory per distro path.
    pub installed: Dir,
    pub staging: Dir,
    pub previous: Dir,
}

pub struct Store {
    maker: Maker,
    containers: Dir,
    images: Dir,
    staging: Dir,
    previous: Dir,
    views: Dir,
}

/// Makes the store's directories.
struct Maker {
    root_label: String,
    /// Running as root: every directory of the store is made root's.
    as_root: bool,
}

impl Store {
    /// Opens the store below the host root `root` (labelled `root_label` in errors), creating
    /// what is missing. No component is followed if it is a link.
    pub fn open(root: &Dir, root_label: &str) -> Result<Self, HostError> {
        let maker = Maker {
            root_label: root_label.trim_end_matches('/').to_owned(),
            as_root: rustix::process::geteuid().is_root(),
        };
        maker.root_dir(root, NEW_ROOT, 0o755)?;
        maker.root_dir(root, "distros", 0o755)?;
        let containers = maker.root_dir(root, "containers", 0o755)?;
        let (parents, own) = STORE.rsplit_once('/').expect("the store is below var/lib");
        let mut names = parents.split('/');
        let first = names.next().expect("a parent");
        let mut dir = maker.plain_dir(root, first)?;
        for name in names {
            dir = maker.plain_dir(&dir, name)?;
        }
        let top = maker.root_dir(&dir, own, 0o711)?;
        Ok(Self {
            images: maker.root_dir(&top, IMAGES, 0o711)?,
            staging: maker.root_dir(&top, STAGING, 0o700)?,
            previous: maker.root_dir(&top, PREVIOUS, 0o700)?,
            views: maker.root_dir(&top, VIEWS, 0o711)?,
            containers,
            maker,
        })
    }
}

impl Maker {
    fn label(&self, below: &str) -> String {
        format!("{}/{below}", self.root_label)
    }

    /// An existing host directory on the way (`var`, `lib`): created if missing, never
    /// followed if it is a link, otherwise left as the host has it.
    fn plain_dir(&self, parent: &Dir, name: &str) -> Result<Dir, HostError> {
        match parent.create_dir(name) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(HostError::io(self.label(name), e)),
        }
        parent
            .open_dir_nofollow(name)
            .map_err(|e| not_a_plain_dir(parent, name, self.label(name), e))
    }

    /// A directory of distropanel's: created with `mode`, and when running as root given to
    /// root with exactly that mode, whatever it was before.
    fn root_dir(&self, parent: &Dir, name: &str, mode: u32) -> Result<Dir, HostError> {
        // opened first: an existing directory costs a lookup, not a mkdir locking the parent
        let dir = match parent.open_dir_nofollow(name) {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                crate::host::make_dir(parent, name, mode)
                    .map_err(|e| HostError::io(self.label(name), e))?;
                parent
                    .open_dir_nofollow(name)
                    .map_err(|e| not_a_plain_dir(parent, name, self.label(name), e))?
            }
            Err(e) => return Err(not_a_plain_dir(parent, name, self.label(name), e)),
        };
        if self.as_root {
            let fix = || -> io::Result<()> {
                let found = crate::host::give_unless_owned(
                    &dir,
                    rustix::fs::Uid::ROOT,
                    rustix::fs::Gid::ROOT,
                )?;
                if found.st_mode & 0o7777 != mode {
                    dir.open(".")?
                        .set_permissions(cap_std::fs::Permissions::from_mode(mode))?;
                }
                Ok(())
            };
            fix().map_err(|e| HostError::io(self.label(name), e))?;
        }
        Ok(dir)
    }
}

impl Store {
    /// `<root>/containers`, where the homes are.
    pub fn containers(&self) -> Result<Dir, HostError> {
        self.containers
            .try_clone()
            .map_err(|e| HostError::io(self.maker.label("containers"), e))
    }

    /// The image directories of `storage`, created when missing.
    pub fn image_dirs(&self, storage: Uid) -> Result<ImageDirs, HostError> {
        let name = storage.to_string();
        Ok(ImageDirs {
            installed: self.maker.root_dir(&self.images, &name, 0o755)?,
            staging: self.maker.root_dir(&self.staging, &name, 0o700)?,
            previous: self.maker.root_dir(&self.previous, &name, 0o700)?,
        })
    }

    /// The image directories of `storage` if it ever had any.
    pub fn existing_image_dirs(&self, storage: Uid) -> Result<Option<ImageDirs>, HostError> {
        match self.images.symlink_metadata(storage.to_string()) {
            Ok(_) => self.image_dirs(storage).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::io(self.maker.label(STORE), e)),
        }
    }

    /// The installed image directory of `storage`, if it is there.
    pub fn installed(&self, storage: Uid) -> Result<Option<Dir>, HostError> {
        Ok(self
            .existing_image_dirs(storage)?
            .map(|dirs| dirs.installed))
    }

    /// `views/<uid>`: the container's `/containers`, with the mount point of its home
    /// (`<uid>`) and the one that holds a storage container's images until they are mounted
    /// on its `~/distros` ([`VIEW_IMAGES`]).
    pub fn ensure_view(&self, uid: Uid) -> Result<(), HostError> {
        let name = uid.to_string();
        let view = self.maker.root_dir(&self.views, &name, 0o755)?;
        self.maker.root_dir(&view, &name, 0o755)?;
        self.maker.root_dir(&view, VIEW_IMAGES, 0o755)?;
        Ok(())
    }
}

fn not_a_plain_dir(parent: &Dir, name: &str, label: String, error: io::Error) -> HostError {
    match parent.symlink_metadata(name) {
        Ok(meta) if !meta.is_dir() => HostError::refused(
            label,
            "is a link or not a directory; distropanel's store must be a plain directory",
        ),
        _ => HostError::io(label, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ContainerId;
    use cap_std::ambient_authority;

    #[test]
    fn the_store_is_made_of_plain_directories_and_refuses_a_planted_link() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        let store = Store::open(&root, "/h").unwrap();
        let uid = Uid::of(30000, ContainerId(1));
        store.image_dirs(uid).unwrap();
        store.ensure_view(uid).unwrap();
        assert!(tmp.path().join("var/lib/distropanel/images/30001").is_dir());
        assert!(
            tmp.path()
                .join("var/lib/distropanel/views/30001/30001")
                .is_dir()
        );
        assert!(tmp.path().join("ns").is_dir());

        let other = tempfile::tempdir().unwrap();
        std::fs::remove_dir_all(tmp.path().join("var/lib/distropanel/images")).unwrap();
        std::os::unix::fs::symlink(other.path(), tmp.path().join("var/lib/distropanel/images"))
            .unwrap();
        assert!(matches!(
            Store::open(&root, "/h"),
            Err(HostError::Refused { .. })
        ));
        assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 0);
    }
}
