//! Archives and images built to hang or exhaust the host: header bombs, fifos where the check
//! reads, trees wider and deeper than any descriptor budget, and work that runs past its deadline.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use distropanel::config::JobDeadlines;
use distropanel::db::queries::jobs::ServerScope;
use distropanel::host::check::{CheckError, CheckFacts, check};
use distropanel::host::deadline::Deadline;
use distropanel::host::image::ImageError;
use distropanel::host::report::{Level, ReportLine};
use distropanel::host::unpack::{Limits, UnpackError};
use distropanel::jobs::worker::local_worker;
use serde_json::{Value, json};

use crate::api_client::World;
use crate::helpers::TestApp;
use crate::host_fixtures::mkfifo;
use crate::images::{Home, Member, archive};

const CHILD: &str = "DISTROPANEL_TEST_CHILD";

/// Runs the test `name` of this binary alone, in a process of its own (so its peak memory and
/// its descriptor limit are its own), and returns what it printed.
fn in_a_process_of_its_own(name: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn is_the_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// `key=value` printed by a child.
fn printed(out: &str, key: &str) -> u64 {
    let key = format!("{key}=");
    out.split_whitespace()
        .find_map(|word| word.strip_prefix(&key))
        .unwrap_or_else(|| panic!("{key} not printed:\n{out}"))
        .trim()
        .parse()
        .unwrap()
}

/// Peak resident memory of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A 512-byte tar header of `kind` claiming `size` bytes of data.
fn header(name: &str, kind: tar::EntryType, size: u64) -> [u8; 512] {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(size);
    header.set_cksum();
    *header.as_bytes()
}

/// A gzip archive of a few hundred KiB holding one GNU long-name header of `claimed` bytes, its
/// zeros as data, and a file it would name. Gzip members one after another are one stream to
/// the reader, so the zeros are compressed once and repeated.
fn long_name_bomb(claimed: u64) -> Vec<u8> {
    const MIB: usize = 1 << 20;
    assert_eq!(claimed % MIB as u64, 0);
    let mut out = gzip(&header(
        "././@LongLink",
        tar::EntryType::GNULongName,
        claimed,
    ));
    let zeros = gzip(&vec![0u8; MIB]);
    for _ in 0..claimed / MIB as u64 {
        out.extend_from_slice(&zeros);
    }
    let mut tail = header("victim", tar::EntryType::Regular, 0).to_vec();
    tail.extend_from_slice(&[0; 1024]);
    out.extend_from_slice(&gzip(&tail));
    out
}

fn roomy() -> Limits {
    Limits {
        max_bytes: 1 << 30,
        max_entries: 10_000,
        max_archive_bytes: 64 << 20,
        deadline: Deadline::NONE,
    }
}

fn image_with_marker(marker: &[u8]) -> Vec<u8> {
    archive(&[
        Member::Dir(".old_root/"),
        Member::Dir("containers/"),
        Member::Dir("etc/"),
        Member::File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644),
        Member::File("marker", marker, 0o644),
    ])
}

/// A deadline that passed a minute ago: `limit` long, begun a minute more than that ago.
fn passed(limit: Duration, work: &'static str) -> Deadline {
    Deadline::since(
        Instant::now() - limit - Duration::from_secs(60),
        limit,
        work,
    )
}

/// Runs `work` on a thread of its own and waits for it at most `limit`: a regression that
/// blocks fails the test instead of hanging it.
fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    result
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}: it blocked"))
}

fn said(report: &[ReportLine], level: Level, text: &str) -> bool {
    report
        .iter()
        .any(|line| line.level == level && line.message.contains(text))
}

#[test]
#[ignore = "run by a_long_name_header_bomb_is_refused_at_its_header in a process of its own"]
fn unpack_a_long_name_header_bomb() {
    if !is_the_child() {
        return;
    }
    let bomb = long_name_bomb(512 << 20);
    println!("archive_bytes={}", bomb.len());
    let home = Home::new();
    let before = peak_rss_kib();
    let started = std::time::Instant::now();
    let refused = home.install_with(&bomb[..], roomy()).unwrap_err();
    println!("millis={}", started.elapsed().as_millis());
    println!("peak_before_kib={before}");
    println!("peak_after_kib={}", peak_rss_kib());
    println!("refusal={refused}");
}

