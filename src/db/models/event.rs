//! A row of `events`, the audit log, and what an insert takes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::events;
use crate::domain::ids::{ContainerId, CustomerId, EventId, JobId, UserId};

/// One line of a container's operation log, or one entry of the audit trail.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg))]
pub struct Event {
    pub id: EventId,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor_user_id: Option<UserId>,
    pub actor: String,
    pub customer_id: Option<CustomerId>,
    pub container_id: Option<ContainerId>,
    pub job_id: Option<JobId>,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: String,
    pub ip: Option<String>,
}

#[derive(Debug, Default, Clone, Insertable)]
#[diesel(table_name = events)]
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub actor_user_id: Option<UserId>,
    pub actor: &'a str,
    pub customer_id: Option<CustomerId>,
    pub container_id: Option<ContainerId>,
    pub job_id: Option<JobId>,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    pub detail: &'a str,
    pub ip: Option<&'a str>,
}
