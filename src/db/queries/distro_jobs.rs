//! The image jobs of one custom distro, as its page lists them.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use crate::db::models::job::Job;
use crate::db::schema::jobs;
use crate::domain::ids::{ContainerId, CustomDistroId, CustomerId};

/// The customer's newest jobs about distro `id`, which run on its storage container.
pub fn recent_for_distro(
    conn: &mut PgConnection,
    customer: CustomerId,
    storage: ContainerId,
    id: CustomDistroId,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    jobs::table
        .filter(jobs::customer_id.eq(customer))
        .filter(jobs::container_id.eq(storage))
        .filter(sql::<Bool>("payload ->> 'distro' = ").bind::<Text, _>(id.0.to_string()))
        .order(jobs::id.desc())
        .limit(limit)
        .select(Job::as_select())
        .load(conn)
}