#[test]
fn a_long_name_header_bomb_is_refused_at_its_header() {
    let out = in_a_process_of_its_own("host_hostile_archives::unpack_a_long_name_header_bomb");
    println!("{out}");
    assert!(printed(&out, "archive_bytes") < 1 << 20, "a small upload");
    let grown = printed(&out, "peak_after_kib") - printed(&out, "peak_before_kib");
    assert!(grown < 32 << 10, "the peak grew by {grown} KiB:\n{out}");
    assert!(
        out.contains("refusal=the archive was refused: a GNU long name header of 536870912 bytes"),
        "{out}"
    );
}

/// A tar header whose data is `data`, followed by it, padded to a block.
fn member(name: &str, kind: tar::EntryType, data: &[u8]) -> Vec<u8> {
    let mut out = header(name, kind, data.len() as u64).to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512), 0);
    out
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len();
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

#[test]
fn extension_headers_over_64_kib_are_refused_and_the_installed_image_stays() {
    let home = Home::new();
    home.install_with(&image_with_marker(b"v1")[..], roomy())
        .unwrap();
    let big = vec![b'a'; 64 * 1024 + 1];
    for (kind, what) in [
        (tar::EntryType::GNULongName, "a GNU long name header"),
        (tar::EntryType::GNULongLink, "a GNU long link header"),
        (tar::EntryType::XHeader, "a PAX header"),
        (tar::EntryType::XGlobalHeader, "a PAX global header"),
    ] {
        let mut bomb = member("././@LongLink", kind, &big);
        bomb.extend(member("victim", tar::EntryType::Regular, b"x"));
        bomb.extend_from_slice(&[0; 1024]);
        let refused = home.install_with(&gzip(&bomb)[..], roomy()).unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!("the archive was refused: {what} of 65537 bytes (at most 65536 are taken)")
        );
        assert_eq!(home.marker(), b"v1");
        assert!(home.nothing_staged());
    }
}

#[test]
fn member_names_and_link_targets_over_4096_bytes_are_refused() {
    let home = Home::new();
    home.install_with(&image_with_marker(b"v1")[..], roomy())
        .unwrap();
    let long = format!("{}/file", "d".repeat(5000));
    let mut by_gnu = member(
        "././@LongLink",
        tar::EntryType::GNULongName,
        format!("{long}\0").as_bytes(),
    );
    by_gnu.extend(member("short", tar::EntryType::Regular, b"x"));
    let mut by_pax = member(
        "PaxHeaders/x",
        tar::EntryType::XHeader,
        &pax_record("path", &long),
    );
    by_pax.extend(member("short", tar::EntryType::Regular, b"x"));
    let mut link = member(
        "././@LongLink",
        tar::EntryType::GNULongLink,
        format!("{long}\0").as_bytes(),
    );
    link.extend(member("link", tar::EntryType::Symlink, b""));
    for (archive, what) in [(by_gnu, "name"), (by_pax, "name"), (link, "link target")] {
        let mut archive = archive;
        archive.extend_from_slice(&[0; 1024]);
        let refused = home
            .install_with(&archive[..], roomy())
            .unwrap_err()
            .to_string();
        assert!(
            refused.starts_with(&format!(
                "the archive was refused: a member's {what} is 5005 bytes long (at most 4096 are taken): 'ddd"
            )),
            "{refused}"
        );
        assert_eq!(home.marker(), b"v1");
        assert!(home.nothing_staged());
    }
}

#[test]
fn an_unpack_past_its_deadline_stops_with_the_reason_and_the_installed_image_stays() {
    let home = Home::new();
    home.install_with(&image_with_marker(b"v1")[..], roomy())
        .unwrap();
    let late = Limits {
        deadline: passed(Duration::from_secs(1800), "unpack"),
        ..roomy()
    };
    let refused = home
        .install_with(&image_with_marker(b"v2")[..], late)
        .unwrap_err();
    assert!(
        matches!(refused, ImageError::Unpack(UnpackError::PastDeadline(_))),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "the unpack ran past its 30 min deadline"
    );
    assert_eq!(home.marker(), b"v1");
    assert!(home.nothing_staged());
}

/// An archive that comes a block at a time, slowly, as a server dripping bytes sends it.
struct Dripping {
    archive: Vec<u8>,
    at: usize,
}

