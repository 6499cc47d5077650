//! Alarms the host executor raises (fallbacks, failed jobs), kept to the newest `max_alarms`
//! per container like every other alarm.

use diesel::prelude::*;

use crate::db::models::alarm::NewAlarm;
use crate::db::schema::alarms;
use crate::domain::ids::{ContainerId, CustomerId};

/// Red, as uwsgi.it shows level-0 alarms.
pub const DANGER_COLOR: &str = "#ff0000";

/// Stores a level-0 alarm and deletes the container's oldest beyond `max_alarms`.
pub fn raise_danger(
    conn: &mut PgConnection,
    container: ContainerId,
    customer: CustomerId,
    msg: &str,
    max_alarms: u32,
) -> QueryResult<()> {
    diesel::insert_into(alarms::table)
        .values(&NewAlarm {
            container_id: container,
            customer_id: customer,
            unix: chrono::Utc::now(),
            level: 0,
            color: DANGER_COLOR,
            msg,
            line: None,
            func: None,
            filename: None,
            class: None,
            vassal: None,
        })
        .execute(conn)?;
    // the id of the oldest alarm kept; everything older goes
    diesel::sql_query(
        "DELETE FROM alarms WHERE container_id = $1 AND id < ( \
             SELECT id FROM alarms WHERE container_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)",
    )
    .bind::<diesel::sql_types::Integer, _>(container.0)
    .bind::<diesel::sql_types::BigInt, _>(i64::from(max_alarms.max(1)) - 1)
    .execute(conn)?;
    Ok(())
}
