//! What staff change on customers' behalf: deleting any alarm, retrying or cancelling a job,
//! signing a login out everywhere. Each change writes its audit entry in its transaction.

use diesel::Connection;

use crate::auth::guard::Staff;
use crate::db::queries::jobs::{self, StaffRefusal};
use crate::db::queries::staff_jobs::{self, BulkSet, StaffJobFilter};
use crate::db::queries::{events, sessions, staff_views, users};
use crate::db::{self, PgPool};
use crate::domain::ids::{AlarmId, JobId, UserId};
use crate::error::Error;

/// Deletes any alarm, a platform (level 0) one too; its entry names the container by uid,
/// counted from `base_uid`.
#[tracing::instrument(skip_all, fields(staff = %staff.session.username, alarm = id.0))]
pub async fn delete_alarm(
    pool: &PgPool,
    base_uid: u32,
    staff: Staff,
    id: AlarmId,
) -> Result<(), Error> {
    let base_uid = i64::from(base_uid);
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let alarm = staff_views::delete_alarm(conn, id)?.ok_or(Error::NotFound)?;
            let target = format!(
                "alarm {} of container {}",
                alarm.id,
                base_uid + i64::from(alarm.container_id.0)
            );
            let msg: String = alarm.msg.chars().take(200).collect();
            let detail = format!("level {}: {msg}", alarm.level);
            let entry = staff.audit(
                Some(alarm.customer_id),
                Some(alarm.container_id),
                "delete alarm",
                &target,
                &detail,
            );
            events::insert(conn, &entry)?;
            Ok(())
        })
    })
    .await
}

/// What staff do to a job.
#[derive(Debug, Clone, Copy)]
pub enum JobAction {
    /// A failed or cancelled job runs again from its first attempt.
    Retry,
    /// A job that has not started never will.
    Cancel,
}

impl JobAction {
    fn audited_as(self) -> &'static str {
        match self {
            JobAction::Retry => "retry job",
            JobAction::Cancel => "cancel job",
        }
    }
}

/// Retries or cancels a job. A job in the wrong state, or one a waiting duplicate would
/// repeat, is an [`Error::Conflict`] saying so.
#[tracing::instrument(skip_all, fields(staff = %staff.session.username, job = id.0, action = ?action))]
pub async fn act_on_job(
    pool: &PgPool,
    staff: Staff,
    id: JobId,
    action: JobAction,
) -> Result<(), Error> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| act_on_one(conn, &staff, id, action))
    })
    .await
}

/// Retries or cancels one job and writes its audit entry, in the caller's transaction. A job
/// that failed permanently (a refusal such as a missing file or a failed check) is not
/// retried: it would fail the same way.
fn act_on_one(
    conn: &mut diesel::PgConnection,
    staff: &Staff,
    id: JobId,
    action: JobAction,
) -> Result<(), Error> {
    if let JobAction::Retry = action
        && let Some((state, true)) = staff_jobs::failure_permanent(conn, id)?
        && state == "failed"
    {
        return Err(Error::Conflict(format!(
            "Job {id} failed permanently: it would fail the same way again. Fix what its \
             error names, then start the work again."
        )));
    }
    let outcome = match action {
        JobAction::Retry => jobs::retry(conn, id)?,
        JobAction::Cancel => jobs::cancel(conn, id)?,
    };
    let job = outcome.map_err(|refusal| match refusal {
        StaffRefusal::NotFound(_) => Error::NotFound,
        other => Error::Conflict(format!("{other}.")),
    })?;
    let target = format!("job {} ({})", job.id, job.kind);
    let entry = staff.audit(
        job.customer_id,
        job.container_id,
        action.audited_as(),
        &target,
        "",
    );
    events::insert(conn, &entry)?;
    Ok(())
}

/// The most jobs one bulk action takes.
pub const BULK_LIMIT: i64 = 1000;

/// What a bulk action did: jobs acted on, and jobs it left with the reason.
#[derive(Debug, Clone, Default)]
pub struct BulkOutcome {
    pub done: usize,
    pub skipped: Vec<String>,
}

/// Retries (the transient failures and cancelled jobs) or cancels (the jobs not started) the
/// jobs `filter` selects, at most [`BULK_LIMIT`], each audited. A job another change got to
/// first is skipped with its reason; the others are acted on all the same.
#[tracing::instrument(skip_all, fields(staff = %staff.session.username, action = ?action))]
pub async fn act_on_jobs(
    pool: &PgPool,
    staff: Staff,
    filter: StaffJobFilter,
    action: JobAction,
) -> Result<BulkOutcome, Error> {
    let set = match action {
        JobAction::Retry => BulkSet::Retryable,
        JobAction::Cancel => BulkSet::Cancellable,
    };
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let ids = staff_jobs::bulk_ids(conn, &filter, set, BULK_LIMIT)?;
            let mut outcome = BulkOutcome::default();
            for id in ids {
                // each job in a savepoint: one refused leaves the others done
                match conn.transaction(|conn| act_on_one(conn, &staff, id, action)) {
                    Ok(()) => outcome.done += 1,
                    Err(Error::Conflict(why)) => outcome.skipped.push(why),
                    Err(Error::NotFound) => {}
                    Err(other) => return Err(other),
                }
            }
            Ok(outcome)
        })
    })
    .await
}

/// Signs a login out everywhere (a lost laptop, a colleague who left).
#[tracing::instrument(skip_all, fields(staff = %staff.session.username, user = id.0))]
pub async fn end_sessions(pool: &PgPool, staff: Staff, id: UserId) -> Result<(), Error> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            let user = users::find(conn, id)?.ok_or(Error::NotFound)?;
            let ended = sessions::end_all_for_user_except(conn, user.id, None)?;
            let detail = format!("{ended} session(s) ended");
            let entry = staff.audit(
                user.customer_id,
                None,
                "end sessions",
                &user.username,
                &detail,
            );
            events::insert(conn, &entry)?;
            Ok(())
        })
    })
    .await
}
