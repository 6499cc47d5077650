//! The audit log: events are only ever inserted.

use diesel::prelude::*;

use crate::db::models::event::{Event, NewEvent};
use crate::db::schema::events;

pub fn insert(conn: &mut PgConnection, new: &NewEvent) -> QueryResult<Event> {
    diesel::insert_into(events::table)
        .values(new)
        .returning(Event::as_returning())
        .get_result(conn)
}
