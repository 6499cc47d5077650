//! What the customer's dashboard and the top bar's job indicator read: job counts, new alarms
//! by level, storage use per storage container, and when the user last opened the alarms.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz};

use crate::db::schema::users;
use crate::domain::ids::{ContainerId, CustomerId, UserId};

/// Jobs that run or wait, and jobs that failed in the last day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Queryable)]
pub struct JobCounts {
    pub pending: i64,
    pub failed: i64,
}

/// How long a failed job stays counted in the top bar and on the dashboard.
pub const FAILED_SHOWN_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The top bar's counts, in one statement that is prepared once per connection: it reads only
/// the customer's pending jobs and those finished within [`FAILED_SHOWN_FOR`].
pub fn job_counts(conn: &mut PgConnection, customer: CustomerId) -> QueryResult<JobCounts> {
    use crate::db::queries::api_jobs::IsPending;
    use crate::db::schema::jobs;
    use diesel::dsl::count;
    let shown_after = Utc::now() - FAILED_SHOWN_FOR;
    let failed = jobs::state
        .eq("failed")
        .and(jobs::finished_at.assume_not_null().gt(shown_after));
    jobs::table
        .filter(jobs::customer_id.eq(customer))
        .filter(IsPending.or(failed))
        .select((
            count(jobs::id).aggregate_filter(IsPending),
            count(jobs::id).aggregate_filter(failed),
        ))
        .get_result(conn)
}

/// How many alarms of one level are new to the user.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct NewAlarms {
    pub level: i16,
    pub count: i64,
}

/// One storage container's use against its quota: measured by its server's agent when it
/// reported, else the sum of its images' recorded sizes.
#[derive(Debug, Clone, QueryableByName, serde::Deserialize)]
pub struct StorageUse {
    #[diesel(sql_type = Int4)]
    pub container: i32,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Int4)]
    pub quota_mb: i32,
    #[diesel(sql_type = BigInt)]
    pub used_bytes: i64,
    /// When the agent measured it; `None` when the figure is the images' sizes.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub measured_at: Option<DateTime<Utc>>,
}

pub fn storage_use(conn: &mut PgConnection, customer: CustomerId) -> QueryResult<Vec<StorageUse>> {
    diesel::sql_query(
        "SELECT c.id AS container, c.name, c.storage_mb AS quota_mb, \
                COALESCE(u.home_bytes + u.images_bytes, \
                         (SELECT COALESCE(sum(d.image_bytes), 0) FROM custom_distros d \
                          WHERE d.container_id = c.id))::int8 AS used_bytes, \
                u.measured_at \
         FROM containers c LEFT JOIN container_disk_use u ON u.container_id = c.id \
         WHERE c.customer_id = $1 AND c.custom_distros_storage ORDER BY c.name, c.id",
    )
    .bind::<Int4, _>(customer.0)
    .load(conn)
}

/// The user opened the alarms page: what is there now is no longer new.
pub fn mark_alarms_seen(conn: &mut PgConnection, user: UserId) -> QueryResult<()> {
    diesel::update(users::table.find(user))
        .set(users::alarms_seen_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(())
}

/// Everything the dashboard shows, read in one statement that is prepared once per connection.
#[derive(Debug, Clone)]
pub struct Summary {
    pub seen: Option<DateTime<Utc>>,
    pub counts: JobCounts,
    /// The newest of the jobs counted (those that run or wait, and those that failed in the
    /// last day), newest first.
    pub jobs: Vec<ActiveJob>,
    /// The containers whose last restart fell back, with why, oldest container first.
    pub fallbacks: Vec<Fallback>,
    pub alarms: Vec<NewAlarms>,
    pub storage: Vec<StorageUse>,
}

/// A job as the dashboard lists it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ActiveJob {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub container: Option<ContainerId>,
    pub created_at: DateTime<Utc>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Fallback {
    pub container: i32,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, QueryableByName)]
struct SummaryRow {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    seen: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = diesel::sql_types::Json)]
    jobs: serde_json::Value,
    #[diesel(sql_type = diesel::sql_types::Json)]
    fallbacks: serde_json::Value,
    #[diesel(sql_type = diesel::sql_types::Json)]
    alarms: serde_json::Value,
    #[diesel(sql_type = diesel::sql_types::Json)]
    storage: serde_json::Value,
}

/// The statement of [`summary`]: its SQL is fixed and its type static, so diesel keeps it
/// prepared (a raw `sql_query` is parsed and planned on every run).
#[derive(diesel::query_builder::QueryId)]
struct SummaryQuery {
    customer: i32,
    user: i32,
    failed_after: DateTime<Utc>,
    jobs_shown: i64,
}

impl diesel::query_builder::Query for SummaryQuery {
    type SqlType = diesel::sql_types::Untyped;
}

