//! Alarms the host executor raises (fallbacks, failed jobs), capped at `max_alarms` per
//! container by the same rule as every other alarm.

use diesel::prelude::*;

use crate::db::models::alarm::NewAlarm;
use crate::db::queries::alarms;
use crate::domain::ids::{ContainerId, CustomerId};

/// How grave an alarm the host executor raises is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Level 0, red as uwsgi.it shows it: the container cannot run as asked.
    Danger,
    /// Level 1, orange: something the customer gave was left out.
    Warning,
}

impl Severity {
    fn level_and_color(self) -> (i16, &'static str) {
        match self {
            Severity::Danger => (0, "#ff0000"),
            Severity::Warning => (1, "#ff8000"),
        }
    }
}

/// Stores an alarm; the container's oldest beyond `max_alarms` go. Unlike a raise through the
/// API it does not lock the container row: a worker must not wait on a customer's change, and
/// a raise racing this one leaves at most one alarm over the cap until the next.
pub fn raise(
    conn: &mut PgConnection,
    container: ContainerId,
    customer: CustomerId,
    severity: Severity,
    msg: &str,
    max_alarms: u32,
) -> QueryResult<()> {
    let (level, color) = severity.level_and_color();
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
