//! Installs one archive the way an install job does (unpack with the digest, then the image's
//! checklist), in a host root of its own, and prints how long it took and the process's peak
//! resident memory. `scripts/bench-unpack` drives it; it is not part of the product.
//!
//! Usage: bench_unpack <host root> <archive>

use std::time::Instant;

use distropanel::domain::ids::ContainerId;
use distropanel::domain::values::{DistroPath, Uid};
use distropanel::host::HostExecutor;
use distropanel::host::check::CheckFacts;
use distropanel::host::deadline::Deadline;
use distropanel::host::image::Gate;
use distropanel::host::local::LocalHost;
use distropanel::host::progress::Progress;
use distropanel::host::unpack::Limits;

/// Peak resident memory of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, host_root, archive] = &args[..] else {
        anyhow::bail!("usage: bench_unpack <host root> <archive>");
    };
    let host_root = std::path::Path::new(host_root);
    let host = LocalHost::open(host_root, &host_root.join("vassals"))?;
    let storage = Uid::of(30000, ContainerId(1));
    let path = DistroPath::parse("bench")?;
    host.ensure_storage_dir(storage)?;
    let limits = Limits {
        max_bytes: u64::MAX / 2,
        max_entries: 10_000_000,
        max_archive_bytes: u64::MAX / 2,
        deadline: Deadline::NONE,
    };
    let mut file = std::fs::File::open(archive)?;
    let started = Instant::now();
    // the job's path: unpack, digest, then the check on the staged tree before the swap
    let progress = Progress::none();
    let gate = Gate {
        facts: &CheckFacts::default(),
        force: true,
        progress: &progress,
    };
    let installed = host.install_image(storage, &path, &mut file, None, limits, &gate)?;
    let checked = started.elapsed();
    let unpacked = &installed.unpacked;
    let errors = installed
        .report
        .iter()
        .filter(|line| line.level == distropanel::host::report::Level::Error)
        .count();
    println!(
        "entries={} bytes={} format={} install_s={:.3} check_errors={errors} peak_rss_kib={}",
        unpacked.entries,
        unpacked.bytes,
        unpacked.format,
        checked.as_secs_f64(),
        peak_rss_kib()
    );
    Ok(())
}
