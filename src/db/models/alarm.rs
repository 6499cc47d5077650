//! A row of `alarms` and what an insert takes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::alarms;
use crate::domain::ids::{AlarmId, ContainerId, CustomerId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = alarms, check_for_backend(diesel::pg::Pg))]
pub struct Alarm {
    pub id: AlarmId,
    pub container_id: ContainerId,
    pub customer_id: CustomerId,
    pub unix: DateTime<Utc>,
    pub level: i16,
    pub color: String,
    pub msg: String,
    pub line: Option<i32>,
    pub func: Option<String>,
    pub filename: Option<String>,
    pub class: Option<String>,
    pub vassal: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = alarms)]
pub struct NewAlarm<'a> {
    pub container_id: ContainerId,
    pub customer_id: CustomerId,
    pub unix: DateTime<Utc>,
    pub level: i16,
    pub color: &'a str,
    pub msg: &'a str,
    pub line: Option<i32>,
    pub func: Option<&'a str>,
    pub filename: Option<&'a str>,
    pub class: Option<&'a str>,
    pub vassal: Option<&'a str>,
}
