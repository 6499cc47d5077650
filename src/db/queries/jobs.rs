use diesel::prelude::*;

use crate::db::models::job::{Job, NewJob};
use crate::db::schema::jobs;

/// Adds a job to the outbox. Call it inside the transaction that makes the change needing it,
/// so the change and its job commit or vanish together.
pub fn enqueue(conn: &mut PgConnection, new: &NewJob) -> QueryResult<Job> {
    diesel::insert_into(jobs::table)
        .values(new)
        .returning(Job::as_returning())
        .get_result(conn)
}
