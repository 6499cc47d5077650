//! Installing images into distropanel's store: real archives, real files, hostile members,
//! and the staged swap that keeps the previous image whole.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use distropanel::domain::archive_format::ArchiveFormat;
use distropanel::domain::ids::ContainerId;
use distropanel::domain::values::{DistroPath, Uid};
use distropanel::host::check::{CheckFacts, check};
use distropanel::host::deadline::Deadline;
use distropanel::host::image::{Gate, ImageError, Installed, install, rollback};
use distropanel::host::progress::Progress;
use distropanel::host::report::Level;
use distropanel::host::store::{ImageDirs, Store};
use distropanel::host::unpack::{Limits, UnpackError};

const UID: u32 = 30007;
const ROOMY: Limits = Limits {
    max_bytes: 10 << 20,
    max_entries: 10_000,
    max_archive_bytes: 100 << 20,
    deadline: Deadline::NONE,
};

pub(crate) enum Member<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Fifo(&'a str),
    CharDevice(&'a str),
}

/// A tar archive written header by header, so names can be anything, hostile ones included.
pub(crate) fn archive(members: &[Member]) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    for member in members {
        let mut header = tar::Header::new_ustar();
        let (name, kind, data, mode, link): (&str, tar::EntryType, &[u8], u32, Option<&str>) =
            match *member {
                Member::File(n, d, m) => (n, tar::EntryType::Regular, d, m, None),
                Member::Dir(n) => (n, tar::EntryType::Directory, b"", 0o755, None),
                Member::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", 0o777, Some(t)),
                Member::HardLink(n, t) => (n, tar::EntryType::Link, b"", 0o644, Some(t)),
                Member::Fifo(n) => (n, tar::EntryType::Fifo, b"", 0o644, None),
                Member::CharDevice(n) => (n, tar::EntryType::Char, b"", 0o644, None),
            };
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_cksum();
        out.append(&header, data).unwrap();
    }
    out.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The store of storage container 30007 in a temporary host root.
pub(crate) struct Home {
    root: tempfile::TempDir,
}

impl Home {
    pub(crate) fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("host")).unwrap();
        std::fs::create_dir_all(root.path().join("outside")).unwrap();
        Self { root }
    }
    /// The store: `images/`, `staging/` and `previous/`.
    pub(crate) fn path(&self) -> std::path::PathBuf {
        self.root.path().join("host/var/lib/distropanel")
    }
    pub(crate) fn dir(&self) -> ImageDirs {
        let host =
            Dir::open_ambient_dir(self.root.path().join("host"), ambient_authority()).unwrap();
        Store::open(&host, "/host")
            .unwrap()
            .image_dirs(Uid::of(30000, ContainerId(7)))
            .unwrap()
    }
    fn outside(&self) -> std::path::PathBuf {
        self.root.path().join("outside")
    }
    fn install(&self, bytes: &[u8]) -> Result<distropanel::host::unpack::Unpacked, ImageError> {
        self.install_with(bytes, ROOMY)
    }
    pub(crate) fn install_with(
        &self,
        archive: impl std::io::Read,
        limits: Limits,
    ) -> Result<distropanel::host::unpack::Unpacked, ImageError> {
        unpacked(install_unchecked(&self.dir(), archive, limits))
    }
    /// The installed image.
    pub(crate) fn image(&self) -> std::path::PathBuf {
        self.path().join("images/30007/img")
    }
    pub(crate) fn marker(&self) -> Vec<u8> {
        std::fs::read(self.image().join("marker")).unwrap()
    }
    pub(crate) fn nothing_staged(&self) -> bool {
        !self.path().join("staging/30007/img").exists()
    }
    fn nothing_outside(&self) {
        assert_eq!(
            std::fs::read_dir(self.outside()).unwrap().count(),
            0,
            "something was written outside the home"
        );
    }
}

fn path() -> DistroPath {
    DistroPath::parse("img").unwrap()
}

