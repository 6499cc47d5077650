//! Archives and images built to hang or exhaust the host: header bombs, fifos where the check
//! reads, trees wider and deeper than any descriptor budget, and work that runs past its deadline.

use std::io::Write;
use std::process::Command;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use distropanel::domain::values::DistroPath;
use distropanel::host::image::install;
use distropanel::host::unpack::Limits;

const CHILD: &str = "DISTROPANEL_TEST_CHILD";

/// Runs the test `name` of this binary alone, in a process of its own (so its peak memory and
/// its descriptor limit are its own), and returns what it printed.
fn in_a_process_of_its_own(name: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
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
    let mut out = gzip(&header("././@LongLink", tar::EntryType::GNULongName, claimed));
    let zeros = gzip(&vec![0u8; MIB]);
    for _ in 0..claimed / MIB as u64 {
        out.extend_from_slice(&zeros);
    }
    let mut tail = header("victim", tar::EntryType::Regular, 0).to_vec();
    tail.extend_from_slice(&[0; 1024]);
    out.extend_from_slice(&gzip(&tail));
    out
}

/// A storage container's home with its `distros/`, in a temporary directory.
struct Home {
    root: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("home/distros")).unwrap();
        Self { root }
    }
    fn dir(&self) -> Dir {
        Dir::open_ambient_dir(self.root.path().join("home"), ambient_authority()).unwrap()
    }
}

fn roomy() -> Limits {
    Limits {
        max_bytes: 1 << 30,
        max_entries: 10_000,
        max_archive_bytes: 64 << 20,
    }
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
    let refused = install(
        &home.dir(),
        &DistroPath::parse("img").unwrap(),
        &bomb[..],
        None,
        None,
        roomy(),
    )
    .unwrap_err();
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
