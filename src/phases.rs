//! Where the time of restart batches goes, phase by phase: thread time summed since the
//! process started (or since [`reset`]), with how often each phase ran. A few clock reads per
//! restart; `scripts/bench-restarts` prints the breakdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The claim statement.
    Claim,
    /// Reading the containers of a batch.
    Facts,
    /// Laying out homes.
    Home,
    /// Staging key files.
    Keys,
    /// Deciding what boots (image checks, alarms).
    Boot,
    /// Rendering and staging vassals.
    Vassal,
    /// Appending to the emperor logs.
    Log,
    /// Syncing the staged files' data.
    SyncFiles,
    /// Renaming staged files into place.
    Rename,
    /// Syncing the directories renamed into.
    SyncDirs,
    /// Marking a batch done.
    Finish,
    /// A whole batch, claim excluded.
    Batch,
}

pub const ALL: [Phase; 12] = [
    Phase::Claim,
    Phase::Facts,
    Phase::Home,
    Phase::Keys,
    Phase::Boot,
    Phase::Vassal,
    Phase::Log,
    Phase::SyncFiles,
    Phase::Rename,
    Phase::SyncDirs,
    Phase::Finish,
    Phase::Batch,
];

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Claim => "claim",
            Phase::Facts => "facts",
            Phase::Home => "home",
            Phase::Keys => "keys",
            Phase::Boot => "boot",
            Phase::Vassal => "vassal",
            Phase::Log => "log",
            Phase::SyncFiles => "sync files",
            Phase::Rename => "rename",
            Phase::SyncDirs => "sync dirs",
            Phase::Finish => "finish",
            Phase::Batch => "batch",
        }
    }
}

static NANOS: [AtomicU64; ALL.len()] = [const { AtomicU64::new(0) }; ALL.len()];
static COUNTS: [AtomicU64; ALL.len()] = [const { AtomicU64::new(0) }; ALL.len()];

/// Adds the time since `started` to `phase`.
pub fn add(phase: Phase, started: Instant) {
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    NANOS[phase as usize].fetch_add(nanos, Ordering::Relaxed);
    COUNTS[phase as usize].fetch_add(1, Ordering::Relaxed);
}

/// Runs `work`, its time added to `phase`.
pub fn time<T>(phase: Phase, work: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = work();
    add(phase, started);
    result
}

/// Each phase's summed time and how often it ran.
pub fn totals() -> Vec<(Phase, Duration, u64)> {
    ALL.iter()
        .map(|&phase| {
            let nanos = NANOS[phase as usize].load(Ordering::Relaxed);
            let count = COUNTS[phase as usize].load(Ordering::Relaxed);
            (phase, Duration::from_nanos(nanos), count)
        })
        .collect()
}

pub fn reset() {
    for (nanos, count) in NANOS.iter().zip(&COUNTS) {
        nanos.store(0, Ordering::Relaxed);
        count.store(0, Ordering::Relaxed);
    }
}

/// `phase total-ms (count)` for every phase that ran, on one line.
pub fn summary() -> String {
    totals()
        .into_iter()
        .filter(|(_, _, count)| *count > 0)
        .map(|(phase, took, count)| {
            format!(
                "{} {:.1} ms ({count})",
                phase.name(),
                took.as_secs_f64() * 1000.0
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
