//! A tiny but real root filesystem built from Debian's `busybox-static`: what the demo installs
//! as a customer's first custom distro, and what tests boot. It has everything a uwsgi.it
//! container needs of an image (`/.old_root`, `/containers`, the usual mount points).

use std::io::{self, Write};
use std::path::Path;
use std::process::Command;

pub const BUSYBOX: &str = "/bin/busybox";

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

/// The applets the busybox binary offers.
fn applets(busybox: &Path) -> io::Result<Vec<String>> {
    let out = Command::new(busybox).arg("--list").output()?;
    if !out.status.success() {
        return Err(io::Error::other("busybox --list failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| {
            !a.is_empty()
                && *a != "busybox"
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        })
        .map(str::to_owned)
        .collect())
}

/// The directories of the image and their modes, the root first.
const DIRECTORIES: [(&str, u32); 16] = [
    ("./", 0o755),
    ("./.old_root/", 0o755),
    ("./containers/", 0o755),
    ("./bin/", 0o755),
    ("./etc/", 0o755),
    ("./dev/", 0o755),
    ("./proc/", 0o555),
    ("./run/", 0o755),
    ("./tmp/", 0o1777),
    ("./usr/", 0o755),
    ("./usr/local/", 0o755),
    ("./var/", 0o755),
    ("./var/log/", 0o755),
    ("./var/spool/", 0o755),
    ("./var/tmp/", 0o1777),
    ("./opt/", 0o755),
];

/// `/bin/busybox` and a link to it for each of its applets.
fn append_busybox<W: Write>(tar: &mut tar::Builder<W>, busybox: &Path) -> io::Result<()> {
    let binary = std::fs::read(busybox)?;
    tar.append_data(
        &mut header(tar::EntryType::Regular, 0o755, binary.len() as u64),
        "./bin/busybox",
        &binary[..],
    )?;
    for applet in applets(busybox)? {
        let mut link = header(tar::EntryType::Symlink, 0o777, 0);
        tar.append_link(&mut link, format!("./bin/{applet}"), "busybox")?;
    }
    Ok(())
}

/// The files of `/etc`, with `users` in `passwd` and `group`.
fn etc_files(users: &[(&str, u32)]) -> [(&'static str, String); 4] {
    let mut passwd = String::from(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    );
    let mut group = String::from("root:x:0:\nnogroup:x:65534:\n");
    for (name, uid) in users {
        passwd.push_str(&format!(
            "{name}:x:{uid}:{uid}:{name}:/containers/{uid}:/bin/sh\n"
        ));
        group.push_str(&format!("{name}:x:{uid}:\n"));
    }
    [
        ("./etc/passwd", passwd),
        ("./etc/group", group),
        (
            "./etc/nsswitch.conf",
            "passwd: files\ngroup: files\nshadow: files\n".to_owned(),
        ),
        (
            "./etc/os-release",
            "NAME=\"busybox\"\nID=busybox\nPRETTY_NAME=\"busybox rootfs\"\n".to_owned(),
        ),
    ]
}

/// A gzip-compressed tar of the root filesystem. `users` become `/etc/passwd` entries (name, uid)
/// so the shell knows who it is.
pub fn busybox_rootfs(busybox: &Path, users: &[(&str, u32)]) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (dir, mode) in DIRECTORIES {
        tar.append_data(
            &mut header(tar::EntryType::Directory, mode, 0),
            dir,
            io::empty(),
        )?;
    }
    append_busybox(&mut tar, busybox)?;
    for (name, text) in etc_files(users) {
        tar.append_data(
            &mut header(tar::EntryType::Regular, 0o644, text.len() as u64),
            name,
            text.as_bytes(),
        )?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}
