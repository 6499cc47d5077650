//! Alarms the host executor raises (fallbacks, failed jobs), capped at `max_alarms` per
//! container by the same rule as every other alarm.

use diesel::prelude::*;

use crate::db::models::alarm::NewAlarm;
use crate::db::queries::alarms;
use crate::domain::ids::{ContainerId, CustomerId};

/// Red, as uwsgi.it shows level-0 alarms.
pub const DANGER_COLOR: &str = "#ff0000";

/// Stores a level-0 alarm; the container's oldest beyond `max_alarms` go. Unlike a raise
/// through the API it does not lock the container row: a worker must not wait on a customer's
/// change, and a raise racing this one leaves at most one alarm over the cap until the next.
pub fn raise_danger(
    conn: &mut PgConnection,
    container: ContainerId,
    customer: CustomerId,
    msg: &str,
    max_alarms: u32,
) -> QueryResult<()> {
    alarms::insert_capped(
        conn,
        &NewAlarm {
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
        },
        max_alarms,
    )?;
    Ok(())
}
