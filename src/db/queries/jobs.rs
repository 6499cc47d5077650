//! The job queue: the outbox rows state changes write, and how workers claim, extend, finish
//! and give up jobs. Every write by a worker is guarded by its lease (`locked_by`), so a worker
//! that lost its job to another (its lease expired) cannot overwrite what the other did.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Double, Integer, Jsonb, Nullable, Text, Timestamptz};

use crate::db::fixed;
use crate::db::models::job::{Job, JobKind, NewJob};
use crate::db::schema::jobs;
use crate::domain::ids::{ContainerId, CustomerId, JobId, ServerId};

/// Job states in which a job still has to run.
pub const PENDING: [&str; 2] = ["queued", "retrying"];

/// Adds a job to the outbox. Call it inside the transaction that makes the change needing it,
/// so the change and its job commit or vanish together.
///
/// A restart (or storage set-up) of a container that already has one waiting is not added
/// again: the waiting job is returned, and it will act on the state as it is when it runs.
pub fn enqueue(conn: &mut PgConnection, new: &NewJob) -> QueryResult<Job> {
    for _ in 0..3 {
        let inserted = diesel::insert_into(jobs::table)
            .values(new)
            .on_conflict_do_nothing()
            .returning(Job::as_returning())
            .get_result(conn)
            .optional()?;
        if let Some(job) = inserted {
            return Ok(job);
        }
        let waiting = jobs::table
            .filter(jobs::container_id.eq(new.container_id))
            .filter(jobs::kind.eq(new.kind))
            .filter(jobs::state.eq_any(PENDING))
            .select(Job::as_select())
            .first(conn)
            .optional()?;
        // None: the waiting job started between the two statements; insert again
        if let Some(job) = waiting {
            return Ok(job);
        }
    }
    // still colliding with a job this transaction cannot see: let PostgreSQL say so
    diesel::insert_into(jobs::table)
        .values(new)
        .returning(Job::as_returning())
        .get_result(conn)
}

pub fn find(conn: &mut PgConnection, id: JobId) -> QueryResult<Option<Job>> {
    jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .optional()
}

/// The channel a trigger notifies when a job becomes runnable (inserted, or queued again by
/// staff); the payload is the job's server.
pub const READY_CHANNEL: &str = "jobs_ready";

/// Subscribes the connection to [`READY_CHANNEL`].
pub fn listen(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query(format!("LISTEN {READY_CHANNEL}"))
        .execute(conn)
        .map(drop)
}

/// Takes the notifications the connection has received so far, without a round trip (libpq
/// reads what has arrived on its socket), and says whether one was about a server in `scope`.
pub fn take_ready(conn: &mut PgConnection, scope: &ServerScope) -> QueryResult<bool> {
    let mut ready = false;
    for notification in conn.notifications_iter() {
        let notification = notification?;
        if notification.channel != READY_CHANNEL {
            continue;
        }
        ready |= match scope {
            ServerScope::All => true,
            ServerScope::Only(ids) => notification
                .payload
                .parse()
                .map_or(true, |server| ids.contains(&ServerId(server))),
        };
    }
    Ok(ready)
}

/// Which servers' jobs a worker runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerScope {
    All,
    Only(Vec<ServerId>),
}

