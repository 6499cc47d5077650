//! What the customer's container pages read besides the container itself.

use diesel::prelude::*;

use crate::db::models::event::Event;
use crate::db::schema::{containers, events};
use crate::domain::ids::{ContainerId, CustomerId};

/// Why the customer's containers last fell back to their default distro, for those that did.
pub fn fallback_reasons(
    conn: &mut PgConnection,
    customer: CustomerId,
) -> QueryResult<Vec<(ContainerId, String)>> {
    containers::table
        .filter(containers::customer_id.eq(customer))
        .filter(containers::fallback_reason.is_not_null())
        .select((
            containers::id,
            containers::fallback_reason.assume_not_null(),
        ))
        .load(conn)
}

/// The container's operation log, newest first; only the customer's container has one.
pub fn operation_log(
    conn: &mut PgConnection,
    customer: CustomerId,
    container: ContainerId,
    limit: i64,
) -> QueryResult<Vec<Event>> {
    events::table
        .inner_join(containers::table)
        .filter(containers::customer_id.eq(customer))
        .filter(events::container_id.eq(container))
        .filter(events::kind.eq("operation"))
        .order((events::at.desc(), events::id.desc()))
        .limit(limit)
        .select(Event::as_select())
        .load(conn)
}
