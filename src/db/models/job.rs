use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::jobs;
use crate::domain::ids::{ContainerId, CustomerId, JobId, ServerId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub container_id: Option<ContainerId>,
    pub customer_id: Option<CustomerId>,
    pub server_id: ServerId,
    pub payload: serde_json::Value,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_after: DateTime<Utc>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub report: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub container_id: Option<ContainerId>,
    pub customer_id: Option<CustomerId>,
    pub server_id: ServerId,
    pub payload: serde_json::Value,
}