/// The statement [`claim`] runs: `$1` worker, `$2` lease seconds, `$3` servers (null: all),
/// `$4` kinds, `$5` limit. It returns the claimed rows whole, oldest first.
pub const CLAIM: &str = "WITH RECURSIVE heads (container_id, id) AS ( \
         (SELECT container_id, id FROM jobs \
          WHERE state IN ('queued', 'retrying', 'running') AND container_id IS NOT NULL \
          ORDER BY container_id, id LIMIT 1) \
         UNION ALL \
         SELECT next.container_id, next.id FROM heads h, LATERAL ( \
             SELECT container_id, id FROM jobs \
             WHERE state IN ('queued', 'retrying', 'running') \
               AND container_id > h.container_id \
             ORDER BY container_id, id LIMIT 1) next), \
     claimed AS ( \
     UPDATE jobs SET state = 'running', locked_by = $1, \
            locked_until = now() + make_interval(secs => $2), \
            attempts = attempts + 1, started_at = coalesce(started_at, now()) \
     WHERE id IN ( \
         SELECT j.id FROM jobs j \
         WHERE j.id = ANY (ARRAY (SELECT id FROM heads \
                        UNION ALL \
                        SELECT id FROM jobs \
                        WHERE state IN ('queued', 'retrying', 'running') \
                          AND container_id IS NULL)) \
           AND j.state IN ('queued', 'retrying', 'running') \
           AND ($3::int[] IS NULL OR j.server_id = ANY($3)) \
           AND j.kind = ANY($4) \
           AND ((j.state IN ('queued', 'retrying') AND j.run_after <= now()) \
                OR (j.state = 'running' AND j.locked_until < now())) \
         ORDER BY j.id \
         LIMIT $5 \
         FOR UPDATE SKIP LOCKED) \
     RETURNING jobs.*) \
     SELECT * FROM claimed ORDER BY id";

/// Takes up to `limit` runnable jobs for `worker`, oldest first, with a lease of `lease`.
///
/// Runnable: waiting and due, or running under an expired lease (its worker died). A job
/// waits while an earlier job of its container is unfinished, so one container's jobs run in
/// order while different containers' run in parallel. Only the first unfinished job of each
/// container can be runnable, so those are all the claim reads (walking the containers with
/// unfinished jobs through `jobs_container_pending_idx`, one index probe each): a container
/// with a long queue costs a claim no more than one with a single job. `SKIP LOCKED` lets
/// workers on several machines claim side by side without waiting for each other.
pub fn claim(
    conn: &mut PgConnection,
    worker: &str,
    scope: &ServerScope,
    kinds: &[JobKind],
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<Job>> {
    let servers: Option<Vec<i32>> = match scope {
        ServerScope::All => None,
        ServerScope::Only(ids) => Some(ids.iter().map(|s| s.0).collect()),
    };
    fixed::statement(CLAIM, |q| {
        q.bind::<Text, _>(worker)
            .bind::<Double, _>(lease.as_secs_f64())
            .bind::<Nullable<Array<Integer>>, _>(servers)
            .bind::<Array<Text>, _>(kinds)
            .bind::<BigInt, _>(limit)
    })
    .load(conn)
}

/// Extends the leases of the jobs `worker` is running. A job whose row its own attempt has
/// locked (waiting inside a transaction) is skipped rather than waited for: nobody can claim a
/// locked row anyway, and the worker loop must not stall.
pub fn extend_leases(conn: &mut PgConnection, worker: &str, lease: Duration) -> QueryResult<usize> {
    fixed::statement(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $2) \
         WHERE id IN (SELECT id FROM jobs WHERE locked_by = $1 AND state = 'running' \
                      FOR UPDATE SKIP LOCKED)",
        |q| {
            q.bind::<Text, _>(worker)
                .bind::<Double, _>(lease.as_secs_f64())
        },
    )
    .execute(conn)
}

/// Gives back jobs `worker` claimed but has not started: queued again (which notifies the
/// workers), their claim not counted as an attempt.
pub fn release(conn: &mut PgConnection, worker: &str, ids: &[JobId]) -> QueryResult<usize> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    fixed::statement(
        "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, \
                attempts = greatest(attempts - 1, 0) \
         WHERE id = ANY($2) AND locked_by = $1 AND state = 'running'",
        |q| q.bind::<Text, _>(worker).bind::<Array<BigInt>, _>(ids),
    )
    .execute(conn)
}

