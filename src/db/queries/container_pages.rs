//! What the customer's container pages read besides the container itself.

use diesel::prelude::*;

use crate::db::models::event::Event;
use crate::db::schema::{containers, custom_distros, events};
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

/// What the last restart of one of the customer's containers booted.
#[derive(Debug, Clone, Queryable)]
pub struct LastBoot {
    pub container: ContainerId,
    pub name: String,
    /// `none`, `platform`, `custom` or `fallback`; `None` before its first recorded restart.
    pub kind: Option<String>,
    /// The custom distro it booted or fell back from, unless deleted since.
    pub custom_name: Option<String>,
    pub fallback_reason: Option<String>,
}

/// What the last restart of each of the customer's containers booted, for those restarted
/// since it was recorded or that fell back (one statement).
pub fn last_boots(conn: &mut PgConnection, customer: CustomerId) -> QueryResult<Vec<LastBoot>> {
    containers::table
        .left_join(
            custom_distros::table
                .on(containers::booted_custom_distro_id.eq(custom_distros::id.nullable())),
        )
        .filter(containers::customer_id.eq(customer))
        .filter(
            containers::booted_kind
                .is_not_null()
                .or(containers::fallback_reason.is_not_null()),
        )
        .select((
            containers::id,
            containers::name,
            containers::booted_kind,
            custom_distros::name.nullable(),
            containers::fallback_reason,
        ))
        .load(conn)
}

/// The names of those of `ids` that are the customer's containers.
pub fn names(
    conn: &mut PgConnection,
    customer: CustomerId,
    ids: &[ContainerId],
) -> QueryResult<Vec<(ContainerId, String)>> {
    containers::table
        .filter(containers::customer_id.eq(customer))
        .filter(containers::id.eq_any(ids))
        .select((containers::id, containers::name))
        .load(conn)
}

/// The newest operation-log lines of the customer's storage container about its distro
/// `name` (a line names a distro by its name when it was written).
pub fn distro_log(
    conn: &mut PgConnection,
    customer: CustomerId,
    storage: ContainerId,
    name: &str,
    limit: i64,
) -> QueryResult<Vec<Event>> {
    events::table
        .filter(events::customer_id.eq(customer))
        .filter(events::container_id.eq(storage))
        .filter(events::kind.eq("operation"))
        .filter(events::target.eq(name.to_owned()))
        .order((events::at.desc(), events::id.desc()))
        .limit(limit)
        .select(Event::as_select())
        .load(conn)
}