/// Installs `archive` as `img` whatever its check finds: these stories are about the unpack.
fn install_unchecked(
    dirs: &ImageDirs,
    archive: impl std::io::Read,
    limits: Limits,
) -> Result<Installed, ImageError> {
    let progress = Progress::none();
    let gate = Gate {
        facts: &CheckFacts::default(),
        force: true,
        progress: &progress,
    };
    install(dirs, &path(), archive, None, Some(UID), limits, &gate)
}

fn unpacked(
    installed: Result<Installed, ImageError>,
) -> Result<distropanel::host::unpack::Unpacked, ImageError> {
    installed.map(|installed| installed.unpacked)
}

fn good_image(marker: &[u8]) -> Vec<u8> {
    archive(&[
        Member::Dir("./"),
        Member::Dir("./.old_root/"),
        Member::Dir("./containers/"),
        Member::Dir("./etc/"),
        Member::File(
            "./etc/passwd",
            b"root:x:0:0::/root:/bin/sh\napp:x:30001:30001::/:/bin/sh\n",
            0o644,
        ),
        Member::File("./marker", marker, 0o644),
        Member::Dir("./usr/bin/"),
        Member::File("./usr/bin/busybox", b"\x7fELF...", 0o755),
        Member::Symlink("./bin", "usr/bin"),
        Member::Symlink("./etc/localtime", "/usr/share/zoneinfo/UTC"),
        Member::HardLink("./usr/bin/sh", "./usr/bin/busybox"),
    ])
}

#[test]
fn a_gzip_image_unpacks_with_links_and_the_storage_containers_owner() {
    let home = Home::new();
    let done = home.install(&gzip(&good_image(b"v1"))).unwrap();
    let image = home.image();
    assert_eq!(std::fs::read(image.join("marker")).unwrap(), b"v1");
    assert_eq!(
        std::fs::read_link(image.join("bin")).unwrap(),
        Path::new("usr/bin")
    );
    assert_eq!(
        std::fs::read_link(image.join("etc/localtime")).unwrap(),
        Path::new("/usr/share/zoneinfo/UTC")
    );
    let busybox = std::fs::metadata(image.join("usr/bin/busybox")).unwrap();
    assert_eq!(
        busybox.ino(),
        std::fs::metadata(image.join("usr/bin/sh")).unwrap().ino(),
        "a hard link"
    );
    assert_eq!(busybox.mode() & 0o7777, 0o755);
    for owned in ["marker", "usr/bin", ".old_root", "."] {
        assert_eq!(
            std::fs::metadata(image.join(owned)).unwrap().uid(),
            UID,
            "{owned}"
        );
    }
    assert_eq!(
        std::fs::symlink_metadata(image.join("bin")).unwrap().uid(),
        UID
    );
    assert_eq!(done.bytes, 2 + 55 + 7);
    assert!(
        done.report.iter().all(|l| l.level == Level::Info),
        "{:?}",
        done.report
    );
}

#[test]
fn a_member_climbing_out_or_named_absolutely_refuses_the_whole_archive() {
    for hostile in [
        "../escaped",
        "a/../../escaped",
        "/escaped",
        "./../outside/escaped",
    ] {
        let home = Home::new();
        home.install(&good_image(b"v1")).unwrap();
        let bad = archive(&[
            Member::File("fine", b"ok", 0o644),
            Member::File(hostile, b"pwned", 0o644),
        ]);
        let refused = home.install(&bad).unwrap_err();
        assert!(
            matches!(refused, ImageError::Unpack(UnpackError::Refused(_))),
            "{hostile}: {refused}"
        );
        assert_eq!(
            std::fs::read(home.image().join("marker")).unwrap(),
            b"v1",
            "the previous image stays"
        );
        assert!(
            !home.path().join("staging/30007/img").exists(),
            "staging is cleaned up"
        );
        assert!(
            !home.path().join("escaped").exists() && !home.root.path().join("escaped").exists()
        );
        home.nothing_outside();
    }
}

#[test]
fn writing_through_a_symbolic_link_is_refused_and_nothing_lands_outside() {
    let home = Home::new();
    let outside = home.outside().to_string_lossy().into_owned();
    for (link_target, through) in [(outside.as_str(), "link/owned"), ("sub", "link/file")] {
        let bad = archive(&[
            Member::Dir("sub/"),
            Member::Symlink("link", link_target),
            Member::File(through, b"x", 0o644),
        ]);
        let refused = home.install(&bad).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("through the symbolic link 'link'"),
            "{refused}"
        );
    }
    home.nothing_outside();
    assert!(!home.image().exists());
}

