//! The directories on the way to the last member's parent, kept open. An archive lists a
//! directory's members together, so the next member's parent is usually open already and no
//! directory is opened at all; when it is not, only the components past the shared prefix are.
//!
//! A directory kept here stays the one at its name: nothing an unpack does replaces a
//! directory (a file, link or directory member of the same name is refused), and the tree is
//! staged where only distropanel writes. At most [`MAX_KEPT_DIRS`] descriptors are kept; a
//! deeper parent is opened step by step from the deepest kept one, holding one more.

use std::ffi::{OsStr, OsString};
use std::sync::Arc;

use cap_std::fs::Dir;

use super::UnpackError;

/// Directories kept open, however deep the archive goes.
pub const MAX_KEPT_DIRS: usize = 32;

#[derive(Default)]
pub struct OpenPath {
    names: Vec<OsString>,
    /// `dirs[i]` is the directory `names[..=i]` below the root. Shared, so the threads
    /// writing files can hold a parent after the walk has moved on.
    dirs: Vec<Arc<Dir>>,
    /// The parent of the last member, when it lies deeper than what is kept.
    deep: Option<Arc<Dir>>,
}

impl OpenPath {
    /// The directory `parents` below `root`, opened from the kept ones; `step(dir, depth)`
    /// opens (creating as needed) `parents[depth]` in `dir`, the directory of
    /// `parents[..depth]`.
    pub fn enter<'d>(
        &'d mut self,
        root: &'d Arc<Dir>,
        parents: &[&OsStr],
        step: impl Fn(&Dir, usize) -> Result<Dir, UnpackError>,
    ) -> Result<&'d Arc<Dir>, UnpackError> {
        let shared = self
            .names
            .iter()
            .zip(parents)
            .take_while(|(kept, wanted)| kept.as_os_str() == **wanted)
            .count();
        self.names.truncate(shared);
        self.dirs.truncate(shared);
        self.deep = None;
        let kept = parents.len().min(MAX_KEPT_DIRS);
        for (depth, name) in parents.iter().enumerate().take(kept).skip(shared) {
            let next = step(self.dirs.last().unwrap_or(root), depth)?;
            self.names.push(name.to_os_string());
            self.dirs.push(Arc::new(next));
        }
        let deepest = self.dirs.last().unwrap_or(root);
        if parents.len() == kept {
            return Ok(deepest);
        }
        let mut dir = step(deepest, kept)?;
        for depth in kept + 1..parents.len() {
            dir = step(&dir, depth)?;
        }
        Ok(self.deep.insert(Arc::new(dir)))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use cap_std::ambient_authority;

    use super::*;

    /// Counts the directories opened by `enter` while creating them as needed.
    fn opened_for(
        open: &mut OpenPath,
        root: &Arc<Dir>,
        path: &str,
        opened: &RefCell<Vec<String>>,
    ) -> usize {
        let parents: Vec<&OsStr> = path.split('/').map(OsStr::new).collect();
        let before = opened.borrow().len();
        open.enter(root, &parents, |dir, depth| {
            let name = parents[depth];
            opened
                .borrow_mut()
                .push(name.to_string_lossy().into_owned());
            let _ = dir.create_dir(name);
            Ok(dir.open_dir(name)?)
        })
        .unwrap();
        opened.borrow().len() - before
    }

    #[test]
    fn only_the_components_past_the_shared_prefix_are_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Arc::new(Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap());
        let opened = RefCell::new(Vec::new());
        let mut open = OpenPath::default();
        assert_eq!(opened_for(&mut open, &root, "usr/share/doc", &opened), 3);
        assert_eq!(opened_for(&mut open, &root, "usr/share/doc", &opened), 0);
        assert_eq!(
            opened_for(&mut open, &root, "usr/share/man/man1", &opened),
            2
        );
        assert_eq!(opened_for(&mut open, &root, "usr", &opened), 0);
        assert_eq!(opened_for(&mut open, &root, "usr/share", &opened), 1);
        assert_eq!(opened_for(&mut open, &root, "etc", &opened), 1);
        assert!(tmp.path().join("usr/share/man/man1").is_dir());
    }

    #[test]
    fn a_parent_deeper_than_what_is_kept_holds_at_most_one_more_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Arc::new(Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap());
        let opened = RefCell::new(Vec::new());
        let mut open = OpenPath::default();
        let deep = vec!["d"; MAX_KEPT_DIRS + 10].join("/");
        assert_eq!(
            opened_for(&mut open, &root, &deep, &opened),
            MAX_KEPT_DIRS + 10
        );
        assert_eq!(open.dirs.len(), MAX_KEPT_DIRS);
        // the kept prefix is reused, the rest opened again
        assert_eq!(opened_for(&mut open, &root, &deep, &opened), 10);
        assert!(tmp.path().join(&deep).is_dir());
    }
}
