//! The audit log: events are only ever inserted.

use diesel::prelude::*;

use crate::db::models::event::{Event, NewEvent};
use crate::db::schema::events;

/// An event with the staff flag, which the operation log and the audit trail both read.
#[derive(Insertable)]
#[diesel(table_name = events)]
struct Marked<'a> {
    #[diesel(embed)]
    event: NewEvent<'a>,
    by_staff: bool,
}

/// Inserts `lines` in one statement, each marked as done by staff or not.
pub fn insert_marked(
    conn: &mut PgConnection,
    lines: &[NewEvent],
    by_staff: bool,
) -> QueryResult<usize> {
    let rows: Vec<Marked> = lines
        .iter()
        .map(|event| Marked {
            event: event.clone(),
            by_staff,
        })
        .collect();
    diesel::insert_into(events::table)
        .values(&rows)
        .execute(conn)
}

pub fn insert(conn: &mut PgConnection, new: &NewEvent) -> QueryResult<Event> {
    diesel::insert_into(events::table)
        .values(new)
        .returning(Event::as_returning())
        .get_result(conn)
}
