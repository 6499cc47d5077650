//! Customer alarms: listed, counted, deleted, and inserted with a cap on how many are kept.

use diesel::prelude::*;

use crate::db::models::alarm::{Alarm, NewAlarm};
use crate::db::schema::alarms;
use crate::domain::ids::{AlarmId, ContainerId, CustomerId};

/// Which of a customer's alarms to list: every set field must match.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    pub container: Option<ContainerId>,
    pub level: Option<i16>,
    pub line: Option<i32>,
    pub color: Option<String>,
    pub vassal: Option<String>,
    pub class: Option<String>,
    pub filename: Option<String>,
    pub func: Option<String>,
}

fn matching(
    customer: CustomerId,
    filter: &AlarmFilter,
) -> alarms::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = alarms::table
        .filter(alarms::customer_id.eq(customer))
        .into_boxed();
    if let Some(container) = filter.container {
        query = query.filter(alarms::container_id.eq(container));
    }
    if let Some(level) = filter.level {
        query = query.filter(alarms::level.eq(level));
    }
    if let Some(line) = filter.line {
        query = query.filter(alarms::line.eq(line));
    }
    if let Some(color) = filter.color.clone() {
        query = query.filter(alarms::color.eq(color));
    }
    if let Some(vassal) = filter.vassal.clone() {
        query = query.filter(alarms::vassal.eq(vassal));
    }
    if let Some(class) = filter.class.clone() {
        query = query.filter(alarms::class.eq(class));
    }
    if let Some(filename) = filter.filename.clone() {
        query = query.filter(alarms::filename.eq(filename));
    }
    if let Some(func) = filter.func.clone() {
        query = query.filter(alarms::func.eq(func));
    }
    query
}

/// The matching alarms, newest first (by time, then by id), skipping `offset` and returning
/// at most `limit`. The `alarms_*_unix_idx` indexes serve this order.
pub fn list(
    conn: &mut PgConnection,
    customer: CustomerId,
    filter: &AlarmFilter,
    offset: i64,
    limit: Option<i64>,
) -> QueryResult<Vec<Alarm>> {
    let mut query = matching(customer, filter)
        .order((alarms::unix.desc(), alarms::id.desc()))
        .offset(offset)
        .select(Alarm::as_select());
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    query.load(conn)
}

pub fn count(
    conn: &mut PgConnection,
    customer: CustomerId,
    filter: &AlarmFilter,
) -> QueryResult<i64> {
    matching(customer, filter).count().get_result(conn)
}

pub fn find_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: AlarmId,
) -> QueryResult<Option<Alarm>> {
    alarms::table
        .filter(alarms::id.eq(id).and(alarms::customer_id.eq(customer)))
        .select(Alarm::as_select())
        .first(conn)
        .optional()
}

/// Deletes the customer's alarm; 0 when it is not theirs.
pub fn delete_for_customer(
    conn: &mut PgConnection,
    customer: CustomerId,
    id: AlarmId,
) -> QueryResult<usize> {
    diesel::delete(alarms::table.filter(alarms::id.eq(id).and(alarms::customer_id.eq(customer))))
        .execute(conn)
}

/// Stores an alarm and deletes the container's oldest beyond `keep`. Call it with the
/// container's row locked, so concurrent raises cannot both keep one too many.
pub fn insert_capped(conn: &mut PgConnection, new: &NewAlarm, keep: u32) -> QueryResult<Alarm> {
    let alarm = diesel::insert_into(alarms::table)
        .values(new)
        .returning(Alarm::as_returning())
        .get_result(conn)?;
    diesel::sql_query(
        "DELETE FROM alarms WHERE id IN (SELECT id FROM alarms WHERE container_id = $1 \
         ORDER BY unix DESC, id DESC OFFSET $2)",
    )
    .bind::<diesel::sql_types::Integer, _>(new.container_id)
    .bind::<diesel::sql_types::BigInt, _>(i64::from(keep))
    .execute(conn)?;
    Ok(alarm)
}
