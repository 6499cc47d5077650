//! Jobs as their customer reads them through the API. (The queue itself is `jobs.rs`.)

use diesel::prelude::*;

use crate::db::models::job::Job;
use crate::db::schema::jobs;
use crate::domain::ids::{ContainerId, CustomerId, JobId};

/// States of a job that has not finished.
pub const PENDING: [&str; 3] = ["queued", "running", "retrying"];

super::fixed_sql_expression!(
    /// The job is in one of the [`PENDING`] states, written out in the SQL: with the states
    /// bound as an array, PostgreSQL plans a prepared statement anew on every run, since only
    /// the values show how few jobs are pending.
    pub IsPending: diesel::sql_types::Bool,
    on jobs::state,
    IS_PENDING_SQL
);

/// [`IsPending`]'s SQL, for statements written out whole.
pub const IS_PENDING_SQL: &str = "jobs.state IN ('queued', 'running', 'retrying')";

/// The customer's newest jobs, optionally of one container.
pub fn for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    container: Option<ContainerId>,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    let mut query = jobs::table
        .filter(jobs::customer_id.eq(customer))
        .into_boxed();
    if let Some(container) = container {
        query = query.filter(jobs::container_id.eq(container));
    }
    query
        .order(jobs::id.desc())
        .limit(limit)
        .select(Job::as_select())
        .load(conn)
}

pub fn find_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: JobId,
) -> QueryResult<Option<Job>> {
    jobs::table
        .filter(jobs::id.eq(id).and(jobs::customer_id.eq(customer)))
        .select(Job::as_select())
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_pending_names_every_pending_state_and_no_other() {
        let listed = IS_PENDING_SQL
            .split_once("IN (")
            .and_then(|(_, rest)| rest.strip_suffix(')'))
            .unwrap();
        let states: Vec<&str> = listed.split(", ").map(|s| s.trim_matches('\'')).collect();
        assert_eq!(states, PENDING);
    }
}
