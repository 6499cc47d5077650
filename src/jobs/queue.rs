//! The queue as workers use it: claiming with a lease, renewing it, backing off, giving up.
//! The SQL is in `db::queries::jobs`, which also has what staff use (`list`, `retry`,
//! `cancel`; run them with `db::run` from a handler).

use std::time::Duration;

use crate::db::PgPool;
use crate::db::models::job::Job;
use crate::db::queries::jobs::{self, AfterFailure, ServerScope};
use crate::jobs::HANDLED_KINDS;

/// How long a claim holds a job, how often to look for work, how long to wait before retrying.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub scope: ServerScope,
    pub lease: Duration,
    pub poll: Duration,
    /// The first retry waits this long; each further one twice as long as the previous.
    pub backoff: Duration,
    /// Jobs run at once (of different containers).
    pub slots: usize,
}

/// Exponential backoff after the `attempts`-th failed attempt, capped at an hour.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    base.saturating_mul(1u32 << doublings)
        .min(Duration::from_secs(3600))
}

/// Claims up to `limit` jobs for `worker` (blocking).
pub fn claim(
    pool: &PgPool,
    worker: &str,
    settings: &QueueSettings,
    limit: usize,
) -> anyhow::Result<Vec<Job>> {
    let mut conn = pool.get()?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(jobs::claim(
        &mut conn,
        worker,
        &settings.scope,
        &HANDLED_KINDS,
        limit,
        settings.lease,
    )?)
}

/// Gives back claimed jobs the worker will not start (blocking).
pub fn release(
    pool: &PgPool,
    worker: &str,
    jobs: &[crate::domain::ids::JobId],
) -> anyhow::Result<usize> {
    Ok(jobs::release(&mut *pool.get()?, worker, jobs)?)
}

/// Keeps the worker's jobs from being taken over while it is alive (blocking).
pub fn extend_leases(pool: &PgPool, worker: &str, lease: Duration) -> anyhow::Result<usize> {
    Ok(jobs::extend_leases(&mut *pool.get()?, worker, lease)?)
}

/// Records a failed attempt (blocking).
pub fn fail_attempt(
    pool: &PgPool,
    job: &Job,
    worker: &str,
    error: &str,
    permanent: bool,
    base: Duration,
) -> anyhow::Result<AfterFailure> {
    let wait = backoff(base, job.attempts);
    Ok(jobs::fail_attempt(
        &mut *pool.get()?,
        job.id,
        worker,
        error,
        permanent,
        wait,
    )?)
}

/// Records an attempt its owner cancelled (blocking); false if another worker holds it.
pub fn cancel_attempt(pool: &PgPool, job: &Job, worker: &str, error: &str) -> anyhow::Result<bool> {
    Ok(jobs::cancel_attempt(
        &mut *pool.get()?,
        job.id,
        worker,
        error,
    )?)
}

/// A job as one JSON object, for the command line and staff views.
pub fn to_json(job: &Job) -> serde_json::Value {
    serde_json::json!({
        "id": job.id,
        "kind": job.kind,
        "container": job.container_id,
        "server": job.server_id,
        "state": job.state,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_after": job.run_after,
        "locked_by": job.locked_by,
        "locked_until": job.locked_until,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "payload": job.payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_an_hour() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 4), Duration::from_secs(40));
        assert_eq!(backoff(base, 30), Duration::from_secs(3600));
        assert_eq!(backoff(base, 0), Duration::from_secs(5));
    }
}
