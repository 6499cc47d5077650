//! A container's alarms: raising one (capped per container), deleting one, and renewing the
//! key that lets a container raise alarms without other credentials.

use chrono::{DateTime, Utc};
use diesel::Connection;

use crate::db::models::alarm::{Alarm, NewAlarm};
use crate::db::queries::{alarms, containers};
use crate::db::{self, PgPool};
use crate::domain::ids::{AlarmId, ContainerId, CustomerId};
use crate::error::Error;

/// A checked alarm, before it knows its container.
#[derive(Debug)]
pub struct RaisedAlarm {
    pub msg: String,
    pub level: i16,
    pub color: String,
    pub line: Option<i32>,
    pub unix: DateTime<Utc>,
    pub func: Option<String>,
    pub filename: Option<String>,
    pub class: Option<String>,
    pub vassal: Option<String>,
}

/// Who raises an alarm: the container's customer, or anyone holding its alarm key.
#[derive(Debug, Clone, Copy)]
pub enum Raiser {
    Customer(CustomerId),
    Key(uuid::Uuid),
}

/// Stores `alarm` on `container`, keeping at most `max_alarms` per container. A container
/// the raiser may not reach is [`Error::NotFound`].
#[tracing::instrument(skip_all, fields(container = container.0, level = alarm.level))]
pub async fn raise(
    pool: &PgPool,
    max_alarms: u32,
    raiser: Raiser,
    container: ContainerId,
    alarm: RaisedAlarm,
) -> Result<Alarm, Error> {
    db::run(pool, move |conn| {
        conn.transaction(|conn| {
            // the row lock caps one container's alarms one raise at a time
            let container = match raiser {
                Raiser::Customer(customer) => {
                    containers::lock_row_for_customer(conn, customer, container)?
                }
                Raiser::Key(key) => containers::lock_row_by_alarm_key(conn, container, key)?,
            }
            .ok_or(Error::NotFound)?;
            let new = NewAlarm {
                container_id: container.id,
                customer_id: container.customer_id,
                unix: alarm.unix,
                level: alarm.level,
                color: &alarm.color,
                msg: &alarm.msg,
                line: alarm.line,
                func: alarm.func.as_deref(),
                filename: alarm.filename.as_deref(),
                class: alarm.class.as_deref(),
                vassal: alarm.vassal.as_deref(),
            };
            Ok(alarms::insert_capped(conn, &new, max_alarms)?)
        })
    })
    .await
}

/// Deletes one of the customer's alarms; someone else's, or none, is [`Error::NotFound`].
#[tracing::instrument(skip_all, fields(customer = customer.0, alarm = id.0))]
pub async fn delete(pool: &PgPool, customer: CustomerId, id: AlarmId) -> Result<(), Error> {
    let deleted = db::run(pool, move |conn| {
        alarms::delete_for_customer(conn, customer, id).map_err(Error::from)
    })
    .await?;
    if deleted == 0 {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// Gives the customer's container a new alarm key, retiring the old one.
#[tracing::instrument(skip_all, fields(customer = customer.0, container = container.0))]
pub async fn renew_key(
    pool: &PgPool,
    customer: CustomerId,
    container: ContainerId,
) -> Result<uuid::Uuid, Error> {
    db::run(pool, move |conn| {
        containers::renew_alarm_key(conn, customer, container)?.ok_or(Error::NotFound)
    })
    .await
}