impl Read for Dripping {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(20));
        let n = buf.len().min(512).min(self.archive.len() - self.at);
        buf[..n].copy_from_slice(&self.archive[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn a_dripping_archive_stops_at_the_deadline_mid_member() {
    let home = Home::new();
    home.install_with(&image_with_marker(b"v1")[..], roomy())
        .unwrap();
    let big = vec![7u8; 512 * 1024];
    let slow = Dripping {
        archive: image_with_marker(&big),
        at: 0,
    };
    let limits = Limits {
        deadline: Deadline::after(Duration::from_millis(300), "fetch"),
        ..roomy()
    };
    let started = Instant::now();
    let refused = home.install_with(slow, limits).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the fetch ran past its 300 ms deadline"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it stopped at once"
    );
    assert_eq!(home.marker(), b"v1");
    assert!(home.nothing_staged());
}

fn facts() -> CheckFacts {
    CheckFacts {
        mapped_uids: vec![30001],
        homes_with_uwsgi: vec![30001],
        deadline: Deadline::NONE,
    }
}

#[test]
fn a_check_past_its_deadline_stops_with_the_reason_and_leaves_the_image() {
    let home = Home::new();
    home.install_with(&image_with_marker(b"v1")[..], roomy())
        .unwrap();
    let image = Dir::open_ambient_dir(home.image(), ambient_authority()).unwrap();
    let late = CheckFacts {
        deadline: passed(Duration::from_secs(1800), "check"),
        ..facts()
    };
    let failed = check(&image, &late).unwrap_err();
    assert!(matches!(failed, CheckError::PastDeadline(_)), "{failed:?}");
    assert_eq!(failed.to_string(), "the check ran past its 30 min deadline");
    assert_eq!(home.marker(), b"v1");
    assert!(check(&image, &facts()).is_ok());
}

#[test]
fn a_customer_plants_fifos_where_the_check_reads_and_the_check_does_not_hang() {
    let home = Home::new();
    home.install_with(&image_with_marker(b"v1")[..], roomy())
        .unwrap();
    let etc = home.image().join("etc");
    std::fs::remove_file(etc.join("passwd")).unwrap();
    mkfifo(&etc.join("passwd"));
    mkfifo(&etc.join("nsswitch.conf"));
    mkfifo(&home.image().join("pipe-in-the-tree"));
    let image = Dir::open_ambient_dir(home.image(), ambient_authority()).unwrap();
    let report = within(Duration::from_secs(20), move || {
        check(&image, &facts()).unwrap()
    });
    for file in ["passwd", "nsswitch.conf"] {
        assert!(
            said(
                &report,
                Level::Warning,
                &format!(
                    "/etc/{file} is not a regular file (a directory, a fifo, a device or a socket); it was not read"
                )
            ),
            "{report:?}"
        );
    }
    assert!(
        said(&report, Level::Warning, "no entry for uid 30001"),
        "{report:?}"
    );

    // a link to a fifo is not followed either
    let outside = home.path().join("outside-fifo");
    mkfifo(&outside);
    std::fs::remove_file(etc.join("passwd")).unwrap();
    std::os::unix::fs::symlink(&outside, etc.join("passwd")).unwrap();
    let image = Dir::open_ambient_dir(home.image(), ambient_authority()).unwrap();
    let report = within(Duration::from_secs(20), move || {
        check(&image, &facts()).unwrap()
    });
    assert!(
        said(
            &report,
            Level::Warning,
            "/etc/passwd is a symbolic link; it was not followed, nor read"
        ),
        "{report:?}"
    );
}

/// 5,000 sibling directories with a byte each, and a chain 200 directories deep.
fn wide_and_deep_image(root: &Path) {
    for dir in [".old_root", "containers"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for i in 0..5000 {
        let dir = root.join(format!("wide/{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f"), b"x").unwrap();
    }
    let deep: PathBuf = std::iter::once("deep")
        .chain(std::iter::repeat_n("d", 199))
        .collect();
    std::fs::create_dir_all(root.join(&deep)).unwrap();
    std::fs::write(root.join(&deep).join("f"), b"unseen").unwrap();
}

#[test]
#[ignore = "run by a_wide_and_deep_tree_is_checked_with_a_bounded_number_of_descriptors"]
fn check_a_wide_and_deep_tree_with_100_descriptors() {
    if !is_the_child() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    wide_and_deep_image(root.path());
    let image = Dir::open_ambient_dir(root.path(), ambient_authority()).unwrap();
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: Some(100),
            maximum: limit.maximum,
        },
    )
    .unwrap();
    let report = check(&image, &facts()).unwrap();
    for line in &report {
        println!(
            "{:?}: {}",
            line.level,
            &line.message[..line.message.len().min(120)]
        );
    }
    assert!(
        said(&report, Level::Info, "the image holds 5000 bytes of files"),
        "every sibling was walked"
    );
    let deepest_walked = format!("/deep{}", "/d".repeat(63));
    assert!(
        said(
            &report,
            Level::Warning,
            &format!(
                "directories nested deeper than 64 levels, not looked into (1): {deepest_walked}"
            )
        ),
        "the chain was walked 64 levels deep and reported below"
    );
    println!(
        "open_after={}",
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    );
}

