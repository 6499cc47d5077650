//! What the customer's dashboard and the top bar's job indicator read: job counts, new alarms
//! by level, storage use per storage container, and when the user last opened the alarms.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz};

use crate::db::schema::users;
use crate::domain::ids::{CustomerId, UserId};

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
    use crate::db::queries::api_jobs::PENDING;
    use crate::db::schema::jobs;
    use diesel::dsl::count;
    let shown_after = Utc::now() - FAILED_SHOWN_FOR;
    let failed = jobs::state
        .eq("failed")
        .and(jobs::finished_at.assume_not_null().gt(shown_after));
    jobs::table
        .filter(jobs::customer_id.eq(customer))
        .filter(jobs::state.eq_any(PENDING).or(failed))
        .select((
            count(jobs::id).aggregate_filter(jobs::state.eq_any(PENDING)),
            count(jobs::id).aggregate_filter(failed),
        ))
        .get_result(conn)
}

/// How many alarms of one level are new to the user.
#[derive(Debug, Clone, Queryable)]
pub struct NewAlarms {
    pub level: i16,
    pub count: i64,
}

/// The customer's alarms raised after `seen` (all of them when never seen), by level. Each of
/// the two shapes is prepared once per connection.
pub fn new_alarms(
    conn: &mut PgConnection,
    customer: CustomerId,
    seen: Option<DateTime<Utc>>,
) -> QueryResult<Vec<NewAlarms>> {
    use crate::db::schema::alarms;
    use diesel::dsl::count_star;
    let of_customer = alarms::customer_id.eq(customer);
    match seen {
        None => alarms::table
            .filter(of_customer)
            .group_by(alarms::level)
            .select((alarms::level, count_star()))
            .order(alarms::level)
            .load(conn),
        Some(seen) => alarms::table
            .filter(of_customer)
            .filter(alarms::unix.gt(seen))
            .group_by(alarms::level)
            .select((alarms::level, count_star()))
            .order(alarms::level)
            .load(conn),
    }
}

/// One storage container's use against its quota: measured by its server's agent when it
/// reported, else the sum of its images' recorded sizes.
#[derive(Debug, Clone, QueryableByName)]
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

/// When the user last opened the alarms page.
pub fn alarms_seen_at(conn: &mut PgConnection, user: UserId) -> QueryResult<Option<DateTime<Utc>>> {
    users::table
        .find(user)
        .select(users::alarms_seen_at)
        .first(conn)
}

/// The user opened the alarms page: what is there now is no longer new.
pub fn mark_alarms_seen(conn: &mut PgConnection, user: UserId) -> QueryResult<()> {
    diesel::update(users::table.find(user))
        .set(users::alarms_seen_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(())
}

/// The customer's jobs that run or wait, and those that failed in the last day, newest first.
pub fn active_jobs(
    conn: &mut PgConnection,
    customer: CustomerId,
    limit: i64,
) -> QueryResult<Vec<crate::db::models::job::Job>> {
    use crate::db::models::job::Job;
    use crate::db::schema::jobs;
    let day_ago = Utc::now() - FAILED_SHOWN_FOR;
    jobs::table
        .filter(jobs::customer_id.eq(customer))
        .filter(
            jobs::state
                .eq_any(crate::db::queries::api_jobs::PENDING)
                .or(jobs::state.eq("failed").and(jobs::finished_at.gt(day_ago))),
        )
        .order(jobs::id.desc())
        .limit(limit)
        .select(Job::as_select())
        .load(conn)
}