#[test]
fn a_hard_link_to_a_file_outside_the_image_is_refused() {
    let home = Home::new();
    std::fs::write(home.outside().join("secret"), b"s").unwrap();
    for target in ["../../outside/secret", "/etc/passwd"] {
        let refused = home
            .install(&archive(&[Member::HardLink("stolen", target)]))
            .unwrap_err();
        assert!(
            matches!(refused, ImageError::Unpack(UnpackError::Refused(_))),
            "{target}: {refused}"
        );
    }
    assert_eq!(
        std::fs::metadata(home.outside().join("secret"))
            .unwrap()
            .nlink(),
        1
    );
}

#[test]
fn a_later_member_of_a_name_wins_and_links_reach_files_written_just_before_as_with_tar() {
    let home = Home::new();
    // many small files, so the threads creating them are busy when the later members come
    let names: Vec<String> = (0..300).map(|n| format!("etc/f{n}")).collect();
    let mut members: Vec<Member> = vec![Member::Dir("etc")];
    members.extend(names.iter().map(|n| Member::File(n, b"first", 0o644)));
    members.extend([
        Member::File("etc/twice", b"first", 0o644),
        Member::File("etc/twice", b"second", 0o600),
        Member::File("etc/linked", b"target", 0o644),
        Member::HardLink("etc/hard", "etc/linked"),
        Member::File("etc/becomes-link", b"file", 0o644),
        Member::Symlink("etc/becomes-link", "f1"),
        Member::Symlink("etc/becomes-file", "f2"),
        Member::File("etc/becomes-file", b"file", 0o640),
        Member::File("etc/f299", b"last", 0o644),
    ]);
    home.install(&archive(&members)).unwrap();
    let image = home.image();
    let read = |name: &str| std::fs::read(image.join(name)).unwrap();
    assert_eq!(read("etc/twice"), b"second");
    let mode = |name: &str| std::fs::symlink_metadata(image.join(name)).unwrap().mode() & 0o7777;
    assert_eq!(mode("etc/twice"), 0o600);
    assert_eq!(read("etc/hard"), b"target");
    let inode = |name: &str| std::fs::metadata(image.join(name)).unwrap().ino();
    assert_eq!(inode("etc/hard"), inode("etc/linked"));
    assert_eq!(
        std::fs::read_link(image.join("etc/becomes-link")).unwrap(),
        Path::new("f1")
    );
    assert_eq!(read("etc/becomes-file"), b"file");
    assert_eq!(mode("etc/becomes-file"), 0o640);
    assert_eq!(read("etc/f299"), b"last");
    assert_eq!(read("etc/f0"), b"first");
    let files = std::fs::read_dir(image.join("etc")).unwrap().count();
    assert_eq!(files, 300 + 5);

    // a file whose name is later needed as a directory refuses the archive, as before
    let refused = home
        .install(&archive(&[
            Member::File("etc", b"file", 0o644),
            Member::File("etc/passwd", b"root", 0o644),
        ]))
        .unwrap_err();
    assert!(
        matches!(refused, ImageError::Unpack(UnpackError::Corrupt(_))),
        "{refused}"
    );
}

#[test]
fn device_nodes_and_fifos_are_skipped_and_setid_bits_dropped_each_reported() {
    let home = Home::new();
    let done = home
        .install(&archive(&[
            Member::File("su", b"#!", 0o4755),
            Member::File("wall", b"#!", 0o2755),
            Member::Fifo("pipe"),
            Member::CharDevice("dev-null"),
        ]))
        .unwrap();
    assert_eq!(
        std::fs::metadata(home.image().join("su")).unwrap().mode() & 0o7777,
        0o755
    );
    assert_eq!(
        std::fs::metadata(home.image().join("wall")).unwrap().mode() & 0o7777,
        0o755
    );
    assert!(!home.image().join("pipe").exists() && !home.image().join("dev-null").exists());
    let warnings: Vec<&str> = done
        .report
        .iter()
        .filter(|l| l.level == Level::Warning)
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("device nodes and fifos (2): pipe, dev-null"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("set-uid/set-gid bits (2): su, wall"),
        "{warnings:?}"
    );
}

