//! What a pool knows about its database: up, or known to be down. After the first failure to get
//! a connection, [`crate::db::run`] answers at once instead of waiting for the pool's timeout,
//! until a probe (one per outage, every [`PROBE_EVERY`]) reaches the database again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::PgPool;

/// How often the probe tries the database while it is down.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Shared by every clone of one pool.
#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
}

impl Health {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}

/// Marks the database down and, unless a probe already runs for this outage, starts one on the
/// current runtime.
pub(super) fn lost(pool: &PgPool) {
    if pool.health.down.swap(true, Ordering::AcqRel) {
        return;
    }
    tracing::warn!("the database is unreachable; answering at once until it is back");
    let pool = pool.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            if super::answers(&pool, PROBE_EVERY).await {
                pool.health.down.store(false, Ordering::Release);
                tracing::info!("the database is reachable again");
                return;
            }
        }
    });
}
