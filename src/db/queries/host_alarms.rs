//! Alarms the host executor raises (fallbacks, failed jobs), capped at `max_alarms` per
//! container by the same rule as every other alarm.

use diesel::prelude::*;

use crate::db::models::alarm::NewAlarm;
use crate::db::queries::alarms;
use crate::domain::ids::{ContainerId, CustomerId};

/// Red, as uwsgi.it shows level-0 alarms.
pub const DANGER_COLOR: &str = "#ff0000";

/// Orange, for level-1 alarms about something the customer gave that was left out.
pub const WARNING_COLOR: &str = "#ff8000";

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
    raise(
        conn,
        container,
        customer,
        (0, DANGER_COLOR),
        msg,
        max_alarms,
    )
}

/// Stores a level-1 alarm, as [`raise_danger`] does a level-0 one.
pub fn raise_warning(
    conn: &mut PgConnection,
    container: ContainerId,
    customer: CustomerId,
    msg: &str,
    max_alarms: u32,
) -> QueryResult<()> {
    raise(
        conn,
        container,
        customer,
        (1, WARNING_COLOR),
        msg,
        max_alarms,
    )
}

fn raise(
    conn: &mut PgConnection,
    container: ContainerId,
    customer: CustomerId,
    (level, color): (i16, &str),
    msg: &str,
    max_alarms: u32,
) -> QueryResult<()> {
    alarms::insert_capped(
        conn,
        &NewAlarm {
            container_id: container,
            customer_id: customer,
            unix: chrono::Utc::now(),
            level,
            color,
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