#[test]
fn an_image_over_the_quota_or_with_too_many_members_is_refused_and_the_previous_stays() {
    let home = Home::new();
    home.install(&good_image(b"v1")).unwrap();
    let big = vec![7u8; 4096];
    let tight = Limits {
        max_bytes: 4000,
        max_entries: 10_000,
        max_archive_bytes: 100 << 20,
        deadline: Deadline::NONE,
    };
    let refused = unpacked(install_unchecked(
        &home.dir(),
        &archive(&[Member::File("big", &big, 0o644)])[..],
        tight,
    ));
    assert!(
        matches!(
            refused,
            Err(ImageError::Unpack(UnpackError::TooLarge { limit: 4000 }))
        ),
        "{refused:?}"
    );
    let few = Limits {
        max_bytes: 1 << 20,
        max_entries: 2,
        max_archive_bytes: 100 << 20,
        deadline: Deadline::NONE,
    };
    let many = archive(&[Member::Dir("a/"), Member::Dir("b/"), Member::Dir("c/")]);
    let refused = unpacked(install_unchecked(&home.dir(), &many[..], few));
    assert!(
        matches!(
            refused,
            Err(ImageError::Unpack(UnpackError::TooManyEntries(2)))
        ),
        "{refused:?}"
    );
    assert_eq!(std::fs::read(home.image().join("marker")).unwrap(), b"v1");
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 6);
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 19).unwrap()
}

fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

type Compress = fn(&[u8]) -> Vec<u8>;

#[test]
fn xz_zstd_and_bzip2_images_install_whatever_their_name_says() {
    let home = Home::new();
    let made: [(Compress, ArchiveFormat); 5] = [
        (xz, ArchiveFormat::Xz),
        (zstd, ArchiveFormat::Zstd),
        (bzip2, ArchiveFormat::Bzip2),
        (gzip, ArchiveFormat::Gzip),
        (<[u8]>::to_vec, ArchiveFormat::Tar),
    ];
    for (compress, format) in made {
        let marker = format!("made with {format}");
        let done = home
            .install(&compress(&good_image(marker.as_bytes())))
            .unwrap();
        assert_eq!(done.format, format);
        assert_eq!(home.marker(), marker.as_bytes());
        assert!(
            std::fs::read_link(home.image().join("bin")).is_ok(),
            "{format}: the links too"
        );
        assert!(
            done.report
                .iter()
                .any(|l| l.message.starts_with(&format!("the archive ({format}): "))),
            "{:?}",
            done.report
        );
    }
}

#[test]
fn junk_or_a_compressed_stream_without_a_tar_is_refused_clearly_and_the_image_stays() {
    let home = Home::new();
    home.install(&good_image(b"v1")).unwrap();
    let text = b"this is not a tar archive at all, not even close.....".repeat(20);
    let refused = home.install(&text).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the file is not an image archive: it starts with 74 68 69 73 20 69 73 20 6e 6f 74 20 \
         61 20 74 61 (a tar archive, plain or compressed with gzip, xz, zstd or bzip2 is taken)"
    );
    assert!(matches!(
        refused,
        ImageError::Unpack(UnpackError::Format(_))
    ));
    for (compressed, format) in [
        (xz(&text), "xz"),
        (zstd(&text), "zstd"),
        (gzip(&text), "gzip"),
    ] {
        let refused = home.install(&compressed).unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "the {format} stream holds no tar archive: what it holds starts with 74 68 69 73 \
                 20 69 73 20 6e 6f 74 20 61 20 74 61"
            )
        );
    }
    let empty = home.install(&bzip2(b"")).unwrap_err();
    assert_eq!(
        empty.to_string(),
        "the bzip2 stream holds no tar archive: what it holds is empty"
    );
    let cut = xz(&good_image(b"v2"));
    let broken = home.install(&cut[..cut.len() / 2]).unwrap_err();
    assert!(
        matches!(broken, ImageError::Unpack(UnpackError::Corrupt(_))),
        "{broken:?}"
    );
    assert_eq!(home.marker(), b"v1");
    assert!(home.nothing_staged());
}