impl<C> RunQueryDsl<C> for SummaryQuery {}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for SummaryQuery {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH p AS (SELECT ");
        out.push_bind_param::<Int4, _>(&self.customer)?;
        out.push_sql("::int4 AS customer, ");
        out.push_bind_param::<Int4, _>(&self.user)?;
        out.push_sql("::int4 AS user_id, ");
        out.push_bind_param::<Timestamptz, _>(&self.failed_after)?;
        out.push_sql("::timestamptz AS failed_after, ");
        out.push_bind_param::<BigInt, _>(&self.jobs_shown)?;
        out.push_sql(
            "::int8 AS jobs_shown), \
             seen AS (SELECT u.alarms_seen_at AS at FROM users u, p WHERE u.id = p.user_id), \
             active AS ( \
               SELECT jobs.id, jobs.kind, jobs.state, jobs.container_id, jobs.created_at, \
                      jobs.error \
               FROM jobs, p WHERE jobs.customer_id = p.customer \
                 AND (jobs.state IN ('queued', 'running', 'retrying') \
                      OR (jobs.state = 'failed' AND jobs.finished_at > p.failed_after))), \
             counts AS ( \
               SELECT count(*) FILTER (WHERE jobs.state IN ('queued', 'running', 'retrying')) \
                        AS pending, \
                      count(*) FILTER (WHERE jobs.state = 'failed') AS failed \
               FROM active AS jobs) \
             SELECT (SELECT at FROM seen) AS seen, counts.pending, counts.failed, \
               (SELECT COALESCE(json_agg(json_build_object( \
                    'id', a.id, 'kind', a.kind, 'state', a.state, 'container', a.container_id, \
                    'created_at', a.created_at, 'error', a.error) ORDER BY a.id DESC), '[]') \
                FROM (SELECT * FROM active ORDER BY id DESC \
                      LIMIT (SELECT jobs_shown FROM p)) a) AS jobs, \
               (SELECT COALESCE(json_agg(json_build_object( \
                    'container', c.id, 'name', c.name, 'reason', c.fallback_reason) \
                    ORDER BY c.id), '[]') \
                FROM containers c, p \
                WHERE c.customer_id = p.customer AND c.fallback_reason IS NOT NULL) AS fallbacks, \
               (SELECT COALESCE(json_agg(json_build_object('level', a.level, 'count', a.n) \
                    ORDER BY a.level), '[]') \
                FROM (SELECT al.level, count(*) AS n FROM alarms al, p \
                      WHERE al.customer_id = p.customer \
                        AND al.unix > COALESCE((SELECT at FROM seen), '-infinity') \
                      GROUP BY al.level) a) AS alarms, \
               (SELECT COALESCE(json_agg(json_build_object( \
                    'container', c.id, 'name', c.name, 'quota_mb', c.storage_mb, \
                    'used_bytes', COALESCE(u.home_bytes + u.images_bytes, \
                        (SELECT COALESCE(sum(d.image_bytes), 0) FROM custom_distros d \
                         WHERE d.container_id = c.id))::int8, \
                    'measured_at', u.measured_at) ORDER BY c.name, c.id), '[]') \
                FROM containers c LEFT JOIN container_disk_use u ON u.container_id = c.id, p \
                WHERE c.customer_id = p.customer AND c.custom_distros_storage) AS storage \
             FROM counts",
        );
        Ok(())
    }
}

/// The dashboard's summary for the customer and the signed-in user (see [`Summary`]).
pub fn summary(
    conn: &mut PgConnection,
    customer: CustomerId,
    user: UserId,
    jobs_shown: i64,
) -> QueryResult<Summary> {
    let row: SummaryRow = SummaryQuery {
        customer: customer.0,
        user: user.0,
        failed_after: Utc::now() - FAILED_SHOWN_FOR,
        jobs_shown,
    }
    .get_result(conn)?;
    let json = |e: serde_json::Error| diesel::result::Error::DeserializationError(Box::new(e));
    Ok(Summary {
        seen: row.seen,
        counts: JobCounts {
            pending: row.pending,
            failed: row.failed,
        },
        jobs: serde_json::from_value(row.jobs).map_err(json)?,
        fallbacks: serde_json::from_value(row.fallbacks).map_err(json)?,
        alarms: serde_json::from_value(row.alarms).map_err(json)?,
        storage: serde_json::from_value(row.storage).map_err(json)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_the_same_pending_states_as_the_top_bar() {
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&SummaryQuery {
            customer: 1,
            user: 1,
            failed_after: Utc::now(),
            jobs_shown: 20,
        })
        .to_string();
        let pending = crate::db::queries::api_jobs::IS_PENDING_SQL;
        assert_eq!(sql.matches(pending).count(), 2, "{sql}");
    }
}