#[test]
fn a_wide_and_deep_tree_is_checked_with_a_bounded_number_of_descriptors() {
    let out = in_a_process_of_its_own(
        "host_hostile_archives::check_a_wide_and_deep_tree_with_100_descriptors",
    );
    assert!(printed(&out, "open_after") < 16, "{out}");
}

async fn drain_with(app: &TestApp, deadlines: JobDeadlines) {
    let mut config = crate::host_fixtures::config(app);
    config.jobs.deadlines = deadlines;
    let worker = local_worker(&config, ServerScope::All).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), worker.drain())
        .await
        .expect("the jobs finish")
        .unwrap();
}

async fn job(w: &World, id: i64) -> Value {
    let answer = w.app.api("alice").get(&format!("/api/jobs/{id}")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_past_their_deadline_fail_for_good_with_the_reason_and_change_nothing() {
    let w = crate::api_client::world().await;
    let id = w.custom_distro("alice", &w.images, "tiny", "bb").await;
    let api = w.app.api("alice");
    let image = crate::host_fixtures::installed_image(&w.app, w.images.uid(), "bb");
    let put = |bytes: Vec<u8>| {
        let api = w.app.api("alice");
        async move {
            api.send(
                api.request(
                    reqwest::Method::PUT,
                    &format!("/api/custom_distro/{id}/image"),
                )
                .body(bytes),
            )
            .await
        }
    };
    let first = put(image_with_marker(b"v1")).await;
    assert_eq!(first.status, 202, "{first:?}");
    drain_with(&w.app, JobDeadlines::default()).await;
    assert_eq!(std::fs::read(image.join("marker")).unwrap(), b"v1");
    let before = api
        .get(&format!("/api/custom_distro/{id}/check"))
        .await
        .json;
    assert_eq!(before["image_state"], "ready", "{before}");

    let second = put(image_with_marker(b"v2")).await;
    let no_time = JobDeadlines {
        unpack: Duration::ZERO,
        check: Duration::ZERO,
        ..JobDeadlines::default()
    };
    drain_with(&w.app, no_time).await;
    let unpack = job(&w, second.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(
        (&unpack["state"], &unpack["attempts"]),
        (&json!("failed"), &json!(1)),
        "{unpack}"
    );
    assert!(
        unpack["error"]
            .as_str()
            .unwrap()
            .ends_with("/distros/bb: the unpack ran past its 0 ms deadline"),
        "{unpack}"
    );
    assert_eq!(std::fs::read(image.join("marker")).unwrap(), b"v1");
    let store = w.app.host_root.path().join("var/lib/distropanel");
    let storage = w.images.uid();
    assert!(!store.join(format!("staging/{storage}/bb")).exists());
    assert!(
        !store.join(format!("previous/{storage}/bb")).exists(),
        "nothing was swapped"
    );

    let queued = api
        .post(&format!("/api/custom_distro/{id}/check"), json!({}))
        .await;
    drain_with(&w.app, no_time).await;
    let checked = job(&w, queued.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(
        (&checked["state"], &checked["attempts"]),
        (&json!("failed"), &json!(1)),
        "{checked}"
    );
    assert!(
        checked["error"]
            .as_str()
            .unwrap()
            .ends_with("/distros/bb: the check ran past its 0 ms deadline"),
        "{checked}"
    );
    let after = api
        .get(&format!("/api/custom_distro/{id}/check"))
        .await
        .json;
    assert_eq!(after, before, "a check out of time records nothing");

    // with time enough, a fifo planted where the check reads is reported, not waited on
    mkfifo(&image.join("etc/nsswitch.conf"));
    let queued = api
        .post(&format!("/api/custom_distro/{id}/check"), json!({}))
        .await;
    drain_with(&w.app, JobDeadlines::default()).await;
    let checked = job(&w, queued.json["job"]["id"].as_i64().unwrap()).await;
    assert_eq!(checked["state"], "done", "{checked}");
    let after = api
        .get(&format!("/api/custom_distro/{id}/check"))
        .await
        .json;
    assert!(
        after["report"]
            .to_string()
            .contains("/etc/nsswitch.conf is not a regular file"),
        "{after}"
    );
}
