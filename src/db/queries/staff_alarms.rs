//! The staff alarms console: every alarm with its container and customer, filtered as the
//! API filters (container, level, class) and by customer and server, sorted and paged by the
//! database.

use diesel::prelude::*;

use crate::db::models::alarm::Alarm;
use crate::db::schema::{alarms, containers, customers, servers};
use crate::domain::ids::{ContainerId, CustomerId, ServerId};

/// What the console filters by; `None` is any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffAlarmFilter {
    pub customer: Option<CustomerId>,
    pub server: Option<ServerId>,
    pub container: Option<ContainerId>,
    pub level: Option<i16>,
    pub class: Option<String>,
}

/// The columns the console sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmSort {
    When,
    Level,
    Container,
    Customer,
}

/// An alarm as the console lists it.
#[derive(Debug, Clone, Queryable)]
pub struct AlarmListing {
    pub alarm: Alarm,
    pub container: String,
    pub company: String,
    pub server: String,
}

/// Alarms in the order asked for (ties: newest first), skipping `offset`, at most `limit`.
pub fn list(
    conn: &mut PgConnection,
    filter: &StaffAlarmFilter,
    (sort, descending): (AlarmSort, bool),
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<AlarmListing>> {
    let mut query = alarms::table
        .inner_join(containers::table.on(containers::id.eq(alarms::container_id)))
        .inner_join(customers::table.on(customers::id.eq(alarms::customer_id)))
        .inner_join(servers::table.on(servers::id.eq(containers::server_id)))
        .into_boxed();
    if let Some(customer) = filter.customer {
        query = query.filter(alarms::customer_id.eq(customer));
    }
    if let Some(server) = filter.server {
        query = query.filter(containers::server_id.eq(server));
    }
    if let Some(container) = filter.container {
        query = query.filter(alarms::container_id.eq(container));
    }
    if let Some(level) = filter.level {
        query = query.filter(alarms::level.eq(level));
    }
    if let Some(class) = filter.class.clone() {
        query = query.filter(alarms::class.eq(class));
    }
    query = match (sort, descending) {
        (AlarmSort::When, false) => query.order(alarms::unix.asc()),
        (AlarmSort::When, true) => query.order(alarms::unix.desc()),
        (AlarmSort::Level, false) => query.order(alarms::level.asc()),
        (AlarmSort::Level, true) => query.order(alarms::level.desc()),
        (AlarmSort::Container, false) => query.order(alarms::container_id.asc()),
        (AlarmSort::Container, true) => query.order(alarms::container_id.desc()),
        (AlarmSort::Customer, false) => query.order(customers::company.asc()),
        (AlarmSort::Customer, true) => query.order(customers::company.desc()),
    };
    query
        .then_order_by((alarms::unix.desc(), alarms::id.desc()))
        .select((
            Alarm::as_select(),
            containers::name,
            customers::company,
            servers::name,
        ))
        .offset(offset.max(0))
        .limit(limit.clamp(0, 1000))
        .load(conn)
}
