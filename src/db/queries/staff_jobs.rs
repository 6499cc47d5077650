//! The staff jobs console: every job with its server and customer, filtered by state, kind,
//! server, customer and age, sorted and paged by the database; and the filtered sets bulk
//! retry and cancel act on.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::models::job::Job;
use crate::db::schema::{customers, jobs, servers};
use crate::domain::ids::{CustomerId, JobId, ServerId};

/// What the console filters by; `None` is any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffJobFilter {
    pub state: Option<String>,
    pub kind: Option<String>,
    pub server: Option<ServerId>,
    pub customer: Option<CustomerId>,
    /// Created before this (older than N minutes).
    pub created_before: Option<DateTime<Utc>>,
    /// Created after this (within the last N minutes).
    pub created_after: Option<DateTime<Utc>>,
}

/// The columns the console sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSort {
    Created,
    State,
    Kind,
    Attempts,
    Server,
}

/// A job as the console lists it.
#[derive(Debug, Clone, Queryable)]
pub struct JobListing {
    pub job: Job,
    pub failure_permanent: bool,
    pub server: String,
    pub company: Option<String>,
}

impl JobListing {
    /// Staff may run it again: a transient failure, or a cancelled job.
    pub fn retryable(&self) -> bool {
        retryable(&self.job.state, self.failure_permanent)
    }

    /// It has not started: cancelling it means it never runs.
    pub fn cancellable(&self) -> bool {
        super::jobs::PENDING.contains(&self.job.state.as_str())
    }
}

/// A job in `state` may be retried by staff: cancelled, or failed for a reason that may pass.
pub fn retryable(state: &str, failure_permanent: bool) -> bool {
    match state {
        "failed" => !failure_permanent,
        "cancelled" => true,
        _ => false,
    }
}

macro_rules! filtered {
    ($filter:expr) => {{
        let filter: &StaffJobFilter = $filter;
        let mut query = jobs::table
            .inner_join(servers::table.on(servers::id.eq(jobs::server_id)))
            .left_join(customers::table.on(jobs::customer_id.eq(customers::id.nullable())))
            .into_boxed();
        if let Some(state) = &filter.state {
            query = query.filter(jobs::state.eq(state.clone()));
        }
        if let Some(kind) = &filter.kind {
            query = query.filter(jobs::kind.eq(kind.clone()));
        }
        if let Some(server) = filter.server {
            query = query.filter(jobs::server_id.eq(server));
        }
        if let Some(customer) = filter.customer {
            query = query.filter(jobs::customer_id.eq(customer));
        }
        if let Some(before) = filter.created_before {
            query = query.filter(jobs::created_at.lt(before));
        }
        if let Some(after) = filter.created_after {
            query = query.filter(jobs::created_at.ge(after));
        }
        query
    }};
}

/// One page of the filtered jobs in the order asked for (ties: newest first).
pub fn list(
    conn: &mut PgConnection,
    filter: &StaffJobFilter,
    (sort, descending): (JobSort, bool),
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<JobListing>> {
    let mut query = filtered!(filter);
    query = match (sort, descending) {
        (JobSort::Created, false) => query.order(jobs::created_at.asc()),
        (JobSort::Created, true) => query.order(jobs::created_at.desc()),
        (JobSort::State, false) => query.order(jobs::state.asc()),
        (JobSort::State, true) => query.order(jobs::state.desc()),
        (JobSort::Kind, false) => query.order(jobs::kind.asc()),
        (JobSort::Kind, true) => query.order(jobs::kind.desc()),
        (JobSort::Attempts, false) => query.order(jobs::attempts.asc()),
        (JobSort::Attempts, true) => query.order(jobs::attempts.desc()),
        (JobSort::Server, false) => query.order(servers::name.asc()),
        (JobSort::Server, true) => query.order(servers::name.desc()),
    };
    query
        .then_order_by(jobs::id.desc())
        .select((
            Job::as_select(),
            jobs::failure_permanent,
            servers::name,
            customers::company.nullable(),
        ))
        .offset(offset.max(0))
        .limit(limit.clamp(1, 1000))
        .load(conn)
}

/// One job with its server and customer.
pub fn find(conn: &mut PgConnection, id: JobId) -> QueryResult<Option<JobListing>> {
    jobs::table
        .inner_join(servers::table.on(servers::id.eq(jobs::server_id)))
        .left_join(customers::table.on(jobs::customer_id.eq(customers::id.nullable())))
        .filter(jobs::id.eq(id))
        .select((
            Job::as_select(),
            jobs::failure_permanent,
            servers::name,
            customers::company.nullable(),
        ))
        .first(conn)
        .optional()
}

/// Whether job `id` failed permanently (`None`: there is no such job).
pub fn failure_permanent(
    conn: &mut PgConnection,
    id: JobId,
) -> QueryResult<Option<(String, bool)>> {
    jobs::table
        .filter(jobs::id.eq(id))
        .select((jobs::state, jobs::failure_permanent))
        .first(conn)
        .optional()
}

/// What a bulk action takes from the filtered set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkSet {
    /// Failed for a transient reason, or cancelled.
    Retryable,
    /// Queued or waiting to retry.
    Cancellable,
}

/// The ids of up to `limit` filtered jobs a bulk action applies to, oldest first, locked
/// against a worker claiming them meanwhile.
pub fn bulk_ids(
    conn: &mut PgConnection,
    filter: &StaffJobFilter,
    set: BulkSet,
    limit: i64,
) -> QueryResult<Vec<JobId>> {
    let mut query = filtered!(filter);
    query = match set {
        BulkSet::Retryable => query.filter(
            jobs::state.eq("cancelled").or(jobs::state
                .eq("failed")
                .and(jobs::failure_permanent.eq(false))),
        ),
        BulkSet::Cancellable => query.filter(jobs::state.eq_any(super::jobs::PENDING)),
    };
    query
        .order(jobs::id.asc())
        .select(jobs::id)
        .limit(limit.clamp(1, 10_000))
        .load(conn)
}

/// Every server, by name, for the filter menu.
pub fn server_choices(conn: &mut PgConnection) -> QueryResult<Vec<(ServerId, String)>> {
    servers::table
        .order(servers::name)
        .select((servers::id, servers::name))
        .load(conn)
}

/// Every customer, by company, for the filter menu.
pub fn customer_choices(conn: &mut PgConnection) -> QueryResult<Vec<(CustomerId, String)>> {
    customers::table
        .order((customers::company, customers::id))
        .select((customers::id, customers::company))
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::retryable;

    #[test]
    fn only_a_transient_failure_or_a_cancelled_job_is_retried() {
        assert!(retryable("failed", false));
        assert!(!retryable("failed", true));
        assert!(retryable("cancelled", false));
        for state in ["queued", "running", "retrying", "done"] {
            assert!(!retryable(state, false), "{state}");
        }
    }
}