/// Whether `worker` still holds `job`; if so the row stays locked until the transaction ends
/// (so what the transaction records cannot race a new owner) and `steps` (a JSON array of
/// `{step, target, outcome, detail, at, ...}`) are appended to the job's report and written to
/// the operation log. One statement: a job's log costs no extra round trips.
pub fn hold_and_log(
    conn: &mut PgConnection,
    job: JobId,
    worker: &str,
    subject: Option<(CustomerId, ContainerId)>,
    steps: &serde_json::Value,
) -> QueryResult<bool> {
    let logged = Done {
        subject,
        steps,
        vassal_written_at: None,
    };
    update_and_log(conn, "", job, worker, &logged)
}

/// What a finished attempt records: its container, its last steps (a JSON array as
/// [`hold_and_log`] takes), and for a restart when its vassal was renamed into place.
pub struct Done<'a> {
    pub subject: Option<(CustomerId, ContainerId)>,
    pub steps: &'a serde_json::Value,
    pub vassal_written_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Marks the job done with its last steps, if `worker` still holds it; one statement.
pub fn finish_and_log(
    conn: &mut PgConnection,
    job: JobId,
    worker: &str,
    done: &Done,
) -> QueryResult<bool> {
    update_and_log(
        conn,
        ", state = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL, error = NULL",
        job,
        worker,
        done,
    )
}

fn update_and_log(
    conn: &mut PgConnection,
    also_set: &'static str,
    job: JobId,
    worker: &str,
    logged: &Done,
) -> QueryResult<bool> {
    let subject = logged.subject;
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let held: Held = diesel::sql_query(format!(
        "WITH held AS ( \
             UPDATE jobs SET report = report || $3::jsonb, \
                    vassal_written_at = coalesce($6, vassal_written_at) {also_set} \
             WHERE id = $1 AND locked_by = $2 AND state = 'running' \
             RETURNING id), \
         logged AS ( \
             INSERT INTO events (kind, actor, customer_id, container_id, job_id, action, target, \
                                 outcome, detail, at) \
             SELECT 'operation', $2, $4, $5, held.id, s.step, s.target, s.outcome, s.detail, s.at \
             FROM held, jsonb_to_recordset($3::jsonb) \
                  AS s(step text, target text, outcome text, detail text, at timestamptz) \
             RETURNING 1) \
         SELECT count(*) AS n FROM held"
    ))
    .bind::<BigInt, _>(job.0)
    .bind::<Text, _>(worker)
    .bind::<Jsonb, _>(logged.steps)
    .bind::<Nullable<Integer>, _>(subject.map(|(customer, _)| customer.0))
    .bind::<Nullable<Integer>, _>(subject.map(|(_, container)| container.0))
    .bind::<Nullable<Timestamptz>, _>(logged.vassal_written_at)
    .get_result(conn)?;
    Ok(held.n == 1)
}

/// What a restart records of its container before it writes the vassal: what the vassal boots
/// (`kind`, as `host_facts::record_boot` takes it) and why it falls back, if it does.
pub struct Boot<'a> {
    pub kind: &'a str,
    pub fallback_reason: Option<&'a str>,
}

/// [`hold_and_log`] and `host_facts::record_boot` of the job's container together, as one
/// statement (no transaction round trips): the container row is updated only if `worker` still
/// holds the job. `subject` is the job's container and its customer.
pub fn hold_log_and_record_boot(
    conn: &mut PgConnection,
    job: JobId,
    worker: &str,
    subject: (CustomerId, ContainerId),
    steps: &serde_json::Value,
    boot: &Boot,
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let held: Held = fixed::statement(
        "WITH held AS ( \
             UPDATE jobs SET report = report || $3::jsonb \
             WHERE id = $1 AND locked_by = $2 AND state = 'running' \
             RETURNING id), \
         logged AS ( \
             INSERT INTO events (kind, actor, customer_id, container_id, job_id, action, target, \
                                 outcome, detail, at) \
             SELECT 'operation', $2, $4, $5, held.id, s.step, s.target, s.outcome, s.detail, s.at \
             FROM held, jsonb_to_recordset($3::jsonb) \
                  AS s(step text, target text, outcome text, detail text, at timestamptz) \
             RETURNING 1), \
         booted AS ( \
             UPDATE containers SET fallback_reason = $7, restarted_at = now(), booted_kind = $6, \
                    booted_custom_distro_id = CASE WHEN $6 IN ('custom', 'fallback') \
                                                   THEN custom_distro_id END \
             WHERE id = $5 AND EXISTS (SELECT 1 FROM held) \
             RETURNING 1) \
         SELECT count(*) AS n FROM held",
        |q| {
            q.bind::<BigInt, _>(job.0)
                .bind::<Text, _>(worker)
                .bind::<Jsonb, _>(steps)
                .bind::<Integer, _>(subject.0.0)
                .bind::<Integer, _>(subject.1.0)
                .bind::<Text, _>(boot.kind)
                .bind::<Nullable<Text>, _>(boot.fallback_reason)
        },
    )
    .get_result(conn)?;
    Ok(held.n == 1)
}

