//! Operation log lines written together, as a job attempt records its steps.

use diesel::prelude::*;

use crate::db::models::event::NewEvent;
use crate::db::schema::events;

pub fn insert_all(conn: &mut PgConnection, rows: &[NewEvent]) -> QueryResult<usize> {
    diesel::insert_into(events::table)
        .values(rows)
        .execute(conn)
}
