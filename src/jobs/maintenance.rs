//! Housekeeping every web node does now and then: dropping image uploads no job will read,
//! finished jobs older than the retention (their steps stay in the operation log), and audit
//! entries older than theirs, and folding each customer's list changes into one row.

use std::time::Duration;

use crate::db::queries::{audit, image_uploads, jobs, list_changes};
use crate::db::{self, PgPool};
use crate::error::Error;

/// How long an upload no job is reading is kept: long enough for staff to retry its job.
const UPLOADS_KEPT: Duration = Duration::from_secs(3600);
/// Finished jobs deleted per statement, so pruning never holds many locks at once.
const PRUNE_BATCH: i64 = 5_000;
const EVERY: Duration = Duration::from_secs(600);

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub uploads: usize,
    pub jobs: usize,
    pub audit: usize,
    /// How many rows fewer `list_changes` has after folding.
    pub list_changes: usize,
}

/// One sweep; `retention` of `None` keeps finished jobs forever.
pub async fn sweep(pool: &PgPool, retention: Option<Duration>) -> Result<Swept, Error> {
    let uploads = db::run(pool, |conn| {
        image_uploads::sweep(conn, UPLOADS_KEPT).map_err(Error::from)
    })
    .await?;
    let mut pruned = 0;
    if let Some(retention) = retention {
        let before = chrono::Utc::now()
            - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        loop {
            let n = db::run(pool, move |conn| {
                jobs::prune_finished(conn, before, PRUNE_BATCH).map_err(Error::from)
            })
            .await?;
            pruned += n;
            if n < PRUNE_BATCH as usize {
                break;
            }
        }
    }
    let list_changes = db::run(pool, |conn| list_changes::fold(conn).map_err(Error::from)).await?;
    Ok(Swept {
        uploads,
        jobs: pruned,
        audit: 0,
        list_changes,
    })
}

/// Deletes the audit entries older than `retention`, a batch at a time; how many it deleted.
pub async fn prune_audit(pool: &PgPool, retention: Duration) -> Result<usize, Error> {
    let before =
        chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let mut pruned = 0;
    loop {
        let n = db::run(pool, move |conn| {
            audit::prune(conn, before, PRUNE_BATCH).map_err(Error::from)
        })
        .await?;
        pruned += n;
        if n < PRUNE_BATCH as usize {
            return Ok(pruned);
        }
    }
}

/// Sweeps every ten minutes until the task is dropped; `audit_retention` of `None` keeps
/// audit entries forever.
pub async fn sweep_forever(
    pool: PgPool,
    retention: Option<Duration>,
    audit_retention: Option<Duration>,
) {
    let mut every = tokio::time::interval(EVERY);
    loop {
        every.tick().await;
        let swept = match (sweep(&pool, retention).await, audit_retention) {
            (Ok(swept), Some(kept)) => prune_audit(&pool, kept)
                .await
                .map(|audit| Swept { audit, ..swept }),
            (result, _) => result,
        };
        match swept {
            Ok(Swept {
                uploads: 0,
                jobs: 0,
                audit: 0,
                list_changes: _,
            }) => {}
            Ok(swept) => tracing::info!(
                uploads = swept.uploads,
                jobs = swept.jobs,
                audit = swept.audit,
                list_changes = swept.list_changes,
                "dropped abandoned image uploads, old finished jobs and old audit entries, and \
                 folded list changes"
            ),
            Err(error) => tracing::warn!(?error, "the maintenance sweep failed"),
        }
    }
}
