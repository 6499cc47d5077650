//! An install's progress, written into its job row (`jobs.progress`) on a connection taken for
//! that one statement from the worker's side pool (opened on demand, closed when idle), so an
//! unpack holds no connection while it runs; each write reads back whether the job's owner
//! asked it to stop.

use crate::db::PgPool;
use crate::db::queries::jobs;
use crate::domain::ids::JobId;
use crate::host::progress::{Done, ProgressSink};

/// How often at most an install writes its progress.
pub(super) const EVERY: std::time::Duration = std::time::Duration::from_millis(250);

pub(super) struct JobProgress<'a> {
    pub pool: &'a PgPool,
    pub job: JobId,
    pub worker: &'a str,
}

impl ProgressSink for JobProgress<'_> {
    fn report(&mut self, done: &Done) -> bool {
        let progress = serde_json::to_value(done).unwrap_or_default();
        let recorded = self
            .pool
            .get()
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                jobs::record_progress(&mut conn, self.job, self.worker, &progress)
                    .map_err(|e| e.to_string())
            });
        match recorded {
            Ok(go_on) => go_on,
            // the progress is not worth failing the install for; the outcome is written later
            Err(e) => {
                tracing::warn!(job = self.job.0, error = %e, "could not record the progress");
                true
            }
        }
    }
}