/// One restart of a batch that [`finish_restarts`] marks done.
#[derive(Debug, serde::Serialize)]
pub struct FinishedRestart {
    pub id: JobId,
    /// The job's container and its customer, if the container still exists.
    pub customer_id: Option<CustomerId>,
    pub container_id: Option<ContainerId>,
    /// Its last steps, as [`hold_and_log`] takes them.
    pub steps: serde_json::Value,
    /// What the vassal boots, when its boot is recorded here (as `host_facts::record_boot`
    /// takes it), and why it falls back.
    pub boot_kind: Option<&'static str>,
    pub fallback_reason: Option<String>,
    pub vassal_written_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The statement [`finish_restarts`] runs: `$1` worker, `$2` the restarts as a JSON array of
/// [`FinishedRestart`]. The containers are locked in id order first, so two batches (or a
/// batch and a change to several containers) cannot deadlock. Each restart marked done comes
/// back with whether a job of its container waits behind it (the statement's snapshot still
/// sees the restart itself running, so it never counts as waiting).
pub const FINISH_RESTARTS: &str = "WITH input AS ( \
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS i(id bigint, customer_id int, \
             container_id int, steps jsonb, boot_kind text, fallback_reason text, \
             vassal_written_at timestamptz)), \
     held AS ( \
         UPDATE jobs j SET report = j.report || i.steps, \
                vassal_written_at = coalesce(i.vassal_written_at, j.vassal_written_at), \
                state = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL, \
                error = NULL \
         FROM input i \
         WHERE j.id = i.id AND j.locked_by = $1 AND j.state = 'running' \
         RETURNING j.id), \
     logged AS ( \
         INSERT INTO events (kind, actor, customer_id, container_id, job_id, action, target, \
                             outcome, detail, at) \
         SELECT 'operation', $1, i.customer_id, i.container_id, i.id, s.step, s.target, \
                s.outcome, s.detail, s.at \
         FROM input i JOIN held h ON h.id = i.id, jsonb_to_recordset(i.steps) \
              AS s(step text, target text, outcome text, detail text, at timestamptz) \
         RETURNING 1), \
     locked AS ( \
         SELECT c.id FROM containers c \
         WHERE c.id IN (SELECT i.container_id FROM input i JOIN held h ON h.id = i.id \
                        WHERE i.boot_kind IS NOT NULL) \
         ORDER BY c.id FOR NO KEY UPDATE), \
     booted AS ( \
         UPDATE containers c SET fallback_reason = i.fallback_reason, restarted_at = now(), \
                booted_kind = i.boot_kind, \
                booted_custom_distro_id = CASE WHEN i.boot_kind IN ('custom', 'fallback') \
                                               THEN c.custom_distro_id END \
         FROM input i \
         WHERE c.id = i.container_id AND i.boot_kind IS NOT NULL \
           AND c.id IN (SELECT id FROM locked) \
         RETURNING 1) \
     SELECT h.id, EXISTS (SELECT 1 FROM input i JOIN jobs b ON b.container_id = i.container_id \
                          WHERE i.id = h.id AND b.state IN ('queued', 'retrying')) AS behind \
     FROM held h";

/// A restart [`finish_restarts`] marked done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct HeldRestart {
    #[diesel(sql_type = BigInt)]
    pub id: JobId,
    /// A job of its container was queued (or waits to retry) behind it, and can be claimed now.
    #[diesel(sql_type = Bool)]
    pub behind: bool,
}