#[test]
fn a_new_image_swaps_in_and_rollback_brings_the_previous_back_and_forth() {
    let home = Home::new();
    home.install(&good_image(b"v1")).unwrap();
    home.install(&good_image(b"v2")).unwrap();
    let marker = || std::fs::read(home.image().join("marker")).unwrap();
    assert_eq!(marker(), b"v2");
    assert_eq!(
        std::fs::read(home.path().join("previous/30007/img/marker")).unwrap(),
        b"v1"
    );
    rollback(&home.dir(), &path()).unwrap();
    assert_eq!(marker(), b"v1");
    rollback(&home.dir(), &path()).unwrap();
    assert_eq!(marker(), b"v2");
    let other = DistroPath::parse("never-installed").unwrap();
    assert!(matches!(
        rollback(&home.dir(), &other),
        Err(ImageError::NoPrevious)
    ));
}

#[test]
fn the_check_finds_what_the_platforms_checklist_names() {
    let home = Home::new();
    home.install(&good_image(b"v1")).unwrap();
    let image = Dir::open_ambient_dir(home.image(), ambient_authority()).unwrap();
    let facts = CheckFacts {
        mapped_uids: vec![30001],
        homes_with_uwsgi: vec![30001],
        ..Default::default()
    };
    let report = check(&image, &facts).unwrap();
    assert!(
        report.iter().all(|l| l.level == Level::Info),
        "a good image: {report:?}"
    );

    std::fs::remove_dir(home.image().join(".old_root")).unwrap();
    std::fs::create_dir(home.image().join("tmp")).unwrap();
    std::fs::set_permissions(
        home.image().join("tmp"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    std::fs::write(home.image().join("etc/rc.local"), b"#!/bin/sh").unwrap();
    let facts = CheckFacts {
        mapped_uids: vec![30001, 30002],
        homes_with_uwsgi: vec![30001],
        ..Default::default()
    };
    let report = check(&image, &facts).unwrap();
    let said = |level: Level, text: &str| {
        report
            .iter()
            .any(|l| l.level == level && l.message.contains(text))
    };
    assert!(said(Level::Error, "/.old_root is missing"), "{report:?}");
    assert!(said(Level::Warning, "no entry for uid 30002"), "{report:?}");
    assert!(!said(Level::Warning, "30001,"), "{report:?}");
    assert!(
        said(
            Level::Warning,
            "no uwsgi binary where the Emperor looks for uid 30002 ("
        ),
        "only the home without one is named: {report:?}"
    );
    assert!(
        said(Level::Info, "/etc/rc.local of the image is ignored"),
        "{report:?}"
    );
    assert!(
        said(Level::Warning, "world-writable directories (1): /tmp"),
        "{report:?}"
    );
}

#[test]
fn the_busybox_sample_image_installs_and_passes_the_check() {
    let home = Home::new();
    let tarball = distropanel::host::sample_image::busybox_rootfs(
        Path::new(distropanel::host::sample_image::BUSYBOX),
        &[("web", 30001)],
    )
    .unwrap();
    let done = home.install(&tarball).unwrap();
    assert!(
        done.bytes > 500_000,
        "the busybox binary is in: {}",
        done.bytes
    );
    assert!(std::fs::read_link(home.image().join("bin/sh")).unwrap() == Path::new("busybox"));
    let image = Dir::open_ambient_dir(home.image(), ambient_authority()).unwrap();
    let report = check(
        &image,
        &CheckFacts {
            mapped_uids: vec![30001],
            homes_with_uwsgi: vec![30001],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(report.iter().all(|l| l.level == Level::Info), "{report:?}");
    // the image really runs: its shell answers from inside (as a chroot would run it)
    let out = std::process::Command::new(home.image().join("bin/busybox"))
        .args(["sh", "-c", "echo alive"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alive\n");
}
