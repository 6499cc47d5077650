//! The image checklist: what the platform's "check list for when you have problems" names,
//! checked before a container boots into the image rather than after it fails to.

use std::io::{self, Read};

use cap_fs_ext::DirExt;
use cap_std::fs::{Dir, PermissionsExt};

use crate::host::report::{Findings, ReportLine};

/// What the check needs to know besides the image itself.
#[derive(Debug, Clone, Default)]
pub struct CheckFacts {
    /// uids of the containers that map (or are about to map) this distro.
    pub mapped_uids: Vec<u32>,
    /// Those of `mapped_uids` whose own home has `bin/uwsgi` (their Emperor looks there first).
    pub homes_with_uwsgi: Vec<u32>,
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

fn read_small(dir: &Dir, name: &str) -> Option<String> {
    let file = dir.open(name).ok()?;
    let mut text = String::new();
    file.take(4 * 1024 * 1024).read_to_string(&mut text).ok()?;
    Some(text)
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

struct Walk {
    bytes: u64,
    world_writable: Findings,
    setid: Findings,
}

/// Walks the tree without following links: sizes, world-writable directories, set-id files.
fn walk(image: &Dir) -> io::Result<Walk> {
    let mut out = Walk {
        bytes: 0,
        world_writable: Findings::default(),
        setid: Findings::default(),
    };
    let mut pending = vec![(image.try_clone()?, String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in dir.entries()? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{prefix}/{name}");
            let meta = entry.metadata()?;
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                // sticky world-writable directories (/tmp) are the normal kind
                if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                    out.world_writable.add(path.clone());
                }
                if let Ok(sub) = dir.open_dir_nofollow(&name) {
                    pending.push((sub, path));
                }
            } else if meta.is_file() {
                out.bytes += meta.len();
                if mode & 0o6000 != 0 {
                    out.setid.add(path);
                }
            }
        }
    }
    Ok(out)
}

/// Checks the image rooted at `image`. Errors mean a container would not boot into it.
pub fn check(image: &Dir, facts: &CheckFacts) -> io::Result<Vec<ReportLine>> {
    let mut report = Vec::new();
    for (dir, why) in [
        (
            ".old_root",
            "the container would fall back to its default distro",
        ),
        ("containers", "the container's home could not be mapped"),
    ] {
        if is_dir(image, dir) {
            report.push(ReportLine::info(format!("/{dir} is present")));
        } else {
            report.push(ReportLine::error(format!(
                "/{dir} is missing or not a directory: {why}"
            )));
        }
    }

    let known: Vec<u32> = read_small(image, "etc/passwd")
        .map(|p| passwd_uids(&p))
        .unwrap_or_default();
    let unbit = read_small(image, "etc/nsswitch.conf").is_some_and(|n| nss_has_unbit(&n));
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

    report.push(uwsgi_binary(image, facts));

    if image.symlink_metadata("etc/rc.local").is_ok() {
        report.push(ReportLine::info(
            "/etc/rc.local of the image is ignored: put your script in etc/rc.local of the container's home",
        ));
    }

    let walked = walk(image)?;
    if !walked.world_writable.is_empty() {
        report.push(ReportLine::warning(
            walked.world_writable.describe("world-writable directories"),
        ));
    }
    if !walked.setid.is_empty() {
        report.push(ReportLine::warning(
            walked.setid.describe("set-uid/set-gid files"),
        ));
    }
    report.push(ReportLine::info(format!(
        "the image holds {} bytes of files",
        walked.bytes
    )));
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