/// Marks a batch of restarts done with their last steps, recording what each container boots
/// and when its vassal was written, in one statement: only the restarts `worker` still holds
/// change anything. Returns those.
pub fn finish_restarts(
    conn: &mut PgConnection,
    worker: &str,
    restarts: &[FinishedRestart],
) -> QueryResult<Vec<HeldRestart>> {
    if restarts.is_empty() {
        return Ok(Vec::new());
    }
    let input = serde_json::to_value(restarts).expect("plain values serialise");
    fixed::statement(FINISH_RESTARTS, |q| {
        q.bind::<Text, _>(worker).bind::<Jsonb, _>(input)
    })
    .load(conn)
}

/// Whether an earlier attempt of the job recorded `step` (e.g. stored its alarms).
pub fn has_step(conn: &mut PgConnection, job: JobId, step: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Bool)]
        found: bool,
    }
    let found: Found = diesel::sql_query(
        "SELECT report @> jsonb_build_array(jsonb_build_object('step', $2::text)) AS found \
         FROM jobs WHERE id = $1",
    )
    .bind::<BigInt, _>(job.0)
    .bind::<Text, _>(step)
    .get_result(conn)?;
    Ok(found.found)
}

/// Marks the job done if `worker` still holds it; false if it lost the job.
pub fn finish(conn: &mut PgConnection, job: JobId, worker: &str) -> QueryResult<bool> {
    end_attempt(conn, job, worker, "done", None)
}

/// Ends the running attempt `worker` holds in `state` for good, with `error`; false if it
/// lost the job.
fn end_attempt(
    conn: &mut PgConnection,
    job: JobId,
    worker: &str,
    state: &str,
    error: Option<&str>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        jobs::table
            .filter(jobs::id.eq(job))
            .filter(jobs::locked_by.eq(worker))
            .filter(jobs::state.eq("running")),
    )
    .set((
        jobs::state.eq(state),
        jobs::finished_at.eq(diesel::dsl::now),
        jobs::locked_by.eq(None::<String>),
        jobs::locked_until.eq(None::<chrono::DateTime<chrono::Utc>>),
        jobs::error.eq(error),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// What became of a job whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// It runs again after its backoff.
    Retrying,
    /// No more attempts: it is `failed`.
    Failed,
    /// Another worker holds it now; nothing was changed.
    Lost,
}

/// Records a failed attempt: `retrying` after `backoff`, or `failed` when `permanent` or out of
/// attempts.
pub fn fail_attempt(
    conn: &mut PgConnection,
    job: JobId,
    worker: &str,
    error: &str,
    permanent: bool,
    backoff: Duration,
) -> QueryResult<AfterFailure> {
    #[derive(QueryableByName)]
    struct State {
        #[diesel(sql_type = Text)]
        state: String,
    }
    let state: Option<State> = diesel::sql_query(
        "UPDATE jobs SET \
             state = CASE WHEN $4 OR attempts >= max_attempts THEN 'failed' ELSE 'retrying' END, \
             finished_at = CASE WHEN $4 OR attempts >= max_attempts THEN now() END, \
             run_after = now() + make_interval(secs => $5), \
             error = $3, failure_permanent = $4, locked_by = NULL, locked_until = NULL \
         WHERE id = $1 AND locked_by = $2 AND state = 'running' \
         RETURNING state",
    )
    .bind::<BigInt, _>(job.0)
    .bind::<Text, _>(worker)
    .bind::<Text, _>(error)
    .bind::<Bool, _>(permanent)
    .bind::<Double, _>(backoff.as_secs_f64())
    .get_result(conn)
    .optional()?;
    Ok(match state.as_ref().map(|s| s.state.as_str()) {
        Some("failed") => AfterFailure::Failed,
        Some(_) => AfterFailure::Retrying,
        None => AfterFailure::Lost,
    })
}

/// Ends a running attempt its owner cancelled: `cancelled`, never retried, with `error`
/// saying what was left as it was; false if `worker` lost the job.
pub fn cancel_attempt(
    conn: &mut PgConnection,
    job: JobId,
    worker: &str,
    error: &str,
) -> QueryResult<bool> {
    end_attempt(conn, job, worker, "cancelled", Some(error))
}

/// Records how far a running job has got, if `worker` still holds it, and answers whether
/// it should go on: `false` when its owner asked it to stop or another worker holds it.
pub fn record_progress(
    conn: &mut PgConnection,
    job: JobId,
    worker: &str,
    progress: &serde_json::Value,
) -> QueryResult<bool> {
    let cancel: Option<bool> = diesel::update(
        jobs::table
            .filter(jobs::id.eq(job))
            .filter(jobs::locked_by.eq(worker))
            .filter(jobs::state.eq("running")),
    )
    .set(jobs::progress.eq(Some(progress)))
    .returning(jobs::cancel_requested)
    .get_result(conn)
    .optional()?;
    Ok(cancel == Some(false))
}

/// The kinds of job their owner may cancel: the installs, which stop cooperatively and leave
/// the image as it was.
pub const CANCELLABLE_KINDS: [&str; 2] = ["unpack_image", "fetch_image"];

/// Why a customer could not cancel a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelRefusal {
    #[error("job {id} is {state}: only a queued, retrying or running job can be cancelled")]
    Finished { id: JobId, state: String },
    #[error("job {id} ({kind}) cannot be cancelled: only image installs can")]
    Kind { id: JobId, kind: String },
}

