//! What `/metrics` reads at scrape time: jobs by kind and state, and each server's queue.

use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::db::schema::{jobs, servers};

/// How many jobs of one kind are in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub kind: String,
    pub state: String,
    pub count: i64,
}

/// One server's waiting jobs (queued or retrying): how many, and how long the oldest has
/// waited, in seconds (0 when none waits).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerQueue {
    pub server: String,
    pub waiting: i64,
    pub oldest_seconds: f64,
}

/// Every (kind, state) pair that has jobs, in one grouped query.
pub fn job_counts(conn: &mut PgConnection) -> QueryResult<Vec<JobCount>> {
    let rows: Vec<(String, String, i64)> = jobs::table
        .group_by((jobs::kind, jobs::state))
        .select((jobs::kind, jobs::state, count_star()))
        .order((jobs::kind, jobs::state))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(kind, state, count)| JobCount { kind, state, count })
        .collect())
}

/// Every server, with its waiting jobs; a job waits from when it was created.
pub fn server_queues(conn: &mut PgConnection) -> QueryResult<Vec<ServerQueue>> {
    let now = diesel::select(diesel::dsl::now.into_sql::<diesel::sql_types::Timestamptz>())
        .get_result::<chrono::DateTime<chrono::Utc>>(conn)?;
    let rows: Vec<(String, i64, Option<chrono::DateTime<chrono::Utc>>)> = servers::table
        .left_join(
            jobs::table.on(jobs::server_id
                .eq(servers::id)
                .and(jobs::state.eq_any(["queued", "retrying"]))),
        )
        .group_by((servers::id, servers::name))
        .select((
            servers::name,
            diesel::dsl::count(jobs::id.nullable()),
            min(jobs::created_at.nullable()),
        ))
        .order(servers::name)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(server, waiting, oldest)| ServerQueue {
            server,
            waiting,
            oldest_seconds: oldest
                .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0),
        })
        .collect())
}
