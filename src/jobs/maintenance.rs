//! Housekeeping every web node does now and then: dropping image uploads no job will read,
//! and finished jobs older than the retention (their steps stay in the operation log).

use std::time::Duration;

use crate::db::queries::{image_uploads, jobs};
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
    Ok(Swept {
        uploads,
        jobs: pruned,
    })
}

/// Sweeps every ten minutes until the task is dropped.
pub async fn sweep_forever(pool: PgPool, retention: Option<Duration>) {
    let mut every = tokio::time::interval(EVERY);
    loop {
        every.tick().await;
        match sweep(&pool, retention).await {
            Ok(Swept {
                uploads: 0,
                jobs: 0,
            }) => {}
            Ok(swept) => tracing::info!(
                uploads = swept.uploads,
                jobs = swept.jobs,
                "dropped abandoned image uploads and old finished jobs"
            ),
            Err(error) => tracing::warn!(?error, "the maintenance sweep failed"),
        }
    }
}