/// Cancels the customer's install job `id`: one that has not started never will; a running
/// one is asked to stop, which it does at its next progress write. `None`: no such job of
/// theirs.
pub fn cancel_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: JobId,
) -> QueryResult<Option<Result<Job, CancelRefusal>>> {
    conn.transaction(|conn| {
        let Some(job) = jobs::table
            .filter(jobs::id.eq(id).and(jobs::customer_id.eq(customer)))
            .select(Job::as_select())
            .for_update()
            .first(conn)
            .optional()?
        else {
            return Ok(None);
        };
        if !CANCELLABLE_KINDS.contains(&job.kind.as_str()) {
            let kind = job.kind.to_string();
            return Ok(Some(Err(CancelRefusal::Kind { id, kind })));
        }
        let target = jobs::table.filter(jobs::id.eq(id));
        let changed = match job.state.as_str() {
            "queued" | "retrying" => diesel::update(target)
                .set((
                    jobs::state.eq("cancelled"),
                    jobs::finished_at.eq(diesel::dsl::now),
                    jobs::cancel_requested.eq(true),
                ))
                .returning(Job::as_returning())
                .get_result(conn)?,
            "running" => diesel::update(target)
                .set(jobs::cancel_requested.eq(true))
                .returning(Job::as_returning())
                .get_result(conn)?,
            _ => {
                let state = job.state;
                return Ok(Some(Err(CancelRefusal::Finished { id, state })));
            }
        };
        Ok(Some(Ok(changed)))
    })
}

/// What staff see in the job list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<String>,
    pub container: Option<ContainerId>,
    pub server: Option<ServerId>,
    pub limit: i64,
}

/// Newest first.
pub fn list(conn: &mut PgConnection, filter: &JobFilter) -> QueryResult<Vec<Job>> {
    let mut query = jobs::table.select(Job::as_select()).into_boxed();
    if let Some(state) = &filter.state {
        query = query.filter(jobs::state.eq(state.clone()));
    }
    if let Some(container) = filter.container {
        query = query.filter(jobs::container_id.eq(container));
    }
    if let Some(server) = filter.server {
        query = query.filter(jobs::server_id.eq(server));
    }
    query
        .order(jobs::id.desc())
        .limit(filter.limit.clamp(1, 10_000))
        .load(conn)
}

