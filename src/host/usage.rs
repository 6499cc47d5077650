//! How many bytes a directory tree holds, by distropanel's own accounting (the hosts' file
//! systems need no kernel quota): the sizes of its files and links, plus one block per
//! directory. Links are counted, never followed, and only one directory is open at a time, so
//! neither a planted link nor a deep or wide tree can make the walk leave the tree or run out
//! of descriptors.

use std::io;
use std::path::PathBuf;

use cap_fs_ext::DirExt;
use cap_std::fs::Dir;

/// What one directory entry costs besides its content.
const DIRECTORY_BYTES: u64 = 4096;

/// The bytes held below `top` (`top` itself not counted). Entries that vanish while the walk
/// runs are skipped: the customer may change their home at any time.
pub fn bytes_below(top: &Dir) -> io::Result<u64> {
    let mut total = 0u64;
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = if relative.as_os_str().is_empty() {
            top.open_dir_nofollow(".")?
        } else {
            // beneath `top` whatever a customer swaps in meanwhile (cap-std resolves inside it)
            match top.open_dir_nofollow(&relative) {
                Ok(dir) => dir,
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(e),
            }
        };
        let entries = match dir.entries() {
            Ok(entries) => entries,
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                total = total.saturating_add(DIRECTORY_BYTES);
                pending.push(relative.join(entry.file_name()));
            } else {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Ok(total)
}

/// The bytes of `name` in `parent` and below it; nothing there counts as nothing.
pub fn bytes_of(parent: &Dir, name: &str) -> io::Result<u64> {
    match parent.symlink_metadata(name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => match parent.open_dir_nofollow(name) {
            Ok(dir) => Ok(DIRECTORY_BYTES.saturating_add(bytes_below(&dir)?)),
            Err(e) if vanished(&e) => Ok(0),
            Err(e) => Err(e),
        },
        Ok(meta) => Ok(meta.len()),
    }
}

fn vanished(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    ) || error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    #[test]
    fn files_links_and_directories_count_and_links_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("big"), vec![0u8; 100_000]).unwrap();
        let top = tmp.path().join("top");
        std::fs::create_dir_all(top.join("a/b")).unwrap();
        std::fs::write(top.join("a/b/f"), vec![0u8; 1000]).unwrap();
        std::fs::write(top.join("g"), vec![0u8; 10]).unwrap();
        std::os::unix::fs::symlink(outside.path(), top.join("link")).unwrap();
        let dir = Dir::open_ambient_dir(&top, ambient_authority()).unwrap();
        let link_len = outside.path().as_os_str().len() as u64;
        assert_eq!(bytes_below(&dir).unwrap(), 2 * 4096 + 1000 + 10 + link_len);
        let parent = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        assert_eq!(
            bytes_of(&parent, "top").unwrap(),
            3 * 4096 + 1000 + 10 + link_len
        );
        assert_eq!(bytes_of(&parent, "missing").unwrap(), 0);
    }

    #[test]
    fn a_deep_tree_is_walked_with_one_directory_open_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let mut path = tmp.path().to_path_buf();
        for _ in 0..300 {
            path.push("d");
        }
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("f"), b"x").unwrap();
        let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
        assert_eq!(bytes_below(&dir).unwrap(), 300 * 4096 + 1);
    }
}
