//! Jobs as their customer reads them through the API. (The queue itself is `jobs.rs`.)

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::models::job::Job;
use crate::db::schema::jobs;
use crate::domain::ids::{ContainerId, CustomerId, JobId};

/// States of a job that has not finished.
pub const PENDING: [&str; 3] = ["queued", "running", "retrying"];

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

/// How many unfinished jobs each of the customer's containers has (absent: none); with
/// `container`, only that one.
pub fn pending_counts(
    conn: &mut PgConnection,
    customer: CustomerId,
    container: Option<ContainerId>,
) -> QueryResult<Vec<(Option<ContainerId>, i64)>> {
    let pending = jobs::table
        .filter(jobs::customer_id.eq(customer))
        .filter(jobs::state.eq_any(PENDING))
        .group_by(jobs::container_id)
        .select((jobs::container_id, count_star()));
    match container {
        Some(container) => pending.filter(jobs::container_id.eq(container)).load(conn),
        None => pending.load(conn),
    }
}