/// Unfinished jobs of a container (what the container page shows as pending).
pub fn pending_for_container(conn: &mut PgConnection, container: ContainerId) -> QueryResult<i64> {
    jobs::table
        .filter(jobs::container_id.eq(container))
        .filter(jobs::state.eq_any(["queued", "retrying", "running"]))
        .count()
        .get_result(conn)
}

/// Why staff could not cancel or retry a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffRefusal {
    #[error("there is no job {0}")]
    NotFound(JobId),
    #[error("job {id} is {state}; only {allowed} jobs can be {action}")]
    WrongState {
        id: JobId,
        state: String,
        allowed: &'static str,
        action: &'static str,
    },
    #[error("job {id} cannot be retried: job {waiting} already does the same and has not run yet")]
    Duplicate { id: JobId, waiting: JobId },
}

/// Cancels a job that has not started (or is waiting to retry).
pub fn cancel(conn: &mut PgConnection, id: JobId) -> QueryResult<Result<Job, StaffRefusal>> {
    let cancelled = diesel::update(
        jobs::table
            .filter(jobs::id.eq(id))
            .filter(jobs::state.eq_any(PENDING)),
    )
    .set((
        jobs::state.eq("cancelled"),
        jobs::finished_at.eq(diesel::dsl::now),
    ))
    .returning(Job::as_returning())
    .get_result(conn)
    .optional()?;
    Ok(match cancelled {
        Some(job) => Ok(job),
        None => Err(refusal(conn, id, "queued or retrying", "cancelled")?),
    })
}

/// Puts a failed or cancelled job back in the queue with fresh attempts.
pub fn retry(conn: &mut PgConnection, id: JobId) -> QueryResult<Result<Job, StaffRefusal>> {
    let retried = conn.transaction(|conn| {
        diesel::update(
            jobs::table
                .filter(jobs::id.eq(id))
                .filter(jobs::state.eq_any(["failed", "cancelled"])),
        )
        .set((
            jobs::state.eq("queued"),
            jobs::attempts.eq(0),
            jobs::run_after.eq(diesel::dsl::now),
            jobs::finished_at.eq(None::<chrono::DateTime<chrono::Utc>>),
        ))
        .returning(Job::as_returning())
        .get_result(conn)
        .optional()
    });
    match retried {
        Ok(Some(job)) => Ok(Ok(job)),
        Ok(None) => Ok(Err(refusal(conn, id, "failed or cancelled", "retried")?)),
        Err(e)
            if crate::db::violated_constraint(&e) == Some("jobs_one_pending_per_container_idx") =>
        {
            let job = find(conn, id)?.expect("the job exists: it conflicted");
            let waiting = jobs::table
                .filter(jobs::container_id.eq(job.container_id))
                .filter(jobs::kind.eq(&job.kind))
                .filter(jobs::state.eq_any(PENDING))
                .select(jobs::id)
                .first(conn)?;
            Ok(Err(StaffRefusal::Duplicate { id, waiting }))
        }
        Err(e) => Err(e),
    }
}

fn refusal(
    conn: &mut PgConnection,
    id: JobId,
    allowed: &'static str,
    action: &'static str,
) -> QueryResult<StaffRefusal> {
    Ok(match find(conn, id)? {
        None => StaffRefusal::NotFound(id),
        Some(job) => StaffRefusal::WrongState {
            id,
            state: job.state,
            allowed,
            action,
        },
    })
}

/// Deletes up to `batch` jobs that finished (done, failed or cancelled) before `before`; the
/// operation log keeps their steps, with `job_id` cleared.
pub fn prune_finished(
    conn: &mut PgConnection,
    before: chrono::DateTime<chrono::Utc>,
    batch: i64,
) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM jobs WHERE id IN ( \
             SELECT id FROM jobs \
             WHERE state IN ('done', 'failed', 'cancelled') AND finished_at < $1 \
             LIMIT $2)",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(before)
    .bind::<BigInt, _>(batch)
    .execute(conn)
}
