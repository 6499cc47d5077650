//! Group commit for directory syncs: jobs renaming files into one directory at the same time
//! share one `fsync` of it. A caller returns once a sync that started after it asked has
//! finished, so its own rename is durable; whoever finds no sync running starts the next one
//! for everyone waiting.

use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

#[derive(Debug, Default)]
pub struct GroupSync {
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out so far.
    asked: u64,
    /// Every ticket up to this one is durable.
    synced: u64,
    running: bool,
}

impl GroupSync {
    /// Returns once `sync` (the directory's fsync) has run, whole, after this call began.
    pub fn sync(&self, sync: impl Fn() -> io::Result<()>) -> io::Result<()> {
        let mut state = self.lock();
        state.asked += 1;
        let ticket = state.asked;
        loop {
            if state.synced >= ticket {
                return Ok(());
            }
            if state.running {
                state = self
                    .finished
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.running = true;
            // every ticket asked before this sync starts is covered by it
            let covers = state.asked;
            drop(state);
            let result = sync();
            state = self.lock();
            state.running = false;
            if result.is_ok() {
                state.synced = state.synced.max(covers);
            }
            self.finished.notify_all();
            // the others waiting try again themselves
            result?;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    #[test]
    fn callers_at_the_same_time_share_syncs_and_each_waits_for_one_started_after_it() {
        let group = Arc::new(GroupSync::default());
        let started = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicU64::new(0));
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (group, started, finished) = (group.clone(), started.clone(), finished.clone());
                std::thread::spawn(move || {
                    let before = finished.load(Ordering::SeqCst);
                    let began_before = started.load(Ordering::SeqCst);
                    group
                        .sync(|| {
                            started.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(30));
                            finished.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                    // a sync that began after this caller asked has finished since
                    assert!(finished.load(Ordering::SeqCst) > before.max(began_before));
                })
            })
            .collect();
        for caller in callers {
            caller.join().unwrap();
        }
        let syncs = started.load(Ordering::SeqCst);
        assert!((1..8).contains(&syncs), "8 callers shared {syncs} syncs");
    }

    #[test]
    fn a_failed_sync_fails_its_caller_and_the_next_caller_syncs_again() {
        let group = GroupSync::default();
        let failed = group.sync(|| Err(io::Error::other("disk gone")));
        assert!(failed.is_err());
        let calls = AtomicU64::new(0);
        group
            .sync(|| {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
